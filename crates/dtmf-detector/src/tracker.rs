//! Block-level timing: turns per-block candidates into digit events.
//!
//! Blocks are 10 ms. A digit is confirmed after [`HITS_TO_CONFIRM`] consecutive candidate blocks
//! whose tones stay within frequency tolerance from block to block, and ends after
//! [`MISSES_TO_END`] consecutive blocks without it. Why three and three (Q.24):
//! - a tone of ≥ 40 ms always covers ≥ 3 whole blocks; one of ≤ 23 ms covers ≤ 2 whole blocks
//!   plus a block at most 30 % covered, which fails the tone-share check;
//! - a pause of ≥ 40 ms always holds ≥ 3 whole silent blocks; a break of ≤ 10 ms spoils ≤ 2.
//!
//! A run that reaches three hits is confirmed only if the veto, asked then and only then, finds
//! neither the echo of what was played (`echo.rs`, when a reference is fed) nor a harmonic series
//! (`harmonic.rs`). A vetoed run is rejected for as long as its chain of in-tolerance candidates
//! lasts (a sung note, or a prompt's tone, is asked once, not every block), unless its level
//! rises by more than 6 dB: then a new run starts and the veto is asked again.
//!
//! Onset and end are refined below block resolution: the amplitude a tone leaves in a partly
//! covered block, against its full-block amplitude, says how much of that block it covered.

use std::collections::VecDeque;

use crate::classify::{Amplitudes, Candidate, pair_in_tolerance};
use crate::config::Limits;
use crate::harmonic::Veto;
use crate::spectrum::Coefficients;
use crate::{Digit, Event, SampleTime};

/// Consecutive in-tolerance candidate blocks that confirm a digit.
pub(crate) const HITS_TO_CONFIRM: u8 = 3;
/// Consecutive blocks without the digit that end it.
pub(crate) const MISSES_TO_END: u8 = 3;
/// How far a rejected run's pair amplitude may rise and stay rejected (6 dB): more, and
/// something new has joined it (a caller pressing the key of the prompt tone whose echo was
/// rejected), so its blocks start a run of their own and the veto is asked again.
const RISE: f32 = 2.0;

/// Where the tracker is.
#[derive(Clone, Debug, Default)]
enum State {
    /// No digit and no run of candidates.
    #[default]
    Quiet,
    /// Consecutive candidates for one digit, not yet confirmed.
    Counting(Run),
    /// A run the veto rejected, continuing: its last candidate, and the pair amplitude of the
    /// block it was rejected at.
    Rejected(Candidate, f32),
    /// A confirmed digit; `misses` blocks since its last hit.
    Holding(Held),
    /// A confirmed digit is fading out while another digit's run builds.
    Switching(Held, Run),
}

#[derive(Clone, Debug)]
struct Run {
    first: Candidate,
    last: Candidate,
    hits: u8,
    /// Sample index of the first candidate block's start.
    start: u64,
    /// Amplitude of the digit's two bins in the block before the run.
    lead_amplitude: f32,
}

/// A confirmed digit. The bank keeps the fields a block changes in vector form while a lane
/// only holds its digit (`held.rs`), and puts them back before the tracker sees the lane again.
#[derive(Clone, Debug)]
pub(crate) struct Held {
    digit: Digit,
    /// Filter indices of the low and high tone.
    pub(crate) low: usize,
    pub(crate) high: usize,
    onset: SampleTime,
    /// End of the last block that held the digit, and its amplitude.
    pub(crate) last_hit_end: u64,
    pub(crate) last_hit_amplitude: f32,
    /// Largest full-block amplitude seen: the reference for partial-coverage estimates.
    pub(crate) reference: f32,
    pub(crate) misses: u8,
    /// Amplitude in the first block after the last hit.
    pub(crate) tail_amplitude: f32,
}

impl Held {
    /// A block ending at `block_end` held the digit with `amplitude`.
    #[inline(always)]
    fn hit(&mut self, block_end: u64, amplitude: f32) {
        self.misses = 0;
        self.last_hit_end = block_end;
        self.last_hit_amplitude = amplitude;
        self.reference = self.reference.max(amplitude);
    }

    /// A block without the digit, where its bins read `amplitude`.
    #[inline(always)]
    fn miss(&mut self, amplitude: f32) {
        if self.misses == 0 {
            self.tail_amplitude = amplitude;
        }
        self.misses += 1;
    }
}

/// Per-channel timing state.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tracker {
    state: State,
}

pub(crate) fn pair_amplitude(amps: &Amplitudes, low: usize, high: usize) -> f32 {
    amps[low] + amps[high]
}

/// A candidate block's amplitude at its two tones.
fn candidate_amplitude(c: &Candidate) -> f32 {
    c.low_bin.norm_sqr().sqrt() + c.high_bin.norm_sqr().sqrt()
}

/// Fraction of a block covered by a tone, from its amplitude against a full block's.
fn coverage(amplitude: f32, reference: f32) -> f32 {
    if reference <= 0.0 {
        return 0.0;
    }
    (amplitude / reference).clamp(0.0, 1.0)
}

impl Tracker {
    /// Whether no digit or run is in progress: then a block without a candidate changes
    /// nothing, and the caller may skip it.
    pub(crate) fn is_idle(&self) -> bool {
        matches!(self.state, State::Quiet)
    }

    /// The digit being held, if any (a candidate for it extends no run).
    pub(crate) fn held(&self) -> Option<Digit> {
        match &self.state {
            State::Holding(held) | State::Switching(held, _) => Some(held.digit),
            State::Quiet | State::Counting(_) | State::Rejected(..) => None,
        }
    }

    /// The held digit while nothing else is going on: then the next block either hits it,
    /// misses it, or needs the whole tracker.
    pub(crate) fn holding_mut(&mut self) -> Option<&mut Held> {
        match &mut self.state {
            State::Holding(held) => Some(held),
            _ => None,
        }
    }

    /// Feeds one block's verdict. `start` is the block's first sample; `amps` are the block's
    /// bin amplitudes and `previous` the block before's. `veto` is asked whether a run about to
    /// be confirmed is harmonic.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn handle_block(
        &mut self,
        coeffs: &Coefficients,
        limits: &Limits,
        start: u64,
        candidate: Option<Candidate>,
        amps: &Amplitudes,
        previous: &Amplitudes,
        veto: impl Veto,
        events: &mut VecDeque<Event>,
    ) {
        let n = coeffs.block_len as u64;
        // The common blocks of a held digit, in place: it goes on, or misses a block.
        if let State::Holding(held) = &mut self.state {
            match candidate {
                Some(c) if c.digit == held.digit => {
                    held.hit(start + n, pair_amplitude(amps, held.low, held.high));
                    return;
                }
                None if held.misses + 1 < MISSES_TO_END => {
                    held.miss(pair_amplitude(amps, held.low, held.high));
                    return;
                }
                _ => {}
            }
        }
        let state = std::mem::take(&mut self.state);
        self.state = match state {
            State::Quiet => Self::begin_run(previous, start, candidate),
            State::Counting(run) => Self::extend_run(
                coeffs, limits, previous, run, start, candidate, veto, events,
            ),
            State::Rejected(last, rejected_at) => match candidate {
                Some(c)
                    if c.digit == last.digit
                        && pair_in_tolerance(coeffs, limits, &last, &c)
                        && candidate_amplitude(&c) <= RISE * rejected_at =>
                {
                    State::Rejected(c, rejected_at)
                }
                _ => Self::begin_run(previous, start, candidate),
            },
            State::Holding(held) => {
                let digit = held.digit;
                match Self::hold(held, start + n, candidate, amps, n, events) {
                    Some(held) => match candidate {
                        Some(c) if c.digit != digit => {
                            let run = Self::new_run(previous, start, c);
                            State::Switching(held, run)
                        }
                        _ => State::Holding(held),
                    },
                    None => Self::begin_run(previous, start, candidate),
                }
            }
            State::Switching(held, run) => {
                // Every block of the new run is a miss for the old digit.
                match Self::hold(held, start + n, candidate, amps, n, events) {
                    Some(held) if candidate.is_some_and(|c| c.digit == held.digit) => {
                        State::Holding(held)
                    }
                    Some(held) => {
                        match Self::extend_run(
                            coeffs, limits, previous, run, start, candidate, veto, events,
                        ) {
                            State::Counting(run) => State::Switching(held, run),
                            State::Quiet => State::Holding(held),
                            // The run confirmed while the old digit is still held (the counts
                            // make this impossible today): end the old digit before the new one.
                            confirmed => {
                                let pressed = events.pop_back();
                                events.push_back(Self::release(&held, n));
                                events.extend(pressed);
                                confirmed
                            }
                        }
                    }
                    None => Self::extend_run(
                        coeffs, limits, previous, run, start, candidate, veto, events,
                    ),
                }
            }
        };
    }

    /// Ends the stream: a held digit ends where its last block ended.
    pub(crate) fn finish(&mut self, block_len: u64, events: &mut VecDeque<Event>) {
        match std::mem::take(&mut self.state) {
            State::Holding(held) | State::Switching(held, _) => {
                events.push_back(Self::release(&held, block_len));
            }
            State::Quiet | State::Counting(_) | State::Rejected(..) => {}
        }
    }

    fn new_run(previous: &Amplitudes, start: u64, c: Candidate) -> Run {
        Run {
            first: c,
            last: c,
            hits: 1,
            start,
            lead_amplitude: pair_amplitude(previous, c.low, c.high),
        }
    }

    fn begin_run(previous: &Amplitudes, start: u64, candidate: Option<Candidate>) -> State {
        match candidate {
            Some(c) => State::Counting(Self::new_run(previous, start, c)),
            None => State::Quiet,
        }
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn extend_run(
        coeffs: &Coefficients,
        limits: &Limits,
        previous: &Amplitudes,
        mut run: Run,
        start: u64,
        candidate: Option<Candidate>,
        veto: impl Veto,
        events: &mut VecDeque<Event>,
    ) -> State {
        let Some(c) = candidate else {
            return State::Quiet;
        };
        if c.digit != run.first.digit || !pair_in_tolerance(coeffs, limits, &run.last, &c) {
            return State::Counting(Self::new_run(previous, start, c));
        }
        run.hits += 1;
        run.last = c;
        if run.hits < HITS_TO_CONFIRM {
            return State::Counting(run);
        }
        if veto.vetoes(&c) {
            return State::Rejected(c, candidate_amplitude(&c));
        }
        let n = coeffs.block_len as u64;
        let reference = candidate_amplitude(&run.last).max(candidate_amplitude(&run.first));
        // Onset: the run's first block start, moved later if that block was only partly covered,
        // and earlier by the share of the block before it that the tone already covered.
        let late = 1.0 - coverage(candidate_amplitude(&run.first), reference);
        let early = coverage(run.lead_amplitude, reference);
        let onset = run.start as f64 + f64::from(late - early) * n as f64;
        let onset = SampleTime(onset.max(0.0).round() as u64);
        events.push_back(Event::Pressed {
            digit: c.digit,
            onset,
        });
        State::Holding(Held {
            digit: c.digit,
            low: c.low,
            high: c.high,
            onset,
            last_hit_end: start + n,
            last_hit_amplitude: candidate_amplitude(&c),
            reference,
            misses: 0,
            tail_amplitude: 0.0,
        })
    }

    /// Advances a held digit by one block; `None` once it has ended (its event is pushed).
    #[inline(always)]
    fn hold(
        mut held: Held,
        block_end: u64,
        candidate: Option<Candidate>,
        amps: &Amplitudes,
        n: u64,
        events: &mut VecDeque<Event>,
    ) -> Option<Held> {
        let amplitude = pair_amplitude(amps, held.low, held.high);
        if candidate.is_some_and(|c| c.digit == held.digit) {
            held.hit(block_end, amplitude);
            return Some(held);
        }
        held.miss(amplitude);
        if held.misses < MISSES_TO_END {
            return Some(held);
        }
        events.push_back(Self::release(&held, n));
        None
    }

    fn release(held: &Held, n: u64) -> Event {
        let short = 1.0 - coverage(held.last_hit_amplitude, held.reference);
        let over = coverage(held.tail_amplitude, held.reference);
        let end = held.last_hit_end as f64 + f64::from(over - short) * n as f64;
        let end = SampleTime((end.round() as u64).max(held.onset.0));
        Event::Released {
            digit: held.digit,
            onset: held.onset,
            end,
        }
    }
}
