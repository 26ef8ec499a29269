//! Run-time choice of instruction set for the hot loops.
//!
//! A loop body implements [`Vectorised`], generic over the vector type of [`crate::vector`];
//! [`run`] calls it from inside a `#[target_feature]` function with the matching type, so that
//! with AVX2 + FMA it runs on 256-bit registers and fused multiply-add, and with AVX-512 on the
//! 32 512-bit registers. Calling such a function is `unsafe` because running it on a CPU without
//! those features is undefined; [`Kernel::detect`] is the only constructor of the feature-bound
//! variants and it checks the CPU first. With the intrinsics in `vector.rs`, this is the crate's only `unsafe`.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
use crate::vector::{Avx2, Avx512};
use crate::vector::{F32x16, Plain};

/// Which compiled copy of the hot loops to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kernel {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2Fma,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Kernel {
    /// The best kernel this CPU runs.
    pub(crate) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let avx2 = has!("avx2") && has!("fma");
            if avx2 && has!("avx512f") && has!("avx512vl") && has!("avx512bw") && has!("avx512dq") {
                return Self::Avx512;
            }
            if avx2 {
                return Self::Avx2Fma;
            }
        }
        Self::Portable
    }

    /// Every kernel this CPU runs, for tests that compare them.
    #[cfg(test)]
    pub(crate) fn all_supported() -> Vec<Self> {
        let mut all = vec![Self::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            let best = Self::detect();
            if best != Self::Portable {
                all.push(Self::Avx2Fma);
            }
            if best == Self::Avx512 {
                all.push(Self::Avx512);
            }
        }
        all
    }
}

/// Work to compile for the chosen [`Kernel`], written against the vector type `V` (see
/// [`crate::vector`]). A trait rather than a closure, because only an `#[inline(always)]` method
/// is sure to be inlined into the feature-enabled caller.
pub(crate) trait Vectorised {
    type Output;
    fn run<V: F32x16>(self) -> Self::Output;
}

/// Runs `body` compiled for `kernel`.
#[inline]
pub(crate) fn run<W: Vectorised>(kernel: Kernel, body: W) -> W::Output {
    match kernel {
        Kernel::Portable => body.run::<Plain>(),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Avx2Fma` is only built by `Kernel::detect` after checking the CPU features.
        Kernel::Avx2Fma => unsafe { run_avx2(body) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Avx512` is only built by `Kernel::detect` after checking the CPU features.
        Kernel::Avx512 => unsafe { run_avx512(body) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2<W: Vectorised>(body: W) -> W::Output {
    body.run::<Avx2>()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")]
fn run_avx512<W: Vectorised>(body: W) -> W::Output {
    body.run::<Avx512>()
}
