//! Admission control for new INVITEs: decided before a call, a port or a flow exists, so that a
//! flood from one address costs a stateless `503` each and cannot lock other callers out.
//!
//! Three limits, checked in this order:
//! - calls being set up (INVITE received, no ACK yet) in all: [`Admission::max_setup`];
//! - calls being set up from one source address: [`Admission::per_source_setup`]. A flood that
//!   never ACKs keeps its calls in setup for 64·T1, so this cap is what holds it off;
//! - new INVITEs per second from one source: a token bucket of [`Admission::per_source_rate`]
//!   refilled per second, holding up to [`Admission::per_source_burst`].
//!
//! Before them, a source outside [`Admission::allow`] (when it lists any) gets `403`, unless
//! the endpoint serves registrations ([`crate::SipConfig::registrar`]): then its INVITE goes to
//! the application marked [`crate::IncomingCall::unlisted`], to be authenticated or refused. Sources in
//! [`Admission::trusted`] (a trunk's SBC, a load generator) skip the per-source limits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The limits. The defaults let one SIPp or one trunk place 1,000 calls/s.
#[derive(Clone, Debug)]
pub struct Admission {
    /// Most calls in setup at once, all sources together.
    pub max_setup: usize,
    /// Most calls in setup at once from one source address.
    pub per_source_setup: usize,
    /// New INVITEs per second from one source (sustained).
    pub per_source_rate: u32,
    /// New INVITEs from one source in a burst.
    pub per_source_burst: u32,
    /// `Retry-After` in the `503`, seconds.
    pub retry_after: Duration,
    /// Sources the per-source limits do not apply to.
    pub trusted: Vec<IpAddr>,
    /// Networks new INVITEs are taken from; from anywhere else, `403` (empty: from anywhere).
    pub allow: Vec<crate::SourceNet>,
}

impl Default for Admission {
    fn default() -> Self {
        Self {
            max_setup: 2_000,
            per_source_setup: 400,
            per_source_rate: 1_000,
            per_source_burst: 1_000,
            retry_after: Duration::from_secs(5),
            trusted: Vec::new(),
            allow: Vec::new(),
        }
    }
}

/// Why an INVITE was not admitted; each is a `503` with `Retry-After`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Too many calls in setup in all.
    Busy,
    /// Too many calls in setup from this source.
    SourceBusy,
    /// This source sends INVITEs too fast.
    SourceRate,
    /// This source is not in [`Admission::allow`]: `403`, not `503`.
    NotAllowed,
}

impl Refusal {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Busy => "too many calls being set up",
            Self::SourceBusy => "too many calls being set up from this source",
            Self::SourceRate => "INVITE rate from this source over its limit",
            Self::NotAllowed => "source not allowed to call",
        }
    }
}

/// A source's token bucket and calls in setup.
#[derive(Clone, Copy, Debug)]
struct Source {
    tokens: f64,
    refilled: Instant,
    setup: usize,
}

/// Most sources remembered; past this, idle ones (full bucket, nothing in setup) are forgotten,
/// at most once a second; while none can be, new sources are refused (a spoofed flood).
const MAX_SOURCES: usize = 16_384;

/// The admission state: per-source buckets and setup counts.
#[derive(Debug)]
pub(crate) struct Gate {
    limits: Admission,
    sources: HashMap<IpAddr, Source>,
    setup: usize,
    /// When idle sources were last forgotten.
    swept: Option<Instant>,
}

impl Gate {
    pub(crate) fn new(limits: Admission) -> Self {
        Self {
            limits,
            sources: HashMap::new(),
            setup: 0,
            swept: None,
        }
    }

    /// Whether `ip` is inside [`Admission::allow`] (or it lists nothing).
    pub(crate) fn allows(&self, ip: IpAddr) -> bool {
        self.limits.allow.is_empty() || self.limits.allow.iter().any(|n| n.contains(ip))
    }

    /// Admits a new INVITE from `ip` (counting it as in setup), or says why not.
    pub(crate) fn admit(&mut self, now: Instant, ip: IpAddr) -> Result<(), Refusal> {
        if self.setup >= self.limits.max_setup {
            return Err(Refusal::Busy);
        }
        if self.limits.trusted.contains(&ip) {
            self.setup += 1;
            return Ok(());
        }
        if self.sources.len() >= MAX_SOURCES && !self.sources.contains_key(&ip) {
            if self
                .swept
                .is_none_or(|at| now.saturating_duration_since(at) >= Duration::from_secs(1))
            {
                self.swept = Some(now);
                self.forget_idle(now);
            }
            if self.sources.len() >= MAX_SOURCES {
                return Err(Refusal::Busy);
            }
        }
        let burst = f64::from(self.limits.per_source_burst.max(1));
        let rate = f64::from(self.limits.per_source_rate);
        let source = self.sources.entry(ip).or_insert(Source {
            tokens: burst,
            refilled: now,
            setup: 0,
        });
        let elapsed = now.saturating_duration_since(source.refilled).as_secs_f64();
        source.tokens = (source.tokens + elapsed * rate).min(burst);
        source.refilled = now;
        if source.setup >= self.limits.per_source_setup {
            return Err(Refusal::SourceBusy);
        }
        if source.tokens < 1.0 {
            return Err(Refusal::SourceRate);
        }
        source.tokens -= 1.0;
        source.setup += 1;
        self.setup += 1;
        Ok(())
    }

    /// A call admitted from `ip` has left setup (confirmed, refused or gone).
    pub(crate) fn release(&mut self, ip: IpAddr) {
        self.setup = self.setup.saturating_sub(1);
        if let Some(source) = self.sources.get_mut(&ip) {
            source.setup = source.setup.saturating_sub(1);
        }
    }

    fn forget_idle(&mut self, now: Instant) {
        let (rate, burst) = (
            f64::from(self.limits.per_source_rate),
            f64::from(self.limits.per_source_burst.max(1)),
        );
        self.sources.retain(|_, s| {
            let elapsed = now.saturating_duration_since(s.refilled).as_secs_f64();
            s.setup > 0 || s.tokens + elapsed * rate < burst
        });
    }

    pub(crate) fn retry_after(&self) -> Duration {
        self.limits.retry_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_source_is_held_off_and_others_pass() {
        #[allow(clippy::disallowed_methods)] // the test's epoch; only jumped from here
        let t0 = Instant::now();
        let mut gate = Gate::new(Admission {
            max_setup: 10,
            per_source_setup: 3,
            per_source_rate: 2,
            per_source_burst: 4,
            trusted: vec!["10.0.0.9".parse().expect("ip")],
            ..Admission::default()
        });
        let (flood, caller) = (
            "10.0.0.2".parse().expect("ip"),
            "10.0.0.1".parse().expect("ip"),
        );
        for _ in 0..3 {
            assert_eq!(gate.admit(t0, flood), Ok(()));
        }
        assert_eq!(gate.admit(t0, flood), Err(Refusal::SourceBusy));
        assert_eq!(gate.admit(t0, caller), Ok(()));
        gate.release(flood);
        assert_eq!(gate.admit(t0, flood), Ok(()), "the fourth token");
        gate.release(flood);
        assert_eq!(gate.admit(t0, flood), Err(Refusal::SourceRate));
        let later = t0 + Duration::from_millis(500);
        assert_eq!(gate.admit(later, flood), Ok(()), "one token refilled");
        for _ in 0..10 {
            let _ = gate.admit(later, "10.0.0.9".parse().expect("ip"));
        }
        assert_eq!(gate.admit(later, caller), Err(Refusal::Busy));
    }
}
