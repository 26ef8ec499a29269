//! `config/ivrd.toml`: parsed strictly (unknown keys are errors), every key optional with an
//! embedded default, so `ivrd serve` runs with no file at all.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sip_ua::AudioCodec;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Config {
    pub(crate) sip: SipSection,
    pub(crate) rtp: RtpSection,
    pub(crate) media: MediaSection,
    pub(crate) call: CallSection,
    pub(crate) flows: FlowsSection,
    pub(crate) data: DataSection,
    pub(crate) sms: crate::sms::config::SmsConfig,
    pub(crate) http: crate::sms::config::HttpSection,
    pub(crate) merchants: Vec<crate::sms::config::Merchant>,
    /// SIP trunks that dial nodes place calls through, by name.
    pub(crate) trunks: BTreeMap<String, Trunk>,
    pub(crate) push: PushSection,
    pub(crate) queues: QueuesSection,
    pub(crate) tickets: TicketsSection,
}

/// `[tickets]`: where a ticket goes when an agent's phone rings with it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct TicketsSection {
    /// The CRM's webhook: each ticket is POSTed as JSON, signed with
    /// `X-Ivrd-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    pub(crate) webhook_url: Option<String>,
    /// The environment variable holding the HMAC key.
    pub(crate) webhook_secret_env: Option<String>,
}

/// `[queues]`: where the queues and agents are.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct QueuesSection {
    /// The queue file (`config/queues.toml`).
    pub(crate) file: PathBuf,
}

impl Default for QueuesSection {
    fn default() -> Self {
        Self {
            file: PathBuf::from(DEFAULT_QUEUES),
        }
    }
}

const DEFAULT_QUEUES: &str = "config/queues.toml";

impl QueuesSection {
    /// A file named in the config must exist; the default may be missing.
    pub(crate) fn required(&self) -> bool {
        self.file != Path::new(DEFAULT_QUEUES)
    }
}

/// `[push]`: calls placed through `POST /calls`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct PushSection {
    /// Push calls placed per second, at most (429 above it).
    pub(crate) per_second: u32,
    /// How long a push call rings when the request gives no `ring_timeout_s`.
    pub(crate) ring_timeout_s: u64,
}

impl Default for PushSection {
    fn default() -> Self {
        Self {
            per_second: 10,
            ring_timeout_s: 30,
        }
    }
}

/// `[trunks.NAME]`: where calls placed through it go, and how they authenticate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Trunk {
    /// The trunk's SBC or outbound proxy (an IP address and port; UDP).
    pub(crate) proxy: SocketAddr,
    /// Host of the Request-URI for numbers (`sip:+1555…@domain`); the proxy's address if unset.
    pub(crate) domain: Option<String>,
    /// Digest credentials for its 401/407 challenges: the username, and the environment
    /// variable holding the password.
    pub(crate) username: Option<String>,
    pub(crate) password_env: Option<String>,
    /// The caller ID to present when the dial node gives none.
    pub(crate) caller_id: Option<String>,
    /// Most calls placed through it at once.
    #[serde(default = "default_max_calls")]
    pub(crate) max_calls: usize,
    /// Where its calls come from (addresses, CIDRs): taken besides `sip.admission.allow`.
    #[serde(default)]
    pub(crate) sources: Vec<String>,
    /// SRTP for calls from it (from its proxy or sources): "optional", "required", "off".
    #[serde(default)]
    pub(crate) srtp: Srtp,
    /// REGISTER with it as `username` (its digest credentials answering the challenge).
    #[serde(default)]
    pub(crate) register: bool,
    /// The binding's lifetime asked for.
    #[serde(default = "default_register_expires")]
    pub(crate) register_expires_s: u64,
    /// Send it OPTIONS this often, marking it down when they go unanswered.
    pub(crate) keepalive_s: Option<u64>,
}

fn default_max_calls() -> usize {
    100
}

fn default_register_expires() -> u64 {
    3600
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct SipSection {
    /// UDP and TCP listen address.
    pub(crate) listen: SocketAddr,
    /// Address put in Contact and SDP when `listen` is a wildcard; found per peer if unset.
    pub(crate) advertise: Option<IpAddr>,
    pub(crate) t1_ms: u64,
    /// Limits on new INVITEs (503 with Retry-After past them).
    pub(crate) admission: AdmissionSection,
    /// SIP over TCP: connection limits and timeouts.
    pub(crate) tcp: TcpSection,
    /// SIP over TLS, on a port of its own (the TCP limits apply).
    pub(crate) tls: TlsSection,
}

/// `[sip.tls]`: off unless `listen` is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct TlsSection {
    /// Where to take TLS connections (`0.0.0.0:5061`).
    pub(crate) listen: Option<SocketAddr>,
    /// The certificate chain (PEM), ours first.
    pub(crate) cert: Option<PathBuf>,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub(crate) key: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AdmissionSection {
    /// Calls being set up (INVITE received, no ACK yet), all sources together.
    pub(crate) max_setup: usize,
    /// Calls being set up from one source address.
    pub(crate) per_source_setup: usize,
    /// New INVITEs per second from one source, and the burst allowed.
    pub(crate) per_source_rate: u32,
    pub(crate) per_source_burst: u32,
    /// Retry-After of the 503, seconds.
    pub(crate) retry_after_s: u64,
    /// Sources exempt from the per-source limits (a trunk's SBC, a load generator).
    pub(crate) trusted: Vec<IpAddr>,
    /// Networks calls are taken from (with every trunk's `sources`); from anywhere else 403.
    /// Loopback by default; `["0.0.0.0/0", "::/0"]` takes calls from anywhere.
    pub(crate) allow: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct TcpSection {
    /// Close a connection after this long without a byte (once SIP has flowed on it; a dialog
    /// may be silent for as long as a call lasts).
    pub(crate) idle_s: u64,
    /// A message begun must be complete within this long (slow-header attacks).
    pub(crate) message_s: u64,
    /// Open connections from one source address.
    pub(crate) per_source: usize,
    /// Open connections in all.
    pub(crate) max_connections: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RtpSection {
    /// First and last port of the RTP range: each call takes an even port for RTP and the odd
    /// one above it for RTCP.
    pub(crate) port_min: u16,
    pub(crate) port_max: u16,
    /// End a call after this long without RTP from the peer (0: never).
    pub(crate) inactivity_s: u64,
    /// Send G.711 silence while nothing plays.
    pub(crate) send_silence: bool,
    /// Whose RTP a call hears: "sdp" (the SDP's address and port), "sdp_host" (any port of
    /// the SDP's address) or "first_source" (latch on the first, for callers behind NAT).
    pub(crate) accept_from: AcceptFrom,
    /// Send RTCP reports and read the peer's (round trip, the loss and jitter it sees).
    pub(crate) rtcp: bool,
    /// SRTP (SDES keys) for calls from no trunk: "optional", "required" or "off".
    pub(crate) srtp: Srtp,
}

/// `rtp.srtp`, `trunks.NAME.srtp`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Srtp {
    #[default]
    Optional,
    Required,
    Off,
}

impl From<Srtp> for call_control::SrtpPolicy {
    fn from(s: Srtp) -> Self {
        match s {
            Srtp::Optional => Self::Optional,
            Srtp::Required => Self::Required,
            Srtp::Off => Self::Off,
        }
    }
}

/// `rtp.accept_from`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AcceptFrom {
    Sdp,
    SdpHost,
    FirstSource,
}

impl From<AcceptFrom> for media::AcceptFrom {
    fn from(a: AcceptFrom) -> Self {
        match a {
            AcceptFrom::Sdp => Self::Sdp,
            AcceptFrom::SdpHost => Self::SdpHost,
            AcceptFrom::FirstSource => Self::FirstSource,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct MediaSection {
    /// Codec preference, first wins: "PCMU", "PCMA".
    pub(crate) codecs: Vec<String>,
    /// Prompt directory; prompts are `<dir>/<language>/<name>.wav` (any format symphonia reads).
    pub(crate) prompts: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct CallSection {
    /// Ring this long before answering (lets a caller CANCEL).
    pub(crate) answer_after_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct FlowsSection {
    /// Flow files: `<dir>/<name>.toml`.
    pub(crate) dir: PathBuf,
    /// Flow for dialled numbers not in `routes`.
    pub(crate) default: String,
    /// Dialled number (Request-URI user) → flow name.
    pub(crate) routes: BTreeMap<String, String>,
    /// Values overriding the flows' `[vars]` (API addresses, transfer targets, switches).
    pub(crate) vars: BTreeMap<String, String>,
}

/// Data sources for lookup nodes, by name.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub(crate) struct DataSection(pub(crate) BTreeMap<String, DataSource>);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DataSource {
    /// A CSV file with a header row.
    pub(crate) csv: PathBuf,
    /// The column looked up.
    pub(crate) key: String,
}

impl Default for SipSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 5060)),
            advertise: None,
            t1_ms: 500,
            admission: AdmissionSection::default(),
            tcp: TcpSection::default(),
            tls: TlsSection::default(),
        }
    }
}

impl Default for AdmissionSection {
    fn default() -> Self {
        let a = sip_ua::Admission::default();
        Self {
            max_setup: a.max_setup,
            per_source_setup: a.per_source_setup,
            per_source_rate: a.per_source_rate,
            per_source_burst: a.per_source_burst,
            retry_after_s: a.retry_after.as_secs(),
            trusted: a.trusted,
            allow: vec!["127.0.0.0/8".into(), "::1".into()],
        }
    }
}

impl AdmissionSection {
    /// The limits, held within the RTP ports: calls in setup may take at most half of them,
    /// and one source a quarter, so that a flood of unacknowledged calls never leaves callers
    /// from elsewhere without a port.
    pub(crate) fn to_admission(
        &self,
        rtp_ports: usize,
        trunks: &BTreeMap<String, Trunk>,
    ) -> sip_ua::Admission {
        let trunk_sources = trunks.values().flat_map(|t| &t.sources);
        let allow = self
            .allow
            .iter()
            .chain(trunk_sources)
            .filter_map(|n| n.parse().ok()) // checked when the file was read
            .collect();
        sip_ua::Admission {
            max_setup: self.max_setup.min(rtp_ports / 2).max(1),
            per_source_setup: self.per_source_setup.min(rtp_ports / 4).max(1),
            per_source_rate: self.per_source_rate,
            per_source_burst: self.per_source_burst,
            retry_after: Duration::from_secs(self.retry_after_s),
            trusted: self.trusted.clone(),
            allow,
        }
    }
}

impl Default for TcpSection {
    fn default() -> Self {
        Self {
            idle_s: 3_600,
            message_s: 10,
            per_source: 64,
            max_connections: 4_096,
        }
    }
}

impl Default for RtpSection {
    fn default() -> Self {
        Self {
            port_min: 20_000,
            port_max: 29_999,
            inactivity_s: 30,
            send_silence: true,
            accept_from: AcceptFrom::Sdp,
            rtcp: true,
            srtp: Srtp::Optional,
        }
    }
}

impl Default for MediaSection {
    fn default() -> Self {
        Self {
            codecs: vec!["PCMU".into(), "PCMA".into()],
            prompts: PathBuf::from("audio/prompts"),
        }
    }
}

impl Default for CallSection {
    fn default() -> Self {
        Self {
            answer_after_ms: 200,
        }
    }
}

impl Default for FlowsSection {
    fn default() -> Self {
        let routes = [
            ("100", "deflection"),
            ("200", "coupon"),
            ("300", "isp"),
            ("400", "dial"),
            ("500", "queue"),
        ];
        Self {
            dir: PathBuf::from("config/flows"),
            default: "demo".into(),
            routes: routes
                .iter()
                .map(|(n, f)| (n.to_string(), f.to_string()))
                .collect(),
            vars: BTreeMap::new(),
        }
    }
}

impl Default for DataSection {
    fn default() -> Self {
        let source = |file: &str, key: &str| DataSource {
            csv: PathBuf::from("config/data").join(file),
            key: key.into(),
        };
        Self(BTreeMap::from([
            ("customers".to_string(), source("customers.csv", "phone")),
            ("contracts".to_string(), source("customers.csv", "contract")),
            ("outages".to_string(), source("outages.csv", "area")),
        ]))
    }
}

impl Config {
    /// Reads `path`; a missing file at the default path means embedded defaults.
    pub(crate) fn load(path: &Path, required: bool) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Self::default());
            }
            Err(e) => anyhow::bail!("{}: {e}", path.display()),
        };
        let config: Self =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        config
            .check()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        self.codecs()?;
        if self.rtp.port_min > self.rtp.port_max || self.rtp.port_max - self.rtp.port_min < 2 {
            return Err("rtp.port_min..port_max must hold at least two ports".into());
        }
        if self.sip.t1_ms == 0 {
            return Err("sip.t1_ms must be positive".into());
        }
        let t = &self.sip.tcp;
        if t.idle_s == 0 || t.message_s == 0 || t.per_source == 0 || t.max_connections == 0 {
            return Err("sip.tcp: every limit must be positive".into());
        }
        let tls = &self.sip.tls;
        if tls.listen.is_some() && (tls.cert.is_none() || tls.key.is_none()) {
            return Err("sip.tls: listen needs cert and key (PEM files)".into());
        }
        if tls.listen.is_some_and(|at| {
            at.port() == self.sip.listen.port() && at.ip() == self.sip.listen.ip()
        }) {
            return Err("sip.tls: listen must differ from sip.listen (TCP is there)".into());
        }
        let a = &self.sip.admission;
        if a.max_setup == 0 || a.per_source_setup == 0 || a.per_source_rate == 0 {
            return Err("sip.admission: setup limits and the rate must be positive".into());
        }
        let networks = a.allow.iter().map(|n| ("sip.admission.allow", n)).chain(
            self.trunks
                .iter()
                .flat_map(|(name, t)| t.sources.iter().map(move |n| (name.as_str(), n))),
        );
        let bad: Vec<String> = networks
            .filter_map(|(at, n)| {
                let e = n.parse::<sip_ua::SourceNet>().err()?;
                Some(format!("{at}: {e}"))
            })
            .collect();
        if !bad.is_empty() {
            return Err(bad.join("; "));
        }
        for (name, t) in &self.trunks {
            if t.register && t.username.is_none() {
                return Err(format!("trunks.{name}: register needs a username"));
            }
            if t.register && !(60..=86_400).contains(&t.register_expires_s) {
                return Err(format!("trunks.{name}: register_expires_s is 60 to 86400"));
            }
            if t.keepalive_s.is_some_and(|k| !(5..=3600).contains(&k)) {
                return Err(format!("trunks.{name}: keepalive_s is 5 to 3600"));
            }
        }
        if self.push.per_second == 0 || !(1..=300).contains(&self.push.ring_timeout_s) {
            return Err("push: per_second must be positive, ring_timeout_s 1 to 300".into());
        }
        Ok(())
    }

    pub(crate) fn codecs(&self) -> Result<Vec<AudioCodec>, String> {
        let codecs = self
            .media
            .codecs
            .iter()
            .map(|c| match c.to_ascii_uppercase().as_str() {
                "PCMU" => Ok(AudioCodec::Pcmu),
                "PCMA" => Ok(AudioCodec::Pcma),
                other => Err(format!(
                    "media.codecs: unknown codec {other:?} (PCMU, PCMA)"
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if codecs.is_empty() {
            return Err("media.codecs is empty".into());
        }
        Ok(codecs)
    }

    /// How many RTP ports the range holds (even ports).
    pub(crate) fn rtp_ports(&self) -> usize {
        let first = self.rtp.port_min + self.rtp.port_min % 2;
        usize::from(self.rtp.port_max.saturating_sub(first).div_ceil(2))
    }

    pub(crate) fn t1(&self) -> Duration {
        Duration::from_millis(self.sip.t1_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_parses_and_unknown_keys_fail() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/ivrd.toml");
        let config = Config::load(&path, true).expect("config/ivrd.toml");
        assert_eq!(config.sip.listen.port(), 5060);
        let defaults = Config::default();
        assert_eq!(config.flows.routes, defaults.flows.routes);
        assert_eq!(config.data.0.len(), defaults.data.0.len());
        assert!(toml::from_str::<Config>("[sip]\nlisten_port = 1\n").is_err());
        assert!(Config::load(Path::new("/nonexistent/ivrd.toml"), false).is_ok());
        assert!(Config::load(Path::new("/nonexistent/ivrd.toml"), true).is_err());
    }
}
