//! One call's media: RTP in and out, digits from every source, prompt playback.
//!
//! RTP is accepted only from where the call's SDP says the peer is ([`AcceptFrom`]): anything
//! else reaching the port (a stranger's telephone-event "digits", a scan) is counted as foreign
//! and dropped. While the call is on hold ([`MediaDirection`]) nothing is sent to a peer that
//! does not want media, the playlist waits where it was, and silence from the peer is not
//! taken for a dead line.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use dtmf_detector::{DtmfDetector, Event as DtmfEvent, SampleRate};

use crate::bridge::{EventSender, JitterBuffer, Pcm};
use crate::digits::{DigitMerger, DigitSource};
use crate::in_band::{InBand, Shared};
use crate::player::{Frame, PlayItem, Played, Player};
use crate::rfc4733::EventDecoder;
use crate::rtcp::NtpTime;
use crate::rtcp_session::{RtcpQuality, RtcpSession};
use crate::rtp::{self, FRAME, ReceiveStats, ReorderBuffer, RtpSender};
use crate::srtp::{MasterKey, SrtpContext};
use crate::{Law, MediaTime};

/// G.711's RTP clock.
const SAMPLE_RATE: u32 = 8000;

/// Whose RTP a call accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AcceptFrom {
    /// Only the address and port the SDP named (symmetric RTP, RFC 4961).
    #[default]
    Sdp,
    /// Any port of the SDP's address (a peer that sends from another port than it receives on).
    SdpHost,
    /// Latch (symmetric RTP for callers behind NAT, whose SDP names a private address): the
    /// SDP's address if RTP comes from there, else the first source to send
    /// [`LATCH_PACKETS`] valid packets in a row on one SSRC. Until then nothing is heard; after,
    /// only that source, which is also where our RTP goes.
    FirstSource,
}

/// Where the call's RTCP goes (RFC 3550 §6), as the SDP said.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RtcpMode {
    /// None sent, none read.
    #[default]
    Off,
    /// On the RTP port (RFC 5761 `a=rtcp-mux`, agreed in the offer/answer).
    Mux,
    /// On a port of its own: the peer's `a=rtcp` address, else its RTP port + 1.
    Separate(SocketAddr),
}

/// SDES keys (RFC 4568) of an SRTP call: ours protects what we send, the peer's unprotects
/// what it sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SrtpKeys {
    /// Ours, as our SDP gave it.
    pub ours: MasterKey,
    /// The peer's, as its SDP gave it.
    pub theirs: MasterKey,
}

/// A call's SRTP state: the keys, and one context each way.
#[derive(Debug)]
struct Srtp {
    keys: SrtpKeys,
    send: SrtpContext,
    receive: SrtpContext,
    /// Plaintext of the packet being read.
    plain: Vec<u8>,
    /// SRTP packets that failed authentication or replay checks.
    refused: u64,
    /// SRTCP ones.
    refused_rtcp: u64,
}

impl Srtp {
    fn new(keys: SrtpKeys) -> Self {
        Self {
            keys,
            send: SrtpContext::new(&keys.ours),
            receive: SrtpContext::new(&keys.theirs),
            plain: Vec::with_capacity(256),
            refused: 0,
            refused_rtcp: 0,
        }
    }
}

/// Packets in a row from one source and SSRC that latch [`AcceptFrom::FirstSource`].
pub const LATCH_PACKETS: u8 = 3;

/// Which way media flows, from our side: what our SDP answer said.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MediaDirection {
    /// Both ways.
    #[default]
    SendRecv,
    /// We send, the peer does not (it put us on hold with `recvonly`).
    SendOnly,
    /// The peer sends, we do not (it holds with `sendonly`: music on hold, or nothing).
    RecvOnly,
    /// Neither way.
    Inactive,
}

impl MediaDirection {
    fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }
}

/// What was negotiated for the call's audio, and local choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallMediaConfig {
    /// Where the peer's SDP said to send RTP; `None` until a late offer's answer arrives.
    pub remote: Option<SocketAddr>,
    /// Whose RTP is accepted.
    pub accept_from: AcceptFrom,
    /// The codec's law.
    pub law: Law,
    /// Its payload type (0 or 8).
    pub audio_payload_type: u8,
    /// The peer's telephone-event payload type, if negotiated.
    pub telephone_event: Option<u8>,
    /// Our SSRC and starting sequence and timestamp (random per call).
    pub ssrc: u32,
    /// First sequence number.
    pub first_sequence: u16,
    /// First timestamp.
    pub first_timestamp: u32,
    /// Send G.711 silence while nothing plays (most trunks expect continuous RTP); when false,
    /// nothing is sent and the next talk-spurt starts with the marker bit.
    pub send_silence: bool,
    /// End the call after this many 20 ms ticks without valid RTP (0: never).
    pub inactivity_ticks: u32,
    /// Reorder window, packets.
    pub reorder_window: usize,
    /// RTCP: muxed, on its own port, or none.
    pub rtcp: RtcpMode,
    /// SRTP keys, when the call is secured (then nothing unprotected is heard or sent).
    pub srtp: Option<SrtpKeys>,
}

/// Something the call's media reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaEvent {
    /// A key press, once per press whatever the number of sources.
    Digit {
        /// The key.
        key: char,
        /// Which source reported it first.
        source: DigitSource,
    },
    /// The playlist ran to its end.
    PlaybackFinished,
    /// A key press stopped a barge-in playlist.
    PlaybackStopped,
    /// No valid RTP for the configured number of ticks.
    Inactive,
}

/// One call's media state. Feed it packets and ticks; drain events.
#[derive(Debug)]
pub struct CallMedia {
    config: CallMediaConfig,
    sender: RtpSender,
    player: Player,
    reorder: ReorderBuffer,
    jitter: crate::Jitter,
    events4733: EventDecoder,
    in_band: InBand,
    merger: DigitMerger,
    events: VecDeque<MediaEvent>,
    now: MediaTime,
    last_rtp: MediaTime,
    /// Where RTP goes, and what is accepted from where.
    remote: Option<SocketAddr>,
    /// [`AcceptFrom::FirstSource`]: the source latched on, and the one on probation.
    latched: Option<SocketAddr>,
    candidate: Option<(SocketAddr, u32, u8)>,
    direction: MediaDirection,
    /// Bridged to another leg: what we heard for it, and what it heard for us to send.
    bridge: Option<Bridged>,
    /// Key presses to send as RFC 4733 events.
    events_out: EventSender,
    sent_any: bool,
    inactive_reported: bool,
    pcm: Vec<i16>,
    rtcp: RtcpSession,
    /// Where the peer's RTCP came from (symmetric RTCP: our reports go back there).
    rtcp_source: Option<SocketAddr>,
    srtp: Option<Srtp>,
}

impl CallMedia {
    /// A call's media at media time zero.
    pub fn new(config: CallMediaConfig) -> Self {
        Self {
            sender: RtpSender::new(config.ssrc, config.first_sequence, config.first_timestamp),
            reorder: ReorderBuffer::new(config.reorder_window),
            jitter: crate::Jitter::default(),
            config,
            player: Player::new(),
            events4733: EventDecoder::new(),
            in_band: InBand::Own(Box::new(DtmfDetector::with_rate(SampleRate::Narrowband))),
            merger: DigitMerger::new(),
            events: VecDeque::new(),
            now: MediaTime(0),
            last_rtp: MediaTime(0),
            remote: config.remote,
            latched: None,
            candidate: None,
            direction: MediaDirection::SendRecv,
            bridge: None,
            events_out: EventSender::default(),
            sent_any: false,
            inactive_reported: false,
            pcm: Vec::with_capacity(FRAME * 2),
            rtcp: RtcpSession::new(
                config.ssrc,
                &format!("ivrd-{:08x}", config.ssrc),
                u64::from(config.ssrc) << 16 | u64::from(config.first_sequence),
            ),
            rtcp_source: None,
            srtp: config.srtp.map(Srtp::new),
        }
    }

    /// An incoming RTP datagram from `from`. Garbage and unknown payload types are counted and
    /// dropped, and so is anything from a source the call does not accept.
    pub fn handle_rtp(&mut self, from: SocketAddr, data: &[u8]) {
        self.handle_rtp_at(from, data, None);
    }

    /// [`CallMedia::handle_rtp`] for a datagram that arrived at `arrival` (since any fixed
    /// origin, the same for every packet of the call): its audio packets count towards the
    /// interarrival jitter.
    /// On an SRTP call the packet must pass its authentication and replay checks first.
    pub fn handle_rtp_at(&mut self, from: SocketAddr, data: &[u8], arrival: Option<Duration>) {
        let Some(srtp) = &mut self.srtp else {
            self.handle_plain_rtp(from, data, arrival);
            return;
        };
        let mut plain = std::mem::take(&mut srtp.plain);
        match srtp.receive.unprotect(data, &mut plain) {
            Ok(()) => self.handle_plain_rtp(from, &plain, arrival),
            Err(_) => {
                srtp.refused += 1;
                self.reorder.count_invalid();
            }
        }
        if let Some(srtp) = &mut self.srtp {
            srtp.plain = plain;
        }
    }

    fn handle_plain_rtp(&mut self, from: SocketAddr, data: &[u8], arrival: Option<Duration>) {
        let parsed = rtp::parse(data);
        if !self.accepts(from, parsed.as_ref().ok().map(|(h, _)| h)) {
            self.reorder.count_foreign();
            return;
        }
        let Ok((header, payload)) = parsed else {
            self.reorder.count_invalid();
            return;
        };
        if Some(header.payload_type) == self.config.telephone_event {
            self.last_rtp = self.now;
            self.rtcp.rtp_received(header.ssrc, header.sequence);
            self.reorder.take_other(&header);
            if let Some(d) = self
                .events4733
                .handle_packet(header.timestamp, header.marker, payload)
            {
                self.digit(d.key, DigitSource::Rfc4733);
            }
            return;
        }
        if header.payload_type != self.config.audio_payload_type {
            self.reorder.count_invalid();
            return;
        }
        self.last_rtp = self.now;
        self.rtcp.rtp_received(header.ssrc, header.sequence);
        if let Some(arrival) = arrival {
            self.jitter
                .arrived(header.ssrc, header.timestamp, arrival, SAMPLE_RATE);
        }
        if self.reorder.take_in_order(&header) {
            self.listen(payload);
            return;
        }
        self.reorder.handle_packet(&header, payload);
        while let Some((_, audio)) = self.reorder.poll_packet() {
            self.listen(&audio);
        }
    }

    fn accepts(&mut self, from: SocketAddr, header: Option<&rtp::RtpHeader>) -> bool {
        match (self.config.accept_from, self.remote) {
            (AcceptFrom::FirstSource, _) => self.latch(from, header),
            (AcceptFrom::Sdp, Some(remote)) => from == remote,
            (AcceptFrom::SdpHost, Some(remote)) => from.ip() == remote.ip(),
            (_, None) => false,
        }
    }

    /// [`AcceptFrom::FirstSource`]: whether `from` is (or now becomes) the latched source.
    fn latch(&mut self, from: SocketAddr, header: Option<&rtp::RtpHeader>) -> bool {
        if let Some(latched) = self.latched {
            return from == latched;
        }
        let Some(header) = header.filter(|h| {
            h.payload_type == self.config.audio_payload_type
                || Some(h.payload_type) == self.config.telephone_event
        }) else {
            return false;
        };
        let in_a_row = match self.candidate {
            _ if Some(from) == self.remote => LATCH_PACKETS,
            Some((source, ssrc, n)) if source == from && ssrc == header.ssrc => n + 1,
            _ => 1,
        };
        if in_a_row < LATCH_PACKETS {
            self.candidate = Some((from, header.ssrc, in_a_row));
            return false;
        }
        self.latched = Some(from);
        self.candidate = None;
        true
    }

    /// An RTCP compound packet from `from` (on the RTCP port, or told apart on the RTP port by
    /// [`crate::rtcp::is_rtcp`]), arrived at `arrival`. Accepted only from the peer's host;
    /// false when dropped as foreign or unreadable.
    pub fn handle_rtcp(&mut self, from: SocketAddr, data: &[u8], arrival: NtpTime) -> bool {
        let peer = self.remote().map(|r| r.ip());
        if self.config.rtcp == RtcpMode::Off || peer != Some(from.ip()) {
            return false;
        }
        let read = match &mut self.srtp {
            None => self.rtcp.handle_rtcp(data, arrival).is_ok(),
            Some(srtp) => {
                let mut plain = std::mem::take(&mut srtp.plain);
                let unprotected = srtp.receive.unprotect_rtcp(data, &mut plain).is_ok();
                srtp.refused_rtcp += u64::from(!unprotected);
                let read = unprotected && self.rtcp.handle_rtcp(&plain, arrival).is_ok();
                if let Some(srtp) = &mut self.srtp {
                    srtp.plain = plain;
                }
                read
            }
        };
        if !read {
            return false;
        }
        self.rtcp_source = Some(from);
        true
    }

    /// Our RTCP report, when one is due: written into `out`, with where it goes. `wall` is
    /// the wall clock now (the SR's NTP time and the DLSR's reference). Sent from the RTP
    /// socket when [`rtcp_muxed`](Self::rtcp_muxed), else from the RTCP one. Reports go on
    /// through hold (RFC 3264 §5.1).
    pub fn poll_rtcp(&mut self, wall: NtpTime, out: &mut Vec<u8>) -> Option<SocketAddr> {
        // A hold with c=0.0.0.0 (RFC 3264 §8.4) names no one to report to.
        let remote = self.remote().filter(|r| !r.ip().is_unspecified())?;
        let to = match self.config.rtcp {
            RtcpMode::Off => return None,
            RtcpMode::Mux => remote,
            RtcpMode::Separate(sdp) => self.rtcp_source.unwrap_or(match self.latched {
                Some(l) => SocketAddr::new(l.ip(), l.port().wrapping_add(1)),
                None => sdp,
            }),
        };
        let (now, rtp_now, jitter) = (self.now, self.sender.timestamp(), self.jitter.units());
        if !self.rtcp.poll_report(now, wall, rtp_now, jitter, out) {
            return None;
        }
        match &mut self.srtp {
            Some(srtp) => srtp.send.protect_rtcp(out).ok().map(|()| to),
            None => Some(to),
        }
    }

    /// New SDES keys from a re-INVITE (or none: back to plain RTP). Each direction's context
    /// is kept while its key is: a new key of the peer's leaves our sending context (its
    /// rollover counter) as it was, so no packet index is ever used twice under our key
    /// (RFC 3711 §9.1), and a session refresh resets no replay window.
    pub fn set_srtp(&mut self, keys: Option<SrtpKeys>) {
        match (&mut self.srtp, keys) {
            (Some(srtp), Some(keys)) => {
                if srtp.keys.ours != keys.ours {
                    srtp.send = SrtpContext::new(&keys.ours);
                }
                if srtp.keys.theirs != keys.theirs {
                    srtp.receive = SrtpContext::new(&keys.theirs);
                }
                srtp.keys = keys;
            }
            (slot, keys) => *slot = keys.map(Srtp::new),
        }
        self.config.srtp = keys;
    }

    /// Whether the call's media is SRTP.
    pub fn is_srtp(&self) -> bool {
        self.srtp.is_some()
    }

    /// SRTP and SRTCP packets refused (a wrong key, a replay, a bent bit, plain RTP or RTCP
    /// on an SRTP call), in that order.
    pub fn srtp_refused(&self) -> (u64, u64) {
        self.srtp
            .as_ref()
            .map_or((0, 0), |s| (s.refused, s.refused_rtcp))
    }

    /// Whether RTCP shares the RTP port.
    pub fn rtcp_muxed(&self) -> bool {
        self.config.rtcp == RtcpMode::Mux
    }

    /// What RTCP told of the call so far: round trip, the peer's view of our stream.
    pub fn rtcp_quality(&self) -> RtcpQuality {
        self.rtcp.quality()
    }

    /// Where our RTP goes: the latched source, else the SDP's address.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.latched.or(self.remote)
    }

    /// New media parameters from a re-INVITE or a late offer's answer: address, codec,
    /// telephone-event, RTCP. A latched source is forgotten when the address changes (the peer has
    /// moved); a re-INVITE that keeps it (hold, a session refresh) keeps the latch.
    pub fn renegotiate(
        &mut self,
        remote: SocketAddr,
        law: Law,
        audio_payload_type: u8,
        telephone_event: Option<u8>,
        rtcp: RtcpMode,
    ) {
        if self.remote != Some(remote) {
            self.latched = None;
            self.candidate = None;
        }
        if self.config.rtcp != rtcp {
            self.rtcp_source = None;
        }
        self.config.rtcp = rtcp;
        self.remote = Some(remote);
        self.config.law = law;
        self.config.audio_payload_type = audio_payload_type;
        self.config.telephone_event = telephone_event;
    }

    /// Hold and resume: what our answer to the peer's offer said.
    pub fn set_direction(&mut self, direction: MediaDirection) {
        self.direction = direction;
        self.last_rtp = self.now;
    }

    /// Decodes one packet of audio and runs the in-band detector on it.
    fn listen(&mut self, audio: &[u8]) {
        self.pcm.clear();
        self.pcm
            .extend(audio.iter().map(|&c| self.config.law.decode(c)));
        if let Some(bridge) = &mut self.bridge {
            bridge.heard.push(&self.pcm);
        }
        match &mut self.in_band {
            InBand::Own(detector) => {
                detector.handle_samples(&self.pcm);
                let mut pressed = Vec::new();
                while let Some(event) = detector.poll_event() {
                    if let DtmfEvent::Pressed { digit, .. } = event {
                        pressed.push(digit.to_char());
                    }
                }
                for key in pressed {
                    self.digit(key, DigitSource::InBand);
                }
            }
            InBand::Shared(shared) => shared.push(&self.pcm),
        }
    }

    /// Hands in-band detection to a bank the caller runs for many calls in lockstep (see
    /// `DtmfBank`): from now on what this call hears is queued for
    /// [`take_in_band`](Self::take_in_band), and the bank's presses come back through
    /// [`in_band_pressed`](Self::in_band_pressed).
    pub fn share_in_band(&mut self) {
        self.in_band = InBand::Shared(Shared::default());
    }

    /// For a shared detector, once per tick after [`handle_tick`](Self::handle_tick): the next
    /// 20 ms heard (silence where nothing came), and whether something was played this tick
    /// (then `played` holds it, for the echo reference). `false` and silence for a call with
    /// its own detector.
    pub fn take_in_band(&mut self, heard: &mut [i16; FRAME], played: &mut [i16; FRAME]) -> bool {
        match &mut self.in_band {
            InBand::Shared(shared) => shared.take(heard, played),
            InBand::Own(_) => {
                heard.fill(0);
                false
            }
        }
    }

    /// A press the shared detector found in what [`take_in_band`](Self::take_in_band) gave it.
    pub fn in_band_pressed(&mut self, key: char) {
        self.digit(key, DigitSource::InBand);
    }

    /// Joins a bridge: from now on what this leg hears is kept for the other leg
    /// ([`take_heard`](Self::take_heard)), and what it is given ([`send_heard`](Self::send_heard))
    /// is sent when no prompt plays.
    pub fn bridge(&mut self) {
        self.bridge.get_or_insert_with(Bridged::default);
    }

    /// Leaves the bridge: back to prompts and silence.
    pub fn unbridge(&mut self) {
        self.bridge = None;
    }

    /// The next frame this leg heard, for the other leg; `None` while the jitter buffer fills
    /// or has run dry (the other leg then sends silence).
    pub fn take_heard(&mut self) -> Option<Pcm> {
        self.bridge.as_mut()?.heard.pop()
    }

    /// The frame the other leg heard, to send on this leg's next tick (in this leg's law).
    pub fn send_heard(&mut self, pcm: Option<Pcm>) {
        if let Some(bridge) = &mut self.bridge {
            bridge.to_send = pcm;
        }
    }

    /// Sends `key` as an RFC 4733 event at this leg's telephone-event payload type (a key the
    /// other leg pressed). False when this leg has no telephone-event or `key` is no DTMF key.
    pub fn send_digit(&mut self, key: char) -> bool {
        self.config.telephone_event.is_some() && self.events_out.push(key)
    }

    /// Jitter buffer counters of a bridged leg: frames dropped as too many, ticks with none.
    pub fn bridge_stats(&self) -> Option<(u64, u64)> {
        self.bridge
            .as_ref()
            .map(|b| (b.heard.overflow, b.heard.underflow))
    }

    /// A key press from SIP INFO.
    pub fn handle_info_digit(&mut self, key: char) {
        self.digit(key, DigitSource::SipInfo);
    }

    fn digit(&mut self, key: char, source: DigitSource) {
        if !self.merger.handle_digit(key, source, self.now.0) {
            return;
        }
        if self.player.barge_in() {
            self.player.stop();
            self.events.push_back(MediaEvent::PlaybackStopped);
        }
        self.events.push_back(MediaEvent::Digit { key, source });
    }

    /// Starts a playlist (replacing any).
    pub fn play(&mut self, items: Vec<PlayItem>, barge_in: bool) {
        self.player.play(items, barge_in);
    }

    /// Stops playback.
    pub fn stop(&mut self) {
        self.player.stop();
    }

    /// Advances 20 ms. Writes the packet to send into `out` and returns where it goes, or
    /// `None` when nothing is to be sent this tick. On hold the playlist does not advance. On
    /// an SRTP call the packet is protected.
    pub fn handle_tick(&mut self, out: &mut Vec<u8>) -> Option<SocketAddr> {
        let to = self.tick(out)?;
        match &mut self.srtp {
            Some(srtp) => srtp.send.protect(out).ok().map(|()| to),
            None => Some(to),
        }
    }

    fn tick(&mut self, out: &mut Vec<u8>) -> Option<SocketAddr> {
        self.now = MediaTime(self.now.0 + FRAME as u64);
        if self.direction != MediaDirection::SendRecv || self.remote.is_none() {
            // A held peer may send nothing for as long as it likes, and a leg still ringing
            // (no answer, so no remote yet) has nobody to send.
            self.last_rtp = self.now;
        }
        let limit = u64::from(self.config.inactivity_ticks) * FRAME as u64;
        if limit > 0 && !self.inactive_reported && self.now.0 - self.last_rtp.0 > limit {
            self.inactive_reported = true;
            self.events.push_back(MediaEvent::Inactive);
        }
        let remote = self.remote();
        let (Some(remote), true) = (remote, self.direction.sends()) else {
            self.sender.advance(FRAME as u32);
            self.sent_any = false;
            return None;
        };
        if let Some(te) = self.config.telephone_event
            && let Some((event, start, marker)) = self.events_out.next(self.sender.timestamp())
        {
            // RFC 4733 §2.5.1: the event's packets take the place of audio while it lasts.
            let sent = self
                .sender
                .packet(te, marker, &event.to_bytes(), Some(start), out)
                .is_ok();
            if sent {
                self.rtcp.rtp_sent(out.len().saturating_sub(12));
            }
            self.sender.advance(FRAME as u32);
            return sent.then_some(remote);
        }
        let mut frame: Frame = [0; FRAME];
        let bridged = self.bridge.as_mut().and_then(|b| b.to_send.take());
        let played = match bridged {
            Some(pcm) if !self.player.is_playing() => {
                self.config.law.encode_into(&pcm, &mut frame);
                Played::Audio
            }
            _ => self.player.next_frame(self.config.law, &mut frame),
        };
        if self.player.take_finished() {
            self.events.push_back(MediaEvent::PlaybackFinished);
        }
        if played == Played::Audio {
            // What the line may echo back: the detector discounts a digit it explains.
            let mut pcm = [0i16; FRAME];
            self.config.law.decode_into(&frame, &mut pcm);
            match &mut self.in_band {
                InBand::Own(detector) => detector.handle_reference(&pcm),
                InBand::Shared(shared) => shared.played = Some(pcm),
            }
        }
        let mut sent = false;
        if played == Played::Audio || self.config.send_silence {
            let marker = !self.sent_any;
            sent = self
                .sender
                .packet(self.config.audio_payload_type, marker, &frame, None, out)
                .is_ok();
            if sent {
                self.rtcp.rtp_sent(FRAME);
            }
            self.sent_any = sent;
        } else {
            // Silence suppressed: the next talk-spurt gets the marker bit.
            self.sent_any = false;
        }
        self.sender.advance(FRAME as u32);
        sent.then_some(remote)
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// Receive counters.
    pub fn stats(&self) -> ReceiveStats {
        self.reorder.stats()
    }

    /// The interarrival jitter of what it heard (RFC 3550), now and at its worst.
    pub fn jitter(&self) -> (Duration, Duration) {
        self.jitter.now_and_max(SAMPLE_RATE)
    }

    /// Media time: samples since the call's media started.
    pub fn now(&self) -> MediaTime {
        self.now
    }
}

/// A bridged leg's side of the bridge.
#[derive(Clone, Debug, Default)]
struct Bridged {
    heard: JitterBuffer,
    to_send: Option<Pcm>,
}
