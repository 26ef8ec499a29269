//! `ivrd serve`: the SIP loop (tokio, one task) owns the sans-IO endpoint and each call's flow
//! instance; media workers (threads) own the RTP sockets; HTTP requests run as tasks. They talk
//! through channels only, and the router turns flow outputs into media, SIP and HTTP work.

mod config;
mod legs;
mod media_worker;
mod ports;
mod prompts;
mod router;
mod tcp;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flow_engine::{CallFlow, CallInfo, DropCause, FlowSet, RequestId};
use media::{CallMediaConfig, MediaEvent};
use sip_ua::{
    AudioCodec, CallId, Command, EndReason, Endpoint, Event, Flow, Input, LocalMedia, LogLimiter,
    Output, SipConfig, TransferOutcome, Transport,
};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::clock;
use crate::flows::DataSources;
pub(crate) use config::Config;
use media_worker::{MediaCommand, MediaReport, MediaWorkers};
use ports::PortPool;
use prompts::Prompts;
use tcp::{TcpConnections, TcpEvent, TcpLimits};

/// The payload type we offer telephone-event at (late offer).
const TELEPHONE_EVENT: u8 = 101;

/// Command-line overrides of the config file.
pub(crate) struct Overrides {
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) rtp_ports: Option<(u16, u16)>,
    pub(crate) http: Option<SocketAddr>,
    pub(crate) var: Option<std::path::PathBuf>,
}

pub(crate) fn run(config_path: &Path, required: bool, overrides: Overrides) -> anyhow::Result<()> {
    let mut config = Config::load(config_path, required)?;
    if let Some(listen) = overrides.listen {
        config.sip.listen = listen;
    }
    if let Some((min, max)) = overrides.rtp_ports {
        config.rtp.port_min = min;
        config.rtp.port_max = max;
    }
    if let Some(http) = overrides.http {
        config.http.listen = http;
    }
    if let Some(var) = overrides.var {
        config.sms.store = var.join("ivrd.sqlite");
        config.sms.file = var.join("sms-outbox.jsonl");
    }
    let loaded =
        crate::flows::load(&config, &config.flows.dir.clone(), true).map_err(|errors| {
            anyhow::anyhow!(
                "refusing to start: {} errors in the flows (run `ivrd check`):\n{}",
                errors.len(),
                errors.join("\n")
            )
        })?;
    info!(flows = ?loaded.flows.names(), "flows checked");
    let mut prompts = HashMap::new();
    for (lang, dir) in
        crate::flows::language_dirs(&config.media.prompts).map_err(anyhow::Error::msg)?
    {
        let set = Prompts::load(&dir)?;
        info!(dir = %dir.display(), count = set.len(), "prompts loaded");
        prompts.insert(lang, set);
    }
    // reqwest is built without a crypto provider (rsipstack's rustls uses ring): install ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(config, prompts, loaded))
}

struct CallState {
    sip_call_id: String,
    flow: CallFlow,
    sip_flow: Flow,
    /// The caller's offer; `None` for a late offer (ours goes in the 2xx).
    offer: Option<sip_ua::MediaOffer>,
    rtp_port: Option<u16>,
    stage: Stage,
    /// The flow's transfer request in flight.
    transfer: Option<RequestId>,
}

/// Where a call is, as far as its flow goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Ringing; answer at this time.
    Ringing { answer_at: Instant },
    /// Late offer answered: the flow starts when the ACK brings the caller's answer.
    AwaitingAnswer,
    /// We refused it (no port, no codec); its end is on the way.
    Refused,
    /// Answered, and its flow is running.
    Up,
}

struct Daemon {
    config: Config,
    /// Legs placed for dial nodes and their bridges (the call-control core).
    switch: call_control::Switch,
    placed: HashMap<CallId, legs::PlacedLeg>,
    /// Repeated warnings (port exhaustion under a flood), once per reason per 10 s.
    log: LogLimiter,
    codecs: Vec<AudioCodec>,
    sip: Endpoint,
    udp: Arc<UdpSocket>,
    tcp: TcpConnections,
    media: MediaWorkers,
    prompts: HashMap<String, Prompts>,
    ports: PortPool,
    calls: HashMap<CallId, CallState>,
    local_ips: HashMap<IpAddr, IpAddr>,
    seed: u64,
    flows: Arc<FlowSet>,
    data: DataSources,
    http: reqwest::Client,
    replies: mpsc::UnboundedSender<(CallId, flow_engine::Input)>,
    sms: crate::sms::Sms,
}

async fn serve(
    config: Config,
    prompts: HashMap<String, Prompts>,
    loaded: crate::flows::Loaded,
) -> anyhow::Result<()> {
    let listen = config.sip.listen;
    let udp = Arc::new(
        UdpSocket::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("SIP UDP {listen}: {e}"))?,
    );
    let (tcp_tx, mut tcp_rx) = mpsc::unbounded_channel();
    let t = &config.sip.tcp;
    let limits = TcpLimits {
        idle: Duration::from_secs(t.idle_s),
        message: Duration::from_secs(t.message_s),
        per_source: t.per_source,
        max_connections: t.max_connections,
    };
    let tcp = TcpConnections::listen(listen, limits, tcp_tx).await?;
    let (report_tx, mut report_rx) = mpsc::unbounded_channel::<MediaReport>();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let media = MediaWorkers::start(workers, report_tx)?;
    let seed = clock::entropy();
    let (replies, mut replies_rx) = mpsc::unbounded_channel();
    let http = reqwest::Client::builder()
        .user_agent(concat!("ivrd/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| anyhow::anyhow!("HTTP client: {e}"))?;
    let sms = crate::sms::Sms::start(&config.sms, http.clone()).await?;
    let app = crate::sms::http::router(
        sms.clone(),
        &config.merchants,
        &config.sms,
        config.http.admin_token_env.as_ref(),
    )?;
    let web = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(|e| anyhow::anyhow!("HTTP {}: {e}", config.http.listen))?;
    info!(listen = %web.local_addr()?, "HTTP listening (SMS receipts and inbound, coupons)");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(web, app).await {
            error!(error = %e, "HTTP server stopped");
        }
    });
    let mut d = Daemon {
        flows: Arc::new(loaded.flows),
        data: loaded.data,
        http,
        replies,
        sms,
        codecs: config.codecs().map_err(anyhow::Error::msg)?,
        sip: Endpoint::new(SipConfig {
            t1: config.t1(),
            seed,
            codecs: config.codecs().map_err(anyhow::Error::msg)?,
            admission: config.sip.admission.to_admission(config.rtp_ports()),
            ..SipConfig::default()
        }),
        ports: PortPool::new(
            config.sip.listen.ip(),
            config.rtp.port_min,
            config.rtp.port_max,
            clock::secure_random(),
        ),
        log: LogLimiter::default(),
        switch: call_control::Switch::new(),
        placed: HashMap::new(),
        config,
        udp: udp.clone(),
        tcp,
        media,
        prompts,
        calls: HashMap::new(),
        local_ips: HashMap::new(),
        seed,
    };
    info!(%listen, "listening for SIP on UDP and TCP");
    let mut buf = vec![0u8; 65_536];
    loop {
        let wake = d.next_deadline();
        tokio::select! {
            r = udp.recv_from(&mut buf) => match r {
                Ok((n, remote)) => {
                    let flow = d.flow(Transport::Udp, remote);
                    d.sip.handle_input(clock::now(), Input::Datagram { flow, data: &buf[..n] });
                }
                Err(e) => warn!(error = %e, "SIP UDP receive failed"),
            },
            Some(event) = tcp_rx.recv() => match event {
                TcpEvent::Message { remote, data } => {
                    let flow = d.flow(Transport::Tcp, remote);
                    d.sip.handle_input(clock::now(), Input::Datagram { flow, data: &data });
                }
                TcpEvent::Oversized { remote, head } => {
                    let flow = d.flow(Transport::Tcp, remote);
                    d.sip.handle_input(clock::now(), Input::Oversized { flow, head: &head });
                }
                other => d.tcp.handle_event(other),
            },
            Some(report) = report_rx.recv() => d.handle_media(report),
            Some((call, input)) = replies_rx.recv() => d.drive(call, input),
            _ = sleep_until(wake) => d.handle_timeouts(),
        }
        d.drain().await;
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl Daemon {
    fn next_deadline(&self) -> Option<Instant> {
        self.calls
            .values()
            .filter_map(|c| c.answer_at().into_iter().chain(c.flow.poll_timeout()).min())
            .chain(self.sip.poll_timeout())
            .chain(self.switch.poll_timeout())
            .min()
    }

    /// The flow for a peer: our advertised address is the configured one, the listen address,
    /// or the local address that routes to the peer.
    fn flow(&mut self, transport: Transport, remote: SocketAddr) -> Flow {
        let listen = self.config.sip.listen;
        let ip = match (self.config.sip.advertise, listen.ip()) {
            (Some(ip), _) => ip,
            (None, ip) if !ip.is_unspecified() => ip,
            (None, _) => *self
                .local_ips
                .entry(remote.ip())
                .or_insert_with(|| route_to(remote).unwrap_or(listen.ip())),
        };
        Flow {
            transport,
            remote,
            local: SocketAddr::new(ip, listen.port()),
        }
    }

    fn handle_timeouts(&mut self) {
        let now = clock::now();
        self.sip.handle_input(now, Input::Timeout);
        if self.switch.poll_timeout().is_some_and(|at| at <= now) {
            self.switch(now, call_control::Input::Timeout);
        }
        let answer: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.answer_at().is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for call in answer {
            match self.answer(now, call) {
                Ok(Stage::Up) => self.drive(call, flow_engine::Input::Answered),
                Ok(_) => {}
                Err(e) => warn!(%call, error = %e, "answer failed"),
            }
        }
        let due: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.flow.poll_timeout().is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for call in due {
            self.drive(call, flow_engine::Input::Timeout);
        }
    }

    fn handle_media(&mut self, report: MediaReport) {
        let now = clock::now();
        if self.handle_leg_media(report.call, report.event) {
            return;
        }
        let Some(c) = self.calls.get_mut(&report.call) else {
            return;
        };
        let input = match report.event {
            MediaEvent::Digit { key, source } => {
                info!(call_id = %c.sip_call_id, key = %key, ?source, "digit");
                flow_engine::Input::Digit(key)
            }
            MediaEvent::PlaybackFinished => {
                flow_engine::Input::PlaybackFinished(RequestId(report.tag))
            }
            MediaEvent::Inactive => {
                warn!(call_id = %c.sip_call_id, "no RTP from the caller: hanging up");
                self.drive(report.call, flow_engine::Input::Dropped(DropCause::NoMedia));
                if let Err(e) = self.sip.handle_command(now, report.call, Command::HangUp) {
                    warn!(call = %report.call, error = %e, "hang-up failed");
                }
                return;
            }
            _ => return,
        };
        self.drive(report.call, input);
    }

    /// Answers the call; says where that leaves it (`Up`: start the flow; `AwaitingAnswer`:
    /// a late offer, the flow starts with the ACK's answer; `Refused`: rejected instead, for
    /// want of a port).
    fn answer(&mut self, now: Instant, call: CallId) -> Result<Stage, sip_ua::SipError> {
        let Some(c) = self.calls.get_mut(&call) else {
            return Err(sip_ua::SipError::NoSuchCall);
        };
        // The endpoint refused offers with none of our codecs before they rang.
        let negotiated = match c.offer.as_ref().map(|o| o.negotiate(&self.codecs)) {
            Some(Ok(n)) => Some(n),
            None => None,
            Some(Err(e)) => {
                warn!(call_id = %c.sip_call_id, error = %e, "no usable codec");
                c.stage = Stage::Refused;
                self.sip
                    .handle_command(now, call, Command::Reject { status: 488 })?;
                return Ok(Stage::Refused);
            }
        };
        let Some((port, socket)) = self.ports.allocate() else {
            if let Some(skipped) = self.log.hit(now, "RTP ports exhausted") {
                error!(call_id = %c.sip_call_id, skipped, "RTP port range exhausted: 503");
            }
            c.stage = Stage::Refused;
            self.sip
                .handle_command(now, call, Command::Reject { status: 503 })?;
            return Ok(Stage::Refused);
        };
        c.rtp_port = Some(port);
        self.seed = self
            .seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let r = self.seed >> 16;
        let local = LocalMedia {
            rtp: SocketAddr::new(c.sip_flow.local.ip(), port),
            session_id: r & 0xffff_ffff,
            version: 1,
        };
        // A late offer starts with our first codec; the ACK's answer may change it.
        let codec = negotiated.map_or(self.codecs[0], |n| n.codec);
        let config = CallMediaConfig {
            remote: negotiated.map(|n| n.remote),
            accept_from: self.config.rtp.accept_from.into(),
            law: media_worker::law(codec),
            audio_payload_type: codec.payload_type(),
            telephone_event: negotiated.map_or(Some(TELEPHONE_EVENT), |n| n.telephone_event),
            ssrc: (r >> 8) as u32,
            first_sequence: r as u16,
            first_timestamp: (r >> 24) as u32,
            send_silence: self.config.rtp.send_silence,
            inactivity_ticks: (self.config.rtp.inactivity_s * 50) as u32,
            reorder_window: 3,
        };
        self.media.send(MediaCommand::Start {
            call,
            sip_call_id: c.sip_call_id.clone(),
            socket,
            config,
        });
        let (command, stage) = match negotiated {
            Some(negotiated) => {
                info!(call_id = %c.sip_call_id, codec = ?negotiated.codec, telephone_event = ?negotiated.telephone_event, rtp_port = port, "answering");
                (Command::Answer { local, negotiated }, Stage::Up)
            }
            None => {
                info!(call_id = %c.sip_call_id, rtp_port = port, "answering a late offer with ours");
                let command = Command::AnswerWithOffer {
                    local,
                    telephone_event: TELEPHONE_EVENT,
                };
                (command, Stage::AwaitingAnswer)
            }
        };
        c.stage = stage;
        self.sip.handle_command(now, call, command)?;
        Ok(stage)
    }

    async fn drain(&mut self) {
        while let Some(output) = self.sip.poll_output() {
            match output {
                Output::Transmit(t) => match t.flow.transport {
                    Transport::Udp => {
                        if let Err(e) = self.udp.send_to(&t.data, t.flow.remote).await {
                            warn!(remote = %t.flow.remote, error = %e, "SIP UDP send failed");
                        }
                    }
                    Transport::Tcp => self.tcp.send(t.flow.remote, t.data),
                },
                Output::Event(call, event) => self.handle_sip_event(call, event),
            }
        }
    }

    fn handle_sip_event(&mut self, call: CallId, event: Event) {
        let now = clock::now();
        if self.handle_leg_event(call, &event) {
            return;
        }
        match event {
            Event::Incoming(incoming) => {
                let flows = &self.config.flows;
                let name = flows.routes.get(&incoming.callee).unwrap_or(&flows.default);
                let flow_id = self
                    .flows
                    .find(name)
                    .expect("routes are checked against the flows at start");
                info!(call_id = %incoming.sip_call_id, caller = %incoming.caller, callee = %incoming.callee, flow = %name, "incoming call");
                let info = CallInfo {
                    call_id: incoming.sip_call_id.clone(),
                    ani: incoming.caller.clone(),
                    dnis: incoming.callee.clone(),
                    unix_ms: clock::unix_ms(),
                    vars: flows
                        .vars
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                };
                self.calls.insert(
                    call,
                    CallState {
                        sip_call_id: incoming.sip_call_id.clone(),
                        flow: CallFlow::new(now, self.flows.clone(), flow_id, info),
                        sip_flow: incoming.flow,
                        offer: incoming.offer,
                        rtp_port: None,
                        stage: Stage::Ringing {
                            answer_at: now
                                + Duration::from_millis(self.config.call.answer_after_ms),
                        },
                        transfer: None,
                    },
                );
                if let Err(e) = self.sip.handle_command(now, call, Command::Ring) {
                    warn!(%call, error = %e, "ring failed");
                }
                metrics_calls(self.sip.calls());
            }
            Event::Dtmf(d) => self
                .media
                .send(MediaCommand::InfoDigit { call, key: d.digit }),
            Event::MediaUpdated(negotiated) => {
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                info!(call_id = %c.sip_call_id, remote = %negotiated.remote, codec = ?negotiated.codec, direction = ?negotiated.direction, "media updated");
                self.media.send(MediaCommand::Update { call, negotiated });
                match c.stage {
                    Stage::AwaitingAnswer => {
                        c.stage = Stage::Up;
                        self.drive(call, flow_engine::Input::Answered);
                    }
                    // The prompt waits on hold (media); so do the flow's listening deadlines.
                    Stage::Up => {
                        let input = match negotiated.direction {
                            sip_ua::sdp::Direction::SendRecv => flow_engine::Input::Resumed,
                            _ => flow_engine::Input::Held,
                        };
                        self.drive(call, input);
                    }
                    Stage::Ringing { .. } | Stage::Refused => {}
                }
            }
            Event::Ended(reason) => {
                // A call whose flow never started (rejected, cancelled, a late offer without
                // an answer) has no flow to finish; a running one learns why it ended.
                let input = match reason {
                    EndReason::CallerHungUp => Some(flow_engine::Input::HungUp),
                    EndReason::AckTimeout => Some(flow_engine::Input::Dropped(DropCause::NoAck)),
                    // The rest end calls whose flow never started, or that the flow ended.
                    _ => None,
                };
                let up = self.calls.get(&call).is_some_and(|c| c.stage == Stage::Up);
                if let (true, Some(input)) = (up, input) {
                    self.drive(call, input);
                }
                // Legs placed for it, or bridged to it, go too.
                self.switch(now, call_control::Input::Sip(call, Event::Ended(reason)));
                if let Some(c) = self.calls.remove(&call) {
                    info!(call_id = %c.sip_call_id, ?reason, "call ended");
                    if let Some(port) = c.rtp_port {
                        self.ports.release(port);
                        self.media.send(MediaCommand::End { call });
                    }
                }
                metrics_calls(self.sip.calls());
            }
            Event::TransferResult(outcome) => {
                let Some(id) = self.calls.get_mut(&call).and_then(|c| c.transfer.take()) else {
                    return;
                };
                let ok = outcome == TransferOutcome::Succeeded;
                self.drive(call, flow_engine::Input::TransferResult { id, ok });
            }
            Event::Acked | Event::TransferAccepted => {}
            other => info!(%call, event = ?other, "call event"),
        }
    }
}

impl CallState {
    fn answer_at(&self) -> Option<Instant> {
        match self.stage {
            Stage::Ringing { answer_at } => Some(answer_at),
            _ => None,
        }
    }
}

/// The live dialog count (`ivrd_sip_dialogs`, a gauge on the `metrics` facade; the Prometheus
/// exporter comes with the HTTP API), also logged at debug level.
fn metrics_calls(live: usize) {
    metrics::gauge!("ivrd_sip_dialogs").set(live as f64);
    tracing::debug!(live_dialogs = live, "dialogs");
}

/// The local address the kernel would use to reach `remote`.
fn route_to(remote: SocketAddr) -> Option<IpAddr> {
    let any: SocketAddr = if remote.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let probe = std::net::UdpSocket::bind(any).ok()?;
    probe.connect(remote).ok()?;
    probe.local_addr().ok().map(|a| a.ip())
}
