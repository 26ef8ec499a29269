//! Where a call's in-band tones are looked for: its own detector, or a bank the media worker
//! runs for all its calls in lockstep (one frame per call per tick).

use std::collections::VecDeque;

use dtmf_detector::DtmfDetector;

use crate::rtp::FRAME;

/// Frames queued before a shared detector starts taking them, and again after the queue ran
/// dry: 40 ms absorb a packet or two arriving late without silence inside a press.
const PRIME_FRAMES: usize = 2;
/// Beyond this backlog (a burst after a stall) the oldest audio is dropped back to the
/// priming depth, so that a call's in-band audio is never more than 80 ms behind.
const MAX_FRAMES: usize = 4;

#[derive(Debug)]
// One per call, set once: the frame kept inline saves an allocation per tick.
#[allow(clippy::large_enum_variant)]
pub(crate) enum InBand {
    /// Its own detector, fed as packets are played out.
    Own(Box<DtmfDetector>),
    /// A bank the media worker runs.
    Shared(Shared),
}

/// What was heard, waiting for the bank's tick, and what was played this tick.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    heard: VecDeque<i16>,
    primed: bool,
    pub(crate) played: Option<[i16; FRAME]>,
}

impl Shared {
    pub(crate) fn push(&mut self, pcm: &[i16]) {
        self.heard.extend(pcm.iter().copied());
        if self.heard.len() > MAX_FRAMES * FRAME {
            let excess = self.heard.len() - PRIME_FRAMES * FRAME;
            self.heard.drain(..excess);
        }
    }

    /// The next frame heard (silence while priming, or when the queue ran dry), and what was
    /// played this tick, if anything.
    pub(crate) fn take(&mut self, heard: &mut [i16; FRAME], played: &mut [i16; FRAME]) -> bool {
        if !self.primed && self.heard.len() >= PRIME_FRAMES * FRAME {
            self.primed = true;
        }
        heard.fill(0);
        if self.primed {
            let n = self.heard.len().min(FRAME);
            for (h, s) in heard.iter_mut().zip(self.heard.drain(..n)) {
                *h = s;
            }
            // Ran dry: wait for the queue to fill again rather than cut every late frame.
            if n < FRAME {
                self.primed = false;
            }
        }
        match self.played.take() {
            Some(frame) => {
                *played = frame;
                true
            }
            None => false,
        }
    }
}
