//! Queues in the switch: a flow's `queue` node puts its caller in line; the caller hears music
//! and announcements and is heard (exit and callback keys); free agents are rung by the queue's
//! strategy, the first to answer is bridged, and an agent who lets it ring or is busy is held
//! back for a while (and put on break after `max_no_answer` rings in a row). Every way out is a
//! typed outcome for the caller's flow.

mod agents;
mod callback;
pub(crate) mod config;
mod events;
mod registrar;
mod tickets;
mod wait_sms;
mod waiting;

use std::collections::HashMap;
use std::time::Instant;

use flow_engine::{QueueOutcome, RequestId};
use sip_ua::{CallId, Command, EndReason, Event};
use tracing::{info, warn};

pub use agents::AgentStatus;
use agents::{Agent, AgentState};
use config::{QueueConfig, QueueSet};
pub use events::{QueueEvent, QueueEventKind, WaitSmsEvent};
pub use tickets::{Ticket, TicketChange};

use crate::dialing::Session;
use crate::{AttemptId, MediaOrder, Output, Switch, Timer};

/// Tags of the playlists a queue plays (a flow's are its small request ids).
pub(crate) const QUEUE_TAG: u64 = 1 << 62;

/// A playlist of prompt `names` for a waiting caller, tagged so its end comes back to the
/// queue.
fn prompts(
    caller: CallId,
    language: &str,
    names: impl IntoIterator<Item = String>,
    barge_in: bool,
    tag: u64,
) -> MediaOrder {
    MediaOrder::Play {
        leg: caller,
        language: language.to_string(),
        items: names
            .into_iter()
            .map(flow_engine::Playable::Prompt)
            .collect(),
        barge_in,
        tag,
    }
}

/// The queues' live state.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    configs: Vec<QueueConfig>,
    agents: Vec<Agent>,
    lines: Vec<Line>,
    /// Callers in line, by caller.
    callers: HashMap<CallId, Waiting>,
    /// Agent legs, by leg.
    rings: HashMap<CallId, Ring>,
    /// Agent legs being placed: for which caller's wait (by serial), which agent.
    attempts: HashMap<AttemptId, (CallId, u64, usize)>,
    /// Each caller's latest ticket, until their call ends.
    tickets: HashMap<CallId, String>,
    /// Callback calls to customers being placed.
    calling_back: HashMap<AttemptId, callback::CallingBack>,
    next_tag: u64,
    /// Serials of waits, so a leg placed for a wait that is over never joins the next one.
    next_wait: u64,
    /// The registrar's clock start (nonce stamps count seconds from it) and nonce key.
    epoch: Option<Instant>,
    nonce_secret: u64,
    rng: u64,
}

/// One queue's line and statistics.
#[derive(Debug, Default)]
struct Line {
    /// By priority (higher first), then arrival.
    waiting: Vec<CallId>,
    /// Round-robin memory: the agent rung last.
    last: Option<usize>,
    /// Smoothed handle time, seconds.
    handle: Option<f64>,
}

/// A caller in line.
#[derive(Debug)]
struct Waiting {
    queue: usize,
    /// This wait's serial (a caller may wait in line more than once in a call).
    serial: u64,
    /// The caller's SIP Call-ID, for the journal (a callback's call ends before its turn).
    call_id: String,
    request: RequestId,
    priority: i32,
    joined: Instant,
    exit_key: bool,
    callback: bool,
    language: String,
    ani: String,
    /// Agent legs ringing for this caller.
    ringing: Vec<CallId>,
    /// Agent legs asked for and not placed yet (so one dispatch does not ring twice).
    placing: u32,
    /// What plays, by tag.
    playing: (u64, Playing),
    last_announce: Option<Instant>,
    /// The wait-time SMS offer, as far as it went.
    sms: wait_sms::Offer,
    /// This wait's ticket.
    ticket: String,
    /// A callback keeps this place: whom to call back (the call itself is over or ending).
    callback_to: Option<String>,
}

/// What a queue plays to a waiting caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Playing {
    Music,
    Announcement,
    /// The wait-time SMS offer (its keys are answers).
    Offer,
    /// "We have sent you a text."
    Sent,
    /// The overflow options (keep waiting, or a callback that keeps the place).
    Overflow,
}

/// An agent leg.
#[derive(Debug)]
struct Ring {
    caller: CallId,
    agent: usize,
    /// The caller's queue (whose handle time the call counts in).
    queue: usize,
    /// Bridged to the caller.
    answered: bool,
    /// A callback's other leg: the customer's (on the agent's leg), the agent's (on the
    /// customer's).
    partner: Option<CallId>,
    /// This is the customer's leg of a callback.
    customer: bool,
    /// The switch itself stopped it ringing (another agent answered, the caller left): not
    /// the agent's fault, so no hold-back and no "ring no answer".
    cancelled: bool,
    /// The caller's SIP Call-ID, for the journal.
    call_id: String,
}

impl Queues {
    pub(crate) fn new(set: QueueSet, seed: u64) -> Self {
        let lines = set.queues.iter().map(|_| Line::default()).collect();
        Self {
            agents: set.agents.into_iter().map(Agent::new).collect(),
            configs: set.queues,
            lines,
            nonce_secret: seed ^ 0x5eed_0fa6_e975,
            rng: seed | 1,
            ..Self::default()
        }
    }

    fn queue_index(&self, name: &str) -> Option<usize> {
        self.configs.iter().position(|q| q.name == name)
    }

    pub(crate) fn is_waiting(&self, caller: CallId) -> bool {
        self.callers.contains_key(&caller)
    }

    pub(crate) fn is_agent_leg(&self, leg: CallId) -> bool {
        self.rings.contains_key(&leg)
    }

    /// The caller an agent leg is for.
    pub(crate) fn agent_leg_caller(&self, leg: CallId) -> Option<CallId> {
        self.rings.get(&leg).map(|r| r.caller)
    }

    pub(crate) fn agent_views(&self) -> Vec<crate::AgentView> {
        self.agents
            .iter()
            .map(|a| crate::AgentView {
                name: a.config.name.clone(),
                status: a.status.name(),
                state: match a.state {
                    AgentState::Idle { .. } => "idle",
                    AgentState::Ringing { .. } => "ringing",
                    AgentState::OnCall { .. } => "on_call",
                    AgentState::WrapUp { .. } => "wrap_up",
                },
                contact: a.contact().map(str::to_string),
                registered: a.binding.is_some(),
                calls: a.calls,
            })
            .collect()
    }

    /// Each queue's name and the callers in its line now, in configuration order.
    pub(crate) fn waiting(&self) -> Vec<(&str, usize)> {
        self.configs
            .iter()
            .zip(&self.lines)
            .map(|(c, l)| (c.name.as_str(), l.waiting.len()))
            .collect()
    }

    fn tag(&mut self) -> u64 {
        self.next_tag += 1;
        QUEUE_TAG | self.next_tag
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }
}

/// A caller's request to join a queue.
pub(crate) struct Join {
    pub(crate) request: RequestId,
    pub(crate) queue: String,
    pub(crate) priority: i32,
    pub(crate) exit_key: bool,
    pub(crate) callback: bool,
    pub(crate) language: String,
    pub(crate) ani: String,
}

impl Switch {
    /// A flow's `queue` node: join the line, or leave at once (full, no agents).
    pub(crate) fn enqueue(&mut self, now: Instant, caller: CallId, j: Join) {
        let q = &mut self.queues;
        let Some(queue) = q.queue_index(&j.queue) else {
            warn!(%caller, queue = %j.queue, "no such queue");
            return self.queue_result(now, caller, j.request, QueueOutcome::NoAgents);
        };
        if q.callers.contains_key(&caller) {
            // A kept callback place, and the caller is back in a line: the place goes.
            self.drop_wait(now, caller, "rejoined");
        }
        let q = &mut self.queues;
        let config = &q.configs[queue];
        let logged_in = q.agents.iter().any(|a| a.logged_in_for(&config.name));
        if q.lines[queue].waiting.len() >= config.max_len {
            info!(%caller, queue = %config.name, "queue full");
            return self.queue_result(now, caller, j.request, QueueOutcome::Full);
        }
        if !logged_in && !config.join_empty {
            info!(%caller, queue = %config.name, "no agents logged in");
            return self.queue_result(now, caller, j.request, QueueOutcome::NoAgents);
        }
        let line = &mut q.lines[queue].waiting;
        let at = q
            .callers
            .iter()
            .filter(|(_, w)| w.queue == queue && w.priority >= j.priority)
            .count();
        line.insert(at.min(line.len()), caller);
        let (max_wait, announce, periodic) = (
            config.max_wait,
            config.announce_every,
            config.periodic_every,
        );
        info!(%caller, queue = %config.name, position = at + 1, "queued");
        q.next_wait += 1;
        let call_id = self
            .calls
            .get(&caller)
            .map(|c| c.sip_call_id.clone())
            .unwrap_or_default();
        let waiting = Waiting {
            queue,
            serial: q.next_wait,
            call_id,
            request: j.request,
            priority: j.priority,
            joined: now,
            exit_key: j.exit_key,
            callback: j.callback,
            language: j.language,
            ani: j.ani,
            ringing: Vec::new(),
            placing: 0,
            playing: (0, Playing::Music),
            last_announce: None,
            sms: wait_sms::Offer::default(),
            ticket: String::new(),
            callback_to: None,
        };
        q.callers.insert(caller, waiting);
        let ticket = self.ticket_id();
        if let Some(w) = self.queues.callers.get_mut(&caller) {
            w.ticket = ticket.clone();
        }
        if let Some(old) = self.queues.tickets.insert(caller, ticket.clone()) {
            // Replies from here on belong to this wait's ticket.
            self.ticket(TicketChange::Ended { id: old });
        }
        self.open_ticket(caller, &ticket);
        self.timers
            .set(Timer::QueueWait(caller), Some(now + max_wait));
        if let Some(every) = announce {
            self.timers.set(Timer::Announce(caller), Some(now + every));
        }
        if let Some(every) = periodic {
            self.timers.set(Timer::Periodic(caller), Some(now + every));
        }
        self.queue_event(caller, QueueEventKind::Enter { position: at + 1 });
        if !self.offer_overflow(caller) && !self.offer_sms(caller, Vec::new()) {
            self.play_music(caller);
        }
        self.dispatch(now);
    }

    /// Rings free agents for waiting callers, in each queue's order.
    pub(crate) fn dispatch(&mut self, now: Instant) {
        for queue in 0..self.queues.configs.len() {
            let line = self.queues.lines[queue].waiting.clone();
            for caller in line {
                let Some(w) = self.queues.callers.get(&caller) else {
                    continue;
                };
                if !w.ringing.is_empty() || w.placing > 0 {
                    continue;
                }
                let chosen = self.choose(now, queue, w.joined);
                if chosen.is_empty() {
                    break;
                }
                for agent in chosen {
                    self.ring_agent(caller, agent);
                }
            }
        }
    }

    fn choose(&mut self, now: Instant, queue: usize, joined: Instant) -> Vec<usize> {
        let q = &self.queues;
        let config = &q.configs[queue];
        let max_penalty = match config.penalty_step {
            Some(step) => {
                (now.saturating_duration_since(joined).as_secs() / step.as_secs().max(1)) as u32
            }
            None => u32::MAX,
        };
        let free: Vec<(usize, Option<Instant>)> = q
            .agents
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.free_for(now, &config.name, max_penalty).map(|s| (i, s)))
            .collect();
        let last = q.lines[queue].last;
        let rng = self.queues.random();
        let q = &self.queues;
        agents::pick(&q.configs[queue], &q.agents, &free, last, rng)
    }

    fn ring_agent(&mut self, caller: CallId, agent: usize) {
        let attempt = self.attempt_id();
        let (media, session) = self.media_config(None);
        let q = &mut self.queues;
        let Some(w) = q.callers.get_mut(&caller) else {
            return;
        };
        w.placing += 1;
        let a = &mut q.agents[agent];
        info!(%caller, agent = %a.config.name, %attempt, "ringing an agent");
        let idle_since = match a.state {
            AgentState::Idle { since } => since,
            _ => None,
        };
        // Reserved until the leg is placed; `Placed` names the leg.
        a.state = AgentState::Ringing {
            caller,
            leg: caller,
            idle_since,
        };
        q.lines[w.queue].last = Some(agent);
        q.attempts.insert(attempt, (caller, w.serial, agent));
        self.out.push_back(Output::Place {
            attempt,
            home: Some(caller),
            target: a.contact().unwrap_or_default().to_string(),
            trunk: None,
            caller_id: w.ani.clone(),
            media,
            session,
        });
    }

    /// The kind of leg a non-push `attempt` places: a callback, an agent's leg, or a dial.
    pub(crate) fn queue_leg_kind(&self, attempt: AttemptId) -> crate::LegKind {
        if self.queues.calling_back.contains_key(&attempt) {
            crate::LegKind::Callback
        } else if self.queues.attempts.contains_key(&attempt) {
            crate::LegKind::Agent
        } else {
            crate::LegKind::Dial
        }
    }

    /// The answer to an agent leg's `Place`; false if `attempt` is not one.
    pub(crate) fn queue_placed(
        &mut self,
        now: Instant,
        attempt: AttemptId,
        leg: &Result<CallId, String>,
    ) -> bool {
        if self.callback_placed(now, attempt, leg) {
            return true;
        }
        let q = &mut self.queues;
        let Some((caller, serial, agent)) = q.attempts.remove(&attempt) else {
            return false;
        };
        // The wait it was placed for, if that wait is still on (not a later one).
        let mut wait = q.callers.get_mut(&caller).filter(|w| w.serial == serial);
        if let Some(w) = wait.as_deref_mut() {
            w.placing = w.placing.saturating_sub(1);
        }
        let a = &mut q.agents[agent];
        let idle_since = match a.state {
            AgentState::Ringing { idle_since, .. } => idle_since,
            _ => None,
        };
        let leg = match leg {
            Ok(leg) => *leg,
            Err(reason) => {
                warn!(%caller, agent = %a.config.name, %reason, "agent not rung");
                a.state = AgentState::Idle { since: Some(now) };
                a.not_before = Some(now + a.config.busy_delay);
                self.agent_free_timer(agent);
                self.dispatch(now);
                return true;
            }
        };
        a.state = AgentState::Ringing {
            caller,
            leg,
            idle_since,
        };
        let (queue, call_id, ticket, ring_timeout) = match wait {
            Some(w) => {
                w.ringing.push(leg);
                let t = q.configs[w.queue].ring_timeout;
                (w.queue, w.call_id.clone(), Some(w.ticket.clone()), Some(t))
            }
            None => (0, String::new(), None, None),
        };
        let ring = Ring {
            caller,
            agent,
            queue,
            answered: false,
            partner: None,
            customer: false,
            cancelled: false,
            call_id,
        };
        q.rings.insert(leg, ring);
        let agent_name = q.agents[agent].config.name.clone();
        if let Some(id) = ticket {
            self.ticket(TicketChange::Offered {
                id,
                agent: agent_name,
            });
        }
        match ring_timeout {
            Some(t) => self.timers.set(Timer::AgentRing(leg), Some(now + t)),
            // The wait it was for is over.
            None => self.cancel_rings(&[leg]),
        }
        true
    }

    /// The switch itself stops agent legs ringing (another agent answered, the caller left):
    /// not the agents' fault, so when the legs end they are idle again at once.
    fn cancel_rings(&mut self, legs: &[CallId]) {
        for leg in legs {
            self.timers.set(Timer::AgentRing(*leg), None);
            if let Some(r) = self.queues.rings.get_mut(leg) {
                r.cancelled = true;
            }
            self.out.push_back(Output::Sip(*leg, Command::HangUp));
        }
    }

    /// A SIP event of an agent leg.
    pub(crate) fn queue_leg_event(&mut self, now: Instant, leg: CallId, event: Event) {
        let Some(ring) = self.queues.rings.get(&leg) else {
            return;
        };
        if ring.customer {
            return self.customer_leg_event(leg, event);
        }
        let (caller, agent) = (ring.caller, ring.agent);
        match event {
            Event::Answered(negotiated) => {
                self.media_order(caller, MediaOrder::Update(leg, negotiated));
                self.agent_answered(now, caller, agent, leg);
            }
            Event::MediaUpdated(negotiated) => {
                self.media_order(caller, MediaOrder::Update(leg, negotiated));
            }
            Event::Dtmf(d) => self.media_order(caller, MediaOrder::InfoDigit(leg, d.digit)),
            Event::Ended(reason) => self.agent_leg_ended(now, leg, reason),
            _ => {}
        }
    }

    fn agent_answered(&mut self, now: Instant, caller: CallId, agent: usize, leg: CallId) {
        let q = &mut self.queues;
        let live = q
            .callers
            .get(&caller)
            .is_some_and(|w| w.ringing.contains(&leg));
        if !live {
            // Answered after the caller left, or after we gave up on it.
            self.cancel_rings(&[leg]);
            return;
        }
        if self.is_callback(caller) {
            return self.call_back(now, caller, agent, leg);
        }
        let q = &mut self.queues;
        let Some(w) = q.callers.remove(&caller) else {
            return;
        };
        q.lines[w.queue].waiting.retain(|c| *c != caller);
        if let Some(r) = q.rings.get_mut(&leg) {
            r.answered = true;
        }
        self.timers.set(Timer::AgentRing(leg), None);
        let q = &mut self.queues;
        let a = &mut q.agents[agent];
        a.state = AgentState::OnCall {
            caller,
            leg,
            since: now,
        };
        a.no_answer_run = 0;
        let name = a.config.name.clone();
        let waited = now.saturating_duration_since(w.joined);
        info!(%caller, agent = %name, waited_ms = waited.as_millis() as u64, "bridged to an agent");
        self.timers.set(Timer::SmsAnswer(caller), None);
        let agent_name = name.clone();
        let connect = QueueEventKind::Connect {
            agent: agent_name,
            waited,
        };
        self.queue_event_for(w.queue, w.call_id.clone(), connect);
        self.ticket(TicketChange::Closed {
            id: w.ticket.clone(),
            outcome: "bridged",
            waited,
            agent: Some(name.clone()),
            deliver: false,
        });
        let losers: Vec<CallId> = w.ringing.iter().copied().filter(|l| *l != leg).collect();
        self.cancel_rings(&losers);
        self.leave_timers(caller);
        // The announcement or music in progress is cut at this moment.
        self.media_order(caller, MediaOrder::Stop(caller));
        self.media_order(caller, MediaOrder::Bridge(caller, leg));
        let session = Session::Bridged {
            callee: leg,
            request: w.request,
            target: name.clone(),
        };
        self.sessions.insert(caller, session);
        self.queue_result(now, caller, w.request, QueueOutcome::Bridged(name));
        self.dispatch(now);
    }

    fn agent_leg_ended(&mut self, now: Instant, leg: CallId, reason: EndReason) {
        self.timers.set(Timer::AgentRing(leg), None);
        let Some(ring) = self.queues.rings.remove(&leg) else {
            return;
        };
        let (caller, agent, queue, call_id) = (ring.caller, ring.agent, ring.queue, ring.call_id);
        self.media_order(caller, MediaOrder::End(leg));
        self.callback_agent_gone(leg, ring.partner);
        let q = &mut self.queues;
        if let Some(w) = q.callers.get_mut(&caller) {
            w.ringing.retain(|l| *l != leg);
        }
        let a = &mut q.agents[agent];
        match a.state {
            AgentState::OnCall { leg: l, since, .. } if l == leg => {
                let talk = now.saturating_duration_since(since);
                a.calls += 1;
                a.talk += talk;
                a.state = AgentState::WrapUp {
                    until: now + a.config.wrap_up,
                };
                let h = &mut q.lines[queue].handle;
                let secs = talk.as_secs_f64();
                *h = Some(h.map_or(secs, |old| old * 0.8 + secs * 0.2));
                let agent_name = a.config.name.clone();
                self.agent_free_timer(agent);
                let complete = QueueEventKind::Complete {
                    agent: agent_name,
                    talked: talk,
                };
                self.queue_event_for(queue, call_id, complete);
                self.bridge_over(now, caller, leg);
            }
            AgentState::Ringing {
                leg: l, idle_since, ..
            } if l == leg && ring.cancelled => {
                a.state = AgentState::Idle { since: idle_since };
            }
            AgentState::Ringing { leg: l, .. } if l == leg => {
                let agent_name = a.config.name.clone();
                // Busy, a refusal (603 Decline, 480 …), or no answer: each its own hold-back.
                let (delay, kind) = match reason {
                    EndReason::Refused(486 | 600) => (
                        a.config.busy_delay,
                        QueueEventKind::AgentBusy { agent: agent_name },
                    ),
                    EndReason::Refused(status) => (
                        a.config.reject_delay,
                        QueueEventKind::AgentRejected {
                            agent: agent_name,
                            status,
                        },
                    ),
                    _ => (
                        a.config.no_answer_delay,
                        QueueEventKind::RingNoAnswer { agent: agent_name },
                    ),
                };
                info!(%caller, agent = %a.config.name, ?reason, "agent did not take the call");
                a.state = AgentState::Idle { since: Some(now) };
                a.not_before = Some(now + delay);
                self.agent_free_timer(agent);
                self.queue_event_for(queue, call_id, kind);
            }
            _ => {}
        }
        self.dispatch(now);
    }

    /// An agent's phone rang out: CANCEL it; a run of these puts the agent on break.
    pub(crate) fn agent_rang_out(&mut self, now: Instant, leg: CallId) {
        let ring = self.queues.rings.get(&leg);
        let Some(ring) = ring.filter(|r| !r.answered && !r.cancelled) else {
            return;
        };
        if ring.customer {
            return self.customer_rang_out(leg);
        }
        let (caller, agent) = (ring.caller, ring.agent);
        let q = &mut self.queues;
        if let Some(w) = q.callers.get_mut(&caller) {
            w.ringing.retain(|l| *l != leg);
        }
        let a = &mut q.agents[agent];
        a.no_answer_run += 1;
        a.state = AgentState::Idle { since: Some(now) };
        a.not_before = Some(now + a.config.no_answer_delay);
        if a.no_answer_run >= a.config.max_no_answer {
            warn!(agent = %a.config.name, rings = a.no_answer_run, "agent put on break after rings without answer");
            a.status = AgentStatus::OnBreak;
        }
        let agent_name = a.config.name.clone();
        self.agent_free_timer(agent);
        let (queue, call_id) = match self.queues.rings.get(&leg) {
            Some(r) => (r.queue, r.call_id.clone()),
            None => (0, String::new()),
        };
        let kind = QueueEventKind::RingNoAnswer { agent: agent_name };
        self.queue_event_for(queue, call_id, kind);
        self.out.push_back(Output::Sip(leg, Command::HangUp));
        self.dispatch(now);
    }

    fn agent_free_timer(&mut self, agent: usize) {
        let a = &self.queues.agents[agent];
        let at = match a.state {
            AgentState::WrapUp { until } => Some(until),
            _ => a.not_before,
        };
        self.timers.set(Timer::AgentFree(agent as u32), at);
    }

    /// Wrap-up or a hold-back is over: the agent is idle again.
    pub(crate) fn agent_free(&mut self, now: Instant, agent: u32) {
        let Some(a) = self.queues.agents.get_mut(agent as usize) else {
            return;
        };
        if let AgentState::WrapUp { until } = a.state
            && until <= now
        {
            a.state = AgentState::Idle { since: Some(now) };
        }
        if a.not_before.is_some_and(|t| t <= now) {
            a.not_before = None;
        }
        self.dispatch(now);
    }

    /// The caller leaves the line: its rings are cancelled and the flow hears why.
    pub(crate) fn leave_queue(&mut self, now: Instant, caller: CallId, outcome: QueueOutcome) {
        let Some(w) = self.drop_wait(now, caller, outcome.name()) else {
            return;
        };
        // A kept callback place has no call (or its flow has moved on) to stop or tell.
        if w.callback_to.is_none() {
            self.media_order(caller, MediaOrder::Stop(caller));
            self.queue_result(now, caller, w.request, outcome);
        }
        self.dispatch(now);
    }

    /// Takes `caller` out of the line for the reason `outcome` (journal and ticket), its rings
    /// cancelled and timers disarmed; the flow is not told.
    fn drop_wait(
        &mut self,
        now: Instant,
        caller: CallId,
        outcome: &'static str,
    ) -> Option<Waiting> {
        let w = self.queues.callers.remove(&caller)?;
        let q = &mut self.queues;
        q.lines[w.queue].waiting.retain(|c| *c != caller);
        info!(%caller, queue = %q.configs[w.queue].name, outcome, "left the queue");
        let waited = now.saturating_duration_since(w.joined);
        let exit = QueueEventKind::Exit { outcome, waited };
        self.queue_event_for(w.queue, w.call_id.clone(), exit);
        self.ticket(TicketChange::Closed {
            id: w.ticket.clone(),
            outcome,
            waited,
            agent: None,
            deliver: false,
        });
        self.cancel_rings(&w.ringing);
        self.leave_timers(caller);
        Some(w)
    }

    /// The caller is gone (hung up): out of the line, its agents' rings cancelled.
    pub(crate) fn queue_caller_gone(&mut self, now: Instant, caller: CallId) {
        if self.is_callback(caller) {
            return;
        }
        let Some(w) = self.queues.callers.remove(&caller) else {
            return;
        };
        self.queues.lines[w.queue].waiting.retain(|c| *c != caller);
        info!(%caller, "abandoned the queue");
        let waited = now.saturating_duration_since(w.joined);
        let abandon = QueueEventKind::Abandon { waited };
        self.queue_event_for(w.queue, w.call_id.clone(), abandon);
        let sms_data = w.sms.status == wait_sms::Status::Allowed;
        let deliver = sms_data && self.queues.configs[w.queue].abandoned_tickets;
        self.ticket(TicketChange::Closed {
            id: w.ticket.clone(),
            outcome: "abandoned",
            waited,
            agent: None,
            deliver,
        });
        self.cancel_rings(&w.ringing);
        self.leave_timers(caller);
        self.dispatch(now);
    }

    fn leave_timers(&mut self, caller: CallId) {
        self.timers.set(Timer::QueueWait(caller), None);
        self.timers.set(Timer::Announce(caller), None);
        self.timers.set(Timer::Periodic(caller), None);
        self.timers.set(Timer::SmsAnswer(caller), None);
    }

    /// A waiting caller's priority changes (by the calls API id); their place moves with it.
    pub(crate) fn set_priority(&mut self, now: Instant, name: &str, priority: i32) {
        let Some(&caller) = self.names.get(name) else {
            return;
        };
        let q = &mut self.queues;
        let Some(w) = q.callers.get_mut(&caller) else {
            return;
        };
        w.priority = priority;
        let (queue, joined) = (w.queue, w.joined);
        let line = &mut q.lines[queue].waiting;
        line.retain(|c| *c != caller);
        let callers = &q.callers;
        let behind = |c: &CallId| {
            callers.get(c).is_some_and(|o| {
                o.priority < priority || (o.priority == priority && o.joined > joined)
            })
        };
        let at = line.iter().position(behind).unwrap_or(line.len());
        line.insert(at, caller);
        info!(%caller, priority, position = at + 1, "priority changed");
        let kind = QueueEventKind::Priority {
            priority,
            position: at + 1,
        };
        self.queue_event(caller, kind);
        self.dispatch(now);
    }

    /// Whether the call with this API id waits in a queue (its call live).
    pub fn is_queued(&self, name: &str) -> bool {
        self.names.get(name).is_some_and(|c| {
            self.queues
                .callers
                .get(c)
                .is_some_and(|w| w.callback_to.is_none())
        })
    }

    fn queue_result(&mut self, now: Instant, caller: CallId, id: RequestId, outcome: QueueOutcome) {
        self.drive(now, caller, flow_engine::Input::QueueResult { id, outcome });
    }

    /// Whether an agent by that name is configured.
    pub fn has_agent(&self, name: &str) -> bool {
        self.queues.agents.iter().any(|a| a.config.name == name)
    }

    /// An agent's status, as they set it (the API, later REGISTER).
    pub(crate) fn set_agent_status(&mut self, now: Instant, name: &str, status: AgentStatus) {
        let Some(a) = self
            .queues
            .agents
            .iter_mut()
            .find(|a| a.config.name == name)
        else {
            return;
        };
        let was = std::mem::replace(&mut a.status, status);
        if status == AgentStatus::Available {
            a.no_answer_run = 0;
        }
        info!(agent = %name, ?status, "agent status");
        if was == AgentStatus::LoggedOut || status != AgentStatus::LoggedOut {
            return self.dispatch(now);
        }
        // This agent logged out: callers of their queues that leave when empty go if they
        // were the last one there.
        let served: Vec<String> = a.config.queues.iter().map(|(q, _)| q.clone()).collect();
        let q = &self.queues;
        let empty: Vec<CallId> = q
            .callers
            .iter()
            .filter(|(_, w)| {
                let c = &q.configs[w.queue];
                c.leave_when_empty
                    && served.contains(&c.name)
                    && !q.agents.iter().any(|a| a.logged_in_for(&c.name))
            })
            .map(|(c, _)| *c)
            .collect();
        for caller in empty {
            self.leave_queue(now, caller, QueueOutcome::NoAgents);
        }
        self.dispatch(now);
    }
}
