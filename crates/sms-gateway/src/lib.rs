//! SMS for ivrd, sans-IO: numbers ([`E164`]), bodies ([`text`]: GSM-7/UCS-2 and
//! concatenation), the durable [`Outbox`] state machine with its guards (opt-outs, allowlist,
//! caps), provider request shapes ([`provider`]: Kannel, Twilio, an HTTP template) and
//! [`coupon`] serials. The daemon supplies the clock (unix milliseconds), the store and the
//! HTTP; see [`outbox`] for the write-ahead contract.

pub mod coupon;
pub mod guard;
mod message;
mod number;
pub mod outbox;
pub mod provider;
pub mod smpp;
pub mod text;

pub use guard::{GuardConfig, Keyword};
pub use message::{Message, MessageId, State};
pub use number::{Country, E164};
pub use outbox::{
    Enqueued, Inbound, NewMessage, Outbox, OutboxConfig, Output, ReceiptStatus, RetryPolicy,
    Submission, SubmitResult,
};

/// Everything the gateway refuses, with the reason a log line or a flow needs.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// Not a phone number we can message.
    #[error("invalid number {input:?}: {reason}")]
    InvalidNumber {
        /// As given.
        input: String,
        /// Why.
        reason: String,
    },
    /// Nothing to send.
    #[error("empty message body")]
    EmptyBody,
    /// More parts than allowed.
    #[error("message needs {segments} SMS parts, more than the {max} allowed")]
    TooLong {
        /// Parts needed.
        segments: u32,
        /// The limit.
        max: u32,
    },
    /// The recipient opted out.
    #[error("{0} has opted out of SMS")]
    OptedOut(E164),
    /// The number is outside the allowed prefixes.
    #[error("{0} is outside the allowed countries")]
    CountryNotAllowed(E164),
    /// Too many messages to this number within the hour.
    #[error("rate limit reached for {0}")]
    RateLimited(E164),
    /// Too many messages to this number today.
    #[error("daily cap reached for {0}")]
    DailyCap(E164),
    /// A receipt for a message we do not hold.
    #[error("no message {0}")]
    UnknownMessage(u64),
    /// A provider callback we cannot read.
    #[error("bad callback: {0}")]
    BadCallback(String),
    /// An SMPP setting or stream we cannot use.
    #[error("SMPP: {0}")]
    Smpp(String),
}

impl SmsError {
    /// Its kind in a word (a metric's label): `invalid_number`, `opted_out`, `rate_limited` …
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidNumber { .. } => "invalid_number",
            Self::EmptyBody => "empty_body",
            Self::TooLong { .. } => "too_long",
            Self::OptedOut(_) => "opted_out",
            Self::CountryNotAllowed(_) => "country_not_allowed",
            Self::RateLimited(_) => "rate_limited",
            Self::DailyCap(_) => "daily_cap",
            Self::UnknownMessage(_) => "unknown_message",
            Self::BadCallback(_) => "bad_callback",
            Self::Smpp(_) => "smpp",
        }
    }
}
