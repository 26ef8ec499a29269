//! `config/ivrd.toml`: parsed strictly (unknown keys are errors), every key optional with an
//! embedded default, so `ivrd serve` runs with no file at all.

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
    pub(crate) demo: DemoSection,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct SipSection {
    /// UDP and TCP listen address.
    pub(crate) listen: SocketAddr,
    /// Address put in Contact and SDP when `listen` is a wildcard; found per peer if unset.
    pub(crate) advertise: Option<IpAddr>,
    pub(crate) t1_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RtpSection {
    /// First and last port of the RTP range (even ports are used).
    pub(crate) port_min: u16,
    pub(crate) port_max: u16,
    /// End a call after this long without RTP from the peer (0: never).
    pub(crate) inactivity_s: u64,
    /// Send G.711 silence while nothing plays.
    pub(crate) send_silence: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct MediaSection {
    /// Codec preference, first wins: "PCMU", "PCMA".
    pub(crate) codecs: Vec<String>,
    /// Prompt directory; prompts are `<dir>/<language>/<name>.wav` (any format symphonia reads).
    pub(crate) prompts: PathBuf,
    pub(crate) language: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct DemoSection {
    /// Ring this long before answering (lets a caller CANCEL).
    pub(crate) answer_after_ms: u64,
    /// Hang up after this long without a key press.
    pub(crate) idle_timeout_s: u64,
}

impl Default for SipSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 5060)),
            advertise: None,
            t1_ms: 500,
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
        }
    }
}

impl Default for MediaSection {
    fn default() -> Self {
        Self {
            codecs: vec!["PCMU".into(), "PCMA".into()],
            prompts: PathBuf::from("audio/prompts"),
            language: "en".into(),
        }
    }
}

impl Default for DemoSection {
    fn default() -> Self {
        Self {
            answer_after_ms: 200,
            idle_timeout_s: 30,
        }
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
        assert!(toml::from_str::<Config>("[sip]\nlisten_port = 1\n").is_err());
        assert!(Config::load(Path::new("/nonexistent/ivrd.toml"), false).is_ok());
        assert!(Config::load(Path::new("/nonexistent/ivrd.toml"), true).is_err());
    }
}
