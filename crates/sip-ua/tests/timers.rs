//! Session timers (RFC 4028) and reliable provisionals (RFC 3262) on the answering side,
//! driven by scripted callers on a jumped clock.

use std::time::Duration;

use sip_ua::{AudioCodec, Command, EndReason, Event, LocalMedia, Transport};

mod support;

use support::{Peer, in_dialog, invite, to_tag};

/// An INVITE with `extra` headers (each ending in `\n`).
fn invite_with(branch: &str, extra: &str) -> String {
    invite(branch).replacen("Content-Type:", &format!("{extra}Content-Type:"), 1)
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

fn ended(p: &Peer) -> Option<EndReason> {
    p.events.iter().find_map(|(_, e)| match e {
        Event::Ended(r) => Some(*r),
        _ => None,
    })
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Answers, ACKs and returns the dialog's tag and the 2xx.
fn answered(p: &mut Peer, extra: &str) -> (String, String) {
    p.send(&invite_with("z9hG4bK-st", extra));
    let call = p.incoming();
    p.answer(call);
    let ok = p.take_sent().pop().expect("200");
    let tag = to_tag(&ok);
    p.send(&in_dialog("ACK", 1, &tag, "", ""));
    (tag, ok)
}

#[test]
fn a_caller_that_refreshes_keeps_the_call_and_one_that_stops_is_hung_up() {
    let mut p = Peer::new(Transport::Udp);
    let (tag, ok) = answered(&mut p, "Supported: timer\nSession-Expires: 90\n");
    assert_eq!(header(&ok, "Session-Expires"), Some("90;refresher=uac"));
    assert_eq!(header(&ok, "Require"), Some("timer"));
    let start = p.now;
    // The caller refreshes with UPDATE at 45 s: the interval starts again.
    p.run_until(start + secs(45));
    p.send(&in_dialog(
        "UPDATE",
        2,
        &tag,
        "Supported: timer\nSession-Expires: 90;refresher=uac\n",
        "",
    ));
    let answer = p.take_sent().pop().expect("200 to UPDATE");
    assert!(answer.starts_with("SIP/2.0 200 OK"), "{answer}");
    assert_eq!(header(&answer, "Session-Expires"), Some("90;refresher=uac"));
    assert!(header(&answer, "Contact").is_some(), "{answer}");
    // 60 s after the first, nothing; it stops refreshing: BYE at 45 + 90 − 30 s.
    p.run_until(start + secs(104));
    assert!(p.take_sent().is_empty());
    assert_eq!(ended(&p), None);
    p.run_until(start + secs(105));
    let bye = p.take_sent().pop().expect("BYE");
    assert!(bye.starts_with("BYE sip:alice@127.0.0.1:5070"), "{bye}");
    assert_eq!(ended(&p), Some(EndReason::SessionExpired));
    assert_eq!(p.sip.calls(), 0);
}

#[test]
fn a_reinvite_refreshes_too_and_a_short_interval_is_422() {
    let mut p = Peer::new(Transport::Udp);
    p.send(&invite_with(
        "z9hG4bK-short",
        "Supported: timer\nSession-Expires: 30\n",
    ));
    let refusal = p.take_sent().pop().expect("422");
    assert!(refusal.starts_with("SIP/2.0 422 Session Interval Too Small"));
    assert_eq!(header(&refusal, "Min-SE"), Some("90"));
    assert!(p.events.is_empty(), "nothing reaches the application");

    let mut p = Peer::new(Transport::Udp);
    let (tag, _) = answered(&mut p, "k: timer\nx: 120\n");
    let start = p.now;
    p.run_until(start + secs(60));
    let reinvite = in_dialog(
        "INVITE",
        2,
        &tag,
        "Supported: timer\nSession-Expires: 120\nContent-Type: application/sdp\n",
        &support::OFFER.replace("\r\n", "\n"),
    );
    p.send(&reinvite);
    let ok = p.take_sent().pop().expect("200");
    assert_eq!(header(&ok, "Session-Expires"), Some("120;refresher=uac"));
    p.send(&in_dialog("ACK", 2, &tag, "", ""));
    // A refresh under Min-SE is refused; the session goes on.
    p.send(&in_dialog(
        "UPDATE",
        3,
        &tag,
        "Supported: timer\nSession-Expires: 10\n",
        "",
    ));
    assert!(p.take_sent()[0].starts_with("SIP/2.0 422"));
    p.run_until(start + secs(60 + 87));
    assert_eq!(ended(&p), None);
    p.run_until(start + secs(60 + 88));
    assert_eq!(ended(&p), Some(EndReason::SessionExpired));
}

#[test]
fn we_refresh_for_a_caller_without_timers_by_update_or_reinvite() {
    // A proxy asked for the timer; the caller allows UPDATE: we refresh with it at half time.
    let mut p = Peer::new(Transport::Udp);
    let (tag, ok) = answered(
        &mut p,
        "Session-Expires: 90\nAllow: INVITE, ACK, BYE, CANCEL, UPDATE\n",
    );
    assert_eq!(header(&ok, "Session-Expires"), Some("90;refresher=uas"));
    assert_eq!(
        header(&ok, "Require"),
        None,
        "the caller does not support it"
    );
    let start = p.now;
    p.run_until(start + secs(45));
    let update = p.take_sent().pop().expect("our UPDATE");
    assert!(
        update.starts_with("UPDATE sip:alice@127.0.0.1:5070"),
        "{update}"
    );
    assert_eq!(header(&update, "Session-Expires"), Some("90;refresher=uac"));
    assert!(update.contains(&format!("tag={tag}")));
    let reply = update
        .replacen(
            "UPDATE sip:alice@127.0.0.1:5070 SIP/2.0",
            "SIP/2.0 200 OK",
            1,
        )
        .replace("\r\n", "\n");
    p.send(&reply);
    // Answered: the next refresh is at 45 + 45 s; this one is never answered, and the call
    // ends 15 s after it (the UPDATE is retransmitted meanwhile).
    p.run_until(start + secs(89));
    assert_eq!(ended(&p), None);
    p.take_sent();
    p.run_until(start + secs(90));
    assert!(p.take_sent().iter().any(|m| m.starts_with("UPDATE ")));
    p.run_until(start + secs(104));
    assert_eq!(ended(&p), None);
    p.run_until(start + secs(105));
    assert_eq!(ended(&p), Some(EndReason::SessionExpired));
    assert!(p.take_sent().iter().any(|m| m.starts_with("BYE ")));

    // A caller without UPDATE gets a re-INVITE with our SDP, and our ACK for its 2xx.
    let mut p = Peer::new(Transport::Udp);
    let (_, _) = answered(&mut p, "Session-Expires: 90;refresher=uas\n");
    let start = p.now;
    p.run_until(start + secs(45));
    let reinvite = p.take_sent().pop().expect("our re-INVITE");
    assert!(
        reinvite.starts_with("INVITE sip:alice@127.0.0.1:5070"),
        "{reinvite}"
    );
    assert!(reinvite.contains("m=audio 20000 RTP/AVP"), "{reinvite}");
    let reply = reinvite
        .replacen(
            "INVITE sip:alice@127.0.0.1:5070 SIP/2.0",
            "SIP/2.0 200 OK",
            1,
        )
        .replace("\r\n", "\n");
    p.send(&reply);
    let ack = p.take_sent().pop().expect("ACK");
    assert!(ack.starts_with("ACK sip:alice@127.0.0.1:5070"), "{ack}");
    assert_eq!(header(&ack, "CSeq"), Some("1 ACK"));
    // Its 2xx again (our ACK lost): the same ACK again.
    p.send(&reply);
    assert_eq!(p.take_sent(), vec![ack]);
    p.run_until(start + secs(89));
    assert_eq!(ended(&p), None);
}

fn media() -> LocalMedia {
    LocalMedia {
        rtp: "127.0.0.1:20000".parse().expect("addr"),
        session_id: 1,
        version: 1,
    }
}

fn prack(tag: &str, cseq: u32, rseq: &str) -> String {
    in_dialog("PRACK", cseq, tag, &format!("RAck: {rseq} 1 INVITE\n"), "")
}

#[test]
fn required_100rel_sends_provisionals_reliably_one_at_a_time() {
    let mut p = Peer::new(Transport::Udp);
    p.send(&invite_with(
        "z9hG4bK-rel",
        "Supported: timer\nRequire: 100rel\n",
    ));
    let call = p.incoming();
    p.take_sent();
    p.sip
        .handle_command(p.now, call, Command::Ring)
        .expect("ring");
    p.drain();
    let ringing = p.take_sent().pop().expect("180");
    assert!(ringing.starts_with("SIP/2.0 180 Ringing"));
    assert_eq!(header(&ringing, "Require"), Some("100rel"));
    assert!(header(&ringing, "Contact").is_some());
    let rseq: u32 = header(&ringing, "RSeq").expect("RSeq").parse().expect("n");
    let tag = to_tag(&ringing);
    // Early media asked for meanwhile waits for the PRACK; the 180 is retransmitted.
    let offer = match &p.events[0].1 {
        Event::Incoming(i) => i.offer.clone().expect("offer"),
        other => panic!("{other:?}"),
    };
    let negotiated = offer.negotiate(&[AudioCodec::Pcmu]).expect("codec");
    let progress = Command::Progress {
        local: media(),
        negotiated,
    };
    p.sip.handle_command(p.now, call, progress).expect("183");
    p.drain();
    assert!(p.take_sent().is_empty());
    let start = p.now;
    p.run_until(start + Duration::from_millis(1600));
    let again = p.take_sent();
    assert_eq!(again.len(), 2, "at 0.5 and 1.5 s");
    assert!(again.iter().all(|m| *m == ringing));
    // A PRACK for something else: 481; the right one: 200, then the 183 goes, RSeq + 1.
    p.send(&prack(&tag, 2, &(rseq + 7).to_string()));
    assert!(p.take_sent()[0].starts_with("SIP/2.0 481"));
    p.send(&prack(&tag, 3, &rseq.to_string()));
    let sent = p.take_sent();
    assert!(sent[0].starts_with("SIP/2.0 200 OK"), "{sent:?}");
    assert!(sent[0].contains("CSeq: 3 PRACK"));
    assert!(sent[1].starts_with("SIP/2.0 183"), "{sent:?}");
    assert_eq!(
        header(&sent[1], "RSeq"),
        Some((rseq + 1).to_string().as_str())
    );
    assert!(sent[1].contains("m=audio 20000"));
    // The answer waits for the 183's PRACK, then goes.
    p.sip
        .handle_command(
            p.now,
            call,
            Command::Answer {
                local: media(),
                negotiated,
            },
        )
        .expect("answer");
    p.drain();
    assert!(p.take_sent().is_empty(), "held until the PRACK");
    p.send(&prack(&tag, 4, &(rseq + 1).to_string()));
    let sent = p.take_sent();
    assert!(sent[0].contains("CSeq: 4 PRACK"));
    assert!(sent[1].starts_with("SIP/2.0 200 OK") && sent[1].contains("CSeq: 1 INVITE"));
    assert_eq!(to_tag(&sent[1]), tag);
    p.send(&in_dialog("ACK", 1, &tag, "", ""));
    assert!(p.events.iter().any(|(_, e)| matches!(e, Event::Acked)));
    // No retransmission of anything after that.
    p.run_until(p.now + secs(40));
    assert!(p.take_sent().is_empty());
}

#[test]
fn no_prack_refuses_the_invite_and_other_required_extensions_are_420() {
    let mut p = Peer::new(Transport::Udp);
    p.send(&invite_with("z9hG4bK-noprack", "Require: 100rel\n"));
    let call = p.incoming();
    p.sip
        .handle_command(p.now, call, Command::Ring)
        .expect("ring");
    p.drain();
    p.take_sent();
    let start = p.now;
    p.run_until(start + secs(31));
    assert_eq!(ended(&p), None);
    p.run_until(start + secs(32));
    let sent = p.take_sent();
    assert!(
        sent.last().is_some_and(|m| m.starts_with("SIP/2.0 500")),
        "{sent:?}"
    );
    assert_eq!(ended(&p), Some(EndReason::NoPrack));

    let mut p = Peer::new(Transport::Udp);
    p.send(&invite_with("z9hG4bK-420", "Require: 100rel, foo\n"));
    let refusal = p.take_sent().pop().expect("420");
    assert!(refusal.starts_with("SIP/2.0 420"), "{refusal}");
    assert_eq!(header(&refusal, "Unsupported"), Some("foo"));
}
