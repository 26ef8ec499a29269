//! baresip 1.0 for `tests/phones.rs`: its `ctrl_tcp` client, the microphone tone it sends and
//! the reader of the recording it makes of what it hears.

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{free_tcp_port, free_udp_port};
use crate::support::{Kid, Scratch, ms, spawn, template, utf8};

/// A 16-bit PCM mono WAV at 8 kHz: a 440 Hz tone, `secs` long (baresip's microphone).
fn write_tone(path: &Path, secs: u32) {
    let n = 8000 * secs;
    let mut wav = Vec::with_capacity(44 + 2 * n as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + 2 * n).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    for field in [16u32, 1 | 1 << 16, 8000, 16000, 2 | 16 << 16] {
        wav.extend_from_slice(&field.to_le_bytes()); // size, PCM + mono, rate, bytes/s, block + bits
    }
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(2 * n).to_le_bytes());
    for i in 0..n {
        let s = (f64::from(i) * std::f64::consts::TAU * 440.0 / 8000.0).sin() * 8000.0;
        wav.extend_from_slice(&(s as i16).to_le_bytes());
    }
    fs::write(path, wav).expect("write tone");
}

/// RMS (full scale 1.0) of a 16-bit PCM WAV. A file still being written may have a zero or
/// too large data size in its header; then the rest of the file is the data.
fn wav_rms(path: &Path) -> f64 {
    let b = fs::read(path).expect("read WAV");
    let what = path.display();
    assert!(
        b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WAVE",
        "{what}: not a WAV"
    );
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let (mut at, mut bits) = (12, 0);
    while at + 8 <= b.len() {
        let size = u32::from_le_bytes([b[at + 4], b[at + 5], b[at + 6], b[at + 7]]) as usize;
        let body = at + 8;
        match &b[at..at + 4] {
            b"fmt " => {
                bits = u16_at(body + 14);
                assert!(
                    matches!(u16_at(body), 1 | 0xfffe) && bits == 16,
                    "{what}: not 16-bit PCM"
                );
            }
            b"data" => {
                assert_eq!(bits, 16, "{what}: no fmt chunk before the data");
                let end = if size == 0 || body + size > b.len() {
                    b.len()
                } else {
                    body + size
                };
                let samples = b[body..end].chunks_exact(2);
                let n = samples.len();
                assert!(n > 0, "{what}: no samples");
                let sum: f64 = samples
                    .map(|s| f64::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0)
                    .map(|s| s * s)
                    .sum();
                return (sum / n as f64).sqrt();
            }
            _ => {}
        }
        at = body + size + size % 2;
    }
    panic!("{what}: no data chunk");
}

/// A client of baresip's `ctrl_tcp`: netstring-framed JSON (`LEN:{…},`) both ways. Events
/// arrive between the responses and are kept until a wait takes them.
pub(crate) struct Ctrl {
    stream: TcpStream,
    buf: Vec<u8>,
    token: u32,
    /// Every event seen, and whether a wait took it.
    events: Vec<(Value, bool)>,
}

impl Ctrl {
    /// One message by `deadline`, or `None`.
    fn read(&mut self, deadline: Instant) -> Option<Value> {
        loop {
            if let Some(colon) = self.buf.iter().position(|&b| b == b':') {
                let len: usize = std::str::from_utf8(&self.buf[..colon])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .expect("netstring length");
                if self.buf.len() > colon + 1 + len {
                    assert_eq!(self.buf[colon + 1 + len], b',', "netstring end");
                    let body = &self.buf[colon + 1..colon + 1 + len];
                    let msg = serde_json::from_slice(body).expect("ctrl_tcp JSON");
                    self.buf.drain(..colon + 2 + len);
                    return Some(msg);
                }
            }
            let left = deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())?;
            self.stream
                .set_read_timeout(Some(left))
                .expect("read timeout");
            let mut chunk = [0u8; 16384];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("baresip closed ctrl_tcp"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return None;
                }
                Err(e) => panic!("ctrl_tcp: {e}"),
            }
        }
    }

    /// Sends a command; returns its response's `data`. Fails unless baresip says `ok`.
    pub(crate) fn cmd(&mut self, command: &str, params: &str) -> String {
        self.token += 1;
        let token = self.token.to_string();
        let body = json!({"command": command, "params": params, "token": token}).to_string();
        let frame = format!("{}:{body},", body.len());
        self.stream
            .write_all(frame.as_bytes())
            .expect("ctrl_tcp write");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let msg = self.read(deadline);
            let msg = msg.unwrap_or_else(|| panic!("baresip did not answer {command}"));
            if msg["event"] == true {
                self.events.push((msg, false));
            } else if msg["token"] == token.as_str() {
                assert!(msg["ok"] == true, "{command} {params}: {msg}");
                return msg["data"].as_str().unwrap_or_default().to_string();
            }
        }
    }

    /// Takes the first event not taken yet of one of `types` (and of call `id` if given),
    /// waiting up to `secs` for it.
    pub(crate) fn event(&mut self, types: &[&str], id: Option<&str>, secs: u64) -> Option<Value> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let wanted = |e: &Value| {
                types.iter().any(|t| e["type"] == *t) && id.is_none_or(|id| e["id"] == id)
            };
            if let Some((e, taken)) = self.events.iter_mut().find(|(e, t)| !t && wanted(e)) {
                *taken = true;
                return Some(e.clone());
            }
            let msg = self.read(deadline)?;
            if msg["event"] == true {
                self.events.push((msg, false));
            }
        }
    }

    /// Reads events for `d`.
    pub(crate) fn pump(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        while let Some(msg) = self.read(deadline) {
            if msg["event"] == true {
                self.events.push((msg, false));
            }
        }
    }
}

/// baresip 1.0 with a tone as microphone, recording what it hears (sndfile), tracing its SIP
/// (`-s`) and controlled over `ctrl_tcp`.
pub(crate) struct Baresip {
    _kid: Kid,
    pub(crate) ctrl: Ctrl,
    dir: Scratch,
}

impl Baresip {
    pub(crate) fn start(name: &str) -> Self {
        Self::start_with(name, "", "")
    }

    /// [`Baresip::start`] with `extra` lines appended to its config and `account` parameters
    /// (`;mediaenc=srtp-mand`) to its account.
    pub(crate) fn start_with(name: &str, extra: &str, account: &str) -> Self {
        let dir = Scratch::new(name);
        fs::create_dir_all(dir.join("rec")).expect("rec dir");
        write_tone(&dir.join("tone.wav"), 30);
        let (ctrl_port, sip_port) = (free_tcp_port().to_string(), free_udp_port().to_string());
        let (rec, tone) = (dir.join("rec"), dir.join("tone.wav"));
        let fill = [
            ("SIP_PORT", sip_port.as_str()),
            ("CTRL_PORT", &ctrl_port),
            ("REC_DIR", utf8(&rec)),
            ("TONE", utf8(&tone)),
            ("RTP_PORTS", "31000-31998"), // shared: baresip draws a port and skips ports in use
        ];
        template("baresip.config", &dir.join("config"), &fill);
        if !extra.is_empty() {
            let mut config = fs::read_to_string(dir.join("config")).expect("config");
            config.push_str(extra);
            fs::write(dir.join("config"), config).expect("config");
        }
        template(
            "baresip.accounts",
            &dir.join("accounts"),
            &[("ACCOUNT", account)],
        );
        fs::write(dir.join("contacts"), "").expect("contacts");
        let out = File::create(dir.join("baresip.out")).expect("baresip.out");
        let mut kid = spawn(
            Command::new("baresip")
                .arg("-s")
                .arg("-f")
                .arg(dir.path())
                .stdin(Stdio::null())
                .stdout(out.try_clone().expect("dup"))
                .stderr(out),
            "baresip",
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            if let Ok(s) = TcpStream::connect(format!("127.0.0.1:{ctrl_port}")) {
                break s;
            }
            let exited = kid.0.try_wait().expect("baresip status");
            let log = || fs::read_to_string(dir.join("baresip.out")).unwrap_or_default();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "no ctrl_tcp:\n{}",
                log()
            );
            sleep(ms(100));
        };
        let ctrl = Ctrl {
            stream,
            buf: Vec::new(),
            token: 0,
            events: Vec::new(),
        };
        Self {
            ctrl,
            dir,
            _kid: kid,
        }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&fs::read(self.dir.join("baresip.out")).unwrap_or_default()).into()
    }

    /// Dials `uri`; returns the Call-ID once the call is up and ivrd's RTP arrives.
    pub(crate) fn dial(&mut self, uri: &str) -> String {
        self.ctrl.cmd("dial", uri);
        let up = self
            .ctrl
            .event(&["CALL_ESTABLISHED", "CALL_CLOSED"], None, 10);
        let up = up.unwrap_or_else(|| panic!("{uri}: no answer\n{}", self.output()));
        assert_eq!(up["type"], "CALL_ESTABLISHED", "{uri}: {up}");
        let rtp = self.ctrl.event(&["CALL_RTPESTAB"], None, 5);
        assert!(rtp.is_some(), "{uri}: no RTP from ivrd");
        self.ctrl.events.iter_mut().for_each(|e| e.1 = true); // set-up events are done with
        up["id"].as_str().expect("Call-ID").to_string()
    }

    /// Sends each key by RFC 4733 (`sndcode`), 1.2 s apart.
    pub(crate) fn keys(&mut self, keys: &str) {
        for (i, key) in keys.chars().enumerate() {
            if i > 0 {
                self.ctrl.pump(ms(1200));
            }
            self.ctrl.cmd("sndcode", &key.to_string());
        }
    }

    /// Waits for ivrd's BYE, which baresip 1.0 reports as CALL_CLOSED "Connection reset by peer".
    pub(crate) fn expect_bye(&mut self, call: &str) {
        let closed = self.ctrl.event(&["CALL_CLOSED"], Some(call), 10);
        let closed = closed.unwrap_or_else(|| panic!("call {call} not closed:\n{}", self.output()));
        assert_eq!(
            closed["param"], "Connection reset by peer",
            "not ended by a BYE: {closed}"
        );
    }

    /// RTP packets received on the current call: `rcvd=` in `audio_debug` counts them on
    /// arrival, also while the call is held (when baresip decodes nothing).
    pub(crate) fn rtp_received(&mut self) -> u64 {
        let debug = self.ctrl.cmd("audio_debug", "");
        let digits = debug
            .split("rcvd=")
            .nth(1)
            .map(|s| s.split(|c: char| !c.is_ascii_digit()));
        let n = digits.and_then(|mut d| d.next()?.parse().ok());
        n.unwrap_or_else(|| panic!("no rcvd= in audio_debug:\n{debug}"))
    }

    /// RMS of what baresip heard from ivrd (sndfile's decoded recording of the first call).
    pub(crate) fn heard_rms(&self) -> f64 {
        let mut files: Vec<PathBuf> = fs::read_dir(self.dir.join("rec"))
            .expect("rec dir")
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .collect();
        files.sort();
        wav_rms(files.first().expect("sndfile wrote no *-dec.wav"))
    }

    /// baresip's SIP trace (`-s`): the transport and the start line of each message.
    pub(crate) fn sip_trace(&self) -> Vec<(String, String)> {
        let out = self.output();
        let lines: Vec<&str> = out.lines().collect();
        let message = |w: &[&str]| {
            let (transport, route) = w[0].split_once(' ')?;
            let traced = matches!(transport, "UDP" | "TCP" | "TLS") && route.contains(" -> ");
            traced.then(|| (transport.to_string(), w[1].trim().to_string()))
        };
        lines.windows(2).filter_map(message).collect()
    }
}
