//! Shared pieces of the benches and comparisons: a stopwatch (the one clock read in this
//! package), medians, and reference detectors behind features.

pub mod corpus;
pub mod multimon;
#[cfg(feature = "spandsp")]
pub mod spandsp;

use std::time::{Duration, Instant};

/// Times `f` once.
#[allow(clippy::disallowed_methods)] // the benchmark clock: measuring wall time is the point
pub fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// Median of a non-empty list of durations.
pub fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}
