//! Per-block decision: does this 10 ms block hold one clean DTMF pair?

use crate::Digit;
use crate::config::Limits;
use crate::spectrum::{BlockSpectrum, Coefficients, Complex, FILTERS, NOMINAL_HZ};

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

/// Classifies one block. Returns the candidate (if any) and every bin's amplitude.
pub(crate) fn classify(
    spec: &BlockSpectrum,
    coeffs: &Coefficients,
    limits: &Limits,
) -> (Option<Candidate>, Amplitudes) {
    let (re, im) = spec.bins();
    let mut power = [0.0f32; FILTERS];
    let mut amps = [0.0f32; FILTERS];
    for f in 0..FILTERS {
        power[f] = re[f] * re[f] + im[f] * im[f];
        amps[f] = power[f].sqrt();
    }
    (pick(spec, coeffs, limits, &power), amps)
}

fn pick(
    spec: &BlockSpectrum,
    coeffs: &Coefficients,
    limits: &Limits,
    power: &[f32; FILTERS],
) -> Option<Candidate> {
    // Silence and weak noise: nothing can pass, skip the rest.
    if spec.energy < limits.min_block_energy {
        return None;
    }
    let low = argmax(&power[..4]);
    let high = 4 + argmax(&power[4..]);
    // A tone of amplitude A over N samples gives |bin|² = (A·N/2)², i.e. energy A²N/2 = 2|bin|²/N.
    let to_energy = 2.0 / coeffs.block_len as f32;
    let e_low = power[low] * to_energy;
    let e_high = power[high] * to_energy;
    if e_low < limits.min_tone_energy || e_high < limits.min_tone_energy {
        return None;
    }
    if e_low > e_high * limits.max_normal_twist || e_high > e_low * limits.max_reverse_twist {
        return None;
    }
    if e_low + e_high < limits.min_tone_share * spec.energy {
        return None;
    }
    let (low_segments, high_segments) = spec.separate(coeffs, low, high);
    let low_offset_hz = BlockSpectrum::coarse_offset_hz(coeffs, &low_segments);
    let high_offset_hz = BlockSpectrum::coarse_offset_hz(coeffs, &high_segments);
    if low_offset_hz.abs() > limits.max_coarse_deviation * NOMINAL_HZ[low]
        || high_offset_hz.abs() > limits.max_coarse_deviation * NOMINAL_HZ[high]
    {
        return None;
    }
    Some(Candidate {
        digit: Digit::from_tones(low, high - 4),
        low,
        high,
        low_bin: sum(&low_segments),
        high_bin: sum(&high_segments),
        low_offset_hz,
        high_offset_hz,
    })
}

fn sum(segments: &[Complex]) -> Complex {
    segments
        .iter()
        .fold(Complex::default(), |acc, &z| acc.add(z))
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
pub(crate) fn fine_offset_hz(
    coeffs: &Coefficients,
    f: usize,
    previous: Complex,
    current: Complex,
    coarse_hz: f32,
) -> f32 {
    let tau = std::f32::consts::TAU;
    let advance = current.mul_conj(previous).arg() - coeffs.block_advance[f];
    let wrapped = advance - tau * (advance / tau).round();
    let hz_per_rad = coeffs.hz_per_rad() / coeffs.block_len as f32;
    let base = wrapped * hz_per_rad;
    // The block-to-block estimate repeats every fs/N Hz; pick the alias nearest the coarse one.
    let period = tau * hz_per_rad;
    base + period * ((coarse_hz - base) / period).round()
}

/// Whether a pair of consecutive candidates for the same digit has both tones within tolerance.
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
