//! The answering endpoint driven by scripted peers in simulated time: every timer fires by
//! jumping the clock, never by sleeping.

use std::time::Duration;

use sip_ua::{AudioCodec, Command, EndReason, Event, LocalMedia, TransferOutcome, Transport};

mod support;

use support::{OFFER, Peer, in_dialog, invite, to_tag};

#[test]
fn answer_ack_and_caller_bye_leave_no_dialog() {
    let mut p = Peer::new(Transport::Udp);
    p.send(&invite("z9hG4bK-1"));
    let sent = p.take_sent();
    assert!(sent[0].starts_with("SIP/2.0 100 Trying"), "{sent:?}");
    let call = p.incoming();
    match &p.events[0].1 {
        Event::Incoming(i) => {
            assert_eq!(i.caller, "+15551234567");
            assert_eq!(i.callee, "100");
            assert_eq!(i.offer.as_ref().and_then(|o| o.telephone_event), Some(101));
        }
        other => panic!("{other:?}"),
    }
    p.answer(call);
    let ok = p.take_sent().pop().expect("200");
    assert!(ok.starts_with("SIP/2.0 200 OK"));
    assert!(ok.contains("m=audio 20000 RTP/AVP 8 101"), "{ok}");
    assert!(ok.contains("Contact: <sip:ivrd@127.0.0.1:5060>"));
    let tag = to_tag(&ok);
    // The 2xx is retransmitted at T1, 2·T1 … until the ACK.
    let start = p.now;
    p.run_until(start + Duration::from_millis(1600));
    assert_eq!(p.take_sent().len(), 2, "retransmissions at 0.5 s and 1.5 s");
    p.send(&in_dialog("ACK", 1, &tag, "", ""));
    assert!(matches!(p.events.last(), Some((_, Event::Acked))));
    p.run_until(start + Duration::from_secs(40));
    assert!(p.take_sent().is_empty(), "no retransmission after the ACK");
    p.send(&in_dialog("BYE", 2, &tag, "", ""));
    assert!(p.take_sent()[0].starts_with("SIP/2.0 200 OK"));
    assert!(matches!(
        p.events.last(),
        Some((_, Event::Ended(EndReason::CallerHungUp)))
    ));
    assert_eq!(p.sip.calls(), 0);
    // A retransmitted BYE gets the same answer from the transaction, not a 481.
    p.send(&in_dialog("BYE", 2, &tag, "", ""));
    assert!(p.take_sent()[0].starts_with("SIP/2.0 200 OK"));
}

#[test]
fn unacknowledged_2xx_is_retransmitted_then_the_call_is_hung_up_at_64_t1() {
    let mut p = Peer::new(Transport::Udp);
    p.send(&invite("z9hG4bK-2"));
    let call = p.incoming();
    p.answer(call);
    p.take_sent();
    let start = p.now;
    p.run_until(start + Duration::from_secs(33));
    let sent = p.take_sent();
    let retransmits = sent.iter().filter(|m| m.starts_with("SIP/2.0 200")).count();
    // 0.5, 1.5, 3.5, 7.5, 11.5, … 31.5 s: T1 doubling to T2 = 4 s.
    assert_eq!(retransmits, 10, "{sent:?}");
    assert!(
        sent.iter()
            .any(|m| m.starts_with("BYE sip:alice@127.0.0.1:5070"))
    );
    assert!(matches!(
        p.events.last(),
        Some((_, Event::Ended(EndReason::AckTimeout)))
    ));
    assert_eq!(p.sip.calls(), 0);
}

#[test]
fn cancel_before_answer_gives_487_and_the_ack_clears_it() {
    let mut p = Peer::new(Transport::Udp);
    p.send(&invite("z9hG4bK-3"));
    let call = p.incoming();
    p.sip
        .handle_command(p.now, call, Command::Ring)
        .expect("ring");
    p.drain();
    p.take_sent();
    let cancel = "CANCEL sip:100@127.0.0.1 SIP/2.0\n\
        Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-3\n\
        From: \"Alice\" <sip:+15551234567@127.0.0.1>;tag=a1\n\
        To: <sip:100@127.0.0.1>\nCall-ID: call-1\nCSeq: 1 CANCEL\nContent-Length: 0\n\n";
    p.send(cancel);
    let sent = p.take_sent();
    assert!(sent[0].starts_with("SIP/2.0 200 OK") && sent[0].contains("CSeq: 1 CANCEL"));
    assert!(sent[1].starts_with("SIP/2.0 487") && sent[1].contains("CSeq: 1 INVITE"));
    assert!(matches!(
        p.events.last(),
        Some((_, Event::Ended(EndReason::Cancelled)))
    ));
    assert!(
        p.sip
            .handle_command(
                p.now,
                call,
                Command::Answer {
                    local: LocalMedia {
                        rtp: "127.0.0.1:1".parse().expect("addr"),
                        session_id: 1,
                        version: 1
                    },
                    negotiated: sip_ua::MediaOffer::parse(OFFER.as_bytes())
                        .expect("sdp")
                        .negotiate(&[AudioCodec::Pcmu])
                        .expect("codec"),
                }
            )
            .is_err()
    );
    let ack = format!(
        "ACK sip:100@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-3\n\
         From: \"Alice\" <sip:+15551234567@127.0.0.1>;tag=a1\nTo: <sip:100@127.0.0.1>;tag={}\n\
         Call-ID: call-1\nCSeq: 1 ACK\nContent-Length: 0\n\n",
        to_tag(&sent[1])
    );
    p.send(&ack);
    assert_eq!(p.sip.calls(), 0);
}

#[test]
fn invite_retransmission_is_absorbed() {
    let mut p = Peer::new(Transport::Udp);
    p.send(&invite("z9hG4bK-4"));
    p.send(&invite("z9hG4bK-4"));
    let incoming = p
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Incoming(_)))
        .count();
    assert_eq!(incoming, 1);
    assert_eq!(p.take_sent().len(), 2, "100 Trying sent again");
    assert_eq!(p.sip.calls(), 1);
}

#[test]
fn info_dtmf_reinvite_hold_and_refer() {
    let mut p = Peer::new(Transport::Udp);
    p.send(&invite("z9hG4bK-5"));
    let call = p.incoming();
    p.answer(call);
    let tag = to_tag(&p.take_sent().pop().expect("200"));
    p.send(&in_dialog("ACK", 1, &tag, "", ""));
    p.send(&in_dialog(
        "INFO",
        2,
        &tag,
        "Content-Type: application/dtmf-relay\n",
        "Signal=7\nDuration=160\n",
    ));
    assert!(p.take_sent()[0].starts_with("SIP/2.0 200 OK"));
    assert!(matches!(p.events.last(), Some((_, Event::Dtmf(d))) if d.digit == '7'));
    let hold = OFFER.replace("\r\n", "\n") + "a=sendonly\n";
    p.send(&in_dialog(
        "INVITE",
        3,
        &tag,
        "Content-Type: application/sdp\n",
        &hold,
    ));
    let ok = p.take_sent().pop().expect("200");
    assert!(
        ok.starts_with("SIP/2.0 200 OK") && ok.contains("a=recvonly"),
        "{ok}"
    );
    assert!(ok.contains("o=ivrd 1 2 IN IP4"), "version bumped: {ok}");
    p.send(&in_dialog("ACK", 3, &tag, "", ""));
    p.sip
        .handle_command(
            p.now,
            call,
            Command::Transfer {
                target: "sip:sales@pbx".into(),
            },
        )
        .expect("transfer");
    p.drain();
    let refer = p.take_sent().pop().expect("REFER");
    assert!(
        refer.starts_with("REFER sip:alice@127.0.0.1:5070 SIP/2.0"),
        "{refer}"
    );
    assert!(refer.contains("Refer-To: <sip:sales@pbx>"));
    let branch = refer
        .lines()
        .find(|l| l.starts_with("Via:"))
        .and_then(|l| l.split("branch=").nth(1))
        .and_then(|b| b.split(';').next())
        .expect("branch")
        .to_string();
    let accepted = format!(
        "SIP/2.0 202 Accepted\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={branch}\n\
         From: <sip:100@127.0.0.1>;tag={tag}\nTo: <sip:+15551234567@127.0.0.1>;tag=a1\n\
         Call-ID: call-1\nCSeq: 1 REFER\nContent-Length: 0\n\n"
    );
    p.send(&accepted);
    assert!(matches!(
        p.events.last(),
        Some((_, Event::TransferAccepted))
    ));
    p.send(&in_dialog(
        "NOTIFY",
        4,
        &tag,
        "Event: refer\nContent-Type: message/sipfrag\n",
        "SIP/2.0 200 OK\n",
    ));
    assert!(matches!(
        p.events.last(),
        Some((_, Event::TransferResult(TransferOutcome::Succeeded)))
    ));
}

#[test]
fn our_bye_is_retransmitted_until_answered() {
    let mut p = Peer::new(Transport::Udp);
    p.send(&invite("z9hG4bK-6"));
    let call = p.incoming();
    p.answer(call);
    let tag = to_tag(&p.take_sent().pop().expect("200"));
    p.send(&in_dialog("ACK", 1, &tag, "", ""));
    p.sip
        .handle_command(p.now, call, Command::HangUp)
        .expect("hang up");
    p.drain();
    assert!(p.take_sent()[0].starts_with("BYE "));
    assert!(matches!(
        p.events.last(),
        Some((_, Event::Ended(EndReason::HungUp)))
    ));
    assert_eq!(p.sip.calls(), 0);
    let start = p.now;
    p.run_until(start + Duration::from_secs(40));
    let byes = p
        .take_sent()
        .iter()
        .filter(|m| m.starts_with("BYE "))
        .count();
    assert_eq!(byes, 10, "Timer E retransmissions until Timer F");
    assert_eq!(p.sip.poll_timeout(), None, "nothing left armed");
}

#[test]
fn options_unknown_dialog_and_garbage() {
    let mut p = Peer::new(Transport::Udp);
    p.send(
        "OPTIONS sip:ivr@127.0.0.1 SIP/2.0\nv: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKo\n\
         f: <sip:probe@127.0.0.1>;tag=1\nt: <sip:ivr@127.0.0.1>\ni: o1\nCSeq: 1 OPTIONS\nl: 0\n\n",
    );
    assert!(p.take_sent()[0].starts_with("SIP/2.0 200 OK"));
    p.send(&in_dialog("BYE", 9, "nope", "", ""));
    assert!(p.take_sent()[0].starts_with("SIP/2.0 481"));
    p.send("\u{0}\u{1}garbage\n\n");
    assert!(p.take_sent().is_empty());
    // Enough headers to answer, but the CSeq method is wrong: 400.
    p.send(
        "INVITE sip:100@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKb\n\
         From: <sip:a@b>;tag=1\nTo: <sip:100@127.0.0.1>\nCall-ID: bad\nCSeq: 1 BYE\nContent-Length: 0\n\n",
    );
    assert!(p.take_sent()[0].starts_with("SIP/2.0 400 Bad Request"));
    // An offer with no usable audio is refused with 488 and leaves nothing behind after its ACK.
    let video =
        "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=video 6000 RTP/AVP 31\n";
    p.send(&format!(
        "INVITE sip:100@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKn\n\
         From: <sip:a@b>;tag=1\nTo: <sip:100@127.0.0.1>\nCall-ID: nosdp\nCSeq: 1 INVITE\n\
         Content-Type: application/sdp\nContent-Length: {}\n\n{video}",
        video.replace('\n', "\r\n").len()
    ));
    assert!(p.take_sent().iter().any(|m| m.starts_with("SIP/2.0 488")));
    let start = p.now;
    p.run_until(start + Duration::from_secs(40));
    assert_eq!(p.sip.calls(), 0, "Timer H removed it");
}

#[test]
fn early_media_then_answer_send_info_and_stale_cseq() {
    let mut p = Peer::new(Transport::Udp);
    p.send(&invite("z9hG4bK-7"));
    let call = p.incoming();
    let offer = match &p.events[0].1 {
        Event::Incoming(i) => i.offer.clone().expect("an offer"),
        other => panic!("{other:?}"),
    };
    let negotiated = offer.negotiate(&[AudioCodec::Pcmu]).expect("codec");
    let local = LocalMedia {
        rtp: "127.0.0.1:20000".parse().expect("addr"),
        session_id: 1,
        version: 1,
    };
    p.sip
        .handle_command(p.now, call, Command::Progress { local, negotiated })
        .expect("progress");
    p.drain();
    let progress = p.take_sent().pop().expect("183");
    assert!(
        progress.starts_with("SIP/2.0 183 Session Progress"),
        "{progress}"
    );
    assert!(progress.contains("m=audio 20000 RTP/AVP 0 101"));
    p.answer(call);
    let tag = to_tag(&p.take_sent().pop().expect("200"));
    assert_eq!(tag, to_tag(&progress), "one dialog, one tag");
    p.send(&in_dialog("ACK", 1, &tag, "", ""));
    p.sip
        .handle_command(
            p.now,
            call,
            Command::SendDigit {
                digit: '#',
                duration_ms: 160,
            },
        )
        .expect("send digit");
    p.drain();
    let info = p.take_sent().pop().expect("INFO");
    assert!(
        info.starts_with("INFO sip:alice@127.0.0.1:5070 SIP/2.0"),
        "{info}"
    );
    assert!(
        info.contains("Content-Type: application/dtmf-relay")
            && info.ends_with("Signal=#\r\nDuration=160\r\n")
    );
    assert!(
        p.sip
            .handle_command(
                p.now,
                call,
                Command::SendDigit {
                    digit: 'x',
                    duration_ms: 1
                }
            )
            .is_err()
    );
    p.send(&in_dialog(
        "INFO",
        5,
        &tag,
        "Content-Type: application/dtmf\n",
        "1",
    ));
    assert!(p.take_sent()[0].starts_with("SIP/2.0 200"));
    p.send(&in_dialog(
        "INFO",
        4,
        &tag,
        "Content-Type: application/dtmf\n",
        "2",
    ));
    assert!(
        p.take_sent()[0].starts_with("SIP/2.0 500"),
        "a lower CSeq is refused"
    );
}

#[test]
fn reinvite_2xx_is_retransmitted_until_its_ack_and_answers_its_retransmission() {
    let mut p = Peer::new(Transport::Udp);
    p.send(&invite("z9hG4bK-8"));
    let call = p.incoming();
    p.answer(call);
    let tag = to_tag(&p.take_sent().pop().expect("200"));
    p.send(&in_dialog("ACK", 1, &tag, "", ""));
    let offer = OFFER.replace("\r\n", "\n");
    let reinvite = in_dialog("INVITE", 2, &tag, "Content-Type: application/sdp\n", &offer);
    p.send(&reinvite);
    let first = p.take_sent().pop().expect("200");
    p.send(&reinvite);
    assert_eq!(
        p.take_sent(),
        [first],
        "same 2xx for the retransmitted re-INVITE"
    );
    let start = p.now;
    p.run_until(start + Duration::from_millis(1600));
    assert_eq!(
        p.take_sent().len(),
        2,
        "2xx retransmitted at 0.5 s and 1.5 s"
    );
    p.send(&in_dialog("ACK", 2, &tag, "", ""));
    p.run_until(start + Duration::from_secs(40));
    assert!(p.take_sent().is_empty());
    assert_eq!(p.sip.calls(), 1, "the call goes on");
}

/// Who may call: with an allow-list, an INVITE from elsewhere gets 403 and nothing else
/// happens; one from a listed network is offered to the application as usual.
#[test]
fn an_invite_from_an_unlisted_source_is_forbidden() {
    let config = sip_ua::SipConfig {
        admission: sip_ua::Admission {
            allow: vec!["192.0.2.0/24".parse().expect("net")],
            ..sip_ua::Admission::default()
        },
        ..sip_ua::SipConfig::default()
    };
    let mut p = Peer::with_config(Transport::Udp, config);
    p.send_from("198.51.100.7:5060", &invite("z9hG4bK-unlisted"));
    let sent = p.take_sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with("SIP/2.0 403 Forbidden"), "{}", sent[0]);
    assert!(p.events.is_empty());
    assert_eq!(p.sip.calls(), 0);
    p.send_from("192.0.2.44:5060", &invite("z9hG4bK-listed"));
    assert!(p.take_sent()[0].starts_with("SIP/2.0 100 Trying"));
    assert!(matches!(p.events.first(), Some((_, Event::Incoming(_)))));
}

/// With registrations served, an unlisted source's INVITE goes to the application marked as
/// such, with its credentials: a [`Command::Challenge`] answers it 401 with our challenge (and
/// ends it), and the INVITE answering the challenge arrives with its Authorization read.
#[test]
fn an_unlisted_invite_is_handed_over_for_authentication_when_registrations_are_served() {
    let config = sip_ua::SipConfig {
        registrar: true,
        admission: sip_ua::Admission {
            allow: vec!["192.0.2.0/24".parse().expect("net")],
            ..sip_ua::Admission::default()
        },
        ..sip_ua::SipConfig::default()
    };
    let mut p = Peer::with_config(Transport::Udp, config);
    p.send_from("198.51.100.7:5070", &invite("z9hG4bK-u1"));
    let call = p.incoming();
    let Some((_, Event::Incoming(first))) = p.events.first() else {
        panic!("{:?}", p.events);
    };
    assert!(first.unlisted && first.credentials.is_none());
    p.sip
        .handle_command(
            p.now,
            call,
            Command::Challenge {
                realm: "ivrd".into(),
                nonce: "n0nce".into(),
                stale: false,
            },
        )
        .expect("challenge");
    p.drain();
    let sent = p.take_sent();
    let challenge = sent.last().expect("a 401");
    assert!(
        challenge.starts_with("SIP/2.0 401 Unauthorized"),
        "{challenge}"
    );
    assert!(
        challenge.contains("WWW-Authenticate: Digest realm=\"ivrd\", nonce=\"n0nce\""),
        "{challenge}"
    );
    assert!(
        p.events
            .iter()
            .any(|(c, e)| *c == call && matches!(e, Event::Ended(EndReason::Rejected(401))))
    );
    let answered = invite("z9hG4bK-u2").replace(
        "CSeq: 1 INVITE\n",
        "CSeq: 2 INVITE\nAuthorization: Digest username=\"alice\", realm=\"ivrd\", \
         nonce=\"n0nce\", uri=\"sip:100@127.0.0.1\", response=\"00112233\"\n",
    );
    p.events.clear();
    p.send_from("198.51.100.7:5070", &answered);
    let Some((_, Event::Incoming(second))) = p.events.first() else {
        panic!("{:?}", p.events);
    };
    assert!(second.unlisted);
    let credentials = second.credentials.as_ref().expect("credentials read");
    assert_eq!(
        (credentials.username.as_str(), credentials.nonce.as_str()),
        ("alice", "n0nce")
    );
}
