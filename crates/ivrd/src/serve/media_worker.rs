//! Media workers: plain threads, each owning a share of the calls and their RTP sockets. Every
//! 20 ms a worker drains each call's socket (non-blocking) and feeds the packets to its
//! `CallMedia`; then each bridge passes what one leg heard to the other; then every call takes
//! one tick and sends its packet out; then what every call heard and played this tick goes
//! through the worker's in-band DTMF bank (`in_band.rs`): one timer per worker, none per call or
//! packet.
//!
//! Calls are spread over the workers by a home call: its own id, or for a leg we placed, its
//! caller's, so that both legs of a bridge live on one worker. Within a worker calls sit side by
//! side in a vector for the tick, and are found by id through an index, not by a scan.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::UdpSocket;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::Duration;

use media::rtcp::NtpTime;

use super::in_band::InBandBank;
use media::{CallMedia, CallMediaConfig, MediaDirection, MediaEvent, PlayItem};
use sip_ua::sdp::Direction;
use sip_ua::{CallId, Negotiated};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

use super::media_meters::{Quality, RtpMeters};
use super::ports::RtpSockets;
use crate::clock;

/// Pacing interval.
const TICK: Duration = Duration::from_millis(20);

pub(crate) enum MediaCommand {
    Start {
        call: CallId,
        sip_call_id: String,
        sockets: RtpSockets,
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
    /// Join two legs (both started on this worker).
    Bridge {
        a: CallId,
        b: CallId,
    },
    /// Part them.
    Unbridge {
        a: CallId,
        b: CallId,
    },
}

/// What workers tell the SIP loop.
pub(crate) enum MediaReport {
    /// Something happened on a leg, with the tag of the playlist playing then.
    Event {
        call: CallId,
        event: MediaEvent,
        tag: u64,
    },
    /// A leg's media ended ([`MediaCommand::End`]): how it went (zero if it never started).
    Ended { call: CallId, quality: Quality },
}

struct Live {
    call: CallId,
    sip_call_id: String,
    socket: UdpSocket,
    /// RTP + 1 (read and written only when RTCP is not muxed).
    rtcp_socket: UdpSocket,
    media: CallMedia,
    tag: u64,
    /// The other leg, while bridged.
    bridged: Option<CallId>,
    /// Its channel of the worker's in-band bank (given by [`Calls::insert`]).
    channel: usize,
}

/// A worker's calls: kept side by side for the 20 ms pass (no pointer chasing), found by id
/// through an index.
#[derive(Default)]
struct Calls {
    lives: Vec<Live>,
    index: HashMap<CallId, usize>,
    in_band: InBandBank,
}

impl Calls {
    fn insert(&mut self, mut live: Live) {
        live.media.share_in_band();
        match self.index.get(&live.call) {
            Some(&i) => {
                self.in_band.detach(self.lives[i].channel);
                live.channel = self.in_band.attach();
                self.lives[i] = live;
            }
            None => {
                live.channel = self.in_band.attach();
                self.index.insert(live.call, self.lives.len());
                self.lives.push(live);
            }
        }
    }

    /// Every call's in-band tones for this tick, through the bank.
    fn detect_in_band(&mut self) {
        let Self { lives, in_band, .. } = self;
        in_band.run(lives.iter_mut().map(|live| (live.channel, &mut live.media)));
        for &(i, key) in in_band.pressed() {
            if let Some(live) = lives.get_mut(i) {
                live.media.in_band_pressed(key);
            }
        }
    }

    fn get_mut(&mut self, call: &CallId) -> Option<&mut Live> {
        let i = *self.index.get(call)?;
        self.lives.get_mut(i)
    }

    fn contains_key(&self, call: &CallId) -> bool {
        self.index.contains_key(call)
    }

    fn remove(&mut self, call: &CallId) -> Option<Live> {
        let i = self.index.remove(call)?;
        let live = self.lives.swap_remove(i);
        if let Some(moved) = self.lives.get(i) {
            self.index.insert(moved.call, i);
        }
        self.in_band.detach(live.channel);
        Some(live)
    }

    /// Both legs of a bridge, mutably.
    fn pair_mut(&mut self, a: &CallId, b: &CallId) -> Option<(&mut Live, &mut Live)> {
        let (i, j) = (*self.index.get(a)?, *self.index.get(b)?);
        if i == j {
            return None;
        }
        let (low, high) = (i.min(j), i.max(j));
        let (left, right) = self.lives.split_at_mut(high);
        let (first, second) = (&mut left[low], &mut right[0]);
        Some(if i < j {
            (first, second)
        } else {
            (second, first)
        })
    }
}

/// Handles to the workers.
pub(crate) struct MediaWorkers {
    senders: Vec<Sender<MediaCommand>>,
}

impl MediaWorkers {
    /// `count` workers; `rtcp`: whether legs send and read RTCP.
    pub(crate) fn start(
        count: usize,
        reports: UnboundedSender<MediaReport>,
        rtcp: bool,
    ) -> anyhow::Result<Self> {
        let mut senders = Vec::new();
        for i in 0..count.max(1) {
            let (tx, rx) = std::sync::mpsc::channel();
            let reports = reports.clone();
            std::thread::Builder::new()
                .name(format!("media-{i}"))
                .spawn(move || run(&rx, &reports, rtcp))?;
            senders.push(tx);
        }
        Ok(Self { senders })
    }

    /// Sends a command to `home`'s worker (a placed leg lives with its caller).
    pub(crate) fn send_home(&self, home: CallId, command: MediaCommand) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        home.hash(&mut h);
        let i = (h.finish() % self.senders.len() as u64) as usize;
        if self.senders[i].send(command).is_err() {
            warn!("media worker {i} has stopped");
        }
    }
}

fn run(commands: &Receiver<MediaCommand>, reports: &UnboundedSender<MediaReport>, rtcp: bool) {
    let mut calls = Calls::default();
    let mut buf = vec![0u8; 2048];
    let mut packet = Vec::with_capacity(256);
    let mut relays: Vec<(CallId, char)> = Vec::new();
    let mut meters = RtpMeters::default();
    let mut next = clock::now();
    loop {
        loop {
            match commands.try_recv() {
                Ok(command) => apply(&mut calls, command, reports, &mut meters, rtcp),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        let wall = NtpTime::from_unix(clock::since_unix_epoch());
        for live in &mut calls.lives {
            let reports = receive(live, &mut buf, wall);
            meters.rtcp_received(reports);
        }
        exchange(&mut calls);
        for live in &mut calls.lives {
            if let Some(to) = live.media.handle_tick(&mut packet) {
                match live.socket.send_to(&packet, to) {
                    Ok(_) => meters.sent(),
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                    Err(e) => warn!(call_id = %live.sip_call_id, error = %e, "RTP send failed"),
                }
            }
            if let Some(to) = live.media.poll_rtcp(wall, &mut packet) {
                let socket = match live.media.rtcp_muxed() {
                    true => &live.socket,
                    false => &live.rtcp_socket,
                };
                match socket.send_to(&packet, to) {
                    Ok(_) => meters.rtcp_sent(),
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                    Err(e) => warn!(call_id = %live.sip_call_id, error = %e, "RTCP send failed"),
                }
            }
        }
        // After the ticks: what each call heard and played this tick.
        calls.detect_in_band();
        for live in &mut calls.lives {
            let call = live.call;
            while let Some(event) = live.media.poll_event() {
                // A key pressed on one leg of a bridge is sent on the other as RFC 4733;
                // in-band tones pass in the audio itself.
                if let (MediaEvent::Digit { key, source }, Some(other)) = (event, live.bridged)
                    && source != media::DigitSource::InBand
                {
                    relays.push((other, key));
                }
                let _ = reports.send(MediaReport::Event {
                    call,
                    event,
                    tag: live.tag,
                });
            }
        }
        for (call, key) in relays.drain(..) {
            if let Some(live) = calls.get_mut(&call) {
                live.media.send_digit(key);
            }
        }
        meters.tick(calls.lives.iter().map(|l| l.media.stats()));
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

/// Drains a call's sockets: RTP (with RTCP told apart on it when muxed, RFC 5761 §4), then
/// RTCP. `wall` stands in for a datagram's arrival when the kernel gave no timestamp. Returns
/// how many RTCP reports were taken.
fn receive(live: &mut Live, buf: &mut [u8], wall: NtpTime) -> u64 {
    let muxed = live.media.rtcp_muxed();
    let mut reports = 0;
    for rtcp_port in [false, true] {
        let socket = if rtcp_port {
            &live.rtcp_socket
        } else {
            &live.socket
        };
        loop {
            match super::rtp_socket::recv_stamped(socket, buf) {
                Ok((n, from, arrival)) => {
                    let data = &buf[..n];
                    if rtcp_port || (muxed && media::rtcp::is_rtcp(data)) {
                        let at = arrival.map_or(wall, NtpTime::from_unix);
                        reports += u64::from(live.media.handle_rtcp(from, data, at));
                    } else {
                        live.media.handle_rtp_at(from, data, arrival);
                    }
                }
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
    }
    reports
}

/// Each bridge: what one leg heard goes to the other (each pair once, from its lower id).
fn exchange(calls: &mut Calls) {
    let pairs: Vec<(CallId, CallId)> = calls
        .lives
        .iter()
        .filter_map(|live| {
            live.bridged
                .filter(|&b| live.call < b)
                .map(|b| (live.call, b))
        })
        .collect();
    for (a, b) in pairs {
        let Some((la, lb)) = calls.pair_mut(&a, &b) else {
            continue;
        };
        let (heard_a, heard_b) = (la.media.take_heard(), lb.media.take_heard());
        lb.media.send_heard(heard_a);
        la.media.send_heard(heard_b);
    }
}

fn apply(
    calls: &mut Calls,
    command: MediaCommand,
    reports: &UnboundedSender<MediaReport>,
    meters: &mut RtpMeters,
    rtcp: bool,
) {
    match command {
        MediaCommand::Start {
            call,
            sip_call_id,
            sockets,
            config,
        } => {
            let RtpSockets { rtp, rtcp } = sockets;
            if let Err(e) = rtp.set_nonblocking(true).and(rtcp.set_nonblocking(true)) {
                warn!(call_id = %sip_call_id, error = %e, "RTP socket setup failed");
                return;
            }
            if !(super::rtp_socket::stamp_arrivals(&rtp)
                && super::rtp_socket::stamp_arrivals(&rtcp))
            {
                warn!(call_id = %sip_call_id, "no kernel receive timestamps: jitter not measured");
            }
            calls.insert(Live {
                call,
                sip_call_id,
                socket: rtp,
                rtcp_socket: rtcp,
                media: CallMedia::new(config),
                tag: 0,
                bridged: None,
                channel: 0,
            });
        }
        MediaCommand::Play {
            call,
            items,
            barge_in,
            tag,
        } => {
            if let Some(live) = calls.get_mut(&call) {
                live.tag = tag;
                live.media.play(items, barge_in);
            }
        }
        MediaCommand::Stop { call } => {
            if let Some(live) = calls.get_mut(&call) {
                live.media.stop();
            }
        }
        MediaCommand::InfoDigit { call, key } => {
            if let Some(live) = calls.get_mut(&call) {
                live.media.handle_info_digit(key);
            }
        }
        MediaCommand::Update { call, negotiated } => {
            if let Some(live) = calls.get_mut(&call) {
                let n = negotiated;
                let media = &mut live.media;
                media.renegotiate(
                    n.remote,
                    call_control::law(n.codec),
                    n.codec.payload_type(),
                    n.telephone_event,
                    call_control::rtcp_mode(&n, rtcp),
                );
                media.set_srtp(call_control::srtp_keys(&n));
                media.set_direction(direction(n.direction));
            }
        }
        MediaCommand::Bridge { a, b } => {
            if !(calls.contains_key(&a) && calls.contains_key(&b)) {
                warn!(%a, %b, "bridge: a leg is not on this worker");
                return;
            }
            for (this, other) in [(a, b), (b, a)] {
                if let Some(live) = calls.get_mut(&this) {
                    live.bridged = Some(other);
                    live.media.bridge();
                }
            }
        }
        MediaCommand::Unbridge { a, b } => {
            for call in [a, b] {
                if let Some(live) = calls.get_mut(&call) {
                    live.bridged = None;
                    live.media.unbridge();
                }
            }
        }
        MediaCommand::End { call } => {
            let Some(live) = calls.remove(&call) else {
                let quality = Quality::default();
                let _ = reports.send(MediaReport::Ended { call, quality });
                return;
            };
            if let Some(other) = live.bridged.and_then(|o| calls.get_mut(&o)) {
                other.bridged = None;
                other.media.unbridge();
            }
            let s = live.media.stats();
            let (jitter, max_jitter) = live.media.jitter();
            let r = live.media.rtcp_quality();
            let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
            info!(
                call_id = %live.sip_call_id,
                delivered = s.delivered, late = s.late, duplicate = s.duplicate,
                lost = s.lost, invalid = s.invalid, foreign = s.foreign,
                jitter_us = jitter.as_micros() as u64, max_jitter_us = max_jitter.as_micros() as u64,
                rtt_ms = ms(r.rtt), max_rtt_ms = ms(r.max_rtt), peer_lost = r.peer_lost,
                rtcp_in = r.received, rtcp_out = r.sent, srtp = live.media.is_srtp(),
                srtp_refused = live.media.srtp_refused().0, srtcp_refused = live.media.srtp_refused().1,
                "media ended"
            );
            let quality = Quality {
                stats: s,
                jitter,
                max_jitter,
                rtcp: r,
            };
            meters.ended(&quality);
            let _ = reports.send(MediaReport::Ended { call, quality });
        }
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

#[cfg(test)]
mod tests;
