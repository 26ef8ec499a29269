//! A caller bridged to an agent through ivrd, end to end: SIPp calls the shipped `dial` flow
//! (number 400, PCMU) and a second SIPp stands in for the agent (PCMA), playing in-band digits.
//! The agent's audio must reach the caller transcoded (the caller's recording decodes to the
//! same digits), ivrd must hear the agent's digits on the agent's leg, and the caller's BYE
//! must end the agent's call. The busy agent gets the flow's `unavailable` branch.
//!
//! Needs `sipp` (Debian `sip-tester`); without it the test says so loudly and passes, except
//! under CI (`CI` set), where it fails. Real processes in real time.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use common::{Arrival, Ivrd, RtpTap, finish, free_udp_port, root, sipp, start_agent};
use dtmf_detector::{DtmfDetector, Event as DtmfEvent, SampleRate};

/// The caller: SIPp's `scenario` dialling number 400, ivrd's RTP recorded by `tap`, holding
/// The caller: SIPp's `scenario` dialling number 400, ivrd's RTP recorded by `tap`.
fn call_400(
    ivrd: &Ivrd,
    scenario: &str,
    hold_ms: u32,
    tap: &RtpTap,
    call_id: &str,
) -> std::process::Output {
    common::sipp_caller(ivrd, scenario, "400", hold_ms, tap.port, call_id)
}

/// The digits in what the caller received (PCMU).
fn digits_heard(packets: &[Arrival]) -> String {
    let mut detector = DtmfDetector::with_rate(SampleRate::Narrowband);
    let mut digits = String::new();
    for (_, p) in packets {
        if p.len() <= 12 || p[1] & 0x7f != 0 {
            continue;
        }
        let pcm: Vec<i16> = p[12..]
            .iter()
            .map(|&c| media::Law::Ulaw.decode(c))
            .collect();
        detector.handle_samples(&pcm);
        while let Some(event) = detector.poll_event() {
            if let DtmfEvent::Pressed { digit, .. } = event {
                digits.push(digit.to_char());
            }
        }
    }
    digits
}

/// A config whose flows are the shipped ones with `edits` made to their text, plus `extra`.
fn flows_config(name: &str, edits: &[(&str, &str)], extra: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ivrd-{name}-{}", std::process::id()));
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).expect("temp dir");
    for entry in std::fs::read_dir(root().join("config/flows")).expect("flows") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let mut text = std::fs::read_to_string(&path).expect("flow");
            for (from, to) in edits {
                text = text.replace(from, to);
            }
            std::fs::write(flows.join(path.file_name().expect("name")), text).expect("copy");
        }
    }
    let config = dir.join("ivrd.toml");
    std::fs::write(
        &config,
        format!("[flows]\ndir = \"{}\"\n\n{extra}", flows.display()),
    )
    .expect("config");
    config
}

fn start_ivrd(agent_port: u16) -> Ivrd {
    let dir = std::env::temp_dir().join(format!("ivrd-bridge-{}-{agent_port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("ivrd.toml");
    std::fs::write(
        &config,
        format!("[flows.vars]\nagent = \"sip:agent@127.0.0.1:{agent_port}\"\n"),
    )
    .expect("config");
    Ivrd::start_with(&["--config", config.to_str().expect("utf-8 path")])
}

#[test]
fn a_pcmu_caller_is_bridged_to_a_pcma_agent_and_hears_it() {
    if !common::have_sipp("the bridge test") {
        return;
    }
    let agent_port = free_udp_port();
    let ivrd = start_ivrd(agent_port);
    let agent = start_agent("agent.xml", agent_port, &[]);
    let tap = RtpTap::start();
    let call_id = format!("bridge-{}@127.0.0.1", std::process::id());
    let caller = call_400(&ivrd, "basic.xml", 6000, &tap, &call_id);
    let caller_text = String::from_utf8_lossy(&caller.stdout).into_owned();
    let (agent_ok, agent_text) = finish(agent, 20);
    std::thread::sleep(Duration::from_millis(300));
    let packets = tap.finish();
    let log = ivrd.log_text();
    assert!(caller.status.success(), "caller:\n{caller_text}\n{log}");
    assert!(agent_ok, "the agent got ivrd's BYE:\n{agent_text}\n{log}");
    assert!(log.contains(" bridged "), "{log}");
    let heard = digits_heard(&packets);
    assert!(
        heard.contains("159"),
        "the caller heard {heard:?} of the agent's 1 5 9 ({} packets)",
        packets.len()
    );
    let far = common::far_digits(&log);
    assert!(
        far.starts_with("159"),
        "ivrd heard {far:?} from the agent:\n{log}"
    );
    let trace = ivrd.call_lines(&call_id).join("\n");
    assert!(trace.contains("answered sip:agent@127.0.0.1"), "{trace}");
}

/// The other way: the caller speaks (in-band 1 5 9, PCMU) while bridged to an agent that echoes
/// (PCMA, SIPp's `-rtp_echo`). ivrd hears the caller's digits on the caller's leg, the agent's
/// echo of them on the agent's leg, and the caller hears its digits back: audio went through
/// ivrd both ways, transcoded each way.
#[test]
fn the_callers_audio_reaches_the_agent_and_the_agents_echo_comes_back() {
    if !common::have_sipp("the bridge test") {
        return;
    }
    let agent_port = free_udp_port();
    let ivrd = start_ivrd(agent_port);
    let agent = start_agent("agent-echo.xml", agent_port, &["-rtp_echo"]);
    let digits = std::fs::read(root().join("tests/sipp/dtmf-159.ulaw")).expect("audio");
    // Answered after 1 s, "transferring", the agent answers: bridged well within 3.5 s.
    let tap = RtpTap::talking(digits, 0, Duration::from_millis(3500));
    let call_id = format!("echo-{}@127.0.0.1", std::process::id());
    let caller = call_400(&ivrd, "basic.xml", 7000, &tap, &call_id);
    let (agent_ok, agent_text) = finish(agent, 20);
    std::thread::sleep(Duration::from_millis(300));
    let packets = tap.finish();
    let log = ivrd.log_text();
    assert!(
        caller.status.success(),
        "caller:\n{}\n{log}",
        String::from_utf8_lossy(&caller.stdout)
    );
    assert!(agent_ok, "agent:\n{agent_text}\n{log}");
    let caller_digits: String = ivrd
        .call_lines(&call_id)
        .iter()
        .filter(|l| l.contains(" digit ") && !l.contains("far side"))
        .filter_map(|l| l.split(" key=").nth(1)?.chars().next())
        .collect();
    assert!(
        caller_digits.starts_with("159"),
        "ivrd heard {caller_digits:?} from the caller:\n{log}"
    );
    let far = common::far_digits(&log);
    assert!(
        far.starts_with("159"),
        "ivrd heard {far:?} from the agent (the echo):\n{log}"
    );
    let heard = digits_heard(&packets);
    assert!(
        heard.contains("159"),
        "the caller heard {heard:?} back ({} packets)",
        packets.len()
    );
}

/// A busy agent (486): the dial node's `busy` branch plays "transfer failed" and goodbye, and
/// ivrd hangs up on the caller; the 486 is acknowledged.
#[test]
fn a_busy_agent_takes_the_busy_branch() {
    if !common::have_sipp("the bridge test") {
        return;
    }
    let agent_port = free_udp_port();
    let ivrd = start_ivrd(agent_port);
    let agent = start_agent("agent-busy.xml", agent_port, &[]);
    let tap = RtpTap::start();
    let call_id = format!("busy-{}@127.0.0.1", std::process::id());
    let caller = call_400(&ivrd, "until-bye.xml", 0, &tap, &call_id);
    let (agent_ok, agent_text) = finish(agent, 20);
    let _ = tap.finish();
    let log = ivrd.log_text();
    assert!(
        caller.status.success(),
        "caller:\n{}\n{log}",
        String::from_utf8_lossy(&caller.stdout)
    );
    assert!(agent_ok, "agent:\n{agent_text}");
    let trace = ivrd.call_lines(&call_id).join("\n");
    assert!(trace.contains("dial/agent:busy"), "{trace}");
    assert!(trace.contains("prompts=transfer-failed,goodbye"), "{trace}");
}

/// The agent hangs up first: the bridge ends, the flow goes on with the caller (goodbye), and
/// ivrd hangs up on the caller.
#[test]
fn the_agent_hanging_up_returns_the_caller_to_the_flow() {
    if !common::have_sipp("the bridge test") {
        return;
    }
    let agent_port = free_udp_port();
    let ivrd = start_ivrd(agent_port);
    let agent = start_agent("agent-hangs-up.xml", agent_port, &["-d", "2000"]);
    let tap = RtpTap::start();
    let call_id = format!("agent-bye-{}@127.0.0.1", std::process::id());
    let caller = call_400(&ivrd, "until-bye.xml", 0, &tap, &call_id);
    let (agent_ok, agent_text) = finish(agent, 20);
    let _ = tap.finish();
    let log = ivrd.log_text();
    assert!(agent_ok, "agent:\n{agent_text}\n{log}");
    assert!(
        caller.status.success(),
        "caller:\n{}\n{log}",
        String::from_utf8_lossy(&caller.stdout)
    );
    let trace = ivrd.call_lines(&call_id).join("\n");
    assert!(trace.contains("dial/agent:bridge_ended"), "{trace}");
    assert!(trace.contains("prompts=goodbye"), "{trace}");
    assert!(trace.contains("disposition=Completed"), "{trace}");
}

/// Nobody answers: at the ring timeout (2 s here) ivrd cancels the agent's call (the agent
/// answers the CANCEL and 487s the INVITE), and the flow takes its `no_answer` branch.
#[test]
fn no_answer_is_cancelled_at_the_ring_timeout() {
    if !common::have_sipp("the bridge test") {
        return;
    }
    let agent_port = free_udp_port();
    let config = flows_config(
        "noanswer",
        &[("ring_timeout_s = 20", "ring_timeout_s = 2")],
        &format!("[flows.vars]\nagent = \"sip:agent@127.0.0.1:{agent_port}\"\n"),
    );
    let ivrd = Ivrd::start_with(&["--config", config.to_str().expect("utf-8 path")]);
    let agent = start_agent("agent-no-answer.xml", agent_port, &[]);
    let tap = RtpTap::start();
    let call_id = format!("noanswer-{}@127.0.0.1", std::process::id());
    let caller = call_400(&ivrd, "until-bye.xml", 0, &tap, &call_id);
    let (agent_ok, agent_text) = finish(agent, 20);
    let _ = tap.finish();
    let log = ivrd.log_text();
    assert!(agent_ok, "agent:\n{agent_text}\n{log}");
    assert!(caller.status.success(), "caller:\n{log}");
    let trace = ivrd.call_lines(&call_id).join("\n");
    assert!(trace.contains("dial/agent:no_answer"), "{trace}");
}

/// A trunk that challenges: ivrd answers with digest credentials (the trunk's username and
/// the password from its environment variable) and the call goes through; an E.164 target is
/// sent as `sip:+number@` the trunk. With 401 SIPp's own verifyauth checks the answer; with
/// 407 (which verifyauth does not read) the test checks the response from SIPp's log, computed
/// here by RFC 2617's formula.
#[test]
fn a_trunks_401_and_407_are_answered_with_digest_credentials() {
    if !common::have_sipp("the bridge test") {
        return;
    }
    for scenario in ["agent-auth.xml", "agent-proxy-auth.xml"] {
        let trunk_port = free_udp_port();
        let config = flows_config(
            &format!("digest-{trunk_port}"),
            &[(
                "to = [\"{agent}\"]",
                "to = [\"+15557654321\"]\ntrunk = \"pbx\"",
            )],
            &format!(
                "[trunks.pbx]\nproxy = \"127.0.0.1:{trunk_port}\"\nusername = \"ivrd\"\n\
                 password_env = \"IVRD_TEST_TRUNK_PASSWORD\"\n"
            ),
        );
        let ivrd = Ivrd::start_with_env(
            &["--config", config.to_str().expect("utf-8 path")],
            &[("IVRD_TEST_TRUNK_PASSWORD", "secret")],
        );
        let log_file = std::env::temp_dir().join(format!("ivrd-trunk-{trunk_port}.log"));
        let trunk = sipp(&[
            "-sf",
            scenario,
            "-p",
            &trunk_port.to_string(),
            "-mp",
            &(free_udp_port() & !1).to_string(),
            "-trace_logs",
            "-log_file",
            log_file.to_str().expect("utf-8 path"),
        ])
        .spawn()
        .expect("start the trunk's sipp");
        std::thread::sleep(Duration::from_millis(300));
        let tap = RtpTap::start();
        let call_id = format!("digest-{trunk_port}@127.0.0.1");
        let caller = call_400(&ivrd, "basic.xml", 5000, &tap, &call_id);
        let (trunk_ok, trunk_text) = finish(trunk, 20);
        let _ = tap.finish();
        let log = ivrd.log_text();
        assert!(trunk_ok, "{scenario}:\n{trunk_text}\n{log}");
        assert!(caller.status.success(), "caller:\n{log}");
        let trace = ivrd.call_lines(&call_id).join("\n");
        assert!(trace.contains("answered +15557654321"), "{trace}");
        if scenario == "agent-proxy-auth.xml" {
            let logged = std::fs::read_to_string(&log_file).unwrap_or_default();
            let field = |name: &str| {
                logged
                    .split(&format!("{name}=\""))
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .unwrap_or_default()
                    .to_string()
            };
            let hex = |s: String| {
                use md5::{Digest, Md5};
                Md5::digest(s.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            };
            let ha1 = hex("ivrd:pbx.example:secret".into());
            let ha2 = hex(format!("INVITE:{}", field("uri")));
            let expected = hex(format!("{ha1}:ivrd-test-nonce-1:{ha2}"));
            assert_eq!(field("response"), expected, "{logged}");
        }
    }
}
