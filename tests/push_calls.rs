//! Push calls end to end: `POST /calls` on a real `ivrd serve`, SIPp standing in for the
//! customer (it answers, then presses 1 in-band during the notice), the SMS in the outbox, the
//! status POSTed to a webhook and the outcome stored; the API's refusals for bad input, and a
//! push through a trunk nobody answers on ending `failed`.
//!
//! Needs `sipp` (Debian `sip-tester`); without it the test says so loudly and passes, except
//! under CI (`CI` set), where it fails. Real processes in real time.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{HttpHook, Ivrd, finish, free_tcp_port, free_udp_port, http, sipp, wait_until};
use serde_json::{Value, json};

const ADMIN: &str = "push-test-admin-token";

fn api(port: u16, method: &str, path: &str, body: &str) -> (u16, Value) {
    common::admin_api(port, ADMIN, method, path, body)
}

#[test]
fn a_push_call_is_answered_a_key_sends_the_sms_and_the_status_is_posted() {
    if !common::have_sipp("the push-call test") {
        return;
    }
    let hook = HttpHook::start("{}");
    let dead = free_udp_port();
    let dir = std::env::temp_dir().join(format!("ivrd-push-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("ivrd.toml");
    std::fs::write(
        &config,
        format!(
            "[http]\nadmin_token_env = \"IVRD_TEST_ADMIN\"\n\n\
             [trunks.nowhere]\nproxy = \"127.0.0.1:{dead}\"\nmax_calls = 2\n"
        ),
    )
    .expect("config");
    let http_port = free_tcp_port();
    let http_arg = format!("127.0.0.1:{http_port}");
    let ivrd = Ivrd::start_with_env(
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "--http",
            &http_arg,
        ],
        &[("IVRD_TEST_ADMIN", ADMIN)],
    );

    // Bad input: a reason, never a call.
    let (status, _) = http("POST", http_port, "/calls", &[], "{}");
    assert_eq!(status, 401, "no token");
    for (body, code, reason) in [
        ("not json", 400, "body"),
        (r#"{"to": "sip:a@127.0.0.1"}"#, 400, "missing field `flow`"),
        (
            r#"{"to": "sip:a@127.0.0.1", "flow": "notify", "colour": 1}"#,
            400,
            "unknown field",
        ),
        // Well-formed, but naming what is not there: 422.
        (
            r#"{"to": "+15551230000", "flow": "notify"}"#,
            422,
            "needs a `trunk`",
        ),
        (
            r#"{"to": "sip:a@127.0.0.1", "flow": "nope"}"#,
            422,
            "no flow named nope",
        ),
        (
            r#"{"to": "sip:a@127.0.0.1", "flow": "notify", "trunk": "t9"}"#,
            422,
            "no trunk named t9",
        ),
    ] {
        let (status, v) = api(http_port, "POST", "/calls", body);
        assert_eq!(status, code, "{body}: {v}");
        let error = v["error"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{body}: {error}");
    }
    let (status, _) = api(http_port, "DELETE", "/calls/push-nope", "");
    assert_eq!(status, 404);

    // The customer answers and presses 1.
    let callee_port = free_udp_port();
    let callee = sipp(&[
        "-sf",
        "callee.xml",
        "-p",
        &callee_port.to_string(),
        "-mp",
        &(free_udp_port() & !1).to_string(),
    ])
    .spawn()
    .expect("start the callee's sipp");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status_url = format!("http://127.0.0.1:{}/status", hook.port);
    let body = json!({
        "to": format!("sip:+15551230000@127.0.0.1:{callee_port}"),
        "flow": "notify",
        "vars": {"notice_text": "Your parcel arrives tomorrow."},
        "caller_id": "+15550001111",
        "status_url": status_url,
    });
    let (status, v) = api(http_port, "POST", "/calls", &body.to_string());
    assert_eq!(status, 202, "{v}\n{}", ivrd.log_text());
    let id = v["id"].as_str().expect("an id").to_string();
    wait_until("the push call is up", 10, || {
        let (_, v) = api(http_port, "GET", "/calls", "");
        v["calls"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["id"] == id.as_str() && c["state"] == "up" && c["direction"] == "push")
        })
    });
    let (callee_ok, callee_text) = finish(callee, 30);
    assert!(
        callee_ok,
        "the callee got ivrd's BYE:\n{callee_text}\n{}",
        ivrd.log_text()
    );
    let outbox = ivrd.var.join("sms-outbox.jsonl");
    wait_until("the SMS in the outbox", 10, || {
        std::fs::read_to_string(&outbox).is_ok_and(|t| t.contains("Your parcel arrives tomorrow."))
    });
    let sms = std::fs::read_to_string(&outbox).expect("outbox");
    assert!(sms.contains(r#""to":"+15551230000""#), "{sms}");
    wait_until("the status posted", 10, || !hook.requests().is_empty());
    let posted = hook.requests()[0].clone();
    assert!(posted.starts_with("POST /status "), "{posted}");
    let (_, body) = posted.split_once("\r\n\r\n").expect("a body");
    let status: Value = serde_json::from_str(body).expect("status JSON");
    assert_eq!(status["id"], id.as_str());
    assert_eq!(status["result"], "answered", "{status}");
    assert_eq!(status["disposition"], "Completed", "{status}");
    assert!(
        status["ringing_ms"].as_u64().is_some_and(|ms| ms >= 400),
        "{status}"
    );
    assert!(
        status["talking_ms"].as_u64().is_some_and(|ms| ms >= 1000),
        "{status}"
    );
    wait_until("the outcome stored with its status", 10, || {
        let (_, v) = api(http_port, "GET", &format!("/calls/{id}"), "");
        v["result"] == "answered" && v["status_code"] == 200
    });

    // A trunk that never answers: the push fails, and says why.
    let body =
        json!({"to": "+15551230001", "flow": "notify", "trunk": "nowhere", "ring_timeout_s": 2});
    let (status, v) = api(http_port, "POST", "/calls", &body.to_string());
    assert_eq!(status, 202, "{v}");
    let id = v["id"].as_str().expect("an id").to_string();
    wait_until("the trunk push to end", 10, || {
        let (_, v) = api(http_port, "GET", &format!("/calls/{id}"), "");
        v["result"] == "failed"
    });
    let (_, v) = api(http_port, "GET", &format!("/calls/{id}"), "");
    assert_eq!(v["reason"], "no response", "{v}");
    let (_, v) = api(http_port, "GET", "/calls", "");
    let live: Vec<&str> = v["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str())
        .collect();
    // The silent trunk's INVITE lives on until Timer B; the answered call is gone.
    assert_eq!(live, [id.as_str()], "{v}");
}
