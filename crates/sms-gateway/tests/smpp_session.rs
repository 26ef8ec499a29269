//! The SMPP session driven by a scripted SMSC in simulated time: bind, window, receipts,
//! outages, timers, refusals.

use sms_gateway::smpp::pdu::{self, Body, Decoded, Pdu, ShortMessage, status, tag};
use sms_gateway::smpp::{Delivery, Output, Session, SmppConfig};
use sms_gateway::{Country, E164, MessageId, ReceiptStatus, Submission, SubmitResult, text};

fn config() -> SmppConfig {
    SmppConfig {
        system_id: "ivrd".into(),
        password: "secret".into(),
        source: "+4930123".into(),
        window: 3,
        ..SmppConfig::default()
    }
}

fn sub(id: u64, text: &str) -> Submission {
    let s = text::segment(text);
    Submission {
        id: MessageId(id),
        key: format!("k{id}"),
        call_id: None,
        purpose: "test".into(),
        to: E164::parse("+4915112345678", Country::by_iso("DE").unwrap()).unwrap(),
        text: text.into(),
        encoding: s.encoding,
        segments: s.parts.len() as u32,
        attempt: 1,
    }
}

/// Everything the session put out, with what it transmitted decoded.
#[derive(Debug, Default)]
struct Seen {
    sent: Vec<Pdu>,
    other: Vec<Output>,
}

fn drain(s: &mut Session) -> Seen {
    let mut seen = Seen::default();
    while let Some(o) = s.poll_output() {
        match o {
            Output::Transmit(octets) => {
                let (Decoded::Pdu(p), used) = pdu::decode(&octets).unwrap().unwrap() else {
                    panic!("we sent a bad PDU")
                };
                assert_eq!(used, octets.len());
                seen.sent.push(p);
            }
            other => seen.other.push(other),
        }
    }
    seen
}

fn resp(seq: u32, st: u32, body: Body) -> Vec<u8> {
    Pdu {
        status: st,
        seq,
        body,
    }
    .encode()
}

/// A session bound at t=0.
fn bound() -> Session {
    bound_with(config())
}

fn bound_with(config: SmppConfig) -> Session {
    let mut s = Session::new(config);
    assert_eq!(drain(&mut s).other, vec![Output::Connect]);
    s.handle_connected(0);
    let seen = drain(&mut s);
    let bind = &seen.sent[0];
    assert!(
        matches!(&bind.body, Body::BindTransceiver { system_id, password, .. } if system_id == "ivrd" && password == "secret")
    );
    let smsc = Body::BindTransceiverResp {
        system_id: "SMSC".into(),
    };
    s.handle_input(0, &resp(bind.seq, 0, smsc));
    assert_eq!(
        drain(&mut s).other,
        vec![Output::Up {
            smsc: "SMSC".into()
        }]
    );
    s
}

fn submitted(seen: &Seen) -> Vec<(u64, SubmitResult)> {
    seen.other
        .iter()
        .filter_map(|o| match o {
            Output::Submitted { id, result } => Some((id.0, result.clone())),
            _ => None,
        })
        .collect()
}

fn accept(seq: u32, id: &str) -> Vec<u8> {
    resp(
        seq,
        0,
        Body::SubmitSmResp {
            message_id: id.into(),
        },
    )
}

#[test]
fn submit_accept_receipt() {
    let mut s = bound_with(SmppConfig {
        msg_id_type: Some(1),
        ..config()
    });
    s.submit(10, &sub(1, "Your chat link: https://x.example/c/1"));
    let seen = drain(&mut s);
    let Body::SubmitSm(sm) = &seen.sent[0].body else {
        panic!("no submit_sm")
    };
    assert_eq!((sm.source.ton, sm.source.addr.as_str()), (1, "4930123"));
    assert_eq!(
        (sm.dest.ton, sm.dest.npi, sm.dest.addr.as_str()),
        (1, 1, "4915112345678")
    );
    assert_eq!(
        (sm.registered_delivery, sm.data_coding, sm.esm_class),
        (1, 0, 0)
    );
    s.handle_input(20, &accept(seen.sent[0].seq, "0A1B"));
    // msg_id_type 1: hex in submit_sm_resp, decimal in receipts; kept as the number.
    let accepted = SubmitResult::Accepted {
        provider_id: Some("2587".into()),
    };
    assert_eq!(submitted(&drain(&mut s)), vec![(1, accepted)]);
    // The receipt quotes the id in decimal (0x0A1B = 2587): still ours.
    let receipt = ShortMessage {
        esm_class: 4,
        short_message: b"id:2587 sub:001 dlvrd:001 submit date:2611221200 done date:2611221201 stat:DELIVRD err:000 text:".to_vec(),
        ..ShortMessage::default()
    };
    s.handle_input(30, &resp(77, 0, Body::DeliverSm(receipt)));
    let seen = drain(&mut s);
    let Output::Delivered {
        token,
        delivery,
        id,
    } = &seen.other[0]
    else {
        panic!("no delivery: {seen:?}")
    };
    assert_eq!(*id, Some(MessageId(1)));
    assert!(matches!(
        delivery,
        Delivery::Receipt {
            status: ReceiptStatus::Delivered,
            ..
        }
    ));
    // Not acknowledged until stored.
    assert!(seen.sent.is_empty());
    s.handle_delivered(*token, true);
    let ack = drain(&mut s).sent;
    assert_eq!(
        (ack[0].seq, ack[0].status, &ack[0].body),
        (77, 0, &Body::DeliverSmResp)
    );
}

#[test]
fn unstored_delivery_is_refused_for_redelivery() {
    let mut s = bound();
    let mo = ShortMessage {
        data_coding: 8,
        short_message: "СТОП".encode_utf16().flat_map(u16::to_be_bytes).collect(),
        ..ShortMessage::default()
    };
    s.handle_input(5, &resp(9, 0, Body::DeliverSm(mo)));
    let Output::Delivered {
        token,
        delivery: Delivery::Inbound(m),
        ..
    } = drain(&mut s).other.remove(0)
    else {
        panic!("no inbound")
    };
    assert_eq!(m.text, "СТОП");
    s.handle_delivered(token, false);
    assert_eq!(drain(&mut s).sent[0].status, 0x64);
}

#[test]
fn window_holds_the_rest() {
    let mut s = bound();
    for id in 1..=5 {
        s.submit(0, &sub(id, "hi"));
    }
    let first = drain(&mut s).sent;
    assert_eq!(first.len(), 3);
    s.handle_input(1, &accept(first[0].seq, "a"));
    let seen = drain(&mut s);
    assert_eq!(seen.sent.len(), 1, "one answer frees one slot");
    assert_eq!(submitted(&seen).len(), 1);
}

#[test]
fn multipart_ucs2_and_a_partial_failure() {
    let mut s = bound();
    let uk = "Ваш баланс 120 грн. Дякуємо, що ви з нами! ".repeat(3) + "Наступний платіж 01.12.";
    s.submit(0, &sub(300, &uk));
    let parts = drain(&mut s).sent;
    assert_eq!(parts.len(), 3);
    for (i, p) in parts.iter().enumerate() {
        let Body::SubmitSm(sm) = &p.body else {
            panic!()
        };
        assert_eq!((sm.esm_class, sm.data_coding), (0x40, 8));
        // Reference 300 % 256 = 44, three parts, this one's number.
        assert_eq!(&sm.short_message[..6], &[5, 0, 3, 44, 3, i as u8 + 1]);
        assert!(sm.short_message.len() <= 140);
    }
    s.handle_input(1, &accept(parts[0].seq, "p1"));
    s.handle_input(
        1,
        &resp(
            parts[1].seq,
            0x58,
            Body::SubmitSmResp {
                message_id: String::new(),
            },
        ),
    );
    assert!(submitted(&drain(&mut s)).is_empty(), "waits for every part");
    s.handle_input(2, &accept(parts[2].seq, "p3"));
    let r = submitted(&drain(&mut s));
    assert!(
        matches!(
            &r[0].1,
            SubmitResult::Retryable {
                ambiguous: true,
                ..
            }
        ),
        "{r:?}"
    );
}

#[test]
fn refusals_by_status() {
    let mut s = bound();
    s.submit(0, &sub(1, "a"));
    s.submit(0, &sub(2, "b"));
    let sent = drain(&mut s).sent;
    s.handle_input(
        1,
        &resp(
            sent[0].seq,
            status::THROTTLED,
            Body::SubmitSmResp {
                message_id: String::new(),
            },
        ),
    );
    s.handle_input(
        1,
        &resp(
            sent[1].seq,
            status::INVDSTADR,
            Body::SubmitSmResp {
                message_id: String::new(),
            },
        ),
    );
    let r = submitted(&drain(&mut s));
    assert!(matches!(
        r[0].1,
        SubmitResult::Retryable {
            ambiguous: false,
            ..
        }
    ));
    assert!(matches!(r[1].1, SubmitResult::Permanent { .. }));
}

#[test]
fn outage_reports_the_unanswered_and_keeps_the_queue() {
    let mut s = bound();
    for id in 1..=4 {
        s.submit(0, &sub(id, "x"));
    }
    drain(&mut s);
    s.handle_disconnected(100, "reset by peer");
    let seen = drain(&mut s);
    let r = submitted(&seen);
    assert_eq!(r.len(), 3, "the three in flight");
    assert!(r.iter().all(|(_, x)| matches!(
        x,
        SubmitResult::Retryable {
            ambiguous: true,
            ..
        }
    )));
    // Reconnect after the first backoff (1 s); message 4 goes out on the new link.
    assert_eq!(s.poll_timeout(), Some(1_100));
    s.handle_timeout(1_100);
    assert_eq!(drain(&mut s).other, vec![Output::Connect]);
    s.handle_connected(1_200);
    let bind = drain(&mut s).sent.remove(0);
    s.handle_input(
        1_300,
        &resp(
            bind.seq,
            0,
            Body::BindTransceiverResp {
                system_id: "S".into(),
            },
        ),
    );
    let seen = drain(&mut s);
    assert_eq!(seen.sent.len(), 1);
    // Hold expiry: with the link down beyond hold_ms a queued message goes back to the outbox.
    s.handle_disconnected(2_000, "gone");
    drain(&mut s);
    s.submit(2_000, &sub(9, "y"));
    let mut now = 2_000;
    let mut backoffs = Vec::new();
    let mut returned = Vec::new();
    while now < 40_000 {
        now = s.poll_timeout().unwrap();
        s.handle_timeout(now);
        let seen = drain(&mut s);
        if seen.other.contains(&Output::Connect) {
            backoffs.push(now);
            s.handle_connect_failed(now, "refused");
            drain(&mut s);
        }
        returned.extend(submitted(&seen));
    }
    assert!(returned.contains(&(
        9,
        SubmitResult::Retryable {
            reason: "no bound SMPP link".into(),
            ambiguous: false
        }
    )));
    // 1 s after the drop, then doubling with each failure in a row, up to the 60 s ceiling.
    let gaps: Vec<u64> = backoffs.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(backoffs[0], 3_000);
    assert_eq!(
        gaps,
        vec![2_000, 4_000, 8_000, 16_000, 32_000],
        "{backoffs:?}"
    );
}

#[test]
fn enquire_link_when_quiet_and_close_when_unanswered() {
    let mut s = bound();
    assert_eq!(s.poll_timeout(), Some(30_000));
    s.handle_timeout(30_000);
    let el = drain(&mut s).sent.remove(0);
    assert_eq!(el.body, Body::EnquireLink);
    s.handle_input(30_010, &resp(el.seq, 0, Body::EnquireLinkResp));
    assert_eq!(s.poll_timeout(), Some(60_010));
    s.handle_timeout(60_010);
    drain(&mut s);
    s.handle_timeout(70_010);
    let seen = drain(&mut s);
    assert_eq!(seen.other[0], Output::Close);
    assert!(!s.is_bound());
}

#[test]
fn bind_refused_closes_and_retries() {
    let mut s = Session::new(config());
    drain(&mut s);
    s.handle_connected(0);
    let bind = drain(&mut s).sent.remove(0);
    // ESME_RINVPASWD.
    s.handle_input(
        1,
        &resp(
            bind.seq,
            0x0E,
            Body::BindTransceiverResp {
                system_id: String::new(),
            },
        ),
    );
    let seen = drain(&mut s);
    assert_eq!(seen.other[0], Output::Close);
    assert!(matches!(&seen.other[1], Output::Down { reason } if reason.contains("0xe")));
    assert_eq!(s.poll_timeout(), Some(1_001));
}

#[test]
fn smsc_requests_and_garbage() {
    let mut s = bound();
    s.handle_input(1, &resp(5, 0, Body::EnquireLink));
    // query_sm (0x03) is not ours to answer: generic_nack ESME_RINVCMDID.
    s.handle_input(1, &resp(6, 0, Body::Other { command_id: 0x03 }));
    let sent = drain(&mut s).sent;
    assert_eq!((sent[0].seq, &sent[0].body), (5, &Body::EnquireLinkResp));
    assert_eq!(
        (sent[1].seq, sent[1].status, &sent[1].body),
        (6, status::INVCMDID, &Body::GenericNack)
    );
    // A receipt without an id is acknowledged (or it would come for ever) and logged.
    let mut bad = ShortMessage {
        esm_class: 4,
        ..ShortMessage::default()
    };
    bad.tlvs.push((tag::MESSAGE_STATE, vec![2]));
    s.handle_input(2, &resp(8, 0, Body::DeliverSm(bad)));
    let seen = drain(&mut s);
    assert_eq!(seen.sent[0].body, Body::DeliverSmResp);
    // An impossible length: the stream is lost, the link closes.
    s.handle_input(3, &[0xFF, 0xFF, 0xFF, 0xFF]);
    assert_eq!(drain(&mut s).other[0], Output::Close);
    // The SMSC unbinding: answered, then closed.
    let mut s = bound();
    s.handle_input(1, &resp(3, 0, Body::Unbind));
    let seen = drain(&mut s);
    assert_eq!(seen.sent[0].body, Body::UnbindResp);
    assert_eq!(seen.other[0], Output::Close);
}

#[test]
fn config_limits() {
    assert!(config().validate().is_ok());
    let long = SmppConfig {
        password: "123456789".into(),
        ..config()
    };
    assert!(long.validate().is_err());
    let none = SmppConfig {
        system_id: String::new(),
        ..config()
    };
    assert!(none.validate().is_err());
}
