//! The configured provider: the file provider (JSON lines, recognises repeats by idempotency
//! key, so a resubmission after a crash is not written twice), or an HTTP provider whose
//! request shape comes from `sms-gateway` and whose requests reqwest makes here.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sms_gateway::provider::kannel::Kannel;
use sms_gateway::provider::template::{BodyKind, Template};
use sms_gateway::provider::twilio::Twilio;
use sms_gateway::provider::{HttpMethod, HttpReply, Provider};
use sms_gateway::{Submission, SubmitResult};

use super::config::{SmsConfig, secret};

/// Longest wait for a provider's answer; a timeout is ambiguous (it may have been taken).
const SUBMIT_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Clone)]
pub(crate) enum Configured {
    File(Arc<FileProvider>),
    Http(Arc<dyn Provider>),
    Smpp(Arc<super::smpp::Link>),
}

impl Configured {
    pub(crate) fn from_config(config: &SmsConfig) -> anyhow::Result<Self> {
        let missing = |section: &str| {
            anyhow::anyhow!("sms.provider = {:?} needs [sms.{section}]", config.provider)
        };
        Ok(match config.provider.as_str() {
            "file" => Self::File(Arc::new(FileProvider::open(config.file.clone())?)),
            "kannel" => {
                let k = config.kannel.as_ref().ok_or_else(|| missing("kannel"))?;
                Self::Http(Arc::new(Kannel {
                    sendsms_url: k.sendsms_url.clone(),
                    username: k.username.clone(),
                    password: secret(&k.password, k.password_env.as_ref())?,
                    from: k.from.clone(),
                }))
            }
            "smpp" => {
                let s = config.smpp.as_ref().ok_or_else(|| missing("smpp"))?;
                Self::Smpp(super::smpp::Link::from_config(s)?)
            }
            "twilio" => {
                let t = config.twilio.as_ref().ok_or_else(|| missing("twilio"))?;
                Self::Http(Arc::new(Twilio {
                    api_base: t.api_base.clone(),
                    account_sid: t.account_sid.clone(),
                    auth_token: secret(&t.auth_token, t.auth_token_env.as_ref())?,
                    from: t.from.clone(),
                }))
            }
            "http" => {
                let t = config.http.as_ref().ok_or_else(|| missing("http"))?;
                let body = match t.body.as_str() {
                    "query" => BodyKind::Query,
                    "form" => BodyKind::Form,
                    "json" => BodyKind::Json,
                    other => anyhow::bail!("sms.http.body {other:?}: use query, form or json"),
                };
                let mut headers: Vec<(String, String)> = t
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                for (name, var) in &t.headers_env {
                    headers.push((name.clone(), secret("", Some(var))?));
                }
                Self::Http(Arc::new(Template {
                    url: t.url.clone(),
                    body,
                    fields: t
                        .fields
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    headers,
                    from: t.from.clone(),
                    id_pointer: t.id_pointer.clone(),
                }))
            }
            other => {
                anyhow::bail!("sms.provider {other:?}: use file, kannel, smpp, twilio or http")
            }
        })
    }

    /// Whether a repeated submission is recognised by the provider itself.
    pub(crate) fn dedupes(&self) -> bool {
        matches!(self, Self::File(_))
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::File(_) => "file",
            Self::Http(p) => p.name(),
            Self::Smpp(_) => "smpp",
        }
    }

    /// Submits and classifies; never fails, every failure is a [`SubmitResult`].
    pub(crate) async fn submit(
        &self,
        client: &reqwest::Client,
        sub: Submission,
        callback: &str,
    ) -> SubmitResult {
        match self {
            Self::File(file) => {
                let file = file.clone();
                tokio::task::spawn_blocking(move || file.append(&sub))
                    .await
                    .unwrap_or_else(|e| SubmitResult::Retryable {
                        reason: format!("file provider task: {e}"),
                        ambiguous: true,
                    })
            }
            Self::Smpp(link) => link.submit(sub).await,
            Self::Http(p) => {
                let req = p.request(&sub, callback);
                let mut builder = match req.method {
                    HttpMethod::Get => client.get(&req.url),
                    HttpMethod::Post => client.post(&req.url),
                }
                .timeout(SUBMIT_TIMEOUT);
                if let Some((user, pass)) = &req.basic_auth {
                    builder = builder.basic_auth(user, Some(pass));
                }
                for (k, v) in &req.headers {
                    builder = builder.header(k, v);
                }
                if let Some((ct, body)) = req.body {
                    builder = builder.header("Content-Type", ct).body(body);
                }
                match builder.send().await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        match resp.text().await {
                            Ok(body) => p.classify(&HttpReply { status, body }),
                            Err(e) => SubmitResult::Retryable {
                                reason: format!("HTTP {status}, body lost: {e}"),
                                ambiguous: (200..300).contains(&status),
                            },
                        }
                    }
                    Err(e) => SubmitResult::Retryable {
                        reason: e.to_string(),
                        // Refused or unresolvable: nothing was sent. A timeout may have been.
                        ambiguous: !(e.is_connect() || e.is_builder()),
                    },
                }
            }
        }
    }
}

/// Appends each message as a JSON line, once per idempotency key.
pub(crate) struct FileProvider {
    path: PathBuf,
    keys: Mutex<HashSet<String>>,
}

impl FileProvider {
    fn open(path: PathBuf) -> anyhow::Result<Self> {
        let mut keys = HashSet::new();
        match std::fs::File::open(&path) {
            Ok(f) => {
                for line in std::io::BufReader::new(f).lines() {
                    let line = line.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    let v: Option<serde_json::Value> = serde_json::from_str(&line).ok();
                    if let Some(key) = v.as_ref().and_then(|v| v["key"].as_str()) {
                        keys.insert(key.to_string());
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("{}: {e}", path.display()),
        }
        Ok(Self {
            path,
            keys: Mutex::new(keys),
        })
    }

    fn append(&self, sub: &Submission) -> SubmitResult {
        let mut keys = match self.keys.lock() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        };
        if keys.contains(&sub.key) {
            return SubmitResult::Accepted { provider_id: None };
        }
        let line = serde_json::json!({
            "id": sub.id.0,
            "key": sub.key,
            "call_id": sub.call_id,
            "purpose": sub.purpose,
            "to": sub.to.as_str(),
            "text": sub.text,
            "encoding": sub.encoding,
            "segments": sub.segments,
        });
        let written = (|| -> std::io::Result<()> {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            writeln!(f, "{line}")?;
            f.sync_data()
        })();
        match written {
            Ok(()) => {
                keys.insert(sub.key.clone());
                SubmitResult::Accepted { provider_id: None }
            }
            Err(e) => SubmitResult::Retryable {
                reason: format!("{}: {e}", self.path.display()),
                ambiguous: false,
            },
        }
    }
}
