//! Per-block decision: does this 10 ms block hold one clean DTMF pair?

use crate::Digit;
use crate::config::Limits;
use crate::fastmath::round;
use crate::spectrum::{
    Coefficients, Complex, FILTERS, NOMINAL_HZ, Quad, coarse_offset_hz, separate,
};

/// A block that passed every per-block check.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Candidate {
    pub(crate) digit: Digit,
    /// Filter indices of the low and high tone.
    pub(crate) low: usize,
    pub(crate) high: usize,
    pub(crate) low_bin: Complex,
    pub(crate) high_bin: Complex,
    /// Coarse in-block frequency offsets, Hz.
    pub(crate) low_offset_hz: f32,
    pub(crate) high_offset_hz: f32,
}

/// Bin amplitudes of one block, kept to estimate how much of a block a tone covered.
pub(crate) type Amplitudes = [f32; FILTERS];

/// Classifies one block from its bin powers `power` (`|bin|²`) and AC energy; `segments(f)`
/// gives filter `f`'s per-segment bins, asked for the two tones only once the cheap tests pass.
///
/// `held` is the digit the tracker holds. A block whose strongest pair is that digit's and
/// passes the level, twist and share tests continues it without the frequency checks: those
/// were made when the digit was confirmed, and a continuing tone changes level (at its end),
/// not frequency. Such a candidate carries no bins or offsets; the tracker never starts a run
/// from the held digit.
#[inline(always)]
pub(crate) fn classify(
    power: &[f32; FILTERS],
    energy: f32,
    coeffs: &Coefficients,
    limits: &Limits,
    held: Option<Digit>,
    segments: impl Fn(usize) -> Quad,
) -> Option<Candidate> {
    let (low, high) = strongest_pair(power, energy, coeffs, limits)?;
    continue_or_refine(coeffs, limits, low, high, held, segments)
}

/// The cheap tests: the block's strongest low and high bins `(low, high)` (filter indices), if
/// they pass the energy, level, twist and share tests. [`LaneGroup::screen`] makes the same
/// tests across lanes, with the same arithmetic.
///
/// [`LaneGroup::screen`]: crate::lanes::LaneGroup::screen
#[inline(always)]
pub(crate) fn strongest_pair(
    power: &[f32; FILTERS],
    energy: f32,
    coeffs: &Coefficients,
    limits: &Limits,
) -> Option<(usize, usize)> {
    // Silence and weak noise: nothing can pass, skip the rest.
    if energy < limits.min_block_energy {
        return None;
    }
    let low = argmax(&power[..4]);
    let high = 4 + argmax(&power[4..]);
    let ok = passes(
        power[low],
        power[high],
        energy,
        to_energy(coeffs.block_len),
        limits,
    );
    ok.then_some((low, high))
}

/// `|bin|²` to the energy of the tone behind it: a tone of amplitude A over N samples gives
/// `|bin|² = (A·N/2)²`, i.e. energy `A²N/2 = 2|bin|²/N`.
#[inline(always)]
pub(crate) fn to_energy(block_len: usize) -> f32 {
    2.0 / block_len as f32
}

/// The level, twist and share tests on the two strongest bins' powers. Branch-free, so that it
/// runs across lanes too.
#[inline(always)]
pub(crate) fn passes(
    low_power: f32,
    high_power: f32,
    energy: f32,
    to_energy: f32,
    limits: &Limits,
) -> bool {
    let e_low = low_power * to_energy;
    let e_high = high_power * to_energy;
    (energy >= limits.min_block_energy)
        & (e_low >= limits.min_tone_energy)
        & (e_high >= limits.min_tone_energy)
        & (e_low <= e_high * limits.max_normal_twist)
        & (e_high <= e_low * limits.max_reverse_twist)
        & (e_low + e_high >= limits.min_tone_share * energy)
}

/// The candidate for tones `low` and `high` that passed the cheap tests: the held digit goes
/// on as it is; any other pair is separated and must pass the in-block frequency test.
#[inline(always)]
pub(crate) fn continue_or_refine(
    coeffs: &Coefficients,
    limits: &Limits,
    low: usize,
    high: usize,
    held: Option<Digit>,
    segments: impl Fn(usize) -> Quad,
) -> Option<Candidate> {
    let digit = Digit::from_tones(low, high - 4);
    if held == Some(digit) {
        return Some(Candidate {
            digit,
            low,
            high,
            low_bin: Complex::default(),
            high_bin: Complex::default(),
            low_offset_hz: 0.0,
            high_offset_hz: 0.0,
        });
    }
    let (low_segments, high_segments) = separate(coeffs, low, high, segments(low), segments(high));
    let low_offset_hz = coarse_offset_hz(coeffs, &low_segments);
    let high_offset_hz = coarse_offset_hz(coeffs, &high_segments);
    if low_offset_hz.abs() > limits.max_coarse_deviation * NOMINAL_HZ[low]
        || high_offset_hz.abs() > limits.max_coarse_deviation * NOMINAL_HZ[high]
    {
        return None;
    }
    Some(Candidate {
        digit,
        low,
        high,
        low_bin: low_segments.sum(),
        high_bin: high_segments.sum(),
        low_offset_hz,
        high_offset_hz,
    })
}

/// Bin powers and amplitudes from a block's bins.
pub(crate) fn powers_and_amplitudes(
    re: &[f32; FILTERS],
    im: &[f32; FILTERS],
) -> ([f32; FILTERS], Amplitudes) {
    let power: [f32; FILTERS] = std::array::from_fn(|f| re[f] * re[f] + im[f] * im[f]);
    (power, power.map(f32::sqrt))
}

fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

impl Candidate {
    /// Estimated (low, high) tone frequencies, Hz.
    pub(crate) fn frequencies(&self) -> (f32, f32) {
        (
            NOMINAL_HZ[self.low] + self.low_offset_hz,
            NOMINAL_HZ[self.high] + self.high_offset_hz,
        )
    }
}

/// Fine frequency offset of filter `f` in Hz from the phase advance between two consecutive
/// blocks' bins, unwrapped with the coarse in-block estimate `coarse_hz`.
#[inline(always)]
pub(crate) fn fine_offset_hz(
    coeffs: &Coefficients,
    f: usize,
    previous: Complex,
    current: Complex,
    coarse_hz: f32,
) -> f32 {
    let tau = std::f32::consts::TAU;
    let advance = current.mul_conj(previous).arg() - coeffs.block_advance[f];
    let wrapped = advance - tau * round(advance * (1.0 / tau));
    let base = wrapped * coeffs.block_hz_per_rad;
    // The block-to-block estimate repeats every fs/N Hz; pick the alias nearest the coarse one.
    base + coeffs.block_period_hz * round((coarse_hz - base) * coeffs.block_period_inv)
}

/// Whether a pair of consecutive candidates for the same digit has both tones within tolerance.
#[inline(always)]
pub(crate) fn pair_in_tolerance(
    coeffs: &Coefficients,
    limits: &Limits,
    previous: &Candidate,
    current: &Candidate,
) -> bool {
    let check = |f: usize, prev: Complex, cur: Complex, coarse: f32| {
        let hz = fine_offset_hz(coeffs, f, prev, cur, coarse);
        hz.abs() <= limits.max_frequency_deviation * NOMINAL_HZ[f]
    };
    check(
        current.low,
        previous.low_bin,
        current.low_bin,
        (previous.low_offset_hz + current.low_offset_hz) / 2.0,
    ) && check(
        current.high,
        previous.high_bin,
        current.high_bin,
        (previous.high_offset_hz + current.high_offset_hz) / 2.0,
    )
}
