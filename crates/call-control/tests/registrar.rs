//! ivrd as the agents' registrar, through the endpoint and the core on a jumped clock: an
//! agent's phone REGISTERs with digest authentication (challenged, then answered), which logs
//! the agent in and is where the queue rings them; a wrong password, a too-short expiry and an
//! unknown user are refused; an unREGISTER or an expired binding logs them out.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use call_control::AgentView;
use md5::{Digest, Md5};
use support::{IVRD, Script, Sim};

const PASSWORD: &str = "correct horse";

/// Queue `support` and agent alice with a password and no contact: rung only where she
/// registers.
fn sim() -> Sim {
    let text = format!(
        "[defaults]\nring_timeout_s = 10\njoin_empty = true\nleave_when_empty = false\n\
         [defaults.languages.en]\nmusic = [\"hold-music\"]\n[queues.support]\n\
         [agents.alice]\npassword = \"{PASSWORD}\"\nqueues = {{ support = 0 }}\nlogged_in = false\n"
    );
    let set = call_control::load_queues("queues.toml", &text, &|_, _| true).expect("queues");
    let flows = support::flows(&[]);
    let peers = [Script::Silent, Script::Answer(Duration::from_secs(1))];
    Sim::with(flows, "queue", &[], &peers, |c| c.queues = set)
}

/// The agent's phone: peer 1.
fn phone() -> SocketAddr {
    "10.0.0.3:5060".parse().expect("address")
}

fn md5(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A REGISTER from the phone for `user`, CSeq `cseq`, with `headers` (Contact, Expires,
/// Authorization …).
fn register(s: &mut Sim, user: &str, cseq: u32, headers: &str) {
    let text = format!(
        "REGISTER sip:10.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.3:5060;branch=z9hG4bKreg{cseq}\n\
         From: <sip:{user}@10.0.0.1>;tag=ph1\nTo: <sip:{user}@10.0.0.1>\nCall-ID: reg-1@10.0.0.3\n\
         CSeq: {cseq} REGISTER\nMax-Forwards: 70\n{headers}Content-Length: 0\n\n"
    );
    s.inject(phone(), &text);
    s.run_for(Duration::from_millis(50));
}

/// ivrd's responses to the phone, first lines and all.
fn responses(s: &Sim) -> Vec<String> {
    let ivrd: SocketAddr = IVRD.parse().expect("address");
    s.sent(ivrd, phone(), "SIP/2.0")
        .iter()
        .map(|d| d.text.clone())
        .collect()
}

fn last_status(s: &Sim) -> String {
    let all = responses(s);
    let last = all.last().expect("a response");
    last.lines().next().unwrap_or_default().to_string()
}

/// The nonce of the last 401.
fn nonce(s: &Sim) -> String {
    let all = responses(s);
    let challenge = all
        .iter()
        .rev()
        .find(|r| r.starts_with("SIP/2.0 401"))
        .expect("401");
    let header = support::header(challenge, "WWW-Authenticate").expect("challenge");
    assert!(
        header.contains("realm=\"ivrd\"") && header.contains("qop=\"auth\""),
        "{header}"
    );
    let start = header.find("nonce=\"").expect("nonce") + 7;
    header[start..]
        .split('"')
        .next()
        .expect("nonce")
        .to_string()
}

/// The Authorization header answering `nonce` as `user` with `password`.
fn authorization(user: &str, password: &str, nonce: &str) -> String {
    let ha1 = md5(&format!("{user}:ivrd:{password}"));
    let ha2 = md5("REGISTER:sip:10.0.0.1");
    let response = md5(&format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}"));
    format!(
        "Authorization: Digest username=\"{user}\", realm=\"ivrd\", nonce=\"{nonce}\", \
         uri=\"sip:10.0.0.1\", response=\"{response}\", algorithm=MD5, qop=auth, \
         nc=00000001, cnonce=\"c0ffee\"\n"
    )
}

fn alice(s: &Sim) -> AgentView {
    s.core.agent_views().remove(0)
}

const CONTACT: &str = "Contact: <sip:alice@10.0.0.3:5060>\n";

/// Challenged, then registered for `expires` s; CSeqs 1 and 2.
fn registered(s: &mut Sim, expires: u32) {
    let expiry = format!("{CONTACT}Expires: {expires}\n");
    register(s, "alice", 1, &expiry);
    assert_eq!(last_status(s), "SIP/2.0 401 Unauthorized");
    let auth = authorization("alice", PASSWORD, &nonce(s));
    register(s, "alice", 2, &format!("{expiry}{auth}"));
}

#[test]
fn an_agent_registering_with_digest_is_logged_in_and_rung_where_they_registered() {
    let mut s = sim();
    assert_eq!(alice(&s).status, "logged_out");
    registered(&mut s, 600);
    assert_eq!(last_status(&s), "SIP/2.0 200 OK", "{:#?}", responses(&s));
    let ok = responses(&s).pop().expect("200");
    let contact = support::header(&ok, "Contact").expect("the binding");
    assert_eq!(contact, "<sip:alice@10.0.0.3:5060>;expires=600");
    let a = alice(&s);
    assert_eq!((a.status, a.registered), ("available", true));
    assert_eq!(a.contact.as_deref(), Some("sip:alice@10.0.0.3:5060"));
    // A caller queues; alice's phone rings at the registered contact and answers.
    s.call(0, "sip:500@10.0.0.1");
    s.run_for(Duration::from_secs(5));
    assert_eq!(s.media.bridged.len(), 1, "{:#?}", s.trace);
    assert_eq!(s.peers[1].incoming().len(), 1);
}

#[test]
fn a_wrong_password_an_unknown_user_and_a_too_short_expiry_are_refused() {
    let mut s = sim();
    register(&mut s, "alice", 1, CONTACT);
    let auth = authorization("alice", "not the password", &nonce(&s));
    register(&mut s, "alice", 2, &format!("{CONTACT}{auth}"));
    assert_eq!(last_status(&s), "SIP/2.0 403 Forbidden");
    assert_eq!(alice(&s).status, "logged_out");
    register(&mut s, "mallory", 3, CONTACT);
    assert_eq!(last_status(&s), "SIP/2.0 404 Not Found");
    register(&mut s, "alice", 4, CONTACT);
    let auth = authorization("alice", PASSWORD, &nonce(&s));
    register(&mut s, "alice", 5, &format!("{CONTACT}Expires: 30\n{auth}"));
    let all = responses(&s);
    let brief = all.last().expect("423");
    assert!(brief.starts_with("SIP/2.0 423"), "{brief}");
    assert_eq!(support::header(brief, "Min-Expires"), Some("60"));
    // A contact carrying URI headers would carry them into the INVITE that rings her: 400.
    register(&mut s, "alice", 6, CONTACT);
    let auth = authorization("alice", PASSWORD, &nonce(&s));
    let routed = "Contact: <sip:alice@10.0.0.3?Route=%3Csip:evil.example%3E>\n";
    register(&mut s, "alice", 7, &format!("{routed}{auth}"));
    assert_eq!(last_status(&s), "SIP/2.0 400 Bad Request");
    // A REGISTER whose Contact is not a SIP URI is a bad request, not a panic.
    register(&mut s, "alice", 8, "Contact: <mailto:alice@example.com>\n");
    assert_eq!(last_status(&s), "SIP/2.0 400 Bad Request");
    assert_eq!(alice(&s).status, "logged_out");
}

#[test]
fn an_unregister_logs_the_agent_out_and_so_does_a_binding_left_to_expire() {
    let mut s = sim();
    registered(&mut s, 600);
    assert_eq!(alice(&s).status, "available");
    // Expires: 0 on the same Call-ID, a later CSeq, answering the nonce she has.
    let auth = authorization("alice", PASSWORD, &nonce(&s));
    register(&mut s, "alice", 3, &format!("{CONTACT}Expires: 0\n{auth}"));
    assert_eq!(last_status(&s), "SIP/2.0 200 OK");
    let a = alice(&s);
    assert_eq!(
        (a.status, a.registered, a.contact),
        ("logged_out", false, None)
    );
    // Registered again for 60 s and never refreshed: logged out when it runs out.
    let auth = authorization("alice", PASSWORD, &nonce(&s));
    register(&mut s, "alice", 4, &format!("{CONTACT}Expires: 60\n{auth}"));
    assert_eq!(alice(&s).status, "available");
    s.run_for(Duration::from_secs(59));
    assert_eq!(alice(&s).status, "available");
    s.run_for(Duration::from_secs(2));
    assert_eq!(alice(&s).status, "logged_out");
    // An old nonce (over 5 minutes) is stale: challenged again with stale=true.
    s.run_for(Duration::from_secs(300));
    let auth = authorization("alice", PASSWORD, &nonce(&s));
    register(&mut s, "alice", 5, &format!("{CONTACT}{auth}"));
    let all = responses(&s);
    let stale = all.last().expect("401");
    assert!(
        support::header(stale, "WWW-Authenticate").is_some_and(|h| h.contains("stale=true")),
        "{stale}"
    );
}

/// Who may call: an agent's phone calling in from outside `sip.admission.allow` is challenged
/// (401) and taken when it answers as the agent; wrong credentials get 403; a caller inside
/// the allow-list is not challenged at all.
#[test]
fn an_agents_phone_calling_from_an_unlisted_address_is_challenged_then_taken() {
    let mut s = sim();
    s.allow_only("10.0.0.2/32");
    // Without credentials the 401 ends it.
    s.call(1, "sip:500@10.0.0.1");
    s.run_for(Duration::from_secs(1));
    assert_eq!(last_status(&s), "SIP/2.0 401 Unauthorized");
    let _ = nonce(&s);
    let wrong = sip_ua::Credentials {
        username: "alice".into(),
        password: "not the password".into(),
    };
    s.call_with(1, "sip:500@10.0.0.1", Some(wrong));
    s.run_for(Duration::from_secs(1));
    assert_eq!(last_status(&s), "SIP/2.0 403 Forbidden");
    let right = sip_ua::Credentials {
        username: "alice".into(),
        password: PASSWORD.into(),
    };
    s.call_with(1, "sip:500@10.0.0.1", Some(right));
    s.run_for(Duration::from_secs(2));
    let taken = |s: &Sim| {
        responses(s)
            .iter()
            .any(|r| r.starts_with("SIP/2.0 200 OK") && r.contains("CSeq: 2 INVITE"))
    };
    assert!(taken(&s), "{:#?}", responses(&s));
    // From the listed caller: straight in.
    s.call(0, "sip:500@10.0.0.1");
    s.run_for(Duration::from_secs(2));
    let ivrd: SocketAddr = IVRD.parse().expect("address");
    let caller: SocketAddr = "10.0.0.2:5060".parse().expect("address");
    let to_caller: Vec<&str> = s
        .sent(ivrd, caller, "SIP/2.0")
        .iter()
        .map(|d| d.text.lines().next().unwrap_or_default())
        .collect();
    assert!(to_caller.contains(&"SIP/2.0 200 OK"), "{to_caller:?}");
    assert!(!to_caller.iter().any(|l| l.starts_with("SIP/2.0 401")));
}
