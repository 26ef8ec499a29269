//! Talk-off material: sung vowels, vowels whose formants sit on DTMF tones, and generated
//! music.

use super::{Rng, dbm0_amplitude, digit_frequencies};
use crate::{Digit, SampleRate};

/// A sung vowel: a harmonic source at `f0` (−6 dB/octave, glottal source plus lip radiation) with
/// ±`vibrato` relative vibrato at 5.5 Hz, through a cascade of two-pole formant resonators
/// `(centre Hz, bandwidth Hz)` (Klatt's cascade synthesiser), normalised to `level_dbm0` RMS.
pub fn sung_vowel(
    rate: SampleRate,
    f0: f64,
    formants: &[(f64, f64)],
    vibrato: f64,
    duration_ms: f64,
    level_dbm0: f64,
) -> Vec<f64> {
    let fs = f64::from(rate.hz());
    let n = (duration_ms * fs / 1000.0) as usize;
    let harmonics = ((fs / 2.0 - 200.0) / f0).floor() as usize;
    // |H(f)| of a two-pole resonance with unity gain at DC and Q = centre / bandwidth.
    let gain = |f: f64| -> f64 {
        formants
            .iter()
            .map(|&(c, bw)| {
                1.0 / ((1.0 - (f / c).powi(2)).powi(2) + (f * bw / (c * c)).powi(2)).sqrt()
            })
            .product()
    };
    let weights: Vec<f64> = (1..=harmonics)
        .map(|k| gain(k as f64 * f0) / k as f64)
        .collect();
    let mut out = vec![0.0; n];
    let mut phase = 0.0;
    let tau = std::f64::consts::TAU;
    for (i, o) in out.iter_mut().enumerate() {
        let t = i as f64 / fs;
        let f = f0 * (1.0 + vibrato * (tau * 5.5 * t).sin());
        phase += tau * f / fs;
        *o = weights
            .iter()
            .enumerate()
            .map(|(k, w)| w * ((k + 1) as f64 * phase).sin())
            .sum();
    }
    normalise(&mut out, level_dbm0);
    out
}

fn normalise(x: &mut [f64], level_dbm0: f64) {
    let rms = (x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64).sqrt();
    if rms > 0.0 {
        let target = dbm0_amplitude(level_dbm0) / std::f64::consts::SQRT_2;
        x.iter_mut().for_each(|v| *v *= target / rms);
    }
}

/// `seconds` of sung vowels whose fundamentals are chosen so that two harmonics land within
/// 1.5 % of a DTMF pair, with formants on those two harmonics: the classic talk-off trap.
pub fn dtmf_vowels(rate: SampleRate, seconds: f64, seed: u64) -> Vec<f64> {
    let mut traps = Vec::new();
    for digit in Digit::ALL {
        let (low, high) = digit_frequencies(digit);
        for h1 in 1..=8u32 {
            let f0 = low / f64::from(h1);
            if f0 < 80.0 {
                continue;
            }
            let h2 = (high / f0).round();
            if h2 > f64::from(h1) && ((h2 * f0 - high) / high).abs() < 0.015 {
                traps.push((f0, low, h2 * f0));
            }
        }
    }
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let fs = f64::from(rate.hz());
    while (out.len() as f64) < seconds * fs {
        let (f0, a, b) = traps[(rng.next_u64() % traps.len() as u64) as usize];
        let bw = rng.range(50.0, 120.0);
        let vibrato = rng.range(0.0, 0.012);
        let level = rng.range(-25.0, -5.0);
        let ms = rng.range(300.0, 1200.0);
        out.extend(sung_vowel(
            rate,
            f0,
            &[(a, bw), (b, bw), (2600.0, 200.0)],
            vibrato,
            ms,
            level,
        ));
        out.extend(std::iter::repeat_n(
            0.0,
            (rng.range(20.0, 200.0) * fs / 1000.0) as usize,
        ));
    }
    out
}

/// `seconds` of synthetic music: notes and chords of the equal-tempered scale with decaying
/// harmonics, at random tempo.
pub fn music(rate: SampleRate, seconds: f64, seed: u64) -> Vec<f64> {
    let fs = f64::from(rate.hz());
    let mut rng = Rng::new(seed);
    let total = (seconds * fs) as usize;
    let mut out = vec![0.0; total];
    let mut at = 0usize;
    let tau = std::f64::consts::TAU;
    while at < total {
        let len = (rng.range(0.08, 0.6) * fs) as usize;
        let voices = 1 + (rng.next_u64() % 3) as usize;
        let brightness = rng.range(0.3, 0.9);
        for _ in 0..voices {
            let semitone = (rng.next_u64() % 40) as f64 - 12.0;
            let f = 440.0 * 2f64.powf(semitone / 12.0);
            let amp = rng.range(0.3, 1.0);
            for k in 1..=8 {
                let fk = f * f64::from(k);
                if fk > fs / 2.0 - 200.0 {
                    break;
                }
                let ak = amp * brightness.powi(k - 1);
                for i in 0..len.min(total - at) {
                    let t = i as f64 / fs;
                    out[at + i] += ak * (-3.0 * t).exp() * (tau * fk * t).sin();
                }
            }
        }
        at += len;
    }
    normalise(&mut out, -12.0);
    out
}
