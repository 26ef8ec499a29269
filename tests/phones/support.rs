//! Processes, scratch directories and config templates for `tests/phones.rs`, the network
//! namespace with its ivrd, and the text drivers of linphone-daemon and twinkle-console.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::common::{free_udp_port, root};

/// A child process, killed (by its PID) and reaped when dropped.
pub(crate) struct Kid(pub(crate) Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn spawn(cmd: &mut Command, what: &str) -> Kid {
    Kid(cmd.spawn().unwrap_or_else(|e| panic!("start {what}: {e}")))
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// A fresh scratch directory for one test: removed when dropped, kept if the test failed.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ivrd-phones-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    pub(crate) fn join(&self, path: &str) -> PathBuf {
        self.0.join(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("phone logs and configs kept in {}", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// Writes `tests/phones/<name>` to `to`, each `@KEY@` of `fill` replaced by its value.
pub(crate) fn template(name: &str, to: &Path, fill: &[(&str, &str)]) {
    let mut text = fs::read_to_string(root().join("tests/phones").join(name)).expect(name);
    for (key, value) in fill {
        text = text.replace(&format!("@{key}@"), value);
    }
    fs::write(to, text).expect("write config");
}

/// Brings `lo` up with the SIOCGIFFLAGS/SIOCSIFFLAGS ioctls, where `ip` (iproute2) is missing.
const LO_UP_PY: &str = r#"import socket, fcntl, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sh22x", fcntl.ioctl(s, 0x8913, struct.pack("16sh22x", b"lo", 0)))[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sh22x", b"lo", flags | 1))"#;

/// A private network namespace with only `lo` (up), held open by a `sleep` in it.
pub(crate) struct NetNs(Kid);

impl NetNs {
    pub(crate) fn new() -> Self {
        let script = r#"{ ip link set lo up 2>/dev/null || python3 -c "$LO_UP"; } && echo up && exec sleep 600"#;
        let mut holder = Command::new("unshare")
            .args(["-n", "sh", "-c", script])
            .env("LO_UP", LO_UP_PY)
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare");
        let mut said = String::new();
        let stdout = holder.stdout.take().expect("stdout");
        let _ = BufReader::new(stdout).read_line(&mut said);
        let holder = Kid(holder);
        let up = said.trim() == "up";
        assert!(
            up,
            "no network namespace with lo up (needs ip or python3): {said}"
        );
        Self(holder)
    }

    /// `program`, to run inside the namespace.
    pub(crate) fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.0.0.id().to_string(), "-n"])
            .arg(program);
        cmd
    }
}

/// `ivrd serve` inside a namespace, with the arguments `common::Ivrd` gives it on the host.
pub(crate) struct NsIvrd {
    _kid: Kid,
    log: PathBuf,
    pub(crate) port: u16,
}

impl NsIvrd {
    pub(crate) fn start(ns: &NetNs, dir: &Scratch) -> Self {
        let port = free_udp_port(); // free on the host, so surely in the empty namespace
        let log = dir.join("ivrd.log");
        let kid = spawn(
            ns.command(env!("CARGO_BIN_EXE_ivrd"))
                .current_dir(root())
                .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .args(["--rtp-ports", "40000-40098", "--http", "127.0.0.1:0"])
                .args(["--var", utf8(&dir.join("var"))])
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(File::create(&log).expect("ivrd log")),
            "ivrd in the namespace",
        );
        let ivrd = Self {
            _kid: kid,
            log,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ivrd.log_text().contains("listening for SIP") {
            let log = ivrd.log_text();
            assert!(Instant::now() < deadline, "ivrd did not start:\n{log}");
            sleep(ms(50));
        }
        ivrd
    }

    pub(crate) fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The keys ivrd logged, in order (the namespace holds one call).
    pub(crate) fn digits(&self) -> String {
        let text = self.log_text();
        let digit_lines = text.lines().filter(|l| l.contains(" digit "));
        let keys = digit_lines.filter_map(|l| l.split(" key=").nth(1));
        keys.filter_map(|k| k.chars().next()).collect()
    }
}

/// Everything a phone writes to a pipe or socket, collected by a thread.
#[derive(Clone, Default)]
pub(crate) struct Transcript(Arc<Mutex<String>>);

impl Transcript {
    pub(crate) fn collect(mut from: impl Read + Send + 'static) -> Self {
        let transcript = Self::default();
        let to = transcript.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = from.read(&mut chunk) {
                let text = String::from_utf8_lossy(&chunk[..n]);
                to.0.lock().expect("lock").push_str(&text);
            }
        });
        transcript
    }

    pub(crate) fn text(&self) -> String {
        self.0.lock().expect("lock").clone()
    }

    /// Waits up to `secs` for `needle`, calling `poke` every 200 ms meanwhile.
    pub(crate) fn wait_for(&self, needle: &str, secs: u64, mut poke: impl FnMut()) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.text().contains(needle) {
            if Instant::now() > deadline {
                return false;
            }
            poke();
            sleep(ms(200));
        }
        true
    }
}

/// The socket of `linphone-daemon --pipe NAME`, `/tmp/NAME`: one command a line, answered with
/// `Status: Ok` blocks; call states are queued until `pop-event` fetches them. The socket file
/// is removed when dropped.
pub(crate) struct LinphonePipe {
    stream: UnixStream,
    pub(crate) said: Transcript,
    path: PathBuf,
}

impl LinphonePipe {
    pub(crate) fn connect(name: &str) -> Self {
        let path = Path::new("/tmp").join(name);
        let deadline = Instant::now() + Duration::from_secs(15);
        let stream = loop {
            match UnixStream::connect(&path) {
                Ok(s) => break s,
                Err(e) => assert!(Instant::now() < deadline, "{}: {e}", path.display()),
            }
            sleep(ms(100));
        };
        let said = Transcript::collect(stream.try_clone().expect("clone"));
        Self { stream, said, path }
    }

    pub(crate) fn send(&mut self, line: &str) {
        let line = format!("{line}\n");
        self.stream
            .write_all(line.as_bytes())
            .expect("linphone pipe");
    }

    /// Waits for a call state, fetching the daemon's queued events meanwhile.
    pub(crate) fn wait_state(&mut self, state: &str, secs: u64) -> bool {
        let mut stream = self.stream.try_clone().expect("clone");
        let pop = || stream.write_all(b"pop-event\n").expect("linphone pipe");
        self.said.wait_for(state, secs, pop)
    }
}

impl Drop for LinphonePipe {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
