//! The answering user agent: server transactions, dialogs and the client transactions for the
//! requests it sends. Sans-IO: datagrams and `now` in, transmits and call events out.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Instant;

use tracing::{info, warn};

use crate::admission::Gate;
use crate::build::{self, Extra};
use crate::call::{Call, CallState, Retransmit};
use crate::message::{self, Message, Method, Request, addr_uri, uri_user};
use crate::sdp::{self, MediaOffer};
use crate::{
    CallId, Command, EndReason, Event, Flow, IncomingCall, Input, LogLimiter, Output,
    RegisterAnswer, RegisterId, SipConfig, SipError, Transmit, Transport,
};

/// What a timer entry points at; the entity itself says whether it is still due.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TimerRef {
    Call(CallId),
    /// The session timer's refresh or expiry (RFC 4028).
    Session(CallId),
    /// A reliable provisional's retransmission or give-up (RFC 3262).
    Reliable(CallId),
    Server(String),
    Client(String),
    /// A trunk's registration or keepalive.
    Trunk(crate::TrunkId),
}

/// A non-INVITE request already answered: its response, resent to retransmissions until
/// Timer J expires (RFC 3261 §17.2.2).
struct Answered {
    response: Vec<u8>,
    flow: Flow,
    expires: Instant,
}

/// A request we sent (BYE, REFER) waiting for its final response (RFC 3261 §17.1.2).
struct ClientTsx {
    call: CallId,
    method: Method,
    data: Vec<u8>,
    flow: Flow,
    retransmit: Option<Retransmit>,
    give_up: Instant,
}

mod checks;
mod client;
mod in_dialog;
mod outbound;
mod refresh;
mod reliable;
mod trunk;

use checks::{ALLOW, SUPPORTED};

/// The SIP endpoint. See the crate docs for the drain contract.
pub struct Endpoint {
    config: SipConfig,
    calls: HashMap<CallId, Call>,
    /// INVITE branch → call, for retransmissions and CANCEL.
    by_branch: HashMap<String, CallId>,
    /// (Call-ID, our tag) → call, for in-dialog requests.
    by_dialog: HashMap<(String, String), CallId>,
    answered: HashMap<String, Answered>,
    clients: HashMap<String, ClientTsx>,
    timers: BinaryHeap<Reverse<(Instant, TimerRef)>>,
    out: VecDeque<Output>,
    gate: Gate,
    log: LogLimiter,
    next_call: u64,
    /// REGISTERs the application has not answered yet.
    registering: HashMap<RegisterId, (Flow, Request)>,
    /// Registrations and keepalives we keep with trunks.
    trunks: HashMap<crate::TrunkId, trunk::Trunk>,
    next_register: u64,
    rng: u64,
    stats: EndpointStats,
}

/// What the endpoint has sent and received since it started (for metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Responses sent, by class: index 0 is 1xx … index 5 is 6xx.
    pub responses: [u64; 6],
    /// Requests sent (INVITE, BYE, REFER, ACK, …).
    pub requests: u64,
    /// Messages we sent again: a 2xx until its ACK, a request until its response.
    pub retransmissions_sent: u64,
    /// Retransmitted INVITEs absorbed (answered with what was sent last).
    pub retransmissions_received: u64,
    /// Messages that failed parsing or our checks (answered 4xx where addressable, else dropped).
    pub malformed: u64,
}

impl Endpoint {
    /// A new endpoint.
    pub fn new(config: SipConfig) -> Self {
        let rng = config.seed ^ 0x9e37_79b9_7f4a_7c15;
        Self {
            gate: Gate::new(config.admission.clone()),
            log: LogLimiter::default(),
            config,
            calls: HashMap::new(),
            trunks: HashMap::new(),
            by_branch: HashMap::new(),
            by_dialog: HashMap::new(),
            answered: HashMap::new(),
            clients: HashMap::new(),
            timers: BinaryHeap::new(),
            out: VecDeque::new(),
            next_call: 1,
            registering: HashMap::new(),
            next_register: 0,
            rng,
            stats: EndpointStats::default(),
        }
    }

    /// Counters since the start.
    pub fn stats(&self) -> EndpointStats {
        self.stats
    }

    /// Live calls (dialogs and unanswered INVITEs). Ended calls are removed at once, so this is
    /// the figure to watch for leaks.
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// A call's SIP Call-ID (for logs).
    pub fn sip_call_id(&self, call: CallId) -> Option<&str> {
        self.calls.get(&call).map(|c| c.sip_call_id.as_str())
    }

    /// Feeds one input.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        match input {
            Input::Datagram { flow, data } => self.handle_datagram(now, flow, data),
            Input::Oversized { flow, head } => {
                let error = SipError::TooLarge("over the stream size limit".into());
                self.reject_unparsable(now, flow, head, &error);
            }
            Input::Timeout => self.handle_timeout(now),
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
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Carries out the application's decision for a call.
    pub fn handle_command(
        &mut self,
        now: Instant,
        call: CallId,
        command: Command,
    ) -> Result<(), SipError> {
        let c = self.calls.get_mut(&call).ok_or(SipError::NoSuchCall)?;
        match command {
            Command::Ring => {
                if !matches!(c.state, CallState::Offered) {
                    return Err(SipError::Misuse(
                        "ring: the call is not waiting for an answer",
                    ));
                }
                self.provisional(now, call, 180, Extra::default());
            }
            Command::Progress { local, negotiated } => {
                if !matches!(c.state, CallState::Offered | CallState::Ringing) {
                    return Err(SipError::Misuse(
                        "progress: the call is not waiting for an answer",
                    ));
                }
                if c.invite.common.body.is_empty() {
                    return Err(SipError::Misuse(
                        "progress: a late offer has no offer to answer",
                    ));
                }
                c.media = Some((local, negotiated));
                let extra = Extra::sdp(
                    c.flow,
                    sdp::answer_offer(&c.invite.common.body, &local, &negotiated),
                );
                self.provisional(now, call, 183, extra);
            }
            Command::SendDigit { digit, duration_ms } => {
                if !matches!(c.state, CallState::Confirmed) {
                    return Err(SipError::Misuse("send digit: the call is not established"));
                }
                if !matches!(digit, '0'..='9' | '*' | '#' | 'A'..='D') {
                    return Err(SipError::Misuse("send digit: not a DTMF key"));
                }
                let body = format!("Signal={digit}\r\nDuration={duration_ms}\r\n");
                self.send_in_dialog(
                    now,
                    call,
                    Method::Info,
                    &[],
                    Some(("application/dtmf-relay", &body)),
                );
            }
            Command::Answer { local, negotiated } => {
                if !matches!(c.state, CallState::Offered | CallState::Ringing) {
                    return Err(SipError::Misuse(
                        "answer: the call is not waiting for an answer",
                    ));
                }
                if c.invite.common.body.is_empty() {
                    return Err(SipError::Misuse(
                        "answer: a late offer is answered with AnswerWithOffer",
                    ));
                }
                c.media = Some((local, negotiated));
                let extra = Extra::sdp(
                    c.flow,
                    sdp::answer_offer(&c.invite.common.body, &local, &negotiated),
                );
                self.send_2xx(now, call, extra);
            }
            Command::AnswerWithOffer {
                local,
                telephone_event,
            } => {
                if !matches!(c.state, CallState::Offered | CallState::Ringing) {
                    return Err(SipError::Misuse(
                        "answer: the call is not waiting for an answer",
                    ));
                }
                if !c.invite.common.body.is_empty() {
                    return Err(SipError::Misuse(
                        "answer with offer: the INVITE has an offer; answer it",
                    ));
                }
                c.offered = Some(local);
                let offer = sdp::offer(&local, &self.config.codecs, telephone_event);
                let extra = Extra::sdp(c.flow, offer);
                self.send_2xx(now, call, extra);
            }
            Command::Reject { status } => {
                if !matches!(c.state, CallState::Offered | CallState::Ringing) {
                    return Err(SipError::Misuse(
                        "reject: the call is not waiting for an answer",
                    ));
                }
                if !(300..700).contains(&status) {
                    return Err(SipError::Misuse("reject: status must be 300–699"));
                }
                self.reject(now, call, status, Extra::default());
                self.end(call, EndReason::Rejected(status));
            }
            Command::Challenge {
                realm,
                nonce,
                stale,
            } => {
                if !matches!(c.state, CallState::Offered | CallState::Ringing) {
                    return Err(SipError::Misuse(
                        "challenge: the call is not waiting for an answer",
                    ));
                }
                let mut extra = Extra::default();
                let value = crate::registrar::challenge_value(&realm, &nonce, stale);
                extra.headers.push(("WWW-Authenticate", value));
                self.reject(now, call, 401, extra);
                self.end(call, EndReason::Rejected(401));
            }
            Command::HangUp => match c.state {
                CallState::Offered | CallState::Ringing => {
                    self.reject(now, call, 480, Extra::default());
                    self.end(call, EndReason::HungUp);
                }
                CallState::Answering { .. } | CallState::Confirmed => {
                    self.send_in_dialog(now, call, Method::Bye, &[], None);
                    self.end(call, EndReason::HungUp);
                }
                CallState::Inviting(_) => self.cancel_invite(now, call),
                CallState::Rejected { .. } | CallState::Refused { .. } => {
                    return Err(SipError::Misuse("hang up: the call has already ended"));
                }
            },
            Command::Transfer { target } => {
                if !matches!(c.state, CallState::Confirmed) {
                    return Err(SipError::Misuse("transfer: the call is not established"));
                }
                let refer_to = format!("<{target}>");
                let referred_by = format!("<{}>", c.local_uri);
                self.send_in_dialog(
                    now,
                    call,
                    Method::Refer,
                    &[("Refer-To", refer_to), ("Referred-By", referred_by)],
                    None,
                );
            }
        }
        Ok(())
    }

    /// Sends our 2xx to the INVITE and retransmits it until the ACK (RFC 3261 §13.3.1.4);
    /// held while a reliable provisional awaits its PRACK. The session timer starts here.
    fn send_2xx(&mut self, now: Instant, call: CallId, mut extra: Extra) {
        if self.hold_2xx(call, &mut extra) {
            return;
        }
        extra.headers.push(("Allow", ALLOW.into()));
        extra.headers.push(("Supported", SUPPORTED.into()));
        extra.headers.extend(self.start_session(now, call));
        let data = self.respond_invite(call, 200, extra);
        let t1 = self.config.t1;
        let retransmit = Retransmit::start(now, t1, 64 * t1, self.flow_is_udp(call));
        if let Some(c) = self.calls.get_mut(&call) {
            c.state = CallState::Answering {
                response: data,
                retransmit,
            };
        }
        self.arm(retransmit.next_deadline(), TimerRef::Call(call));
    }

    fn handle_datagram(&mut self, now: Instant, flow: Flow, data: &[u8]) {
        if data.iter().all(|b| b.is_ascii_whitespace()) {
            return; // keep-alive (RFC 5626 CRLF)
        }
        match message::parse(data) {
            Ok(Message::Request(req)) => self.handle_request(now, flow, req),
            Ok(Message::Response(resp)) => self.handle_response(now, resp),
            Err(error) => self.reject_unparsable(now, flow, data, &error),
        }
    }

    /// A message that failed our checks: a request we can still address gets 400 (or 416,
    /// 505, 513); anything else is dropped. Either way it is logged, once per 10 s with a count.
    fn reject_unparsable(&mut self, now: Instant, flow: Flow, data: &[u8], error: &SipError) {
        self.stats.malformed += 1;
        if let Some(skipped) = self.log.hit(now, "malformed") {
            warn!(remote = %flow.remote, %error, skipped, "dropping malformed SIP message");
        }
        let Some(response) = crate::fallback::error_response(data, flow.remote, error) else {
            return;
        };
        self.transmit(flow, response);
    }

    fn handle_request(&mut self, now: Instant, flow: Flow, req: Request) {
        let branch = req.common.branch.clone();
        if req.method != Method::Ack
            && req.method != Method::Invite
            && let Some(prior) = self.answered.get(&answered_key(&branch, &req))
        {
            let (flow, data) = (prior.flow, prior.response.clone());
            self.transmit(flow, data);
            return;
        }
        if !matches!(req.method, Method::Ack | Method::Cancel)
            && let Some(call) = self.dialog_of(&req)
            && let Some(c) = self.calls.get_mut(&call)
        {
            if req.common.cseq < c.remote_cseq {
                warn!(call_id = %c.sip_call_id, cseq = req.common.cseq, "CSeq out of order");
                self.answer_request(now, flow, &req, 500, Extra::default());
                return;
            }
            c.remote_cseq = req.common.cseq;
        }
        if !(req.method == Method::Invite && req.common.to_tag.is_none())
            && let Some((status, extra)) = checks::refusal(&req)
        {
            self.answer_request(now, flow, &req, status, extra);
            return;
        }
        match req.method {
            Method::Invite if req.common.to_tag.is_none() => self.handle_invite(now, flow, req),
            Method::Invite => self.handle_reinvite(now, flow, req),
            Method::Ack => self.handle_ack(now, req),
            Method::Cancel => self.handle_cancel(now, flow, req),
            Method::Bye => match self.dialog_of(&req) {
                Some(call) => {
                    self.answer_request(now, flow, &req, 200, Extra::default());
                    self.end(call, EndReason::CallerHungUp);
                }
                None => self.answer_request(now, flow, &req, 481, Extra::default()),
            },
            Method::Info => self.handle_info(now, flow, req),
            Method::Update => self.handle_update(now, flow, req),
            Method::Prack => self.handle_prack(now, flow, req),
            Method::Notify => self.handle_notify(now, flow, req),
            Method::Options => {
                let extra = Extra {
                    headers: vec![
                        ("Allow", ALLOW.into()),
                        ("Supported", SUPPORTED.into()),
                        ("Accept", "application/sdp".into()),
                    ],
                    ..Extra::default()
                };
                self.answer_request(now, flow, &req, 200, extra);
            }
            Method::Register => self.handle_register(now, flow, req),
            Method::Refer | Method::Other => {} // refused by the checks above
        }
    }

    /// A REGISTER: read and handed to the application (its retransmissions while it decides
    /// are dropped), or 405 when this endpoint is no registrar.
    fn handle_register(&mut self, now: Instant, flow: Flow, req: Request) {
        if !self.config.registrar {
            let extra = Extra {
                headers: vec![("Allow", ALLOW.into())],
                ..Extra::default()
            };
            return self.answer_request(now, flow, &req, 405, extra);
        }
        let branch = &req.common.branch;
        if self
            .registering
            .values()
            .any(|(_, r)| &r.common.branch == branch)
        {
            return;
        }
        self.next_register += 1;
        let id = RegisterId(self.next_register);
        match crate::registrar::read(id, &req, flow.remote) {
            Ok(registration) => {
                self.registering.insert(id, (flow, req));
                self.out.push_back(Output::Register(registration));
            }
            Err(reason) => {
                if let Some(skipped) = self.log.hit(now, "register") {
                    warn!(remote = %flow.remote, %reason, skipped, "REGISTER refused");
                }
                self.answer_request(now, flow, &req, 400, Extra::default());
            }
        }
    }

    /// The application's answer to an [`Output::Register`].
    pub fn answer_register(&mut self, now: Instant, id: RegisterId, answer: &RegisterAnswer) {
        let Some((flow, req)) = self.registering.remove(&id) else {
            return;
        };
        let (status, extra) = answer.response();
        self.answer_request(now, flow, &req, status, extra);
    }

    fn handle_invite(&mut self, now: Instant, flow: Flow, req: Request) {
        if let Some(&call) = self.by_branch.get(&req.common.branch) {
            // A retransmission: resend whatever was sent last.
            self.stats.retransmissions_received += 1;
            if let Some(c) = self.calls.get(&call) {
                let data = match &c.state {
                    CallState::Answering { response, .. }
                    | CallState::Rejected { response, .. } => response.clone(),
                    _ => c.last_provisional.clone(),
                };
                self.transmit(c.flow, data);
            }
            return;
        }
        let unlisted = !self.gate.allows(flow.remote.ip());
        let admitted = match unlisted && !self.config.registrar {
            true => Err(crate::admission::Refusal::NotAllowed),
            false => self.gate.admit(now, flow.remote.ip()),
        };
        if let Err(refusal) = admitted {
            let (status, extra) = match refusal {
                crate::admission::Refusal::NotAllowed => (403, Extra::default()),
                _ => {
                    let retry = self.gate.retry_after().as_secs().max(1);
                    let extra = Extra {
                        headers: vec![("Retry-After", retry.to_string())],
                        body: None,
                    };
                    (503, extra)
                }
            };
            if let Some(skipped) = self.log.hit(now, refusal.reason()) {
                warn!(remote = %flow.remote, reason = refusal.reason(), status, skipped, "refusing INVITE");
            }
            let tag = self.token();
            let data = build::response(
                &req,
                flow.remote,
                status,
                &self.config.user_agent,
                &tag,
                &extra,
            );
            self.transmit(flow, data);
            return;
        }
        let id = CallId(self.next_call);
        self.next_call += 1;
        let local_tag = self.token();
        // An INVITE without a body is a late offer: we offer in the 2xx.
        // RFC 3261 §20.43: warn-code 305 "Incompatible media format", 399 for the rest.
        let offer = match req.common.body.is_empty() {
            true => Ok(None),
            false => match MediaOffer::parse(&req.common.body) {
                Ok(offer) => match offer.negotiate(&self.config.codecs) {
                    Ok(_) => Ok(Some(offer)),
                    Err(e) => Err((305, format!("Incompatible media format: {e}"))),
                },
                Err(error) => Err((399, error.to_string())),
            },
        };
        let call = Call::new(flow, &req, local_tag);
        info!(call_id = %call.sip_call_id, from = %req.common.from, to = %req.uri, "INVITE");
        self.by_branch.insert(req.common.branch.clone(), id);
        self.by_dialog
            .insert((call.sip_call_id.clone(), call.local_tag.clone()), id);
        self.calls.insert(id, call);
        let trying = self.respond_invite(id, 100, Extra::default());
        if let Some(c) = self.calls.get_mut(&id) {
            c.last_provisional = trying;
        }
        let refusal = checks::refusal(&req).or_else(|| self.agree_extensions(id, &req));
        if let Some((status, extra)) = refusal {
            warn!(call_id = %req.common.call_id, status, "refusing INVITE");
            self.reject(now, id, status, extra);
            if let Some(c) = self.calls.get_mut(&id) {
                c.ended = true;
            }
            return;
        }
        let offer = match offer {
            Ok(offer) => offer,
            Err((code, error)) => {
                if let Some(skipped) = self.log.hit(now, "no usable offer") {
                    warn!(call_id = %req.common.call_id, %error, skipped, "rejecting INVITE: 488");
                }
                let text: String = error.chars().filter(|c| !matches!(c, '"' | '\\')).collect();
                let warning = format!("{code} ivrd \"{text}\"");
                let extra = Extra {
                    headers: vec![("Warning", warning)],
                    body: None,
                };
                self.reject(now, id, 488, extra);
                if let Some(c) = self.calls.get_mut(&id) {
                    c.ended = true;
                }
                return;
            }
        };
        let from_uri = addr_uri(&req.common.from).to_string();
        let to_uri = addr_uri(&req.common.to).to_string();
        let callee = match uri_user(&req.uri) {
            "" => uri_user(&to_uri).to_string(),
            user => user.to_string(),
        };
        let incoming = IncomingCall {
            caller: uri_user(&from_uri).to_string(),
            caller_uri: from_uri,
            callee,
            callee_uri: req.uri.clone(),
            sip_call_id: req.common.call_id.clone(),
            flow,
            offer,
            headers: req.common.headers.clone(),
            unlisted,
            credentials: match unlisted {
                true => crate::registrar::credentials_of(&req),
                false => None,
            },
        };
        self.out
            .push_back(Output::Event(id, Event::Incoming(Box::new(incoming))));
    }

    fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, target))) = self.timers.pop() else {
                break;
            };
            match target {
                TimerRef::Call(call) => self.call_timer(now, call),
                TimerRef::Server(key) => {
                    if self.answered.get(&key).is_some_and(|a| a.expires <= now) {
                        self.answered.remove(&key);
                    }
                }
                TimerRef::Client(branch) => self.client_timer(now, branch),
                TimerRef::Session(call) => self.session_timer(now, call),
                TimerRef::Reliable(call) => self.reliable_timer(now, call),
                TimerRef::Trunk(id) => self.trunk_timer(now, id),
            }
        }
    }

    fn call_timer(&mut self, now: Instant, call: CallId) {
        let udp = self.flow_is_udp(call);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if matches!(c.state, CallState::Inviting(_) | CallState::Refused { .. }) {
            self.outbound_timer(now, call);
            return;
        }
        let flow = c.flow;
        let (response, retransmit, answering) = match &mut c.state {
            CallState::Answering {
                response,
                retransmit,
            } => (response.clone(), retransmit, true),
            CallState::Rejected {
                response,
                retransmit,
            } => (response.clone(), retransmit, false),
            _ => return,
        };
        if now >= retransmit.give_up {
            let sip_call_id = c.sip_call_id.clone();
            if answering {
                warn!(call_id = %sip_call_id, "no ACK for 2xx within 64·T1: hanging up");
                self.send_in_dialog(now, call, Method::Bye, &[], None);
                self.end(call, EndReason::AckTimeout);
            } else {
                self.remove(call);
            }
            return;
        }
        if udp && now >= retransmit.next {
            retransmit.backoff(now, self.config.t2);
            let next = retransmit.next_deadline();
            self.stats.retransmissions_sent += 1;
            self.transmit(flow, response);
            self.arm(next, TimerRef::Call(call));
        } else {
            let next = retransmit.next_deadline();
            self.arm(next, TimerRef::Call(call));
        }
    }

    /// Sends a provisional response to the INVITE; it is resent to INVITE retransmissions.
    /// When the INVITE requires 100rel it goes reliably, one at a time.
    fn provisional(&mut self, now: Instant, call: CallId, status: u16, extra: Extra) {
        let Some(extra) = self.reliably(now, call, status, extra) else {
            return;
        };
        let data = self.respond_invite(call, status, extra);
        if let Some(c) = self.calls.get_mut(&call) {
            c.last_provisional = data;
            c.state = CallState::Ringing;
        }
    }

    /// Sends a final non-2xx to the INVITE and waits for its ACK (Timers G and H).
    fn reject(&mut self, now: Instant, call: CallId, status: u16, extra: Extra) {
        if let Some(r) = self.calls.get_mut(&call).and_then(|c| c.reliable.as_mut()) {
            // A final response ends the provisionals: no more retransmissions or PRACKs.
            **r = crate::call::Reliable::default();
        }
        let data = self.respond_invite(call, status, extra);
        let t1 = self.config.t1;
        let retransmit = Retransmit::start(now, t1, 64 * t1, self.flow_is_udp(call));
        if let Some(c) = self.calls.get_mut(&call) {
            c.state = CallState::Rejected {
                response: data,
                retransmit,
            };
        }
        self.arm(retransmit.next_deadline(), TimerRef::Call(call));
    }

    /// Tells the application the call is over (once); the record may live on to absorb an ACK.
    fn end(&mut self, call: CallId, reason: EndReason) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if !c.ended {
            c.ended = true;
            info!(call_id = %c.sip_call_id, ?reason, "call ended");
            self.out
                .push_back(Output::Event(call, Event::Ended(reason)));
        }
        if !matches!(
            c.state,
            CallState::Rejected { .. } | CallState::Refused { .. }
        ) {
            self.remove(call);
        }
    }

    fn remove(&mut self, call: CallId) {
        let Some(mut c) = self.calls.remove(&call) else {
            return;
        };
        self.by_branch.remove(&c.invite_branch);
        self.by_dialog.remove(&(c.sip_call_id, c.local_tag));
        if let Some(ip) = c.setup_source.take() {
            self.gate.release(ip);
        }
        // Our requests still pending in the dialog end with it (a REFER must not be
        // retransmitted to a phone that has hung up); a BYE runs its course.
        for branch in c.requests {
            if self
                .clients
                .get(&branch)
                .is_some_and(|t| t.method != Method::Bye)
            {
                self.clients.remove(&branch);
            }
        }
    }

    /// The call's first ACK: it is no longer being set up.
    fn leave_setup(&mut self, call: CallId) {
        if let Some(ip) = self
            .calls
            .get_mut(&call)
            .and_then(|c| c.setup_source.take())
        {
            self.gate.release(ip);
        }
    }

    fn respond_invite(&mut self, call: CallId, status: u16, extra: Extra) -> Vec<u8> {
        let Some(c) = self.calls.get(&call) else {
            return Vec::new();
        };
        let data = build::response(
            &c.invite,
            c.flow.remote,
            status,
            &self.config.user_agent,
            &c.local_tag,
            &extra,
        );
        let flow = c.flow;
        self.transmit(flow, data.clone());
        data
    }

    /// A response to `req`, with our dialog tag if it is in one (a fresh tag otherwise).
    fn response_for(&mut self, flow: Flow, req: &Request, status: u16, extra: &Extra) -> Vec<u8> {
        let tag = match self.dialog_of(req).and_then(|c| self.calls.get(&c)) {
            Some(c) => c.local_tag.clone(),
            None => self.token(),
        };
        build::response(
            req,
            flow.remote,
            status,
            &self.config.user_agent,
            &tag,
            extra,
        )
    }

    /// Answers a non-INVITE request and remembers the answer for its retransmissions until
    /// Timer J (UDP only).
    fn answer_request(
        &mut self,
        now: Instant,
        flow: Flow,
        req: &Request,
        status: u16,
        extra: Extra,
    ) {
        let data = self.response_for(flow, req, status, &extra);
        self.transmit(flow, data.clone());
        if flow.transport == Transport::Udp && req.method != Method::Invite {
            let key = answered_key(&req.common.branch, req);
            let expires = now + 64 * self.config.t1;
            self.answered.insert(
                key.clone(),
                Answered {
                    response: data,
                    flow,
                    expires,
                },
            );
            self.arm(expires, TimerRef::Server(key));
        }
    }

    /// The dialog a request belongs to: Call-ID, our tag (its To) and the caller's tag (its From).
    fn dialog_of(&self, req: &Request) -> Option<CallId> {
        let tag = req.common.to_tag.as_ref()?;
        let call = *self
            .by_dialog
            .get(&(req.common.call_id.clone(), tag.clone()))?;
        let c = self.calls.get(&call)?;
        (c.remote_tag == req.common.from_tag).then_some(call)
    }

    fn flow_is_udp(&self, call: CallId) -> bool {
        self.calls
            .get(&call)
            .is_some_and(|c| c.flow.transport == Transport::Udp)
    }

    fn transmit(&mut self, flow: Flow, data: Vec<u8>) {
        match data.strip_prefix(b"SIP/2.0 ").and_then(|s| s.first()) {
            Some(class @ b'1'..=b'6') => self.stats.responses[usize::from(class - b'1')] += 1,
            _ => self.stats.requests += 1,
        }
        self.out
            .push_back(Output::Transmit(Transmit { flow, data }));
    }

    fn arm(&mut self, at: Instant, target: TimerRef) {
        self.timers.push(Reverse((at, target)));
    }

    /// A random token for tags and branches (SplitMix64 over the configured seed).
    fn token(&mut self) -> String {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        format!("{:016x}", z ^ (z >> 31))
    }
}

fn answered_key(branch: &str, req: &Request) -> String {
    format!("{branch} {}", req.method_token)
}
