//! `ivrd serve`: the SIP loop (tokio, one task) owns the sans-IO endpoint and the call-control
//! core, which holds every call, leg, bridge and flow; media workers (threads) own the RTP
//! sockets; effects (HTTP, SMS, coupons) run as tasks. They talk through channels only: the
//! core decides, this module carries its decisions out.

mod api;
mod config;
mod effects;
mod in_band;
mod legs;
mod media_meters;
mod media_worker;
mod ports;
mod prompts;
mod rtp_socket;
mod tcp;
mod tls;
mod trunks;
mod webhook;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use call_control::Input as CoreInput;
use sip_ua::{AudioCodec, CallId, Endpoint, Event, Flow, Input, Output, SipConfig, Transport};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::clock;
use crate::flows::DataSources;
pub(crate) use config::Config;
pub(crate) use media_meters::Quality;
use media_worker::{MediaReport, MediaWorkers};
use ports::PortPool;
use prompts::Prompts;
use tcp::{TcpConnections, TcpEvent, TcpLimits};
pub(crate) use webhook::signature;

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

/// The daemon: it owns the SIP endpoint, the call-control core, the media workers, the RTP
/// ports and the effect tasks, and only moves bytes and results between them.
///
/// # Run loop and drain order
/// One task, one `select!` (in [`serve`]): a SIP datagram or TCP message, a media report, an
/// effect's result, or the earliest deadline of the endpoint and the core. After each, [`drain`]
/// empties the endpoint's outputs (datagrams out; events into the core), then the core's
/// (SIP commands into the endpoint, media orders to the workers, places, effects), and repeats
/// until both are quiet, so a decision never waits for the next wake.
///
/// [`drain`]: Daemon::drain
struct Daemon {
    config: Config,
    /// Call control: every decision about calls, legs, bridges and flows.
    core: call_control::Switch,
    sip: Endpoint,
    udp: Arc<UdpSocket>,
    tcp: TcpConnections,
    /// SIP over TLS, when `[sip.tls]` is set.
    tls: Option<TcpConnections>,
    media: MediaWorkers,
    prompts: HashMap<String, Prompts>,
    ports: PortPool,
    /// The RTP port of each leg with media.
    leg_ports: HashMap<CallId, u16>,
    local_ips: HashMap<IpAddr, IpAddr>,
    /// The configured name of each trunk the endpoint registers with.
    trunk_names: HashMap<sip_ua::TrunkId, String>,
    data: DataSources,
    http: reqwest::Client,
    replies: mpsc::UnboundedSender<(CallId, flow_engine::Input)>,
    sms: crate::sms::Sms,
    /// Push calls placed through the API, by id, until their outcome is out.
    pushes: HashMap<String, api::PushMeta>,
    push_log: crate::push_log::PushLog,
    tickets: crate::tickets::TicketLog,
    agent_events: tokio::sync::broadcast::Sender<(String, String)>,
    cdrs: crate::cdr::CdrLog,
    /// Placed legs' SIP Call-IDs (their records carry none), until their record is written.
    leg_call_ids: HashMap<CallId, String>,
    /// Legs whose media was ended: how it went, once the worker says.
    media_quality: HashMap<CallId, Option<Quality>>,
    /// Records waiting for their leg's media quality.
    pending_cdrs: HashMap<CallId, Box<call_control::CallRecord>>,
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
    let tcp = TcpConnections::listen(listen, limits, tcp_tx, None).await?;
    let (tls_tx, mut tls_rx) = mpsc::unbounded_channel();
    let tls = match &config.sip.tls {
        crate::serve::config::TlsSection {
            listen: Some(at),
            cert: Some(cert),
            key: Some(key),
        } => {
            let server = tls::server_config(cert, key)?;
            let tls = TcpConnections::listen(*at, limits, tls_tx, Some(server)).await?;
            info!(listen = %tls.local, "SIP over TLS");
            Some(tls)
        }
        _ => None,
    };
    let (report_tx, mut report_rx) = mpsc::unbounded_channel::<MediaReport>();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let media = MediaWorkers::start(workers, report_tx, config.rtp.rtcp)?;
    let seed = clock::entropy();
    let (replies, mut replies_rx) = mpsc::unbounded_channel();
    let http = reqwest::Client::builder()
        .user_agent(concat!("ivrd/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| anyhow::anyhow!("HTTP client: {e}"))?;
    let cdrs = crate::cdr::CdrLog::open(&config.sms.store)?;
    let sms = crate::sms::Sms::start(&config.sms, http.clone(), cdrs.clone()).await?;
    let push_log = crate::push_log::PushLog::open(&config.sms.store)?;
    let tickets = crate::tickets::TicketLog::open(&config.sms.store)?;
    let (agent_events, _) = tokio::sync::broadcast::channel(256);
    if let Some(url) = &config.tickets.webhook_url {
        let secret = match &config.tickets.webhook_secret_env {
            Some(var) => crate::sms::config::secret("", Some(var))?,
            None => String::new(),
        };
        webhook::spawn(tickets.clone(), http.clone(), url.clone(), secret);
    }
    let ops = crate::http::Ops {
        prometheus: crate::meters::install()?,
        cdrs: cdrs.clone(),
        metrics_open: !config.http.metrics_need_token,
    };
    let (api_tx, mut api_rx) = mpsc::unbounded_channel();
    let api = crate::http::calls::Api {
        commands: api_tx,
        log: push_log.clone(),
        tickets: tickets.clone(),
        agent_events: agent_events.clone(),
        ring_timeout_s: config.push.ring_timeout_s,
    };
    crate::http::start(&config, sms.clone(), api, ops).await?;
    let codecs = config.codecs().map_err(anyhow::Error::msg)?;
    // ivrd is the agents' registrar when any agent has a password to register with.
    let registrar = loaded.queues.agents.iter().any(|a| a.password.is_some());
    let mut core_config = core_config(&config, loaded.flows, loaded.queues, &codecs, seed);
    core_config.srtp_seed = call_control::SrtpSeed(clock::secret_seed()?);
    let core = call_control::Switch::new(core_config);
    let mut d = Daemon {
        data: loaded.data,
        http,
        replies,
        sms,
        pushes: HashMap::new(),
        push_log,
        tickets,
        agent_events,
        cdrs,
        leg_call_ids: HashMap::new(),
        media_quality: HashMap::new(),
        pending_cdrs: HashMap::new(),
        sip: Endpoint::new(SipConfig {
            t1: config.t1(),
            seed,
            codecs,
            admission: config
                .sip
                .admission
                .to_admission(config.rtp_ports(), &config.trunks),
            registrar,
            ..SipConfig::default()
        }),
        ports: PortPool::new(
            config.sip.listen.ip(),
            config.rtp.port_min,
            config.rtp.port_max,
            clock::secure_random(),
        ),
        core,
        leg_ports: HashMap::new(),
        config,
        udp: udp.clone(),
        tcp,
        tls,
        media,
        prompts,
        local_ips: HashMap::new(),
        trunk_names: HashMap::new(),
    };
    d.start_trunks(clock::now());
    info!(%listen, "listening for SIP on UDP and TCP");
    let mut buf = vec![0u8; 65_536];
    let mut publish = tokio::time::interval(Duration::from_secs(1));
    publish.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let wake = [d.sip.poll_timeout(), d.core.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        tokio::select! {
            r = udp.recv_from(&mut buf) => match r {
                Ok((n, remote)) => {
                    let flow = d.flow(Transport::Udp, remote);
                    d.sip.handle_input(clock::now(), Input::Datagram { flow, data: &buf[..n] });
                }
                Err(e) => warn!(error = %e, "SIP UDP receive failed"),
            },
            Some(event) = tcp_rx.recv() => d.stream_event(Transport::Tcp, event),
            Some(event) = tls_rx.recv() => d.stream_event(Transport::Tls, event),
            Some(r) = report_rx.recv() => d.media_report(r),
            _ = publish.tick() => d.publish(),
            Some((call, input)) = replies_rx.recv() => {
                d.core.handle_input(clock::now(), CoreInput::Effect(call, input));
            }
            Some(command) = api_rx.recv() => d.api(command),
            _ = sleep_until(wake) => {
                let now = clock::now();
                d.sip.handle_input(now, Input::Timeout);
                d.core.handle_input(now, CoreInput::Timeout);
            }
        }
        d.drain().await;
    }
}

/// What call control needs of the configuration.
fn core_config(
    config: &Config,
    flows: flow_engine::FlowSet,
    queues: call_control::QueueSet,
    codecs: &[AudioCodec],
    seed: u64,
) -> call_control::Config {
    let flows_section = &config.flows;
    let mut core = call_control::Config::new(Arc::new(flows), &flows_section.default);
    core.routes = flows_section
        .routes
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    core.vars = flows_section
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    core.answer_after = Duration::from_millis(config.call.answer_after_ms);
    core.codecs = codecs.to_vec();
    core.telephone_event = TELEPHONE_EVENT;
    core.media = call_control::MediaSettings {
        accept_from: config.rtp.accept_from.into(),
        send_silence: config.rtp.send_silence,
        inactivity_ticks: (config.rtp.inactivity_s * 50) as u32,
        reorder_window: 3,
        rtcp: config.rtp.rtcp,
        srtp: config.rtp.srtp.into(),
    };
    core.trunks = config
        .trunks
        .iter()
        .map(|(name, t)| {
            let proxy = sip_ua::SourceNet::host(t.proxy.ip());
            let sources = t.sources.iter().filter_map(|n| n.parse().ok()); // checked on reading
            let policy = call_control::TrunkPolicy {
                caller_id: t.caller_id.clone(),
                max_calls: t.max_calls,
                sources: std::iter::once(proxy).chain(sources).collect(),
                srtp: t.srtp.into(),
            };
            (name.clone(), policy)
        })
        .collect();
    core.push_per_second = config.push.per_second;
    core.queues = queues;
    core.seed = seed;
    core
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl Daemon {
    /// The flow for a peer: our advertised address is the configured one, the listen address,
    /// or the local address that routes to the peer.
    /// An event of a TCP or TLS connection: a message to the endpoint, or a connection opened
    /// or closed to its listener's table.
    fn stream_event(&mut self, transport: Transport, event: TcpEvent) {
        match event {
            TcpEvent::Message { remote, data } => {
                let flow = self.flow(transport, remote);
                self.sip
                    .handle_input(clock::now(), Input::Datagram { flow, data: &data });
            }
            TcpEvent::Oversized { remote, head } => {
                let flow = self.flow(transport, remote);
                self.sip
                    .handle_input(clock::now(), Input::Oversized { flow, head: &head });
            }
            other => match (transport, &mut self.tls) {
                (Transport::Tls, Some(tls)) => tls.handle_event(other),
                (Transport::Tls, None) => {}
                _ => self.tcp.handle_event(other),
            },
        }
    }

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
        let port = match (transport, &self.tls) {
            (Transport::Tls, Some(tls)) => tls.local.port(),
            _ => listen.port(),
        };
        Flow {
            transport,
            remote,
            local: SocketAddr::new(ip, port),
        }
    }

    /// Empties the endpoint's and the core's outputs, in turn, until both are quiet.
    async fn drain(&mut self) {
        loop {
            let mut quiet = true;
            while let Some(output) = self.sip.poll_output() {
                quiet = false;
                match output {
                    Output::Transmit(t) => match t.flow.transport {
                        Transport::Udp => {
                            if let Err(e) = self.udp.send_to(&t.data, t.flow.remote).await {
                                warn!(remote = %t.flow.remote, error = %e, "SIP UDP send failed");
                            }
                        }
                        Transport::Tcp => self.tcp.send(t.flow.remote, t.data),
                        Transport::Tls => match &mut self.tls {
                            Some(tls) => tls.send(t.flow.remote, t.data),
                            None => {
                                warn!(remote = %t.flow.remote, "no TLS listener; message dropped")
                            }
                        },
                    },
                    Output::Event(call, event) => self.sip_event(call, event),
                    Output::Trunk(id, event) => self.trunk_event(id, event),
                    Output::Register(r) => {
                        let now = clock::now();
                        self.core
                            .handle_input(now, call_control::Input::Register(r));
                    }
                }
            }
            while let Some(output) = self.core.poll_output() {
                quiet = false;
                self.carry_out(output);
            }
            if quiet {
                return;
            }
        }
    }

    fn sip_event(&mut self, call: CallId, event: Event) {
        let now = clock::now();
        let input = match event {
            Event::Incoming(incoming) => CoreInput::Incoming {
                call,
                incoming,
                unix_ms: clock::unix_ms(),
            },
            other => CoreInput::Sip(call, other),
        };
        self.core.handle_input(now, input);
    }

    /// The counters and gauges the SIP loop owns, for the next scrape.
    pub(super) fn publish(&self) {
        crate::meters::publish(self.sip.stats(), self.sip.calls(), &self.core);
    }

    fn media_report(&mut self, report: MediaReport) {
        match report {
            MediaReport::Event { call, event, tag } => {
                if let media::MediaEvent::Digit { source, .. } = event {
                    crate::meters::digit(source);
                }
                self.core
                    .handle_input(clock::now(), CoreInput::Media(call, event, tag));
            }
            MediaReport::Ended { call, quality } => match self.pending_cdrs.remove(&call) {
                Some(record) => {
                    self.media_quality.remove(&call);
                    self.write_cdr(&record, Some(&quality));
                }
                None => {
                    if let Some(slot) = self.media_quality.get_mut(&call) {
                        *slot = Some(quality);
                    }
                }
            },
        }
    }

    /// A leg's record: counted, and stored once its media's quality is known.
    pub(super) fn call_record(&mut self, record: Box<call_control::CallRecord>) {
        crate::meters::call_record(&record);
        match self.media_quality.get(&record.leg) {
            Some(None) => {
                self.pending_cdrs.insert(record.leg, record);
            }
            Some(Some(_)) => {
                let quality = self.media_quality.remove(&record.leg).flatten();
                self.write_cdr(&record, quality.as_ref());
            }
            None => self.write_cdr(&record, None),
        }
    }

    fn write_cdr(&mut self, record: &call_control::CallRecord, quality: Option<&Quality>) {
        let sip_call_id = self
            .leg_call_ids
            .remove(&record.leg)
            .unwrap_or_else(|| record.id.clone());
        self.cdrs.write(record, &sip_call_id, quality);
    }
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
