//! Shared by the end-to-end tests: a real `ivrd serve` on 127.0.0.1 with its log captured, an
//! RTP tap, free ports, and `sipp` runs.
#![allow(dead_code, unreachable_pub, clippy::disallowed_methods)] // real processes, real time

pub mod kannel;

use std::io::Read;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub struct Ivrd {
    child: Child,
    log: PathBuf,
    pub port: u16,
    /// This instance's own `var` (SMS store and the file provider's output).
    pub var: PathBuf,
}

impl Ivrd {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts `ivrd serve` with extra arguments (e.g. `--config`).
    pub fn start_with(extra: &[&str]) -> Self {
        Self::start_with_env(extra, &[])
    }

    /// Starts `ivrd serve` with extra arguments and environment variables.
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Self {
        let port = free_udp_port();
        // Each instance its own 100 RTP ports: by process, and by instance within a process
        // (up to 8 at once). Below the ephemeral range (32768–60999), so that a port
        // `free_udp_port` handed to a SIPp is never bound for RTP before SIPp binds it.
        static INSTANCES: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        let instance = INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 8;
        let base = 10_000 + ((std::process::id() % 25) as u16 * 8 + instance) * 100;
        let log = std::env::temp_dir().join(format!("ivrd-sipp-{}-{port}.log", std::process::id()));
        let file = std::fs::File::create(&log).expect("log file");
        let var = match extra.iter().position(|a| *a == "--var") {
            Some(i) => PathBuf::from(extra[i + 1]),
            None => {
                let var =
                    std::env::temp_dir().join(format!("ivrd-var-{}-{port}", std::process::id()));
                let _ = std::fs::remove_dir_all(&var);
                var
            }
        };
        let child = Command::new(env!("CARGO_BIN_EXE_ivrd"))
            .current_dir(root())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--rtp-ports", &format!("{base}-{}", base + 98)])
            .args(match extra.contains(&"--http") {
                true => vec![],
                false => vec!["--http", "127.0.0.1:0"],
            })
            .args(match extra.contains(&"--var") {
                true => vec![],
                false => vec!["--var", var.to_str().expect("utf-8 temp dir")],
            })
            .args(extra)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start ivrd");
        let ivrd = Self {
            child,
            log,
            port,
            var,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ivrd.log_text().contains("listening for SIP") {
            assert!(
                Instant::now() < deadline,
                "ivrd did not start:\n{}",
                ivrd.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        ivrd
    }

    /// Starts `ivrd serve` with SIP over TLS too (`[sip.tls]`) on a port the kernel picks, with a
    /// certificate for 127.0.0.1 from a test CA, both made by `openssl`. Returns the TLS port
    /// and the CA's PEM file (a client's trust anchor).
    pub fn start_tls(name: &str) -> (Self, u16, PathBuf) {
        let dir = std::env::temp_dir().join(format!("ivrd-tls-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tls dir");
        let at = |f: &str| dir.join(f).to_str().expect("utf-8 path").to_string();
        let (ca, ca_key, cert, key, csr, ext) = (
            at("ca.pem"),
            at("ca.key"),
            at("cert.pem"),
            at("key.pem"),
            at("cert.csr"),
            at("ext.cnf"),
        );
        std::fs::write(
            &ext,
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .expect("ext");
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let steps: [Vec<&str>; 3] = [
            [
                &["req", "-x509"][..],
                &ec,
                &["-days", "2", "-subj", "/CN=ivrd test CA"],
            ]
            .concat(),
            [&["req"][..], &ec, &["-subj", "/CN=127.0.0.1", "-out", &csr]].concat(),
            vec![
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &cert,
            ],
        ];
        for (i, step) in steps.iter().enumerate() {
            let mut command = Command::new("openssl");
            command
                .args(step)
                .stderr(Stdio::null())
                .stdout(Stdio::null());
            match i {
                0 => command.args(["-keyout", &ca_key, "-out", &ca]),
                1 => command.args(["-keyout", &key]),
                _ => &mut command,
            };
            let made = command.status().expect("openssl (Debian: openssl)");
            assert!(made.success(), "openssl step {i} failed: {step:?}");
        }
        let ca = PathBuf::from(ca);
        let config = dir.join("ivrd.toml");
        std::fs::write(
            &config,
            format!(
                "[sip.tls]\nlisten = \"127.0.0.1:0\"\ncert = \"{}\"\nkey = \"{}\"\n",
                cert, key
            ),
        )
        .expect("config");
        let ivrd = Self::start_with(&["--config", config.to_str().expect("utf-8 path")]);
        // The port the kernel gave (one drawn here could be taken before ivrd binds it).
        let log = ivrd.log_text();
        let bound = log.lines().find(|l| l.contains("SIP over TLS"));
        let port = bound
            .and_then(|l| l.split("listen=127.0.0.1:").nth(1))
            .and_then(|p| p.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no TLS port in the log:\n{log}"));
        (ivrd, port, ca)
    }

    /// Starts `ivrd serve` with a config file, the HTTP API on `http_port`, the admin token
    /// `token` in the environment variable `token_env` (as the config names it), and `extra`
    /// arguments.
    pub fn start_admin(
        config: &Path,
        http_port: u16,
        (token_env, token): (&str, &str),
        extra: &[&str],
    ) -> Self {
        let http = format!("127.0.0.1:{http_port}");
        let mut args = vec![
            "--config",
            config.to_str().expect("utf-8 path"),
            "--http",
            &http,
        ];
        args.extend_from_slice(extra);
        Self::start_with_env(&args, &[(token_env, token)])
    }

    /// Starts `ivrd serve` for the SMS tests: a config file, a fixed HTTP port, its own `var`
    /// (kept across restarts), and secrets in the environment.
    pub fn start_sms(config: &Path, http_port: u16, var: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_with_env(
            &[
                "--config",
                config.to_str().expect("utf-8 path"),
                "--http",
                &format!("127.0.0.1:{http_port}"),
                "--var",
                var.to_str().expect("utf-8 path"),
            ],
            env,
        )
    }

    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Log lines of one call (by Call-ID).
    pub fn call_lines(&self, call_id: &str) -> Vec<String> {
        let needle = format!("call_id={call_id}");
        self.log_text()
            .lines()
            .filter(|l| l.contains(&needle))
            .map(str::to_string)
            .collect()
    }

    /// The leg's "media ended" line (its RTP, RTCP and SRTP counts), once the media ends
    /// (within 5 s).
    pub fn media_ended(&self, call_id: &str) -> String {
        let ended = || {
            let lines = self.call_lines(call_id);
            lines.into_iter().find(|l| l.contains("media ended"))
        };
        wait_until("the media to end", 5, || ended().is_some());
        ended().unwrap_or_default()
    }

    pub fn digits(&self, call_id: &str) -> String {
        self.call_lines(call_id)
            .iter()
            .filter(|l| l.contains(" digit "))
            .filter_map(|l| l.split(" key=").nth(1))
            .filter_map(|k| k.chars().next())
            .collect()
    }
}

impl Drop for Ivrd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A packet and when it arrived.
pub type Arrival = (Instant, Vec<u8>);

/// Records the RTP that ivrd sends to the address SIPp advertises.
pub struct RtpTap {
    pub port: u16,
    stop: Arc<AtomicBool>,
    packets: Arc<Mutex<Vec<Arrival>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RtpTap {
    pub fn start() -> Self {
        Self::talking(Vec::new(), 0, Duration::ZERO)
    }

    /// A tap that also talks: `delay` after the first packet from ivrd, it sends `audio`
    /// (G.711 at payload type `pt`, 160 bytes per 20 ms) back to where that packet came from,
    /// from the address it advertises (what a caller's phone does).
    pub fn talking(audio: Vec<u8>, pt: u8, delay: Duration) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("tap socket");
        let port = socket.local_addr().expect("addr").port();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let packets = Arc::new(Mutex::new(Vec::new()));
        let (s, p) = (stop.clone(), packets.clone());
        socket
            .set_read_timeout(Some(Duration::from_millis(5)))
            .expect("timeout");
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let mut peer: Option<(std::net::SocketAddr, Instant)> = None;
            let mut frames = audio.chunks(160).enumerate();
            while !s.load(Ordering::Relaxed) {
                if let Ok((n, from)) = socket.recv_from(&mut buf) {
                    let now = Instant::now();
                    p.lock().expect("lock").push((now, buf[..n].to_vec()));
                    peer.get_or_insert((from, now + delay));
                }
                let Some((to, start)) = peer else { continue };
                let now = Instant::now();
                while let Some((i, frame)) = frames.clone().next() {
                    if start + Duration::from_millis(20 * i as u64) > now {
                        break;
                    }
                    frames.next();
                    let mut packet = vec![0x80, pt];
                    packet.extend_from_slice(&(i as u16).to_be_bytes());
                    packet.extend_from_slice(&((i as u32) * 160).to_be_bytes());
                    packet.extend_from_slice(&0x7a11_ca11u32.to_be_bytes());
                    packet.extend_from_slice(frame);
                    let _ = socket.send_to(&packet, to);
                }
            }
        });
        Self {
            port,
            stop,
            packets,
            thread: Some(thread),
        }
    }

    pub fn finish(mut self) -> Vec<Arrival> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *self.packets.lock().expect("lock"))
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One HTTP/1.1 request on a fresh connection; returns status and body.
pub fn http(
    method: &str,
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request += &format!("{k}: {v}\r\n");
    }
    request += "\r\n";
    request += body;
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Polls `f` every 100 ms until it holds; fails after `secs`.
pub fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `POST /sms/send` with the operator token.
pub fn send_sms(port: u16, admin: &str, to: &str, text: &str, key: &str) -> (u16, String) {
    let body = serde_json::json!({"to": to, "text": text, "key": key}).to_string();
    let auth = format!("Bearer {admin}");
    http(
        "POST",
        port,
        "/sms/send",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        &body,
    )
}

/// One integer from the SQLite store, read-only.
pub fn query(db: &Path, sql: &str) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open store");
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

/// A tiny HTTP server on 127.0.0.1 that answers every request with 200 and `reply` (JSON), and
/// keeps each request (head and body) for the test: a chat API, a status webhook.
pub struct HttpHook {
    pub port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl HttpHook {
    pub fn start(reply: &'static str) -> Self {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse().ok())?
                            })
                            .unwrap_or(0usize);
                        if body.len() >= length {
                            break;
                        }
                    }
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                r.lock()
                    .expect("requests")
                    .push(String::from_utf8_lossy(&buf).into_owned());
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            }
        });
        Self {
            port,
            requests,
            stop,
        }
    }

    /// Every request, head and body.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("requests").clone()
    }

    /// Every request's first line.
    pub fn request_lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| r.lines().next().unwrap_or("").to_string())
            .collect()
    }
}

impl Drop for HttpHook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Whether `sipp` runs here; without it `what` did not run: said loudly, and a failure under CI.
pub fn have_sipp(what: &str) -> bool {
    if Command::new("sipp").arg("-v").output().is_ok() {
        return true;
    }
    let msg =
        format!("\n*** sipp not found: {what} did NOT run. Install Debian's sip-tester. ***\n");
    assert!(std::env::var_os("CI").is_none(), "{msg}");
    eprintln!("{msg}");
    false
}

/// Whether headless Chromium, node and playwright-core (in `target/browser`, as `.ci/run`
/// installs it) are here; without them `what` did not run: said loudly, and a failure under CI.
pub fn have_browser(what: &str) -> bool {
    let ok = Path::new("/usr/bin/chromium").exists()
        && root()
            .join("target/browser/node_modules/playwright-core")
            .exists()
        && Command::new("node").arg("--version").output().is_ok();
    if !ok {
        let msg = format!(
            "\n*** chromium, node or target/browser/node_modules/playwright-core missing: \
             {what} did NOT run (see .ci/run) ***\n"
        );
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("{msg}");
    }
    ok
}

/// SIPp from tests/sipp with common options (one call, 40 s timeout) and `args`.
pub fn sipp(args: &[&str]) -> Command {
    let mut cmd = Command::new("sipp");
    cmd.current_dir(root().join("tests/sipp"))
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-m", "1", "-nostdin"])
        .args(["-timeout", "40s", "-timeout_error"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits for `child` for up to `secs`; its success and output.
pub fn finish(mut child: Child, secs: u64) -> (bool, String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("sipp output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A SIPp caller: `scenario` dialling `service` on `ivrd`, its SDP naming the tap at
/// `rtp_port`, holding `hold_ms` where the scenario pauses; its Call-ID `call_id`. Runs to the end.
pub fn sipp_caller(
    ivrd: &Ivrd,
    scenario: &str,
    service: &str,
    hold_ms: u32,
    rtp_port: u16,
    call_id: &str,
) -> std::process::Output {
    caller(ivrd, scenario, service, hold_ms, rtp_port, call_id)
        .output()
        .expect("run the caller's sipp")
}

/// [`sipp_caller`]'s command, to spawn.
pub fn caller(
    ivrd: &Ivrd,
    scenario: &str,
    service: &str,
    hold_ms: u32,
    rtp_port: u16,
    call_id: &str,
) -> Command {
    sipp(&[
        &format!("127.0.0.1:{}", ivrd.port),
        "-sf",
        scenario,
        "-s",
        service,
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
        &rtp_port.to_string(),
        "-cid_str",
        call_id,
    ])
}

/// SIPp as an agent: `scenario` on `port`, its own media port, `extra` options; given 300 ms to
/// bind before anyone calls it.
pub fn start_agent(scenario: &str, port: u16, extra: &[&str]) -> Child {
    let (port, media) = (port.to_string(), (free_udp_port() & !1).to_string());
    let mut args = vec!["-sf", scenario, "-p", &port, "-mp", &media];
    args.extend_from_slice(extra);
    let agent = sipp(&args).spawn().expect("start the agent's sipp");
    std::thread::sleep(Duration::from_millis(300));
    agent
}

/// An admin API call with bearer `token` and a JSON body; the status and the parsed answer.
pub fn admin_api(
    port: u16,
    token: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let auth = format!("Bearer {token}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let (status, text) = http(method, port, path, &headers, body);
    (status, serde_json::from_str(&text).unwrap_or_default())
}

/// The keys ivrd logged as heard on the far side's leg (an agent's), in order.
pub fn far_digits(log: &str) -> String {
    log.lines()
        .filter(|l| l.contains("digit from the far side"))
        .filter_map(|l| l.split(" key=").nth(1)?.chars().next())
        .collect()
}

/// The shipped queue file for a test: alice's `contact = …` line becomes `alice` (her contact
/// or password, `logged_in`), bob is logged out, and `support` is added to
/// `[queues.support]`. Written into `dir`; its path.
pub fn queue_file(dir: &Path, alice: &str, support: &str) -> PathBuf {
    let shipped = std::fs::read_to_string(root().join("config/queues.toml")).expect("queues");
    let queues = shipped
        .replace("contact = \"sip:alice@127.0.0.1:5071\"\n", alice)
        .replace(
            "queues = { support = 0 }\n",
            "queues = { support = 0 }\nlogged_in = false\n",
        )
        .replace(
            "[queues.support]\n",
            &format!("[queues.support]\n{support}"),
        );
    std::fs::create_dir_all(dir).expect("temp dir");
    let file = dir.join("queues.toml");
    std::fs::write(&file, queues).expect("queue file");
    file
}

/// A queued SIPp caller (number +15551230000 dialling 500) at SIP `port`, its RTP advertised
/// at `rtp_port`, running `scenario` with `extra` arguments.
pub fn queued_caller(
    ivrd: &Ivrd,
    scenario: &str,
    port: u16,
    rtp_port: u16,
    extra: &[&str],
) -> Command {
    let (ivrd_addr, port, rtp) = (
        format!("127.0.0.1:{}", ivrd.port),
        port.to_string(),
        rtp_port.to_string(),
    );
    let mut args = vec![
        ivrd_addr.as_str(),
        "-sf",
        scenario,
        "-s",
        "500",
        "-p",
        &port,
        "-key",
        "ani",
        "+15551230000",
        "-key",
        "rtp_ip",
        "127.0.0.1",
        "-key",
        "rtp_port",
        &rtp,
    ];
    args.extend_from_slice(extra);
    sipp(&args)
}
