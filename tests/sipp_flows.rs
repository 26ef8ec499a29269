//! The example flows end to end: a real `ivrd serve` on 127.0.0.1 with the shipped flows, SIPp
//! calling each flow's number with the scenarios in `tests/sipp/flow-*.xml`, and a stub of the
//! chat-availability API. Checked: the digits ivrd saw, the prompts it played (its log), the RTP
//! SIPp received, the SMS it queued (the outbox file), the HTTP request it made, and the
//! transfer (REFER answered by SIPp with NOTIFY 200, then BYE).
//!
//! Needs `sipp`; without it the test says so loudly and passes, except under CI.
#![allow(clippy::disallowed_methods)] // real processes in real time

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{HttpHook, Ivrd, RtpTap, free_udp_port, root};

/// Answers every request with "chat available" and records the request lines.
struct Case {
    scenario: &'static str,
    service: &'static str,
    ani: &'static str,
    digits: &'static str,
    prompts: &'static [&'static str],
    sms: &'static [&'static str],
    finished: &'static str,
}

fn run_sipp(ivrd: &Ivrd, case: &Case, tap: &RtpTap) -> (bool, String, String) {
    let call_id = format!("{}-{}@127.0.0.1", case.scenario, std::process::id());
    let out = Command::new("sipp")
        .current_dir(root().join("tests/sipp"))
        .arg(format!("127.0.0.1:{}", ivrd.port))
        .args(["-sf", &format!("{}.xml", case.scenario), "-s", case.service])
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args(["-p", &free_udp_port().to_string()])
        .args(["-mp", &(free_udp_port() & !1).to_string()])
        .args(["-m", "1", "-l", "1", "-nostdin"])
        .args(["-key", "ani", case.ani, "-key", "rtp_ip", "127.0.0.1"])
        .args(["-key", "rtp_port", &tap.port.to_string()])
        .args(["-cid_str", &call_id])
        .args(["-timeout", "60s", "-timeout_error"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run sipp");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text, call_id)
}

#[test]
fn example_flows_through_sipp() {
    if Command::new("sipp").arg("-v").output().is_err() {
        let msg = "\n*** sipp not found: the flow scenarios did NOT run. Install Debian's sip-tester. ***\n";
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("{msg}");
        return;
    }
    let api = HttpHook::start(
        r#"{"available": true, "url": "https://chat.example/s/e2e", "valid_for_s": 300}"#,
    );
    let dir = std::env::temp_dir().join(format!("ivrd-flows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("ivrd.toml");
    std::fs::write(
        &config,
        format!(
            "[flows.vars]\nchat_api = \"http://127.0.0.1:{}\"\n\n\
             [http]\nadmin_token_env = \"IVRD_TEST_ADMIN\"\n\n\
             [[merchants]]\nname = \"corner-shop\"\ntoken = \"{MERCHANT}\"\n",
            api.port,
        ),
    )
    .unwrap();
    let http_port = common::free_tcp_port();
    let http_arg = format!("127.0.0.1:{http_port}");
    let ivrd = Ivrd::start_with_env(
        &["--config", config.to_str().unwrap(), "--http", &http_arg],
        &[("IVRD_TEST_ADMIN", ADMIN)],
    );
    let outbox = ivrd.var.join("sms-outbox.jsonl");
    let cases = [
        Case {
            scenario: "flow-deflection",
            service: "100",
            ani: "+15551239999",
            digits: "1",
            prompts: &["welcome-support,press-1-for-chat", "chat-link-sent,goodbye"],
            sms: &[
                r#""purpose":"chat_link""#,
                r#""to":"+15551239999""#,
                "https://chat.example/s/e2e",
            ],
            finished: "disposition=Completed",
        },
        Case {
            scenario: "flow-coupon",
            service: "200",
            ani: "+15551239998",
            digits: "5",
            prompts: &["coupon-offer", "coupon-sent,goodbye"],
            sms: &[
                r#""purpose":"coupon""#,
                r#""to":"+15551239998""#,
                "Your coupon code: ",
            ],
            finished: "disposition=Completed",
        },
        Case {
            scenario: "flow-isp",
            service: "300",
            ani: "+15551230001",
            digits: "##2222333311",
            prompts: &[
                "outage-in-your-area,num-18,num-30",
                "main-menu",
                "enter-contract",
                "balance-sent",
                "transferring",
            ],
            sms: &[
                r#""purpose":"balance""#,
                r#""to":"+15551230001""#,
                "Contract 22223333: your balance is 25.00 EUR.",
            ],
            finished: "disposition=Transferred(\"sip:sales@127.0.0.1:5080\")",
        },
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let tap = RtpTap::start();
        let (ok, output, call_id) = run_sipp(&ivrd, case, &tap);
        std::thread::sleep(Duration::from_millis(300));
        let packets = tap.finish();
        let label = case.scenario;
        if !ok {
            failures.push(format!("{label}: sipp failed:\n{output}"));
            continue;
        }
        let seen = ivrd.digits(&call_id);
        if seen != case.digits {
            failures.push(format!(
                "{label}: ivrd saw digits {seen:?}, wanted {:?}",
                case.digits
            ));
        }
        let lines = ivrd.call_lines(&call_id);
        for p in case.prompts {
            let needle = format!("prompts={p} ");
            if !lines
                .iter()
                .any(|l| l.contains(" play ") && l.contains(&needle))
            {
                failures.push(format!("{label}: prompt {p} not played"));
            }
        }
        if !lines
            .iter()
            .any(|l| l.contains("flow finished") && l.contains(case.finished))
        {
            failures.push(format!("{label}: no 'flow finished … {}'", case.finished));
        }
        let outbox_text = std::fs::read_to_string(&outbox).unwrap_or_default();
        let sms = outbox_text
            .lines()
            .find(|l| l.contains(&format!(r#""call_id":"{call_id}""#)));
        match sms {
            Some(line) => {
                for want in case.sms {
                    if !line.contains(want) {
                        failures.push(format!("{label}: SMS lacks {want}: {line}"));
                    }
                }
            }
            None => failures.push(format!("{label}: no SMS queued for the call")),
        }
        // At least 2 s of prompt audio reached SIPp's RTP address.
        if packets.len() < 100 {
            failures.push(format!("{label}: only {} RTP packets", packets.len()));
        }
    }
    let requests = api.request_lines();
    if !requests
        .iter()
        .any(|r| r.starts_with("GET /availability?dnis=100 "))
    {
        failures.push(format!("chat API requests: {requests:?}"));
    }
    failures.extend(redeem_the_coupon(&outbox, http_port));
    // Pressing 1 for the chat link is recorded as the caller's consent, with the call.
    let consent = common::query(
        &ivrd.var.join("ivrd.sqlite"),
        &format!(
            "SELECT COUNT(*) FROM consents WHERE number = '+15551239999' AND purpose = 'chat_link' \
             AND granted = 1 AND call_id = 'flow-deflection-{}@127.0.0.1' AND source = 'dtmf'",
            std::process::id()
        ),
    );
    if consent != 1 {
        failures.push(format!("deflection: {consent} consent records"));
    }
    let auth = format!("Bearer {ADMIN}");
    let audit = common::http(
        "GET",
        http_port,
        "/consents/%2B15551239999",
        &[("Authorization", &auth)],
        "",
    );
    if audit.0 != 200 || !audit.1.contains(r#""purpose":"chat_link""#) {
        failures.push(format!("consent audit: {audit:?}"));
    }
    let isp_lines = ivrd.call_lines(&format!("flow-isp-{}@127.0.0.1", std::process::id()));
    if !isp_lines
        .iter()
        .any(|l| l.contains(" transfer ") && l.contains("target=sip:sales@127.0.0.1:5080"))
    {
        failures.push("isp: no transfer to sales logged".into());
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{}\n--- ivrd log ---\n{}",
        failures.join("\n"),
        ivrd.log_text()
    );
}

const MERCHANT: &str = "merchant-token-for-tests-0001";
const ADMIN: &str = "admin-token-for-flow-tests-0001";

/// The merchant redeems the coupon the coupon call texted: once, then refused; the campaign's
/// figures count it.
fn redeem_the_coupon(outbox: &std::path::Path, port: u16) -> Vec<String> {
    let text = std::fs::read_to_string(outbox).unwrap_or_default();
    let Some(serial) = text
        .lines()
        .find(|l| l.contains(r#""purpose":"coupon""#))
        .and_then(|l| l.split("Your coupon code: ").nth(1))
        .map(|rest| rest.chars().take(16).collect::<String>())
    else {
        return vec![format!("coupon: no serial in the outbox: {text}")];
    };
    let auth = format!("Bearer {MERCHANT}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let typed = serial.to_lowercase().replace('-', " ");
    let body = format!(r#"{{"serial":"{typed}"}}"#);
    let mut failures = Vec::new();
    let first = common::http("POST", port, "/coupons/redeem", &headers, &body);
    if first.0 != 200 || !first.1.contains("redeemed") {
        failures.push(format!("coupon {serial}: first redemption {first:?}"));
    }
    let second = common::http("POST", port, "/coupons/redeem", &headers, &body);
    if second.0 != 409 {
        failures.push(format!("coupon {serial}: second redemption {second:?}"));
    }
    let unknown = common::http(
        "POST",
        port,
        "/coupons/redeem",
        &headers,
        r#"{"serial":"0000-0000-0000-0"}"#,
    );
    if unknown.0 != 404 {
        failures.push(format!("unknown serial: {unknown:?}"));
    }
    let anonymous = common::http("POST", port, "/coupons/redeem", &[], &body);
    if anonymous.0 != 401 {
        failures.push(format!("no token: {anonymous:?}"));
    }
    let stats = common::http("GET", port, "/coupons/stats/winter-sale", &headers, "");
    if stats.0 != 200 || !stats.1.contains(r#""issued":1"#) || !stats.1.contains(r#""redeemed":1"#)
    {
        failures.push(format!("stats: {stats:?}"));
    }
    failures
}
