//! `[sms]`, `[http]` and `[[merchants]]` of `config/ivrd.toml`. Secrets may come from the
//! environment: every `*_env` key names a variable read at start.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct SmsConfig {
    /// `file` (embedded default: JSON lines), `kannel`, `smpp`, `twilio` or `http`.
    pub(crate) provider: String,
    /// The file provider's output.
    pub(crate) file: PathBuf,
    /// The SQLite store.
    pub(crate) store: PathBuf,
    /// National numbers are read as this country's (ISO code).
    pub(crate) country: String,
    /// Number prefixes that may be messaged; `+` allows every country (fine for the file
    /// provider; restrict it for a paid gateway: SMS-pumping fraud).
    pub(crate) allowed_prefixes: Vec<String>,
    pub(crate) per_recipient_per_hour: u32,
    pub(crate) per_recipient_per_day: u32,
    pub(crate) max_segments: u32,
    /// Attempts before a message goes to the dead letters.
    pub(crate) max_attempts: u32,
    /// First retry wait; doubled each time up to `retry_max_ms`.
    pub(crate) retry_base_ms: u64,
    pub(crate) retry_max_ms: u64,
    /// Our public base URL, for receipt callbacks (Kannel dlr-url, Twilio StatusCallback).
    pub(crate) callback_base: String,
    /// The reply to an opt-out keyword, sent back by gateways that reply with the response
    /// body (Kannel); empty for none.
    pub(crate) stop_reply: String,
    pub(crate) kannel: Option<KannelConfig>,
    pub(crate) twilio: Option<TwilioConfig>,
    pub(crate) http: Option<TemplateConfig>,
    pub(crate) smpp: Option<SmppSection>,
}

/// `[sms.smpp]`: an SMPP 3.4 transceiver bind to the operator's SMSC.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SmppSection {
    /// `host:port` of the SMSC.
    pub(crate) address: String,
    pub(crate) system_id: String,
    #[serde(default)]
    pub(crate) password: String,
    pub(crate) password_env: Option<String>,
    #[serde(default)]
    pub(crate) system_type: String,
    /// Our sender: an E.164 number or an alphanumeric name.
    pub(crate) from: String,
    #[serde(default = "smpp_window")]
    pub(crate) window: usize,
    #[serde(default = "smpp_enquire_link_s")]
    pub(crate) enquire_link_s: u64,
    /// As Kannel's `msg-id-type`; unset compares message ids as strings.
    pub(crate) msg_id_type: Option<u8>,
}

fn smpp_window() -> usize {
    10
}

fn smpp_enquire_link_s() -> u64 {
    30
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KannelConfig {
    pub(crate) sendsms_url: String,
    pub(crate) username: String,
    #[serde(default)]
    pub(crate) password: String,
    pub(crate) password_env: Option<String>,
    pub(crate) from: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TwilioConfig {
    #[serde(default = "twilio_api")]
    pub(crate) api_base: String,
    pub(crate) account_sid: String,
    #[serde(default)]
    pub(crate) auth_token: String,
    pub(crate) auth_token_env: Option<String>,
    pub(crate) from: String,
    /// Refuse webhooks without a valid `X-Twilio-Signature` (on unless turned off).
    #[serde(default = "yes")]
    pub(crate) validate_signatures: bool,
}

fn yes() -> bool {
    true
}

fn twilio_api() -> String {
    "https://api.twilio.com".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplateConfig {
    pub(crate) url: String,
    /// `query`, `form` or `json`.
    pub(crate) body: String,
    pub(crate) fields: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
    /// Header values read from the environment: header name → variable.
    #[serde(default)]
    pub(crate) headers_env: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) from: String,
    pub(crate) id_pointer: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct HttpSection {
    /// Where receipts, inbound messages and coupon redemptions arrive.
    pub(crate) listen: SocketAddr,
    /// Bearer token for the agent-side routes (a call's inbound messages); unset: those
    /// routes answer 404.
    pub(crate) admin_token_env: Option<String>,
    /// `GET /metrics` asks for the admin token too (scrapers send it as a bearer token).
    pub(crate) metrics_need_token: bool,
}

/// A merchant that may redeem coupons.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Merchant {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) token: String,
    pub(crate) token_env: Option<String>,
    /// Campaigns it may redeem; empty: all.
    #[serde(default)]
    pub(crate) campaigns: Vec<String>,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            provider: "file".into(),
            file: PathBuf::from("var/sms-outbox.jsonl"),
            store: PathBuf::from("var/ivrd.sqlite"),
            country: "US".into(),
            allowed_prefixes: vec!["+".into()],
            per_recipient_per_hour: 5,
            per_recipient_per_day: 10,
            max_segments: 10,
            max_attempts: 8,
            retry_base_ms: 5_000,
            retry_max_ms: 600_000,
            callback_base: "http://127.0.0.1:8088".into(),
            stop_reply: "You are unsubscribed and will get no more messages. Reply START to \
                         subscribe again."
                .into(),
            kannel: None,
            twilio: None,
            http: None,
            smpp: None,
        }
    }
}

impl Default for HttpSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8088)),
            admin_token_env: None,
            metrics_need_token: false,
        }
    }
}

/// `value`, or the environment variable `env` names when given.
pub(crate) fn secret(value: &str, env: Option<&String>) -> anyhow::Result<String> {
    match env {
        Some(var) => {
            std::env::var(var).map_err(|_| anyhow::anyhow!("environment variable {var} is not set"))
        }
        None => Ok(value.to_string()),
    }
}
