//! The crate's one error type.

/// What can go wrong. Every variant is a caller mistake: the detector accepts any audio.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DtmfError {
    /// Only 8 kHz and 16 kHz are analysed; resample other rates first.
    #[error("unsupported sample rate {0} Hz (use 8000 or 16000)")]
    UnsupportedRate(u32),
    /// Interleaved input must hold whole frames (one sample per channel).
    #[error(
        "interleaved input of {samples} samples is not a whole number of {channels}-channel frames"
    )]
    PartialFrame {
        /// Samples given.
        samples: usize,
        /// Channels in the bank.
        channels: usize,
    },
    /// A channel index beyond the bank's size.
    #[error("channel {channel} out of range (bank has {channels})")]
    NoSuchChannel {
        /// Index given.
        channel: usize,
        /// Channels in the bank.
        channels: usize,
    },
}
