//! The crate's one error type, split by who is at fault.

/// What went wrong. Peer faults are answered (400, 416, 488) or dropped and logged; misuse means a
/// bug in the caller.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SipError {
    /// The peer sent something that is not a usable SIP message.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A Request-URI scheme other than sip, sips or tel.
    #[error("unsupported URI scheme in {0}")]
    UnsupportedScheme(String),
    /// A SIP version other than 2.0 (answered 505).
    #[error("SIP version {0} is not supported")]
    VersionNotSupported(String),
    /// A message over the size limit (answered 513 when it can be addressed).
    #[error("message too large: {0}")]
    TooLarge(String),
    /// An SDP offer that cannot be parsed or has nothing we can use.
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
    /// A source network that does not parse (configuration).
    #[error("not a network: {0}")]
    BadNetwork(String),
    /// A command named a call that does not exist (any more).
    #[error("no such call")]
    NoSuchCall,
    /// A command that the call's state does not allow, e.g. answering twice.
    #[error("api misuse: {0}")]
    Misuse(&'static str),
}
