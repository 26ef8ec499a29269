//! One call's media: RTP in and out, digits from every source, prompt playback.

use std::collections::VecDeque;

use dtmf_detector::{DtmfDetector, Event as DtmfEvent, SampleRate};

use crate::digits::{DigitMerger, DigitSource};
use crate::player::{Frame, PlayItem, Played, Player};
use crate::rfc4733::EventDecoder;
use crate::rtp::{self, FRAME, ReceiveStats, ReorderBuffer, RtpSender};
use crate::{Law, MediaTime};

/// What was negotiated for the call's audio, and local choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallMediaConfig {
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
    events4733: EventDecoder,
    detector: DtmfDetector,
    merger: DigitMerger,
    events: VecDeque<MediaEvent>,
    now: MediaTime,
    last_rtp: MediaTime,
    sent_any: bool,
    inactive_reported: bool,
    pcm: Vec<i16>,
}

impl CallMedia {
    /// A call's media at media time zero.
    pub fn new(config: CallMediaConfig) -> Self {
        Self {
            sender: RtpSender::new(config.ssrc, config.first_sequence, config.first_timestamp),
            reorder: ReorderBuffer::new(config.reorder_window),
            config,
            player: Player::new(),
            events4733: EventDecoder::new(),
            detector: DtmfDetector::with_rate(SampleRate::Narrowband),
            merger: DigitMerger::new(),
            events: VecDeque::new(),
            now: MediaTime(0),
            last_rtp: MediaTime(0),
            sent_any: false,
            inactive_reported: false,
            pcm: Vec::with_capacity(FRAME * 2),
        }
    }

    /// An incoming RTP datagram. Garbage and unknown payload types are counted and dropped.
    pub fn handle_rtp(&mut self, data: &[u8]) {
        let Ok((header, payload)) = rtp::parse(data) else {
            self.reorder.count_invalid();
            return;
        };
        if Some(header.payload_type) == self.config.telephone_event {
            self.last_rtp = self.now;
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
        if self.reorder.take_in_order(&header) {
            self.listen(payload);
            return;
        }
        self.reorder.handle_packet(&header, payload);
        while let Some((_, audio)) = self.reorder.poll_packet() {
            self.listen(&audio);
        }
    }

    /// Decodes one packet of audio and runs the in-band detector on it.
    fn listen(&mut self, audio: &[u8]) {
        self.pcm.clear();
        self.pcm
            .extend(audio.iter().map(|&c| self.config.law.decode(c)));
        self.detector.handle_samples(&self.pcm);
        while let Some(event) = self.detector.poll_event() {
            if let DtmfEvent::Pressed { digit, .. } = event {
                self.digit(digit.to_char(), DigitSource::InBand);
            }
        }
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

    /// Advances 20 ms. Writes the packet to send into `out` and returns true, or returns false
    /// when nothing is to be sent this tick.
    pub fn handle_tick(&mut self, out: &mut Vec<u8>) -> bool {
        self.now = MediaTime(self.now.0 + FRAME as u64);
        let mut frame: Frame = [0; FRAME];
        let played = self.player.next_frame(self.config.law, &mut frame);
        if self.player.take_finished() {
            self.events.push_back(MediaEvent::PlaybackFinished);
        }
        let limit = u64::from(self.config.inactivity_ticks) * FRAME as u64;
        if limit > 0 && !self.inactive_reported && self.now.0 - self.last_rtp.0 > limit {
            self.inactive_reported = true;
            self.events.push_back(MediaEvent::Inactive);
        }
        let send = played == Played::Audio || self.config.send_silence;
        let mut sent = false;
        if send {
            let marker = !self.sent_any;
            sent = self
                .sender
                .packet(self.config.audio_payload_type, marker, &frame, None, out)
                .is_ok();
            self.sent_any = sent;
        } else {
            // Silence suppressed: the next talk-spurt gets the marker bit.
            self.sent_any = false;
        }
        self.sender.advance(FRAME as u32);
        sent
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

    /// Media time: samples since the call's media started.
    pub fn now(&self) -> MediaTime {
        self.now
    }
}
