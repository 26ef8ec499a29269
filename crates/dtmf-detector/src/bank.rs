//! Many channels in lockstep: SIMD lanes are channels.
//!
//! A media server decodes every call's 20 ms frame at the same tick. The bank takes those frames
//! interleaved (`frame[n][channel]`) and runs the eight Goertzel filters with channels across
//! vector lanes, [`LANES`] channels per group: each filter is an independent vector recurrence,
//! so the FMA units stay busy without the per-channel latency chain the single detector has to
//! hide. Per-block decisions and timing are the same code as [`DtmfDetector`]'s.
//!
//! [`DtmfDetector`]: crate::DtmfDetector

use std::collections::VecDeque;

use crate::classify::{Amplitudes, continue_or_refine};
use crate::config::{DetectorConfig, Limits};
use crate::echo::{
    ENERGY_BLOCKS, EchoOrHarmonics, EchoReference, ReceivedEnergy, mark_pressed, pressed_slots,
};
use crate::harmonic::{WINDOW_BLOCKS, Window};
use crate::held::HeldLanes;
use crate::lanes::{Feed, LaneGroup, Screen};
use crate::simd::{self, Kernel, Vectorised};
use crate::spectrum::{Coefficients, Quad, SEGMENTS};
use crate::tracker::Tracker;
use crate::vector::{F32x16, prefetch};
use crate::{DtmfError, Event, SampleRate, SampleTime};

pub use crate::lanes::LANES;

/// An event and the channel it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BankEvent {
    /// Channel index, `0..channels`.
    pub channel: usize,
    /// What happened on it.
    pub event: Event,
}

/// A fixed number of channels analysed in lockstep. Feed every channel the same number of
/// samples at a time with [`handle_interleaved`](Self::handle_interleaved), drain
/// [`poll_event`](Self::poll_event).
#[derive(Clone, Debug)]
pub struct DtmfBank {
    coeffs: Coefficients,
    kernel: Kernel,
    limits: Limits,
    window: Window,
    channels: usize,
    groups: Vec<LaneGroup>,
    /// Per group, the digits its lanes only hold (see `held.rs`).
    held: Vec<HeldLanes>,
    trackers: Vec<Tracker>,
    /// Per channel, what was played on it, once [`handle_reference`](Self::handle_reference)
    /// is used for it.
    echo: Vec<Option<EchoReference>>,
    /// Samples per channel consumed so far.
    position: u64,
    scratch: VecDeque<Event>,
    events: VecDeque<BankEvent>,
}

impl DtmfBank {
    /// A bank of `channels` channels with `config`'s thresholds.
    pub fn new(config: &DetectorConfig, channels: usize) -> Self {
        let coeffs = Coefficients::new(config.rate);
        let window = Window::new(&coeffs);
        Self {
            groups: vec![LaneGroup::new(coeffs.block_len); channels.div_ceil(LANES)],
            held: vec![HeldLanes::default(); channels.div_ceil(LANES)],
            window,
            coeffs,
            kernel: Kernel::detect(),
            limits: Limits::new(config),
            channels,
            trackers: vec![Tracker::default(); channels],
            echo: vec![None; channels],
            position: 0,
            scratch: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// A bank with default thresholds at `rate`.
    pub fn with_rate(rate: SampleRate, channels: usize) -> Self {
        Self::new(&DetectorConfig::at_rate(rate), channels)
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Stream time of the next frame, shared by all channels.
    pub fn now(&self) -> SampleTime {
        SampleTime(self.position)
    }

    /// Forgets channel `channel`'s state, e.g. when a new call takes the slot.
    pub fn reset_channel(&mut self, channel: usize) -> Result<(), DtmfError> {
        if channel >= self.channels {
            return Err(DtmfError::NoSuchChannel {
                channel,
                channels: self.channels,
            });
        }
        self.groups[channel / LANES].clear_lane(channel % LANES);
        self.held[channel / LANES].drop_lane(channel % LANES);
        self.trackers[channel] = Tracker::default();
        self.echo[channel] = None;
        Ok(())
    }

    /// Adds `more` channels after the last, silent until now; the others keep their state
    /// (a press in progress, the echo reference). A media worker grows its bank this way as
    /// calls arrive.
    pub fn add_channels(&mut self, more: usize) {
        let (old, new) = (self.channels, self.channels + more);
        // Lanes of the last group that were past the end become channels: start them clean.
        for c in old..new.min(old.div_ceil(LANES) * LANES) {
            self.groups[c / LANES].clear_lane(c % LANES);
            self.held[c / LANES].drop_lane(c % LANES);
        }
        let groups = new.div_ceil(LANES);
        self.groups
            .resize(groups, LaneGroup::new(self.coeffs.block_len));
        self.held.resize(groups, HeldLanes::default());
        self.trackers.resize(new, Tracker::default());
        self.echo.resize(new, None);
        self.channels = new;
    }

    /// Feeds what was played on `channel` for the echo rule, as
    /// [`DtmfDetector::handle_reference`](crate::DtmfDetector::handle_reference) does: just
    /// before or just after the channel's received frame of the same tick.
    pub fn handle_reference(&mut self, channel: usize, played: &[i16]) -> Result<(), DtmfError> {
        let channels = self.channels;
        let (coeffs, window, now) = (&self.coeffs, &self.window, self.position);
        let echo = self
            .echo
            .get_mut(channel)
            .ok_or(DtmfError::NoSuchChannel { channel, channels })?
            .get_or_insert_with(|| EchoReference::new(coeffs, window));
        echo.align(now, played.len() as u64);
        echo.feed(played);
        Ok(())
    }

    /// Feeds whole frames, interleaved: `pcm[n * channels + c]` is channel `c`'s sample `n`.
    pub fn handle_interleaved(&mut self, pcm: &[i16]) -> Result<(), DtmfError> {
        let channels = self.channels;
        if channels == 0 || !pcm.len().is_multiple_of(channels) {
            return Err(DtmfError::PartialFrame {
                samples: pcm.len(),
                channels,
            });
        }
        let frames = pcm.len() / channels;
        let seg = self.coeffs.segment_len;
        let n = self.coeffs.block_len;
        // The first segment's frames were not prefetched by a previous call: ask for them now.
        prefetch(&pcm[..(seg - (self.position % seg as u64) as usize).min(frames) * channels]);
        let mut done = 0;
        while done < frames {
            let into_segment = (self.position % seg as u64) as usize;
            let into_block = (self.position % n as u64) as usize;
            let take = (seg - into_segment).min(frames - done);
            let next = (seg).min(frames - done - take);
            let feed = Feed {
                groups: &mut self.groups,
                frames: &pcm[done * channels..(done + take) * channels],
                channels,
                first_row: (self.position / n as u64 % WINDOW_BLOCKS as u64) as usize * n
                    + into_block,
                ahead: &pcm[(done + take) * channels..(done + take + next) * channels],
                starts: into_segment == 0,
                finishes: (into_segment + take == seg)
                    .then_some((self.position / seg as u64 % SEGMENTS as u64) as usize),
                coeffs: &self.coeffs,
            };
            simd::run(self.kernel, FeedGroups(feed));
            done += take;
            self.position += take as u64;
            if self.position.is_multiple_of(n as u64) {
                simd::run(self.kernel, EndBlock(self));
            }
        }
        Ok(())
    }

    /// The next event, oldest first.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<BankEvent> {
        self.events.pop_front()
    }

    #[inline(always)]
    fn end_block<V: F32x16>(&mut self) {
        let n = self.coeffs.block_len;
        let block_start = self.position - n as u64;
        let block = block_start / n as u64;
        for g in 0..self.groups.len() {
            let screen = self.groups[g].screen::<V>(&self.limits, n, block);
            let amplitude = &self.groups[g].amplitude[(block % 2) as usize];
            let handled = self.held[g].advance(&screen, amplitude, self.position);
            // The echo rule's history marks the blocks heard while a digit was held (a held
            // digit's first blocks were marked at the visit that confirmed it).
            let mut marked = handled;
            while marked != 0 {
                let lane = marked.trailing_zeros() as usize;
                marked &= marked - 1;
                let energy =
                    &mut self.groups[g].energy[(block % ENERGY_BLOCKS as u64) as usize][lane];
                *energy = mark_pressed(*energy);
            }
            let mut visit = (screen.possible | self.groups[g].busy) & !handled;
            while visit != 0 {
                let lane = visit.trailing_zeros() as usize;
                visit &= visit - 1;
                // A lane whose held digit lives in `held` gets it back for the visit.
                let (held, tracker) = (&mut self.held[g], &mut self.trackers[g * LANES + lane]);
                if let Some(h) = tracker
                    .holding_mut()
                    .filter(|_| held.mask & (1 << lane) != 0)
                {
                    held.check_in(lane, h);
                }
                self.visit(g, lane, &screen, block);
                if let Some(h) = self.trackers[g * LANES + lane].holding_mut() {
                    self.held[g].check_out(lane, h);
                }
            }
        }
    }

    /// The scalar part of one channel's block: classification, veto and timing.
    #[inline(always)]
    fn visit(&mut self, g: usize, lane: usize, screen: &Screen, block: u64) {
        let channel = g * LANES + lane;
        let n = self.coeffs.block_len;
        let group = &self.groups[g];
        let candidate = if screen.possible & (1 << lane) != 0 {
            continue_or_refine(
                &self.coeffs,
                &self.limits,
                usize::from(screen.low[lane]),
                usize::from(screen.high[lane]),
                self.trackers[channel].held(),
                |f| Quad {
                    re: std::array::from_fn(|m| group.segments_re[m][f][lane]),
                    im: std::array::from_fn(|m| group.segments_im[m][f][lane]),
                },
            )
        } else {
            None
        };
        let slot = (block % 2) as usize;
        let amps: Amplitudes = std::array::from_fn(|f| group.amplitude[slot][f][lane]);
        let previous: Amplitudes = std::array::from_fn(|f| group.amplitude[1 - slot][f][lane]);
        // Veto window, oldest first: the slots after this block's, wrapping round to it.
        let order: [usize; WINDOW_BLOCKS] =
            std::array::from_fn(|i| ((block + 1 + i as u64) % WINDOW_BLOCKS as u64) as usize);
        let tracker = &mut self.trackers[channel];
        // The last three blocks are the run's three candidate blocks: the veto is asked at its
        // third.
        let fill = |buf: &mut [i16]| {
            for (part, &slot) in buf.chunks_exact_mut(n).zip(&order) {
                for (b, row) in part.iter_mut().zip(&group.rows[slot * n..(slot + 1) * n]) {
                    *b = row[lane];
                }
            }
        };
        let veto = EchoOrHarmonics::new(
            self.kernel,
            &self.coeffs,
            &self.window,
            self.echo[channel].as_ref(),
            (block + 1) * n as u64,
            LaneEnergy(group, lane),
            fill,
        );
        tracker.handle_block(
            &self.coeffs,
            &self.limits,
            block * n as u64,
            candidate,
            &amps,
            &previous,
            veto,
            &mut self.scratch,
        );
        let busy = u32::from(!tracker.is_idle()) << lane;
        let held = tracker.held().is_some();
        let group = &mut self.groups[g];
        group.busy = (group.busy & !(1 << lane)) | busy;
        if held {
            for slot in pressed_slots(block) {
                group.energy[slot][lane] = mark_pressed(group.energy[slot][lane]);
            }
        }
        if !self.scratch.is_empty() {
            self.events.extend(
                self.scratch
                    .drain(..)
                    .map(|event| BankEvent { channel, event }),
            );
        }
    }
}

/// One lane's received block energies.
struct LaneEnergy<'a>(&'a LaneGroup, usize);

impl ReceivedEnergy for LaneEnergy<'_> {
    fn energy(&self, block: u64) -> f32 {
        self.0.energy[(block % ENERGY_BLOCKS as u64) as usize][self.1]
    }
}

/// [`Feed`], compiled for the bank's kernel.
struct FeedGroups<'a>(Feed<'a>);

impl Vectorised for FeedGroups<'_> {
    type Output = ();
    #[inline(always)]
    fn run<V: F32x16>(self) {
        self.0.run::<V>();
    }
}

/// [`DtmfBank::end_block`], compiled for the bank's kernel.
struct EndBlock<'a>(&'a mut DtmfBank);

impl Vectorised for EndBlock<'_> {
    type Output = ();
    #[inline(always)]
    fn run<V: F32x16>(self) {
        self.0.end_block::<V>();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Digit;
    use crate::testkit::{Signal, Tone, music};

    #[test]
    fn every_kernel_finds_the_same_digits() {
        let rate = SampleRate::Narrowband;
        let channels = LANES + 5;
        let streams: Vec<Vec<i16>> = (0..channels)
            .map(|c| {
                let mut s = Signal::new(rate);
                s.silence(7.0 * c as f64);
                for d in Digit::ALL.iter().cycle().skip(c).take(4) {
                    s.tone(&Tone::new(*d)).silence(70.0);
                }
                s.extend(&music(rate, 0.5, c as u64));
                s.white_noise(-40.0, c as u64);
                let mut pcm = s.to_pcm();
                pcm.resize(12_000, 0);
                pcm
            })
            .collect();
        let interleaved: Vec<i16> = (0..12_000)
            .flat_map(|n| streams.iter().map(move |s| s[n]))
            .collect();
        // Whole 20 ms frames, and 37-frame ticks that end segments and blocks mid-tick.
        let run = |kernel, frames| {
            let mut bank = DtmfBank::with_rate(rate, channels);
            bank.kernel = kernel;
            let mut events = Vec::new();
            for tick in interleaved.chunks(channels * frames) {
                bank.handle_interleaved(tick).expect("whole frames");
                events.extend(std::iter::from_fn(|| bank.poll_event()));
            }
            events
        };
        let want = run(Kernel::Portable, 160);
        assert_eq!(want.len(), channels * 4 * 2, "{want:?}");
        for kernel in Kernel::all_supported() {
            for frames in [160, 37] {
                assert_eq!(run(kernel, frames), want, "{kernel:?}, {frames} frames");
            }
        }
    }
}
