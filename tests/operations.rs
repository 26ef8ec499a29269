//! The admin API against a live `ivrd serve` on 127.0.0.1: readiness, the flow list, a flow
//! reload under a SIPp load of 200 calls (no call fails, calls after the reload take the new
//! flow, a broken set is refused with its errors and changes nothing), the SMS outbox listing
//! and its retry refusal, and JSON logs.
//!
//! Needs `sipp` (Debian `sip-tester`); without it the test says so and passes, except under
//! CI. Real processes in real time: it reads the clock and waits.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Ivrd, admin_api, free_tcp_port, free_udp_port, have_sipp, http, root, sipp};

const TOKEN: &str = "operations-admin-token";

/// The demo flow as it becomes after the reload: a start node of its own, so each CDR's path
/// tells which set its call ran.
const NEW_DEMO: &str = r#"
[flow]
start = "fresh"
languages = ["en"]

[nodes.fresh]
type = "play"
prompts = ["welcome"]
next = "bye"

[nodes.bye]
type = "hangup"
"#;

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A config whose flows live in `dir/flows` (a copy of the shipped ones), with SIPp on
/// 127.0.0.1 trusted as a load generator (no per-source setup limit).
fn setup(dir: &Path) -> std::path::PathBuf {
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).expect("flows dir");
    for entry in std::fs::read_dir(root().join("config/flows")).expect("shipped flows") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            std::fs::copy(&path, flows.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    let config = dir.join("ivrd.toml");
    let text = format!(
        "[flows]\ndir = \"{}\"\n[http]\nadmin_token_env = \"IVRD_OPS_ADMIN\"\n\
         [sip.admission]\ntrusted = [\"127.0.0.1\"]\n",
        flows.display()
    );
    std::fs::write(&config, text).expect("config");
    config
}

#[test]
fn flows_reload_under_load_and_the_admin_routes() {
    if !have_sipp("the operations test") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ivrd-ops-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = setup(&dir);
    let port = free_tcp_port();
    let token = ("IVRD_OPS_ADMIN", TOKEN);
    let ivrd = Ivrd::start_admin(&config, port, token, &["--log-format", "json"]);
    let (status, body) = http("GET", port, "/ready", &[], "");
    assert_eq!(status, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(ready["ready"], true);
    let (status, flows) = admin_api(port, TOKEN, "GET", "/flows", "");
    assert_eq!(status, 200);
    assert!(
        flows["flows"]
            .as_array()
            .is_some_and(|f| f.iter().any(|n| n == "demo"))
    );
    assert_eq!(http("GET", port, "/flows", &[], "").0, 401, "admin only");

    // 200 calls at 15 a second, each rung 1 s and held 1 s (about 35 at once: this instance has
    // 99 RTP ports, an even one per call); the reload lands in the middle.
    let load = sipp(&[
        &format!("127.0.0.1:{}", ivrd.port),
        "-sf",
        "basic.xml",
        "-p",
        &free_udp_port().to_string(),
        "-m",
        "200",
        "-r",
        "15",
        "-l",
        "200",
        "-d",
        "1000",
        "-mp",
        &(free_udp_port() & !1).to_string(),
        "-key",
        "rtp_ip",
        "127.0.0.1",
        "-key",
        "rtp_port",
        &free_udp_port().to_string(),
    ])
    .spawn()
    .expect("start sipp");
    std::thread::sleep(Duration::from_millis(5000));
    std::fs::write(dir.join("flows/demo.toml"), NEW_DEMO).expect("new demo");
    let (status, answer) = admin_api(port, TOKEN, "POST", "/flows/reload", "");
    let reloaded_ms = unix_ms();
    assert_eq!(status, 200, "{answer}");
    // A broken file: refused with its errors, the set in use stays.
    std::fs::write(
        dir.join("flows/broken.toml"),
        "[flow]\nstart = \"nowhere\"\n[nodes.a]\ntype = \"play\"\nprompts = [\"no-such-prompt\"]\nnext = \"b\"\n",
    )
    .expect("broken flow");
    let (status, refused) = admin_api(port, TOKEN, "POST", "/flows/reload", "");
    assert_eq!(status, 422, "{refused}");
    let errors = refused["errors"].as_array().cloned().unwrap_or_default();
    assert!(errors.len() >= 2, "every error: {refused}");
    assert!(
        errors
            .iter()
            .all(|e| e.as_str().is_some_and(|e| e.contains("broken.toml")))
    );
    std::fs::remove_file(dir.join("flows/broken.toml")).expect("remove broken");
    let (ok, output) = common::finish(load, 60);
    assert!(ok, "SIPp: calls failed during the reload:\n{output}");

    // Every call has its CDR (the last ones are written a moment after SIPp's last 200 OK,
    // once their media has reported); those that came after the reload ran the new flow.
    let auth = format!("Bearer {TOKEN}");
    let read = || -> Vec<serde_json::Value> {
        let (_, text) = http(
            "GET",
            port,
            "/cdrs?since=0",
            &[("Authorization", &auth)],
            "",
        );
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    common::wait_until("200 CDRs", 10, || read().len() >= 200);
    let cdrs = read();
    assert_eq!(cdrs.len(), 200, "one record per call");
    let first = |c: &serde_json::Value| c["path"][0].as_str().unwrap_or_default().to_string();
    let old = cdrs
        .iter()
        .filter(|c| first(c).starts_with("demo/welcome:"))
        .count();
    let new = cdrs
        .iter()
        .filter(|c| first(c).starts_with("demo/fresh:"))
        .count();
    assert!(old > 0 && new > 0, "old {old}, new {new}");
    for c in &cdrs {
        if c["start_ms"].as_i64().unwrap_or_default() > reloaded_ms + 100 {
            assert!(first(c).starts_with("demo/fresh:"), "after the reload: {c}");
        }
        assert_eq!(c["disposition"], "caller_hung_up", "{c}");
    }
    eprintln!("reload under load: {old} calls on the old flows, {new} on the new");

    // The SMS outbox: a message sent, listed; a live message cannot be retried.
    let (status, _) = common::send_sms(port, TOKEN, "+15551234567", "hello", "ops-1");
    assert_eq!(status, 202);
    common::wait_until("the SMS accepted", 10, || {
        let (_, list) = admin_api(port, TOKEN, "GET", "/sms/outbox?state=accepted", "");
        list["messages"].as_array().is_some_and(|m| m.len() == 1)
    });
    let (_, list) = admin_api(port, TOKEN, "GET", "/sms/outbox", "");
    let id = list["messages"][0]["id"].as_u64().expect("an id");
    let (status, _) = admin_api(port, TOKEN, "POST", &format!("/sms/outbox/{id}/retry"), "");
    assert_eq!(status, 409, "only dead or failed messages are retried");
    let (status, _) = admin_api(port, TOKEN, "GET", "/sms/outbox?state=lost", "");
    assert_eq!(status, 400);
    let (_, dead) = admin_api(port, TOKEN, "GET", "/sms/outbox?state=dead", "");
    assert_eq!(dead["messages"].as_array().map(Vec::len), Some(0));

    // The chat platform reports a chat begun: the funnel's last stage.
    let (status, _) = admin_api(port, TOKEN, "POST", "/deflection/chat-started", "{}");
    assert_eq!(status, 202);
    let (_, metrics) = http("GET", port, "/metrics", &[], "");
    assert!(
        metrics.contains("ivrd_deflection_total{stage=\"chat_started\"} 1"),
        "{metrics}"
    );

    // JSON logs: one object per line, the call's Call-ID a field of its lines.
    let log = ivrd.log_text();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        lines.len() > 100 && lines.len() == log.lines().count(),
        "every line JSON"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "call ended" && l["call_id"].is_string())
    );
}
