//! A queue end to end: SIPp calls the shipped `queue` flow (number 500), waits with music, and
//! a SIPp agent (`agent.xml`, PCMA, playing 1 5 9) is rung by the queue and bridged; a second
//! run with every agent away takes the flow's `no_agents` branch.
//!
//! Needs `sipp` (Debian `sip-tester`); without it the test says so loudly and passes, except
//! under CI (`CI` set), where it fails. Real processes in real time.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use common::{HttpHook, Ivrd, RtpTap, finish, free_tcp_port, free_udp_port, sipp, wait_until};
use serde_json::Value;

/// ivrd with the shipped flows and a queue file whose one agent is at `agent_port`.
fn start(agent_port: u16, logged_in: bool) -> Ivrd {
    start_with(agent_port, logged_in, "", "", &[])
}

/// As [`start`], with `support` lines for `[queues.support]`, `extra` config, and environment.
fn start_with(
    agent_port: u16,
    logged_in: bool,
    support: &str,
    extra: &str,
    env: &[(&str, &str)],
) -> Ivrd {
    let dir = std::env::temp_dir().join(format!("ivrd-queue-{}-{agent_port}", std::process::id()));
    let alice =
        format!("contact = \"sip:alice@127.0.0.1:{agent_port}\"\nlogged_in = {logged_in}\n");
    let file = common::queue_file(&dir, &alice, support);
    let config = dir.join("ivrd.toml");
    let text = format!("[queues]\nfile = \"{}\"\n{extra}", file.display());
    std::fs::write(&config, text).expect("config");
    let mut args = vec![
        "--config".to_string(),
        config.to_str().expect("utf-8 path").to_string(),
    ];
    if extra.contains("[http]") {
        args.extend([
            "--http".to_string(),
            format!("127.0.0.1:{}", http_port_of(extra)),
        ]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Ivrd::start_with_env(&args, env)
}

fn call_500(ivrd: &Ivrd, hold_ms: u32, tap: &RtpTap, call_id: &str) -> std::process::Output {
    common::sipp_caller(ivrd, "basic.xml", "500", hold_ms, tap.port, call_id)
}

#[test]
fn a_caller_waits_in_the_queue_and_is_bridged_to_the_agent_it_rings() {
    if !common::have_sipp("the queue test") {
        return;
    }
    let agent_port = free_udp_port();
    let ivrd = start(agent_port, true);
    let agent = common::start_agent("agent.xml", agent_port, &[]);
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
    let far = common::far_digits(&log);
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

/// The port in a `listen = "127.0.0.1:PORT"` line of `extra`.
fn http_port_of(extra: &str) -> u16 {
    extra
        .lines()
        .find_map(|l| {
            l.strip_prefix("listen = \"127.0.0.1:")?
                .strip_suffix('"')?
                .parse()
                .ok()
        })
        .expect("an [http] listen line")
}

const ADMIN: &str = "queue-test-admin-token";

fn api(port: u16, method: &str, path: &str, body: &str) -> (u16, Value) {
    common::admin_api(port, ADMIN, method, path, body)
}

/// The wait-time SMS, end to end: the caller waits with no agent logged in, allows the SMS (1
/// by INFO during the offer), the SMS is in the outbox, the caller's reply arrives (the HTTP
/// gateway's inbound route); then the agent logs in through the API and is rung: the signed
/// webhook carries the ticket with the reply, the API has it, and the queue's statistics count
/// the call with the estimated wait's error.
#[test]
fn a_waiting_callers_sms_reply_is_in_the_ticket_the_agent_gets() {
    if !common::have_sipp("the queue test") || !common::kannel::have_kannel("the queue SMS test") {
        return;
    }
    let hook = HttpHook::start("{}");
    let http_port = free_tcp_port();
    let agent_port = free_udp_port();
    let dir = std::env::temp_dir().join(format!("ivrd-queue-kannel-{agent_port}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut kannel = common::kannel::Kannel::start(&dir, http_port);
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{http_port}\"\nadmin_token_env = \"IVRD_TEST_ADMIN\"\n\
         [tickets]\nwebhook_url = \"http://127.0.0.1:{}/tickets\"\nwebhook_secret_env = \"IVRD_TEST_HOOK\"\n\
         [sms]\nprovider = \"kannel\"\ncountry = \"US\"\nallowed_prefixes = [\"+1\"]\n\
         callback_base = \"http://127.0.0.1:{http_port}\"\n\
         [sms.kannel]\nsendsms_url = \"http://127.0.0.1:{}/cgi-bin/sendsms\"\n\
         username = \"ivrd\"\npassword_env = \"IVRD_TEST_KANNEL_PW\"\nfrom = \"12345\"\n",
        hook.port, kannel.sendsms_port
    );
    let env = [
        ("IVRD_TEST_ADMIN", ADMIN),
        ("IVRD_TEST_HOOK", "hook-secret"),
        ("IVRD_TEST_KANNEL_PW", "sendpw"),
    ];
    let support = "join_empty = true\nleave_when_empty = false\n";
    let ivrd = start_with(agent_port, false, support, &extra, &env);
    let tap = RtpTap::start();
    let call_id = format!("queue-sms-{}@127.0.0.1", std::process::id());
    let caller = sipp(&[
        &format!("127.0.0.1:{}", ivrd.port),
        "-sf",
        "queue-sms.xml",
        "-s",
        "500",
        "-p",
        &free_udp_port().to_string(),
        "-d",
        "16000",
        "-key",
        "ani",
        "+15551230000",
        "-key",
        "rtp_ip",
        "127.0.0.1",
        "-key",
        "rtp_port",
        &tap.port.to_string(),
        "-cid_str",
        &call_id,
    ])
    .spawn()
    .expect("start the caller's sipp");
    // The SMS reaches the handset through Kannel; the handset answers through Kannel too.
    let deadline = std::time::Instant::now() + Duration::from_secs(25);
    while !kannel
        .received()
        .iter()
        .any(|m| m.starts_with("12345 +15551230000 text You are waiting in our support queue"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no wait-time SMS at the handset ({:?}):\n{}",
            kannel.received(),
            ivrd.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    kannel.phone_sends("+15551230000", "My router blinks red");
    wait_until("the reply in the ticket", 15, || {
        let (_, v) = api(http_port, "GET", "/tickets?queue=support", "");
        v["tickets"][0]["sms_replies"][0]["text"] == "My router blinks red"
    });
    let agent = common::start_agent("agent.xml", agent_port, &[]);
    let (status, v) = api(
        http_port,
        "POST",
        "/agents/alice/status",
        r#"{"status": "available"}"#,
    );
    assert_eq!(status, 200, "{v}");
    wait_until("the ticket webhook", 10, || !hook.requests().is_empty());
    let posted = hook.requests()[0].clone();
    let (head, body) = posted.split_once("\r\n\r\n").expect("a body");
    let signature = head
        .lines()
        .find_map(|l| l.strip_prefix("x-ivrd-signature: "))
        .expect("signed");
    use hmac::{KeyInit, Mac};
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(b"hook-secret").expect("key");
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(signature, format!("sha256={hex}"));
    let ticket: Value = serde_json::from_str(body).expect("ticket JSON");
    assert_eq!(ticket["event"], "offered");
    assert_eq!(ticket["offered_to"], "alice");
    assert_eq!(ticket["caller"], "+15551230000");
    assert_eq!(ticket["wait_time_sms"], "allowed", "{ticket}");
    assert_eq!(
        ticket["sms_replies"][0]["text"], "My router blinks red",
        "{ticket}"
    );
    let (caller_ok, caller_text) = finish(caller, 40);
    let (agent_ok, agent_text) = finish(agent, 20);
    let _ = tap.finish();
    let log = ivrd.log_text();
    assert!(caller_ok, "caller:\n{caller_text}\n{log}");
    assert!(agent_ok, "agent:\n{agent_text}\n{log}");
    let id = ticket["id"].as_str().expect("an id");
    let (_, t) = api(http_port, "GET", &format!("/tickets/{id}"), "");
    assert_eq!(
        (t["outcome"].as_str(), t["agent"].as_str()),
        (Some("bridged"), Some("alice")),
        "{t}"
    );
    assert!(
        t["sms_sent"]
            .as_str()
            .is_some_and(|s| s.contains("support")),
        "{t}"
    );
    let (_, stats) = api(http_port, "GET", "/queues/support/stats", "");
    assert_eq!(
        (stats["calls"].as_i64(), stats["bridged"].as_i64()),
        (Some(1), Some(1)),
        "{stats}"
    );
    assert!(
        stats["ewt_mean_absolute_error_ms"].as_i64().is_some(),
        "{stats}"
    );
    let events = journal(http_port, "support");
    assert!(
        events.starts_with(&["enter".into(), "wait_sms".into()]),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e == "connect") && events.iter().any(|e| e == "complete"),
        "{events:?}"
    );
}

/// ivrd with the HTTP API (admin token `ADMIN`) and the ticket webhook to the hook returned,
/// alice at the agent port returned, logged out, and `support` joined with nobody logged in;
/// also its HTTP port.
fn start_with_api() -> (Ivrd, HttpHook, u16, u16) {
    let (hook, agent_port, http_port) = (HttpHook::start("{}"), free_udp_port(), free_tcp_port());
    let hook_port = hook.port;
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{http_port}\"\nadmin_token_env = \"IVRD_TEST_ADMIN\"\n\
         [tickets]\nwebhook_url = \"http://127.0.0.1:{hook_port}/tickets\"\n\
         webhook_secret_env = \"IVRD_TEST_HOOK\"\n"
    );
    let env = [
        ("IVRD_TEST_ADMIN", ADMIN),
        ("IVRD_TEST_HOOK", "hook-secret"),
    ];
    let support = "join_empty = true\nleave_when_empty = false\n";
    let ivrd = start_with(agent_port, false, support, &extra, &env);
    (ivrd, hook, http_port, agent_port)
}

/// The journal's event names for `queue`.
fn journal(http_port: u16, queue: &str) -> Vec<String> {
    let (_, v) = api(http_port, "GET", &format!("/queues/{queue}/events"), "");
    v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event"].as_str().map(String::from))
        .collect()
}

/// An abandoned call with SMS data still makes its ticket: the caller allows the wait-time SMS
/// (1 by INFO during the offer) and hangs up with nobody to take the call; the signed webhook
/// carries the ticket as `abandoned`, with the consent, and the API and the journal have it.
#[test]
fn an_abandoned_caller_who_allowed_the_sms_still_sends_the_ticket() {
    if !common::have_sipp("the queue test") {
        return;
    }
    let (ivrd, hook, http_port, _) = start_with_api();
    let tap = RtpTap::start();
    let caller = common::queued_caller(
        &ivrd,
        "queue-sms.xml",
        free_udp_port(),
        tap.port,
        &["-d", "2000"],
    )
    .output()
    .expect("run the caller's sipp");
    let _ = tap.finish();
    let log = ivrd.log_text();
    assert!(caller.status.success(), "caller: {caller:?}\n{log}");
    wait_until("the abandoned ticket's webhook", 15, || {
        !hook.requests().is_empty()
    });
    let posted = hook.requests()[0].clone();
    let (head, body) = posted.split_once("\r\n\r\n").expect("a body");
    assert!(head.contains("x-ivrd-signature: sha256="), "{head}");
    let ticket: Value = serde_json::from_str(body).expect("ticket JSON");
    assert_eq!(ticket["event"], "abandoned", "{ticket}");
    assert_eq!(ticket["wait_time_sms"], "allowed", "{ticket}");
    assert_eq!(ticket["caller"], "+15551230000", "{ticket}");
    let id = ticket["id"].as_str().expect("an id");
    let (_, t) = api(http_port, "GET", &format!("/tickets/{id}"), "");
    assert_eq!(t["outcome"], "abandoned", "{t}");
    let events = journal(http_port, "support");
    assert!(events.contains(&"abandon".to_string()), "{events:?}");
}

/// A callback keeps the caller's place, end to end: the caller presses 9 while waiting (nobody
/// logged in), hears the callback prompt and is hung up; their phone then waits for calls on
/// the same port. Alice logs in through the API and is rung; when she answers, ivrd calls the
/// customer back at their From URI and bridges the two; she hangs up, and the customer's leg
/// goes too. The journal and the ticket say so.
#[test]
fn a_caller_who_takes_the_callback_is_called_back_and_bridged_when_the_agent_answers() {
    if !common::have_sipp("the queue test") {
        return;
    }
    let (ivrd, _hook, http_port, agent_port) = start_with_api();
    let tap = RtpTap::start();
    let phone_port = free_udp_port();
    let keys = ["-key", "digit", "9"];
    let caller = common::queued_caller(&ivrd, "queue-callback.xml", phone_port, tap.port, &keys)
        .output()
        .expect("run the caller's sipp");
    let log = ivrd.log_text();
    assert!(caller.status.success(), "caller: {caller:?}\n{log}");
    // The customer's phone answers on the port it called from; alice hangs up after 3 s.
    let customer = common::start_agent("callee.xml", phone_port, &[]);
    let agent = common::start_agent("agent-hangs-up.xml", agent_port, &["-d", "3000"]);
    let (status, v) = api(
        http_port,
        "POST",
        "/agents/alice/status",
        r#"{"status": "available"}"#,
    );
    assert_eq!(status, 200, "{v}");
    let (agent_ok, agent_text) = finish(agent, 30);
    let (customer_ok, customer_text) = finish(customer, 20);
    let _ = tap.finish();
    let log = ivrd.log_text();
    assert!(agent_ok, "agent:\n{agent_text}\n{log}");
    assert!(customer_ok, "customer:\n{customer_text}\n{log}");
    assert!(
        log.contains("the customer answered the callback: bridged"),
        "{log}"
    );
    let events = journal(http_port, "support");
    let at = |name: &str| events.iter().position(|e| e == name);
    let order = [at("callback_requested"), at("connect"), at("complete")];
    assert!(
        order.iter().all(Option::is_some) && order.is_sorted(),
        "{events:?}"
    );
    let (_, v) = api(http_port, "GET", "/tickets?queue=support", "");
    let t = &v["tickets"][0];
    assert_eq!(
        (t["outcome"].as_str(), t["agent"].as_str()),
        (Some("callback"), Some("alice")),
        "{t}"
    );
}
