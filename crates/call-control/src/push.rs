//! Push calls: the API asks ivrd to call someone and run a flow when they answer (a notice
//! with "press 1 to get this by text"). Unlike an SMS, the outcome is known at once: answered
//! (with how long it rang and how long it lasted), busy, no answer, or failed, and why.

use std::time::{Duration, Instant};

use flow_engine::{CallFlow, CallInfo};
use sip_ua::{CallId, EndReason};
use tracing::{info, warn};

use crate::calls::{Call, Stage};
use crate::{AttemptId, Output, Switch, Timer};

/// A call the API asks for.
#[derive(Clone, Debug)]
pub struct PushRequest {
    /// The caller's id for it (unique; the key of its outcome and of its SMS).
    pub id: String,
    /// A `sip:` URI, or a number for the trunk.
    pub to: String,
    /// The flow to run when answered.
    pub flow: String,
    /// Values overriding the flow's `[vars]`.
    pub vars: Vec<(String, String)>,
    /// The caller ID to present; the trunk's when `None`.
    pub caller_id: Option<String>,
    /// The trunk to place it through.
    pub trunk: Option<String>,
    /// How long it may ring.
    pub ring_timeout: Duration,
    /// Wall clock now, milliseconds since the Unix epoch (for the flow).
    pub unix_ms: i64,
}

/// Why a push call was not placed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushRefusal {
    /// No flow by that name.
    #[error("no flow named {0}")]
    UnknownFlow(String),
    /// No trunk by that name.
    #[error("no trunk named {0}")]
    UnknownTrunk(String),
    /// The trunk carries as many calls as it may.
    #[error("trunk {trunk} has {calls} calls, its cap")]
    TrunkFull {
        /// The trunk.
        trunk: String,
        /// Its calls now.
        calls: usize,
    },
    /// Over the rate of push calls per second.
    #[error("over {0} push calls per second; try again shortly")]
    TooFast(u32),
    /// A call with this id is live.
    #[error("a call with id {0} is live")]
    Duplicate(String),
}

/// How a push call went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushResult {
    /// Answered; its flow ran.
    Answered,
    /// Busy (486, 600).
    Busy,
    /// Rang out without an answer.
    NoAnswer,
    /// Refused otherwise, unreachable, or cancelled; why.
    Failed(String),
}

impl PushResult {
    /// `answered`, `busy`, `no_answer` or `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Busy => "busy",
            Self::NoAnswer => "no_answer",
            Self::Failed(_) => "failed",
        }
    }
}

/// The outcome of a push call, reported once as [`Output::PushEnded`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushOutcome {
    /// The request's id.
    pub id: String,
    /// How it went.
    pub result: PushResult,
    /// From the INVITE to the answer or the end.
    pub ringing: Duration,
    /// From the answer to the end.
    pub talking: Duration,
    /// How the flow ended (`Completed`, `CallerHungUp`, …), if it ran.
    pub disposition: Option<String>,
}

/// A push leg's own record.
#[derive(Debug)]
pub(crate) struct PushLeg {
    pub(crate) id: String,
    placed_at: Instant,
    answered_at: Option<Instant>,
    /// It rang (a provisional response).
    ringing: bool,
    trunk: Option<String>,
    /// Set when we gave up on it (ring timeout, the API), before its end arrives.
    result: Option<PushResult>,
    /// Its outcome is out (a leg that never rang is reported when we give up on it; its
    /// CANCEL waits for a provisional response, or Timer B).
    reported: bool,
}

/// A push waiting for its leg (between `Place` and `Placed`).
#[derive(Debug)]
pub(crate) struct PendingPush {
    request: PushRequest,
    flow: CallFlow,
    flow_name: String,
}

impl crate::Switch {
    /// The id and flow of the push call `attempt` places, if it is one.
    pub(crate) fn pending_push(&self, attempt: crate::AttemptId) -> Option<(&str, &str)> {
        let p = self.pushes.get(&attempt)?;
        Some((p.request.id.as_str(), p.flow_name.as_str()))
    }
}

/// Push calls per second: a token bucket.
#[derive(Debug)]
pub(crate) struct Rate {
    tokens: f64,
    at: Option<Instant>,
}

impl Rate {
    pub(crate) fn new() -> Self {
        Self {
            tokens: 0.0,
            at: None,
        }
    }

    fn take(&mut self, now: Instant, per_second: u32) -> bool {
        let rate = f64::from(per_second);
        let elapsed = self.at.map_or(rate, |at| {
            now.saturating_duration_since(at).as_secs_f64() * rate
        });
        self.tokens = (self.tokens + elapsed).min(rate);
        self.at = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return true;
        }
        false
    }
}

impl Switch {
    pub(crate) fn push(&mut self, now: Instant, r: PushRequest) {
        let id = r.id.clone();
        let result = self
            .push_refusal(now, &r)
            .map_or_else(|| self.place_push(now, r), Err);
        if let Err(e) = &result {
            warn!(push = %id, reason = %e, "push call refused");
        }
        self.out.push_back(Output::Pushed { id, result });
    }

    fn push_refusal(&mut self, now: Instant, r: &PushRequest) -> Option<PushRefusal> {
        if self.config.flows.find(&r.flow).is_none() {
            return Some(PushRefusal::UnknownFlow(r.flow.clone()));
        }
        if self.names.contains_key(&r.id) {
            return Some(PushRefusal::Duplicate(r.id.clone()));
        }
        if let Some(name) = &r.trunk {
            let Some(trunk) = self.config.trunks.get(name) else {
                return Some(PushRefusal::UnknownTrunk(name.clone()));
            };
            let calls = self.trunk_calls.get(name).copied().unwrap_or(0);
            if calls >= trunk.max_calls {
                let trunk = name.clone();
                return Some(PushRefusal::TrunkFull { trunk, calls });
            }
        }
        let per_second = self.config.push_per_second;
        (!self.push_rate.take(now, per_second)).then_some(PushRefusal::TooFast(per_second))
    }

    fn place_push(&mut self, now: Instant, r: PushRequest) -> Result<(), PushRefusal> {
        let c = &self.config;
        let flow_id = c
            .flows
            .find(&r.flow)
            .ok_or_else(|| PushRefusal::UnknownFlow(r.flow.clone()))?;
        let trunk_id = r.trunk.as_ref().and_then(|t| c.trunks.get(t));
        let caller_id = r
            .caller_id
            .clone()
            .or_else(|| trunk_id.and_then(|t| t.caller_id.clone()))
            .unwrap_or_default();
        // The flow sees the customer as `ani` (its `sms` nodes text `{ani}`) and our number as
        // `dnis`.
        let number = user_part(&r.to).to_string();
        let mut vars = c.vars.clone();
        vars.extend(r.vars.iter().cloned());
        let info = CallInfo {
            call_id: r.id.clone(),
            ani: number,
            dnis: caller_id.clone(),
            unix_ms: r.unix_ms,
            vars,
        };
        let flow = CallFlow::new(now, c.flows.clone(), flow_id, info);
        let attempt = self.attempt_id();
        let (media, session) = self.media_config(None);
        info!(push = %r.id, to = %r.to, flow = %r.flow, %attempt, "push call");
        self.out.push_back(Output::Place {
            attempt,
            home: None,
            target: r.to.clone(),
            trunk: r.trunk.clone(),
            caller_id,
            media,
            session,
        });
        let flow_name = r.flow.clone();
        let pending = PendingPush {
            request: r,
            flow,
            flow_name,
        };
        self.pushes.insert(attempt, pending);
        Ok(())
    }

    /// The answer to a push's `Place`; false if `attempt` is not a push.
    pub(crate) fn push_placed(
        &mut self,
        now: Instant,
        attempt: AttemptId,
        leg: &Result<CallId, String>,
    ) -> bool {
        let Some(p) = self.pushes.remove(&attempt) else {
            return false;
        };
        let r = p.request;
        let leg = match leg {
            Ok(leg) => *leg,
            Err(reason) => {
                warn!(push = %r.id, %reason, "push call not placed");
                self.out.push_back(Output::PushEnded(PushOutcome {
                    id: r.id,
                    result: PushResult::Failed(reason.clone()),
                    ringing: Duration::ZERO,
                    talking: Duration::ZERO,
                    disposition: None,
                }));
                return true;
            }
        };
        if let Some(t) = &r.trunk {
            *self.trunk_calls.entry(t.clone()).or_default() += 1;
        }
        self.names.insert(r.id.clone(), leg);
        let push = PushLeg {
            id: r.id.clone(),
            placed_at: now,
            answered_at: None,
            ringing: false,
            trunk: r.trunk,
            result: None,
            reported: false,
        };
        let call = Call::outbound(r.id, p.flow, p.flow_name, push);
        self.calls.insert(leg, call);
        self.timers
            .set(Timer::RingOut(leg), Some(now + r.ring_timeout));
        true
    }

    /// A push leg rang, or was answered (its flow starts).
    pub(crate) fn push_progress(&mut self, now: Instant, leg: CallId, answered: bool) {
        let Some(push) = self.calls.get_mut(&leg).and_then(|c| c.push.as_mut()) else {
            return;
        };
        push.ringing = true;
        if answered && push.answered_at.is_none() && push.result.is_none() {
            push.answered_at = Some(now);
            self.timers.set(Timer::RingOut(leg), None);
            if let Some(c) = self.calls.get_mut(&leg) {
                c.stage = Stage::Up;
                c.media = true;
            }
            self.drive(now, leg, flow_engine::Input::Answered);
        }
    }

    /// The push rang out: CANCEL it. One that never even rang is over as far as its outcome
    /// goes.
    pub(crate) fn push_rang_out(&mut self, now: Instant, leg: CallId) {
        let Some(push) = self.calls.get_mut(&leg).and_then(|c| c.push.as_mut()) else {
            return;
        };
        if push.answered_at.is_some() {
            return;
        }
        let silent = !push.ringing;
        push.result = Some(match silent {
            false => PushResult::NoAnswer,
            true => PushResult::Failed("no response".into()),
        });
        if silent {
            let outcome = outcome(now, push, None);
            push.reported = true;
            self.report(outcome);
        }
        self.out
            .push_back(Output::Sip(leg, sip_ua::Command::HangUp));
    }

    fn report(&mut self, outcome: PushOutcome) {
        info!(push = %outcome.id, result = outcome.result.name(), ringing_ms = outcome.ringing.as_millis() as u64, talking_ms = outcome.talking.as_millis() as u64, "push call over");
        self.out.push_back(Output::PushEnded(outcome));
    }

    /// The API hangs up a call (a push still ringing is cancelled).
    pub(crate) fn hang_up_call(&mut self, now: Instant, name: &str) {
        let Some(&leg) = self.names.get(name) else {
            return;
        };
        if let Some(push) = self.calls.get_mut(&leg).and_then(|c| c.push.as_mut())
            && push.answered_at.is_none()
            && !push.reported
        {
            push.result = Some(PushResult::Failed("hung up through the API".into()));
            if !push.ringing {
                let outcome = outcome(now, push, None);
                push.reported = true;
                self.report(outcome);
            }
        }
        info!(call = %name, "hung up through the API");
        self.out
            .push_back(Output::Sip(leg, sip_ua::Command::HangUp));
    }

    /// A push leg ended: its outcome.
    pub(crate) fn push_ended(
        &mut self,
        now: Instant,
        leg: CallId,
        push: PushLeg,
        reason: EndReason,
        disposition: Option<String>,
    ) {
        self.timers.set(Timer::RingOut(leg), None);
        if let Some(t) = &push.trunk
            && let Some(n) = self.trunk_calls.get_mut(t)
        {
            *n = n.saturating_sub(1);
        }
        if push.reported {
            return;
        }
        let mut push = push;
        if push.answered_at.is_none() && push.result.is_none() {
            push.result = Some(match reason {
                EndReason::Refused(486 | 600) => PushResult::Busy,
                EndReason::Refused(status) => PushResult::Failed(status.to_string()),
                EndReason::NoResponse => PushResult::Failed("no response".into()),
                other => PushResult::Failed(format!("{other:?}")),
            });
        }
        let outcome = outcome(now, &push, disposition);
        self.report(outcome);
    }
}

/// A push leg's outcome as of `now`.
fn outcome(now: Instant, push: &PushLeg, disposition: Option<String>) -> PushOutcome {
    let answered = push.answered_at.unwrap_or(now);
    let result = match (push.answered_at, &push.result) {
        (Some(_), _) => PushResult::Answered,
        (None, Some(r)) => r.clone(),
        (None, None) => PushResult::Failed("ended".into()),
    };
    PushOutcome {
        id: push.id.clone(),
        result,
        ringing: answered.saturating_duration_since(push.placed_at),
        talking: now.saturating_duration_since(answered),
        disposition,
    }
}

/// The user part of a `sip:` URI, or the number itself.
fn user_part(to: &str) -> &str {
    let rest = to
        .strip_prefix("sip:")
        .or_else(|| to.strip_prefix("sips:"))
        .unwrap_or(to);
    rest.split(['@', ';', '?']).next().unwrap_or(rest)
}
