//! Sixteen `f32` lanes, three ways: one AVX-512 register, two AVX2 registers, or a plain array.
//!
//! The hot loops are written once against [`F32x16`] and compiled per instruction set by
//! [`simd::run`](crate::simd::run). LLVM's auto-vectoriser was tried first and was not reliable
//! here: the same loop came out as 512-bit code, as scalar code, or vectorised across the wrong
//! loop with gathers, depending on details far from the loop. With explicit vector types every
//! kernel keeps its accumulators in registers by construction.
//!
//! The AVX types are only built inside kernels that [`simd::run`](crate::simd::run) enters
//! after [`Kernel::detect`](crate::simd::Kernel::detect) checked the CPU; that is what makes
//! the `unsafe` intrinsic calls below sound.
#![allow(unsafe_code)]

/// Lanes of every vector type here.
pub(crate) const WIDTH: usize = 16;

/// Sixteen `f32` lanes. All operations are lane by lane.
pub(crate) trait F32x16: Copy {
    /// Whether 32 registers hold 16 of these (AVX-512); with 16 registers only 8 fit (AVX2).
    const WIDE: bool;
    fn splat(x: f32) -> Self;
    fn load(a: &[f32; WIDTH]) -> Self;
    fn store(self, a: &mut [f32; WIDTH]);
    fn from_i16(a: &[i16; WIDTH]) -> Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    /// `self·b + c`: fused where the instruction set has FMA, rounded twice otherwise.
    fn mul_add(self, b: Self, c: Self) -> Self;
    fn max(self, o: Self) -> Self;
    fn sqrt(self) -> Self;

    fn zero() -> Self {
        Self::splat(0.0)
    }
    fn to_array(self) -> [f32; WIDTH] {
        let mut a = [0.0; WIDTH];
        self.store(&mut a);
        a
    }
}

/// The portable fallback: loops LLVM may vectorise as it likes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plain([f32; WIDTH]);

impl F32x16 for Plain {
    const WIDE: bool = false;
    #[inline(always)]
    fn splat(x: f32) -> Self {
        Self([x; WIDTH])
    }
    #[inline(always)]
    fn load(a: &[f32; WIDTH]) -> Self {
        Self(*a)
    }
    #[inline(always)]
    fn store(self, a: &mut [f32; WIDTH]) {
        *a = self.0;
    }
    #[inline(always)]
    fn from_i16(a: &[i16; WIDTH]) -> Self {
        Self(a.map(f32::from))
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Self(std::array::from_fn(|i| self.0[i] + o.0[i]))
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Self(std::array::from_fn(|i| self.0[i] - o.0[i]))
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        Self(std::array::from_fn(|i| self.0[i] * o.0[i]))
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        Self(std::array::from_fn(|i| self.0[i] * b.0[i] + c.0[i]))
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        Self(std::array::from_fn(|i| self.0[i].max(o.0[i])))
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        Self(self.0.map(f32::sqrt))
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Avx512};

/// Asks the CPU to bring `data` into L1, one request per 64-byte line, without waiting.
#[inline(always)]
pub(crate) fn prefetch(data: &[i16]) {
    #[cfg(target_arch = "x86_64")]
    for line in data.chunks(32) {
        // SAFETY: a prefetch is a hint that never faults, whatever the address; this one is
        // the start of a live slice. SSE is part of x86-64.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{F32x16, WIDTH};

    /// Two AVX2 registers.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Avx2(__m256, __m256);

    // SAFETY (every block in this impl): `Avx2` values exist only inside kernels entered by
    // `simd::run` with `Kernel::Avx2Fma` or `Kernel::Avx512`, which `Kernel::detect` builds
    // only on CPUs with AVX2 and FMA. Loads and stores go through references to whole arrays.
    impl F32x16 for Avx2 {
        const WIDE: bool = false;
        #[inline(always)]
        fn splat(x: f32) -> Self {
            let v = unsafe { _mm256_set1_ps(x) };
            Self(v, v)
        }
        #[inline(always)]
        fn load(a: &[f32; WIDTH]) -> Self {
            unsafe {
                Self(
                    _mm256_loadu_ps(a.as_ptr()),
                    _mm256_loadu_ps(a[8..].as_ptr()),
                )
            }
        }
        #[inline(always)]
        fn store(self, a: &mut [f32; WIDTH]) {
            unsafe {
                _mm256_storeu_ps(a.as_mut_ptr(), self.0);
                _mm256_storeu_ps(a[8..].as_mut_ptr(), self.1);
            }
        }
        #[inline(always)]
        fn from_i16(a: &[i16; WIDTH]) -> Self {
            unsafe {
                let v = _mm256_loadu_si256(a.as_ptr().cast());
                let lo = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(v));
                let hi = _mm256_cvtepi16_epi32(_mm256_extracti128_si256::<1>(v));
                Self(_mm256_cvtepi32_ps(lo), _mm256_cvtepi32_ps(hi))
            }
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            unsafe { Self(_mm256_add_ps(self.0, o.0), _mm256_add_ps(self.1, o.1)) }
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            unsafe { Self(_mm256_sub_ps(self.0, o.0), _mm256_sub_ps(self.1, o.1)) }
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            unsafe { Self(_mm256_mul_ps(self.0, o.0), _mm256_mul_ps(self.1, o.1)) }
        }
        #[inline(always)]
        fn mul_add(self, b: Self, c: Self) -> Self {
            unsafe {
                Self(
                    _mm256_fmadd_ps(self.0, b.0, c.0),
                    _mm256_fmadd_ps(self.1, b.1, c.1),
                )
            }
        }
        #[inline(always)]
        fn max(self, o: Self) -> Self {
            unsafe { Self(_mm256_max_ps(self.0, o.0), _mm256_max_ps(self.1, o.1)) }
        }
        #[inline(always)]
        fn sqrt(self) -> Self {
            unsafe { Self(_mm256_sqrt_ps(self.0), _mm256_sqrt_ps(self.1)) }
        }
    }

    /// One AVX-512 register.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Avx512(__m512);

    // SAFETY (every block in this impl): `Avx512` values exist only inside kernels entered by
    // `simd::run` with `Kernel::Avx512`, which `Kernel::detect` builds only on CPUs with
    // AVX-512 F/VL/BW/DQ, AVX2 and FMA. Loads and stores go through references to whole arrays.
    impl F32x16 for Avx512 {
        const WIDE: bool = true;
        #[inline(always)]
        fn splat(x: f32) -> Self {
            unsafe { Self(_mm512_set1_ps(x)) }
        }
        #[inline(always)]
        fn load(a: &[f32; WIDTH]) -> Self {
            unsafe { Self(_mm512_loadu_ps(a.as_ptr())) }
        }
        #[inline(always)]
        fn store(self, a: &mut [f32; WIDTH]) {
            unsafe { _mm512_storeu_ps(a.as_mut_ptr(), self.0) }
        }
        #[inline(always)]
        fn from_i16(a: &[i16; WIDTH]) -> Self {
            unsafe {
                let v = _mm256_loadu_si256(a.as_ptr().cast());
                Self(_mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(v)))
            }
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            unsafe { Self(_mm512_add_ps(self.0, o.0)) }
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            unsafe { Self(_mm512_sub_ps(self.0, o.0)) }
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            unsafe { Self(_mm512_mul_ps(self.0, o.0)) }
        }
        #[inline(always)]
        fn mul_add(self, b: Self, c: Self) -> Self {
            unsafe { Self(_mm512_fmadd_ps(self.0, b.0, c.0)) }
        }
        #[inline(always)]
        fn max(self, o: Self) -> Self {
            unsafe { Self(_mm512_max_ps(self.0, o.0)) }
        }
        #[inline(always)]
        fn sqrt(self) -> Self {
            unsafe { Self(_mm512_sqrt_ps(self.0)) }
        }
    }
}
