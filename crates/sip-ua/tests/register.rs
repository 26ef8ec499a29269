//! REGISTER at the endpoint when it serves as a registrar (`SipConfig::registrar`): each one
//! reaches the application read (user, contacts and expiry, digest credentials), its answer
//! goes back as the response, retransmissions are absorbed, and RFC 4475's REGISTER torture
//! messages are read or refused with 400, never a panic.

mod support;

use std::time::Duration;

use sip_ua::{Contacts, RegisterAnswer, SipConfig, Transport};
use support::Peer;

fn registrar() -> Peer {
    let config = SipConfig {
        registrar: true,
        ..SipConfig::default()
    };
    Peer::with_config(Transport::Udp, config)
}

const REGISTER: &str = "REGISTER sip:127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKr1\n\
    From: <sip:alice@127.0.0.1>;tag=a1\nTo: <sip:alice@127.0.0.1>\nCall-ID: r1@127.0.0.1\n\
    CSeq: 7 REGISTER\nContact: <sip:alice@127.0.0.1:5071>;expires=120, <sip:alice@10.1.1.1>\n\
    Expires: 600\nMax-Forwards: 70\nContent-Length: 0\n\n";

#[test]
fn a_register_is_read_answered_once_and_its_retransmissions_absorbed() {
    let mut p = registrar();
    p.send(REGISTER);
    p.send(REGISTER); // a retransmission while the application decides: dropped
    assert_eq!(p.registrations.len(), 1);
    assert!(p.take_sent().is_empty());
    let r = p.registrations[0].clone();
    assert_eq!((r.user.as_str(), r.cseq), ("alice", 7));
    assert_eq!(r.call_id, "r1@127.0.0.1");
    assert_eq!(
        r.contacts,
        Contacts::Bind(vec![
            ("sip:alice@127.0.0.1:5071".into(), Some(120)),
            ("sip:alice@10.1.1.1".into(), Some(600)),
        ])
    );
    assert_eq!(r.credentials, None);
    let challenge = RegisterAnswer::Challenge {
        realm: "ivrd".into(),
        nonce: "abc".into(),
        stale: false,
    };
    p.sip.answer_register(p.now, r.id, &challenge);
    p.drain();
    let sent = p.take_sent();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].starts_with("SIP/2.0 401 Unauthorized\r\n"),
        "{}",
        sent[0]
    );
    assert!(
        sent[0].contains("WWW-Authenticate: Digest realm=\"ivrd\", nonce=\"abc\""),
        "{}",
        sent[0]
    );
    // After the answer a retransmission gets the same response again (Timer J), not a
    // second decision.
    p.send(REGISTER);
    assert_eq!(p.registrations.len(), 1);
    assert_eq!(p.take_sent(), sent);
    // A 200 lists the bindings with their expiry.
    p.run_until(p.now + Duration::from_secs(40));
    p.send(
        &REGISTER
            .replace("z9hG4bKr1", "z9hG4bKr2")
            .replace("CSeq: 7", "CSeq: 8"),
    );
    let id = p.registrations[1].id;
    let bound = RegisterAnswer::Bound(vec![("sip:alice@127.0.0.1:5071".into(), 120)]);
    p.sip.answer_register(p.now, id, &bound);
    p.drain();
    let ok = p.take_sent().remove(0);
    assert!(ok.starts_with("SIP/2.0 200 OK\r\n"), "{ok}");
    assert!(
        ok.contains("Contact: <sip:alice@127.0.0.1:5071>;expires=120\r\n"),
        "{ok}"
    );
}

#[test]
fn without_the_registrar_a_register_is_405() {
    let mut p = Peer::new(Transport::Udp);
    p.send(REGISTER);
    assert!(p.registrations.is_empty());
    let sent = p.take_sent();
    assert!(sent[0].starts_with("SIP/2.0 405"), "{}", sent[0]);
}

/// RFC 4475 §3.3.4 (unksm2), 3.3.7 (regaut01), 3.3.12–3.3.14 (cparam01, cparam02, regescrt)
/// and 3.1.2.13 (regbadct), to a registrar.
#[test]
fn rfc_4475_registers_are_read_or_refused_with_400() {
    let unksm2 = "REGISTER sip:example.com SIP/2.0\nTo: isbn:2983792873\nFrom: <http://www.example.com>;tag=3234233\nCall-ID: unksm2.daksdj@hyphenated-host.example.com\nCSeq: 234902 REGISTER\nMax-Forwards: 70\nVia: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw\nContact: <name:John_Smith>\nl: 0\n\n";
    let regaut01 = "REGISTER sip:example.com SIP/2.0\nTo: sip:j.user@example.com\nFrom: sip:j.user@example.com;tag=87321hj23128\nMax-Forwards: 8\nCall-ID: regaut01.0ha0isndaksdj\nCSeq: 9338 REGISTER\nVia: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKkdjuw\nAuthorization: NoOneKnowsThisScheme opaque-data=here\nContent-Length:0\n\n";
    let cparam01 = "REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw1\nMax-Forwards: 70\nFrom: sip:watson@example.com;tag=DkfVgjkrtMwaerKKpe\nTo: sip:watson@example.com\nCall-ID: cparam01.70710@saturn.example.com\nCSeq: 2 REGISTER\nContact: sip:+19725552222@gw1.example.net;unknownparam\nl: 0\n\n";
    let cparam02 = "REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw2\nMax-Forwards: 70\nFrom: sip:watson@example.com;tag=838293\nTo: sip:watson@example.com\nCall-ID: cparam02.70710@saturn.example.com\nCSeq: 3 REGISTER\nContact: <sip:+19725552222@gw1.example.net;unknownparam>\nl: 0\n\n";
    let regescrt = "REGISTER sip:example.com SIP/2.0\nTo: sip:user@example.com\nFrom: sip:user@example.com;tag=8\nMax-Forwards: 70\nCall-ID: regescrt.k345asrl3fdbv@192.0.2.1\nCSeq: 14398234 REGISTER\nVia: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw3\nM: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>\nL:0\n\n";

    let mut p = registrar();
    p.send(unksm2);
    assert!(p.registrations.is_empty());
    let sent = p.take_sent();
    assert!(sent[0].starts_with("SIP/2.0 400"), "{}", sent[0]);

    for (m, user, contacts) in [
        (regaut01, "j.user", Contacts::Query),
        (
            cparam01,
            "watson",
            Contacts::Bind(vec![("sip:+19725552222@gw1.example.net".into(), None)]),
        ),
        (
            cparam02,
            "watson",
            Contacts::Bind(vec![(
                "sip:+19725552222@gw1.example.net;unknownparam".into(),
                None,
            )]),
        ),
        (
            regescrt,
            "user",
            Contacts::Bind(vec![(
                "sip:user@example.com?Route=%3Csip:sip.example.com%3E".into(),
                None,
            )]),
        ),
    ] {
        let mut p = registrar();
        p.send(m);
        assert_eq!(p.registrations.len(), 1, "{m}\n{:?}", p.take_sent());
        let r = &p.registrations[0];
        assert_eq!((r.user.as_str(), &r.contacts), (user, &contacts), "{m}");
        // An Authorization in a scheme nobody knows is no credentials.
        assert_eq!(r.credentials, None);
    }
}
