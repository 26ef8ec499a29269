//! In-band DTMF for all of a media worker's calls at once: one `DtmfBank` in lockstep, each
//! call on a channel of its own for as long as it lives. Measured against one detector per
//! call at 2,000 calls (`dtmf-compare --only worker`), the bank costs a fifth or less.

use dtmf_detector::{DtmfBank, Event, SampleRate};
use media::CallMedia;
use media::rtp::FRAME;

/// Fewest channels the bank is built with; it doubles when a worker has more calls.
const MIN_CHANNELS: usize = 64;

/// The bank and who sits where.
pub(super) struct InBandBank {
    bank: DtmfBank,
    /// Channels given back by ended calls, reused first.
    free: Vec<usize>,
    /// Channels ever handed out.
    used: usize,
    /// One tick of every channel, interleaved; a channel without a call stays silent.
    tick: Vec<i16>,
    /// Per channel, where its call came in the last [`run`](Self::run)'s order (`usize::MAX`
    /// once the call has gone).
    order: Vec<usize>,
    /// This tick's presses: the call's place in that order, and the key.
    pressed: Vec<(usize, char)>,
}

impl Default for InBandBank {
    fn default() -> Self {
        Self {
            bank: DtmfBank::with_rate(SampleRate::Narrowband, MIN_CHANNELS),
            free: Vec::new(),
            used: 0,
            tick: vec![0; FRAME * MIN_CHANNELS],
            order: vec![usize::MAX; MIN_CHANNELS],
            pressed: Vec::new(),
        }
    }
}

impl InBandBank {
    /// A channel for a new call. When every channel is taken the bank doubles in place: the
    /// calls on it keep their channels and their state.
    pub(super) fn attach(&mut self) -> usize {
        if let Some(channel) = self.free.pop() {
            let _ = self.bank.reset_channel(channel);
            return channel;
        }
        if self.used == self.bank.channels() {
            let (old, new) = (self.bank.channels(), self.bank.channels() * 2);
            self.bank.add_channels(new - old);
            // The interleaved tick is laid out per channel count: lay it out again.
            let mut tick = vec![0; FRAME * new];
            for n in 0..FRAME {
                tick[n * new..n * new + old].copy_from_slice(&self.tick[n * old..(n + 1) * old]);
            }
            self.tick = tick;
            self.order.resize(new, usize::MAX);
        }
        self.used += 1;
        self.used - 1
    }

    /// A call ended: its channel goes back.
    pub(super) fn detach(&mut self, channel: usize) {
        let _ = self.bank.reset_channel(channel);
        let channels = self.bank.channels();
        for n in 0..FRAME {
            self.tick[n * channels + channel] = 0;
        }
        if let Some(order) = self.order.get_mut(channel) {
            *order = usize::MAX;
        }
        self.free.push(channel);
    }

    /// One tick: every call's 20 ms heard (and played, for the echo reference) through the
    /// bank. `calls` gives each call with its channel; the presses found are then
    /// [`pressed`](Self::pressed), each with its call's place in `calls`.
    pub(super) fn run<'a>(&mut self, calls: impl Iterator<Item = (usize, &'a mut CallMedia)>) {
        let channels = self.bank.channels();
        let (mut heard, mut played) = ([0i16; FRAME], [0i16; FRAME]);
        for (i, (channel, call)) in calls.enumerate() {
            let Some(order) = self.order.get_mut(channel) else {
                continue;
            };
            *order = i;
            if call.take_in_band(&mut heard, &mut played) {
                let _ = self.bank.handle_reference(channel, &played);
            }
            for (n, s) in heard.iter().enumerate() {
                self.tick[n * channels + channel] = *s;
            }
        }
        self.pressed.clear();
        if self.bank.handle_interleaved(&self.tick).is_err() {
            return;
        }
        while let Some(e) = self.bank.poll_event() {
            if let Event::Pressed { digit, .. } = e.event
                && let Some(&i) = self.order.get(e.channel)
            {
                self.pressed.push((i, digit.to_char()));
            }
        }
    }

    /// The presses of the last [`run`](Self::run): where the call came among its `calls`, and
    /// the key.
    pub(super) fn pressed(&self) -> &[(usize, char)] {
        &self.pressed
    }
}
