//! Registering with a trunk and keeping it alive, on a jumped clock: the digest challenge
//! answered once, the binding refreshed before it runs out, 423 and 503 honoured, failures
//! retried with a doubling backoff, OPTIONS keepalives marking the trunk up and down.

mod support;

use std::time::Duration;

use sip_ua::{Credentials, Transport, TrunkEvent, TrunkRegistration};
use support::Peer;

fn registration(register: bool, keepalive: Option<u64>) -> TrunkRegistration {
    TrunkRegistration {
        name: "carrier".into(),
        registrar: "sip:127.0.0.1:5070".into(),
        aor: "sip:+15550001111@127.0.0.1:5070".into(),
        contact_user: "+15550001111".into(),
        flow: Peer::new(Transport::Udp).flow,
        credentials: Some(Credentials {
            username: "ivrd".into(),
            password: "secret".into(),
        }),
        expires: Duration::from_secs(3600),
        register,
        keepalive: keepalive.map(Duration::from_secs),
    }
}

/// A response to `request` (as sent, CRLF lines) with `extra` header lines (LF-terminated).
fn reply(request: &str, status_line: &str, extra: &str) -> String {
    let mut out = format!("SIP/2.0 {status_line}\n");
    for line in request.split("\r\n").take_while(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or_default();
        match name {
            "Via" | "From" | "Call-ID" | "CSeq" => out.push_str(&format!("{line}\n")),
            "To" => out.push_str(&format!("{line};tag=reg1\n")),
            _ => {}
        }
    }
    out.push_str(extra);
    out.push_str("Content-Length: 0\n\n");
    out
}

fn sent(p: &mut Peer, method: &str) -> Vec<String> {
    p.take_sent()
        .into_iter()
        .filter(|m| m.starts_with(&format!("{method} ")))
        .collect()
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message
        .split("\r\n")
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

#[test]
fn a_challenged_register_is_answered_and_refreshed_before_it_expires() {
    let mut p = Peer::new(Transport::Udp);
    let start = p.now;
    p.sip.add_trunk(p.now, registration(true, None));
    p.drain();
    let first = sent(&mut p, "REGISTER");
    assert_eq!(first.len(), 1);
    let first = &first[0];
    assert!(
        first.starts_with("REGISTER sip:127.0.0.1:5070 SIP/2.0\r\n"),
        "{first}"
    );
    assert_eq!(header(first, "Expires"), Some("3600"));
    assert_eq!(
        header(first, "Contact"),
        Some("<sip:+15550001111@127.0.0.1:5060>")
    );
    assert!(header(first, "Authorization").is_none());
    let challenge = "WWW-Authenticate: Digest realm=\"carrier\", nonce=\"n0nce\", qop=\"auth\", \
        algorithm=SHA-256\n";
    p.send(&reply(first, "401 Unauthorized", challenge));
    let second = sent(&mut p, "REGISTER");
    assert_eq!(second.len(), 1, "answered at once");
    let second = &second[0];
    assert_eq!(
        header(second, "Call-ID"),
        header(first, "Call-ID"),
        "one Call-ID"
    );
    assert_eq!(header(second, "CSeq"), Some("2 REGISTER"));
    let auth = header(second, "Authorization").expect("credentials");
    for part in [
        "Digest username=\"ivrd\"",
        "realm=\"carrier\"",
        "nonce=\"n0nce\"",
        "uri=\"sip:127.0.0.1:5070\"",
        "algorithm=SHA-256",
        "qop=auth",
        "nc=00000001",
    ] {
        assert!(auth.contains(part), "{auth}");
    }
    // Granted 600 s on our Contact (the Expires header says otherwise and loses).
    let granted = "Contact: <sip:+15550001111@127.0.0.1:5060>;expires=600\nExpires: 3600\n";
    p.send(&reply(second, "200 OK", granted));
    assert_eq!(
        p.trunks.iter().map(|(_, e)| *e).collect::<Vec<_>>(),
        [
            TrunkEvent::Registered {
                expires: Duration::from_secs(600)
            },
            TrunkEvent::Up
        ]
    );
    // Refreshed 30 s before the 600 s run out, not earlier.
    p.run_until(start + Duration::from_secs(569));
    assert!(sent(&mut p, "REGISTER").is_empty());
    p.run_until(start + Duration::from_millis(570_200));
    let refresh = sent(&mut p, "REGISTER");
    assert_eq!(refresh.len(), 1);
    assert_eq!(header(&refresh[0], "CSeq"), Some("3 REGISTER"));
    // A short binding is refreshed half-way.
    p.send(&reply(&refresh[0], "200 OK", "Expires: 40\n"));
    let at = p.now;
    p.run_until(at + Duration::from_secs(19));
    assert!(sent(&mut p, "REGISTER").is_empty());
    p.run_until(at + Duration::from_millis(20_200));
    let again = sent(&mut p, "REGISTER");
    assert_eq!(again.len(), 1, "{again:#?}");
}

#[test]
fn wrong_credentials_fail_and_are_retried_with_a_doubling_backoff() {
    let mut p = Peer::new(Transport::Udp);
    p.sip.add_trunk(p.now, registration(true, None));
    p.drain();
    let challenge = "WWW-Authenticate: Digest realm=\"carrier\", nonce=\"n1\"\n";
    let mut retries = Vec::new();
    for _ in 0..3 {
        let first = sent(&mut p, "REGISTER").pop().expect("a REGISTER");
        assert!(header(&first, "Authorization").is_none());
        p.send(&reply(&first, "401 Unauthorized", challenge));
        let second = sent(&mut p, "REGISTER").pop().expect("answered");
        assert!(header(&second, "Authorization").is_some());
        // Refused again: the credentials are wrong; no third try on this round.
        p.send(&reply(&second, "401 Unauthorized", challenge));
        assert!(sent(&mut p, "REGISTER").is_empty());
        let Some((_, TrunkEvent::RegisterFailed { status, retry_in })) = p.trunks.pop() else {
            panic!("a failure: {:?}", p.trunks);
        };
        assert_eq!(status, 401);
        retries.push(retry_in.as_secs());
        let at = p.now;
        p.run_until(at + retry_in - Duration::from_millis(1));
        assert!(p.sent.is_empty(), "not before the backoff");
        p.run_until(at + retry_in);
    }
    assert_eq!(retries, [5, 10, 20]);
    assert!(p.trunks.is_empty(), "never up, so never down");
}

#[test]
fn an_unanswered_register_is_retransmitted_then_retried() {
    let mut p = Peer::new(Transport::Udp);
    let start = p.now;
    p.sip.add_trunk(p.now, registration(true, None));
    p.drain();
    // Timer E: 0.5, 1, 2, 4, 4… s, then Timer F at 64·T1 = 32 s.
    p.run_until(start + Duration::from_millis(31_900));
    assert_eq!(
        sent(&mut p, "REGISTER").len(),
        11,
        "the first and ten retransmissions"
    );
    p.run_until(start + Duration::from_secs(32));
    assert_eq!(
        p.trunks.pop().map(|(_, e)| e),
        Some(TrunkEvent::RegisterFailed {
            status: 0,
            retry_in: Duration::from_secs(5)
        })
    );
    p.run_until(start + Duration::from_secs(37));
    assert_eq!(sent(&mut p, "REGISTER").len(), 1, "retried after 5 s");
}

#[test]
fn a_423_raises_the_expiry_and_a_503_retry_after_is_honoured() {
    let mut p = Peer::new(Transport::Udp);
    p.sip.add_trunk(p.now, registration(true, None));
    p.drain();
    let first = sent(&mut p, "REGISTER").pop().expect("a REGISTER");
    p.send(&reply(
        &first,
        "423 Interval Too Brief",
        "Min-Expires: 7200\n",
    ));
    let second = sent(&mut p, "REGISTER").pop().expect("asked again");
    assert_eq!(header(&second, "Expires"), Some("7200"));
    p.send(&reply(
        &second,
        "503 Service Unavailable",
        "Retry-After: 120\n",
    ));
    assert_eq!(
        p.trunks.pop().map(|(_, e)| e),
        Some(TrunkEvent::RegisterFailed {
            status: 503,
            retry_in: Duration::from_secs(120)
        })
    );
    let at = p.now;
    p.run_until(at + Duration::from_secs(119));
    assert!(sent(&mut p, "REGISTER").is_empty());
    p.run_until(at + Duration::from_secs(120));
    let third = sent(&mut p, "REGISTER").pop().expect("retried");
    assert_eq!(
        header(&third, "Expires"),
        Some("7200"),
        "the raised expiry is kept"
    );
}

#[test]
fn options_keepalives_mark_the_trunk_up_and_down() {
    let mut p = Peer::new(Transport::Udp);
    let start = p.now;
    p.sip.add_trunk(p.now, registration(false, Some(30)));
    p.drain();
    let options = sent(&mut p, "OPTIONS").pop().expect("an OPTIONS");
    assert!(
        options.starts_with("OPTIONS sip:127.0.0.1:5070 SIP/2.0\r\n"),
        "{options}"
    );
    // Any answer, even 404, means it is there.
    p.send(&reply(&options, "404 Not Found", ""));
    assert_eq!(p.trunks.pop().map(|(_, e)| e), Some(TrunkEvent::Up));
    p.run_until(start + Duration::from_millis(29_900));
    assert!(sent(&mut p, "OPTIONS").is_empty());
    p.run_until(start + Duration::from_secs(30));
    assert_eq!(sent(&mut p, "OPTIONS").len(), 1, "the next keepalive");
    // Unanswered: down at 64·T1.
    p.run_until(start + Duration::from_millis(61_900));
    assert!(p.trunks.is_empty());
    p.run_until(start + Duration::from_secs(62));
    assert_eq!(p.trunks.pop().map(|(_, e)| e), Some(TrunkEvent::Down));
    assert!(p.trunks.is_empty());
}
