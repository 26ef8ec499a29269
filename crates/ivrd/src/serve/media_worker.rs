//! Media workers: plain threads, each owning a share of the calls and their RTP sockets. Every
//! 20 ms a worker drains each call's socket (non-blocking), feeds the packets to its
//! `CallMedia`, takes one tick and sends the packet out: one timer per worker, none per call or
//! packet. Calls are spread over the workers by id.

use std::net::UdpSocket;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::Duration;

use media::{CallMedia, CallMediaConfig, Law, MediaDirection, MediaEvent, PlayItem};
use sip_ua::sdp::Direction;
use sip_ua::{AudioCodec, CallId, Negotiated};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

use crate::clock;

/// Pacing interval.
const TICK: Duration = Duration::from_millis(20);

pub(crate) enum MediaCommand {
    Start {
        call: CallId,
        sip_call_id: String,
        socket: UdpSocket,
        config: CallMediaConfig,
    },
    Play {
        call: CallId,
        items: Vec<PlayItem>,
        barge_in: bool,
        /// Echoed in the report of this playlist's end.
        tag: u64,
    },
    Stop {
        call: CallId,
    },
    InfoDigit {
        call: CallId,
        key: char,
    },
    /// A re-INVITE or a late offer's answer: address, codec, telephone-event, hold.
    Update {
        call: CallId,
        negotiated: Negotiated,
    },
    End {
        call: CallId,
    },
}

impl MediaCommand {
    fn call(&self) -> CallId {
        match self {
            Self::Start { call, .. }
            | Self::Play { call, .. }
            | Self::Stop { call }
            | Self::InfoDigit { call, .. }
            | Self::Update { call, .. }
            | Self::End { call } => *call,
        }
    }
}

/// What workers tell the SIP loop.
pub(crate) struct MediaReport {
    pub(crate) call: CallId,
    pub(crate) event: MediaEvent,
    /// The tag of the playlist playing when the event happened.
    pub(crate) tag: u64,
}

struct Live {
    call: CallId,
    sip_call_id: String,
    socket: UdpSocket,
    media: CallMedia,
    tag: u64,
}

/// Handles to the workers.
pub(crate) struct MediaWorkers {
    senders: Vec<Sender<MediaCommand>>,
}

impl MediaWorkers {
    pub(crate) fn start(
        count: usize,
        reports: UnboundedSender<MediaReport>,
    ) -> anyhow::Result<Self> {
        let mut senders = Vec::new();
        for i in 0..count.max(1) {
            let (tx, rx) = std::sync::mpsc::channel();
            let reports = reports.clone();
            std::thread::Builder::new()
                .name(format!("media-{i}"))
                .spawn(move || run(&rx, &reports))?;
            senders.push(tx);
        }
        Ok(Self { senders })
    }

    pub(crate) fn send(&self, command: MediaCommand) {
        let i = command.call_index() % self.senders.len();
        if self.senders[i].send(command).is_err() {
            warn!("media worker {i} has stopped");
        }
    }
}

impl MediaCommand {
    fn call_index(&self) -> usize {
        let id = self.call().to_string();
        id.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        })
    }
}

fn run(commands: &Receiver<MediaCommand>, reports: &UnboundedSender<MediaReport>) {
    let mut calls: Vec<Live> = Vec::new();
    let mut buf = vec![0u8; 2048];
    let mut packet = Vec::with_capacity(256);
    let mut next = clock::now();
    loop {
        loop {
            match commands.try_recv() {
                Ok(command) => apply(&mut calls, command),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        for live in &mut calls {
            loop {
                match live.socket.recv_from(&mut buf) {
                    Ok((n, from)) => live.media.handle_rtp(from, &buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        // ICMP port unreachable surfaces here on Linux: the peer's socket is
                        // gone; inactivity will end the call.
                        if e.kind() != std::io::ErrorKind::ConnectionRefused {
                            warn!(call_id = %live.sip_call_id, error = %e, "RTP receive failed");
                        }
                        break;
                    }
                }
            }
            if let Some(to) = live.media.handle_tick(&mut packet)
                && let Err(e) = live.socket.send_to(&packet, to)
                && e.kind() != std::io::ErrorKind::ConnectionRefused
            {
                warn!(call_id = %live.sip_call_id, error = %e, "RTP send failed");
            }
            while let Some(event) = live.media.poll_event() {
                let _ = reports.send(MediaReport {
                    call: live.call,
                    event,
                    tag: live.tag,
                });
            }
        }
        next += TICK;
        let now = clock::now();
        if next + 5 * TICK < now {
            warn!(
                behind_ms = (now - next).as_millis() as u64,
                "media worker overloaded; skipping ahead"
            );
            next = now;
        }
        clock::sleep_until(next);
    }
}

fn apply(calls: &mut Vec<Live>, command: MediaCommand) {
    let find = |calls: &mut Vec<Live>, call: CallId| calls.iter().position(|l| l.call == call);
    match command {
        MediaCommand::Start {
            call,
            sip_call_id,
            socket,
            config,
        } => {
            if let Err(e) = socket.set_nonblocking(true) {
                warn!(call_id = %sip_call_id, error = %e, "RTP socket setup failed");
                return;
            }
            calls.push(Live {
                call,
                sip_call_id,
                socket,
                media: CallMedia::new(config),
                tag: 0,
            });
        }
        MediaCommand::Play {
            call,
            items,
            barge_in,
            tag,
        } => {
            if let Some(i) = find(calls, call) {
                calls[i].tag = tag;
                calls[i].media.play(items, barge_in);
            }
        }
        MediaCommand::Stop { call } => {
            if let Some(i) = find(calls, call) {
                calls[i].media.stop();
            }
        }
        MediaCommand::InfoDigit { call, key } => {
            if let Some(i) = find(calls, call) {
                calls[i].media.handle_info_digit(key);
            }
        }
        MediaCommand::Update { call, negotiated } => {
            if let Some(i) = find(calls, call) {
                let n = negotiated;
                let media = &mut calls[i].media;
                media.renegotiate(
                    n.remote,
                    law(n.codec),
                    n.codec.payload_type(),
                    n.telephone_event,
                );
                media.set_direction(direction(n.direction));
            }
        }
        MediaCommand::End { call } => {
            if let Some(i) = find(calls, call) {
                let live = calls.swap_remove(i);
                let s = live.media.stats();
                info!(
                    call_id = %live.sip_call_id,
                    delivered = s.delivered, late = s.late, duplicate = s.duplicate,
                    lost = s.lost, invalid = s.invalid, foreign = s.foreign,
                    "media ended"
                );
            }
        }
    }
}

pub(crate) fn law(codec: AudioCodec) -> Law {
    match codec {
        AudioCodec::Pcmu => Law::Ulaw,
        AudioCodec::Pcma => Law::Alaw,
    }
}

fn direction(d: Direction) -> MediaDirection {
    match d {
        Direction::SendRecv => MediaDirection::SendRecv,
        Direction::SendOnly => MediaDirection::SendOnly,
        Direction::RecvOnly => MediaDirection::RecvOnly,
        Direction::Inactive => MediaDirection::Inactive,
    }
}
