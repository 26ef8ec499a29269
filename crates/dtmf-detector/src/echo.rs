//! The echo reference: what the media server itself played, which a line echoes back into the
//! caller's audio 10–50 ms later (plus the network's round trip and the jitter buffer) and
//! 6–30 dB down. A prompt holding music, or tones, must not make a digit of its own echo.
//!
//! The rule is linear and needs no echo canceller: an echo holds at a frequency no more energy
//! than the played signal held there when it left, less the line's echo loss. A run about to be
//! confirmed is discounted as echo when, at one lag within [`MAX_LAG_MS`], the played audio
//! times the loss bound held at least as much energy as the received audio at *both* of the
//! candidate's tones (over the same 30 ms Hann window the harmonic veto uses).
//!
//! The loss bound is 3 dB ([`MIN_LOSS`]) unless the line has shown more, over the
//! [`HISTORY_BLOCKS`] that end [`GAP_BLOCKS`] before the run (a press starts a little before
//! its run does). What came back then was echo and whatever else the line carried, so the
//! received energy against the played energy bounds the echo return from above; that ratio,
//! [`ERL_MARGIN`] up for the echo path's frequency response, is the bound. When the received
//! envelope follows the played one at one delay clearly better than at any other, the ratio
//! is taken at that delay and only the lags around it are searched; otherwise at the least
//! favourable lag, and every lag is searched. The blocks heard while the caller held a digit
//! (and those its run began with) count on neither side, nor in the delay's estimate: a press
//! is no echo.
//! A caller pressing the very key whose tones the prompt is playing is then heard when the
//! press stands clear of what the line has been echoing, and a press over loud music on hold
//! is not taken for the echo of some louder note played a quarter of a second earlier.
//!
//! The echo path is the call's: the bound assumes it holds from one prompt to the next. A path
//! that turned 10 dB louder in mid-call (more than [`ERL_MARGIN`]) could let the echo of a
//! tone through until the history caught up.
//!
//! A run the echo does not explain still faces the harmonic veto, but the partials the played
//! audio explains (within the same bound) are left out of it: they are the echo's notes under
//! the press, not the press's own.
use crate::DBM0_REFERENCE_AMPLITUDE;
use crate::classify::Candidate;
use crate::harmonic::{Harmonics, MAX_WINDOW, Veto, WINDOW_BLOCKS, Window};
use crate::simd::Kernel;
use crate::spectrum::Coefficients;
use crate::tracker::HITS_TO_CONFIRM;

/// The least echo loss assumed, as a power ratio: 3 dB. G.168 designs for 6 dB or more, but a
/// hybrid's reflections can add up to within 3 dB of what was played at one frequency.
const MIN_LOSS: f32 = 0.5;

/// Longest delay between playing a sample and hearing its echo that the reference covers, ms.
pub(crate) const MAX_LAG_MS: usize = 250;

/// Blocks of received energy the detector keeps for the loss bound: the run's three, the gap
/// and the history before it, and one to spare.
pub(crate) const ENERGY_BLOCKS: usize = 36;

/// Blocks just before a run left out of the history: a press starts up to this long before
/// its run does (while the echo under it still wins the blocks), and must not be taken for
/// echo return.
const GAP_BLOCKS: usize = 4;

/// Blocks before the gap over which the line's echo return, and its delay, are measured
/// (280 ms).
pub(crate) const HISTORY_BLOCKS: usize = ENERGY_BLOCKS - WINDOW_BLOCKS - GAP_BLOCKS - 1;

/// How far the echo return at one frequency may stand above the broadband echo return
/// measured over the history, as a power ratio (10 dB): a hybrid's second reflection, 6 dB
/// down, alone makes the response ripple by 9.5 dB from peak to trough.
const ERL_MARGIN: f32 = 10.0;

/// Least played power, per sample, over the history for the measured bound to count:
/// −45 dBm0 (below it the ratio is one of noise floors).
const MIN_HISTORY_POWER: f32 = DBM0_REFERENCE_AMPLITUDE * DBM0_REFERENCE_AMPLITUDE / 2.0 * 3.16e-5;

/// The received energy of the last [`ENERGY_BLOCKS`] blocks, by block index.
pub(crate) trait ReceivedEnergy {
    /// AC energy of block `block` (sum of squares), which is one of the last
    /// [`ENERGY_BLOCKS`]; negative (see [`mark_pressed`]) when a digit was held at it.
    fn energy(&self, block: u64) -> f32;
}

/// A block energy marked as heard while a digit was held.
pub(crate) fn mark_pressed(energy: f32) -> f32 {
    -energy.abs().max(f32::MIN_POSITIVE)
}

/// The energy slots to mark while a digit is held at block `block`: this block and the ones
/// its run began with (the run's candidate blocks and the partly covered block before them),
/// which were heard before the digit was confirmed.
pub(crate) fn pressed_slots(block: u64) -> impl Iterator<Item = usize> {
    (0..=HITS_TO_CONFIRM as u64)
        .filter_map(move |back| block.checked_sub(back))
        .map(|b| (b % ENERGY_BLOCKS as u64) as usize)
}

/// The played audio of the last [`MAX_LAG_MS`] plus [`ENERGY_BLOCKS`], on the received
/// audio's time line: sample `t` of the reference left when sample `t` of the input arrived.
#[derive(Clone, Debug)]
pub(crate) struct EchoReference {
    ring: Vec<i16>,
    /// Reference samples fed so far.
    fed: u64,
    /// Lag step, samples (half a block).
    step: usize,
    lags: usize,
    block_len: usize,
}

impl EchoReference {
    pub(crate) fn new(coeffs: &Coefficients, window: &Window) -> Self {
        let lag_samples = MAX_LAG_MS * coeffs.rate.hz() as usize / 1000;
        let n = coeffs.block_len;
        let step = n / 2;
        debug_assert!(window.len() == WINDOW_BLOCKS * n);
        Self {
            ring: vec![0; lag_samples.div_ceil(n) * n + (ENERGY_BLOCKS + 1) * n],
            fed: 0,
            step,
            lags: (lag_samples / step + 1).min(MAX_LAG_STEPS),
            block_len: n,
        }
    }

    /// Appends played samples. When the reference runs ahead of the input, or behind it, the
    /// lag search absorbs up to [`MAX_LAG_MS`] of the difference.
    pub(crate) fn feed(&mut self, mut played: &[i16]) {
        let len = self.ring.len();
        if played.len() > len {
            self.fed += (played.len() - len) as u64;
            played = &played[played.len() - len..];
        }
        while !played.is_empty() {
            let at = (self.fed % len as u64) as usize;
            let take = played.len().min(len - at);
            self.ring[at..at + take].copy_from_slice(&played[..take]);
            self.fed += take as u64;
            played = &played[take..];
        }
    }

    /// Puts the next `len` played samples on the input's time line, whose next sample is `now`:
    /// fed just before the received samples of the same interval they start at `now`, just
    /// after at `now - len`; an interval with nothing played is silence. A reference ahead of
    /// the input (received audio stopped while prompts went on) is pulled back to `now`:
    /// nothing past `fed` is ever read, so what it overwrites was never used.
    pub(crate) fn align(&mut self, now: u64, len: u64) {
        self.fed = self.fed.min(now);
        self.catch_up(now.saturating_sub(len));
    }

    /// Moves the reference to `now` when it lags the input (nothing played is silence).
    fn catch_up(&mut self, now: u64) {
        if self.fed + self.ring.len() as u64 <= now {
            self.ring.fill(0);
            self.fed = now;
        }
        while self.fed < now {
            let len = self.ring.len();
            let at = (self.fed % len as u64) as usize;
            let take = ((now - self.fed) as usize).min(len - at);
            self.ring[at..at + take].fill(0);
            self.fed += take as u64;
        }
    }

    /// The `len` played samples from stream time `start`, which must be in the ring: two
    /// slices of it (no division per sample).
    fn samples(&self, start: u64, len: usize) -> impl Iterator<Item = i16> + '_ {
        let size = self.ring.len();
        let at = (start % size as u64) as usize;
        let first = &self.ring[at..(at + len).min(size)];
        let rest = &self.ring[..(len - first.len()).min(at)];
        first.iter().chain(rest).copied()
    }

    /// The loss bound and the lags to search for a run whose three blocks end at block index
    /// `end_block` (see the module's text): [`MIN_LOSS`] at every lag, or less when the history
    /// shows the line echoes less, at the lags around the echo's delay when the history shows it.
    pub(crate) fn bound(&self, end_block: u64, received: &impl ReceivedEnergy) -> Bound {
        let all = Bound {
            losses: [MIN_LOSS; MAX_LAG_STEPS],
            count: self.lags,
        };
        let n = self.block_len as u64;
        let lag_blocks = (self.lags - 1) * self.step / self.block_len;
        let Some(first) =
            end_block.checked_sub((WINDOW_BLOCKS + GAP_BLOCKS + HISTORY_BLOCKS) as u64)
        else {
            return all;
        };
        let run = end_block - WINDOW_BLOCKS as u64;
        let Some(played_from) = first.checked_sub(lag_blocks as u64) else {
            return all;
        };
        if played_from * n < self.fed.saturating_sub(self.ring.len() as u64) || run * n > self.fed {
            return all;
        }
        // Played energy per block from `played_from`, and over the history at each lag.
        let mut played = [0.0f32; ENERGY_BLOCKS + MAX_LAG_MS / 5];
        let played = &mut played[..HISTORY_BLOCKS + lag_blocks];
        for (b, e) in played.iter_mut().enumerate() {
            let start = (played_from + b as u64) * n;
            *e = self
                .samples(start, n as usize)
                .map(|x| f32::from(x).powi(2))
                .sum();
        }
        // Blocks heard while the caller held a digit are no echo: they count on neither side.
        let mut came = [0.0f32; HISTORY_BLOCKS];
        let mut echo_only = [true; HISTORY_BLOCKS];
        for ((e, only), i) in came.iter_mut().zip(&mut echo_only).zip(0u64..) {
            let energy = received.energy(first + i);
            *only = energy >= 0.0;
            *e = energy.abs();
        }
        let kept = echo_only.iter().filter(|&&k| k).count();
        let kept_sum = |e: &[f32]| -> f32 {
            e.iter()
                .zip(&echo_only)
                .filter(|(_, k)| **k)
                .map(|(e, _)| e)
                .sum()
        };
        let came_back = kept_sum(&came);
        let at_lag = |d: usize| &played[lag_blocks - d..lag_blocks - d + HISTORY_BLOCKS];
        let sent_at = |d: usize| kept_sum(at_lag(d));
        let least = (0..=lag_blocks).map(sent_at).fold(f32::INFINITY, f32::min);
        if kept == 0 || least < MIN_HISTORY_POWER * (kept as u64 * n) as f32 {
            return all;
        }
        let bounded = |sent: f32| (ERL_MARGIN * came_back / sent).clamp(1e-3, MIN_LOSS);
        // Without the delay, the least favourable lag's bound holds at every lag.
        let delay = echo_delay(&came, &echo_only, lag_blocks, at_lag);
        let Some(d) = delay else {
            return Bound {
                losses: [bounded(least); MAX_LAG_STEPS],
                count: self.lags,
            };
        };
        // Around the delay, the bound at the delay; elsewhere no echo at all.
        let per_block = self.block_len / self.step;
        let near = bounded(sent_at(d));
        let mut bound = Bound {
            losses: [0.0; MAX_LAG_STEPS],
            count: self.lags,
        };
        let around = d.saturating_sub(1) * per_block..((d + 1) * per_block + 1).min(self.lags);
        bound.losses[around].fill(near);
        bound
    }

    /// The first sample of the played window at lag step `k` for a veto window ending at
    /// `end`, when the ring holds it.
    fn played_start(&self, end: u64, m: u64, k: usize) -> Option<u64> {
        let start = end.checked_sub((k * self.step) as u64 + m)?;
        let oldest = self.fed.saturating_sub(self.ring.len() as u64);
        (start >= oldest && start + m <= self.fed).then_some(start)
    }

    /// Power at `hz` of the played window starting at `start`.
    fn played_power(&self, start: u64, weights: &[f32], hz: f32, fs: f32) -> f32 {
        goertzel(self.samples(start, weights.len()), weights, hz, fs)
    }

    /// Whether the candidate, whose veto window of input `input` ended at stream time `end`,
    /// is explained by what was played, within `bound`.
    pub(crate) fn explains(
        &self,
        coeffs: &Coefficients,
        window: &Window,
        candidate: &Candidate,
        input: &[i16],
        end: u64,
        bound: &Bound,
    ) -> bool {
        let (low_hz, high_hz) = candidate.frequencies();
        let fs = coeffs.rate.hz() as f32;
        let weights = window.weights();
        let received = |hz| goertzel(input.iter().copied(), weights, hz, fs);
        let (in_low, in_high) = (received(low_hz), received(high_hz));
        let m = weights.len() as u64;
        bound.lags().any(|(k, loss)| {
            self.played_start(end, m, k).is_some_and(|start| {
                self.played_power(start, weights, low_hz, fs) * loss >= in_low
                    && self.played_power(start, weights, high_hz, fs) * loss >= in_high
            })
        })
    }

    /// Zeroes the harmonic veto's probe `levels` (at `probes`, Hz) that the played audio
    /// explains within `bound`: partials of the prompt's echo under a press are not the
    /// press's own.
    fn discount(
        &self,
        coeffs: &Coefficients,
        window: &Window,
        end: u64,
        bound: &Bound,
        probes: &[f32],
        levels: &mut [f32],
    ) {
        let fs = coeffs.rate.hz() as f32;
        let weights = window.weights();
        let m = weights.len() as u64;
        for (&hz, level) in probes.iter().zip(levels) {
            if *level <= 0.0 {
                continue;
            }
            let explained = bound.lags().any(|(k, loss)| {
                self.played_start(end, m, k)
                    .is_some_and(|start| self.played_power(start, weights, hz, fs) * loss >= *level)
            });
            if explained {
                *level = 0.0;
            }
        }
    }
}

/// How much a run may be explained by the played audio, and at which lag steps.
pub(crate) struct Bound {
    /// The loss bound at each lag step; 0 where the history rules the echo out.
    losses: [f32; MAX_LAG_STEPS],
    /// Lag steps in all.
    count: usize,
}

/// Most lag steps (half blocks of 5 ms at every rate).
const MAX_LAG_STEPS: usize = MAX_LAG_MS / 5 + 1;

impl Bound {
    /// The lag steps where the echo may be, with their loss bounds.
    fn lags(&self) -> impl Iterator<Item = (usize, f32)> + '_ {
        self.losses[..self.count]
            .iter()
            .copied()
            .enumerate()
            .filter(|&(_, loss)| loss > 0.0)
    }
}

/// Least correlation between the received and the played block envelopes for the delay to
/// count as found.
const MIN_CORRELATION: f32 = 0.9;

/// How far below the best delay's correlation every delay more than two blocks away must be.
const CORRELATION_MARGIN: f32 = 0.05;

/// Fewest history blocks free of the caller's presses for the echo's delay to be estimated.
const MIN_DELAY_BLOCKS: usize = 10;

/// The echo's delay in blocks, when the received history's envelope (square roots of block
/// energies) follows the played envelope at one delay clearly better than at any other; over
/// the blocks `kept` (those heard while no digit was held) only.
fn echo_delay<'p>(
    came: &[f32; HISTORY_BLOCKS],
    kept: &[bool; HISTORY_BLOCKS],
    lag_blocks: usize,
    at_lag: impl Fn(usize) -> &'p [f32],
) -> Option<usize> {
    let count = kept.iter().filter(|&&k| k).count();
    if count < MIN_DELAY_BLOCKS {
        return None;
    }
    let envelope = |e: &[f32], out: &mut [f32; HISTORY_BLOCKS]| -> Option<()> {
        for ((o, &x), &k) in out.iter_mut().zip(e).zip(kept) {
            *o = if k { x.max(0.0).sqrt() } else { 0.0 };
        }
        let mean = out.iter().sum::<f32>() / count as f32;
        for (o, &k) in out.iter_mut().zip(kept) {
            *o = if k { *o - mean } else { 0.0 };
        }
        let norm = out.iter().map(|o| o * o).sum::<f32>().sqrt();
        if norm <= 1e-3 * mean.abs().max(1.0) {
            return None;
        }
        out.iter_mut().for_each(|o| *o /= norm);
        Some(())
    };
    let mut r = [0.0f32; HISTORY_BLOCKS];
    envelope(came, &mut r)?;
    let mut rho = [f32::NEG_INFINITY; MAX_LAG_MS / 5 + 1];
    let rho = &mut rho[..=lag_blocks];
    let mut p = [0.0f32; HISTORY_BLOCKS];
    for (d, c) in rho.iter_mut().enumerate() {
        if envelope(at_lag(d), &mut p).is_some() {
            *c = r.iter().zip(&p).map(|(a, b)| a * b).sum();
        }
    }
    let (best, &top) = rho.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    if top < MIN_CORRELATION {
        return None;
    }
    let rival = rho
        .iter()
        .enumerate()
        .any(|(d, &c)| d.abs_diff(best) > 2 && c > top - CORRELATION_MARGIN);
    (!rival).then_some(best)
}

/// Power of the windowed samples at `hz`.
fn goertzel(samples: impl Iterator<Item = i16>, weights: &[f32], hz: f32, fs: f32) -> f32 {
    let w = std::f32::consts::TAU * hz / fs;
    let k = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for (x, g) in samples.zip(weights) {
        let s0 = f32::from(x) * g + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - k * s1 * s2
}

/// The echo rule (when a reference is fed), then the harmonic veto.
pub(crate) struct EchoOrHarmonics<'a, F, E> {
    /// The reference, the stream time at the end of the veto window, and the received energy
    /// of the blocks up to it.
    echo: Option<(&'a EchoReference, u64, E)>,
    harmonics: Harmonics<'a, F>,
}

impl<'a, F: Fn(&mut [i16]), E: ReceivedEnergy> EchoOrHarmonics<'a, F, E> {
    /// The veto for a window ending at `end` whose samples `fill` writes, oldest first;
    /// `received` gives the energy of the blocks before.
    pub(crate) fn new(
        kernel: Kernel,
        coeffs: &'a Coefficients,
        window: &'a Window,
        echo: Option<&'a EchoReference>,
        end: u64,
        received: E,
        fill: F,
    ) -> Self {
        Self {
            echo: echo.map(|e| (e, end, received)),
            harmonics: Harmonics {
                kernel,
                coeffs,
                window,
                fill,
            },
        }
    }
}

impl<F: Fn(&mut [i16]), E: ReceivedEnergy> Veto for EchoOrHarmonics<'_, F, E> {
    #[inline(always)]
    fn vetoes(self, candidate: &Candidate) -> bool {
        let Some((echo, end, received)) = self.echo else {
            return self.harmonics.vetoes(candidate);
        };
        let h = &self.harmonics;
        let (coeffs, window) = (h.coeffs, h.window);
        let mut input = [0i16; MAX_WINDOW];
        let input = &mut input[..window.len()];
        (h.fill)(input);
        let bound = echo.bound(end / coeffs.block_len as u64, &received);
        if echo.explains(coeffs, window, candidate, input, end, &bound) {
            return true;
        }
        self.harmonics
            .vetoes_discounting(candidate, |probes, levels| {
                echo.discount(coeffs, window, end, &bound, probes, levels);
            })
    }
}
