//! Call control for ivrd, sans-IO. It sits on the call path between `sip-ua` (which answers and
//! places calls) and `media` / `flow-engine`: every leg (a caller, a leg placed for a `dial`
//! node), its flow, the bridges between legs and every timer live here. It decides; the
//! daemon carries the decisions out and feeds back what happened.
//!
//! # Drain contract
//! After every [`Switch::handle_input`], drain [`Switch::poll_output`] until `None`, then sleep
//! until [`Switch::poll_timeout`] and feed [`Input::Timeout`]. Timers are one ordered index
//! (never a scan of the calls). Inputs fed while draining (the answer to a `Place`, an effect
//! answered at once) are fine: outputs queue in order.
//!
//! # What the driver does
//! - Feed [`Input::Incoming`] for a new INVITE and [`Input::Sip`] for every other event of the
//!   SIP endpoint; carry out [`Output::Sip`] with `Endpoint::handle_command`, and report a
//!   command the endpoint refused with [`Input::CommandFailed`].
//! - [`Output::Media`]: a media order for the worker of `home` (both legs of a bridge share a
//!   home). For [`MediaOrder::Start`], bind an RTP port and answer [`Input::MediaStarted`];
//!   release the port at [`MediaOrder::End`]. Feed media reports as [`Input::Media`].
//! - [`Output::Place`]: resolve the target or trunk, bind a port and start the leg's media with
//!   the given config, send the INVITE (`Endpoint::dial`), and answer [`Input::Placed`].
//! - [`Output::Effect`]: run it (HTTP, a lookup, the SMS outbox) and feed the flow input it
//!   yields back as [`Input::Effect`].
//!
//! ```
//! use std::{sync::Arc, time::Instant};
//! use call_control::{Config, Input, Output, Switch};
//! # fn flows() -> Arc<flow_engine::FlowSet> { unimplemented!() }
//! # fn incoming() -> (sip_ua::CallId, Box<sip_ua::IncomingCall>) { unimplemented!() }
//! # fn run() {
//! let mut switch = Switch::new(Config::new(flows(), "demo"));
//! # #[allow(clippy::disallowed_methods)]
//! let now = Instant::now();
//! let (call, incoming) = incoming();
//! switch.handle_input(now, Input::Incoming { call, incoming, unix_ms: 0 });
//! assert!(matches!(switch.poll_output(), Some(Output::Sip(_, sip_ua::Command::Ring))));
//! # }
//! ```

mod calls;
mod dialing;
mod push;
mod queues;
mod records;
mod timers;
mod views;

pub use push::{PushOutcome, PushRefusal, PushRequest, PushResult};
pub use queues::config::{
    AgentConfig, Overflow, QueueConfig, QueueConfigError, QueueSet, Sounds, Strategy, WaitSms,
    load as load_queues,
};
pub use queues::{AgentStatus, QueueEvent, QueueEventKind, Ticket, TicketChange, WaitSmsEvent};
pub use records::{CallRecord, Disposition, LegKind};
pub use views::{AgentView, CallView, LegView};

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flow_engine::{FlowSet, Playable, RequestId};
use media::srtp::MasterKey;
use media::{AcceptFrom, CallMediaConfig, Law, MediaEvent, RtcpMode, SrtpKeys};
use sip_ua::{AudioCodec, CallId, Command, IncomingCall, LogLimiter, Negotiated};

use calls::Call;
use dialing::Placed;
use timers::{Timer, Timers};

/// One try at one target of a dial request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttemptId(u64);

impl std::fmt::Display for AttemptId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "attempt-{}", self.0)
    }
}

/// A trunk as call control sees it: what to present and how many calls it may carry.
#[derive(Clone, Debug, Default)]
pub struct TrunkPolicy {
    /// The caller ID presented when the dial node gives none.
    pub caller_id: Option<String>,
    /// Concurrent calls placed through it.
    pub max_calls: usize,
    /// Where its calls come from (an INVITE from there is the trunk's).
    pub sources: Vec<sip_ua::SourceNet>,
    /// SRTP for its calls.
    pub srtp: SrtpPolicy,
}

/// Whether a call's media must, may or must not be SRTP (RFC 3711, keyed by SDES).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SrtpPolicy {
    /// RTP/SAVP offers are taken, RTP/AVP ones too.
    #[default]
    Optional,
    /// A plain RTP/AVP offer gets 488.
    Required,
    /// An RTP/SAVP offer gets 488.
    Off,
}

/// Media settings every leg starts with.
#[derive(Clone, Copy, Debug)]
pub struct MediaSettings {
    /// Where RTP is accepted from.
    pub accept_from: AcceptFrom,
    /// Send comfort silence between prompts.
    pub send_silence: bool,
    /// Ticks (20 ms) without RTP before a call counts as dead.
    pub inactivity_ticks: u32,
    /// Packets the reorder buffer holds.
    pub reorder_window: usize,
    /// Send and read RTCP (RFC 3550) on RTP + 1, or muxed where the SDP agreed it.
    pub rtcp: bool,
    /// SRTP for calls from no trunk (a trunk's own policy applies to its calls).
    pub srtp: SrtpPolicy,
}

/// What call control is configured with.
#[derive(Clone, Debug)]
pub struct Config {
    /// The flows (checked against the routes by the daemon at start).
    pub flows: Arc<FlowSet>,
    /// Dialled number → flow name.
    pub routes: HashMap<String, String>,
    /// The flow for numbers without a route.
    pub default_flow: String,
    /// Values overriding the flows' `[vars]`.
    pub vars: Vec<(String, String)>,
    /// Ring this long before answering.
    pub answer_after: Duration,
    /// Codecs, in order of preference.
    pub codecs: Vec<AudioCodec>,
    /// The telephone-event payload type we offer.
    pub telephone_event: u8,
    /// Media settings.
    pub media: MediaSettings,
    /// Trunks by name.
    pub trunks: HashMap<String, TrunkPolicy>,
    /// Push calls placed per second, at most (a script cannot flood a trunk).
    pub push_per_second: u32,
    /// Queues and agents.
    pub queues: QueueSet,
    /// Seed for SSRCs, sequence numbers and SDP session ids.
    pub seed: u64,
    /// Secret seed for SDES keys (the daemon draws it from the OS; keys follow from it).
    pub srtp_seed: SrtpSeed,
}

/// The secret our SDES keys are drawn from; its Debug shows nothing of it.
#[derive(Clone, Copy, Default)]
pub struct SrtpSeed(pub [u8; 16]);

impl std::fmt::Debug for SrtpSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SrtpSeed(…)")
    }
}

impl Config {
    /// Defaults around a flow set: every call runs `default_flow`, answered after 1 s.
    pub fn new(flows: Arc<FlowSet>, default_flow: &str) -> Self {
        Self {
            flows,
            routes: HashMap::new(),
            default_flow: default_flow.to_string(),
            vars: Vec::new(),
            answer_after: Duration::from_secs(1),
            codecs: vec![AudioCodec::Pcmu, AudioCodec::Pcma],
            telephone_event: 101,
            media: MediaSettings {
                accept_from: AcceptFrom::Sdp,
                send_silence: true,
                inactivity_ticks: 30 * 50,
                reorder_window: 3,
                rtcp: true,
                srtp: SrtpPolicy::Optional,
            },
            srtp_seed: SrtpSeed::default(),
            trunks: HashMap::new(),
            push_per_second: 10,
            queues: QueueSet::default(),
            seed: 0,
        }
    }
}

/// An input to the switch.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Input {
    /// A new INVITE (`sip_ua::Event::Incoming`), with the wall clock for its flow.
    Incoming {
        /// Its handle.
        call: CallId,
        /// What the INVITE said.
        incoming: Box<IncomingCall>,
        /// Milliseconds since the Unix epoch.
        unix_ms: i64,
    },
    /// Any other event of the SIP endpoint.
    Sip(CallId, sip_ua::Event),
    /// The endpoint refused a command for this call (it is over, or the transfer failed).
    CommandFailed(CallId),
    /// The answer to [`MediaOrder::Start`]: the RTP port bound, or `None` if none was free.
    MediaStarted {
        /// The leg.
        leg: CallId,
        /// The port.
        port: Option<u16>,
    },
    /// A media report of a leg, with the tag of the playlist playing when it happened.
    Media(CallId, MediaEvent, u64),
    /// The answer to [`Output::Place`].
    Placed {
        /// The attempt.
        attempt: AttemptId,
        /// The placed leg, or why it could not be placed.
        leg: Result<CallId, String>,
    },
    /// The result of an [`Output::Effect`], for the leg's flow.
    Effect(CallId, flow_engine::Input),
    /// Place a push call; answered with [`Output::Pushed`], ended with [`Output::PushEnded`].
    Push(PushRequest),
    /// Hang up a call by its API id (the SIP Call-ID of an inbound call, a push call's id).
    HangUpCall(String),
    /// An agent logs in, out, or goes on break.
    AgentStatus {
        /// The agent's name.
        agent: String,
        /// Their new status.
        status: AgentStatus,
    },
    /// A waiting caller's priority (by the calls API id), higher first; their place moves.
    QueuePriority {
        /// The call's API id.
        call: String,
        /// The new priority.
        priority: i32,
    },
    /// A REGISTER the endpoint handed over (`sip_ua::Output::Register`); answered with
    /// [`Output::Register`].
    Register(sip_ua::Registration),
    /// The flows new calls run from now on (a reload); calls already running keep theirs to
    /// the end. The routes and the default flow must name flows in the set (the driver checks).
    Flows(Arc<FlowSet>),
    /// A deadline from [`Switch::poll_timeout`] has passed.
    Timeout,
}

/// Something to run outside: the flow waits for its answer as [`Input::Effect`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Effect {
    /// An HTTP request; answer `HttpResult`.
    Http {
        /// The request.
        id: RequestId,
        /// Method.
        method: flow_engine::HttpMethod,
        /// URL.
        url: String,
        /// JSON body.
        body: Option<String>,
        /// Give up after this long.
        timeout: Duration,
    },
    /// A data-source lookup; answer `LookupResult`.
    Lookup {
        /// The request.
        id: RequestId,
        /// Source.
        source: String,
        /// Key.
        key: String,
    },
    /// Issue a coupon serial; answer `CouponIssued`.
    IssueCoupon {
        /// The request.
        id: RequestId,
        /// Campaign.
        campaign: String,
        /// Validity.
        valid_days: u32,
    },
    /// Enqueue an SMS; answer `SmsResult`.
    SendSms(flow_engine::SmsRequest),
    /// Record a consent answer; answer `ConsentResult`.
    RecordConsent {
        /// The request.
        id: RequestId,
        /// Whose.
        number: String,
        /// What for.
        purpose: String,
        /// The answer.
        answer: flow_engine::ConsentAnswer,
    },
}

/// An order for a media worker.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum MediaOrder {
    /// Bind an RTP port for `leg` and start its media; answer [`Input::MediaStarted`].
    Start {
        /// The leg.
        leg: CallId,
        /// Its media.
        config: CallMediaConfig,
    },
    /// Replace what plays with these prompts (names in `language`'s set).
    Play {
        /// The leg.
        leg: CallId,
        /// Prompt set.
        language: String,
        /// Entries.
        items: Vec<Playable>,
        /// A key press stops it.
        barge_in: bool,
        /// Reported back with the media events of this playlist.
        tag: u64,
    },
    /// Stop the playlist.
    Stop(CallId),
    /// A key press that came by SIP INFO.
    InfoDigit(CallId, char),
    /// New remote media (an answer, a re-INVITE, hold).
    Update(CallId, Negotiated),
    /// Join two legs' media.
    Bridge(CallId, CallId),
    /// Part them.
    Unbridge(CallId, CallId),
    /// The leg is over: stop its media and release its port.
    End(CallId),
}

/// What the switch asks of its driver.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Output {
    /// A SIP command for a leg.
    Sip(CallId, Command),
    /// A media order for the worker of `home`.
    Media {
        /// Whose worker.
        home: CallId,
        /// The order.
        order: MediaOrder,
    },
    /// Place a call; start its media (on `home`'s worker) with `media`, the SDP session id
    /// `session`; answer [`Input::Placed`].
    Place {
        /// The attempt.
        attempt: AttemptId,
        /// Whose worker its media goes on (its caller's); `None`: its own (a push call).
        home: Option<CallId>,
        /// A SIP URI, or a number for the trunk.
        target: String,
        /// The trunk to place it through.
        trunk: Option<String>,
        /// The caller ID to present.
        caller_id: String,
        /// Its media (no remote until the answer).
        media: CallMediaConfig,
        /// SDP session id.
        session: u64,
    },
    /// Run an effect for a leg's flow.
    Effect(CallId, Effect),
    /// The answer to [`Input::Push`]: placed (its outcome follows), or refused.
    Pushed {
        /// The request's id.
        id: String,
        /// Placed, or why not.
        result: Result<(), PushRefusal>,
    },
    /// A push call is over (or could not be placed after all): how it went.
    PushEnded(PushOutcome),
    /// Something happened in a queue (for the queue journal).
    QueueEvent(QueueEvent),
    /// A ticket opened or changed (store it; deliver it to the agent it is offered to).
    Ticket(TicketChange),
    /// The answer to an [`Input::Register`], for `sip_ua::Endpoint::answer_register`.
    Register(sip_ua::RegisterId, sip_ua::RegisterAnswer),
    /// A leg ended: its call detail record (store it; count it).
    Record(Box<CallRecord>),
}

/// The call-control core. See the crate docs for the drain contract.
#[derive(Debug)]
pub struct Switch {
    config: Config,
    /// Legs running a flow (inbound and push calls), by id.
    calls: HashMap<CallId, Call>,
    /// Calls by their API id.
    names: HashMap<String, CallId>,
    /// Push calls being placed, by attempt.
    pushes: HashMap<AttemptId, push::PendingPush>,
    push_rate: push::Rate,
    queues: queues::Queues,
    records: records::Records,
    /// Callers with a dial in progress or bridged, by caller.
    sessions: HashMap<CallId, dialing::Session>,
    /// Legs we placed, by id.
    placed: HashMap<CallId, Placed>,
    /// Attempt → its caller (until placed).
    attempts: HashMap<AttemptId, CallId>,
    /// Calls placed through each trunk now.
    trunk_calls: HashMap<String, usize>,
    timers: Timers,
    out: VecDeque<Output>,
    /// Flow inputs waiting while another is carried out.
    pending_flow: VecDeque<(CallId, flow_engine::Input)>,
    driving: bool,
    log: LogLimiter,
    seed: u64,
    /// Draws our SDES keys.
    srtp_keys: media::srtp::KeyGenerator,
    next_attempt: u64,
    next_round: u64,
}

impl Switch {
    /// An idle switch.
    pub fn new(config: Config) -> Self {
        let queues = queues::Queues::new(config.queues.clone(), config.seed);
        Self {
            queues,
            records: records::Records::default(),
            seed: config.seed,
            srtp_keys: media::srtp::KeyGenerator::new(config.srtp_seed.0),
            config,
            calls: HashMap::new(),
            names: HashMap::new(),
            pushes: HashMap::new(),
            push_rate: push::Rate::new(),
            sessions: HashMap::new(),
            placed: HashMap::new(),
            attempts: HashMap::new(),
            trunk_calls: HashMap::new(),
            timers: Timers::default(),
            out: VecDeque::new(),
            pending_flow: VecDeque::new(),
            driving: false,
            log: LogLimiter::default(),
            next_attempt: 0,
            next_round: 0,
        }
    }

    /// Feeds one input.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        match input {
            Input::Incoming {
                call,
                incoming,
                unix_ms,
            } => {
                self.records.learn_clock(now, unix_ms);
                self.incoming(now, call, *incoming, unix_ms);
            }
            Input::Sip(call, event) => {
                let ended = match &event {
                    sip_ua::Event::Ended(reason) => Some(*reason),
                    sip_ua::Event::Answered(_) => {
                        self.records.answered(now, call);
                        None
                    }
                    sip_ua::Event::TransferResult(outcome) => {
                        let ok = *outcome == sip_ua::TransferOutcome::Succeeded;
                        self.records.transfer_result(call, ok);
                        None
                    }
                    _ => None,
                };
                self.sip(now, call, event);
                if let Some(record) = ended.and_then(|r| self.records.close(now, call, &r)) {
                    self.out.push_back(Output::Record(Box::new(record)));
                }
            }
            Input::CommandFailed(call) => self.command_failed(now, call),
            Input::MediaStarted { leg, port } => self.media_started(now, leg, port),
            Input::Media(leg, event, tag) => self.media(now, leg, event, tag),
            Input::Placed { attempt, leg } => {
                self.records
                    .placed(now, attempt, leg.as_ref().ok().copied());
                if !self.push_placed(now, attempt, &leg) && !self.queue_placed(now, attempt, &leg) {
                    self.placed(now, attempt, leg);
                }
            }
            Input::Effect(call, input) => self.drive(now, call, input),
            Input::Push(request) => {
                self.records.learn_clock(now, request.unix_ms);
                self.push(now, request);
            }
            Input::HangUpCall(name) => self.hang_up_call(now, &name),
            Input::AgentStatus { agent, status } => self.set_agent_status(now, &agent, status),
            Input::QueuePriority { call, priority } => self.set_priority(now, &call, priority),
            Input::Register(r) => self.register(now, r),
            Input::Flows(flows) => self.config.flows = flows,
            Input::Timeout => self.timeout(now),
        }
    }

    /// The next output; drain until `None` after every input.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        let out = self.out.pop_front()?;
        if let Output::Place {
            attempt,
            home,
            target,
            trunk,
            caller_id,
            ..
        } = &out
        {
            let (kind, id, flow) = match self.pending_push(*attempt) {
                Some((id, flow)) => (LegKind::Push, id.to_string(), Some(flow.to_string())),
                None => (self.queue_leg_kind(*attempt), String::new(), None),
            };
            let parent = home.and_then(|h| self.records.id(h)).map(String::from);
            let head = records::Pending {
                kind,
                id,
                parent,
                from: caller_id.clone(),
                to: target.clone(),
                trunk: trunk.clone(),
                flow,
            };
            self.records.placing(*attempt, head);
        }
        Some(out)
    }

    /// Legs open now (a record is open for each), by direction: (inbound, outbound).
    pub fn live_legs(&self) -> (usize, usize) {
        self.records.live()
    }

    /// When to feed [`Input::Timeout`] next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Calls running a flow now.
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// Legs placed for dial nodes and not over.
    pub fn placed_legs(&self) -> usize {
        self.placed.len()
    }

    /// The flows new calls run.
    pub fn flows(&self) -> &Arc<FlowSet> {
        &self.config.flows
    }

    /// Whether a call with this API id is live.
    pub fn has_call(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    fn timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::Answer(call) => self.answer(call),
                Timer::Flow(call) => self.drive(now, call, flow_engine::Input::Timeout),
                Timer::Ring(caller, round) => self.rang_out(now, caller, round),
                Timer::RingOut(leg) => self.push_rang_out(now, leg),
                Timer::QueueWait(caller) => self.queue_timed_out(now, caller),
                Timer::Announce(caller) => self.announce(now, caller),
                Timer::Periodic(caller) => self.periodic(now, caller),
                Timer::AgentRing(leg) => self.agent_rang_out(now, leg),
                Timer::AgentFree(agent) => self.agent_free(now, agent),
                Timer::SmsAnswer(caller) => self.offer_unanswered(caller),
                Timer::Binding(agent) => self.binding_expired(now, agent),
            }
        }
    }

    fn sip(&mut self, now: Instant, call: CallId, event: sip_ua::Event) {
        if self.queues.is_agent_leg(call) {
            self.queue_leg_event(now, call, event);
        } else if self.placed.contains_key(&call) {
            self.placed_leg_event(now, call, event);
        } else {
            self.call_event(now, call, event);
        }
    }

    fn media(&mut self, now: Instant, leg: CallId, event: MediaEvent, tag: u64) {
        if event == MediaEvent::Inactive {
            self.records.rtp_timeout(leg);
        }
        if self.placed.contains_key(&leg) || self.queues.is_agent_leg(leg) {
            self.placed_leg_media(now, leg, event);
            return;
        }
        // A caller whose place is kept for a callback is its flow's again.
        if self.queues.is_waiting(leg) && !self.is_callback(leg) {
            match event {
                MediaEvent::Digit { key, .. } => return self.queue_digit(now, leg, key),
                MediaEvent::PlaybackFinished if tag & queues::QUEUE_TAG != 0 => {
                    return self.queue_played(now, leg, tag);
                }
                _ => {}
            }
        }
        self.call_media(now, leg, event, tag);
    }

    fn media_order(&mut self, home: CallId, order: MediaOrder) {
        if let MediaOrder::Bridge(a, b) = &order {
            self.records.bridged(*a, *b);
        }
        self.out.push_back(Output::Media { home, order });
    }

    /// A leg's media, with fresh random SSRC and sequence numbers; the SDP session id.
    fn media_config(&mut self, remote: Option<Negotiated>) -> (CallMediaConfig, u64) {
        self.seed = self
            .seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let r = self.seed >> 16;
        // A late offer (and a leg we place) starts with our first codec; the answer may
        // change it.
        let first = self
            .config
            .codecs
            .first()
            .copied()
            .unwrap_or(AudioCodec::Pcmu);
        let codec = remote.map_or(first, |n| n.codec);
        let m = self.config.media;
        let config = CallMediaConfig {
            remote: remote.map(|n| n.remote),
            accept_from: m.accept_from,
            law: law(codec),
            audio_payload_type: codec.payload_type(),
            telephone_event: remote
                .map_or(Some(self.config.telephone_event), |n| n.telephone_event),
            ssrc: (r >> 8) as u32,
            first_sequence: r as u16,
            first_timestamp: (r >> 24) as u32,
            send_silence: m.send_silence,
            inactivity_ticks: m.inactivity_ticks,
            reorder_window: m.reorder_window,
            rtcp: remote.map_or(RtcpMode::Off, |n| rtcp_mode(&n, m.rtcp)),
            srtp: remote.and_then(|n| srtp_keys(&n)),
        };
        (config, r & 0xffff_ffff)
    }
}

/// Where a leg's RTCP goes, as its SDP agreed (`Off` when RTCP is not `enabled`).
pub fn rtcp_mode(negotiated: &Negotiated, enabled: bool) -> RtcpMode {
    match (enabled, negotiated.rtcp_mux) {
        (false, _) => RtcpMode::Off,
        (true, true) => RtcpMode::Mux,
        (true, false) => RtcpMode::Separate(negotiated.rtcp),
    }
}

/// The media's SRTP keys, once our key is in the agreement.
pub fn srtp_keys(negotiated: &Negotiated) -> Option<SrtpKeys> {
    let sdes = negotiated.srtp?;
    Some(SrtpKeys {
        ours: MasterKey(sdes.ours?),
        theirs: MasterKey(sdes.theirs),
    })
}

/// The G.711 law of a codec.
pub fn law(codec: AudioCodec) -> Law {
    match codec {
        AudioCodec::Pcmu => Law::Ulaw,
        AudioCodec::Pcma => Law::Alaw,
    }
}
