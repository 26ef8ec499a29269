//! Carrier SIP against a real `ivrd serve`, with SIPp: a caller with session timers that
//! refreshes once by UPDATE and then stops (ivrd must hang up a third of the interval before
//! it runs out, 60 s after the refresh), a caller requiring 100rel that PRACKs ivrd's 180, and
//! a caller from a source ivrd does not take calls from (403), and a trunk registrar that
//! challenges ivrd's REGISTER and verifies the digest answer. The CDRs must say how each ended.
//!
//! Real processes in real time: it reads the clock to time ivrd's BYE.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use common::{Ivrd, RtpTap, caller, finish, have_sipp};
use serde_json::Value;

const TOKEN: &str = "carrier-token";

fn cdr(http: u16, call_id: &str) -> Option<Value> {
    let auth = format!("Bearer {TOKEN}");
    let (_, text) = common::http(
        "GET",
        http,
        "/cdrs?since=0",
        &[("Authorization", &auth)],
        "",
    );
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|c| c["id"] == call_id)
}

#[test]
fn session_timer_and_prack_callers() {
    if !have_sipp("the carrier SIP scenarios") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ivrd-carrier-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("ivrd.toml");
    // A flow that waits a long time for a key, so that only the session timer ends the call;
    // SIPp sends no RTP here: the inactivity limit must outlast the timer too.
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).expect("flows dir");
    for entry in std::fs::read_dir(common::root().join("config/flows")).expect("config/flows") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            std::fs::copy(&path, flows.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    std::fs::write(
        flows.join("wait.toml"),
        "[flow]\nstart = \"wait\"\n\n[nodes.wait]\ntype = \"menu\"\ngreeting = [\"goodbye\"]\n\
         choices = { \"1\" = \"bye\" }\ntimeout_ms = 60000\nmax_timeouts = 2\n\
         on_no_input = \"bye\"\non_failure = \"bye\"\n\n[nodes.bye]\ntype = \"hangup\"\n",
    )
    .expect("flow");
    // The carrier's registrar, up before ivrd registers with it.
    let registrar_port = common::free_udp_port();
    let registrar = common::start_agent("trunk-registrar.xml", registrar_port, &[]);
    std::fs::write(
        &config,
        format!(
            "[rtp]\ninactivity_s = 300\n[flows]\ndir = \"{}\"\ndefault = \"wait\"\n\
             [sip.admission]\nallow = [\"127.0.0.1/32\"]\n\
             [http]\nadmin_token_env = \"IVRD_TEST_ADMIN\"\n\
             [trunks.carrier]\nproxy = \"127.0.0.1:{registrar_port}\"\nusername = \"ivrd-trunk\"\n\
             password_env = \"IVRD_TEST_TRUNK_PASSWORD\"\nregister = true\n\
             [trunks.secure]\nproxy = \"127.0.0.5:5060\"\nsources = [\"127.0.0.5\"]\n\
             srtp = \"required\"\n",
            flows.display()
        ),
    )
    .expect("config");
    let http = common::free_tcp_port();
    let http_at = format!("127.0.0.1:{http}");
    let ivrd = Ivrd::start_with_env(
        &[
            "--config",
            config.to_str().expect("utf-8 path"),
            "--http",
            &http_at,
        ],
        &[
            ("IVRD_TEST_ADMIN", TOKEN),
            ("IVRD_TEST_TRUNK_PASSWORD", "trunk-s3cret"),
        ],
    );
    // Challenged, answered, verified by SIPp, granted 60 s.
    let (ok, out) = finish(registrar, 20);
    assert!(
        ok,
        "the trunk registrar failed:\n{out}\n{}",
        ivrd.log_text()
    );
    common::wait_until("the registration logged", 5, || {
        ivrd.log_text()
            .lines()
            .any(|l| l.contains("registered") && l.contains("expires_s=60"))
    });
    let auth = format!("Bearer {TOKEN}");
    let (_, metrics) = common::http("GET", http, "/metrics", &[("Authorization", &auth)], "");
    assert!(
        metrics.contains("ivrd_trunk_up{trunk=\"carrier\"} 1"),
        "{metrics}"
    );
    let (st_tap, prack_tap) = (RtpTap::start(), RtpTap::start());
    let st_id = format!("session-timer-{}@127.0.0.1", std::process::id());
    let prack_id = format!("prack-{}@127.0.0.1", std::process::id());

    let started = Instant::now();
    let session = caller(&ivrd, "session-timer.xml", "900", 2000, st_tap.port, &st_id)
        .args(["-timeout", "100s"])
        .spawn()
        .expect("start the session-timer caller");
    let prack = caller(&ivrd, "prack.xml", "900", 1500, prack_tap.port, &prack_id)
        .spawn()
        .expect("start the PRACK caller");
    let (ok, out) = finish(prack, 30);
    assert!(ok, "the 100rel caller failed:\n{out}\n{}", ivrd.log_text());
    // From 127.0.0.3, outside the allow-list: 403 at once.
    let unlisted = caller(
        &ivrd,
        "unlisted.xml",
        "900",
        0,
        prack_tap.port,
        "unlisted@127.0.0.3",
    )
    .args(["-i", "127.0.0.3", "-mi", "127.0.0.3"])
    .spawn()
    .expect("start the unlisted caller");
    let (ok, out) = finish(unlisted, 20);
    assert!(
        ok,
        "the unlisted caller failed:\n{out}\n{}",
        ivrd.log_text()
    );
    assert!(
        ivrd.log_text().contains("source not allowed to call"),
        "{}",
        ivrd.log_text()
    );
    // Plain RTP from the trunk that requires SRTP: 488.
    let plain = caller(
        &ivrd,
        "srtp-required.xml",
        "900",
        0,
        prack_tap.port,
        "plain@127.0.0.5",
    )
    .args(["-i", "127.0.0.5", "-mi", "127.0.0.5"])
    .spawn()
    .expect("start the plain caller");
    let (ok, out) = finish(plain, 20);
    assert!(
        ok,
        "the plain-RTP caller got no 488:\n{out}\n{}",
        ivrd.log_text()
    );
    // SRTP offered, then media not protected with the key offered: nothing is heard.
    let wrong_id = format!("srtp-wrong-key-{}@127.0.0.1", std::process::id());
    let wrong = caller(
        &ivrd,
        "srtp-wrong-key.xml",
        "900",
        0,
        prack_tap.port,
        &wrong_id,
    )
    .spawn()
    .expect("start the wrong-key caller");
    let (ok, out) = finish(wrong, 30);
    assert!(
        ok,
        "the wrong-key caller failed:\n{out}\n{}",
        ivrd.log_text()
    );
    let ended = ivrd.media_ended(&wrong_id);
    let lines = ivrd.call_lines(&wrong_id);
    assert!(!lines.iter().any(|l| l.contains(" digit ")), "{lines:#?}");
    assert!(
        ended.contains("srtp=true") && ended.contains("delivered=0 "),
        "{ended}"
    );
    assert!(
        !ended.contains("srtp_refused=0 "),
        "nothing refused: {ended}"
    );
    let (ok, out) = finish(session, 100);
    let took = started.elapsed();
    assert!(
        ok,
        "the session-timer caller failed:\n{out}\n{}",
        ivrd.log_text()
    );
    // 2 s to the UPDATE, then 90 − 30 s.
    assert!(
        (Duration::from_secs(61)..Duration::from_secs(70)).contains(&took),
        "ivrd's BYE came {took:?} after the INVITE"
    );
    let _ = (st_tap.finish(), prack_tap.finish());

    let deadline = Instant::now() + Duration::from_secs(10);
    while (cdr(http, &st_id).is_none() || cdr(http, &prack_id).is_none())
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let st = cdr(http, &st_id).expect("the session-timer call's CDR");
    assert_eq!(st["disposition"], "session_expired", "{st}");
    assert_eq!(st["ended_by"], "ivrd", "{st}");
    let prack = cdr(http, &prack_id).expect("the PRACK call's CDR");
    assert_eq!(prack["disposition"], "caller_hung_up", "{prack}");
}
