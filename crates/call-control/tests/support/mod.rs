//! The simulation harness: ivrd's `sip_ua::Endpoint` and the call-control core, driven as the
//! daemon drives them, with peers that are `Endpoint`s too (a caller, agents), a wire with a
//! fixed latency that can lose chosen datagrams, and a fake media layer (ports, playlists that
//! finish after a second per item, bridges). The clock only jumps: no wall time passes.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use call_control::{Config, Effect, Input, MediaOrder, Output, Switch};
use flow_engine::{Catalog, FlowSet, SourceFile};
use media::MediaEvent;
use sip_ua::{
    CallId, Command, Dial, EndReason, Endpoint, Event, Flow, LocalMedia, Output as SipOutput,
    SipConfig, Transport,
};

/// ivrd's SIP address.
pub const IVRD: &str = "10.0.0.1:5060";
/// Wire latency, each way.
pub const LATENCY: Duration = Duration::from_millis(10);

/// What an agent does with an INVITE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    /// 180, then 200 after this long.
    Answer(Duration),
    /// Refuse at once with this status.
    Reject(u16),
    /// 180 and nothing more.
    Ring,
    /// Not even 180.
    Silent,
}

/// A SIP peer.
pub struct Peer {
    pub name: &'static str,
    pub sip: Endpoint,
    pub addr: SocketAddr,
    pub script: Script,
    pub events: Vec<(CallId, Event)>,
}

impl Peer {
    /// The reasons its calls ended with.
    pub fn ended(&self) -> Vec<EndReason> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Ended(r) => Some(*r),
                _ => None,
            })
            .collect()
    }

    /// Calls it was offered.
    pub fn incoming(&self) -> Vec<CallId> {
        self.events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Incoming(_)))
            .map(|(c, _)| *c)
            .collect()
    }
}

/// Says which datagrams the wire loses.
pub type Loss = Box<dyn FnMut(&Datagram) -> bool>;

/// One datagram on the wire.
#[derive(Clone, Debug)]
pub struct Datagram {
    pub at: Instant,
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub text: String,
}

/// What the fake media layer saw.
#[derive(Debug, Default)]
pub struct FakeMedia {
    next_port: u16,
    /// Leg → (tag, when it finishes) of what plays.
    playing: Vec<(CallId, u64, Instant)>,
    pub started: Vec<CallId>,
    /// Legs whose media ivrd started to answer them (inbound calls), in order.
    pub answered: Vec<CallId>,
    pub ended: Vec<CallId>,
    pub bridged: Vec<(CallId, CallId)>,
    pub unbridged: Vec<(CallId, CallId)>,
    pub updates: Vec<(CallId, sip_ua::Negotiated)>,
    pub prompts: Vec<(CallId, Vec<String>)>,
    /// Starts refused (no port).
    pub no_ports: bool,
}

pub struct Sim {
    pub now: Instant,
    pub ivrd: Endpoint,
    pub core: Switch,
    pub peers: Vec<Peer>,
    pub wire: VecDeque<Datagram>,
    /// Everything delivered (or dropped), in order.
    pub log: Vec<Datagram>,
    /// Datagrams matching this are lost (once each time it says so).
    pub lose: Option<Loss>,
    pub media: FakeMedia,
    pub effects: Vec<(CallId, Effect)>,
    /// The core's answers to pushes, and push outcomes.
    pub pushed: Vec<(String, Result<(), call_control::PushRefusal>)>,
    pub push_outcomes: Vec<call_control::PushOutcome>,
    /// The queue journal.
    pub queue_events: Vec<call_control::QueueEvent>,
    /// Ticket changes.
    pub tickets: Vec<call_control::TicketChange>,
    /// Call detail records, as legs ended.
    pub records: Vec<call_control::CallRecord>,
    /// Peer actions due later: (when, peer, call, command).
    actions: Vec<(Instant, usize, CallId, Command)>,
    /// Core outputs, as debug text (for failure messages).
    pub trace: Vec<String>,
}

/// The shipped flow files and prompt names, with `vars` overriding `[vars]`.
pub fn flows(extra: &[(&str, &str)]) -> Arc<FlowSet> {
    let shipped = [
        ("dial", include_str!("../../../../config/flows/dial.toml")),
        (
            "notify",
            include_str!("../../../../config/flows/notify.toml"),
        ),
        ("queue", include_str!("../../../../config/flows/queue.toml")),
    ];
    let mut files: Vec<SourceFile> = shipped
        .iter()
        .map(|(name, text)| SourceFile {
            name: (*name).into(),
            file: format!("config/flows/{name}.toml"),
            text: (*text).into(),
        })
        .collect();
    for (name, text) in extra {
        files.push(SourceFile {
            name: (*name).into(),
            file: format!("{name}.toml"),
            text: (*text).into(),
        });
    }
    let mut catalog = Catalog::default();
    catalog.add_prompts(
        "en",
        [
            "transferring",
            "transfer-failed",
            "goodbye",
            "welcome",
            "main-menu",
            "notice",
            "notice-offer",
            "notice-sent",
            "queue-welcome",
            "queue-sorry",
            "queue-closed",
            "queue-exit",
            "queue-callback",
            "enter-contract",
        ],
    );
    for queue in ["support", "sales"] {
        catalog.add_queue(queue);
    }
    Arc::new(flow_engine::load(&files, &catalog).expect("test flows compile"))
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

impl Sim {
    /// A switch running `flow` for every call, with `vars`, and peers at 10.0.0.2, .3, …
    // The simulation's epoch: read once, then only jumped forward.
    #[allow(clippy::disallowed_methods)]
    pub fn new(flows: Arc<FlowSet>, flow: &str, vars: &[(&str, &str)], peers: &[Script]) -> Self {
        Self::with(flows, flow, vars, peers, |_| {})
    }

    /// As [`Sim::new`], with the core's config edited by `edit`.
    #[allow(clippy::disallowed_methods)]
    pub fn with(
        flows: Arc<FlowSet>,
        flow: &str,
        vars: &[(&str, &str)],
        peers: &[Script],
        edit: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::new(flows, flow);
        config.vars = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        config.seed = 7;
        edit(&mut config);
        let names = ["caller", "agent", "agent2", "agent3", "agent4"];
        let peers = peers
            .iter()
            .enumerate()
            .map(|(i, script)| Peer {
                name: names[i.min(4)],
                sip: Endpoint::new(SipConfig {
                    seed: 100 + i as u64,
                    ..SipConfig::default()
                }),
                addr: addr(&format!("10.0.0.{}:5060", i + 2)),
                script: *script,
                events: Vec::new(),
            })
            .collect();
        Self {
            now: Instant::now(),
            ivrd: Endpoint::new(SipConfig {
                seed: 1,
                registrar: true,
                ..SipConfig::default()
            }),
            core: Switch::new(config),
            peers,
            wire: VecDeque::new(),
            log: Vec::new(),
            lose: None,
            media: FakeMedia {
                next_port: 20_000,
                ..FakeMedia::default()
            },
            effects: Vec::new(),
            pushed: Vec::new(),
            push_outcomes: Vec::new(),
            queue_events: Vec::new(),
            tickets: Vec::new(),
            records: Vec::new(),
            actions: Vec::new(),
            trace: Vec::new(),
        }
    }

    /// Peer `p` calls ivrd at `uri`; its call id there.
    pub fn call(&mut self, p: usize, uri: &str) -> CallId {
        self.call_with(p, uri, None)
    }

    /// As [`Sim::call`], answering a challenge with `credentials`.
    pub fn call_with(
        &mut self,
        p: usize,
        uri: &str,
        credentials: Option<sip_ua::Credentials>,
    ) -> CallId {
        let peer = &mut self.peers[p];
        let dial = Dial {
            target: uri.into(),
            from: format!("sip:+15551234567@{}", peer.addr.ip()),
            flow: Flow {
                transport: Transport::Udp,
                remote: addr(IVRD),
                local: peer.addr,
            },
            route: Vec::new(),
            local: LocalMedia {
                rtp: SocketAddr::new(peer.addr.ip(), 30_000),
                session_id: 1,
                version: 1,
            },
            telephone_event: 101,
            credentials,
        };
        let call = peer.sip.dial(self.now, dial).expect("peer dials");
        self.settle();
        call
    }

    /// ivrd takes calls only from `network` (`sip.admission.allow`); call before any traffic.
    pub fn allow_only(&mut self, network: &str) {
        self.ivrd = Endpoint::new(SipConfig {
            seed: 1,
            registrar: true,
            admission: sip_ua::Admission {
                allow: vec![network.parse().expect("a network")],
                ..sip_ua::Admission::default()
            },
            ..SipConfig::default()
        });
    }

    /// The API asks for a push call to `to` running `flow`.
    pub fn push(&mut self, id: &str, to: &str, flow: &str, ring_timeout: Duration) {
        let request = call_control::PushRequest {
            id: id.into(),
            to: to.into(),
            flow: flow.into(),
            vars: Vec::new(),
            caller_id: Some("+15550001111".into()),
            trunk: None,
            ring_timeout,
            unix_ms: 1_790_000_000_000,
        };
        self.core.handle_input(self.now, Input::Push(request));
        self.settle();
    }

    /// Peer `p` sends `command` on its call `call`.
    pub fn peer_command(&mut self, p: usize, call: CallId, command: Command) {
        self.peers[p]
            .sip
            .handle_command(self.now, call, command)
            .expect("peer command");
        self.settle();
    }

    /// Runs everything that is due now, then jumps from deadline to deadline up to `now + d`.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        loop {
            self.settle();
            let Some(next) = self.next_deadline().filter(|t| *t <= until) else {
                break;
            };
            assert!(next >= self.now, "a deadline in the past");
            self.now = next;
            self.tick();
        }
        self.now = until;
        self.tick();
        self.settle();
    }

    fn next_deadline(&self) -> Option<Instant> {
        let wire = self.wire.iter().map(|d| d.at).min();
        let peers = self.peers.iter().filter_map(|p| p.sip.poll_timeout()).min();
        let actions = self.actions.iter().map(|a| a.0).min();
        let playing = self.media.playing.iter().map(|p| p.2).min();
        [
            wire,
            peers,
            actions,
            playing,
            self.ivrd.poll_timeout(),
            self.core.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Feeds everything due at `now`: datagrams, timeouts, peer actions, playlist ends.
    fn tick(&mut self) {
        let now = self.now;
        while let Some(i) = self.wire.iter().position(|d| d.at <= now) {
            let Some(d) = self.wire.remove(i) else { break };
            self.deliver(d);
        }
        if self.ivrd.poll_timeout().is_some_and(|t| t <= now) {
            self.ivrd.handle_input(now, sip_ua::Input::Timeout);
        }
        if self.core.poll_timeout().is_some_and(|t| t <= now) {
            self.core.handle_input(now, Input::Timeout);
        }
        for p in &mut self.peers {
            if p.sip.poll_timeout().is_some_and(|t| t <= now) {
                p.sip.handle_input(now, sip_ua::Input::Timeout);
            }
        }
        let (due, later): (Vec<_>, Vec<_>) = self.actions.drain(..).partition(|a| a.0 <= now);
        self.actions = later;
        for (_, p, call, command) in due {
            // The call may be over by now (cancelled while it rang).
            let _ = self.peers[p].sip.handle_command(now, call, command);
        }
        let (done, playing): (Vec<_>, Vec<_>) =
            self.media.playing.drain(..).partition(|p| p.2 <= now);
        self.media.playing = playing;
        for (leg, tag, _) in done {
            self.core
                .handle_input(now, Input::Media(leg, MediaEvent::PlaybackFinished, tag));
        }
    }

    fn deliver(&mut self, d: Datagram) {
        self.log.push(d.clone());
        if let Some(lose) = self.lose.as_mut()
            && lose(&d)
        {
            return;
        }
        let flow = Flow {
            transport: Transport::Udp,
            remote: d.from,
            local: d.to,
        };
        let input = sip_ua::Input::Datagram {
            flow,
            data: d.text.as_bytes(),
        };
        if d.to == addr(IVRD) {
            self.ivrd.handle_input(self.now, input);
        } else if let Some(p) = self.peers.iter_mut().find(|p| p.addr == d.to) {
            p.sip.handle_input(self.now, input);
        }
    }

    /// Sends raw SIP text from `from` to ivrd (a request no peer endpoint can make).
    pub fn inject(&mut self, from: SocketAddr, text: &str) {
        let text = text.replace('\n', "\r\n");
        self.wire.push_back(Datagram {
            at: self.now + LATENCY,
            from,
            to: addr(IVRD),
            text,
        });
    }

    /// Drains every endpoint and the core until all are quiet.
    pub fn settle(&mut self) {
        loop {
            let mut quiet = true;
            while let Some(out) = self.ivrd.poll_output() {
                quiet = false;
                match out {
                    SipOutput::Transmit(t) => self.send(addr(IVRD), t),
                    SipOutput::Event(call, event) => {
                        let input = match event {
                            Event::Incoming(incoming) => Input::Incoming {
                                call,
                                incoming,
                                unix_ms: 1_790_000_000_000,
                            },
                            other => Input::Sip(call, other),
                        };
                        self.core.handle_input(self.now, input);
                    }
                    SipOutput::Register(r) => self.core.handle_input(self.now, Input::Register(r)),
                    SipOutput::Trunk(..) => {}
                }
            }
            while let Some(out) = self.core.poll_output() {
                quiet = false;
                self.carry_out(out);
            }
            for i in 0..self.peers.len() {
                while let Some(out) = self.peers[i].sip.poll_output() {
                    quiet = false;
                    match out {
                        SipOutput::Transmit(t) => {
                            let from = self.peers[i].addr;
                            self.send(from, t);
                        }
                        SipOutput::Event(call, event) => self.peer_event(i, call, event),
                        SipOutput::Register(_) | SipOutput::Trunk(..) => {}
                    }
                }
            }
            if quiet {
                return;
            }
        }
    }

    fn send(&mut self, from: SocketAddr, t: sip_ua::Transmit) {
        self.wire.push_back(Datagram {
            at: self.now + LATENCY,
            from,
            to: t.flow.remote,
            text: String::from_utf8_lossy(&t.data).into_owned(),
        });
    }

    fn peer_event(&mut self, i: usize, call: CallId, event: Event) {
        let now = self.now;
        let p = &mut self.peers[i];
        if let Event::Incoming(incoming) = &event {
            let local = LocalMedia {
                rtp: SocketAddr::new(p.addr.ip(), 40_000),
                session_id: 2,
                version: 1,
            };
            let negotiated = incoming
                .offer
                .as_ref()
                .and_then(|o| o.negotiate(&[sip_ua::AudioCodec::Pcma]).ok());
            match (p.script, negotiated) {
                (Script::Answer(after), Some(negotiated)) => {
                    let _ = p.sip.handle_command(now, call, Command::Ring);
                    let answer = Command::Answer { local, negotiated };
                    self.actions.push((now + after, i, call, answer));
                }
                (Script::Reject(status), _) => {
                    let _ = p.sip.handle_command(now, call, Command::Reject { status });
                }
                (Script::Ring | Script::Answer(_), _) => {
                    let _ = p.sip.handle_command(now, call, Command::Ring);
                }
                (Script::Silent, _) => {}
            }
        }
        self.peers[i].events.push((call, event));
    }

    fn carry_out(&mut self, out: Output) {
        let now = self.now;
        self.trace.push(format!("{out:?}"));
        match out {
            Output::Sip(call, command) => {
                if self.ivrd.handle_command(now, call, command).is_err() {
                    self.core.handle_input(now, Input::CommandFailed(call));
                }
            }
            Output::Media { order, .. } => self.media_order(order),
            Output::Place {
                attempt,
                target,
                caller_id,
                session,
                ..
            } => {
                let leg = self.place(&target, &caller_id, session);
                self.core.handle_input(now, Input::Placed { attempt, leg });
            }
            Output::Effect(call, effect) => {
                let input = match &effect {
                    Effect::SendSms(r) => Some(flow_engine::Input::SmsResult {
                        id: r.id,
                        outcome: Ok(()),
                    }),
                    Effect::Lookup { id, .. } => Some(flow_engine::Input::LookupResult {
                        id: *id,
                        record: None,
                    }),
                    _ => None,
                };
                self.effects.push((call, effect));
                if let Some(input) = input {
                    self.core.handle_input(now, Input::Effect(call, input));
                }
            }
            Output::Pushed { id, result } => self.pushed.push((id, result)),
            Output::PushEnded(outcome) => self.push_outcomes.push(outcome),
            Output::QueueEvent(e) => self.queue_events.push(e),
            Output::Ticket(t) => self.tickets.push(t),
            Output::Record(r) => self.records.push(*r),
            Output::Register(id, answer) => self.ivrd.answer_register(now, id, &answer),
            other => panic!("output the harness does not know: {other:?}"),
        }
    }

    fn place(&mut self, target: &str, caller_id: &str, session: u64) -> Result<CallId, String> {
        let host_port = target.rsplit('@').next().unwrap_or(target);
        let host = host_port
            .parse::<SocketAddr>()
            .ok()
            .or_else(|| {
                let ip = host_port.parse::<std::net::IpAddr>().ok()?;
                Some(SocketAddr::new(ip, 5060))
            })
            .ok_or_else(|| format!("{target}: no address"))?;
        if !self.peers.iter().any(|p| p.addr == host) {
            // Nobody there: the INVITE goes out and is never answered.
        }
        let port = self.media.next_port;
        self.media.next_port += 2;
        let dial = Dial {
            target: target.into(),
            from: format!("sip:{caller_id}@10.0.0.1"),
            flow: Flow {
                transport: Transport::Udp,
                remote: host,
                local: addr(IVRD),
            },
            route: Vec::new(),
            local: LocalMedia {
                rtp: SocketAddr::new(addr(IVRD).ip(), port),
                session_id: session,
                version: 1,
            },
            telephone_event: 101,
            credentials: None,
        };
        let leg = self.ivrd.dial(self.now, dial).map_err(|e| e.to_string())?;
        self.media.started.push(leg);
        Ok(leg)
    }

    fn media_order(&mut self, order: MediaOrder) {
        let now = self.now;
        match order {
            MediaOrder::Start { leg, .. } => {
                let port = (!self.media.no_ports).then(|| {
                    self.media.next_port += 2;
                    self.media.next_port
                });
                if port.is_some() {
                    self.media.started.push(leg);
                    self.media.answered.push(leg);
                }
                self.core
                    .handle_input(now, Input::MediaStarted { leg, port });
            }
            MediaOrder::Play {
                leg, items, tag, ..
            } => {
                self.media.playing.retain(|p| p.0 != leg);
                let names = items
                    .iter()
                    .filter_map(|i| match i {
                        flow_engine::Playable::Prompt(n) => Some(n.clone()),
                        flow_engine::Playable::Silence(_) => None,
                    })
                    .collect();
                let length = Duration::from_secs(items.len() as u64);
                self.media.playing.push((leg, tag, now + length));
                self.media.prompts.push((leg, names));
            }
            MediaOrder::Stop(leg) => self.media.playing.retain(|p| p.0 != leg),
            MediaOrder::Update(leg, n) => self.media.updates.push((leg, n)),
            MediaOrder::Bridge(a, b) => self.media.bridged.push((a, b)),
            MediaOrder::Unbridge(a, b) => self.media.unbridged.push((a, b)),
            MediaOrder::End(leg) => {
                self.media.playing.retain(|p| p.0 != leg);
                self.media.ended.push(leg);
            }
            MediaOrder::InfoDigit(..) => {}
            other => panic!("media order the harness does not know: {other:?}"),
        }
    }

    /// A media event on one of ivrd's legs (a digit the caller pressed, RTP gone).
    pub fn media_event(&mut self, leg: CallId, event: MediaEvent) {
        self.core
            .handle_input(self.now, Input::Media(leg, event, 0));
        self.settle();
    }

    /// Datagrams sent from `from` to `to` whose first line starts with `start`.
    pub fn sent(&self, from: SocketAddr, to: SocketAddr, start: &str) -> Vec<&Datagram> {
        self.log
            .iter()
            .filter(|d| d.from == from && d.to == to && d.text.starts_with(start))
            .collect()
    }

    /// ivrd's legs (in the order they were started or placed).
    pub fn legs(&self) -> Vec<CallId> {
        self.media.started.clone()
    }

    /// Every prompt played on `leg`, in order.
    pub fn prompts(&self, leg: CallId) -> Vec<String> {
        self.media
            .prompts
            .iter()
            .filter(|(l, _)| *l == leg)
            .flat_map(|(_, n)| n.clone())
            .collect()
    }

    /// Live dialogs at ivrd, and calls and placed legs at the core.
    pub fn live(&self) -> (usize, usize, usize) {
        (
            self.ivrd.calls(),
            self.core.calls(),
            self.core.placed_legs(),
        )
    }
}

/// The value of header `name` in a SIP message.
pub fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The URI inside `<…>` of a header value.
pub fn uri(value: &str) -> &str {
    value
        .split_once('<')
        .and_then(|(_, r)| r.split_once('>'))
        .map_or(value, |(u, _)| u)
}
