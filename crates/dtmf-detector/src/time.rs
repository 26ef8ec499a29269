//! Media time: sample counts at the detector's rate, never wall-clock time.

use crate::DtmfError;

/// Input sample rate. Blocks are 10 ms at either rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SampleRate {
    /// 8 kHz (G.711, narrowband).
    #[default]
    Narrowband,
    /// 16 kHz (wideband).
    Wideband,
}

impl SampleRate {
    /// Samples per second.
    pub fn hz(self) -> u32 {
        match self {
            Self::Narrowband => 8_000,
            Self::Wideband => 16_000,
        }
    }

    /// Accepts 8000 and 16000; anything else is an API misuse (resample first).
    pub fn from_hz(hz: u32) -> Result<Self, DtmfError> {
        match hz {
            8_000 => Ok(Self::Narrowband),
            16_000 => Ok(Self::Wideband),
            other => Err(DtmfError::UnsupportedRate(other)),
        }
    }

    /// Samples in one 10 ms analysis block.
    pub(crate) fn block_len(self) -> usize {
        self.hz() as usize / 100
    }
}

/// A point in a stream, counted in samples from the stream's first sample.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash, Default)]
pub struct SampleTime(pub u64);

impl SampleTime {
    /// Milliseconds from the stream's start at `rate`.
    pub fn as_millis(self, rate: SampleRate) -> f64 {
        self.0 as f64 * 1000.0 / f64::from(rate.hz())
    }

    /// Samples since the stream's start.
    pub fn samples(self) -> u64 {
        self.0
    }
}
