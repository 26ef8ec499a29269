//! ivrd as the agents' registrar, end to end: alice has a password and no contact in the queue
//! file. Her phone (SIPp, `agent-register.xml`) REGISTERs with digest authentication, which
//! logs her in with the registered contact (`GET /agents`); a queued SIPp caller then rings her
//! UAS (`agent.xml`) at that contact and is bridged; an unREGISTER logs her out.
//!
//! Needs `sipp` (Debian `sip-tester`); without it the test says so loudly and passes, except
//! under CI (`CI` set), where it fails. Real processes in real time.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{Ivrd, RtpTap, finish, free_tcp_port, free_udp_port, sipp};
use serde_json::Value;

const ADMIN: &str = "agent-register-admin-token";
const PASSWORD: &str = "alice-sip-secret";

fn start(http_port: u16) -> Ivrd {
    let dir = std::env::temp_dir().join(format!("ivrd-register-{http_port}"));
    let alice = format!("password = \"{PASSWORD}\"\nlogged_in = false\n");
    let file = common::queue_file(
        &dir,
        &alice,
        "join_empty = true\nleave_when_empty = false\n",
    );
    let config = dir.join("ivrd.toml");
    let text = format!(
        "[queues]\nfile = \"{}\"\n[http]\nlisten = \"127.0.0.1:{http_port}\"\n\
         admin_token_env = \"IVRD_TEST_ADMIN\"\n",
        file.display()
    );
    std::fs::write(&config, text).expect("config");
    let args = [
        "--config",
        config.to_str().expect("utf-8 path"),
        "--http",
        &format!("127.0.0.1:{http_port}"),
    ];
    Ivrd::start_with_env(&args, &[("IVRD_TEST_ADMIN", ADMIN)])
}

/// The phone REGISTERs alice's UAS at `contact_port` for `expires` s (0: unREGISTER).
fn register(ivrd: &Ivrd, contact_port: u16, expires: u32, password: &str) -> (bool, String) {
    let child = sipp(&[
        &format!("127.0.0.1:{}", ivrd.port),
        "-sf",
        "agent-register.xml",
        "-p",
        &free_udp_port().to_string(),
        "-au",
        "alice",
        "-ap",
        password,
        "-key",
        "user",
        "alice",
        "-key",
        "contact_port",
        &contact_port.to_string(),
        "-key",
        "expires",
        &expires.to_string(),
    ])
    .spawn()
    .expect("start the phone's sipp");
    finish(child, 15)
}

fn alice(http_port: u16) -> Value {
    let (status, v) = common::admin_api(http_port, ADMIN, "GET", "/agents", "");
    assert_eq!(status, 200, "{v}");
    v["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["name"] == "alice"))
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn an_agent_registering_with_digest_is_logged_in_rung_at_that_contact_and_logged_out_by_unregister()
{
    if !common::have_sipp("the registrar test") {
        return;
    }
    let http_port = free_tcp_port();
    let ivrd = start(http_port);
    assert_eq!(alice(http_port)["status"], "logged_out");
    // A wrong password is refused (SIPp sees 403 where it expects 200).
    let agent_port = free_udp_port();
    let (ok, text) = register(&ivrd, agent_port, 600, "not-her-password");
    assert!(!ok, "a wrong password registered:\n{text}");
    assert_eq!(alice(http_port)["status"], "logged_out");
    let agent = common::start_agent("agent.xml", agent_port, &[]);
    let (ok, text) = register(&ivrd, agent_port, 600, PASSWORD);
    assert!(ok, "REGISTER:\n{text}\n{}", ivrd.log_text());
    let a = alice(http_port);
    assert_eq!(
        (a["status"].as_str(), a["registered"].as_bool()),
        (Some("available"), Some(true)),
        "{a}"
    );
    assert_eq!(
        a["contact"],
        format!("sip:alice@127.0.0.1:{agent_port}"),
        "{a}"
    );
    let tap = RtpTap::start();
    let call_id = format!("register-{}@127.0.0.1", std::process::id());
    let caller = common::sipp_caller(&ivrd, "basic.xml", "500", 9000, tap.port, &call_id);
    let _ = tap.finish();
    let log = ivrd.log_text();
    assert!(caller.status.success(), "caller: {caller:?}\n{log}");
    let (agent_ok, agent_text) = finish(agent, 20);
    assert!(agent_ok, "agent:\n{agent_text}\n{log}");
    assert!(log.contains("bridged to an agent"), "{log}");
    assert_eq!(alice(http_port)["calls"], 1);
    let (ok, text) = register(&ivrd, agent_port, 0, PASSWORD);
    assert!(ok, "unREGISTER:\n{text}");
    let a = alice(http_port);
    assert_eq!(
        (a["status"].as_str(), a["registered"].as_bool()),
        (Some("logged_out"), Some(false)),
        "{a}"
    );
}
