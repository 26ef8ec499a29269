//! Single-channel block analysis: each segment's partial DFT at the eight DTMF frequencies,
//! computed directly against a table of `e^{−jω_f n}`.
//!
//! A Goertzel filter needs one multiply-add per sample but chains every sample to the previous
//! one, so one channel's eight filters keep the FMA units waiting on latency. The direct sum
//! `Z_m = Σ_{n ∈ segment m} x_n·e^{−jω_f n}` costs two multiply-adds per sample and filter, with
//! no chain at all: a table row holds all eight filters' real and imaginary parts (one 512-bit
//! register, or two of 256), and the four segments, each with two accumulators (even and odd
//! samples), give eight independent sums. `n` counts from the block start, so each `Z_m` comes
//! out already rotated to it, as [`BlockSpectrum`] wants.

use crate::SampleRate;
#[cfg(test)]
use crate::simd::{Kernel, Vectorised, run};
use crate::spectrum::{BlockSpectrum, FILTERS, MAX_BLOCK, NOMINAL_HZ, SEGMENTS};
use crate::vector::{F32x16, WIDTH};

/// Longest segment (16 kHz).
const MAX_SEGMENT: usize = MAX_BLOCK / SEGMENTS;
/// Table row: `e^{−jω_f n}` for the eight filters, real parts then imaginary parts.
type Row = [f32; WIDTH];

/// The DFT table of one rate, rows in segment order.
#[derive(Clone, Debug)]
pub(crate) struct DftTable {
    segment_len: usize,
    rows: Box<[[Row; MAX_SEGMENT]; SEGMENTS]>,
}

impl DftTable {
    pub(crate) fn new(rate: SampleRate) -> Self {
        let segment_len = rate.block_len() / SEGMENTS;
        debug_assert!(segment_len.is_multiple_of(2) && segment_len <= MAX_SEGMENT);
        let mut rows = Box::new([[[0.0f32; WIDTH]; MAX_SEGMENT]; SEGMENTS]);
        for (m, segment) in rows.iter_mut().enumerate() {
            for (i, row) in segment.iter_mut().enumerate().take(segment_len) {
                let n = (m * segment_len + i) as f64;
                for (f, &hz) in NOMINAL_HZ.iter().enumerate() {
                    let angle = -std::f64::consts::TAU * f64::from(hz) / f64::from(rate.hz()) * n;
                    row[f] = angle.cos() as f32;
                    row[FILTERS + f] = angle.sin() as f32;
                }
            }
        }
        Self { segment_len, rows }
    }
}

#[cfg(test)]
/// Analyses one block of a single channel into `out`: AC energy, and unless it is below
/// `min_energy` (no tone can pass; bins left at zero) the per-segment bins.
pub(crate) fn analyse(
    kernel: Kernel,
    table: &DftTable,
    block: &[i16],
    min_energy: f32,
    out: &mut BlockSpectrum,
) {
    run(
        kernel,
        Analyse {
            table,
            block,
            min_energy,
            out,
        },
    );
}

#[cfg(test)]
struct Analyse<'a> {
    table: &'a DftTable,
    block: &'a [i16],
    min_energy: f32,
    out: &'a mut BlockSpectrum,
}

#[cfg(test)]
impl Vectorised for Analyse<'_> {
    type Output = ();

    #[inline(always)]
    fn run<V: F32x16>(self) {
        analyse_with::<V>(self.table, self.block, self.min_energy, self.out);
    }
}

/// Analyses one block of a single channel into `out`, for a caller already compiled for `V`'s
/// instruction set: AC energy, and unless it is below `min_energy` (no tone can pass; bins left
/// at zero) the per-segment bins.
#[inline(always)]
pub(crate) fn analyse_with<V: F32x16>(
    table: &DftTable,
    block: &[i16],
    min_energy: f32,
    out: &mut BlockSpectrum,
) {
    {
        let n = table.segment_len * SEGMENTS;
        // As f32, energy on the way: sixteen samples at a time (both block lengths divide).
        let mut x = [[0.0f32; WIDTH]; MAX_BLOCK / WIDTH];
        let (mut sum, mut sum_sq) = (V::zero(), V::zero());
        for (xs, samples) in x.iter_mut().zip(block[..n].chunks_exact(WIDTH)) {
            let v = V::from_i16(samples.try_into().unwrap_or(&[0; WIDTH]));
            v.store(xs);
            sum = sum.add(v);
            sum_sq = v.mul_add(v, sum_sq);
        }
        let total: f32 = sum.to_array().iter().sum();
        let total_sq: f32 = sum_sq.to_array().iter().sum();
        out.energy = (total_sq - total * total / n as f32).max(0.0);
        if out.energy < min_energy {
            out.re = [[0.0; FILTERS]; SEGMENTS];
            out.im = [[0.0; FILTERS]; SEGMENTS];
            return;
        }
        let x = x.as_flattened();
        let l = table.segment_len.min(MAX_SEGMENT);
        let xs: [&[f32]; SEGMENTS] = std::array::from_fn(|m| &x[m * l..(m + 1) * l]);
        let rows = &*table.rows;
        // Eight independent sums: per segment, even and odd samples apart. With sixteen
        // registers (two per vector) only one sum per segment fits.
        let mut acc = [V::zero(); 2 * SEGMENTS];
        for i in 0..l / 2 {
            let (a, b) = (2 * i, 2 * i + 1);
            for m in 0..SEGMENTS {
                acc[m] = V::splat(xs[m][a]).mul_add(V::load(&rows[m][a]), acc[m]);
                let second = if V::WIDE { SEGMENTS + m } else { m };
                acc[second] = V::splat(xs[m][b]).mul_add(V::load(&rows[m][b]), acc[second]);
            }
        }
        for m in 0..SEGMENTS {
            let sum = acc[m].add(acc[SEGMENTS + m]).to_array();
            out.re[m].copy_from_slice(&sum[..FILTERS]);
            out.im[m].copy_from_slice(&sum[FILTERS..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_computes_the_same_bins() {
        for rate in [SampleRate::Narrowband, SampleRate::Wideband] {
            let table = DftTable::new(rate);
            let block: Vec<i16> = (0..rate.block_len())
                .map(|n| {
                    ((n as f64 * 0.37).sin() * 9000.0 + (n as f64 * 1.9).cos() * 4000.0) as i16
                })
                .collect();
            let mut want = BlockSpectrum::default();
            analyse(Kernel::Portable, &table, &block, 0.0, &mut want);
            for kernel in Kernel::all_supported() {
                let mut got = BlockSpectrum::default();
                analyse(kernel, &table, &block, 0.0, &mut got);
                let close = |a: f32, b: f32| (a - b).abs() <= 1e-4 * want.energy.sqrt();
                assert!(close(got.energy.sqrt(), want.energy.sqrt()), "{kernel:?}");
                for m in 0..SEGMENTS {
                    for f in 0..FILTERS {
                        assert!(close(got.re[m][f], want.re[m][f]), "{kernel:?} re {m} {f}");
                        assert!(close(got.im[m][f], want.im[m][f]), "{kernel:?} im {m} {f}");
                    }
                }
            }
        }
    }
}
