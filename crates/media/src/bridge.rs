//! What a call's media needs to be one leg of a bridge: a small jitter buffer of the audio it
//! heard (decoded, so that the other leg may use another law), the frame the other leg heard
//! for it to send, and RFC 4733 key presses to send at its own telephone-event payload type.
//!
//! The media worker joins two legs on its 20 ms tick: for each bridge it takes one frame from
//! each leg's buffer and hands it to the other leg ([`CallMedia::take_heard`],
//! [`CallMedia::send_heard`]), and a key press one leg reports is sent on the other
//! ([`CallMedia::send_digit`]). Transcoding between µ-law and A-law happens on the way, through
//! 16-bit PCM. Both legs stay full calls of their own: digits are still detected on each, and a
//! prompt played to a leg is heard instead of the other side (an announcement).
//!
//! [`CallMedia::take_heard`]: crate::CallMedia::take_heard
//! [`CallMedia::send_heard`]: crate::CallMedia::send_heard
//! [`CallMedia::send_digit`]: crate::CallMedia::send_digit

use std::collections::VecDeque;

use crate::rfc4733::{EventPayload, key_event};
use crate::rtp::FRAME;

/// One 20 ms frame of 8 kHz PCM.
pub type Pcm = [i16; FRAME];

/// Frames buffered before playout starts, and again after the buffer ran dry: 40 ms, the
/// jitter SIPp's 20 ms pacing grid produces.
pub const JITTER_DEPTH: usize = 2;

/// Most frames held; past this the oldest is dropped (the peer's clock runs fast).
pub const JITTER_MAX: usize = 6;

/// The audio a leg heard, waiting for the other leg's tick.
#[derive(Clone, Debug, Default)]
pub(crate) struct JitterBuffer {
    frames: VecDeque<Pcm>,
    /// Samples of a packet that did not fill a whole frame (30 ms packets), for the next one.
    partial: Vec<i16>,
    /// Playing out (else filling up to [`JITTER_DEPTH`]).
    flowing: bool,
    /// Frames dropped because the buffer was full.
    pub(crate) overflow: u64,
    /// Ticks with nothing to give while flowing.
    pub(crate) underflow: u64,
}

impl JitterBuffer {
    /// A packet's audio, cut into 20 ms frames (a 30 ms packet leaves 10 ms for the next).
    pub(crate) fn push(&mut self, pcm: &[i16]) {
        self.partial.extend_from_slice(pcm);
        while self.partial.len() >= FRAME {
            let mut frame = [0; FRAME];
            frame.copy_from_slice(&self.partial[..FRAME]);
            self.partial.drain(..FRAME);
            if self.frames.len() == JITTER_MAX {
                self.frames.pop_front();
                self.overflow += 1;
            }
            self.frames.push_back(frame);
        }
    }

    /// The next frame for the other leg, or `None` while filling or dry.
    pub(crate) fn pop(&mut self) -> Option<Pcm> {
        if !self.flowing && self.frames.len() < JITTER_DEPTH {
            return None;
        }
        self.flowing = true;
        let frame = self.frames.pop_front();
        if frame.is_none() {
            self.flowing = false;
            self.underflow += 1;
        }
        frame
    }
}

/// Key presses waiting to be sent as RFC 4733 events, and the one being sent.
#[derive(Clone, Debug, Default)]
pub(crate) struct EventSender {
    queue: VecDeque<u8>,
    /// The event being sent: its code, start timestamp and packets sent so far.
    current: Option<(u8, u32, u16)>,
}

/// Update packets of a relayed press (100 ms), then its three end packets (RFC 4733 §2.5.1.4).
const UPDATES: u16 = 5;
const ENDS: u16 = 3;

impl EventSender {
    /// Queues `key`; false if it is not a DTMF key.
    pub(crate) fn push(&mut self, key: char) -> bool {
        match key_event(key) {
            Some(event) => {
                self.queue.push_back(event);
                true
            }
            None => false,
        }
    }

    /// The next packet's payload, start timestamp and marker, if an event is due; the event
    /// starts at `timestamp` (the stream's current one) and keeps it for all its packets.
    pub(crate) fn next(&mut self, timestamp: u32) -> Option<(EventPayload, u32, bool)> {
        if self.current.is_none() {
            let event = self.queue.pop_front()?;
            self.current = Some((event, timestamp, 0));
        }
        let (event, start, sent) = self.current.as_mut()?;
        *sent += 1;
        let (end, duration) = match *sent {
            n if n <= UPDATES => (false, n * FRAME as u16),
            _ => (true, UPDATES * FRAME as u16),
        };
        let packet = EventPayload {
            event: *event,
            end,
            volume: 10,
            duration,
        };
        let out = (packet, *start, *sent == 1);
        if *sent >= UPDATES + ENDS {
            self.current = None;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_fills_plays_out_and_refills_after_running_dry() {
        let mut j = JitterBuffer::default();
        j.push(&[1; FRAME]);
        assert_eq!(j.pop(), None, "filling");
        j.push(&[2; FRAME]);
        assert_eq!(j.pop().map(|f| f[0]), Some(1));
        assert_eq!(j.pop().map(|f| f[0]), Some(2));
        assert_eq!(j.pop(), None);
        assert_eq!(j.underflow, 1);
        j.push(&[3; FRAME]);
        assert_eq!(j.pop(), None, "filling again");
        for i in 0..10 {
            j.push(&[i; FRAME]);
        }
        assert_eq!(j.overflow, 5);
        assert_eq!(j.pop().map(|f| f[0]), Some(4), "the oldest were dropped");
    }

    /// A 30 ms peer's packets were cut to 20 ms, losing a third of its audio.
    #[test]
    fn thirty_millisecond_packets_lose_nothing() {
        let mut j = JitterBuffer::default();
        for i in 0..4 {
            j.push(&[i; 240]);
        }
        let frames: Vec<Pcm> = std::iter::from_fn(|| j.pop()).collect();
        assert_eq!(frames.len(), 6, "4 × 30 ms = 6 × 20 ms");
        assert_eq!(frames[1][..80], [0; 80]);
        assert_eq!(frames[1][80..], [1; 80]);
    }

    #[test]
    fn a_relayed_press_is_five_updates_and_three_ends_on_one_timestamp() {
        let mut e = EventSender::default();
        assert!(e.push('#') && !e.push('x'));
        let packets: Vec<_> = std::iter::from_fn(|| e.next(8000)).collect();
        assert_eq!(packets.len(), 8);
        assert!(
            packets[0].2 && packets[1..].iter().all(|p| !p.2),
            "marker on the first"
        );
        assert!(packets.iter().all(|p| p.1 == 8000 && p.0.event == 11));
        assert_eq!(packets.iter().filter(|p| p.0.end).count(), 3);
        assert_eq!(packets[7].0.duration, 800);
    }
}
