//! The SMS gateway against a real Kannel: bearerbox + smsbox + `fakesmsc` (Debian `kannel`,
//! `kannel-extras`), all on 127.0.0.1 with free ports. A message reaches the fake SMSC and its
//! delivery receipts come back and are recorded; an inbound STOP opts the number out (and is
//! confirmed); a long UCS-2 message goes out as numbered parts; with the gateway down and
//! ivrd killed, queued messages go out exactly once after both return; bad input is refused.
#![allow(clippy::disallowed_methods)] // real processes, real time: bounded waits

mod common;

use std::path::Path;
use std::time::Duration;

use common::kannel::Kannel;
use common::{Ivrd, free_tcp_port, free_udp_port, http, query, send_sms, wait_until};

const ADMIN: &str = "test-admin-token-0123456789";

#[test]
fn sms_through_a_real_kannel() {
    if !common::kannel::have_kannel("the Kannel test") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ivrd-kannel-{}", free_udp_port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let http_port = free_tcp_port();
    let mut kannel = Kannel::start(&dir, http_port);
    let var = dir.join("var");
    let config = dir.join("ivrd.toml");
    std::fs::write(
        &config,
        format!(
            "[sms]\nprovider = \"kannel\"\ncountry = \"US\"\nallowed_prefixes = [\"+1\"]\n\
             callback_base = \"http://127.0.0.1:{http_port}\"\nretry_base_ms = 300\nretry_max_ms = 1000\n\
             max_attempts = 50\n\n[sms.kannel]\nsendsms_url = \"http://127.0.0.1:{}/cgi-bin/sendsms\"\n\
             username = \"ivrd\"\npassword_env = \"IVRD_TEST_KANNEL_PW\"\nfrom = \"12345\"\n\n\
             [http]\nadmin_token_env = \"IVRD_TEST_ADMIN\"\n",
            kannel.sendsms_port
        ),
    )
    .expect("config");
    let env = [
        ("IVRD_TEST_KANNEL_PW", "sendpw"),
        ("IVRD_TEST_ADMIN", ADMIN),
    ];
    let start = |var: &Path| Ivrd::start_sms(&config, http_port, var, &env);
    let ivrd = start(&var);
    let db = var.join("ivrd.sqlite");

    // 1. A message reaches the fake SMSC; Kannel's receipts (8: SMSC accepted, 1: delivered)
    //    come back and are recorded.
    let (status, body) = send_sms(http_port, ADMIN, "(555) 123-0001", "Hello from ivrd", "t1");
    assert_eq!(status, 202, "{body}");
    wait_until("the first message at the handset", 15, || {
        kannel
            .received()
            .iter()
            .any(|m| m.starts_with("12345 +15551230001 text Hello from ivrd"))
    });
    wait_until("the delivery receipt", 15, || {
        query(
            &db,
            "SELECT COUNT(*) FROM messages WHERE key = 't1' AND state = 'delivered'",
        ) == 1
    });
    assert!(
        query(
            &db,
            "SELECT COUNT(*) FROM receipts r JOIN messages m ON m.id = r.message_id WHERE m.key = 't1'"
        ) >= 1
    );
    // The same key again is the same message, not a second SMS.
    assert_eq!(
        send_sms(http_port, ADMIN, "+15551230001", "Hello from ivrd", "t1").0,
        202
    );

    // 2. An inbound STOP opts the sender out and is confirmed; a later message is refused.
    kannel.phone_sends("+15551230002", "STOP");
    wait_until("the opt-out", 15, || {
        query(
            &db,
            "SELECT COUNT(*) FROM opt_outs WHERE number = '+15551230002' AND opted_out = 1",
        ) == 1
    });
    wait_until("the STOP confirmation", 15, || {
        kannel
            .received()
            .iter()
            .any(|m| m.starts_with("12345 +15551230002 text You are unsubscribed"))
    });
    let (status, body) = send_sms(http_port, ADMIN, "+15551230002", "promo", "t2");
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("opted out"), "{body}");

    // 3. A long UCS-2 message goes out as three numbered parts with one reference.
    let long = "Ваш рахунок: 1250,00 грн. Дякуємо, що ви з нами! ".repeat(3);
    assert!(
        (135..=201).contains(&long.chars().count()),
        "three UCS-2 parts of 67"
    );
    assert_eq!(
        send_sms(http_port, ADMIN, "+15551230005", &long, "t3").0,
        202
    );
    wait_until("three UCS-2 parts", 15, || {
        kannel
            .received()
            .iter()
            .filter(|m| m.starts_with("12345 +15551230005 udh %05%00%03"))
            .count()
            == 3
    });
    let parts: Vec<String> = kannel
        .received()
        .into_iter()
        .filter(|m| m.starts_with("12345 +15551230005 udh"))
        .collect();
    let reference = &parts[0]["12345 +15551230005 udh %05%00%03".len()..][..3];
    for (i, p) in parts.iter().enumerate() {
        assert!(
            p.contains(&format!("%05%00%03{reference}%03%0{}", i + 1)),
            "part {i}: {p}"
        );
    }

    // 4. Gateway down: messages wait. ivrd is killed while they wait and started again; once
    //    the gateway is back every one goes out exactly once.
    kannel.smsbox = None;
    for (to, key) in [("+15551230003", "t4"), ("+15551230004", "t5")] {
        assert_eq!(
            send_sms(http_port, ADMIN, to, &format!("queued {key}"), key).0,
            202
        );
    }
    wait_until("failed attempts against the stopped gateway", 15, || {
        ivrd.log_text().matches("sms not accepted").count() >= 4
    });
    drop(ivrd); // SIGKILL
    kannel.start_smsbox();
    let ivrd = start(&var);
    wait_until("the queued messages after the restart", 20, || {
        ["t4", "t5"].iter().all(|k| {
            kannel
                .received()
                .iter()
                .any(|m| m.ends_with(&format!("queued {k}")))
        })
    });
    std::thread::sleep(Duration::from_secs(2)); // room for a duplicate to show up
    for key in ["t4", "t5"] {
        let copies = kannel
            .received()
            .iter()
            .filter(|m| m.ends_with(&format!("queued {key}")))
            .count();
        assert_eq!(copies, 1, "{key} arrived {copies}×");
    }

    // 5. Bad input gets a clear refusal and changes nothing.
    for (to, text, code, want) in [
        ("not a number", "x", 400, "invalid number"),
        ("+15551230006", "  ", 400, "empty message body"),
        ("+1 (555)", "x", 422, "8 to 15 digits"),
        ("+15551230006", &"x".repeat(2000), 422, "SMS parts"),
        ("+447700900123", "x", 422, "outside the allowed countries"),
    ] {
        let (status, body) = send_sms(http_port, ADMIN, to, text, "bad");
        assert_eq!(status, code, "{to}: {body}");
        assert!(body.contains(want), "{to}: {body}");
    }
    for garbage in [
        "/sms/kannel/dlr?id=abc&type=1",
        "/sms/kannel/dlr?type=1",
        "/sms/kannel/dlr?id=1&type=99",
        "/sms/kannel/mo?text=hi",
    ] {
        assert_eq!(http("GET", http_port, garbage, &[], "").0, 400, "{garbage}");
    }
    assert_eq!(http("POST", http_port, "/sms/send", &[], "{}").0, 401);
    assert!(ivrd.log_text().contains("bad receipt callback"));
}
