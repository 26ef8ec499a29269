//! Real SIP phones calling a real `ivrd serve`: baresip (driven through its `ctrl_tcp` module),
//! linphone-daemon (its `--pipe` socket) and twinkle-console (its stdin and stdout). Their
//! config templates and the drivers are in `tests/phones/`.
//!
//! baresip binds only the address it is given, so it calls an ivrd on the host's loopback.
//! linphone and twinkle bind every interface, so each runs with its own ivrd in a private network
//! namespace: an `unshare -n` holder process, joined with `nsenter -t PID -n`. The drivers stay
//! outside, because the unix socket, the pipes and the log files cross the boundary.
//!
//! Needs Debian's baresip-core, linphone-cli and twinkle-console, and for the namespaces root
//! (and `ip` from iproute2 or `python3`, to bring `lo` up). A test whose phone cannot run says so
//! loudly and passes, except under CI (`CI` set), where it fails. A failed test keeps its phone's
//! logs and configs in a temp directory it names.
//!
//! These are real processes on 127.0.0.1 in real time, so this file reads the clock and sleeps.
#![allow(clippy::disallowed_methods)]

#[path = "phones/baresip.rs"]
mod baresip;
mod common;
#[path = "phones/support.rs"]
mod support;

use std::fs::{self, File};
use std::io::Write;
use std::process::Stdio;
use std::thread::sleep;

use baresip::Baresip;
use common::{Ivrd, free_udp_port, wait_until};
use support::{LinphonePipe, NetNs, NsIvrd, Scratch, Transcript, ms, spawn, template, utf8};

/// Whether `programs` are all on PATH and, if `needs_root`, we are root. If not, says so loudly;
/// under CI that is a failure.
fn can_run(programs: &[&str], packages: &str, needs_root: bool) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = |p: &&str| std::env::split_paths(&path).any(|d| d.join(p).is_file());
    let missing: Vec<&str> = programs.iter().filter(|p| !on_path(p)).copied().collect();
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"));
    let root = uid.and_then(|u| u.split_whitespace().next()) == Some("0");
    let why = if !missing.is_empty() {
        format!("{} not found (Debian: {packages})", missing.join(", "))
    } else if needs_root && !root {
        "not root: a private network namespace needs root".to_string()
    } else {
        return true;
    };
    let msg = format!("\n*** {why}: this phone test did NOT run. ***\n");
    assert!(std::env::var_os("CI").is_none(), "{msg}");
    eprintln!("{msg}");
    false
}

/// The demo call of the first two tests: dial, hear the prompt, press 1 2 #, get ivrd's BYE.
fn baresip_demo(name: &str, transport: &str) -> Baresip {
    let ivrd = Ivrd::start();
    let port = ivrd.port;
    demo_call(&ivrd, Baresip::start(name), name, port, transport).0
}

/// `phone` calls the demo flow of `ivrd` on `port` (URI parameters `params`): hears the
/// prompt, presses 1 2 #, gets ivrd's BYE. Returns the phone and the call's Call-ID.
fn demo_call(
    ivrd: &Ivrd,
    mut phone: Baresip,
    name: &str,
    port: u16,
    params: &str,
) -> (Baresip, String) {
    let call = phone.dial(&format!("sip:999@127.0.0.1:{port}{params}"));
    phone.ctrl.pump(ms(1000));
    phone.keys("12#");
    phone.expect_bye(&call);
    assert_eq!(ivrd.digits(&call), "12#", "{}", ivrd.log_text());
    let completed = |l: &String| l.contains("disposition=Completed");
    let done = || ivrd.call_lines(&call).iter().any(completed);
    wait_until("the demo flow to complete", 5, done);
    let rms = phone.heard_rms();
    eprintln!("{name}: baresip heard ivrd at RMS {rms:.3}");
    assert!(rms > 0.01, "baresip heard silence from ivrd (RMS {rms:.4})");
    (phone, call)
}

/// baresip with `mediaenc=srtp-mand` offers RTP/SAVP with SDES keys (RFC 4568); ivrd answers
/// with a key of its own, so baresip hears the prompt only by decrypting ivrd's SRTP, and its
/// RFC 4733 keys 1 2 # reach ivrd only by ivrd decrypting baresip's. No RTP packet is refused
/// (baresip's first RTCP, an APP "PING" sent before its SRTP is up, is: it is not SRTCP), and
/// baresip's SRTCP is read.
#[test]
fn baresip_calls_with_srtp() {
    if !can_run(&["baresip"], "baresip-core", false) {
        return;
    }
    let ivrd = Ivrd::start();
    let phone = Baresip::start_with(
        "baresip-srtp",
        "module\t\t\tsrtp.so\n",
        ";mediaenc=srtp-mand",
    );
    let (_phone, call) = demo_call(&ivrd, phone, "baresip-srtp", ivrd.port, "");
    let ended = ivrd.media_ended(&call);
    assert!(
        ended.contains(" srtp=true") && ended.contains(" srtp_refused=0"),
        "{ended}"
    );
    assert!(
        !ended.contains(" rtcp_in=0"),
        "baresip's SRTCP not read: {ended}"
    );
}

/// baresip calls the demo flow over UDP and hears the prompt. Its RFC 4733 keys 1 2 # reach ivrd
/// in order, and the call ends with ivrd's BYE.
#[test]
fn baresip_demo_call() {
    if can_run(&["baresip"], "baresip-core", false) {
        baresip_demo("baresip-demo", "");
    }
}

/// The same call dialled with `;transport=tcp`. Every SIP message of it goes over TCP, including
/// ivrd's 200 OK, the ACK and ivrd's BYE, according to baresip's own SIP trace. ivrd's Contact
/// once lacked `;transport=tcp`, so baresip sent the ACK over UDP.
#[test]
fn baresip_demo_call_over_tcp() {
    if !can_run(&["baresip"], "baresip-core", false) {
        return;
    }
    let phone = baresip_demo("baresip-tcp", ";transport=tcp");
    let trace = phone.sip_trace();
    let starts = |m: &str| trace.iter().any(|(_, line)| line.starts_with(m));
    for m in ["INVITE ", "SIP/2.0 200 OK", "ACK ", "BYE "] {
        assert!(starts(m), "no {m:?} in baresip's SIP trace: {trace:#?}");
    }
    let udp: Vec<_> = trace.iter().filter(|(t, _)| t != "TCP").collect();
    assert!(udp.is_empty(), "SIP over UDP on a TCP call: {udp:#?}");
}

/// baresip holds the call with a sendonly re-INVITE. ivrd answers recvonly and sends no RTP
/// until the resume, then sends again, and `#` still ends the call with ivrd's BYE. ivrd once
/// answered recvonly but went on playing its prompts to the held caller. baresip counts RTP on
/// arrival (`rcvd=` in `audio_debug`) even while held, when it decodes nothing.
#[test]
fn baresip_hold_and_resume() {
    if !can_run(&["baresip"], "baresip-core", false) {
        return;
    }
    let ivrd = Ivrd::start();
    let mut phone = Baresip::start("baresip-hold");
    let call = phone.dial(&format!("sip:999@127.0.0.1:{}", ivrd.port));
    phone.ctrl.pump(ms(1000));
    let before = phone.rtp_received();
    assert!(before > 20, "only {before} RTP packets before the hold");
    phone.ctrl.cmd("hold", "");
    let answered = phone.ctrl.event(&["CALL_REMOTE_SDP"], Some(&call), 5);
    assert!(answered.is_some(), "hold re-INVITE not answered");
    phone.ctrl.pump(ms(300)); // what was already on its way
    let at_hold = phone.rtp_received();
    phone.ctrl.pump(ms(2500));
    let held = phone.rtp_received() - at_hold;
    eprintln!("hold: {before} RTP packets before, {held} while held");
    assert_eq!(
        held, 0,
        "ivrd sent {held} RTP packets in 2.5 s to a caller it answered recvonly"
    );
    let lines = ivrd.call_lines(&call);
    let recvonly = lines.iter().any(|l| l.contains("direction=RecvOnly"));
    assert!(recvonly, "ivrd did not log the hold: {lines:#?}");
    phone.ctrl.cmd("resume", "");
    let answered = phone.ctrl.event(&["CALL_REMOTE_SDP"], Some(&call), 5);
    assert!(answered.is_some(), "resume re-INVITE not answered");
    phone.ctrl.pump(ms(1500));
    let resumed = phone.rtp_received() - at_hold;
    assert!(
        resumed > 40,
        "only {resumed} RTP packets in 1.5 s after the resume"
    );
    phone.keys("#");
    phone.expect_bye(&call);
}

/// baresip and ivrd exchange RTCP for 12 s, on RTP + 1 and then muxed on the RTP port
/// (baresip's `rtcp_mux yes` offers `a=rtcp-mux`, which ivrd answers): ivrd reads baresip's
/// reports (its receiver reports carry the LSR/DLSR of ivrd's sender reports), so the leg's
/// "media ended" line, which goes to the CDR, has reports in and out and a round trip; and
/// baresip read ivrd's reports (its `rtcp_stats`).
#[test]
fn baresip_and_ivrd_exchange_rtcp() {
    if !can_run(&["baresip"], "baresip-core", false) {
        return;
    }
    for mux in [false, true] {
        let ivrd = Ivrd::start();
        let extra = if mux { "rtcp_mux\t\tyes\n" } else { "" };
        let mut phone = Baresip::start_with(&format!("baresip-rtcp-{mux}"), extra, "");
        let call = phone.dial(&format!("sip:999@127.0.0.1:{}", ivrd.port));
        phone.ctrl.pump(ms(12_000));
        let stats = phone.ctrl.cmd("audio_debug", "");
        eprintln!("mux {mux}: baresip audio_debug: {stats}");
        // baresip's RTCP session lists ivrd's stream with the round trip ivrd's reports gave.
        let member = stats
            .lines()
            .find(|l| l.contains("member 0x") && l.contains("RTT="));
        assert!(
            member.is_some(),
            "mux {mux}: baresip has no RTT of ivrd: {stats}"
        );
        phone.keys("#");
        phone.expect_bye(&call);
        let line = ivrd.media_ended(&call);
        eprintln!("mux {mux}: {line}");
        let field = |name: &str| -> Option<u64> {
            let v = line.split(&format!(" {name}=")).nth(1)?;
            v.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        };
        assert!(
            field("rtcp_in").is_some_and(|n| n >= 1),
            "mux {mux}: {line}"
        );
        assert!(
            field("rtcp_out").is_some_and(|n| n >= 2),
            "mux {mux}: {line}"
        );
        let rtt = field("rtt_ms");
        assert!(
            rtt.is_some_and(|ms| ms < 100),
            "mux {mux}: no loopback round trip: {line}"
        );
        assert_eq!(field("invalid"), Some(0), "RTCP taken for RTP: {line}");
    }
}

/// baresip over TLS (trusting only the test CA of ivrd's certificate) and with SRTP calls the
/// demo flow at `sip:999@127.0.0.1:PORT;transport=tls`: it hears the prompt through SRTP, its
/// keys 1 2 # reach ivrd, and ivrd's BYE comes back over the TLS connection.
#[test]
fn baresip_calls_over_tls_with_srtp() {
    if !can_run(&["baresip", "openssl"], "baresip-core, openssl", false) {
        return;
    }
    let (ivrd, tls_port, ca) = Ivrd::start_tls("baresip");
    let config = format!("module\t\t\tsrtp.so\nsip_cafile\t\t{}\n", ca.display());
    let phone = Baresip::start_with("baresip-tls", &config, ";mediaenc=srtp-mand");
    let (phone, call) = demo_call(&ivrd, phone, "baresip-tls", tls_port, ";transport=tls");
    let trace = phone.sip_trace();
    let tls: Vec<&String> = trace
        .iter()
        .filter(|(t, _)| t == "TLS")
        .map(|(_, m)| m)
        .collect();
    assert!(
        tls.iter().any(|m| m.starts_with("INVITE ")) && tls.iter().any(|m| m.starts_with("BYE ")),
        "the INVITE and ivrd's BYE over TLS: {trace:#?}"
    );
    let ended = ivrd.media_ended(&call);
    assert!(
        ended.contains(" srtp=true") && ended.contains(" srtp_refused=0"),
        "{ended}"
    );
}

/// In the ISP flow (dial 300), key 1 at the main menu makes ivrd REFER baresip to sales. The test
/// points sales at a second ivrd through `[flows.vars]`. baresip calls it, ivrd ends the first
/// call as Transferred, and `#` on the new call gets the second ivrd's BYE.
#[test]
fn baresip_follows_refer() {
    if !can_run(&["baresip"], "baresip-core", false) {
        return;
    }
    let target = Ivrd::start();
    let dir = Scratch::new("baresip-refer-ivrd");
    let config = dir.join("ivrd.toml");
    let sales = format!("sip:sales@127.0.0.1:{}", target.port);
    fs::write(&config, format!("[flows.vars]\nsales = \"{sales}\"\n")).expect("config");
    let ivrd = Ivrd::start_with(&["--config", utf8(&config)]);
    let mut phone = Baresip::start("baresip-refer");
    let call = phone.dial(&format!("sip:300@127.0.0.1:{}", ivrd.port));
    // The greeting is not barge-in, and a key pressed during it is dropped: wait for the menu.
    let menu = || {
        ivrd.call_lines(&call)
            .iter()
            .any(|l| l.contains("prompts=main-menu"))
    };
    wait_until("the ISP main menu", 10, menu);
    phone.ctrl.pump(ms(300));
    phone.keys("1");
    let refer = phone.ctrl.event(&["TRANSFER"], Some(&call), 15);
    let refer = refer.unwrap_or_else(|| panic!("no REFER:\n{}", ivrd.log_text()));
    assert_eq!(refer["param"], format!("<{sales}>").as_str(), "Refer-To");
    let second = phone.ctrl.event(&["CALL_ESTABLISHED"], None, 10);
    let second = second.expect("call to sales up")["id"]
        .as_str()
        .expect("Call-ID")
        .to_string();
    phone.expect_bye(&call);
    let transferred = format!("disposition=Transferred(\"{sales}\")");
    let done = || {
        ivrd.call_lines(&call)
            .iter()
            .any(|l| l.contains(&transferred))
    };
    wait_until("disposition Transferred", 5, done);
    phone.ctrl.pump(ms(500));
    phone.keys("#");
    phone.expect_bye(&second);
    assert_eq!(target.digits(&second), "#", "{}", target.log_text());
}

/// linphone-daemon calls the demo flow and presses 1 2 #, and ivrd's BYE ends the call. ivrd once
/// took the BYE's Request-URI from linphone's RFC 5626 Contact up to its last `>`, which is
/// inside the quoted `+sip.instance="<urn:uuid:…>"`. linphone could not parse that BYE, dropped
/// it, and the call stayed up.
#[test]
fn linphone_gets_ivrds_bye() {
    if !can_run(
        &["linphone-daemon", "unshare", "nsenter"],
        "linphone-cli",
        true,
    ) {
        return;
    }
    let dir = Scratch::new("linphone");
    let ns = NetNs::new();
    let ivrd = NsIvrd::start(&ns, &dir);
    let home = dir.join("home");
    fs::create_dir_all(home.join(".local/share/linphone")).expect("linphone home");
    let rc = dir.join("linphonerc");
    let sip_port = free_udp_port().to_string();
    let fill = [
        ("SIP_PORT", sip_port.as_str()),
        ("RTP_PORTS", "47200-47220"),
    ];
    template("linphonerc", &rc, &fill);
    let pipe = format!("ivrd-phones-{}-{}", std::process::id(), ivrd.port);
    let _ = fs::remove_file(format!("/tmp/{pipe}"));
    let out = File::create(dir.join("daemon.out")).expect("daemon.out");
    let _daemon = spawn(
        ns.command("linphone-daemon")
            .env("HOME", &home)
            .args(["--config", utf8(&rc), "--pipe", &pipe])
            .args(["--log", utf8(&dir.join("daemon.log"))])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out),
        "linphone-daemon",
    );
    let mut lp = LinphonePipe::connect(&pipe);
    lp.send(&format!("call sip:999@127.0.0.1:{}", ivrd.port));
    let called = lp.said.wait_for("Status: Ok", 5, || ());
    assert!(called, "call: {}", lp.said.text());
    let up = lp.wait_state("LinphoneCallStreamsRunning", 10);
    assert!(up, "not up: {}\n{}", lp.said.text(), ivrd.log_text());
    sleep(ms(1000));
    for key in ["1", "2", "#"] {
        lp.send(&format!("dtmf {key}"));
        sleep(ms(1300));
    }
    let ended = lp.wait_state("LinphoneCallEnd", 8);
    assert!(
        ended,
        "linphone's call did not end with ivrd's BYE:\n{}",
        ivrd.log_text()
    );
    assert_eq!(ivrd.digits(), "12#", "{}", ivrd.log_text());
}

/// twinkle-console calls the demo flow and presses 1 2 #. It then reports ivrd's BYE as "far end
/// ended call.".
#[test]
fn twinkle_gets_ivrds_bye() {
    if !can_run(
        &["twinkle-console", "unshare", "nsenter"],
        "twinkle-console",
        true,
    ) {
        return;
    }
    let dir = Scratch::new("twinkle");
    let ns = NetNs::new();
    let ivrd = NsIvrd::start(&ns, &dir);
    let home = dir.join("home");
    fs::create_dir_all(home.join(".twinkle")).expect("twinkle home");
    let (sip, rtp) = (
        free_udp_port().to_string(),
        (free_udp_port() & !1).to_string(),
    );
    template("twinkle.cfg", &home.join(".twinkle/ivrd.cfg"), &[]);
    let fill = [("SIP_PORT", sip.as_str()), ("RTP_PORT", &rtp)];
    template("twinkle.sys", &home.join(".twinkle/twinkle.sys"), &fill);
    let mut twinkle = spawn(
        ns.command("twinkle-console")
            .arg("ivrd.cfg") // every argument is a profile in ~/.twinkle
            .env("HOME", &home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(dir.join("twinkle.err")).expect("twinkle.err")),
        "twinkle-console",
    );
    let said = Transcript::collect(twinkle.0.stdout.take().expect("stdout"));
    let mut stdin = twinkle.0.stdin.take().expect("stdin");
    let mut send = |line: &str| writeln!(stdin, "{line}").expect("twinkle stdin");
    assert!(
        said.wait_for("Twinkle> ", 15, || ()),
        "no prompt: {}",
        said.text()
    );
    send(&format!("call sip:999@127.0.0.1:{}", ivrd.port));
    let answered = said.wait_for("far end answered call.", 10, || ());
    assert!(answered, "{}\n{}", said.text(), ivrd.log_text());
    sleep(ms(1000));
    for key in ["1", "2", "#"] {
        send(&format!("dtmf {key}"));
        sleep(ms(1300));
    }
    let ended = said.wait_for("far end ended call.", 10, || ());
    assert!(
        ended,
        "no BYE from ivrd:\n{}\n{}",
        said.text(),
        ivrd.log_text()
    );
    assert_eq!(ivrd.digits(), "12#", "{}", ivrd.log_text());
    send("quit");
}
