//! The Twilio provider against a stub of Twilio's Messages API on 127.0.0.1: the request shape
//! (path, basic auth, form), a 429 retried, error 21211 failing for good, and the webhooks:
//! a signed status callback marks the message delivered, a signed inbound STOP opts the sender
//! out, and an unsigned or wrongly signed webhook is refused with 403 and changes nothing.
#![allow(clippy::disallowed_methods)] // real processes, real time: bounded waits

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::{Ivrd, free_tcp_port, http, query, send_sms, wait_until};
use sms_gateway::provider::twilio::signature;

const ADMIN: &str = "test-admin-token-twilio-012345";
const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-test-auth-token";

/// One recorded API request: path, Authorization header, form body.
type Seen = Arc<Mutex<Vec<(String, String, Vec<(String, String)>)>>>;

/// A Messages API double: 429 for the first request to +15551230007, 400 code 21211 for
/// +15551230008, 201 with a sid otherwise.
fn stub() -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen: Seen = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let (mut length, mut auth) = (0usize, String::new());
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                let lower = h.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("authorization:") {
                    auth = h["authorization:".len()..].trim().to_string();
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
            let to = form
                .iter()
                .find(|(k, _)| k == "To")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let mut requests = log.lock().expect("lock");
            let earlier = requests
                .iter()
                .filter(|r| r.2.contains(&("To".into(), to.clone())))
                .count();
            requests.push((path, auth, form));
            let n = requests.len();
            drop(requests);
            let (status, reply) = match (to.as_str(), earlier) {
                ("+15551230007", 0) => (
                    "429 Too Many Requests",
                    r#"{"code":20429,"message":"Too Many Requests"}"#.to_string(),
                ),
                ("+15551230008", _) => (
                    "400 Bad Request",
                    r#"{"code":21211,"message":"Invalid 'To' Phone Number"}"#.to_string(),
                ),
                _ => (
                    "201 Created",
                    format!(r#"{{"sid":"SM{n:032}","status":"queued"}}"#),
                ),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (port, seen)
}

fn form(pairs: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &owned {
        s.append_pair(k, v);
    }
    (s.finish(), owned)
}

/// Posts a webhook form to `path_and_query` with the given signature (if any).
fn webhook(port: u16, path_and_query: &str, body: &str, sig: Option<&str>) -> (u16, String) {
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(sig) = sig {
        headers.push(("X-Twilio-Signature", sig));
    }
    http("POST", port, path_and_query, &headers, body)
}

#[test]
fn sms_through_a_twilio_stub() {
    let (api, seen) = stub();
    let dir = std::env::temp_dir().join(format!("ivrd-twilio-{}", free_tcp_port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let http_port = free_tcp_port();
    let base = format!("http://127.0.0.1:{http_port}");
    let config = dir.join("ivrd.toml");
    std::fs::write(
        &config,
        format!(
            "[sms]\nprovider = \"twilio\"\ncountry = \"US\"\nallowed_prefixes = [\"+1\"]\n\
             callback_base = \"{base}\"\nretry_base_ms = 300\nretry_max_ms = 1000\n\n\
             [sms.twilio]\napi_base = \"http://127.0.0.1:{api}\"\naccount_sid = \"{SID}\"\n\
             auth_token_env = \"IVRD_TEST_TWILIO_TOKEN\"\nfrom = \"+15550001111\"\n\n\
             [http]\nadmin_token_env = \"IVRD_TEST_ADMIN\"\n"
        ),
    )
    .expect("config");
    let var = dir.join("var");
    let env = [
        ("IVRD_TEST_TWILIO_TOKEN", TOKEN),
        ("IVRD_TEST_ADMIN", ADMIN),
    ];
    let ivrd = Ivrd::start_sms(&config, http_port, &var, &env);
    let db = var.join("ivrd.sqlite");

    // 1. The request Twilio's API wants.
    assert_eq!(
        send_sms(http_port, ADMIN, "+15551230001", "Hi from ivrd", "w1").0,
        202
    );
    wait_until("the API request", 15, || {
        !seen.lock().expect("lock").is_empty()
    });
    let (path, auth, sent) = seen.lock().expect("lock")[0].clone();
    assert_eq!(path, format!("/2010-04-01/Accounts/{SID}/Messages.json"));
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"));
    assert_eq!(auth, format!("Basic {basic}"));
    let field = |k: &str| {
        sent.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        (field("To").as_str(), field("From").as_str()),
        ("+15551230001", "+15550001111")
    );
    assert_eq!(field("Body"), "Hi from ivrd");
    let callback = field("StatusCallback");
    assert!(
        callback.starts_with(&format!("{base}/sms/twilio/status?id=")),
        "{callback}"
    );
    wait_until("accepted with the sid", 15, || {
        query(
            &db,
            "SELECT COUNT(*) FROM messages WHERE key = 'w1' AND state = 'accepted'",
        ) == 1
    });

    // 2. The status callback: refused unsigned or wrongly signed, taken when signed.
    let path_q = &callback[base.len()..];
    let (body, params) = form(&[
        ("MessageSid", "SM1"),
        ("MessageStatus", "delivered"),
        ("AccountSid", SID),
    ]);
    assert_eq!(webhook(http_port, path_q, &body, None).0, 403);
    let forged = signature("not-the-token", &callback, &params);
    assert_eq!(webhook(http_port, path_q, &body, Some(&forged)).0, 403);
    assert_eq!(
        query(
            &db,
            "SELECT COUNT(*) FROM messages WHERE key = 'w1' AND state = 'delivered'"
        ),
        0
    );
    let good = signature(TOKEN, &callback, &params);
    assert_eq!(webhook(http_port, path_q, &body, Some(&good)).0, 200);
    wait_until("delivered", 15, || {
        query(
            &db,
            "SELECT COUNT(*) FROM messages WHERE key = 'w1' AND state = 'delivered'",
        ) == 1
    });

    // 3. A signed inbound STOP opts the sender out; a forged one does nothing.
    let (body, params) = form(&[
        ("MessageSid", "SM2"),
        ("From", "+15551230009"),
        ("To", "+15550001111"),
        ("Body", "STOP"),
        ("NumMedia", "0"),
    ]);
    let inbound_url = format!("{base}/sms/twilio/inbound");
    let forged = signature(TOKEN, &format!("{inbound_url}?x=1"), &params);
    assert_eq!(
        webhook(http_port, "/sms/twilio/inbound", &body, Some(&forged)).0,
        403
    );
    let good = signature(TOKEN, &inbound_url, &params);
    let (status, reply) = webhook(http_port, "/sms/twilio/inbound", &body, Some(&good));
    assert_eq!((status, reply.as_str()), (200, "<Response/>"));
    assert_eq!(
        query(
            &db,
            "SELECT COUNT(*) FROM opt_outs WHERE number = '+15551230009' AND opted_out = 1"
        ),
        1
    );

    // 4. 429 is retried; 21211 fails for good without a retry.
    assert_eq!(
        send_sms(http_port, ADMIN, "+15551230007", "retry", "w2").0,
        202
    );
    assert_eq!(
        send_sms(http_port, ADMIN, "+15551230008", "bad number", "w3").0,
        202
    );
    wait_until("the retry and the refusal", 15, || {
        query(
            &db,
            "SELECT COUNT(*) FROM messages WHERE key = 'w2' AND state = 'accepted'",
        ) == 1
            && query(
                &db,
                "SELECT COUNT(*) FROM messages WHERE key = 'w3' AND state = 'failed'",
            ) == 1
    });
    let to = |n: &str| {
        seen.lock()
            .expect("lock")
            .iter()
            .filter(|r| r.2.contains(&("To".into(), n.into())))
            .count()
    };
    assert_eq!(
        (to("+15551230007"), to("+15551230008")),
        (2, 1),
        "{}",
        ivrd.log_text()
    );
}
