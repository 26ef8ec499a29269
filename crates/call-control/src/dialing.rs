//! A dial request in progress: its targets tried in turn or all at once, each attempt's end,
//! and the outcome the flow hears when none answered.

use std::time::{Duration, Instant};

use flow_engine::{DialMode, DialOutcome, RequestId};
use media::MediaEvent;
use sip_ua::{CallId, Command, EndReason, Event};
use tracing::{info, warn};

use crate::{AttemptId, MediaOrder, Output, Switch, Timer};

/// A caller's flow asks to be bridged to one of `targets`.
#[derive(Clone, Debug)]
pub(crate) struct DialRequest {
    /// The caller's leg.
    pub(crate) caller: CallId,
    /// The flow's request (answered with `DialResult`, ended with `BridgeEnded`).
    pub(crate) request: RequestId,
    /// SIP URIs, or numbers for the trunk.
    pub(crate) targets: Vec<String>,
    /// The trunk to place them through.
    pub(crate) trunk: Option<String>,
    /// In turn or all at once.
    pub(crate) mode: DialMode,
    /// How long each target (or all of them at once) rings.
    pub(crate) ring_timeout: Duration,
    /// The node's caller ID; else the trunk's, else the caller's own (`ani`).
    pub(crate) caller_id: Option<String>,
    /// The caller's number.
    pub(crate) ani: String,
}

/// A caller's side of call control.
#[derive(Debug)]
pub(crate) enum Session {
    Dialing(Dialing),
    Bridged {
        callee: CallId,
        request: RequestId,
        target: String,
    },
}

/// A leg we placed: for whom (its media lives on the caller's worker), which attempt, and the
/// trunk it went through (for the trunk's count).
#[derive(Debug)]
pub(crate) struct Placed {
    caller: CallId,
    attempt: AttemptId,
    trunk: Option<String>,
}

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
    ring_timeout: Duration,
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

    /// Its attempts, for the API: the leg (once placed), the target, the state.
    pub(crate) fn views(&self) -> impl Iterator<Item = crate::LegView> + '_ {
        self.attempts.iter().map(|(_, target, a)| {
            let (leg, state) = match a {
                Attempt::Placing => (None, "placing"),
                Attempt::Placed(leg) => (Some(*leg), "calling"),
                Attempt::Ringing(leg) => (Some(*leg), "ringing"),
                Attempt::Over(_) => (None, "over"),
            };
            crate::LegView {
                leg,
                target: target.clone(),
                state,
            }
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
            let outcome = DialOutcome::Failed("already dialling".into());
            self.dial_result(now, r.caller, r.request, outcome);
            return;
        }
        let trunk_id = r
            .trunk
            .as_ref()
            .and_then(|t| self.config.trunks.get(t))
            .and_then(|t| t.caller_id.clone());
        let caller_id = r.caller_id.or(trunk_id).unwrap_or(r.ani);
        let d = Dialing {
            request: r.request,
            targets: r.targets,
            trunk: r.trunk,
            mode: r.mode,
            ring_timeout: r.ring_timeout,
            caller_id,
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
            self.finish(now, caller);
            return;
        }
        self.next_round += 1;
        let round = self.next_round;
        let mut places = Vec::new();
        for target in targets {
            let attempt = self.attempt_id();
            let (media, session) = self.media_config(None);
            places.push((attempt, target, media, session));
        }
        let refusal = self.trunk_refusal(caller);
        let Some(Session::Dialing(d)) = self.sessions.get_mut(&caller) else {
            return;
        };
        d.round = round;
        let at = now + d.ring_timeout;
        for (attempt, target, media, session) in places {
            info!(%caller, %target, %attempt, "dialling");
            if let Some(reason) = &refusal {
                warn!(%caller, %target, %reason, "leg not placed");
                d.attempts
                    .push((attempt, target, Attempt::Over(Miss::Failed(reason.clone()))));
                continue;
            }
            d.attempts.push((attempt, target.clone(), Attempt::Placing));
            self.attempts.insert(attempt, caller);
            self.out.push_back(Output::Place {
                attempt,
                home: Some(caller),
                target,
                trunk: d.trunk.clone(),
                caller_id: d.caller_id.clone(),
                media,
                session,
            });
        }
        self.timers.set(Timer::Ring(caller, round), Some(at));
        if refusal.is_some() {
            self.after_miss(now, caller);
        }
    }

    /// Why the caller's trunk takes no call now: unknown, or at its cap.
    fn trunk_refusal(&self, caller: CallId) -> Option<String> {
        let Some(Session::Dialing(d)) = self.sessions.get(&caller) else {
            return None;
        };
        let name = d.trunk.as_ref()?;
        let Some(trunk) = self.config.trunks.get(name) else {
            return Some(format!("no trunk named {name}"));
        };
        let busy = self.trunk_calls.get(name).copied().unwrap_or(0);
        (busy >= trunk.max_calls).then(|| format!("trunk {name} has {busy} calls, its cap"))
    }

    pub(crate) fn placed(&mut self, now: Instant, attempt: AttemptId, leg: Result<CallId, String>) {
        let Some(caller) = self.attempts.remove(&attempt) else {
            return;
        };
        let live = match self.sessions.get_mut(&caller) {
            Some(Session::Dialing(d)) => d
                .attempts
                .iter_mut()
                .find(|(id, _, _)| *id == attempt)
                .map(|(_, _, a)| a),
            _ => None,
        };
        match (live, leg) {
            (Some(a @ Attempt::Placing), Ok(leg)) => {
                *a = Attempt::Placed(leg);
                let trunk = match self.sessions.get(&caller) {
                    Some(Session::Dialing(d)) => d.trunk.clone(),
                    _ => None,
                };
                if let Some(t) = &trunk {
                    *self.trunk_calls.entry(t.clone()).or_default() += 1;
                }
                self.placed.insert(
                    leg,
                    Placed {
                        caller,
                        attempt,
                        trunk,
                    },
                );
            }
            (Some(a @ Attempt::Placing), Err(reason)) => {
                warn!(%caller, %attempt, %reason, "leg not placed");
                *a = Attempt::Over(Miss::Failed(reason));
                self.after_miss(now, caller);
            }
            // Given up on while it was being placed: it still ends through `Ended`.
            (_, Ok(leg)) => {
                self.placed.insert(
                    leg,
                    Placed {
                        caller,
                        attempt,
                        trunk: None,
                    },
                );
                self.out.push_back(Output::Sip(leg, Command::HangUp));
            }
            (_, Err(_)) => {}
        }
    }

    /// A SIP event of a leg we placed.
    pub(crate) fn placed_leg_event(&mut self, now: Instant, leg: CallId, event: Event) {
        let Some(p) = self.placed.get(&leg) else {
            return;
        };
        let (caller, attempt) = (p.caller, p.attempt);
        match event {
            Event::Progress(_) => {
                if let Some(Session::Dialing(d)) = self.sessions.get_mut(&caller) {
                    d.ringing(attempt);
                }
            }
            Event::Answered(negotiated) => {
                info!(%caller, %leg, remote = %negotiated.remote, codec = ?negotiated.codec, "leg media");
                self.media_order(caller, MediaOrder::Update(leg, negotiated));
                self.answered(now, caller, attempt, leg);
            }
            Event::MediaUpdated(negotiated) => {
                info!(%caller, %leg, remote = %negotiated.remote, codec = ?negotiated.codec, direction = ?negotiated.direction, "leg media");
                self.media_order(caller, MediaOrder::Update(leg, negotiated));
            }
            Event::Dtmf(d) => self.media_order(caller, MediaOrder::InfoDigit(leg, d.digit)),
            Event::Ended(reason) => {
                info!(%caller, %leg, ?reason, "leg ended");
                if let Some(p) = self.placed.remove(&leg)
                    && let Some(t) = p.trunk
                    && let Some(n) = self.trunk_calls.get_mut(&t)
                {
                    *n = n.saturating_sub(1);
                }
                self.media_order(caller, MediaOrder::End(leg));
                self.leg_ended(now, caller, attempt, leg, reason);
            }
            _ => {}
        }
    }

    /// A media report of a leg we placed (its digits are logged; the flow is the caller's).
    pub(crate) fn placed_leg_media(&mut self, _now: Instant, leg: CallId, event: MediaEvent) {
        let caller = match self.placed.get(&leg) {
            Some(p) => p.caller,
            None => match self.queues.agent_leg_caller(leg) {
                Some(caller) => caller,
                None => return,
            },
        };
        let call_id = self.calls.get(&caller).map(|c| c.sip_call_id.as_str());
        let call_id = call_id.unwrap_or_default();
        match event {
            MediaEvent::Digit { key, source } => {
                info!(%call_id, %caller, %leg, key = %key, ?source, "digit from the far side");
            }
            MediaEvent::Inactive => {
                warn!(%call_id, %leg, "no RTP on a placed leg: hanging up");
                self.out.push_back(Output::Sip(leg, Command::HangUp));
            }
            _ => {}
        }
    }

    fn answered(&mut self, now: Instant, caller: CallId, attempt: AttemptId, leg: CallId) {
        let Some(Session::Dialing(d)) = self.sessions.get_mut(&caller) else {
            // Answered after we gave up on it.
            self.out.push_back(Output::Sip(leg, Command::HangUp));
            return;
        };
        let Some(target) = d.answered(attempt) else {
            self.out.push_back(Output::Sip(leg, Command::HangUp));
            return;
        };
        let others: Vec<CallId> = d.live_legs().filter(|l| *l != leg).collect();
        let request = d.request;
        self.sessions.insert(
            caller,
            Session::Bridged {
                callee: leg,
                request,
                target: target.clone(),
            },
        );
        for other in others {
            self.out.push_back(Output::Sip(other, Command::HangUp));
        }
        info!(%caller, callee = %leg, "bridged");
        self.media_order(caller, MediaOrder::Bridge(caller, leg));
        self.dial_result(now, caller, request, DialOutcome::Answered(target));
    }

    /// The caller is gone: every leg placed for it goes too.
    pub(crate) fn caller_ended(&mut self, caller: CallId) {
        match self.sessions.remove(&caller) {
            Some(Session::Dialing(d)) => {
                for leg in d.live_legs() {
                    self.out.push_back(Output::Sip(leg, Command::HangUp));
                }
            }
            Some(Session::Bridged { callee, .. }) => {
                self.media_order(caller, MediaOrder::Unbridge(caller, callee));
                self.out.push_back(Output::Sip(callee, Command::HangUp));
            }
            None => {}
        }
    }

    fn leg_ended(
        &mut self,
        now: Instant,
        caller: CallId,
        attempt: AttemptId,
        leg: CallId,
        reason: EndReason,
    ) {
        match self.sessions.get_mut(&caller) {
            Some(Session::Bridged { callee, .. }) if *callee == leg => {
                self.bridge_over(now, caller, leg);
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

    /// The far side of a bridge hung up: the caller's flow goes on.
    pub(crate) fn bridge_over(&mut self, now: Instant, caller: CallId, leg: CallId) {
        let Some(Session::Bridged {
            callee, request, ..
        }) = self.sessions.get(&caller)
        else {
            return;
        };
        if *callee != leg {
            return;
        }
        let request = *request;
        self.sessions.remove(&caller);
        self.media_order(caller, MediaOrder::Unbridge(caller, leg));
        self.drive(now, caller, flow_engine::Input::BridgeEnded { id: request });
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
            self.out.push_back(Output::Sip(leg, Command::HangUp));
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

    fn finish(&mut self, now: Instant, caller: CallId) {
        let Some(Session::Dialing(d)) = self.sessions.remove(&caller) else {
            return;
        };
        let outcome = d.outcome();
        info!(%caller, ?outcome, "dial over");
        self.dial_result(now, caller, d.request, outcome);
    }

    /// Tells the caller's flow how its dial went.
    fn dial_result(&mut self, now: Instant, caller: CallId, id: RequestId, outcome: DialOutcome) {
        self.drive(now, caller, flow_engine::Input::DialResult { id, outcome });
    }

    pub(crate) fn attempt_id(&mut self) -> AttemptId {
        self.next_attempt += 1;
        AttemptId(self.next_attempt)
    }
}
