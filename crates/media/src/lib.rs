//! Media for ivrd: G.711, RTP, RFC 4733 telephone-event, prompt playback and one report per
//! key press. Sans-IO and clock-free: time is counted in 8 kHz samples ([`MediaTime`]); the
//! daemon calls [`CallMedia::handle_tick`] every 20 ms for all its calls from one worker per
//! core, so no timer or task exists per packet or per call.
//!
//! ```
//! use media::{AcceptFrom, CallMedia, CallMediaConfig, Law, PlayItem, RtcpMode, Tone};
//! let mut call = CallMedia::new(CallMediaConfig {
//!     remote: Some("192.0.2.7:4000".parse().unwrap()), accept_from: AcceptFrom::Sdp,
//!     law: Law::Ulaw, audio_payload_type: 0, telephone_event: Some(101),
//!     ssrc: 7, first_sequence: 1, first_timestamp: 0,
//!     send_silence: true, inactivity_ticks: 1500, reorder_window: 3,
//!     rtcp: RtcpMode::Off, srtp: None,
//! });
//! call.play(vec![PlayItem::Tone(Tone::BEEP, 100)], true);
//! let mut packet = Vec::new();
//! for _ in 0..5 {
//!     assert!(call.handle_tick(&mut packet).is_some()); // one 172-byte RTP packet per tick
//!     assert_eq!(packet.len(), 172);
//! }
//! ```

mod bridge;
mod call;
mod digits;
mod error;
mod g711;
mod in_band;
mod jitter;
mod player;
pub mod rfc4733;
pub mod rtcp;
mod rtcp_session;
pub mod rtp;
pub mod srtp;

pub use bridge::{JITTER_DEPTH, JITTER_MAX, Pcm};
pub use call::{
    AcceptFrom, CallMedia, CallMediaConfig, LATCH_PACKETS, MediaDirection, MediaEvent, RtcpMode,
    SrtpKeys,
};
pub use digits::{DigitMerger, DigitSource, MERGE_WINDOW};
pub use error::MediaError;
pub use g711::Law;
pub use jitter::Jitter;
pub use player::{Frame, PlayItem, Played, Player, PromptFrames, Tone};
pub use rtcp_session::{RtcpQuality, RtcpSession};

/// Media time in 8 kHz samples since a call's media started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MediaTime(pub u64);
