//! Harmonic veto: real DTMF is two pure tones; voices and instruments are harmonic series.
//!
//! Run only on blocks that already passed every other check, over the last three blocks (30 ms,
//! Hann window: 33 Hz resolution at 8 kHz, side lobes ≤ −31 dB from 80 Hz away). It probes:
//! - the second harmonic of each tone: notes of instruments carry one within about 10 dB, while a
//!   DTMF pair, even clipped at 0 dBm0 per tone, has none (symmetric clipping makes odd orders);
//! - for every fundamental `f0 ≥ 90 Hz` with `h1·f0` on the low tone and `h2·f0` within 2.5 % of
//!   the high tone, the harmonics next to them, `(h1 ± 1)·f0` and `(h2 ± 1)·f0`: a sung vowel
//!   whose formants sit on two harmonics still carries their neighbours within about 15 dB.
//!
//! A probe within [`VETO_DB`] of the weaker tone vetoes the block. White noise at 15 dB SNR puts a
//! probe near −31 dB, so a legitimate digit is vetoed with odds around e^−20 per probe.

use crate::classify::Candidate;
use crate::simd::{Kernel, MAX_PROBES, powers};
use crate::spectrum::{Coefficients, MAX_BLOCK};

/// Probe level, relative to the weaker tone, from which a block is taken as harmonic.
const VETO_DB: f32 = -18.0;
/// Lowest fundamental considered (a bass voice).
const MIN_F0_HZ: f32 = 90.0;
/// Largest low-tone harmonic number considered.
const MAX_HARMONIC: u32 = 8;
/// Samples in the veto window: three blocks.
pub(crate) const WINDOW_BLOCKS: usize = 3;
pub(crate) const MAX_WINDOW: usize = WINDOW_BLOCKS * MAX_BLOCK;

/// The Hann window for the veto, per rate.
#[derive(Clone, Debug)]
pub(crate) struct Window {
    weights: Vec<f32>,
}

impl Window {
    pub(crate) fn new(coeffs: &Coefficients) -> Self {
        let m = WINDOW_BLOCKS * coeffs.block_len;
        let weights = (0..m)
            .map(|i| {
                let x = std::f64::consts::TAU * (i as f64 + 0.5) / m as f64;
                (0.5 - 0.5 * x.cos()) as f32
            })
            .collect();
        Self { weights }
    }

    pub(crate) fn len(&self) -> usize {
        self.weights.len()
    }
}

/// Whether the candidate's tones are better explained as harmonics of something. `fill` writes
/// the last [`WINDOW_BLOCKS`] blocks of samples, oldest first.
pub(crate) fn is_harmonic(
    kernel: Kernel,
    coeffs: &Coefficients,
    window: &Window,
    candidate: &Candidate,
    fill: impl FnOnce(&mut [f32]),
) -> bool {
    let (low_hz, high_hz) = candidate.frequencies();
    let fs = coeffs.rate.hz() as f32;
    // Probes inside a tone's main lobe (two bins of the window, plus half a bin) hear the tone.
    let guard = 2.5 * fs / window.len() as f32;
    let usable = |hz: f32| {
        hz < fs / 2.0 - 300.0 && (hz - low_hz).abs() > guard && (hz - high_hz).abs() > guard
    };
    // The two tones first (the reference), then the probes.
    let mut probes = [0.0f32; MAX_PROBES];
    probes[0] = low_hz;
    probes[1] = high_hz;
    let mut count = 2;
    for hz in [2.0 * low_hz, 2.0 * high_hz] {
        if usable(hz) {
            probes[count] = hz;
            count += 1;
        }
    }
    for h1 in 1..=MAX_HARMONIC {
        let f0 = low_hz / h1 as f32;
        if f0 < MIN_F0_HZ {
            break;
        }
        let h2 = (high_hz / f0).round();
        if h2 <= h1 as f32 || ((h2 * f0 - high_hz) / high_hz).abs() > 0.025 {
            continue;
        }
        for k in [h1 as f32 - 1.0, h1 as f32 + 1.0, h2 - 1.0, h2 + 1.0] {
            if k >= 1.0 && usable(k * f0) {
                probes[count] = k * f0;
                count += 1;
            }
        }
    }
    let mut buf = [0.0f32; MAX_WINDOW];
    let buf = &mut buf[..window.len()];
    fill(buf);
    for (x, w) in buf.iter_mut().zip(&window.weights) {
        *x *= w;
    }
    let mut levels = [0.0f32; MAX_PROBES];
    powers(kernel, buf, &probes[..count], fs, &mut levels);
    let floor = levels[0].min(levels[1]) * 10f32.powf(VETO_DB / 10.0);
    levels[2..count].iter().any(|&p| p > floor)
}
