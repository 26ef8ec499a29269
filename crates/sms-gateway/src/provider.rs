//! Providers as request shapes: each turns a [`Submission`] into the exact HTTP request its
//! API wants and classifies the reply as accepted, retryable or permanent; its receipt and
//! inbound callbacks are parsed by each module's `receipt` and `inbound` functions (they need no
//! account settings). The daemon does the HTTP.

use crate::MessageId;
use crate::outbox::{ReceiptStatus, Submission, SubmitResult};

pub mod kannel;
pub mod template;
pub mod twilio;

/// An HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    /// GET.
    Get,
    /// POST.
    Post,
}

/// A request for the daemon to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: HttpMethod,
    /// Full URL, query included.
    pub url: String,
    /// HTTP basic credentials.
    pub basic_auth: Option<(String, String)>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Content type and body.
    pub body: Option<(String, Vec<u8>)>,
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Body (lossily decoded).
    pub body: String,
}

/// A receipt callback, parsed: our message id and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Our id (from the callback URL we gave).
    pub id: MessageId,
    /// Status.
    pub status: ReceiptStatus,
    /// The provider's own words, for the store.
    pub raw: String,
}

/// A provider's API.
pub trait Provider: Send + Sync {
    /// Name for logs and config.
    fn name(&self) -> &'static str;
    /// The request that submits `sub`. `callback` is our public base URL for receipts.
    fn request(&self, sub: &Submission, callback: &str) -> HttpRequest;
    /// What a reply means.
    fn classify(&self, reply: &HttpReply) -> SubmitResult;
}

/// The usual mapping of an HTTP status: 2xx accepted, 408/429/5xx and a few more retryable
/// (the gateway or its configuration, not the message, is at fault), other 4xx permanent.
pub fn classify_status(status: u16, body: &str) -> SubmitResult {
    let reason = || {
        format!(
            "HTTP {status}: {}",
            body.trim().chars().take(200).collect::<String>()
        )
    };
    match status {
        200..=299 => SubmitResult::Accepted { provider_id: None },
        401 | 403 | 408 | 425 | 429 | 500..=599 => SubmitResult::Retryable {
            reason: reason(),
            ambiguous: matches!(status, 408 | 504),
        },
        _ => SubmitResult::Permanent { reason: reason() },
    }
}

/// The value of `name` in `pairs`.
pub(crate) fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Our message id from callback `pairs` (`id=`).
pub(crate) fn our_id(pairs: &[(String, String)]) -> Result<MessageId, crate::SmsError> {
    // Ids are SQLite rowids: never above i64::MAX.
    field(pairs, "id")
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|v| u64::try_from(v).ok())
        .map(MessageId)
        .ok_or_else(|| crate::SmsError::BadCallback("no numeric `id`".into()))
}

/// Appends `pairs` to `url` as a query string.
pub(crate) fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", q.finish())
}
