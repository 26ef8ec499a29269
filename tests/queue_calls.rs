//! A queue end to end: SIPp calls the shipped `queue` flow (number 500), waits with music, and
//! a SIPp agent (`agent.xml`, PCMA, playing 1 5 9) is rung by the queue and bridged; a second
//! run with every agent away takes the flow's `no_agents` branch.
//!
//! Needs `sipp` (Debian `sip-tester`); without it the test says so loudly and passes, except
//! under CI (`CI` set), where it fails. Real processes in real time.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use common::{Ivrd, RtpTap, finish, free_udp_port, sipp};

/// ivrd with the shipped flows and a queue file whose one agent is at `agent_port`.
fn start(agent_port: u16, logged_in: bool) -> Ivrd {
    let dir = std::env::temp_dir().join(format!("ivrd-queue-{}-{agent_port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let shipped =
        std::fs::read_to_string(common::root().join("config/queues.toml")).expect("queues");
    let queues = shipped
        .replace(
            "sip:alice@127.0.0.1:5071",
            &format!("sip:alice@127.0.0.1:{agent_port}"),
        )
        .replace(
            "queues = { support = 0 }\n",
            "queues = { support = 0 }\nlogged_in = false\n",
        )
        .replace(
            "wrap_up_s = 10\n",
            &format!("wrap_up_s = 10\nlogged_in = {logged_in}\n"),
        );
    let file = dir.join("queues.toml");
    std::fs::write(&file, queues).expect("queue file");
    let config = dir.join("ivrd.toml");
    std::fs::write(
        &config,
        format!("[queues]\nfile = \"{}\"\n", file.display()),
    )
    .expect("config");
    Ivrd::start_with(&["--config", config.to_str().expect("utf-8 path")])
}

fn call_500(ivrd: &Ivrd, hold_ms: u32, tap: &RtpTap, call_id: &str) -> std::process::Output {
    sipp(&[
        &format!("127.0.0.1:{}", ivrd.port),
        "-sf",
        "basic.xml",
        "-s",
        "500",
        "-p",
        &free_udp_port().to_string(),
        "-mp",
        &(free_udp_port() & !1).to_string(),
        "-d",
        &hold_ms.to_string(),
        "-key",
        "rtp_ip",
        "127.0.0.1",
        "-key",
        "rtp_port",
        &tap.port.to_string(),
        "-cid_str",
        call_id,
    ])
    .output()
    .expect("run the caller's sipp")
}

#[test]
fn a_caller_waits_in_the_queue_and_is_bridged_to_the_agent_it_rings() {
    if !common::have_sipp("the queue test") {
        return;
    }
    let agent_port = free_udp_port();
    let ivrd = start(agent_port, true);
    let agent = sipp(&[
        "-sf",
        "agent.xml",
        "-p",
        &agent_port.to_string(),
        "-mp",
        &(free_udp_port() & !1).to_string(),
    ])
    .spawn()
    .expect("start the agent's sipp");
    std::thread::sleep(Duration::from_millis(300));
    let tap = RtpTap::start();
    let call_id = format!("queue-{}@127.0.0.1", std::process::id());
    let caller = call_500(&ivrd, 9000, &tap, &call_id);
    let (agent_ok, agent_text) = finish(agent, 20);
    let packets = tap.finish();
    let log = ivrd.log_text();
    assert!(
        caller.status.success(),
        "caller:\n{}\n{log}",
        String::from_utf8_lossy(&caller.stdout)
    );
    assert!(agent_ok, "the agent got ivrd's BYE:\n{agent_text}\n{log}");
    let lines = ivrd.call_lines(&call_id).join("\n");
    assert!(lines.contains("prompts=queue-welcome"), "{lines}");
    assert!(log.contains("queued"), "{log}");
    assert!(log.contains("bridged to an agent"), "{log}");
    assert!(
        lines.contains("wait:bridged alice") || log.contains("bridged alice"),
        "{lines}"
    );
    let far: String = log
        .lines()
        .filter(|l| l.contains("digit from the far side"))
        .filter_map(|l| l.split(" key=").nth(1)?.chars().next())
        .collect();
    assert!(
        far.starts_with("159"),
        "ivrd heard {far:?} from the agent:\n{log}"
    );
    assert!(
        packets.len() > 200,
        "the caller got RTP throughout ({} packets)",
        packets.len()
    );
}

#[test]
fn with_every_agent_away_the_caller_takes_the_no_agents_branch() {
    if !common::have_sipp("the queue test") {
        return;
    }
    let ivrd = start(free_udp_port(), false);
    let tap = RtpTap::start();
    let call_id = format!("queue-empty-{}@127.0.0.1", std::process::id());
    let caller = sipp(&[
        &format!("127.0.0.1:{}", ivrd.port),
        "-sf",
        "until-bye.xml",
        "-s",
        "500",
        "-p",
        &free_udp_port().to_string(),
        "-key",
        "rtp_ip",
        "127.0.0.1",
        "-key",
        "rtp_port",
        &tap.port.to_string(),
        "-cid_str",
        &call_id,
    ])
    .output()
    .expect("run the caller's sipp");
    let _ = tap.finish();
    let log = ivrd.log_text();
    assert!(
        caller.status.success(),
        "caller:\n{}\n{log}",
        String::from_utf8_lossy(&caller.stdout)
    );
    let lines = ivrd.call_lines(&call_id).join("\n");
    assert!(lines.contains("prompts=queue-closed,goodbye"), "{lines}");
    assert!(
        lines.contains("wait:no_agents") || lines.contains("no_agents"),
        "{lines}"
    );
}
