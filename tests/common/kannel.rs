//! A real Kannel on 127.0.0.1 for the tests: bearerbox + smsbox + `fakesmsc` as the handset
//! (Debian `kannel`, `kannel-extras`), on free ports.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_tcp_port;

pub const FAKESMSC: &str = "/usr/lib/kannel/test/fakesmsc";

/// Whether Kannel is installed; without it `what` did not run (said loudly; fails under CI).
pub fn have_kannel(what: &str) -> bool {
    if Command::new("bearerbox").arg("--version").output().is_ok() && Path::new(FAKESMSC).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install kannel and kannel-extras"
    );
    eprintln!("\n*** SKIPPED: {what}: kannel / kannel-extras not installed ***\n");
    false
}

pub struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn spawn(program: &str, args: &[&str], log: &Path) -> Proc {
    let out = std::fs::File::create(log).expect("log file");
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log file"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    Proc(child)
}

pub struct Kannel {
    dir: PathBuf,
    conf: PathBuf,
    pub smsc_port: u16,
    pub sendsms_port: u16,
    pub bearerbox: Option<Proc>,
    pub smsbox: Option<Proc>,
    /// The fake SMSC client that receives every message.
    phone: Option<Proc>,
    phones: usize,
}

impl Kannel {
    pub fn start(dir: &Path, ivrd_http: u16) -> Self {
        let (admin, boxes, smsc, sendsms) = (
            free_tcp_port(),
            free_tcp_port(),
            free_tcp_port(),
            free_tcp_port(),
        );
        let conf = dir.join("kannel.conf");
        let d = dir.display();
        std::fs::write(
            &conf,
            format!(
                "group = core\nadmin-port = {admin}\nadmin-password = adminpw\nsmsbox-port = {boxes}\n\
                 box-allow-ip = \"127.0.0.1\"\nadmin-allow-ip = \"127.0.0.1\"\nlog-file = \"{d}/bearerbox.log\"\n\
                 log-level = 0\ndlr-storage = internal\n\n\
                 group = smsc\nsmsc = fake\nsmsc-id = fake\nhost = 127.0.0.1\nport = {smsc}\n\
                 connect-allow-ip = \"127.0.0.1\"\n\n\
                 group = smsbox\nbearerbox-host = 127.0.0.1\nbearerbox-port = {boxes}\n\
                 sendsms-port = {sendsms}\nlog-file = \"{d}/smsbox.log\"\nlog-level = 0\n\n\
                 group = sendsms-user\nusername = ivrd\npassword = sendpw\nconcatenation = true\n\
                 max-messages = 10\n\n\
                 group = sms-service\nkeyword = default\n\
                 get-url = \"http://127.0.0.1:{ivrd_http}/sms/kannel/mo?from=%p&to=%P&text=%a\"\n\
                 omit-empty = true\nmax-messages = 1\n"
            ),
        )
        .expect("kannel.conf");
        let mut k = Self {
            dir: dir.to_path_buf(),
            conf,
            smsc_port: smsc,
            sendsms_port: sendsms,
            bearerbox: None,
            smsbox: None,
            phone: None,
            phones: 0,
        };
        let conf = k.conf.to_str().expect("utf-8").to_string();
        k.bearerbox = Some(spawn("bearerbox", &[&conf], &dir.join("bearerbox.out")));
        wait_for_port(smsc);
        k.start_smsbox();
        // The receiving handset: fakesmsc stays connected after its one (harmless) MO.
        k.phone_sends("+15550000000", "hello");
        k
    }

    pub fn start_smsbox(&mut self) {
        let conf = self.conf.to_str().expect("utf-8").to_string();
        self.smsbox = Some(spawn("smsbox", &[&conf], &self.dir.join("smsbox.out")));
        wait_for_port(self.sendsms_port);
    }

    /// Sends one MO. The fake SMSC takes one client at a time, so the handset reconnects as
    /// a new fakesmsc that sends it and then keeps receiving (bearerbox queues meanwhile).
    pub fn phone_sends(&mut self, from: &str, text: &str) {
        self.phone = None;
        self.phones += 1;
        let port = self.smsc_port.to_string();
        let message = format!("{from} 12345 text {text}");
        let args = [
            "-H",
            "127.0.0.1",
            "-r",
            &port,
            "-i",
            "1",
            "-m",
            "1",
            &message,
        ];
        let log = self.dir.join(format!("phone-{}.out", self.phones));
        self.phone = Some(spawn(FAKESMSC, &args, &log));
    }

    /// Messages the handset got: `from to type text…` lines.
    pub fn received(&self) -> Vec<String> {
        let text: String = (1..=self.phones)
            .map(|i| {
                std::fs::read_to_string(self.dir.join(format!("phone-{i}.out"))).unwrap_or_default()
            })
            .collect();
        text.lines()
            .filter_map(|l| l.split_once("Got message ").map(|(_, m)| m.to_string()))
            .filter_map(|m| {
                m.split_once(": <")
                    .map(|(_, m)| m.trim_end_matches('>').to_string())
            })
            .collect()
    }
}

pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(100));
    }
}
