//! One call's run through the flows: a state machine fed with inputs and `now`.

mod gather;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::graph::{DialMode, FlowId, FlowSet, HttpMethod, Kind, LocalTime, NodeId, SayItem};
use crate::io::{
    CallInfo, CallSummary, DialOutcome, Disposition, Entry, FlowEvent, HttpOutcome, Input, Output,
    Playable, QueueOutcome, RequestId, SmsRequest, TraceStep,
};
use crate::say::{self, Language};
use crate::vars::Vars;
use gather::Gather;

/// Immediate nodes (branch, set, event, goto, call, return) run in one input at most this many
/// times; past it the call is a runaway loop and ends.
const MAX_IMMEDIATE_STEPS: usize = 256;
/// A lookup that gets no answer counts as not found after this long.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// A transfer with no result after this long has failed (a REFER transaction lasts 64·T1).
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(40);
/// A dial node waits this much beyond its rings for the daemon's answer.
const DIAL_MARGIN: Duration = Duration::from_secs(10);
/// A queue enforces its own longest wait; this only keeps a flow from waiting for ever if the
/// queue's answer never came.
const QUEUE_SAFETY: Duration = Duration::from_secs(6 * 3600);

/// Where the call is.
#[derive(Debug)]
enum Step {
    /// Not answered yet.
    Idle,
    /// A play node's playlist.
    Playing { play: RequestId },
    /// A menu or a collect node.
    Gathering(Gather),
    /// A dial node's call answered: the caller is bridged to it.
    Bridged { id: RequestId },
    /// Waiting for an answer from the daemon.
    Waiting {
        id: RequestId,
        wait: Wait,
        deadline: Instant,
    },
    /// Over.
    Finished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    Http,
    Lookup,
    Coupon,
    Sms,
    Consent,
    Dial,
    Queue,
    Transfer,
}

/// One call's flow instance. Drain [`CallFlow::poll_output`] after every input, then read
/// [`CallFlow::poll_timeout`].
#[derive(Debug)]
pub struct CallFlow {
    set: Arc<FlowSet>,
    flow: FlowId,
    node: NodeId,
    stack: Vec<(FlowId, NodeId)>,
    vars: Vars,
    info: CallInfo,
    started: Instant,
    step: Step,
    /// On hold since then: listening deadlines wait.
    held: Option<Instant>,
    next_id: u64,
    out: VecDeque<Output>,
    trace: Vec<TraceStep>,
    entries: Vec<Entry>,
}

impl CallFlow {
    /// A call that will run `flow` from its start once [`Input::Answered`] arrives.
    pub fn new(now: Instant, set: Arc<FlowSet>, flow: FlowId, info: CallInfo) -> Self {
        let mut vars = Vars::default();
        let withheld = info.ani.is_empty() || info.ani.eq_ignore_ascii_case("anonymous");
        vars.set("ani", if withheld { "" } else { info.ani.as_str() });
        vars.set("caller_withheld", if withheld { "true" } else { "false" });
        vars.set("dnis", info.dnis.as_str());
        vars.set("call_id", info.call_id.as_str());
        for (name, value) in &info.vars {
            if !crate::BUILTINS.contains(&name.as_str()) {
                vars.set(name, value.as_str());
            }
        }
        let start = set.flow(flow);
        vars.set(
            "language",
            start.languages.first().map_or("en", String::as_str),
        );
        let node = start.start;
        Self {
            set,
            flow,
            node,
            stack: Vec::new(),
            vars,
            info,
            started: now,
            step: Step::Idle,
            held: None,
            next_id: 0,
            out: VecDeque::new(),
            trace: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// The variables (for logs and tests).
    pub fn vars(&self) -> &Vars {
        &self.vars
    }

    /// The path so far.
    pub fn trace(&self) -> &[TraceStep] {
        &self.trace
    }

    /// Where the flow is now: `flow/node`.
    pub fn position(&self) -> String {
        self.node_label()
    }

    /// Whether the flow has ended.
    pub fn is_finished(&self) -> bool {
        matches!(self.step, Step::Finished)
    }

    /// The next output; drain until `None` after each input.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The earliest deadline; feed [`Input::Timeout`] when it passes.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.step {
            Step::Waiting { deadline, .. } => Some(*deadline),
            Step::Gathering(_) if self.held.is_some() => None,
            Step::Gathering(g) => g.deadline(),
            _ => None,
        }
    }

    /// Feeds one input.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        if matches!(self.step, Step::Finished) {
            return;
        }
        if input == Input::HungUp {
            self.record(now, "caller_hung_up");
            self.finish(Disposition::CallerHungUp);
            return;
        }
        if let Input::Dropped(cause) = input {
            self.record(now, cause.name());
            self.finish(Disposition::Dropped(cause));
            return;
        }
        match input {
            Input::Held => {
                self.held.get_or_insert(now);
                return;
            }
            Input::Resumed => {
                if let (Some(since), Step::Gathering(g)) = (self.held.take(), &mut self.step) {
                    g.postpone(now.saturating_duration_since(since));
                }
                return;
            }
            _ => {}
        }
        let step = std::mem::replace(&mut self.step, Step::Finished);
        self.step = match (step, input) {
            (Step::Idle, Input::Answered) => {
                self.enter_flow(self.flow);
                let start = self.set.flow(self.flow).start;
                self.goto(now, start);
                return;
            }
            (Step::Playing { play }, Input::PlaybackFinished(id)) if id == play => {
                self.record(now, "played");
                let set = Arc::clone(&self.set);
                let Kind::Play { next, .. } = set.flow(self.flow).node(self.node).kind else {
                    unreachable!("Playing is entered from play nodes only")
                };
                self.goto(now, next);
                return;
            }
            (Step::Playing { play }, Input::Digit(key)) => {
                let set = Arc::clone(&self.set);
                let Kind::Play {
                    barge_in,
                    on_key,
                    next,
                    ..
                } = set.flow(self.flow).node(self.node).kind
                else {
                    unreachable!("Playing is entered from play nodes only")
                };
                if !barge_in {
                    Step::Playing { play }
                } else {
                    let target = on_key.unwrap_or(next);
                    self.vars.set("last_digit", key.to_string());
                    self.out.push_back(Output::StopPlayback);
                    self.record(now, format!("key {key}"));
                    self.goto(now, target);
                    return;
                }
            }
            (Step::Gathering(g), input) => match self.gather(now, g, input) {
                Some(g) => Step::Gathering(g),
                None => return,
            },
            (Step::Waiting { wait, deadline, .. }, Input::Timeout) if now >= deadline => {
                self.timed_out(now, wait);
                return;
            }
            (Step::Waiting { id, wait, deadline }, input) => {
                if self.answer(now, id, wait, input) {
                    return;
                }
                Step::Waiting { id, wait, deadline }
            }
            (Step::Bridged { id }, Input::BridgeEnded { id: got }) if got == id => {
                self.record(now, "bridge_ended");
                let set = Arc::clone(&self.set);
                let after = match &set.flow(self.flow).node(self.node).kind {
                    Kind::Dial(d) => d.after,
                    Kind::Queue(q) => q.after,
                    _ => None,
                };
                match after {
                    Some(next) => self.goto(now, next),
                    None => {
                        self.out.push_back(Output::HangUp);
                        self.finish(Disposition::Completed);
                    }
                }
                return;
            }
            (step, _) => step,
        };
    }

    /// Runs nodes from `node` until one waits for something.
    fn goto(&mut self, now: Instant, mut node: NodeId) {
        let time = self.local_time(now);
        for _ in 0..MAX_IMMEDIATE_STEPS {
            self.node = node;
            let flow = self.set.clone();
            let flow = flow.flow(self.flow);
            match &flow.node(node).kind {
                Kind::Play {
                    items, barge_in, ..
                } => {
                    let play = self.play(items, *barge_in);
                    self.step = Step::Playing { play };
                    return;
                }
                Kind::Menu(_) | Kind::Collect(_) => {
                    let g = self.start_gather(now);
                    self.step = Step::Gathering(g);
                    return;
                }
                Kind::Branch { cases, otherwise } => {
                    let hit = cases.iter().position(|(c, _)| c.eval(&self.vars, time));
                    match hit {
                        Some(i) => {
                            self.record(now, format!("case {i}"));
                            node = cases[i].1;
                        }
                        None => {
                            self.record(now, "else");
                            node = *otherwise;
                        }
                    }
                }
                Kind::Set { vars, next } => {
                    for (name, value) in vars {
                        let value = value.render(&self.vars);
                        self.vars.set(name, value);
                    }
                    self.record(now, "set");
                    node = *next;
                }
                Kind::Event { name, fields, next } => {
                    let fields = fields
                        .iter()
                        .map(|(k, v)| (k.clone(), v.render(&self.vars)))
                        .collect();
                    let event = FlowEvent {
                        name: name.clone(),
                        node: self.node_label(),
                        at: now.saturating_duration_since(self.started),
                        fields,
                    };
                    self.out.push_back(Output::Event(event));
                    self.record(now, format!("event {name}"));
                    node = *next;
                }
                Kind::Goto(to) => {
                    self.record(now, "goto");
                    self.enter_flow(*to);
                    node = self.set.flow(*to).start;
                }
                Kind::Call { flow: to, next } => {
                    self.record(now, "call");
                    self.stack.push((self.flow, *next));
                    self.enter_flow(*to);
                    node = self.set.flow(*to).start;
                }
                Kind::Return => {
                    self.record(now, "return");
                    let Some((back, next)) = self.stack.pop() else {
                        self.out.push_back(Output::HangUp);
                        self.finish(Disposition::Completed);
                        return;
                    };
                    self.flow = back;
                    node = next;
                }
                Kind::HangUp => {
                    self.record(now, "hang_up");
                    self.out.push_back(Output::HangUp);
                    self.finish(Disposition::Completed);
                    return;
                }
                Kind::Lookup { source, key, .. } => {
                    let id = self.id();
                    let key = key.render(&self.vars);
                    self.out.push_back(Output::Lookup {
                        id,
                        source: source.clone(),
                        key,
                    });
                    self.wait(now, id, Wait::Lookup, LOOKUP_TIMEOUT);
                    return;
                }
                Kind::Http(h) => {
                    let id = self.id();
                    let body = match h.method {
                        HttpMethod::Post => h.body.as_ref().map(|b| b.render(&self.vars)),
                        HttpMethod::Get => None,
                    };
                    self.out.push_back(Output::Http {
                        id,
                        method: h.method,
                        url: h.url.render(&self.vars),
                        body,
                        timeout: h.timeout,
                    });
                    self.wait(now, id, Wait::Http, h.timeout);
                    return;
                }
                Kind::Sms(s) => {
                    let id = self.id();
                    match &s.coupon {
                        Some((campaign, valid_days)) => {
                            self.out.push_back(Output::IssueCoupon {
                                id,
                                campaign: campaign.clone(),
                                valid_days: *valid_days,
                            });
                            self.wait(now, id, Wait::Coupon, s.timeout);
                        }
                        None => self.send_sms(now, id),
                    }
                    return;
                }
                Kind::Consent(c) => {
                    let id = self.id();
                    self.out.push_back(Output::RecordConsent {
                        id,
                        number: c.number.render(&self.vars),
                        purpose: c.purpose.clone(),
                        answer: c.answer,
                    });
                    self.wait(now, id, Wait::Consent, c.timeout);
                    return;
                }
                Kind::Dial(d) => {
                    let id = self.id();
                    let targets: Vec<String> = d.to.iter().map(|t| t.render(&self.vars)).collect();
                    let rings = match d.mode {
                        DialMode::Sequential => targets.len() as u32,
                        DialMode::Simultaneous => 1,
                    };
                    self.out.push_back(Output::Dial {
                        id,
                        targets,
                        trunk: d.trunk.clone(),
                        mode: d.mode,
                        ring_timeout: d.ring_timeout,
                        caller_id: d.caller_id.as_ref().map(|c| c.render(&self.vars)),
                    });
                    // The daemon answers within the rings; the margin covers call setup.
                    self.wait(now, id, Wait::Dial, d.ring_timeout * rings + DIAL_MARGIN);
                    return;
                }
                Kind::Queue(q) => {
                    let id = self.id();
                    self.out.push_back(Output::Enqueue {
                        id,
                        queue: q.queue.clone(),
                        priority: q.priority,
                        exit_key: q.exit_key.is_some(),
                        callback: q.callback.is_some(),
                    });
                    self.wait(now, id, Wait::Queue, QUEUE_SAFETY);
                    return;
                }
                Kind::Transfer { target, .. } => {
                    let id = self.id();
                    let target = target.render(&self.vars);
                    self.out.push_back(Output::Transfer { id, target });
                    self.wait(now, id, Wait::Transfer, TRANSFER_TIMEOUT);
                    return;
                }
            }
        }
        self.record(now, "runaway_loop");
        self.out.push_back(Output::HangUp);
        self.finish(Disposition::Failed(format!(
            "more than {MAX_IMMEDIATE_STEPS} steps without waiting at {}",
            self.node_label()
        )));
    }

    fn send_sms(&mut self, now: Instant, id: RequestId) {
        let set = Arc::clone(&self.set);
        let Kind::Sms(s) = &set.flow(self.flow).node(self.node).kind else {
            unreachable!("send_sms runs on sms nodes only")
        };
        let request = SmsRequest {
            id,
            to: s.to.render(&self.vars),
            text: s.text.render(&self.vars),
            purpose: s.purpose.clone(),
            idempotency_key: format!("{}:{}:{}", self.info.call_id, self.node_label(), s.purpose),
            coupon: s
                .coupon
                .as_ref()
                .and(self.vars.get("coupon").map(String::from)),
        };
        let timeout = s.timeout;
        self.out.push_back(Output::SendSms(request));
        self.wait(now, id, Wait::Sms, timeout);
    }

    /// Handles an answer to the request in flight; `true` when the step changed.
    fn answer(&mut self, now: Instant, id: RequestId, wait: Wait, input: Input) -> bool {
        let set = Arc::clone(&self.set);
        let kind = &set.flow(self.flow).node(self.node).kind;
        let next = match (wait, input, kind) {
            (
                Wait::Lookup,
                Input::LookupResult { id: got, record },
                Kind::Lookup {
                    into,
                    found,
                    not_found,
                    ..
                },
            ) if got == id => {
                let (into, found, not_found) = (into.clone(), *found, *not_found);
                self.vars.clear_prefix(&into);
                match record {
                    Some(fields) => {
                        for (column, value) in fields {
                            self.vars.set(&format!("{into}.{column}"), value);
                        }
                        self.record(now, "found");
                        found
                    }
                    None => {
                        self.record(now, "not_found");
                        not_found
                    }
                }
            }
            (Wait::Http, Input::HttpResult { id: got, outcome }, Kind::Http(h)) if got == id => {
                let (map, ok, fail, late) =
                    (h.map.clone(), h.on_success, h.on_failure, h.on_timeout);
                match outcome {
                    HttpOutcome::Response { status, body } if (200..300).contains(&status) => {
                        if map.is_empty() {
                            self.record(now, format!("http {status}"));
                            ok
                        } else if let Ok(json) = serde_json::from_str::<serde_json::Value>(&body) {
                            for (var, pointer) in &map {
                                match json.pointer(pointer).and_then(json_text) {
                                    Some(v) => self.vars.set(var, v),
                                    None => self.vars.clear_prefix(var),
                                }
                            }
                            self.record(now, format!("http {status}"));
                            ok
                        } else {
                            self.record(now, format!("http {status} not_json"));
                            fail
                        }
                    }
                    HttpOutcome::Response { status, .. } => {
                        self.record(now, format!("http {status}"));
                        fail
                    }
                    HttpOutcome::Failed(reason) => {
                        self.record(now, format!("http_failed {reason}"));
                        fail
                    }
                    HttpOutcome::TimedOut => {
                        self.record(now, "timed_out");
                        late
                    }
                }
            }
            (Wait::Coupon, Input::CouponIssued { id: got, serial }, Kind::Sms(s)) if got == id => {
                match serial {
                    Some(serial) => {
                        self.vars.set("coupon", serial);
                        let id = self.id();
                        self.send_sms(now, id);
                        return true;
                    }
                    None => {
                        let fail = s.on_failure;
                        self.record(now, "coupon_refused");
                        fail
                    }
                }
            }
            (Wait::Sms, Input::SmsResult { id: got, outcome }, Kind::Sms(s)) if got == id => {
                let (next, fail) = (s.next, s.on_failure);
                match outcome {
                    Ok(()) => {
                        self.record(now, "sms_accepted");
                        next
                    }
                    Err(reason) => {
                        self.record(now, format!("sms_refused {reason}"));
                        fail
                    }
                }
            }
            (Wait::Consent, Input::ConsentResult { id: got, outcome }, Kind::Consent(c))
                if got == id =>
            {
                match outcome {
                    Ok(()) => {
                        self.record(now, "consent_recorded");
                        c.next
                    }
                    Err(reason) => {
                        self.record(now, format!("consent_failed {reason}"));
                        c.on_failure
                    }
                }
            }
            (Wait::Dial, Input::DialResult { id: got, outcome }, Kind::Dial(d)) if got == id => {
                match outcome {
                    DialOutcome::Answered(target) => {
                        self.record(now, format!("answered {target}"));
                        self.step = Step::Bridged { id };
                        return true;
                    }
                    DialOutcome::Busy => {
                        self.record(now, "busy");
                        d.busy
                    }
                    DialOutcome::NoAnswer => {
                        self.record(now, "no_answer");
                        d.no_answer
                    }
                    DialOutcome::Failed(reason) => {
                        self.record(now, format!("failed {reason}"));
                        d.failed
                    }
                }
            }
            (Wait::Queue, Input::QueueResult { id: got, outcome }, Kind::Queue(q)) if got == id => {
                let next = match &outcome {
                    QueueOutcome::Bridged(agent) => {
                        self.record(now, format!("bridged {agent}"));
                        self.step = Step::Bridged { id };
                        return true;
                    }
                    QueueOutcome::Timeout => q.timeout,
                    QueueOutcome::Full => q.full,
                    QueueOutcome::NoAgents => q.no_agents,
                    QueueOutcome::ExitKey => q.exit_key.unwrap_or(q.timeout),
                    QueueOutcome::Callback => q.callback.unwrap_or(q.timeout),
                };
                self.record(now, outcome.name());
                next
            }
            (
                Wait::Transfer,
                Input::TransferResult { id: got, ok },
                Kind::Transfer { target, on_failure },
            ) if got == id => {
                if ok {
                    let target = target.render(&self.vars);
                    self.record(now, "transferred");
                    self.out.push_back(Output::HangUp);
                    self.finish(Disposition::Transferred(target));
                    return true;
                }
                self.record(now, "transfer_failed");
                match on_failure {
                    Some(n) => *n,
                    None => {
                        self.out.push_back(Output::HangUp);
                        self.finish(Disposition::Failed("transfer failed".into()));
                        return true;
                    }
                }
            }
            _ => return false,
        };
        self.goto(now, next);
        true
    }

    fn timed_out(&mut self, now: Instant, wait: Wait) {
        self.record(now, "timed_out");
        let set = Arc::clone(&self.set);
        let next = match (wait, &set.flow(self.flow).node(self.node).kind) {
            (Wait::Lookup, Kind::Lookup { not_found, .. }) => *not_found,
            (Wait::Http, Kind::Http(h)) => h.on_timeout,
            (Wait::Coupon | Wait::Sms, Kind::Sms(s)) => s.on_failure,
            (Wait::Consent, Kind::Consent(c)) => c.on_failure,
            (Wait::Dial, Kind::Dial(d)) => d.no_answer,
            (Wait::Queue, Kind::Queue(q)) => q.timeout,
            (
                Wait::Transfer,
                Kind::Transfer {
                    on_failure: Some(n),
                    ..
                },
            ) => *n,
            _ => {
                self.out.push_back(Output::HangUp);
                self.finish(Disposition::Failed("transfer timed out".into()));
                return;
            }
        };
        self.goto(now, next);
    }

    fn wait(&mut self, now: Instant, id: RequestId, wait: Wait, timeout: Duration) {
        self.step = Step::Waiting {
            id,
            wait,
            deadline: now + timeout,
        };
    }

    /// Emits a playlist in the caller's language and returns its id.
    fn play<'a>(
        &mut self,
        items: impl IntoIterator<Item = &'a SayItem>,
        barge_in: bool,
    ) -> RequestId {
        let id = self.id();
        let language = self.language();
        let rules = Language::from_code(&language);
        let currency = self.set.flow(self.flow).currency;
        let mut out = Vec::new();
        for item in items {
            let said = match item {
                SayItem::Prompt(name) => Some(vec![name.clone()]),
                SayItem::Silence(ms) => {
                    out.push(Playable::Silence(*ms));
                    continue;
                }
                SayItem::Digits(t) => Some(say::digits(&t.render(&self.vars))),
                SayItem::Number(t) => rules.and_then(|l| say::number(l, &t.render(&self.vars))),
                SayItem::Amount(t) => {
                    rules.and_then(|l| say::amount(l, currency, &t.render(&self.vars)))
                }
                SayItem::Time(t) => rules.and_then(|l| say::time(l, &t.render(&self.vars))),
            };
            out.extend(said.unwrap_or_default().into_iter().map(Playable::Prompt));
        }
        self.out.push_back(Output::Play {
            id,
            language,
            items: out,
            barge_in,
        });
        id
    }

    /// A barge-in playlist from borrowed items.
    fn play_refs(&mut self, items: &[&SayItem]) -> RequestId {
        self.play(items.iter().copied(), true)
    }

    /// The caller's language, if the current flow has prompts for it; else the flow's first.
    fn language(&self) -> String {
        let flow = self.set.flow(self.flow);
        let lang = self.vars.get("language").unwrap_or("");
        if flow.languages.iter().any(|l| l == lang) {
            lang.to_string()
        } else {
            flow.languages
                .first()
                .cloned()
                .unwrap_or_else(|| "en".into())
        }
    }

    fn enter_flow(&mut self, flow: FlowId) {
        self.flow = flow;
        let set = self.set.clone();
        let f = set.flow(flow);
        self.vars.set("flow", f.name.as_str());
        for (k, v) in &f.vars {
            if self.vars.get(k).is_none() {
                self.vars.set(k, v.as_str());
            }
        }
    }

    /// Local time in the current flow's zone; also refreshes `{today}`. Read once per input:
    /// the nodes run by one input see one time.
    fn local_time(&mut self, now: Instant) -> LocalTime {
        let flow = self.set.flow(self.flow);
        let elapsed = now.saturating_duration_since(self.started).as_millis() as i64;
        let ts = jiff::Timestamp::from_millisecond(self.info.unix_ms.saturating_add(elapsed))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let local = ts.to_zoned(flow.timezone.clone());
        self.vars.set("today", local.date().to_string());
        LocalTime {
            minute_of_day: (local.hour() as u16) * 60 + local.minute() as u16,
            weekday: local.weekday().to_monday_zero_offset() as u8,
        }
    }

    fn node_label(&self) -> String {
        let flow = self.set.flow(self.flow);
        format!("{}/{}", flow.name, flow.node(self.node).name)
    }

    fn id(&mut self) -> RequestId {
        self.next_id += 1;
        RequestId(self.next_id)
    }

    fn record(&mut self, now: Instant, outcome: impl Into<String>) {
        self.trace.push(TraceStep {
            at: now.saturating_duration_since(self.started),
            node: self.node_label(),
            outcome: outcome.into(),
        });
    }

    /// Keys the caller entered at this node (a menu choice, a collected entry).
    fn entered(&mut self, digits: &str, sensitive: bool) {
        self.entries.push(Entry {
            node: self.node_label(),
            digits: crate::io::masked(digits, sensitive),
        });
    }

    fn finish(&mut self, disposition: Disposition) {
        self.step = Step::Finished;
        self.out.push_back(Output::Finished(CallSummary {
            disposition,
            trace: self.trace.clone(),
            entries: std::mem::take(&mut self.entries),
        }));
    }
}

/// A JSON value as variable text: strings as they are, numbers and booleans printed, null and
/// containers absent.
fn json_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
