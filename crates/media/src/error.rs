//! The crate's error type.

/// What went wrong with media input.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// Not a usable RTP packet (the peer's fault; counted and dropped).
    #[error("bad RTP packet: {0}")]
    BadRtp(String),
    /// Not a usable RTCP compound packet (RFC 3550 Appendix A.2's checks).
    #[error("bad RTCP packet: {0}")]
    BadRtcp(String),
    /// An SRTP or SRTCP packet that failed its checks (a wrong key, a replay, truncated).
    #[error("bad SRTP packet: {0}")]
    BadSrtp(String),
}
