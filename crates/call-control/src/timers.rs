//! Every timer of the switch in one ordered index: the earliest is found without looking at any
//! call, and a timer that moves (a flow's next deadline) is re-filed, not scanned for.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use sip_ua::CallId;

/// What a timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// Answer a ringing call.
    Answer(CallId),
    /// The call's flow has a deadline.
    Flow(CallId),
    /// A round of ringing for a caller's dial: the round's number (unique in the switch).
    Ring(CallId, u64),
    /// A push call rings out.
    RingOut(CallId),
    /// A queued caller's longest wait.
    QueueWait(CallId),
    /// A queued caller's next announcement.
    Announce(CallId),
    /// A queued caller's next periodic announcement.
    Periodic(CallId),
    /// An agent's phone rings out.
    AgentRing(CallId),
    /// An agent's wrap-up or hold-back ends (by index).
    AgentFree(u32),
    /// A queued caller did not answer the wait-time SMS offer.
    SmsAnswer(CallId),
    /// An agent's registration expires (by index).
    Binding(u32),
}

/// Timers by deadline, and each timer's deadline.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    by_time: BTreeSet<(Instant, Timer)>,
    armed: HashMap<Timer, Instant>,
}

impl Timers {
    /// Arms `timer` at `at`, or disarms it (`None`); an armed timer moves.
    pub(crate) fn set(&mut self, timer: Timer, at: Option<Instant>) {
        if self.armed.get(&timer).copied() == at {
            return;
        }
        if let Some(old) = self.armed.remove(&timer) {
            self.by_time.remove(&(old, timer));
        }
        if let Some(at) = at {
            self.armed.insert(timer, at);
            self.by_time.insert((at, timer));
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Takes one timer due at `now`, if any.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let &(at, timer) = self.by_time.first()?;
        if at > now {
            return None;
        }
        self.by_time.pop_first();
        self.armed.remove(&timer);
        Some(timer)
    }

    /// Armed timers (for tests of the index itself).
    #[cfg(test)]
    fn len(&self) -> usize {
        debug_assert_eq!(self.by_time.len(), self.armed.len());
        self.armed.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_moved_timer_is_refiled_and_due_timers_come_out_in_order() {
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let mut sip = sip_ua::Endpoint::new(sip_ua::SipConfig::default());
        let mut mint = || {
            let dial = sip_ua::Dial {
                target: "sip:a@192.0.2.1".into(),
                from: "sip:ivrd@192.0.2.2".into(),
                flow: sip_ua::Flow {
                    transport: sip_ua::Transport::Udp,
                    remote: "192.0.2.1:5060".parse().expect("addr"),
                    local: "192.0.2.2:5060".parse().expect("addr"),
                },
                route: Vec::new(),
                local: sip_ua::LocalMedia {
                    rtp: "192.0.2.2:4000".parse().expect("addr"),
                    session_id: 1,
                    version: 1,
                },
                telephone_event: 101,
                credentials: None,
            };
            sip.dial(t0, dial).expect("dial")
        };
        let (a, b) = (mint(), mint());
        let s = Duration::from_secs;
        let mut timers = Timers::default();
        timers.set(Timer::Flow(a), Some(t0 + s(5)));
        timers.set(Timer::Answer(b), Some(t0 + s(1)));
        timers.set(Timer::Flow(a), Some(t0 + s(2)));
        assert_eq!(timers.len(), 2);
        assert_eq!(timers.next(), Some(t0 + s(1)));
        assert_eq!(timers.pop_due(t0), None);
        assert_eq!(timers.pop_due(t0 + s(9)), Some(Timer::Answer(b)));
        assert_eq!(timers.pop_due(t0 + s(9)), Some(Timer::Flow(a)));
        assert_eq!(timers.pop_due(t0 + s(9)), None);
        timers.set(Timer::Flow(a), Some(t0 + s(3)));
        timers.set(Timer::Flow(a), None);
        assert_eq!(timers.len(), 0);
    }
}
