//! Kannel's smsbox `sendsms` HTTP interface, with `dlr-url` delivery receipts and a
//! `get-url` service for inbound messages.
//!
//! Request: `GET /cgi-bin/sendsms?username&password&from&to&text&charset=UTF-8&coding=0|2
//! &dlr-mask=31&dlr-url=…`. Replies: 202 `0: Accepted for delivery`, 202 `3: Queued for later
//! delivery` (no SMSC connected; Kannel keeps it), 403 bad credentials, 400 bad request.
//! Receipt `type` (`%d`): 1 delivered, 2 undelivered, 4 buffered, 8 SMSC accepted, 16 SMSC
//! rejected.

use super::{HttpMethod, HttpReply, HttpRequest, Provider, Receipt, field, our_id, with_query};
use crate::SmsError;
use crate::outbox::{Inbound, ReceiptStatus, Submission, SubmitResult};
use crate::text::Encoding;

/// A Kannel smsbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kannel {
    /// `http://host:13013/cgi-bin/sendsms`.
    pub sendsms_url: String,
    /// sendsms-user username.
    pub username: String,
    /// sendsms-user password.
    pub password: String,
    /// Sender id.
    pub from: String,
}

impl Provider for Kannel {
    fn name(&self) -> &'static str {
        "kannel"
    }

    fn request(&self, sub: &Submission, callback: &str) -> HttpRequest {
        // Kannel substitutes %d (type), %T (time) and %A (SMSC reply) in the dlr-url.
        let dlr = format!(
            "{}/sms/kannel/dlr?id={}&type=%d&at=%T&reply=%A",
            callback.trim_end_matches('/'),
            sub.id
        );
        let coding = match sub.encoding {
            Encoding::Gsm7 => "0",
            Encoding::Ucs2 => "2",
        };
        let url = with_query(
            &self.sendsms_url,
            &[
                ("username", &self.username),
                ("password", &self.password),
                ("from", &self.from),
                ("to", sub.to.as_str()),
                ("text", &sub.text),
                ("charset", "UTF-8"),
                ("coding", coding),
                ("dlr-mask", "31"),
                ("dlr-url", &dlr),
            ],
        );
        HttpRequest {
            method: HttpMethod::Get,
            url,
            basic_auth: None,
            headers: Vec::new(),
            body: None,
        }
    }

    fn classify(&self, reply: &HttpReply) -> SubmitResult {
        let body = reply.body.trim();
        match reply.status {
            // "0: Accepted for delivery" or "3: Queued for later delivery": Kannel has it.
            200..=299 if body.starts_with("0:") || body.starts_with("3:") => {
                SubmitResult::Accepted { provider_id: None }
            }
            200..=299 => SubmitResult::Retryable {
                reason: format!("unexpected sendsms reply {body:?}"),
                ambiguous: true,
            },
            status => super::classify_status(status, body),
        }
    }
}

/// A receipt callback's query or form pairs, parsed.
pub fn receipt(pairs: &[(String, String)]) -> Result<Receipt, SmsError> {
    let id = our_id(pairs)?;
    let kind: u32 = field(pairs, "type")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| SmsError::BadCallback("no numeric `type`".into()))?;
    let reply = field(pairs, "reply").unwrap_or_default();
    let status = match kind {
        1 => ReceiptStatus::Delivered,
        2 => ReceiptStatus::Failed(format!("undelivered: {reply}")),
        16 => ReceiptStatus::Failed(format!("rejected by the SMSC: {reply}")),
        4 | 8 => ReceiptStatus::InTransit,
        other => {
            return Err(SmsError::BadCallback(format!(
                "unknown receipt type {other}"
            )));
        }
    };
    Ok(Receipt {
        id,
        status,
        raw: format!("type={kind} {reply}"),
    })
}

/// An inbound-message callback's pairs, parsed.
pub fn inbound(pairs: &[(String, String)]) -> Result<Inbound, SmsError> {
    let from = field(pairs, "from").filter(|f| !f.is_empty());
    let from = from.ok_or_else(|| SmsError::BadCallback("no `from`".into()))?;
    Ok(Inbound {
        from: from.to_string(),
        to: field(pairs, "to").unwrap_or_default().to_string(),
        text: field(pairs, "text").unwrap_or_default().to_string(),
        media: Vec::new(),
    })
}
