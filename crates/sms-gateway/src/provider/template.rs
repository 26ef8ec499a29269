//! A generic HTTP provider from a template, for gateways with a simple "send" call (the
//! Clickatell- and Voxeo-style examples of VoiceXML deflection guides): method, URL, and a
//! form or JSON body whose values may hold `{to}`, `{to_digits}`, `{text}`, `{id}`, `{from}`
//! and `{callback}`. Receipts come to `/sms/http/dlr?id=…&status=delivered|failed|…`.

use super::{HttpMethod, HttpReply, HttpRequest, Provider, Receipt, field, our_id, with_query};
use crate::SmsError;
use crate::outbox::{Inbound, ReceiptStatus, Submission, SubmitResult};

/// How the template's fields travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// In the URL query (GET).
    Query,
    /// `application/x-www-form-urlencoded` POST.
    Form,
    /// `application/json` POST (all values strings).
    Json,
}

/// A templated gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// URL (may hold variables).
    pub url: String,
    /// Where the fields go.
    pub body: BodyKind,
    /// Field name → value template.
    pub fields: Vec<(String, String)>,
    /// Extra headers (values may hold variables), e.g. an API key.
    pub headers: Vec<(String, String)>,
    /// Sender id for `{from}`.
    pub from: String,
    /// A JSON pointer to the provider's message id in a 2xx reply.
    pub id_pointer: Option<String>,
}

impl Template {
    fn fill(&self, template: &str, sub: &Submission, callback: &str) -> String {
        let dlr = format!(
            "{}/sms/http/dlr?id={}",
            callback.trim_end_matches('/'),
            sub.id
        );
        template
            .replace("{to}", sub.to.as_str())
            .replace("{to_digits}", sub.to.as_str().trim_start_matches('+'))
            .replace("{text}", &sub.text)
            .replace("{id}", &sub.id.to_string())
            .replace("{from}", &self.from)
            .replace("{callback}", &dlr)
    }
}

impl Provider for Template {
    fn name(&self) -> &'static str {
        "http"
    }

    fn request(&self, sub: &Submission, callback: &str) -> HttpRequest {
        let fields: Vec<(String, String)> = self
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), self.fill(v, sub, callback)))
            .collect();
        let headers = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), self.fill(v, sub, callback)))
            .collect();
        let url = self.fill(&self.url, sub, callback);
        let (method, url, body) = match self.body {
            BodyKind::Query => {
                let pairs: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                (HttpMethod::Get, with_query(&url, &pairs), None)
            }
            BodyKind::Form => {
                let mut form = form_urlencoded::Serializer::new(String::new());
                for (k, v) in &fields {
                    form.append_pair(k, v);
                }
                let body = (
                    "application/x-www-form-urlencoded".to_string(),
                    form.finish().into_bytes(),
                );
                (HttpMethod::Post, url, Some(body))
            }
            BodyKind::Json => {
                let map: serde_json::Map<String, serde_json::Value> = fields
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect();
                let body = serde_json::Value::Object(map).to_string().into_bytes();
                (
                    HttpMethod::Post,
                    url,
                    Some(("application/json".to_string(), body)),
                )
            }
        };
        HttpRequest {
            method,
            url,
            basic_auth: None,
            headers,
            body,
        }
    }

    fn classify(&self, reply: &HttpReply) -> SubmitResult {
        match super::classify_status(reply.status, &reply.body) {
            SubmitResult::Accepted { .. } => SubmitResult::Accepted {
                provider_id: self.id_pointer.as_ref().and_then(|p| {
                    let json: serde_json::Value = serde_json::from_str(&reply.body).ok()?;
                    let v = json.pointer(p)?;
                    Some(v.as_str().map_or_else(|| v.to_string(), str::to_string))
                }),
            },
            other => other,
        }
    }
}

/// A receipt callback's query or form pairs, parsed.
pub fn receipt(pairs: &[(String, String)]) -> Result<Receipt, SmsError> {
    let id = our_id(pairs)?;
    let state = field(pairs, "status").unwrap_or_default();
    let status = match state.to_ascii_lowercase().as_str() {
        "delivered" => ReceiptStatus::Delivered,
        "failed" | "undelivered" | "rejected" | "expired" => {
            ReceiptStatus::Failed(state.to_string())
        }
        "accepted" | "queued" | "sent" | "buffered" => ReceiptStatus::InTransit,
        _ => return Err(SmsError::BadCallback(format!("unknown status {state:?}"))),
    };
    Ok(Receipt {
        id,
        status,
        raw: state.to_string(),
    })
}

/// An inbound-message callback's pairs, parsed.
pub fn inbound(pairs: &[(String, String)]) -> Result<Inbound, SmsError> {
    let from = field(pairs, "from").ok_or_else(|| SmsError::BadCallback("no `from`".into()))?;
    Ok(Inbound {
        from: from.to_string(),
        to: field(pairs, "to").unwrap_or_default().to_string(),
        text: field(pairs, "text").unwrap_or_default().to_string(),
        media: Vec::new(),
    })
}
