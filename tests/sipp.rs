//! The SIPp scenarios shipped in `tests/sipp/`, run against a real `ivrd serve` on 127.0.0.1.
//! For each: SIPp must pass, ivrd must have seen the expected digits in order (from its log),
//! and the prompt's RTP as received at the address SIPp advertised must be one PCMU stream
//! paced at 20 ms with continuous sequence numbers and timestamps.
//!
//! Needs `sipp` (Debian `sip-tester`). Without it the test says so loudly and passes, except
//! under CI (`CI` set), where it fails. The pcap scenario needs root (SIPp sends it through a
//! raw socket) and is skipped, loudly, otherwise.
//!
//! This is one of the few end-to-end tests: real processes on 127.0.0.1 in real time, so it
//! reads the clock (to time RTP arrivals) and waits for ivrd to start.
#![allow(clippy::disallowed_methods)]

mod common;
#[path = "sipp_ops.rs"]
mod ops;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Arrival, Ivrd, RtpTap, free_udp_port, root};

struct Run<'a> {
    scenario: &'a str,
    hold_ms: u32,
    tcp: bool,
}

fn sipp(ivrd: &Ivrd, run: &Run<'_>, tap: &RtpTap) -> (bool, String, String) {
    let call_id = format!(
        "{}-{}-{}{}@127.0.0.1",
        run.scenario,
        run.hold_ms,
        std::process::id(),
        if run.tcp { "-tcp" } else { "" }
    );
    let mut cmd = Command::new("sipp");
    cmd.current_dir(root().join("tests/sipp"))
        .arg(format!("127.0.0.1:{}", ivrd.port))
        .args(["-sf", &format!("{}.xml", run.scenario)])
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args(["-p", &free_udp_port().to_string()])
        .args(["-mp", &(free_udp_port() & !1).to_string()])
        .args(["-m", "1", "-l", "1", "-nostdin"])
        .args(["-d", &run.hold_ms.to_string()])
        .args([
            "-key",
            "rtp_ip",
            "127.0.0.1",
            "-key",
            "rtp_port",
            &tap.port.to_string(),
        ])
        .args(["-cid_str", &call_id])
        .args(["-timeout", "30s", "-timeout_error"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if run.tcp {
        cmd.args(["-t", "t1"]);
    }
    let out = cmd.output().expect("run sipp");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text, call_id)
}

/// The prompt stream's shape: one SSRC, PCMU, sequence +1 and timestamp +160 per packet, and
/// packets 20 ms apart (median) with no gap over 60 ms.
fn check_rtp(packets: &[Arrival], min_packets: usize, what: &str) {
    assert!(
        packets.len() >= min_packets,
        "{what}: {} RTP packets, wanted ≥ {min_packets}",
        packets.len()
    );
    let header = |p: &[u8]| {
        (
            p[1] & 0x7f,
            u16::from_be_bytes([p[2], p[3]]),
            u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
            u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
        )
    };
    let first = header(&packets[0].1);
    let mut gaps = Vec::new();
    for w in packets.windows(2) {
        let (a, b) = (header(&w[0].1), header(&w[1].1));
        assert_eq!(b.0, 0, "{what}: payload type");
        assert_eq!(b.3, first.3, "{what}: one SSRC");
        assert_eq!(b.1, a.1.wrapping_add(1), "{what}: sequence continuous");
        assert_eq!(b.2, a.2.wrapping_add(160), "{what}: timestamp continuous");
        assert_eq!(w[1].1.len(), 172, "{what}: 160-byte payloads");
        gaps.push(w[1].0 - w[0].0);
    }
    gaps.sort();
    let median = gaps[gaps.len() / 2];
    assert!(
        (Duration::from_millis(17)..=Duration::from_millis(23)).contains(&median),
        "{what}: median packet interval {median:?}"
    );
    let worst = gaps[gaps.len() - 1];
    assert!(
        worst < Duration::from_millis(60),
        "{what}: worst gap {worst:?}"
    );
}

/// On hold (our answer `recvonly`) ivrd sends nothing: one silence of about the 2 s hold
/// between packets, then the prompt again until the BYE.
fn check_hold(packets: &[Arrival], resumed_ms: u32, what: &str) {
    assert!(packets.len() > 40, "{what}: {} RTP packets", packets.len());
    let gaps: Vec<(usize, Duration)> = packets
        .windows(2)
        .enumerate()
        .map(|(i, w)| (i, w[1].0 - w[0].0))
        .filter(|(_, gap)| *gap > Duration::from_millis(500))
        .collect();
    let [(at, gap)] = gaps[..] else {
        panic!("{what}: wanted one silence on hold, got gaps {gaps:?}");
    };
    assert!(
        (Duration::from_millis(1800)..Duration::from_millis(2500)).contains(&gap),
        "{what}: silence on hold lasted {gap:?}"
    );
    let after = packets.len() - at - 1;
    let min = (resumed_ms as usize / 20) * 8 / 10;
    assert!(
        after >= min,
        "{what}: {after} packets after resume, wanted ≥ {min}"
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn sipp_scenarios_against_ivrd_serve() {
    if Command::new("sipp").arg("-v").output().is_err() {
        let msg = "\n*** sipp not found: the SIPp scenarios did NOT run. Install Debian's sip-tester. ***\n";
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("{msg}");
        return;
    }
    // SIPp's SDP names the tap (`-key rtp_port`), where ivrd's RTP is recorded, while its own
    // RTP (audio, RFC 4733) leaves from its `-mp` socket: another port of the same host, which
    // the default `accept_from = "sdp"` would drop as foreign.
    let dir = std::env::temp_dir().join(format!("ivrd-sipp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("ivrd.toml");
    std::fs::write(
        &config,
        "[rtp]\naccept_from = \"sdp_host\"\n[http]\nadmin_token_env = \"IVRD_TEST_ADMIN\"\n",
    )
    .expect("config");
    let http = common::free_tcp_port();
    let ivrd = Ivrd::start_admin(&config, http, ("IVRD_TEST_ADMIN", "ops-token"), &[]);
    let mut failures = Vec::new();
    let mut made = Vec::new();
    let cases: [(Run<'_>, &str, Option<&str>); 10] = [
        // An INVITE without SDP: ivrd offers in the 200, SIPp answers in the ACK.
        (
            Run {
                scenario: "late-offer",
                hold_ms: 2000,
                tcp: false,
            },
            "",
            Some("CallerHungUp"),
        ),
        // 1 s of prompt, 2 s on hold (nothing may arrive), resumed for 1.5 s.
        (
            Run {
                scenario: "hold",
                hold_ms: 1500,
                tcp: false,
            },
            "",
            Some("CallerHungUp"),
        ),
        (
            Run {
                scenario: "basic",
                hold_ms: 3000,
                tcp: false,
            },
            "",
            Some("CallerHungUp"),
        ),
        // BYE from the caller while the 6 s welcome prompt plays.
        (
            Run {
                scenario: "basic",
                hold_ms: 500,
                tcp: false,
            },
            "",
            Some("CallerHungUp"),
        ),
        (
            Run {
                scenario: "basic",
                hold_ms: 2000,
                tcp: true,
            },
            "",
            Some("CallerHungUp"),
        ),
        (
            Run {
                scenario: "dtmf-pt96",
                hold_ms: 3000,
                tcp: false,
            },
            "123",
            None,
        ),
        (
            Run {
                scenario: "dtmf-inband",
                hold_ms: 1000,
                tcp: false,
            },
            "159",
            None,
        ),
        (
            Run {
                scenario: "dtmf-info",
                hold_ms: 500,
                tcp: false,
            },
            "4*",
            None,
        ),
        (
            Run {
                scenario: "cancel",
                hold_ms: 0,
                tcp: false,
            },
            "",
            Some("Cancelled"),
        ),
        (
            Run {
                scenario: "dtmf-pcap",
                hold_ms: 1000,
                tcp: false,
            },
            "47",
            None,
        ),
    ];
    for (run, digits, ended) in cases {
        if run.scenario == "dtmf-pcap" && !is_root() {
            eprintln!(
                "\n*** dtmf-pcap skipped: SIPp plays pcaps through a raw socket (root only) ***\n"
            );
            continue;
        }
        let label = format!(
            "{} -d {}{}",
            run.scenario,
            run.hold_ms,
            if run.tcp { " (TCP)" } else { "" }
        );
        let tap = RtpTap::start();
        let (ok, output, call_id) = sipp(&ivrd, &run, &tap);
        made.push(ops::Made {
            call_id: call_id.clone(),
            scenario: run.scenario,
            hold_ms: run.hold_ms,
        });
        std::thread::sleep(Duration::from_millis(300)); // let ivrd log the call's end
        let packets = tap.finish();
        if !ok {
            failures.push(format!("{label}: sipp failed:\n{output}"));
            continue;
        }
        let seen = ivrd.digits(&call_id);
        if seen != digits {
            failures.push(format!(
                "{label}: ivrd saw digits {seen:?}, wanted {digits:?}"
            ));
        }
        if let Some(reason) = ended {
            let lines = ivrd.call_lines(&call_id);
            if !lines
                .iter()
                .any(|l| l.contains("call ended") && l.contains(reason))
            {
                failures.push(format!(
                    "{label}: no 'call ended … {reason}' in:\n{}",
                    lines.join("\n")
                ));
            }
        }
        if run.scenario == "hold" {
            let result = std::panic::catch_unwind(|| check_hold(&packets, run.hold_ms, &label));
            if result.is_err() {
                failures.push(format!("{label}: hold check failed (see above)"));
            }
        }
        if run.scenario == "basic" || run.scenario == "late-offer" {
            // The prompt plays from the answer until the BYE: hold_ms of 20 ms packets.
            let min = (run.hold_ms as usize / 20) * 9 / 10;
            let result = std::panic::catch_unwind(|| check_rtp(&packets, min, &label));
            if result.is_err() {
                failures.push(format!("{label}: RTP check failed (see above)"));
            }
        }
    }
    failures.extend(ops::check(&ivrd, http, "ops-token", &made, is_root()));
    assert!(
        failures.is_empty(),
        "{}\n--- ivrd log ---\n{}",
        failures.join("\n\n"),
        ivrd.log_text()
    );
}

/// A call whose RTP stopped was hung up as it should be, but its flow finished as
/// `CallerHungUp`, which hid dead lines among ordinary hang-ups. SIPp's basic call sends no
/// RTP: with a 2 s inactivity limit, ivrd hangs up and the flow says the line was dropped.
#[test]
fn a_call_without_rtp_is_dropped_not_hung_up_by_the_caller() {
    if Command::new("sipp").arg("-v").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "sipp not found");
        eprintln!("\n*** sipp not found: the RTP timeout test did NOT run. ***\n");
        return;
    }
    let dir = std::env::temp_dir().join(format!("ivrd-sipp-dead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("ivrd.toml");
    std::fs::write(&config, "[rtp]\ninactivity_s = 2\n").expect("config");
    let ivrd = Ivrd::start_with(&["--config", config.to_str().expect("utf-8 path")]);
    let tap = RtpTap::start();
    let run = Run {
        scenario: "basic",
        hold_ms: 5000,
        tcp: false,
    };
    let (_, _, call_id) = sipp(&ivrd, &run, &tap);
    let _ = tap.finish();
    let lines = ivrd.call_lines(&call_id).join("\n");
    assert!(
        lines.contains("disposition=Dropped(NoMedia)"),
        "no Dropped(NoMedia) in:\n{lines}"
    );
    assert!(!lines.contains("CallerHungUp"), "{lines}");
}
