//! Call control for ivrd, sans-IO: the legs we place for a caller's `dial` node, the bridge
//! between the caller and whoever answers, and their timers. It sits on the call path between
//! `sip-ua` (which places and answers calls) and `media` / `flow-engine`: it decides, the
//! daemon carries the decisions out.
//!
//! # Drain contract
//! After every [`Switch::handle_input`], drain [`Switch::poll_output`] until `None`, then sleep
//! until [`Switch::poll_timeout`] and feed [`Input::Timeout`]. Timers are one ordered index
//! (never a scan of the calls).
//!
//! # What the driver does
//! - [`Output::Place`]: allocate the leg's media, send the INVITE (`sip_ua::Endpoint::dial`),
//!   and answer with [`Input::Placed`]: the leg's call id, or why it could not be placed.
//! - Feed [`Input::Sip`] with the events of every leg it placed, and the `Ended` of callers.
//! - [`Output::Bridge`] / [`Output::Unbridge`]: join or part the two legs' media (both on one
//!   media worker). [`Output::HangUp`]: CANCEL or BYE a leg. [`Output::Flow`]: an input for
//!   the caller's flow (the dial node's result, the bridge's end).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use call_control::{DialRequest, Input, Output, Switch};
//! # fn ids() -> (sip_ua::CallId, flow_engine::RequestId) { unimplemented!() }
//! # fn run() {
//! let mut switch = Switch::new();
//! # #[allow(clippy::disallowed_methods)]
//! let now = Instant::now();
//! let (caller, request) = ids();
//! switch.handle_input(now, Input::Dial(DialRequest {
//!     caller, request,
//!     targets: vec!["sip:agent@192.0.2.20".into()], trunk: None,
//!     mode: flow_engine::DialMode::Sequential,
//!     ring_timeout: Duration::from_secs(20),
//!     caller_id: "+15551234567".into(),
//! }));
//! assert!(matches!(switch.poll_output(), Some(Output::Place { .. })));
//! # }
//! ```

mod dialing;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use flow_engine::{DialMode, RequestId};
use sip_ua::CallId;

use dialing::Dialing;

/// One try at one target of a dial request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttemptId(u64);

impl std::fmt::Display for AttemptId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "attempt-{}", self.0)
    }
}

/// A caller's flow asks to be bridged to one of `targets`.
#[derive(Clone, Debug)]
pub struct DialRequest {
    /// The caller's leg.
    pub caller: CallId,
    /// The flow's request (answered with `DialResult`, ended with `BridgeEnded`).
    pub request: RequestId,
    /// SIP URIs, or numbers for the trunk.
    pub targets: Vec<String>,
    /// The trunk to place them through.
    pub trunk: Option<String>,
    /// In turn or all at once.
    pub mode: DialMode,
    /// How long each target (or all of them at once) rings.
    pub ring_timeout: Duration,
    /// The caller ID to present.
    pub caller_id: String,
}

/// An input to the switch.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Input {
    /// A flow's dial node.
    Dial(DialRequest),
    /// The answer to [`Output::Place`].
    Placed {
        /// The attempt.
        attempt: AttemptId,
        /// The placed leg, or why it could not be placed.
        leg: Result<CallId, String>,
    },
    /// An event of a leg we placed, or of a caller.
    Sip(CallId, sip_ua::Event),
    /// A deadline from [`Switch::poll_timeout`] has passed.
    Timeout,
}

/// What the switch asks of its driver.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Output {
    /// Place a call to `target` for `caller`, presenting `caller_id`.
    Place {
        /// Answer with [`Input::Placed`] for this attempt.
        attempt: AttemptId,
        /// The caller it is for (its media worker is the leg's).
        caller: CallId,
        /// A SIP URI, or a number for the trunk.
        target: String,
        /// The trunk to place it through.
        trunk: Option<String>,
        /// The caller ID to present.
        caller_id: String,
    },
    /// End a leg: CANCEL while it rings, BYE once answered.
    HangUp(CallId),
    /// Join the two legs' media.
    Bridge {
        /// The caller.
        caller: CallId,
        /// The leg that answered.
        callee: CallId,
    },
    /// Part them.
    Unbridge {
        /// The caller.
        caller: CallId,
        /// The leg that answered.
        callee: CallId,
    },
    /// An input for the caller's flow.
    Flow(CallId, flow_engine::Input),
}

/// What a timer entry is for; the entity says whether it is still due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// A round of ringing for a caller's dial: the round's number.
    Ring(CallId, u64),
}

/// A caller's side of call control.
#[derive(Debug)]
enum Session {
    Dialing(Dialing),
    Bridged { callee: CallId, request: RequestId },
}

/// The call-control core. See the crate docs for the drain contract.
#[derive(Debug, Default)]
pub struct Switch {
    /// By caller.
    sessions: HashMap<CallId, Session>,
    /// Placed leg → its caller and attempt.
    legs: HashMap<CallId, (CallId, AttemptId)>,
    /// Attempt → its caller (until placed).
    attempts: HashMap<AttemptId, CallId>,
    timers: BTreeSet<(Instant, Timer)>,
    out: VecDeque<Output>,
    next_attempt: u64,
    next_round: u64,
}

impl Switch {
    /// An idle switch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one input.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        match input {
            Input::Dial(request) => self.dial(now, request),
            Input::Placed { attempt, leg } => self.placed(now, attempt, leg),
            Input::Sip(call, event) => self.sip(now, call, event),
            Input::Timeout => self.timeout(now),
        }
    }

    /// The next output; drain until `None` after every input.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When to feed [`Input::Timeout`] next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// Whether `leg` is one we placed (its events belong here).
    pub fn placed_leg(&self, leg: CallId) -> Option<CallId> {
        self.legs.get(&leg).map(|(caller, _)| *caller)
    }

    /// Callers being dialled for or bridged.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    fn timeout(&mut self, now: Instant) {
        while let Some(&(at, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            match timer {
                Timer::Ring(caller, round) => self.rang_out(now, caller, round),
            }
        }
    }

    fn sip(&mut self, now: Instant, call: CallId, event: sip_ua::Event) {
        if let Some(&(caller, attempt)) = self.legs.get(&call) {
            match event {
                sip_ua::Event::Progress(_) => {
                    if let Some(Session::Dialing(d)) = self.sessions.get_mut(&caller) {
                        d.ringing(attempt);
                    }
                }
                sip_ua::Event::Answered(_) => self.answered(caller, attempt, call),
                sip_ua::Event::Ended(reason) => {
                    self.legs.remove(&call);
                    self.leg_ended(now, caller, attempt, call, reason);
                }
                _ => {}
            }
            return;
        }
        if let sip_ua::Event::Ended(_) = event {
            self.caller_ended(call);
        }
    }

    /// The caller is gone: every leg placed for it goes too.
    fn caller_ended(&mut self, caller: CallId) {
        match self.sessions.remove(&caller) {
            Some(Session::Dialing(d)) => {
                for leg in d.live_legs() {
                    self.out.push_back(Output::HangUp(leg));
                }
            }
            Some(Session::Bridged { callee, .. }) => {
                self.out.push_back(Output::Unbridge { caller, callee });
                self.out.push_back(Output::HangUp(callee));
            }
            None => {}
        }
    }

    fn answered(&mut self, caller: CallId, attempt: AttemptId, leg: CallId) {
        let Some(Session::Dialing(d)) = self.sessions.get_mut(&caller) else {
            // Answered after we gave up on it.
            self.out.push_back(Output::HangUp(leg));
            return;
        };
        let Some(target) = d.answered(attempt) else {
            self.out.push_back(Output::HangUp(leg));
            return;
        };
        let others: Vec<CallId> = d.live_legs().filter(|l| *l != leg).collect();
        let request = d.request;
        self.sessions.insert(
            caller,
            Session::Bridged {
                callee: leg,
                request,
            },
        );
        for other in others {
            self.out.push_back(Output::HangUp(other));
        }
        self.out.push_back(Output::Bridge {
            caller,
            callee: leg,
        });
        self.out.push_back(Output::Flow(
            caller,
            flow_engine::Input::DialResult {
                id: request,
                outcome: flow_engine::DialOutcome::Answered(target),
            },
        ));
    }

    fn arm(&mut self, at: Instant, timer: Timer) {
        self.timers.insert((at, timer));
    }

    fn attempt_id(&mut self) -> AttemptId {
        self.next_attempt += 1;
        AttemptId(self.next_attempt)
    }
}
