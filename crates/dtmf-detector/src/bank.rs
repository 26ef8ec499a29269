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

use crate::classify::classify;
use crate::config::{DetectorConfig, Limits};
use crate::harmonic::{WINDOW_BLOCKS, Window, is_harmonic};
use crate::simd::{self, Kernel, LaneState, Vectorised};
use crate::spectrum::{BlockSpectrum, Coefficients, FILTERS, SEGMENTS};
use crate::tracker::Tracker;
use crate::{DtmfError, Event, SampleRate, SampleTime};

pub use crate::simd::LANES;

/// An event and the channel it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BankEvent {
    /// Channel index, `0..channels`.
    pub channel: usize,
    /// What happened on it.
    pub event: Event,
}

/// Per-filter values across a group's lanes.
type Lanes = [[f32; LANES]; FILTERS];

#[derive(Clone, Debug)]
struct LaneGroup {
    state: LaneState,
    /// Finished segments of the current block, lanes innermost so that loops vectorise.
    segments_re: [Lanes; SEGMENTS],
    segments_im: [Lanes; SEGMENTS],
    /// The last [`WINDOW_BLOCKS`] blocks' samples, one row per frame: block `k` in slot
    /// `k % WINDOW_BLOCKS`, so that nothing moves when a block ends.
    history: Vec<[i16; LANES]>,
}

impl LaneGroup {
    fn new(window: usize) -> Self {
        Self {
            state: LaneState::default(),
            segments_re: [[[0.0; LANES]; FILTERS]; SEGMENTS],
            segments_im: [[[0.0; LANES]; FILTERS]; SEGMENTS],
            history: vec![[0; LANES]; window],
        }
    }

    #[inline(always)]
    fn finish_segment(&mut self, coeffs: &Coefficients, m: usize) {
        for f in 0..FILTERS {
            for lane in 0..LANES {
                (self.segments_re[m][f][lane], self.segments_im[m][f][lane]) =
                    coeffs.finish(m, f, self.state.s1[f][lane], self.state.s2[f][lane]);
            }
        }
        self.state.s1 = [[0.0; LANES]; FILTERS];
        self.state.s2 = [[0.0; LANES]; FILTERS];
    }

    fn clear_lane(&mut self, lane: usize) {
        for f in 0..FILTERS {
            self.state.s1[f][lane] = 0.0;
            self.state.s2[f][lane] = 0.0;
        }
        self.state.sum[lane] = 0.0;
        self.state.sum_sq[lane] = 0.0;
        self.history.iter_mut().for_each(|row| row[lane] = 0);
    }
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
    trackers: Vec<Tracker>,
    /// Samples per channel consumed so far.
    position: u64,
    spectrum: BlockSpectrum,
    scratch: VecDeque<Event>,
    events: VecDeque<BankEvent>,
}

impl DtmfBank {
    /// A bank of `channels` channels with `config`'s thresholds.
    pub fn new(config: &DetectorConfig, channels: usize) -> Self {
        let coeffs = Coefficients::new(config.rate);
        let window = Window::new(&coeffs);
        Self {
            groups: vec![LaneGroup::new(window.len()); channels.div_ceil(LANES)],
            window,
            coeffs,
            kernel: Kernel::detect(),
            limits: Limits::new(config),
            channels,
            trackers: vec![Tracker::default(); channels],
            position: 0,
            spectrum: BlockSpectrum::default(),
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
        self.trackers[channel] = Tracker::default();
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
        let mut done = 0;
        while done < frames {
            let into_segment = (self.position % seg as u64) as usize;
            let into_block = (self.position % n as u64) as usize;
            let slot = (self.position / n as u64 % WINDOW_BLOCKS as u64) as usize;
            let first_row = slot * n + into_block;
            let take = (seg - into_segment).min(frames - done);
            let part = &pcm[done * channels..(done + take) * channels];
            for (g, group) in self.groups.iter_mut().enumerate() {
                let rows = &mut group.history[first_row..first_row + take];
                simd::lanes(
                    self.kernel,
                    &mut group.state,
                    &self.coeffs.feedback,
                    part,
                    channels,
                    g * LANES,
                    rows,
                );
            }
            done += take;
            self.position += take as u64;
            if self.position.is_multiple_of(seg as u64) {
                simd::run(self.kernel, EndSegment(self));
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
    fn end_segment(&mut self) {
        let seg = self.coeffs.segment_len as u64;
        let m = ((self.position / seg - 1) % SEGMENTS as u64) as usize;
        for group in &mut self.groups {
            group.finish_segment(&self.coeffs, m);
        }
        if m + 1 < SEGMENTS {
            return;
        }
        let n = self.coeffs.block_len;
        let block_start = self.position - n as u64;
        let block = block_start / n as u64;
        // Veto window, oldest first: the slots after this block's, wrapping round to it.
        let order: [usize; WINDOW_BLOCKS] =
            std::array::from_fn(|i| ((block + 1 + i as u64) % WINDOW_BLOCKS as u64) as usize);
        let mut screen = Screen::default();
        for channel in 0..self.channels {
            let group = &mut self.groups[channel / LANES];
            let lane = channel % LANES;
            if lane == 0 {
                screen = Screen::new(group, &self.limits, n);
            }
            if !screen.possible[lane]
                && self.trackers[channel]
                    .idle_block(|| std::array::from_fn(|f| screen.amplitude[f][lane]))
            {
                continue;
            }
            let (candidate, amps) = if screen.possible[lane] {
                self.spectrum.energy = screen.energy[lane];
                for m in 0..SEGMENTS {
                    for f in 0..FILTERS {
                        self.spectrum.re[m][f] = group.segments_re[m][f][lane];
                        self.spectrum.im[m][f] = group.segments_im[m][f][lane];
                    }
                }
                classify(&self.spectrum, &self.coeffs, &self.limits)
            } else {
                (None, std::array::from_fn(|f| screen.amplitude[f][lane]))
            };
            let history = &group.history;
            let (coeffs, window, kernel) = (&self.coeffs, &self.window, self.kernel);
            let veto = |c: &_| {
                is_harmonic(kernel, coeffs, window, c, |buf: &mut [f32]| {
                    let rows = order
                        .iter()
                        .flat_map(|&slot| &history[slot * n..(slot + 1) * n]);
                    buf.iter_mut()
                        .zip(rows)
                        .for_each(|(b, row)| *b = f32::from(row[lane]));
                })
            };
            self.trackers[channel].handle_block(
                &self.coeffs,
                &self.limits,
                block_start,
                candidate,
                &amps,
                veto,
                &mut self.scratch,
            );
            self.events.extend(
                self.scratch
                    .drain(..)
                    .map(|event| BankEvent { channel, event }),
            );
        }
        for group in &mut self.groups {
            group.state.sum = [0.0; LANES];
            group.state.sum_sq = [0.0; LANES];
        }
    }
}

/// [`DtmfBank::end_segment`], compiled for the bank's kernel.
struct EndSegment<'a>(&'a mut DtmfBank);

impl Vectorised for EndSegment<'_> {
    #[inline(always)]
    fn run(self) {
        self.0.end_segment();
    }
}

/// A vectorised first look at one group's block: which lanes could hold two tones at all.
/// Lanes that fail (silence, noise, most speech and music) never reach the scalar classifier.
#[derive(Default)]
struct Screen {
    energy: [f32; LANES],
    amplitude: Lanes,
    possible: [bool; LANES],
}

impl Screen {
    #[inline(always)]
    fn new(group: &LaneGroup, limits: &Limits, n: usize) -> Self {
        let mut power: Lanes = [[0.0; LANES]; FILTERS];
        for f in 0..FILTERS {
            let mut re = [0.0f32; LANES];
            let mut im = [0.0f32; LANES];
            for m in 0..SEGMENTS {
                for lane in 0..LANES {
                    re[lane] += group.segments_re[m][f][lane];
                    im[lane] += group.segments_im[m][f][lane];
                }
            }
            for lane in 0..LANES {
                power[f][lane] = re[lane] * re[lane] + im[lane] * im[lane];
            }
        }
        let mut screen = Self::default();
        let to_energy = 2.0 / n as f32;
        for lane in 0..LANES {
            let sum = group.state.sum[lane];
            screen.energy[lane] = (group.state.sum_sq[lane] - sum * sum / n as f32).max(0.0);
            let low = power[..4].iter().map(|p| p[lane]).fold(0.0, f32::max);
            let high = power[4..].iter().map(|p| p[lane]).fold(0.0, f32::max);
            // The same energy and share tests `classify` starts with; it repeats them exactly.
            screen.possible[lane] = screen.energy[lane] >= limits.min_block_energy
                && (low + high) * to_energy >= limits.min_tone_share * screen.energy[lane];
        }
        for f in 0..FILTERS {
            for lane in 0..LANES {
                screen.amplitude[f][lane] = power[f][lane].sqrt();
            }
        }
        screen
    }
}
