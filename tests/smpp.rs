//! The SMS gateway against an SMPP 3.4 server simulator: `tests/smpp/smsc_sim.py`, on the
//! `smpp34` package's server (an implementation independent of ours), on 127.0.0.1 with a free
//! port. A message reaches the SMSC and its delivery receipt is recorded; an inbound STOP
//! opts the number out; a long UCS-2 message goes out as numbered parts; a throttled submit is
//! retried; the SMSC going away and coming back, with ivrd SIGKILLed in between, delivers
//! every waiting message exactly once.
#![allow(clippy::disallowed_methods)] // real processes, real time: bounded waits

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use common::{Ivrd, free_tcp_port, query, root, send_sms, wait_until};

const ADMIN: &str = "test-admin-token-smpp-0123456789";

/// A Python with `smpp34`: `IVRD_SMPP_PYTHON`, the venv `.ci/run` makes, or `python3`.
fn python() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("IVRD_SMPP_PYTHON").map(PathBuf::from),
        Some(root().join("target/smpp-venv/bin/python")),
        Some(PathBuf::from("python3")),
    ];
    candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .args(["-c", "import smpp34"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

struct Smsc {
    child: Child,
    stdin: ChildStdin,
}

impl Smsc {
    fn start(python: &Path, port: u16, log: &Path) -> Self {
        let mut child = Command::new(python)
            .arg(root().join("tests/smpp/smsc_sim.py"))
            .args([&port.to_string(), log.to_str().expect("utf-8")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMSC simulator");
        let stdin = child.stdin.take().expect("stdin");
        let mut ready = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut ready)
            .expect("simulator output");
        assert_eq!(ready.trim(), "ready", "simulator did not start");
        Self { child, stdin }
    }

    fn command(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("simulator stdin");
    }
}

impl Drop for Smsc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The simulator's events (JSON lines).
fn events(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn submits_to(log: &Path, to: &str) -> Vec<serde_json::Value> {
    events(log)
        .into_iter()
        .filter(|e| e["event"] == "submit" && e["to"] == to)
        .collect()
}

#[test]
fn sms_through_an_smpp_server() {
    let Some(python) = python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install smpp34 (see .ci/run)"
        );
        eprintln!(
            "\n*** SKIPPED: no Python with smpp34 (python3 -m venv target/smpp-venv && target/smpp-venv/bin/pip install smpp34==1.5.0) ***\n"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("ivrd-smpp-{}", free_tcp_port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (smsc_port, http_port) = (free_tcp_port(), free_tcp_port());
    let log = dir.join("smsc.jsonl");
    let mut smsc = Smsc::start(&python, smsc_port, &log);
    let config = dir.join("ivrd.toml");
    std::fs::write(
        &config,
        format!(
            "[sms]\nprovider = \"smpp\"\ncountry = \"US\"\nallowed_prefixes = [\"+1\"]\n\
             retry_base_ms = 300\nretry_max_ms = 1000\nmax_attempts = 50\n\n\
             [sms.smpp]\naddress = \"127.0.0.1:{smsc_port}\"\nsystem_id = \"ivrd\"\n\
             password_env = \"IVRD_TEST_SMPP_PW\"\nfrom = \"+15550000\"\n\n\
             [http]\nadmin_token_env = \"IVRD_TEST_ADMIN\"\n"
        ),
    )
    .expect("config");
    let var = dir.join("var");
    let env = [("IVRD_TEST_SMPP_PW", "pw"), ("IVRD_TEST_ADMIN", ADMIN)];
    let start = || Ivrd::start_sms(&config, http_port, &var, &env);
    let ivrd = start();
    let db = var.join("ivrd.sqlite");
    wait_until("the bind", 15, || {
        ivrd.log_text().contains("SMPP bound as transceiver")
    });
    assert!(
        events(&log)
            .iter()
            .any(|e| e["event"] == "bound" && e["system_id"] == "ivrd")
    );

    // 1. A message reaches the SMSC, GSM-7 in one part from our number; the SMSC's receipt
    //    (receipted_message_id in hex, the text quoting it in decimal) marks it delivered.
    let (status, body) = send_sms(http_port, ADMIN, "(555) 123-0001", "Hello [SMPP] €5", "t1");
    assert_eq!(status, 202, "{body}");
    wait_until("the message at the SMSC", 15, || {
        submits_to(&log, "15551230001").len() == 1
    });
    let m = &submits_to(&log, "15551230001")[0];
    assert_eq!(
        (m["source"].as_str(), m["source_ton"].as_u64()),
        (Some("15550000"), Some(1))
    );
    assert_eq!(
        (m["data_coding"].as_u64(), m["registered_delivery"].as_u64()),
        (Some(0), Some(1))
    );
    // GSM 03.38 unpacked: [ and € as ESC sequences.
    assert!(
        m["short_message"]
            .as_str()
            .unwrap_or("")
            .contains("1b3c534d50501b3e201b6535")
    );
    wait_until("the delivery receipt", 15, || {
        query(
            &db,
            "SELECT COUNT(*) FROM messages WHERE key = 't1' AND state = 'delivered'",
        ) == 1
    });
    assert_eq!(
        query(
            &db,
            "SELECT COUNT(*) FROM receipts r JOIN messages m ON m.id = r.message_id WHERE m.key = 't1'"
        ),
        1
    );
    assert!(
        events(&log)
            .iter()
            .any(|e| e["event"] == "receipt_acked" && e["status"] == 0)
    );

    // 2. An inbound STOP (UCS-2 СТОП works as well) opts the sender out; a later message is
    //    refused.
    smsc.command("mo +15551230002 15550000 STOP");
    smsc.command("mo +15551230006 15550000 СТОП");
    wait_until("the opt-outs", 15, || {
        query(
            &db,
            "SELECT COUNT(*) FROM opt_outs WHERE number IN ('+15551230002', '+15551230006') AND opted_out = 1",
        ) == 2
    });
    wait_until("the inbound acknowledgements", 15, || {
        events(&log)
            .iter()
            .filter(|e| e["event"] == "mo_acked" && e["status"] == 0)
            .count()
            == 2
    });
    let (status, body) = send_sms(http_port, ADMIN, "+15551230002", "promo", "t2");
    assert_eq!(status, 422, "{body}");

    // 3. A long UCS-2 message: three parts, one reference, numbered 1..3.
    let long = "Ваш рахунок: 1250,00 грн. Дякуємо, що ви з нами! ".repeat(3);
    assert_eq!(
        send_sms(http_port, ADMIN, "+15551230005", &long, "t3").0,
        202
    );
    wait_until("three UCS-2 parts", 15, || {
        submits_to(&log, "15551230005").len() == 3
    });
    let mut parts = submits_to(&log, "15551230005");
    // The simulator may log them in any order; the UDH numbers them.
    parts.sort_by_key(|p| p["short_message"].as_str().unwrap_or("")[10..12].to_string());
    let reference = &parts[0]["short_message"].as_str().unwrap_or("")[6..8];
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(
            (p["esm_class"].as_u64(), p["data_coding"].as_u64()),
            (Some(0x40), Some(8))
        );
        let udh = format!("050003{reference}030{}", i + 1);
        assert!(
            p["short_message"].as_str().unwrap_or("").starts_with(&udh),
            "{p}"
        );
    }

    // 4. Throttled (ESME_RTHROTTLED): retried, then taken.
    smsc.command("reject 0x58");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        send_sms(http_port, ADMIN, "+15551230007", "retry me", "t6").0,
        202
    );
    wait_until("the retry", 15, || {
        submits_to(&log, "15551230007").len() == 1
    });
    assert!(
        events(&log)
            .iter()
            .any(|e| e["event"] == "rejected" && e["to"] == "15551230007")
    );

    // 5. The SMSC goes away: a message waits for the new bind and goes out once.
    drop(smsc);
    assert_eq!(
        send_sms(http_port, ADMIN, "+15551230003", "waited", "t4").0,
        202
    );
    std::thread::sleep(Duration::from_millis(1500));
    let smsc = Smsc::start(&python, smsc_port, &log);
    wait_until("the waiting message", 30, || {
        submits_to(&log, "15551230003").len() == 1
    });

    // 6. SMSC away again and ivrd SIGKILLed with a message waiting; both come back and the
    //    message arrives exactly once (it was never sent, so not twice).
    drop(smsc);
    assert_eq!(
        send_sms(http_port, ADMIN, "+15551230004", "after the crash", "t5").0,
        202
    );
    drop(ivrd);
    let _smsc = Smsc::start(&python, smsc_port, &log);
    let ivrd = start();
    wait_until("the message after the restart", 30, || {
        submits_to(&log, "15551230004").len() == 1
    });
    wait_until("its receipt", 15, || {
        query(
            &db,
            "SELECT COUNT(*) FROM messages WHERE key = 't5' AND state = 'delivered'",
        ) == 1
    });
    std::thread::sleep(Duration::from_secs(1)); // room for a duplicate to show up
    for to in ["15551230001", "15551230003", "15551230004", "15551230007"] {
        assert_eq!(
            submits_to(&log, to).len(),
            1,
            "{to} once:\n{}",
            ivrd.log_text()
        );
    }
}
