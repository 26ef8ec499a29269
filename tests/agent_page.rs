//! The agent's page in headless Chromium (Debian `chromium`, driven by playwright-core from
//! npm in `target/browser`): the page is open when a queued caller who allowed the wait-time
//! SMS and replied to it is offered to the agent; the ticket appears the moment the agent's
//! phone rings, with the reply under the "SMS received" banner.
//!
//! Needs sipp, chromium and `target/browser/node_modules/playwright-core` (`.ci/run` installs
//! them); without them the test says so loudly and passes, except under CI, where it fails.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Ivrd, free_tcp_port, free_udp_port, http, root, wait_until};

const ADMIN: &str = "agent-page-admin-token";

#[test]
fn the_ticket_appears_on_the_agents_page_when_their_phone_rings_with_the_sms_reply() {
    if !common::have_sipp("the agent page test") || !common::have_browser("the agent page test") {
        return;
    }
    let (http_port, agent_port) = (free_tcp_port(), free_udp_port());
    let dir = std::env::temp_dir().join(format!("ivrd-agent-page-{agent_port}"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let alice = format!("contact = \"sip:alice@127.0.0.1:{agent_port}\"\nlogged_in = false\n");
    let support = "join_empty = true\nleave_when_empty = false\n";
    common::queue_file(&dir, &alice, support);
    let config = dir.join("ivrd.toml");
    let text = format!(
        "[queues]\nfile = \"{}\"\n[http]\nadmin_token_env = \"IVRD_TEST_ADMIN\"\n",
        dir.join("queues.toml").display()
    );
    std::fs::write(&config, text).expect("config");
    let ivrd = Ivrd::start_admin(&config, http_port, ("IVRD_TEST_ADMIN", ADMIN), &[]);
    // The page first, listening. The script runs from beside its node_modules (ES modules
    // resolve packages from the script's own directory).
    // The page opens with alice's key only (the admin hands out the link).
    assert_eq!(http("GET", http_port, "/agents/alice", &[], "").0, 401);
    assert_eq!(
        http("GET", http_port, "/agents/alice/events", &[], "").0,
        401
    );
    let wrong = http("GET", http_port, "/agents/alice?key=00", &[], "").0;
    assert_eq!(wrong, 401, "a wrong key");
    let (status, link) = common::admin_api(http_port, ADMIN, "GET", "/agents/alice/link", "");
    assert_eq!(status, 200);
    let url = link["url"].as_str().expect("the link").to_string();
    let (_, bob) = common::admin_api(http_port, ADMIN, "GET", "/agents/bob/link", "");
    let bobs_key = bob["url"]
        .as_str()
        .and_then(|u| u.split("key=").nth(1))
        .unwrap_or("");
    let cookie = format!("ivrd_agent={bobs_key}");
    let other = http(
        "GET",
        http_port,
        "/agents/alice/events",
        &[("Cookie", &cookie)],
        "",
    )
    .0;
    assert_eq!(other, 401, "bob's key does not open alice's tickets");
    let script = root().join("target/browser/agent-page.mjs");
    std::fs::copy(root().join("tests/browser/agent-page.mjs"), &script).expect("copy the script");
    let mut browser = Command::new("node")
        .current_dir(root().join("target/browser"))
        .arg(&script)
        .args([
            &format!("http://127.0.0.1:{http_port}{url}"),
            "Photo of the router attached",
            "60000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let mut lines = BufReader::new(browser.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    if !first.contains("ready") {
        let _ = browser.kill();
        let out = browser.wait_with_output().expect("node output");
        panic!(
            "the page did not open: {first}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A caller allows the SMS (1 by INFO) and replies to it.
    let caller = common::queued_caller(
        &ivrd,
        "queue-sms.xml",
        free_udp_port(),
        free_udp_port(),
        &["-d", "12000"],
    )
    .spawn()
    .expect("start the caller's sipp");
    let outbox = ivrd.var.join("sms-outbox.jsonl");
    wait_until("the wait-time SMS", 20, || {
        std::fs::read_to_string(&outbox).is_ok_and(|t| t.contains("wait_time_sms"))
    });
    let mo = "/sms/http/mo?from=%2B15551230000&to=12345&text=Photo+of+the+router+attached";
    assert_eq!(http("GET", http_port, mo, &[], "").0, 200);
    // The agent logs in and is rung: the page shows the ticket.
    let agent = common::start_agent("agent.xml", agent_port, &[]);
    let login = r#"{"status": "available"}"#;
    let (status, body) = common::admin_api(http_port, ADMIN, "POST", "/agents/alice/status", login);
    assert_eq!(status, 200, "{body}");
    let shown = lines.next().and_then(Result::ok).unwrap_or_default();
    let _ = browser.wait();
    let _ = common::finish(caller, 30);
    let _ = common::finish(agent, 20);
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap_or_default();
    assert!(v.get("error").is_none(), "{shown}\n{}", ivrd.log_text());
    assert_eq!(v["caller"], "+15551230000", "{shown}");
    assert_eq!(v["queue"], "support", "{shown}");
    assert_eq!(v["consent"], "allowed", "{shown}");
    assert_eq!(v["banner"], true, "the SMS banner: {shown}");
    assert_eq!(v["replies"][0], "Photo of the router attached", "{shown}");
    assert!(
        v["state"]
            .as_str()
            .is_some_and(|s| s.starts_with("Ringing")),
        "{shown}"
    );
}
