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
//! A second harmonic within [`SECOND_HARMONIC_DB`] of the weaker tone vetoes the run, and so do
//! two neighbours within [`NEAR_DB`], three within [`FAR_DB`] or four within [`WIDE_DB`]. White noise at 15 dB SNR puts a
//! probe near −31 dB. Music or speech 15 dB under a digit (the talk-down corpus from real sound)
//! reaches a second harmonic's −15 dB in under 1 % of digits, and puts one partial within 10 dB
//! of the weaker tone now and then but two or three hardly ever; a sung vowel whose formants sit
//! on two harmonics carries three or four neighbours within 10 dB.

use crate::classify::Candidate;
use crate::fastmath::{round, sin_cos};
use crate::simd::{Kernel, Vectorised, run};
use crate::spectrum::{Coefficients, MAX_BLOCK};
use crate::vector::{F32x16, WIDTH};

/// Second-harmonic level, relative to the weaker tone, from which a run is an instrument's
/// notes: one is enough.
const SECOND_HARMONIC_DB: f32 = -15.0;
/// Neighbour levels, relative to the weaker tone, from which a run is a voice: two within
/// [`NEAR_DB`], three within [`FAR_DB`] or four within [`WIDE_DB`]. One alone is not enough:
/// music or speech *under* a digit (15 dB below it) often puts one partial near a neighbour,
/// rarely two or three.
const NEAR_DB: f32 = -10.0;
const FAR_DB: f32 = -14.0;
const WIDE_DB: f32 = -17.0;
/// Lowest fundamental considered (a bass voice).
const MIN_F0_HZ: f32 = 90.0;
/// Largest low-tone harmonic number considered.
const MAX_HARMONIC: u32 = 8;
/// `1/h` for `h ≤ MAX_HARMONIC` (index 0 unused): fundamentals without a division each.
const RECIPROCALS: [f32; MAX_HARMONIC as usize + 1] = [
    0.0,
    1.0,
    0.5,
    1.0 / 3.0,
    0.25,
    0.2,
    1.0 / 6.0,
    1.0 / 7.0,
    0.125,
];
/// Samples in the veto window: three blocks.
pub(crate) const WINDOW_BLOCKS: usize = 3;
pub(crate) const MAX_WINDOW: usize = WINDOW_BLOCKS * MAX_BLOCK;
/// Most frequencies measured in one veto: the two tones, two second harmonics, and four
/// neighbours for each of at most ten fundamentals.
const MAX_PROBES: usize = 48;

/// The Hann window for the veto, per rate.
#[derive(Clone, Debug)]
pub(crate) struct Window {
    weights: Vec<f32>,
    /// [`SECOND_HARMONIC_DB`], [`NEAR_DB`], [`FAR_DB`] and [`WIDE_DB`] as power ratios.
    second_ratio: f32,
    near_ratio: f32,
    far_ratio: f32,
    wide_ratio: f32,
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
        Self {
            weights,
            second_ratio: 10f32.powf(SECOND_HARMONIC_DB / 10.0),
            near_ratio: 10f32.powf(NEAR_DB / 10.0),
            far_ratio: 10f32.powf(FAR_DB / 10.0),
            wide_ratio: 10f32.powf(WIDE_DB / 10.0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.weights.len()
    }

    pub(crate) fn weights(&self) -> &[f32] {
        &self.weights
    }
}

/// The tracker's question to the veto, asked once a run is about to be confirmed.
pub(crate) trait Veto {
    /// Whether `candidate`'s tones are better explained as harmonics of something.
    fn vetoes(self, candidate: &Candidate) -> bool;
}

/// [`is_harmonic`] over the samples `fill` writes. A method, not a closure, so that the veto is
/// compiled into the caller's vector kernel: a closure this size is not inlined, and its body
/// was compiled apart, for the baseline instruction set.
pub(crate) struct Harmonics<'a, F> {
    pub(crate) kernel: Kernel,
    pub(crate) coeffs: &'a Coefficients,
    pub(crate) window: &'a Window,
    pub(crate) fill: F,
}

impl<F: FnOnce(&mut [i16])> Veto for Harmonics<'_, F> {
    #[inline(always)]
    fn vetoes(self, candidate: &Candidate) -> bool {
        self.vetoes_discounting(candidate, |_, _| {})
    }
}

impl<F: FnOnce(&mut [i16])> Harmonics<'_, F> {
    /// [`Veto::vetoes`], with the probe levels that `discount` zeroes left out: given the probe
    /// frequencies and their levels (the two tones first), it zeroes those that something
    /// other than the candidate's own sound explains.
    #[inline(always)]
    pub(crate) fn vetoes_discounting(
        self,
        candidate: &Candidate,
        discount: impl FnOnce(&[f32], &mut [f32]),
    ) -> bool {
        is_harmonic(
            self.kernel,
            self.coeffs,
            self.window,
            candidate,
            self.fill,
            discount,
        )
    }
}

/// Whether the candidate's tones are better explained as harmonics of something. `fill` writes
/// the last [`WINDOW_BLOCKS`] blocks of samples, oldest first; `discount` may zero probe levels
/// (not the tones') that are not the candidate's (the echo of a prompt).
#[inline(always)]
pub(crate) fn is_harmonic(
    kernel: Kernel,
    coeffs: &Coefficients,
    window: &Window,
    candidate: &Candidate,
    fill: impl FnOnce(&mut [i16]),
    discount: impl FnOnce(&[f32], &mut [f32]),
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
    let seconds = count;
    let ratio = high_hz / low_hz;
    for h1 in 1..=MAX_HARMONIC {
        let f0 = low_hz * RECIPROCALS[h1 as usize];
        if f0 < MIN_F0_HZ {
            break;
        }
        let h2 = round(ratio * h1 as f32);
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
    let mut pcm = [0i16; MAX_WINDOW];
    let pcm = &mut pcm[..window.len()];
    fill(pcm);
    let mut buf = [0.0f32; MAX_WINDOW];
    let buf = &mut buf[..window.len()];
    for ((x, s), w) in buf.iter_mut().zip(&*pcm).zip(&window.weights) {
        *x = f32::from(*s) * w;
    }
    let mut levels = [0.0f32; MAX_PROBES];
    run(
        kernel,
        Powers {
            samples: buf,
            hz: &probes[..count],
            fs,
            out: &mut levels,
        },
    );
    let vetoed = |levels: &[f32]| {
        let weaker = levels[0].min(levels[1]);
        let above = |ratio: f32| {
            levels[seconds..count]
                .iter()
                .filter(|&&p| p > weaker * ratio)
                .count()
        };
        levels[2..seconds]
            .iter()
            .any(|&p| p > weaker * window.second_ratio)
            || above(window.near_ratio) >= 2
            || above(window.far_ratio) >= 3
            || above(window.wide_ratio) >= 4
    };
    if !vetoed(&levels) {
        return false;
    }
    // Only probes that count at all are worth explaining.
    let floor = levels[0].min(levels[1]) * window.wide_ratio.min(window.second_ratio);
    for level in &mut levels[2..count] {
        if *level <= floor {
            *level = 0.0;
        }
    }
    discount(&probes[2..count], &mut levels[2..count]);
    vetoed(&levels)
}

/// Goertzel power at up to [`MAX_PROBES`] frequencies of `samples` in one pass.
///
/// The probes run in chunks of vector lanes, and the window is cut into parts whose Goertzel
/// recurrences run side by side: one chunk of probes over 240 samples is otherwise a single
/// chain of 240 dependent multiply-adds. Each part's result is rotated into place and summed
/// (Horner in `e^{−jω·part}`), which gives exactly the whole window's DFT bin.
struct Powers<'a> {
    samples: &'a [f32],
    hz: &'a [f32],
    fs: f32,
    out: &'a mut [f32],
}

impl Vectorised for Powers<'_> {
    type Output = ();

    #[inline(always)]
    fn run<V: F32x16>(self) {
        // Eight chains of 512-bit registers, or two pairs of 256-bit ones that leave room in
        // sixteen registers.
        if V::WIDE {
            self.parts::<V, 8>();
        } else {
            self.parts::<V, 2>();
        }
    }
}

impl Powers<'_> {
    #[inline(always)]
    fn parts<V: F32x16, const PARTS: usize>(self) {
        let Self {
            samples,
            hz,
            fs,
            out,
        } = self;
        let len = samples.len() / PARTS;
        let parts: [&[f32]; PARTS] = std::array::from_fn(|q| &samples[q * len..(q + 1) * len]);
        for (chunk, levels) in hz.chunks(WIDTH).zip(out.chunks_exact_mut(WIDTH)) {
            let radians_per_hz = std::f32::consts::TAU / fs;
            let mut w = [0.0f32; WIDTH];
            for (w, f) in w.iter_mut().zip(chunk) {
                *w = f * radians_per_hz;
            }
            let (sin, cos) = sin_cos_lanes(&w);
            let (part_sin, part_cos) = sin_cos_lanes(&w.map(|w| w * len as f32));
            let k = V::load(&cos.map(|c| 2.0 * c));
            let mut s1 = [V::zero(); PARTS];
            let mut s2 = [V::zero(); PARTS];
            // Two samples per turn, the states trading roles (as the bank's feed does), so
            // that no register moves sit between the steps; `x − s2` is off the dependency
            // chain: one multiply-add on it.
            for i in (0..len - len % 2).step_by(2) {
                for q in 0..PARTS {
                    s2[q] = k.mul_add(s1[q], V::splat(parts[q][i]).sub(s2[q]));
                }
                for q in 0..PARTS {
                    s1[q] = k.mul_add(s2[q], V::splat(parts[q][i + 1]).sub(s1[q]));
                }
            }
            if len % 2 == 1 {
                for q in 0..PARTS {
                    let s0 = k.mul_add(s1[q], V::splat(parts[q][len - 1]).sub(s2[q]));
                    s2[q] = s1[q];
                    s1[q] = s0;
                }
            }
            let (cos, sin) = (V::load(&cos), V::load(&sin));
            let (part_cos, part_sin) = (V::load(&part_cos), V::load(&part_sin));
            let (mut re, mut im) = (V::zero(), V::zero());
            for q in (0..PARTS).rev() {
                // Part q's output `s1 − e^{−jω}·s2`, added to the sum so far times e^{−jω·len}.
                let y_re = s1[q].sub(s2[q].mul(cos));
                let y_im = s2[q].mul(sin);
                (re, im) = (
                    re.mul_add(part_cos, im.mul_add(part_sin, y_re)),
                    im.mul_add(part_cos, y_im.sub(re.mul(part_sin))),
                );
            }
            let power = re.mul_add(re, im.mul(im));
            if let Ok(levels) = <&mut [f32; WIDTH]>::try_from(levels) {
                power.store(levels);
            }
        }
    }
}

/// [`sin_cos`] of every lane, in one straight loop that vectorises.
#[inline(always)]
fn sin_cos_lanes(x: &[f32; WIDTH]) -> ([f32; WIDTH], [f32; WIDTH]) {
    let (mut sin, mut cos) = ([0.0f32; WIDTH], [0.0f32; WIDTH]);
    for i in 0..WIDTH {
        (sin[i], cos[i]) = sin_cos(x[i]);
    }
    (sin, cos)
}
