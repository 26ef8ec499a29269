//! In-band DTMF detection for telephony: ITU-T Q.24 limits, strong talk-off immunity, and a
//! lockstep multi-channel bank for media servers.
//!
//! # IO contract
//! Pure DSP: no IO, no clock, no allocation per block. Time is media time ([`SampleTime`],
//! samples since the first sample fed), never wall-clock time.
//!
//! - [`DtmfDetector::handle_samples`] takes any number of samples of one stream;
//!   [`DtmfBank::handle_interleaved`] takes whole frames of many streams.
//! - After each call, drain `poll_event()` until it returns `None`. A digit produces
//!   [`Event::Pressed`] once it is confirmed (about 30 ms after its onset) and
//!   [`Event::Released`] when it ends; both carry the estimated tone onset.
//! - At the end of a stream, [`DtmfDetector::finish`] releases a digit still held.
//!
//! ```
//! use dtmf_detector::{DtmfDetector, Event, SampleRate};
//!
//! let mut detector = DtmfDetector::with_rate(SampleRate::Narrowband);
//! # let frames: Vec<Vec<i16>> = vec![vec![0; 160]; 10];
//! for frame in &frames {                       // e.g. 20 ms of decoded G.711 per RTP packet
//!     detector.handle_samples(frame);
//!     while let Some(event) = detector.poll_event() {
//!         if let Event::Pressed { digit, onset } = event {
//!             println!("{digit} at {:.1} ms", onset.as_millis(detector.rate()));
//!         }
//!     }
//! }
//! detector.finish();
//! while let Some(event) = detector.poll_event() { /* a digit held until the end */ }
//! ```

// Index loops over fixed-size arrays are the shape LLVM vectorises; iterator chains over
// several arrays at once often are not.
#![allow(clippy::needless_range_loop)]

mod bank;
mod classify;
mod config;
mod detector;
mod dft;
mod digit;
mod echo;
mod error;
mod fastmath;
mod harmonic;
mod held;
mod lanes;
mod simd;
mod spectrum;
#[cfg(feature = "testkit")]
pub mod testkit;
mod time;
mod tracker;
mod vector;

pub use bank::{BankEvent, DtmfBank, LANES};
pub use config::{DBM0_REFERENCE_AMPLITUDE, DetectorConfig};
pub use detector::{DigitSpan, DtmfDetector};
pub use digit::Digit;
pub use error::DtmfError;
pub use time::{SampleRate, SampleTime};

/// What a detector reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A digit was confirmed. `onset` is the estimated start of its tone.
    Pressed {
        /// The key.
        digit: Digit,
        /// Estimated tone onset.
        onset: SampleTime,
    },
    /// A confirmed digit's tone ended.
    Released {
        /// The key.
        digit: Digit,
        /// Estimated tone onset (as in `Pressed`).
        onset: SampleTime,
        /// Estimated end of the tone.
        end: SampleTime,
    },
}
