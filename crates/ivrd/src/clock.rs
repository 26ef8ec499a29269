//! The daemon's one clock read (STYLE.md P2): cores take `now` as an argument.

use std::time::Instant;

/// Monotonic now.
#[allow(clippy::disallowed_methods)] // the single allowed clock read
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// Blocks the calling thread until `deadline` (the media workers' pacing).
#[allow(clippy::disallowed_methods)] // the single allowed sleep: media pacing threads
pub(crate) fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

/// A seed for tags, branches and SSRCs: wall-clock nanoseconds mixed with the process id.
#[allow(clippy::disallowed_methods)] // wall clock read once at start, as entropy only
pub(crate) fn entropy() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Wall clock since the Unix epoch (RTCP's NTP timestamps, once per media tick).
#[allow(clippy::disallowed_methods)] // wall clock arrives as an input to the RTCP core
pub(crate) fn since_unix_epoch() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Wall clock, milliseconds since the Unix epoch (flows' time-of-day conditions).
#[allow(clippy::disallowed_methods)] // wall clock arrives as an input to the flow engine
pub(crate) fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// 16 octets from the operating system's CSPRNG for the SDES key generator; no fallback:
/// without the OS's randomness ivrd does not start.
pub(crate) fn secret_seed() -> anyhow::Result<[u8; 16]> {
    let mut seed = [0u8; 16];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("the OS random source: {e}"))?;
    Ok(seed)
}

/// 64 bits from the operating system's CSPRNG (coupon serials must be unguessable); falls
/// back to [`entropy`] only if the OS source fails.
pub(crate) fn secure_random() -> u64 {
    getrandom::u64().unwrap_or_else(|_| entropy())
}
