//! The two hot loops, compiled twice: portable, and with AVX2 + FMA chosen at run time.
//!
//! The loop bodies are plain Rust over fixed-size arrays that LLVM vectorises; `#[inline(always)]`
//! puts a copy inside a `#[target_feature(enable = "avx2,fma")]` function, where LLVM may use
//! 256-bit registers and fused multiply-add. Calling such a function is `unsafe` because running
//! it on a CPU without those features is undefined; [`Kernel::detect`] is the only constructor of
//! [`Kernel::Avx2Fma`] and it checks the CPU first. This is the crate's only `unsafe`.
#![allow(unsafe_code)]

use crate::spectrum::{BlockSpectrum, Coefficients, FILTERS, MAX_BLOCK, SEGMENTS};

/// Which compiled copy of the hot loops to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kernel {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2Fma,
}

impl Kernel {
    /// The best kernel this CPU runs.
    pub(crate) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Self::Avx2Fma;
        }
        Self::Portable
    }
}

/// Analyses one block of a single channel (see [`analyse_body`]).
pub(crate) fn analyse(
    kernel: Kernel,
    coeffs: &Coefficients,
    block: &[i16],
    min_energy: f32,
    out: &mut BlockSpectrum,
) {
    match kernel {
        Kernel::Portable => analyse_body::<false>(coeffs, block, min_energy, out),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Avx2Fma` is only built by `Kernel::detect` after checking both CPU features.
        Kernel::Avx2Fma => unsafe { analyse_avx2(coeffs, block, min_energy, out) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn analyse_avx2(coeffs: &Coefficients, block: &[i16], min_energy: f32, out: &mut BlockSpectrum) {
    analyse_body::<true>(coeffs, block, min_energy, out);
}

/// Work to compile for the chosen [`Kernel`]: with AVX2 + FMA, everything `run` inlines (its
/// helpers marked `#[inline(always)]`) may use 256-bit registers and fused multiply-add. A trait
/// rather than a closure, because only an `#[inline(always)]` method is sure to be inlined into
/// the feature-enabled caller.
pub(crate) trait Vectorised {
    fn run(self);
}

/// Runs `body` compiled for `kernel`.
pub(crate) fn run(kernel: Kernel, body: impl Vectorised) {
    match kernel {
        Kernel::Portable => body.run(),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Avx2Fma` is only built by `Kernel::detect` after checking both CPU features.
        Kernel::Avx2Fma => unsafe { run_avx2(body) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2(body: impl Vectorised) {
    body.run();
}

/// Power at up to [`MAX_PROBES`] frequencies of `samples` (see [`powers_body`]).
pub(crate) fn powers(kernel: Kernel, samples: &[f32], hz: &[f32], fs: f32, out: &mut [f32]) {
    match kernel {
        Kernel::Portable => powers_body::<false>(samples, hz, fs, out),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Avx2Fma` is only built by `Kernel::detect` after checking both CPU features.
        Kernel::Avx2Fma => unsafe { powers_avx2(samples, hz, fs, out) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn powers_avx2(samples: &[f32], hz: &[f32], fs: f32, out: &mut [f32]) {
    powers_body::<true>(samples, hz, fs, out);
}

#[inline(always)]
fn step<const FMA: bool>(x: f32, k: f32, s1: f32, s2: f32) -> f32 {
    // `x − s2` does not depend on the previous step, so only one multiply-add is on the chain.
    if FMA {
        k.mul_add(s1, x - s2)
    } else {
        (x - s2) + k * s1
    }
}

/// One block of one channel: converts to `f32`, measures the AC energy and, unless it is below
/// `min_energy` (no tone can pass; bins left at zero), runs the four segments interleaved —
/// four independent recurrence chains of eight filters each — and finishes them into `out`.
#[inline(always)]
fn analyse_body<const FMA: bool>(
    coeffs: &Coefficients,
    block: &[i16],
    min_energy: f32,
    out: &mut BlockSpectrum,
) {
    let l = coeffs.segment_len.min(MAX_BLOCK / SEGMENTS);
    let mut x = [0.0f32; MAX_BLOCK];
    let mut sum = [0.0f32; 8];
    let mut sum_sq = [0.0f32; 8];
    for (chunk_in, chunk_out) in block.chunks_exact(8).zip(x.chunks_exact_mut(8)) {
        for k in 0..8 {
            let v = f32::from(chunk_in[k]);
            chunk_out[k] = v;
            sum[k] += v;
            sum_sq[k] += v * v;
        }
    }
    let n = block.len() as f32;
    let total: f32 = sum.iter().sum();
    out.energy = (sum_sq.iter().sum::<f32>() - total * total / n).max(0.0);
    if out.energy < min_energy {
        out.re = [[0.0; FILTERS]; SEGMENTS];
        out.im = [[0.0; FILTERS]; SEGMENTS];
        return;
    }
    let fb = coeffs.feedback;
    let mut s1 = [[0.0f32; FILTERS]; SEGMENTS];
    let mut s2 = [[0.0f32; FILTERS]; SEGMENTS];
    for i in 0..l {
        for m in 0..SEGMENTS {
            let xi = x[m * l + i];
            for f in 0..FILTERS {
                let s0 = step::<FMA>(xi, fb[f], s1[m][f], s2[m][f]);
                s2[m][f] = s1[m][f];
                s1[m][f] = s0;
            }
        }
    }
    for m in 0..SEGMENTS {
        for f in 0..FILTERS {
            (out.re[m][f], out.im[m][f]) = coeffs.finish(m, f, s1[m][f], s2[m][f]);
        }
    }
}

/// Most frequencies [`powers`] measures in one pass.
pub(crate) const MAX_PROBES: usize = 48;

/// Goertzel power at up to [`MAX_PROBES`] frequencies in one pass over the samples: the probes
/// run in chunks of eight lanes, and the chunks are independent chains that interleave.
#[inline(always)]
fn powers_body<const FMA: bool>(samples: &[f32], hz: &[f32], fs: f32, out: &mut [f32]) {
    const CHUNK: usize = 8;
    let count = hz.len().min(MAX_PROBES);
    let chunks = count.div_ceil(CHUNK);
    let mut k = [[0.0f32; CHUNK]; MAX_PROBES / CHUNK];
    let mut cos = [0.0f32; MAX_PROBES];
    let mut sin = [0.0f32; MAX_PROBES];
    for (i, f) in hz.iter().enumerate().take(count) {
        let w = std::f32::consts::TAU * f / fs;
        (cos[i], sin[i]) = (w.cos(), w.sin());
        k[i / CHUNK][i % CHUNK] = 2.0 * cos[i];
    }
    let mut s1 = [[0.0f32; CHUNK]; MAX_PROBES / CHUNK];
    let mut s2 = [[0.0f32; CHUNK]; MAX_PROBES / CHUNK];
    for &x in samples {
        for c in 0..chunks {
            for i in 0..CHUNK {
                let s0 = step::<FMA>(x, k[c][i], s1[c][i], s2[c][i]);
                s2[c][i] = s1[c][i];
                s1[c][i] = s0;
            }
        }
    }
    for (i, o) in out.iter_mut().enumerate().take(count) {
        let (a, b) = (s1[i / CHUNK][i % CHUNK], s2[i / CHUNK][i % CHUNK]);
        let re = a - b * cos[i];
        let im = b * sin[i];
        *o = re * re + im * im;
    }
}

/// Channels per vector group in the bank: one 256-bit register of `f32`.
pub const LANES: usize = 8;

/// One lane group's running state in the bank.
#[derive(Clone, Debug)]
pub(crate) struct LaneState {
    pub(crate) s1: [[f32; LANES]; FILTERS],
    pub(crate) s2: [[f32; LANES]; FILTERS],
    pub(crate) sum: [f32; LANES],
    pub(crate) sum_sq: [f32; LANES],
}

impl Default for LaneState {
    fn default() -> Self {
        Self {
            s1: [[0.0; LANES]; FILTERS],
            s2: [[0.0; LANES]; FILTERS],
            sum: [0.0; LANES],
            sum_sq: [0.0; LANES],
        }
    }
}

/// Feeds interleaved frames (`channels` samples each) to the group whose first channel is
/// `base`, and copies each frame's lanes into `history` (one row per frame).
pub(crate) fn lanes(
    kernel: Kernel,
    state: &mut LaneState,
    fb: &[f32; FILTERS],
    frames: &[i16],
    channels: usize,
    base: usize,
    history: &mut [[i16; LANES]],
) {
    match kernel {
        Kernel::Portable => lanes_body::<false>(state, fb, frames, channels, base, history),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Avx2Fma` is only built by `Kernel::detect` after checking both CPU features.
        Kernel::Avx2Fma => unsafe { lanes_avx2(state, fb, frames, channels, base, history) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn lanes_avx2(
    state: &mut LaneState,
    fb: &[f32; FILTERS],
    frames: &[i16],
    channels: usize,
    base: usize,
    history: &mut [[i16; LANES]],
) {
    lanes_body::<true>(state, fb, frames, channels, base, history);
}

#[inline(always)]
fn lanes_body<const FMA: bool>(
    state: &mut LaneState,
    fb: &[f32; FILTERS],
    frames: &[i16],
    channels: usize,
    base: usize,
    history: &mut [[i16; LANES]],
) {
    // Gather this group's lanes once (zero-padding a partial last group); energy on the way.
    let mut sum = state.sum;
    let mut sum_sq = state.sum_sq;
    for (frame, row) in frames.chunks_exact(channels).zip(history.iter_mut()) {
        if let Some(lanes) = frame.get(base..base + LANES) {
            row.copy_from_slice(lanes);
        } else {
            *row = [0; LANES];
            let present = frame.get(base..).unwrap_or_default();
            row[..present.len()].copy_from_slice(present);
        }
        for lane in 0..LANES {
            let x = f32::from(row[lane]);
            sum[lane] += x;
            sum_sq[lane] = if FMA {
                x.mul_add(x, sum_sq[lane])
            } else {
                sum_sq[lane] + x * x
            };
        }
    }
    state.sum = sum;
    state.sum_sq = sum_sq;
    // Two passes of four filters: eight state vectors, four coefficients and the input fit in
    // sixteen registers.
    let rows = &history[..frames.len() / channels];
    half::<FMA, 0>(state, fb, rows);
    half::<FMA, 4>(state, fb, rows);
}

#[inline(always)]
fn half<const FMA: bool, const FIRST: usize>(
    state: &mut LaneState,
    fb: &[f32; FILTERS],
    rows: &[[i16; LANES]],
) {
    let mut s1: [[f32; LANES]; 4] = std::array::from_fn(|f| state.s1[FIRST + f]);
    let mut s2: [[f32; LANES]; 4] = std::array::from_fn(|f| state.s2[FIRST + f]);
    for row in rows {
        let x = row.map(f32::from);
        for f in 0..4 {
            let k = fb[FIRST + f];
            for lane in 0..LANES {
                let s0 = step::<FMA>(x[lane], k, s1[f][lane], s2[f][lane]);
                s2[f][lane] = s1[f][lane];
                s1[f][lane] = s0;
            }
        }
    }
    state.s1[FIRST..FIRST + 4].copy_from_slice(&s1);
    state.s2[FIRST..FIRST + 4].copy_from_slice(&s2);
}
