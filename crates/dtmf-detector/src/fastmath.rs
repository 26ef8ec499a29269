//! Branch-free `sin`/`cos` and `atan2` in `f32`, for the per-block arithmetic.
//!
//! The C library's `sincosf` and `atan2f` are exact to the last bit and cost 20–40 cycles a call,
//! which at one to four calls per block was a large share of the per-channel work. These are
//! polynomials with the errors below (measured by the tests against `f64`), plain enough for
//! LLVM to vectorise over arrays, and far below what the detector can notice: an angle error of
//! 1e−5 rad moves a frequency estimate by less than 0.001 Hz.

use std::f32::consts::{FRAC_PI_2, PI};

/// `1.5·2²³`: adding it rounds an `f32` of magnitude below 2²² to an integer (ties to even) and
/// leaves that integer in the low mantissa bits.
const ROUNDER: f32 = 12_582_912.0;
/// `π/2` split so that `q·HI` is exact for quadrant counts below 2¹⁵ (Cody–Waite): `HI` has
/// eight significant bits, `LO` is the rest, rounded from `f64`.
const FRAC_PI_2_HI: f32 = 1.570_312_5;
const FRAC_PI_2_LO: f32 = (std::f64::consts::FRAC_PI_2 - FRAC_PI_2_HI as f64) as f32;

/// `x` rounded to an integer (ties to even), for `|x| < 2²²`: no library call, unlike
/// `f32::round` without SSE4.1.
#[inline(always)]
pub(crate) fn round(x: f32) -> f32 {
    (x + ROUNDER) - ROUNDER
}

/// `(sin x, cos x)`, absolute error below 4e−7 for `|x| < 1000`.
#[inline(always)]
pub(crate) fn sin_cos(x: f32) -> (f32, f32) {
    let shifted = x * (2.0 / PI) + ROUNDER;
    let quadrant = shifted.to_bits() & 3;
    let q = shifted - ROUNDER;
    let r = (x - q * FRAC_PI_2_HI) - q * FRAC_PI_2_LO;
    // |r| ≤ π/4: Taylor series to r⁷ and r⁸ (next terms below 3e−7).
    let r2 = r * r;
    let s = r + r * r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0)));
    let c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0))));
    let (sin, cos) = if quadrant & 1 == 0 { (s, c) } else { (c, s) };
    let sin = if quadrant & 2 == 0 { sin } else { -sin };
    let cos = if (quadrant + 1) & 2 == 0 { cos } else { -cos };
    (sin, cos)
}

/// `atan2(y, x)` in `(−π, π]`, absolute error below 2e−6 rad; `atan2(0, 0) = 0`.
#[inline(always)]
pub(crate) fn atan2(y: f32, x: f32) -> f32 {
    let (ax, ay) = (x.abs(), y.abs());
    let (small, big) = if ay > ax { (ax, ay) } else { (ay, ax) };
    let a = if big > 0.0 { small / big } else { 0.0 };
    let s = a * a;
    // atan on [0, 1]: odd polynomial of degree 15, fitted for least maximum error (1.3e−7).
    let p = a
        * (0.999_999_34
            + s * (-0.333_298_6
                + s * (0.199_465_65
                    + s * (-0.139_086_28
                        + s * (0.096_421_92
                            + s * (-0.055_912_252 + s * (0.021_862_904 + s * -0.004_054_552)))))));
    let r = if ay > ax { FRAC_PI_2 - p } else { p };
    let r = if x < 0.0 { PI - r } else { r };
    if y < 0.0 { -r } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sin_cos_is_close_to_the_library() {
        let mut worst = 0.0f64;
        for i in -200_000..=200_000 {
            let x = i as f32 * 0.005;
            let (s, c) = sin_cos(x);
            let (es, ec) = (f64::from(x).sin(), f64::from(x).cos());
            worst = worst
                .max((f64::from(s) - es).abs())
                .max((f64::from(c) - ec).abs());
        }
        assert!(worst < 4e-7, "worst error {worst}");
    }

    #[test]
    fn atan2_is_close_to_the_library_in_every_quadrant() {
        let mut worst = 0.0f64;
        for i in 0..100_000 {
            let angle = f64::from(i) / 100_000.0 * std::f64::consts::TAU - std::f64::consts::PI;
            for radius in [1e-3f64, 1.0, 3e4] {
                let (y, x) = ((radius * angle.sin()) as f32, (radius * angle.cos()) as f32);
                let want = f64::from(y).atan2(f64::from(x));
                let got = f64::from(atan2(y, x));
                let mut err = (got - want).abs();
                if err > std::f64::consts::PI {
                    err = std::f64::consts::TAU - err;
                }
                worst = worst.max(err);
            }
        }
        assert!(worst < 2e-6, "worst error {worst}");
        assert_eq!(atan2(0.0, 0.0), 0.0);
        assert_eq!(atan2(0.0, -1.0), PI);
    }
}
