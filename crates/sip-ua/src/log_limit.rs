//! Rate-limited logging: under a flood, one line per reason per interval, with how many were
//! left out, instead of one line per message (a 5,000 INVITE/s flood once wrote 35 MB of log).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Decides which occurrences of a repeated log line are written. Keys are static reasons.
#[derive(Debug)]
pub struct LogLimiter {
    interval: Duration,
    /// Reason → when it was last written and how many were left out since.
    lines: HashMap<&'static str, (Instant, u64)>,
}

impl LogLimiter {
    /// At most one line per reason per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            lines: HashMap::new(),
        }
    }

    /// An occurrence of `reason` at `now`: `Some(n)` to write it now, `n` being the number of
    /// occurrences left out since the last line; `None` to leave it out.
    pub fn hit(&mut self, now: Instant, reason: &'static str) -> Option<u64> {
        match self.lines.get_mut(reason) {
            Some((last, skipped)) if now.saturating_duration_since(*last) < self.interval => {
                *skipped += 1;
                None
            }
            Some((last, skipped)) => {
                let n = *skipped;
                *last = now;
                *skipped = 0;
                Some(n)
            }
            None => {
                self.lines.insert(reason, (now, 0));
                Some(0)
            }
        }
    }
}

impl Default for LogLimiter {
    /// One line per reason per 10 s.
    fn default() -> Self {
        Self::new(Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count() {
        #[allow(clippy::disallowed_methods)] // the test's epoch; only jumped from here
        let t0 = Instant::now();
        let mut log = LogLimiter::new(Duration::from_secs(10));
        assert_eq!(log.hit(t0, "a"), Some(0));
        for i in 1..=999 {
            assert_eq!(log.hit(t0 + Duration::from_millis(i), "a"), None);
        }
        assert_eq!(log.hit(t0, "b"), Some(0), "each reason has its own line");
        assert_eq!(log.hit(t0 + Duration::from_secs(10), "a"), Some(999));
    }
}
