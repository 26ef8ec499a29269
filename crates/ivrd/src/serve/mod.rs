//! `ivrd serve`: the SIP loop (tokio, one task) owns the sans-IO endpoint and the calls' demo
//! state; media workers (threads) own the RTP sockets. They talk through channels only.

mod config;
mod demo;
mod media_worker;
mod ports;
mod prompts;
mod tcp;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::{CallMediaConfig, Law, MediaEvent};
use sip_ua::{
    AudioCodec, CallId, Command, Endpoint, Event, Flow, Input, LocalMedia, Output, SipConfig,
    Transport,
};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::clock;
pub(crate) use config::Config;
use demo::{Action, DemoCall};
use media_worker::{MediaCommand, MediaReport, MediaWorkers};
use ports::PortPool;
use prompts::Prompts;
use tcp::{TcpConnections, TcpEvent};

/// Command-line overrides of the config file.
pub(crate) struct Overrides {
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) rtp_ports: Option<(u16, u16)>,
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
    let prompt_dir = config.media.prompts.join(&config.media.language);
    let prompts = Prompts::load(&prompt_dir)?;
    info!(dir = %prompt_dir.display(), count = prompts.len(), "prompts loaded");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(config, prompts))
}

struct CallState {
    sip_call_id: String,
    demo: DemoCall,
    flow: Flow,
    offer: sip_ua::MediaOffer,
    rtp_port: Option<u16>,
}

struct Daemon {
    config: Config,
    codecs: Vec<AudioCodec>,
    sip: Endpoint,
    udp: Arc<UdpSocket>,
    tcp: TcpConnections,
    media: MediaWorkers,
    prompts: Prompts,
    ports: PortPool,
    calls: HashMap<CallId, CallState>,
    local_ips: HashMap<IpAddr, IpAddr>,
    seed: u64,
}

async fn serve(config: Config, prompts: Prompts) -> anyhow::Result<()> {
    let listen = config.sip.listen;
    let udp = Arc::new(
        UdpSocket::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("SIP UDP {listen}: {e}"))?,
    );
    let (tcp_tx, mut tcp_rx) = mpsc::unbounded_channel();
    let tcp = TcpConnections::listen(listen, tcp_tx).await?;
    let (report_tx, mut report_rx) = mpsc::unbounded_channel::<MediaReport>();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let media = MediaWorkers::start(workers, report_tx)?;
    let seed = clock::entropy();
    let mut d = Daemon {
        codecs: config.codecs().map_err(anyhow::Error::msg)?,
        sip: Endpoint::new(SipConfig {
            t1: config.t1(),
            seed,
            ..SipConfig::default()
        }),
        ports: PortPool::new(
            config.sip.listen.ip(),
            config.rtp.port_min,
            config.rtp.port_max,
        ),
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
                other => d.tcp.handle_event(other),
            },
            Some(report) = report_rx.recv() => d.handle_media(report),
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
            .filter_map(|c| c.demo.deadline())
            .chain(self.sip.poll_timeout())
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
        let due: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.demo.deadline().is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for call in due {
            let actions = match self.calls.get_mut(&call) {
                Some(c) => c.demo.handle_timeout(now),
                None => continue,
            };
            self.act(call, actions);
        }
    }

    fn handle_media(&mut self, report: MediaReport) {
        let now = clock::now();
        let Some(c) = self.calls.get_mut(&report.call) else {
            return;
        };
        match report.event {
            MediaEvent::Digit { key, source } => {
                info!(call_id = %c.sip_call_id, key = %key, ?source, "digit");
            }
            MediaEvent::Inactive => {
                warn!(call_id = %c.sip_call_id, "no RTP from the caller: hanging up");
            }
            _ => {}
        }
        let actions = c.demo.handle_media(now, report.event);
        self.act(report.call, actions);
    }

    fn act(&mut self, call: CallId, actions: Vec<Action>) {
        for action in actions {
            let now = clock::now();
            let result = match action {
                Action::Answer => self.answer(now, call),
                Action::Play { prompts, barge_in } => {
                    let (items, missing) = demo::playlist(&self.prompts, &prompts);
                    if !missing.is_empty() {
                        warn!(?missing, "prompts not found; playing silence instead");
                    }
                    self.media.send(MediaCommand::Play {
                        call,
                        items,
                        barge_in,
                    });
                    Ok(())
                }
                Action::HangUp => self.sip.handle_command(now, call, Command::HangUp),
            };
            if let Err(e) = result {
                warn!(%call, error = %e, "call action failed");
            }
        }
    }

    fn answer(&mut self, now: Instant, call: CallId) -> Result<(), sip_ua::SipError> {
        let Some(c) = self.calls.get_mut(&call) else {
            return Err(sip_ua::SipError::NoSuchCall);
        };
        let negotiated = match c.offer.negotiate(&self.codecs) {
            Ok(n) => n,
            Err(e) => {
                warn!(call_id = %c.sip_call_id, error = %e, "no usable codec");
                return self
                    .sip
                    .handle_command(now, call, Command::Reject { status: 488 });
            }
        };
        let Some((port, socket)) = self.ports.allocate() else {
            error!(call_id = %c.sip_call_id, "RTP port range exhausted");
            return self
                .sip
                .handle_command(now, call, Command::Reject { status: 503 });
        };
        c.rtp_port = Some(port);
        self.seed = self
            .seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let r = self.seed >> 16;
        let local = LocalMedia {
            rtp: SocketAddr::new(c.flow.local.ip(), port),
            session_id: r & 0xffff_ffff,
            version: 1,
        };
        let config = CallMediaConfig {
            law: match negotiated.codec {
                AudioCodec::Pcmu => Law::Ulaw,
                AudioCodec::Pcma => Law::Alaw,
            },
            audio_payload_type: negotiated.codec.payload_type(),
            telephone_event: negotiated.telephone_event,
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
            remote: negotiated.remote,
            config,
        });
        info!(call_id = %c.sip_call_id, codec = ?negotiated.codec, telephone_event = ?negotiated.telephone_event, rtp_port = port, "answering");
        self.sip
            .handle_command(now, call, Command::Answer { local, negotiated })
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
        match event {
            Event::Incoming(incoming) => {
                info!(call_id = %incoming.sip_call_id, caller = %incoming.caller, callee = %incoming.callee, "incoming call");
                let flow = incoming.flow;
                self.calls.insert(
                    call,
                    CallState {
                        sip_call_id: incoming.sip_call_id.clone(),
                        demo: DemoCall::new(
                            now,
                            Duration::from_millis(self.config.demo.answer_after_ms),
                            Duration::from_secs(self.config.demo.idle_timeout_s),
                        ),
                        flow,
                        offer: incoming.offer,
                        rtp_port: None,
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
            Event::MediaUpdated(n) => {
                if let Some(c) = self.calls.get(&call) {
                    info!(call_id = %c.sip_call_id, remote = %n.remote, direction = ?n.direction, "media updated by re-INVITE");
                }
                self.media.send(MediaCommand::Remote {
                    call,
                    remote: n.remote,
                });
            }
            Event::Ended(reason) => {
                if let Some(c) = self.calls.remove(&call) {
                    info!(call_id = %c.sip_call_id, ?reason, digits = %c.demo.digits, "call ended");
                    if let Some(port) = c.rtp_port {
                        self.ports.release(port);
                        self.media.send(MediaCommand::End { call });
                    }
                }
                metrics_calls(self.sip.calls());
            }
            Event::Acked | Event::TransferAccepted | Event::TransferResult(_) => {}
            other => info!(%call, event = ?other, "call event"),
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
