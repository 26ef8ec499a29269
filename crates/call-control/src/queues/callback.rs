//! Callbacks that keep their place: a caller who presses the callback key ends the call (their
//! flow says "we will call you back") but stays in line, counted in the positions announced.
//! When their turn comes the agent is rung first; when the agent answers, ivrd calls the
//! customer back (at the From URI they called from) and bridges the two.

use std::time::Instant;

use flow_engine::QueueOutcome;
use sip_ua::{CallId, Command, EndReason, Event};
use tracing::{info, warn};

use super::{AgentState, QueueEventKind, Ring, TicketChange};
use crate::{AttemptId, MediaOrder, Output, Switch, Timer};

/// A callback call being placed to the customer.
#[derive(Debug)]
pub(crate) struct CallingBack {
    caller: CallId,
    agent: usize,
    agent_leg: CallId,
    queue: usize,
}

impl Switch {
    /// The callback key: the caller leaves the call, not the line. False if there is no number
    /// to call back.
    pub(crate) fn keep_place_for_callback(&mut self, now: Instant, caller: CallId) -> bool {
        let target = self.calls.get(&caller).map(|c| c.caller_uri.clone());
        let Some(target) = target.filter(|t| t.starts_with("sip:") || t.starts_with("sips:"))
        else {
            return false;
        };
        let position = self.position(caller).unwrap_or(0);
        let Some(w) = self.queues.callers.get_mut(&caller) else {
            return false;
        };
        w.callback_to = Some(target.clone());
        let (request, ringing) = (w.request, std::mem::take(&mut w.ringing));
        // From here the queue neither plays to the call nor hears it; the flow has it back.
        w.playing = (0, super::Playing::Music);
        w.sms.listening = false;
        // Its agents are rung again when its turn comes, for the call back.
        self.cancel_rings(&ringing);
        self.leave_timers(caller);
        self.media_order(caller, MediaOrder::Stop(caller));
        info!(%caller, %target, position, "callback requested; place kept");
        self.queue_event(caller, QueueEventKind::CallbackRequested { position });
        self.queue_result(now, caller, request, QueueOutcome::Callback);
        true
    }

    /// Whether `caller`'s place in line is a callback (its call may be over).
    pub(crate) fn is_callback(&self, caller: CallId) -> bool {
        self.queues
            .callers
            .get(&caller)
            .is_some_and(|w| w.callback_to.is_some())
    }

    /// The agent answered a callback's ring: call the customer back.
    pub(crate) fn call_back(
        &mut self,
        now: Instant,
        caller: CallId,
        agent: usize,
        agent_leg: CallId,
    ) {
        let attempt = self.attempt_id();
        let (media, session) = self.media_config(None);
        let q = &mut self.queues;
        let Some(w) = q.callers.remove(&caller) else {
            return;
        };
        q.lines[w.queue].waiting.retain(|c| *c != caller);
        if let Some(r) = q.rings.get_mut(&agent_leg) {
            r.answered = true;
        }
        let a = &mut q.agents[agent];
        a.state = AgentState::OnCall {
            caller,
            leg: agent_leg,
            since: now,
        };
        a.no_answer_run = 0;
        let name = a.config.name.clone();
        let target = w.callback_to.clone().unwrap_or_default();
        let waited = now.saturating_duration_since(w.joined);
        info!(%caller, agent = %name, %target, "calling the customer back");
        let losers: Vec<CallId> = w
            .ringing
            .iter()
            .copied()
            .filter(|l| *l != agent_leg)
            .collect();
        self.cancel_rings(&losers);
        self.timers.set(Timer::AgentRing(agent_leg), None);
        self.leave_timers(caller);
        let calling = CallingBack {
            caller,
            agent,
            agent_leg,
            queue: w.queue,
        };
        self.queues.calling_back.insert(attempt, calling);
        let connect = QueueEventKind::Connect {
            agent: name.clone(),
            waited,
        };
        self.queue_event_for(w.queue, w.call_id.clone(), connect);
        self.ticket(TicketChange::Closed {
            id: w.ticket.clone(),
            outcome: "callback",
            waited,
            agent: Some(name),
            deliver: false,
        });
        self.out.push_back(Output::Place {
            attempt,
            home: Some(caller),
            target,
            trunk: None,
            caller_id: w.ani.clone(),
            media,
            session,
        });
        self.dispatch(now);
    }

    /// The answer to the customer leg's `Place`; false if `attempt` is not one.
    pub(crate) fn callback_placed(
        &mut self,
        now: Instant,
        attempt: AttemptId,
        leg: &Result<CallId, String>,
    ) -> bool {
        let Some(c) = self.queues.calling_back.remove(&attempt) else {
            return false;
        };
        let leg = match leg {
            Ok(leg) => *leg,
            Err(reason) => {
                warn!(caller = %c.caller, %reason, "callback not placed");
                self.out
                    .push_back(Output::Sip(c.agent_leg, Command::HangUp));
                return true;
            }
        };
        let Some(r) = self.queues.rings.get_mut(&c.agent_leg) else {
            // The agent hung up while the customer's call was being placed.
            self.out.push_back(Output::Sip(leg, Command::HangUp));
            return true;
        };
        r.partner = Some(leg);
        let call_id = r.call_id.clone();
        let ring = Ring {
            caller: c.caller,
            agent: c.agent,
            queue: c.queue,
            answered: false,
            partner: Some(c.agent_leg),
            customer: true,
            cancelled: false,
            call_id,
        };
        self.queues.rings.insert(leg, ring);
        let ring_timeout = self.queues.configs[c.queue].ring_timeout * 2;
        self.timers
            .set(Timer::AgentRing(leg), Some(now + ring_timeout));
        true
    }

    /// A SIP event of a customer leg (a callback).
    pub(crate) fn customer_leg_event(&mut self, leg: CallId, event: Event) {
        let Some(ring) = self.queues.rings.get_mut(&leg) else {
            return;
        };
        let (caller, agent_leg) = (ring.caller, ring.partner);
        match event {
            Event::Answered(negotiated) => {
                ring.answered = true;
                self.timers.set(Timer::AgentRing(leg), None);
                self.media_order(caller, MediaOrder::Update(leg, negotiated));
                if let Some(agent_leg) = agent_leg {
                    info!(%caller, %leg, "the customer answered the callback: bridged");
                    self.media_order(caller, MediaOrder::Bridge(agent_leg, leg));
                }
            }
            Event::MediaUpdated(negotiated) => {
                self.media_order(caller, MediaOrder::Update(leg, negotiated));
            }
            Event::Dtmf(d) => self.media_order(caller, MediaOrder::InfoDigit(leg, d.digit)),
            Event::Ended(reason) => self.customer_leg_ended(leg, reason),
            _ => {}
        }
    }

    fn customer_leg_ended(&mut self, leg: CallId, reason: EndReason) {
        self.timers.set(Timer::AgentRing(leg), None);
        let Some(ring) = self.queues.rings.remove(&leg) else {
            return;
        };
        if !ring.answered {
            warn!(caller = %ring.caller, ?reason, "the customer did not take the callback");
        }
        self.media_order(ring.caller, MediaOrder::End(leg));
        if let Some(agent_leg) = ring.partner {
            if ring.answered {
                self.media_order(ring.caller, MediaOrder::Unbridge(agent_leg, leg));
            }
            self.out.push_back(Output::Sip(agent_leg, Command::HangUp));
        }
    }

    /// The agent's side of a callback ended: the customer's goes too.
    pub(crate) fn callback_agent_gone(&mut self, agent_leg: CallId, partner: Option<CallId>) {
        let Some(customer) = partner else {
            return;
        };
        let caller = self.queues.rings.get(&customer).map(|r| r.caller);
        if let (Some(caller), true) = (
            caller,
            self.queues.rings.get(&customer).is_some_and(|r| r.answered),
        ) {
            self.media_order(caller, MediaOrder::Unbridge(agent_leg, customer));
        }
        // Still up (it may have ended first, and ended this).
        if let Some(r) = self.queues.rings.get_mut(&customer) {
            r.partner = None;
            self.out.push_back(Output::Sip(customer, Command::HangUp));
        }
    }

    /// The customer let the callback ring out.
    pub(crate) fn customer_rang_out(&mut self, leg: CallId) {
        self.out.push_back(Output::Sip(leg, Command::HangUp));
    }
}
