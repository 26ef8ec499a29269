//! A dial request in progress: its targets tried in turn or all at once, each attempt's end,
//! and the outcome the flow hears when none answered.

use std::time::Instant;

use flow_engine::{DialMode, DialOutcome, RequestId};
use sip_ua::{CallId, EndReason};
use tracing::info;

use crate::{AttemptId, DialRequest, Output, Session, Switch, Timer};

/// How one attempt went.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Attempt {
    /// Asked the driver to place it.
    Placing,
    /// Placed; no provisional response yet.
    Placed(CallId),
    /// It rings (a provisional response came).
    Ringing(CallId),
    /// Over without an answer.
    Over(Miss),
}

/// Why an attempt ended without an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Miss {
    Busy,
    NoAnswer,
    Failed(String),
}

/// A caller's dial in progress.
#[derive(Debug)]
pub(crate) struct Dialing {
    pub(crate) request: RequestId,
    targets: Vec<String>,
    trunk: Option<String>,
    mode: DialMode,
    ring_timeout: std::time::Duration,
    caller_id: String,
    /// Attempts so far, with their targets.
    attempts: Vec<(AttemptId, String, Attempt)>,
    /// The round of ringing now (one per target in turn; one for all at once); numbered across
    /// the switch, so a timer of an earlier dial never matches a later one.
    round: u64,
}

impl Dialing {
    /// The legs placed and not over.
    pub(crate) fn live_legs(&self) -> impl Iterator<Item = CallId> + '_ {
        self.attempts.iter().filter_map(|(_, _, a)| match a {
            Attempt::Placed(leg) | Attempt::Ringing(leg) => Some(*leg),
            _ => None,
        })
    }

    /// `attempt` answered: its target, if it is still live.
    pub(crate) fn answered(&mut self, attempt: AttemptId) -> Option<String> {
        self.attempts
            .iter()
            .find(|(id, _, a)| {
                *id == attempt && matches!(a, Attempt::Placed(_) | Attempt::Ringing(_))
            })
            .map(|(_, target, _)| target.clone())
    }

    /// `attempt` had a provisional response: it rings.
    pub(crate) fn ringing(&mut self, attempt: AttemptId) {
        if let Some(a) = self.attempt_mut(attempt)
            && let Attempt::Placed(leg) = *a
        {
            *a = Attempt::Ringing(leg);
        }
    }

    fn live(&self) -> bool {
        self.attempts
            .iter()
            .any(|(_, _, a)| !matches!(a, Attempt::Over(_)))
    }

    fn attempt_mut(&mut self, attempt: AttemptId) -> Option<&mut Attempt> {
        self.attempts
            .iter_mut()
            .find(|(id, _, _)| *id == attempt)
            .map(|(_, _, a)| a)
    }

    /// What the flow hears when every target is over: busy if all were busy, no answer if
    /// any rang out, else the last failure.
    fn outcome(&self) -> DialOutcome {
        let misses: Vec<&Miss> = self
            .attempts
            .iter()
            .filter_map(|(_, _, a)| match a {
                Attempt::Over(m) => Some(m),
                _ => None,
            })
            .collect();
        if !misses.is_empty() && misses.iter().all(|m| **m == Miss::Busy) {
            return DialOutcome::Busy;
        }
        if misses.contains(&&Miss::NoAnswer) {
            return DialOutcome::NoAnswer;
        }
        let reason = misses.iter().rev().find_map(|m| match m {
            Miss::Failed(r) => Some(r.clone()),
            _ => None,
        });
        DialOutcome::Failed(reason.unwrap_or_else(|| "no target".into()))
    }
}

impl Switch {
    pub(crate) fn dial(&mut self, now: Instant, r: DialRequest) {
        if self.sessions.contains_key(&r.caller) {
            self.out.push_back(Output::Flow(
                r.caller,
                flow_engine::Input::DialResult {
                    id: r.request,
                    outcome: DialOutcome::Failed("already dialling".into()),
                },
            ));
            return;
        }
        let d = Dialing {
            request: r.request,
            targets: r.targets,
            trunk: r.trunk,
            mode: r.mode,
            ring_timeout: r.ring_timeout,
            caller_id: r.caller_id,
            attempts: Vec::new(),
            round: 0,
        };
        self.sessions.insert(r.caller, Session::Dialing(d));
        self.next_round(now, r.caller);
    }

    /// Places the next target (in turn), or all of them (at once); finishes when none is left.
    fn next_round(&mut self, now: Instant, caller: CallId) {
        let Some(Session::Dialing(d)) = self.sessions.get(&caller) else {
            return;
        };
        let tried = d.attempts.len();
        let targets: Vec<String> = match d.mode {
            DialMode::Sequential => d.targets.get(tried).cloned().into_iter().collect(),
            DialMode::Simultaneous if tried == 0 => d.targets.clone(),
            DialMode::Simultaneous => Vec::new(),
        };
        if targets.is_empty() {
            self.finish(caller);
            return;
        }
        let ids: Vec<AttemptId> = targets.iter().map(|_| self.attempt_id()).collect();
        self.next_round += 1;
        let next_round = self.next_round;
        let Some(Session::Dialing(d)) = self.sessions.get_mut(&caller) else {
            return;
        };
        d.round = next_round;
        let (round, at, caller_id) = (d.round, now + d.ring_timeout, d.caller_id.clone());
        let trunk = d.trunk.clone();
        for (id, target) in ids.into_iter().zip(targets) {
            d.attempts.push((id, target.clone(), Attempt::Placing));
            self.attempts.insert(id, caller);
            info!(%caller, %target, %id, "dialling");
            self.out.push_back(Output::Place {
                attempt: id,
                caller,
                target,
                trunk: trunk.clone(),
                caller_id: caller_id.clone(),
            });
        }
        self.arm(at, Timer::Ring(caller, round));
    }

    pub(crate) fn placed(&mut self, now: Instant, attempt: AttemptId, leg: Result<CallId, String>) {
        let Some(caller) = self.attempts.remove(&attempt) else {
            return;
        };
        let live = match self.sessions.get_mut(&caller) {
            Some(Session::Dialing(d)) => d.attempt_mut(attempt),
            _ => None,
        };
        match (live, leg) {
            (Some(a @ Attempt::Placing), Ok(leg)) => {
                *a = Attempt::Placed(leg);
                self.legs.insert(leg, (caller, attempt));
            }
            (Some(a @ Attempt::Placing), Err(reason)) => {
                *a = Attempt::Over(Miss::Failed(reason));
                self.after_miss(now, caller);
            }
            // Given up on while it was being placed.
            (_, Ok(leg)) => self.out.push_back(Output::HangUp(leg)),
            (_, Err(_)) => {}
        }
    }

    pub(crate) fn leg_ended(
        &mut self,
        now: Instant,
        caller: CallId,
        attempt: AttemptId,
        leg: CallId,
        reason: EndReason,
    ) {
        match self.sessions.get_mut(&caller) {
            Some(Session::Bridged { callee, request }) if *callee == leg => {
                let request = *request;
                self.sessions.remove(&caller);
                self.out.push_back(Output::Unbridge {
                    caller,
                    callee: leg,
                });
                self.out.push_back(Output::Flow(
                    caller,
                    flow_engine::Input::BridgeEnded { id: request },
                ));
            }
            Some(Session::Dialing(d)) => {
                let Some(a @ (Attempt::Placed(_) | Attempt::Ringing(_))) = d.attempt_mut(attempt)
                else {
                    return;
                };
                *a = Attempt::Over(match reason {
                    EndReason::Refused(486 | 600) => Miss::Busy,
                    EndReason::Cancelled => Miss::NoAnswer,
                    EndReason::Refused(status) => Miss::Failed(status.to_string()),
                    EndReason::NoResponse => Miss::Failed("no response".into()),
                    other => Miss::Failed(format!("{other:?}")),
                });
                self.after_miss(now, caller);
            }
            _ => {}
        }
    }

    /// A round rang out: its attempts still live are cancelled; one that rang counts as no
    /// answer, one that never even rang (an unreachable host or trunk) as failed.
    pub(crate) fn rang_out(&mut self, now: Instant, caller: CallId, round: u64) {
        let Some(Session::Dialing(d)) = self.sessions.get_mut(&caller) else {
            return;
        };
        if d.round != round {
            return;
        }
        let mut cancel = Vec::new();
        for (_, _, a) in &mut d.attempts {
            let miss = match a {
                Attempt::Ringing(leg) => {
                    cancel.push(*leg);
                    Miss::NoAnswer
                }
                Attempt::Placed(leg) => {
                    cancel.push(*leg);
                    Miss::Failed("no response".into())
                }
                Attempt::Placing => Miss::Failed("not placed".into()),
                Attempt::Over(_) => continue,
            };
            *a = Attempt::Over(miss);
        }
        for leg in cancel {
            self.legs.remove(&leg);
            self.out.push_back(Output::HangUp(leg));
        }
        self.after_miss(now, caller);
    }

    /// An attempt ended without an answer: wait for the others of its round, then go on.
    fn after_miss(&mut self, now: Instant, caller: CallId) {
        let Some(Session::Dialing(d)) = self.sessions.get(&caller) else {
            return;
        };
        if !d.live() {
            self.next_round(now, caller);
        }
    }

    fn finish(&mut self, caller: CallId) {
        let Some(Session::Dialing(d)) = self.sessions.remove(&caller) else {
            return;
        };
        let outcome = d.outcome();
        info!(%caller, ?outcome, "dial over");
        self.out.push_back(Output::Flow(
            caller,
            flow_engine::Input::DialResult {
                id: d.request,
                outcome,
            },
        ));
    }
}
