//! The dashboard in headless Chromium (Debian `chromium`, driven by playwright-core from npm in
//! `target/browser`) against a live `ivrd serve`: opened with the admin token (which becomes a
//! cookie and leaves the address bar), it shows a SIPp call while the call lasts, with its flow
//! node and duration, and drops it when the call ends. A screenshot is written to
//! `target/dashboard.png`. Without the token the page and its events are refused.
//!
//! Needs sipp, chromium and playwright-core (`.ci/run` installs them); without them the test
//! says so loudly and passes, except under CI, where it fails.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Ivrd, free_tcp_port, free_udp_port, http, root};

const ADMIN: &str = "dashboard-admin-token";

#[test]
fn a_call_appears_on_the_dashboard_while_it_lasts_and_leaves_when_it_ends() {
    if !common::have_sipp("the dashboard test") || !common::have_browser("the dashboard test") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ivrd-dashboard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("ivrd.toml");
    std::fs::write(&config, "[http]\nadmin_token_env = \"IVRD_TEST_ADMIN\"\n").expect("config");
    let port = free_tcp_port();
    let ivrd = Ivrd::start_admin(&config, port, ("IVRD_TEST_ADMIN", ADMIN), &[]);
    // Without the token: the login form, and no events.
    let (status, body) = http("GET", port, "/", &[], "");
    assert_eq!(status, 401);
    assert!(body.contains("Admin token"), "{body}");
    assert_eq!(http("GET", port, "/dashboard/events", &[], "").0, 401);
    assert_eq!(
        http("GET", port, "/", &[("Cookie", "ivrd_admin=wrong")], "").0,
        401
    );

    let call_id = format!("dashboard-{}@127.0.0.1", std::process::id());
    let script = root().join("target/browser/dashboard.mjs");
    std::fs::copy(root().join("tests/browser/dashboard.mjs"), &script).expect("copy the script");
    let screenshot = root().join("target/dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let mut browser = Command::new("node")
        .current_dir(root().join("target/browser"))
        .arg(&script)
        .arg(format!("http://127.0.0.1:{port}/?token={ADMIN}"))
        .arg(&call_id)
        .arg("20000")
        .arg(&screenshot)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let mut lines = BufReader::new(browser.stdout.take().expect("stdout")).lines();
    let mut next = |what: &str| -> serde_json::Value {
        let line = lines.next().and_then(Result::ok).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        assert!(
            v.get("error").is_none() && !line.is_empty(),
            "{what}: {line}"
        );
        v
    };
    let ready = next("the page");
    assert_eq!(
        ready["address"].as_str(),
        Some(format!("http://127.0.0.1:{port}/").as_str()),
        "the token left the address bar"
    );

    // A 4 s call: the demo's welcome plays the while.
    let caller = common::caller(
        &ivrd,
        "basic.xml",
        "service",
        4000,
        free_udp_port(),
        &call_id,
    )
    .spawn()
    .expect("start sipp");
    let seen = next("the call on the page");
    let cells: Vec<String> = serde_json::from_value(seen["cells"].clone()).unwrap_or_default();
    assert_eq!(cells.first(), Some(&call_id), "{seen}");
    assert_eq!(cells.get(1).map(String::as_str), Some("inbound"));
    assert_eq!(cells.get(2).map(String::as_str), Some("up"));
    assert!(
        cells.get(3).is_some_and(|n| n.starts_with("demo/")),
        "{seen}"
    );
    assert_eq!(seen["live"], "1");
    let gone = next("the call leaving the page");
    assert_eq!(gone["live"], "0");
    let (ok, output) = common::finish(caller, 20);
    assert!(ok, "{output}");
    let _ = browser.wait();
    let png = std::fs::read(&screenshot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
}
