//! Faults that real phones and hostile traffic found in the answering endpoint, one test each,
//! in simulated time. Each opens with the story of the bug.

use std::time::Duration;

use sip_ua::{
    Admission, AudioCodec, Command, EndReason, Event, Flow, Input, LocalMedia, SipConfig,
    Transport, sdp::Direction,
};

mod support;

use support::{OFFER, Peer, in_dialog, to_tag};

/// An INVITE with the given Call-ID, branch, Contact and SDP (none: a late offer).
fn invite(call_id: &str, branch: &str, contact: &str, sdp: Option<&str>) -> String {
    let (content_type, body) = match sdp {
        Some(sdp) => ("Content-Type: application/sdp\n", sdp.replace("\r\n", "\n")),
        None => ("", String::new()),
    };
    format!(
        "INVITE sip:100@127.0.0.1 SIP/2.0\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\n\
         From: \"Alice\" <sip:+15551234567@127.0.0.1>;tag=a1\n\
         To: <sip:100@127.0.0.1>\n\
         Call-ID: {call_id}\n\
         CSeq: 1 INVITE\n\
         Contact: {contact}\n\
         {content_type}Content-Length: {}\n\n{body}",
        body.replace('\n', "\r\n").len()
    )
}

fn local() -> LocalMedia {
    LocalMedia {
        rtp: "127.0.0.1:20000".parse().expect("addr"),
        session_id: 1,
        version: 1,
    }
}

/// linphone 5.1's Contact carries `+sip.instance="<urn:uuid:…>"` (RFC 5626). The URI used to be
/// cut at the last `>`, so our BYE went to `sip:127.0.0.1:5091;transport=udp>;+sip.instance="<urn…`
/// and linphone ignored it: the phone stayed in the call after ivrd had hung up.
#[test]
fn bye_to_a_phone_with_a_quoted_instance_id_has_its_contact_as_request_uri() {
    let mut p = Peer::new(Transport::Udp);
    let contact =
        "<sip:127.0.0.1:5091;transport=udp>;+sip.instance=\"<urn:uuid:2f5a-77e1>\";expires=3600";
    p.send(&invite("linphone-1", "z9hG4bK-l1", contact, Some(OFFER)));
    let call = p.incoming();
    p.answer(call);
    let tag = to_tag(&p.take_sent().pop().expect("200"));
    p.send(&in_dialog("ACK", 1, &tag, "", "").replace("call-1", "linphone-1"));
    p.sip
        .handle_command(p.now, call, Command::HangUp)
        .expect("hang up");
    p.drain();
    let bye = p.take_sent().pop().expect("BYE");
    assert!(
        bye.starts_with("BYE sip:127.0.0.1:5091;transport=udp SIP/2.0\r\n"),
        "{bye}"
    );
}

/// A REFER still waiting for its answer when the caller hung up kept being retransmitted for
/// 32 s to a phone that no longer had the dialog. Requests in a dialog now end with it.
#[test]
fn a_pending_refer_ends_with_its_dialog() {
    let mut p = Peer::new(Transport::Udp);
    p.send(&invite(
        "call-1",
        "z9hG4bK-r1",
        "<sip:alice@127.0.0.1:5070>",
        Some(OFFER),
    ));
    let call = p.incoming();
    p.answer(call);
    let tag = to_tag(&p.take_sent().pop().expect("200"));
    p.send(&in_dialog("ACK", 1, &tag, "", ""));
    p.sip
        .handle_command(
            p.now,
            call,
            Command::Transfer {
                target: "sip:sales@127.0.0.1".into(),
            },
        )
        .expect("transfer");
    p.drain();
    assert!(p.take_sent()[0].starts_with("REFER "));
    p.send(&in_dialog("BYE", 2, &tag, "", ""));
    p.take_sent();
    let start = p.now;
    p.run_until(start + Duration::from_secs(40));
    let sent = p.take_sent();
    assert!(
        sent.iter().all(|m| !m.starts_with("REFER")),
        "REFER retransmitted after the dialog ended: {} times",
        sent.len()
    );
}

/// An INVITE without SDP (late offer, as SBCs and PBXs send) was refused with 488. Now our
/// offer goes in the 2xx and the caller's answer comes in the ACK.
#[test]
fn late_offer_is_answered_with_our_offer_and_the_ack_brings_the_answer() {
    let mut p = Peer::new(Transport::Udp);
    p.send(&invite(
        "call-1",
        "z9hG4bK-lo1",
        "<sip:alice@127.0.0.1:5070>",
        None,
    ));
    let call = p.incoming();
    match &p.events[0].1 {
        Event::Incoming(i) => assert!(i.offer.is_none()),
        other => panic!("{other:?}"),
    }
    p.sip
        .handle_command(
            p.now,
            call,
            Command::AnswerWithOffer {
                local: local(),
                telephone_event: 101,
            },
        )
        .expect("answer with offer");
    p.drain();
    let ok = p.take_sent().pop().expect("200");
    assert!(ok.starts_with("SIP/2.0 200 OK"), "{ok}");
    assert!(ok.contains("m=audio 20000 RTP/AVP 0 8 101\r\n"), "{ok}");
    let tag = to_tag(&ok);
    // The answer picks PCMA and telephone-event at 96.
    let answer = "v=0\no=- 2 2 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n\
        m=audio 6010 RTP/AVP 8 96\na=rtpmap:8 PCMA/8000\na=rtpmap:96 telephone-event/8000\n";
    p.send(&in_dialog(
        "ACK",
        1,
        &tag,
        "Content-Type: application/sdp\n",
        answer,
    ));
    let n = p
        .events
        .iter()
        .find_map(|(_, e)| match e {
            Event::MediaUpdated(n) => Some(*n),
            _ => None,
        })
        .expect("the answer as MediaUpdated");
    assert_eq!(n.remote, "127.0.0.1:6010".parse().expect("addr"));
    assert_eq!((n.codec, n.telephone_event), (AudioCodec::Pcma, Some(96)));
    assert_eq!(n.direction, Direction::SendRecv);
    assert_eq!(p.sip.calls(), 1);
}

/// The other half: an ACK with no answer leaves the call without media. We hang up at once
/// (instead of playing prompts to nobody until the RTP timeout).
#[test]
fn late_offer_with_an_ack_without_answer_is_hung_up() {
    let mut p = Peer::new(Transport::Udp);
    p.send(&invite(
        "call-1",
        "z9hG4bK-lo2",
        "<sip:alice@127.0.0.1:5070>",
        None,
    ));
    let call = p.incoming();
    assert!(
        p.sip
            .handle_command(
                p.now,
                call,
                Command::Answer {
                    local: local(),
                    negotiated: sip_ua::MediaOffer::parse(OFFER.as_bytes())
                        .expect("sdp")
                        .negotiate(&[AudioCodec::Pcmu])
                        .expect("codec"),
                },
            )
            .is_err(),
        "a late offer cannot be answered as if it had an offer"
    );
    p.sip
        .handle_command(
            p.now,
            call,
            Command::AnswerWithOffer {
                local: local(),
                telephone_event: 101,
            },
        )
        .expect("answer with offer");
    p.drain();
    let tag = to_tag(&p.take_sent().pop().expect("200"));
    p.send(&in_dialog("ACK", 1, &tag, "", ""));
    assert!(p.take_sent().iter().any(|m| m.starts_with("BYE ")));
    assert!(matches!(
        p.events.last(),
        Some((_, Event::Ended(EndReason::NoUsableAnswer)))
    ));
}

/// In a TCP dialog our Contact had no `;transport=tcp`, so phones (baresip) sent the ACK and
/// their BYE over UDP, to a socket that knew nothing of the call.
#[test]
fn contact_names_tcp_in_a_tcp_dialog() {
    let mut p = Peer::new(Transport::Tcp);
    let tcp_invite = invite(
        "call-1",
        "z9hG4bK-t1",
        "<sip:alice@127.0.0.1:5070;transport=tcp>",
        Some(OFFER),
    )
    .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    p.send(&tcp_invite);
    let call = p.incoming();
    p.answer(call);
    let ok = p.take_sent().pop().expect("200");
    assert!(
        ok.contains("Contact: <sip:ivrd@127.0.0.1:5060;transport=tcp>\r\n"),
        "{ok}"
    );
    let tag = to_tag(&ok);
    p.send(&in_dialog("ACK", 1, &tag, "", "").replace("SIP/2.0/UDP", "SIP/2.0/TCP"));
    p.sip
        .handle_command(p.now, call, Command::HangUp)
        .expect("hang up");
    p.drain();
    let bye = p.take_sent().pop().expect("BYE");
    assert!(bye.contains("Via: SIP/2.0/TCP "), "{bye}");
    assert!(
        !bye.contains("Contact:"),
        "RFC 3261 Table 3: no Contact in BYE"
    );
}

/// An offer with none of our codecs used to ring first (180), then get a bare 488 when the
/// daemon tried to answer. Now it is refused at once, with `Warning: 305`, and the application
/// never hears of it.
#[test]
fn no_common_codec_is_refused_before_ringing_with_a_warning() {
    let mut p = Peer::new(Transport::Udp);
    let g729 = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n\
        m=audio 6000 RTP/AVP 18\na=rtpmap:18 G729/8000\n";
    p.send(&invite(
        "call-1",
        "z9hG4bK-c1",
        "<sip:alice@127.0.0.1:5070>",
        Some(g729),
    ));
    let sent = p.take_sent();
    assert!(sent[0].starts_with("SIP/2.0 100"), "{sent:?}");
    assert!(
        sent[1].starts_with("SIP/2.0 488 Not Acceptable Here"),
        "{sent:?}"
    );
    assert!(
        sent[1].contains("Warning: 305 ivrd \"Incompatible media format"),
        "{}",
        sent[1]
    );
    assert_eq!(sent.len(), 2, "nothing rang");
    assert!(p.events.is_empty(), "the application is not asked");
}

/// 5,000 INVITEs/s from one address once filled every RTP port and refused every other caller
/// for about 35 s. Admission now caps calls in setup per source and in all, and limits each
/// source's rate; a refused INVITE costs a stateless 503 with Retry-After and creates nothing.
#[test]
fn a_flooding_source_gets_503_and_another_caller_still_gets_through() {
    let config = SipConfig {
        admission: Admission {
            per_source_setup: 50,
            ..Admission::default()
        },
        ..SipConfig::default()
    };
    let mut p = Peer::with_config(Transport::Udp, config);
    let flood = "127.0.0.2:5099";
    for i in 0..2_000 {
        let branch = format!("z9hG4bK-f{i}");
        p.send_from(
            flood,
            &invite(
                &format!("flood-{i}"),
                &branch,
                "<sip:x@127.0.0.2:5099>",
                Some(OFFER),
            ),
        );
        p.now += Duration::from_micros(200); // 5,000/s
    }
    let sent = p.take_sent();
    let refused = sent.iter().filter(|m| m.starts_with("SIP/2.0 503")).count();
    assert_eq!(refused, 1_950, "all but the first 50 refused");
    assert!(sent.iter().any(|m| m.contains("Retry-After: 5\r\n")));
    assert_eq!(p.sip.calls(), 50, "refused INVITEs leave nothing behind");
    p.send(&invite(
        "real-1",
        "z9hG4bK-real",
        "<sip:alice@127.0.0.1:5070>",
        Some(OFFER),
    ));
    assert!(p.take_sent()[0].starts_with("SIP/2.0 100"));
    assert_eq!(p.sip.calls(), 51);
    // The flood's calls, answered as the daemon would, leave setup when they end (no ACK:
    // 64·T1), and then the source may try again.
    let calls: Vec<_> = p
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Incoming(_)))
        .map(|(c, _)| *c)
        .collect();
    for call in calls {
        p.answer(call);
    }
    let start = p.now;
    p.run_until(start + Duration::from_secs(33));
    p.take_sent();
    p.send_from(
        flood,
        &invite(
            "flood-again",
            "z9hG4bK-fa",
            "<sip:x@127.0.0.2:5099>",
            Some(OFFER),
        ),
    );
    assert!(p.take_sent()[0].starts_with("SIP/2.0 100"));
}

/// A TCP message over the size limit closed the connection without a word. The framer now
/// hands its head over and the endpoint answers 513.
#[test]
fn an_oversized_message_gets_513() {
    let mut p = Peer::new(Transport::Tcp);
    let head = "MESSAGE sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-big\r\n\
        From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: big\r\nCSeq: 1 MESSAGE\r\n\
        Content-Length: 1000000\r\n\r\n";
    let flow: Flow = p.flow;
    p.sip.handle_input(
        p.now,
        Input::Oversized {
            flow,
            head: head.as_bytes(),
        },
    );
    p.drain();
    let sent = p.take_sent();
    assert!(
        sent[0].starts_with("SIP/2.0 513 Message Too Large"),
        "{sent:?}"
    );
}

/// A re-INVITE without SDP (how some phones resume after hold) was answered with our current
/// answer as if it were one, and the offer-answer in the ACK was ignored: the call stayed on
/// hold. Now we offer in its 2xx and take the answer from the ACK (RFC 3261 §14.2).
#[test]
fn a_reinvite_without_sdp_gets_our_offer_and_the_ack_answers_it() {
    let mut p = Peer::new(Transport::Udp);
    p.send(&invite(
        "call-1",
        "z9hG4bK-ri1",
        "<sip:alice@127.0.0.1:5070>",
        Some(OFFER),
    ));
    let call = p.incoming();
    p.answer(call);
    let tag = to_tag(&p.take_sent().pop().expect("200"));
    p.send(&in_dialog("ACK", 1, &tag, "", ""));
    let hold = OFFER.replace("\r\n", "\n") + "a=sendonly\n";
    p.send(&in_dialog(
        "INVITE",
        2,
        &tag,
        "Content-Type: application/sdp\n",
        &hold,
    ));
    p.send(&in_dialog("ACK", 2, &tag, "", ""));
    p.take_sent();
    p.events.clear();
    // The resume: no SDP.
    p.send(&in_dialog("INVITE", 3, &tag, "", ""));
    let ok = p.take_sent().pop().expect("200");
    assert!(
        ok.contains("a=sendrecv\r\n") && ok.contains("RTP/AVP 0 8 101"),
        "our offer: {ok}"
    );
    assert!(p.events.is_empty(), "nothing changes before the answer");
    let answer = "v=0\no=- 2 3 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n\
        m=audio 6000 RTP/AVP 8 101\na=rtpmap:101 telephone-event/8000\na=sendrecv\n";
    p.send(&in_dialog(
        "ACK",
        3,
        &tag,
        "Content-Type: application/sdp\n",
        answer,
    ));
    let n = p
        .events
        .iter()
        .find_map(|(_, e)| match e {
            Event::MediaUpdated(n) => Some(*n),
            _ => None,
        })
        .expect("the answer in the ACK");
    assert_eq!(n.direction, Direction::SendRecv, "resumed");
    assert_eq!(n.codec, AudioCodec::Pcma);
    assert_eq!(p.sip.calls(), 1);
}
