//! Goertzel analysis of one 10 ms block into complex bins at the eight DTMF frequencies.
//!
//! A block of `N` samples is cut into [`SEGMENTS`] segments of `L = N / SEGMENTS` samples. Each
//! segment runs its own Goertzel recurrences, so a single channel has four independent dependency
//! chains to interleave (the recurrence is latency-bound otherwise). Each segment's result is
//! turned into a complex partial DFT `Z_m`, rotated to the block's start; the block's bin is the
//! sum `Σ Z_m`. Keeping the segments also gives a coarse frequency estimate inside one block: the
//! phase step between consecutive segments is `δ·L` for a tone `δ` rad/sample off the bin.

use crate::SampleRate;
use crate::dft::DftTable;

/// Number of Goertzel filters: four low-group and four high-group tones.
pub(crate) const FILTERS: usize = 8;
/// Segments per block.
pub(crate) const SEGMENTS: usize = 4;
/// Largest block (16 kHz × 10 ms).
pub(crate) const MAX_BLOCK: usize = 160;
/// Nominal DTMF frequencies, low group then high group.
pub(crate) const NOMINAL_HZ: [f32; FILTERS] =
    [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0];

/// A small complex number; only what the analysis needs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Complex {
    pub(crate) re: f32,
    pub(crate) im: f32,
}

impl Complex {
    pub(crate) fn new(re: f32, im: f32) -> Self {
        Self { re, im }
    }
    pub(crate) fn from_angle(angle: f64) -> Self {
        Self::new(angle.cos() as f32, angle.sin() as f32)
    }
    /// `self · conj(o)`
    pub(crate) fn mul_conj(self, o: Self) -> Self {
        Self::new(
            self.re * o.re + self.im * o.im,
            self.im * o.re - self.re * o.im,
        )
    }
    pub(crate) fn add(self, o: Self) -> Self {
        Self::new(self.re + o.re, self.im + o.im)
    }

    pub(crate) fn norm_sqr(self) -> f32 {
        self.re * self.re + self.im * self.im
    }
    pub(crate) fn arg(self) -> f32 {
        crate::fastmath::atan2(self.im, self.re)
    }
}

/// One complex value per segment, real and imaginary parts apart so that the arithmetic runs
/// four segments to a vector.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Quad {
    pub(crate) re: [f32; SEGMENTS],
    pub(crate) im: [f32; SEGMENTS],
}

impl Quad {
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        let mut r = Self::default();
        for m in 0..SEGMENTS {
            r.re[m] = self.re[m] * o.re[m] - self.im[m] * o.im[m];
            r.im[m] = self.re[m] * o.im[m] + self.im[m] * o.re[m];
        }
        r
    }
    #[inline(always)]
    fn conj_mul(self, o: Self) -> Self {
        let mut r = Self::default();
        for m in 0..SEGMENTS {
            r.re[m] = self.re[m] * o.re[m] + self.im[m] * o.im[m];
            r.im[m] = self.re[m] * o.im[m] - self.im[m] * o.re[m];
        }
        r
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        let mut r = self;
        for m in 0..SEGMENTS {
            r.re[m] -= o.re[m];
            r.im[m] -= o.im[m];
        }
        r
    }
    pub(crate) fn get(&self, m: usize) -> Complex {
        Complex::new(self.re[m], self.im[m])
    }
    /// The sum over segments: the block's bin.
    pub(crate) fn sum(&self) -> Complex {
        Complex::new(self.re.iter().sum(), self.im.iter().sum())
    }
}

/// Per-rate constants of the filter bank.
#[derive(Clone, Debug)]
pub(crate) struct Coefficients {
    pub(crate) rate: SampleRate,
    pub(crate) block_len: usize,
    pub(crate) segment_len: usize,
    /// The single channel's direct-DFT table.
    pub(crate) dft: DftTable,
    /// `2·cos ω` per filter: the Goertzel feedback.
    pub(crate) feedback: [f32; FILTERS],
    /// `cos ω`, `sin ω`: finish a segment as `s1 − e^{−jω}·s2`.
    cos: [f32; FILTERS],
    sin: [f32; FILTERS],
    /// `e^{−jω(L−1)}·e^{−jωmL}` (real and imaginary parts): rotates segment `m`'s result to the
    /// block start.
    twiddle_re: [[f32; FILTERS]; SEGMENTS],
    twiddle_im: [[f32; FILTERS]; SEGMENTS],
    /// [`finish_linear`](Self::finish_linear) per segment and filter.
    pub(crate) finish: [[[f32; 4]; FILTERS]; SEGMENTS],
    /// `ωL mod 2π`: a tone on the bin advances this much from one segment to the next.
    pub(crate) segment_advance: [f32; FILTERS],
    /// Hz per radian of phase step from one segment to the next, and from one block to the
    /// next; the block-to-block estimate's alias period in Hz and its inverse.
    pub(crate) segment_hz_per_rad: f32,
    pub(crate) block_hz_per_rad: f32,
    pub(crate) block_period_hz: f32,
    pub(crate) block_period_inv: f32,
    /// `ωN mod 2π`: a tone on the bin advances this much from one block to the next.
    pub(crate) block_advance: [f32; FILTERS],
    /// [`separate`] per digit, `[low][high − 4]`: a real 4×4 matrix per segment.
    separation: [[Separation; 4]; 4],
}

/// `Σ_{k<len} e^{jΔk}·e^{jΔ·start}`, divided by `len`.
fn segment_kernel(delta: f64, start: usize, len: usize) -> Complex {
    let (step_re, step_im) = (delta.cos(), delta.sin());
    let first = delta * start as f64;
    let (mut re, mut im) = (first.cos(), first.sin());
    let (mut sum_re, mut sum_im) = (0.0f64, 0.0f64);
    for _ in 0..len {
        sum_re += re;
        sum_im += im;
        (re, im) = (re * step_re - im * step_im, re * step_im + im * step_re);
    }
    Complex::new((sum_re / len as f64) as f32, (sum_im / len as f64) as f32)
}

impl Coefficients {
    pub(crate) fn new(rate: SampleRate) -> Self {
        let fs = f64::from(rate.hz());
        let block_len = rate.block_len();
        let segment_len = block_len / SEGMENTS;
        let tau = std::f64::consts::TAU;
        let mut c = Self {
            rate,
            block_len,
            segment_len,
            dft: DftTable::new(rate),
            feedback: [0.0; FILTERS],
            cos: [0.0; FILTERS],
            sin: [0.0; FILTERS],
            twiddle_re: [[0.0; FILTERS]; SEGMENTS],
            twiddle_im: [[0.0; FILTERS]; SEGMENTS],
            finish: [[[0.0; 4]; FILTERS]; SEGMENTS],
            segment_hz_per_rad: (fs / tau / segment_len as f64) as f32,
            block_hz_per_rad: (fs / tau / block_len as f64) as f32,
            block_period_hz: (fs / block_len as f64) as f32,
            block_period_inv: (block_len as f64 / fs) as f32,
            segment_advance: [0.0; FILTERS],
            block_advance: [0.0; FILTERS],
            separation: [[[[[0.0; SEGMENTS]; 4]; 4]; 4]; 4],
        };
        for (f, &hz) in NOMINAL_HZ.iter().enumerate() {
            let w = tau * f64::from(hz) / fs;
            c.feedback[f] = (2.0 * w.cos()) as f32;
            c.cos[f] = w.cos() as f32;
            c.sin[f] = w.sin() as f32;
            let l = segment_len as f64;
            for m in 0..SEGMENTS {
                let t = Complex::from_angle(-w * (l - 1.0) - w * m as f64 * l);
                c.twiddle_re[m][f] = t.re;
                c.twiddle_im[m][f] = t.im;
            }
            c.segment_advance[f] = (w * l).rem_euclid(tau) as f32;
            c.block_advance[f] = (w * block_len as f64).rem_euclid(tau) as f32;
        }
        c.finish = std::array::from_fn(|m| std::array::from_fn(|f| c.finish_linear(m, f)));
        let leakage = Leakage::new(rate);
        for (low, row) in c.separation.iter_mut().enumerate() {
            for (high, matrix) in row.iter_mut().enumerate() {
                *matrix = leakage.separation(low, high + 4);
            }
        }
        c
    }

    /// Finishing filter `f` of segment `m` from its last two Goertzel states, as a linear map:
    /// `twiddle · (s1 − e^{−jω}·s2)` is `(a·s1 + b·s2) + j(c·s1 + d·s2)` for `[a, b, c, d]`.
    fn finish_linear(&self, m: usize, f: usize) -> [f32; 4] {
        let (t_re, t_im) = (self.twiddle_re[m][f], self.twiddle_im[m][f]);
        let (c, s) = (self.cos[f], self.sin[f]);
        [t_re, -(t_re * c + t_im * s), t_im, t_re * s - t_im * c]
    }
}

/// One block's analysis: per-segment complex bins (real and imaginary parts apart, so that
/// loops over filters vectorise) and the block's AC energy.
#[derive(Clone, Debug, Default)]
pub(crate) struct BlockSpectrum {
    /// `Z_m` per segment and filter, each rotated to the block start.
    pub(crate) re: [[f32; FILTERS]; SEGMENTS],
    pub(crate) im: [[f32; FILTERS]; SEGMENTS],
    /// `Σ (x − mean)²` over the block.
    pub(crate) energy: f32,
}

impl BlockSpectrum {
    /// Filter `f`'s per-segment bins.
    pub(crate) fn segments(&self, f: usize) -> Quad {
        Quad {
            re: std::array::from_fn(|m| self.re[m][f]),
            im: std::array::from_fn(|m| self.im[m][f]),
        }
    }

    /// The block's complex DFT bins for all filters.
    pub(crate) fn bins(&self) -> ([f32; FILTERS], [f32; FILTERS]) {
        let mut re = [0.0f32; FILTERS];
        let mut im = [0.0f32; FILTERS];
        for m in 0..SEGMENTS {
            for f in 0..FILTERS {
                re[f] += self.re[m][f];
                im[f] += self.im[m][f];
            }
        }
        (re, im)
    }

    /// The block's complex DFT bin for filter `f`.
    #[cfg(test)]
    pub(crate) fn bin(&self, f: usize) -> Complex {
        let (re, im) = self.bins();
        Complex::new(re[f], im[f])
    }
}

/// A real 4×4 matrix per segment: output `[re x, im x, re y, im y]` from input
/// `[re a, im a, re b, im b]`, as `[row][column][segment]`.
type Separation = [[[f32; SEGMENTS]; 4]; 4];

/// Leakage between the filters' segments, from which [`Separation`]s are made.
struct Leakage {
    /// Leakage into segment `m` of filter `d` from a tone `α·e^{jω_s n}` on filter `s`'s
    /// nominal frequency, per unit of the segment amplitude `α·L` it gives its own filter:
    /// `cross[s][d]` at `m` is `e^{j(ω_s−ω_d)mL}·D(ω_s−ω_d)/L` with `D(Δ) = Σ_{k<L} e^{jΔk}`.
    cross: [[Quad; FILTERS]; FILTERS],
    /// The same for the tone's negative-frequency half `conj(α)·e^{−jω_s n}`:
    /// `image[s][d]` at `m` is `e^{−j(ω_s+ω_d)mL}·D(−(ω_s+ω_d))/L`.
    image: [[Quad; FILTERS]; FILTERS],
}

impl Leakage {
    fn new(rate: SampleRate) -> Self {
        let fs = f64::from(rate.hz());
        let segment_len = rate.block_len() / SEGMENTS;
        let omega = |f: usize| std::f64::consts::TAU * f64::from(NOMINAL_HZ[f]) / fs;
        let mut leakage = Self {
            cross: [[Quad::default(); FILTERS]; FILTERS],
            image: [[Quad::default(); FILTERS]; FILTERS],
        };
        for m in 0..SEGMENTS {
            for s in 0..FILTERS {
                for d in 0..FILTERS {
                    let (ws, wd) = (omega(s), omega(d));
                    let cross = segment_kernel(ws - wd, m * segment_len, segment_len);
                    let image = segment_kernel(-(ws + wd), m * segment_len, segment_len);
                    let (c, i) = (&mut leakage.cross[s][d], &mut leakage.image[s][d]);
                    (c.re[m], c.im[m]) = (cross.re, cross.im);
                    (i.re[m], i.im[m]) = (image.re, image.im);
                }
            }
        }
        leakage
    }

    /// Two Gauss–Seidel sweeps for tones on filters `a` and `b` (see [`separate`]).
    fn sweeps(&self, a: usize, b: usize, obs_a: Quad, obs_b: Quad) -> (Quad, Quad) {
        let (cross, image) = (&self.cross, &self.image);
        let (mut x, mut y) = (obs_a, obs_b);
        for _ in 0..2 {
            x = obs_a
                .sub(x.conj_mul(image[a][a]))
                .sub(y.mul(cross[b][a]))
                .sub(y.conj_mul(image[b][a]));
            y = obs_b
                .sub(y.conj_mul(image[b][b]))
                .sub(x.mul(cross[a][b]))
                .sub(x.conj_mul(image[a][b]));
        }
        (x, y)
    }

    /// The sweeps for filters `a` and `b` as a matrix: they are real-linear in the inputs
    /// (conjugation is), so the matrix's columns are the sweeps of the unit inputs.
    fn separation(&self, a: usize, b: usize) -> Separation {
        let mut matrix = [[[0.0; SEGMENTS]; 4]; 4];
        for column in 0..4 {
            let mut unit = [Quad::default(); 2];
            let part = &mut unit[column / 2];
            if column % 2 == 0 {
                part.re = [1.0; SEGMENTS];
            } else {
                part.im = [1.0; SEGMENTS];
            }
            let (x, y) = self.sweeps(a, b, unit[0], unit[1]);
            for (row, out) in [x.re, x.im, y.re, y.im].iter().enumerate() {
                matrix[row][column] = *out;
            }
        }
        matrix
    }
}

/// Per-segment bins of a tone pair on filters `a` and `b` (observed: `obs_a`, `obs_b`) with
/// each tone's leakage into the other's filter, and both tones' negative-frequency images,
/// taken out.
///
/// A segment is only `L` samples (2.5 ms), so its main lobe is 800 Hz wide: for `*` (941 and
/// 1209 Hz) a tone leaks into the other filter at −8 dB, and with 8 dB of twist the weak tone's
/// segment phases are mostly the strong one's. Each segment's bins are a known linear function
/// of the two tones' amplitudes `α_m`, `β_m` (and their conjugates, through the images), with
/// coefficients from [`Leakage`]; two Gauss–Seidel sweeps solve it well enough (the
/// off-diagonal terms are at most 0.41, so each sweep shrinks the error at least sixfold: 8 dB
/// of twist leaves the weak tone 3 % of leakage, 0.03 rad of phase). The sweeps are real-linear,
/// so they are precomputed per digit as one 4×4 matrix per segment: sixteen multiply-adds four
/// segments wide. Returns `α_m·L` and `β_m·L`, which sum to leakage-free block bins.
#[inline(always)]
pub(crate) fn separate(
    coeffs: &Coefficients,
    a: usize,
    b: usize,
    obs_a: Quad,
    obs_b: Quad,
) -> (Quad, Quad) {
    let matrix = &coeffs.separation[a][b - 4];
    let input = [obs_a.re, obs_a.im, obs_b.re, obs_b.im];
    let mut out = [[0.0f32; SEGMENTS]; 4];
    for (row, out) in matrix.iter().zip(&mut out) {
        for (weights, input) in row.iter().zip(&input) {
            for m in 0..SEGMENTS {
                out[m] += weights[m] * input[m];
            }
        }
    }
    let [x_re, x_im, y_re, y_im] = out;
    (Quad { re: x_re, im: x_im }, Quad { re: y_re, im: y_im })
}

/// Frequency offset in Hz of the tone whose per-segment bins are `segments`, from the phase
/// steps between segments. Unambiguous to ± half the segment rate (±200 Hz at any rate).
#[inline(always)]
pub(crate) fn coarse_offset_hz(coeffs: &Coefficients, segments: &Quad) -> f32 {
    // Z_m is rotated to the block start, so a tone exactly on the bin has equal phases and a
    // tone δ rad/sample off advances δ·L per segment.
    let mut acc = Complex::default();
    for m in 1..SEGMENTS {
        acc = acc.add(segments.get(m).mul_conj(segments.get(m - 1)));
    }
    acc.arg() * coeffs.segment_hz_per_rad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dft::analyse;
    use crate::simd::Kernel;

    fn direct_dft(x: &[i16], hz: f64, fs: f64) -> (f64, f64) {
        let w = std::f64::consts::TAU * hz / fs;
        x.iter().enumerate().fold((0.0, 0.0), |(re, im), (n, &v)| {
            let a = -w * n as f64;
            (re + f64::from(v) * a.cos(), im + f64::from(v) * a.sin())
        })
    }

    #[test]
    fn block_bins_equal_a_direct_dft_at_both_rates() {
        for rate in [SampleRate::Narrowband, SampleRate::Wideband] {
            let coeffs = Coefficients::new(rate);
            let fs = f64::from(rate.hz());
            // A deterministic, non-periodic test signal.
            let block: Vec<i16> = (0..coeffs.block_len)
                .map(|n| {
                    let t = n as f64 / fs;
                    (8000.0 * (6.1 * t * 1000.0).sin()
                        + 5000.0 * (std::f64::consts::TAU * 1300.0 * t).cos()
                        + (n as f64 * 37.0) % 900.0) as i16
                })
                .collect();
            let mut spec = BlockSpectrum::default();
            analyse(Kernel::detect(), &coeffs.dft, &block, 0.0, &mut spec);
            for (f, &hz) in NOMINAL_HZ.iter().enumerate() {
                let (re, im) = direct_dft(&block, f64::from(hz), fs);
                let got = spec.bin(f);
                let scale = (re * re + im * im).sqrt().max(1.0);
                assert!(
                    (f64::from(got.re) - re).abs() / scale < 2e-3,
                    "{rate:?} {hz} re"
                );
                assert!(
                    (f64::from(got.im) - im).abs() / scale < 2e-3,
                    "{rate:?} {hz} im"
                );
            }
        }
    }

    #[test]
    fn coarse_offset_reads_the_tone_frequency() {
        let coeffs = Coefficients::new(SampleRate::Narrowband);
        for (f, off) in [(0usize, 20.0f64), (7, -45.0), (3, 0.0)] {
            let hz = f64::from(NOMINAL_HZ[f]) + off;
            let block: Vec<i16> = (0..80)
                .map(|n| {
                    (10000.0 * (std::f64::consts::TAU * hz * n as f64 / 8000.0 + 0.3).cos()) as i16
                })
                .collect();
            let mut spec = BlockSpectrum::default();
            analyse(Kernel::detect(), &coeffs.dft, &block, 0.0, &mut spec);
            let est = f64::from(coarse_offset_hz(&coeffs, &spec.segments(f)));
            assert!(
                (est - off).abs() < 8.0,
                "filter {f}: wanted {off}, got {est}"
            );
        }
    }

    #[test]
    fn the_separation_matrix_is_the_sweeps() {
        for rate in [SampleRate::Narrowband, SampleRate::Wideband] {
            let coeffs = Coefficients::new(rate);
            let leakage = Leakage::new(rate);
            let mut seed = 7u32;
            let mut next = || {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1u32 << 24) as f32 * 2e4 - 1e4
            };
            let mut quad = || Quad {
                re: std::array::from_fn(|_| next()),
                im: std::array::from_fn(|_| next()),
            };
            for (a, b) in (0..4).flat_map(|a| (4..FILTERS).map(move |b| (a, b))) {
                let (obs_a, obs_b) = (quad(), quad());
                let (x, y) = separate(&coeffs, a, b, obs_a, obs_b);
                let (want_x, want_y) = leakage.sweeps(a, b, obs_a, obs_b);
                for (got, want) in [(x, want_x), (y, want_y)] {
                    for m in 0..SEGMENTS {
                        let error = got.get(m).add(Complex::new(-want.re[m], -want.im[m]));
                        assert!(error.norm_sqr().sqrt() < 0.05, "{rate:?} {a} {b} {m}");
                    }
                }
            }
        }
    }

    #[test]
    fn separation_reads_a_weak_tone_next_to_a_strong_one() {
        // `*` with the high tone 8 dB down and both tones 1.5 % off: unseparated, the 941 Hz
        // tone's leakage dominates the 1209 Hz filter's segment phases.
        let coeffs = Coefficients::new(SampleRate::Narrowband);
        let (low_hz, high_hz) = (941.0 * 1.015, 1209.0 * 0.985);
        let weak = 10f64.powf(-8.0 / 20.0);
        for phase in [0.0, 1.1, 2.3, 4.0] {
            let block: Vec<i16> = (0..80)
                .map(|n| {
                    let t = std::f64::consts::TAU * n as f64 / 8000.0;
                    (12000.0 * (low_hz * t + phase).cos() + 12000.0 * weak * (high_hz * t).cos())
                        as i16
                })
                .collect();
            let mut spec = BlockSpectrum::default();
            analyse(Kernel::detect(), &coeffs.dft, &block, 0.0, &mut spec);
            let (low, high) = separate(&coeffs, 3, 4, spec.segments(3), spec.segments(4));
            let low_off = f64::from(coarse_offset_hz(&coeffs, &low));
            let high_off = f64::from(coarse_offset_hz(&coeffs, &high));
            // The leakage model uses nominal frequencies; 1.5 % off leaves a few Hz of error,
            // far inside the ±50 Hz the block-to-block phase measurement needs for unwrapping.
            assert!((low_off - 941.0 * 0.015).abs() < 12.0, "low {low_off}");
            assert!((high_off + 1209.0 * 0.015).abs() < 12.0, "high {high_off}");
            let unseparated = f64::from(coarse_offset_hz(&coeffs, &spec.segments(4)));
            assert!((unseparated + 1209.0 * 0.015).abs() > 40.0, "{unseparated}");
        }
    }
}
