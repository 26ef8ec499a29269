//! The daemon's one clock read (STYLE.md P2): cores take `now` as an argument.

use std::time::Instant;

/// Monotonic now.
#[allow(clippy::disallowed_methods)] // the single allowed clock read
pub(crate) fn now() -> Instant {
    Instant::now()
}
