//! RTP send and receive for one call (RFC 3550, parsed and built with rtp-rs).
//!
//! Sending: one SSRC, sequence and timestamp continuous across prompts and silence, marker on
//! the first packet of a talk-spurt. Receiving: telephone-event is split off by payload type
//! *before* ordering (SIPp puts its DTMF pcap and its audio on two SSRCs of one 5-tuple); audio
//! goes through a small reorder window: late and duplicate packets are dropped and counted.
//! When telephone-event shares the audio's SSRC (baresip, most phones) its packets take
//! sequence numbers of that stream: they fill their slots in the window
//! ([`ReorderBuffer::take_other`]) instead of counting as lost audio.

use std::collections::{BTreeMap, VecDeque};

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};

use crate::MediaError;

/// How many delivered sequence numbers are remembered.
const RECENT: usize = 32;

/// Samples per 20 ms packet at 8 kHz.
pub const FRAME: usize = 160;

/// A parsed packet's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    /// Payload type.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Marker bit.
    pub marker: bool,
}

/// Parses an RTP packet; returns its header and payload.
pub fn parse(data: &[u8]) -> Result<(RtpHeader, &[u8]), MediaError> {
    let r = RtpReader::new(data).map_err(|e| MediaError::BadRtp(format!("{e:?}")))?;
    if r.version() != 2 {
        return Err(MediaError::BadRtp(format!("version {}", r.version())));
    }
    let header = RtpHeader {
        payload_type: r.payload_type(),
        sequence: u16::from(r.sequence_number()),
        timestamp: r.timestamp(),
        ssrc: r.ssrc(),
        marker: r.mark(),
    };
    Ok((header, r.payload()))
}

/// Our outgoing stream.
#[derive(Clone, Debug)]
pub struct RtpSender {
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
}

impl RtpSender {
    /// A stream with the given SSRC and random-looking starting sequence and timestamp.
    pub fn new(ssrc: u32, start_sequence: u16, start_timestamp: u32) -> Self {
        Self {
            ssrc,
            sequence: start_sequence,
            timestamp: start_timestamp,
        }
    }

    /// Writes one packet of `payload` into `out` (cleared first). `samples` is how far the
    /// timestamp advances after it (160 for a 20 ms audio packet, 0 within one RFC 4733 event).
    pub fn packet(
        &mut self,
        payload_type: u8,
        marker: bool,
        payload: &[u8],
        timestamp: Option<u32>,
        out: &mut Vec<u8>,
    ) -> Result<(), MediaError> {
        let ts = timestamp.unwrap_or(self.timestamp);
        let builder = RtpPacketBuilder::new()
            .payload_type(payload_type)
            .ssrc(self.ssrc)
            .sequence(Seq::from(self.sequence))
            .timestamp(ts)
            .marked(marker)
            .payload(payload);
        out.clear();
        out.resize(builder.target_length(), 0);
        let n = builder
            .build_into(out)
            .map_err(|e| MediaError::BadRtp(format!("build: {e:?}")))?;
        out.truncate(n);
        self.sequence = self.sequence.wrapping_add(1);
        Ok(())
    }

    /// Advances media time by `samples` (after an audio packet, or a frame of silence not sent).
    pub fn advance(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
    }

    /// The timestamp the next audio packet will carry.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }
}

/// Counters of what arrived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceiveStats {
    /// Audio packets delivered in order.
    pub delivered: u64,
    /// Arrived after their turn had passed.
    pub late: u64,
    /// Seen twice.
    pub duplicate: u64,
    /// Never arrived (gaps skipped).
    pub lost: u64,
    /// Not RTP, or a payload type not negotiated.
    pub invalid: u64,
    /// From a source the call does not accept.
    pub foreign: u64,
}

/// Reorders incoming audio packets of one stream within a small window.
#[derive(Clone, Debug)]
pub struct ReorderBuffer {
    window: usize,
    /// Next sequence number to deliver, once the first packet has arrived.
    next: Option<u16>,
    /// Offset from `next` → the packet, or `None` for a slot taken by another payload type.
    pending: BTreeMap<u16, Option<(u32, Vec<u8>)>>,
    /// Sequence numbers delivered lately, to tell a duplicate from a late packet.
    recent: VecDeque<u16>,
    ssrc: Option<u32>,
    stats: ReceiveStats,
}

impl ReorderBuffer {
    /// Holds up to `window` packets waiting for a gap to fill (2–4 absorb SIPp's pacing).
    pub fn new(window: usize) -> Self {
        Self {
            window: window.max(1),
            next: None,
            pending: BTreeMap::new(),
            recent: VecDeque::with_capacity(RECENT),
            ssrc: None,
            stats: ReceiveStats::default(),
        }
    }

    /// The fast path: if `header` is exactly the next packet and nothing waits, counts it as
    /// delivered and returns true; the caller uses the payload in place (no copy). Otherwise
    /// returns false and the packet goes through [`handle_packet`](Self::handle_packet).
    pub fn take_in_order(&mut self, header: &RtpHeader) -> bool {
        let in_order = self.ssrc == Some(header.ssrc)
            && self.next == Some(header.sequence)
            && self.pending.is_empty();
        if in_order {
            self.remember(header.sequence);
            self.next = Some(header.sequence.wrapping_add(1));
            self.stats.delivered += 1;
        }
        in_order
    }

    fn remember(&mut self, sequence: u16) {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(sequence);
    }

    /// Offers one audio packet.
    pub fn handle_packet(&mut self, header: &RtpHeader, payload: &[u8]) {
        if self.ssrc != Some(header.ssrc) {
            // A new source (or the first): start over from this packet.
            self.ssrc = Some(header.ssrc);
            self.next = Some(header.sequence);
            self.pending.clear();
        }
        let next = self.next.unwrap_or(header.sequence);
        let ahead = header.sequence.wrapping_sub(next);
        if ahead >= 0x8000 {
            if self.recent.contains(&header.sequence) {
                self.stats.duplicate += 1;
            } else {
                self.stats.late += 1;
            }
            return;
        }
        if self.pending.contains_key(&ahead) {
            self.stats.duplicate += 1;
            return;
        }
        self.pending
            .insert(ahead, Some((header.timestamp, payload.to_vec())));
    }

    /// A packet of another payload type (telephone-event) on this stream's SSRC: it takes its
    /// sequence number, so the audio around it shows no gap. Packets of other sources are
    /// none of this stream's business.
    pub fn take_other(&mut self, header: &RtpHeader) {
        let Some(next) = self.next else {
            return;
        };
        if self.ssrc != Some(header.ssrc) {
            return;
        }
        if header.sequence == next && self.pending.is_empty() {
            self.remember(next);
            self.next = Some(next.wrapping_add(1));
            return;
        }
        let ahead = header.sequence.wrapping_sub(next);
        if ahead < 0x8000 {
            self.pending.entry(ahead).or_insert(None);
        }
    }

    /// The next packet in order (`timestamp`, `payload`): the expected one if it is here, or,
    /// once the window is full, the earliest waiting one (the gap counts as lost).
    pub fn poll_packet(&mut self) -> Option<(u32, Vec<u8>)> {
        loop {
            let next = self.next?;
            let (&offset, _) = self.pending.iter().next()?;
            if offset != 0 && self.pending.len() < self.window {
                return None;
            }
            let (_, packet) = self.pending.pop_first()?;
            self.stats.lost += u64::from(offset);
            self.remember(next.wrapping_add(offset));
            let advance = offset.wrapping_add(1);
            self.next = Some(next.wrapping_add(advance));
            self.pending = std::mem::take(&mut self.pending)
                .into_iter()
                .map(|(k, v)| (k - advance, v))
                .collect();
            if let Some(packet) = packet {
                self.stats.delivered += 1;
                return Some(packet);
            }
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ReceiveStats {
        self.stats
    }

    /// Counts a packet that was not usable at all.
    pub fn count_invalid(&mut self) {
        self.stats.invalid += 1;
    }

    /// Counts a packet from a source the call does not accept.
    pub fn count_foreign(&mut self) {
        self.stats.foreign += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(sequence: u16) -> RtpHeader {
        RtpHeader {
            payload_type: 0,
            sequence,
            timestamp: u32::from(sequence) * 160,
            ssrc: 7,
            marker: false,
        }
    }

    #[test]
    fn reorders_drops_late_and_duplicates_and_wraps() {
        let mut r = ReorderBuffer::new(3);
        let mut got = Vec::new();
        for s in [65534u16, 0, 65535, 65535, 1, 65533, 3, 4, 5] {
            r.handle_packet(&header(s), &[s as u8]);
            while let Some((_, p)) = r.poll_packet() {
                got.push(p[0]);
            }
        }
        // 65534, 65535, 0, 1 in order; 2 never came (skipped once 3 were waiting); 65533 late.
        assert_eq!(got, [254, 255, 0, 1, 3, 4, 5]);
        let stats = r.stats();
        assert_eq!((stats.late, stats.duplicate, stats.lost), (1, 1, 1));
    }

    #[test]
    fn in_order_packets_take_the_fast_path() {
        let mut r = ReorderBuffer::new(3);
        r.handle_packet(&header(10), &[10]);
        assert_eq!(r.poll_packet().map(|(_, p)| p), Some(vec![10]));
        assert!(r.take_in_order(&header(11)));
        assert!(
            !r.take_in_order(&header(13)),
            "a gap goes through the window"
        );
        r.handle_packet(&header(13), &[13]);
        assert!(!r.take_in_order(&header(14)), "not while something waits");
        r.handle_packet(&header(11), &[11]);
        assert_eq!(r.stats().duplicate, 1, "11 was delivered by the fast path");
    }

    /// baresip sends telephone-event in the audio SSRC's sequence space. Those sequence numbers
    /// used to show up as gaps in the audio, counted as lost packets (and a gap held audio back
    /// in the window until it filled).
    #[test]
    fn events_on_the_audio_ssrc_are_not_lost_audio() {
        let mut r = ReorderBuffer::new(3);
        r.handle_packet(&header(1), &[1]);
        assert!(r.poll_packet().is_some());
        let mut delivered = vec![];
        for s in 2..=12u16 {
            if (5..=8).contains(&s) {
                r.take_other(&RtpHeader {
                    payload_type: 101,
                    ..header(s)
                });
            } else if r.take_in_order(&header(s)) {
                delivered.push(s);
            } else {
                r.handle_packet(&header(s), &[s as u8]);
                while let Some((_, p)) = r.poll_packet() {
                    delivered.push(u16::from(p[0]));
                }
            }
        }
        assert_eq!(delivered, [2, 3, 4, 9, 10, 11, 12]);
        assert_eq!(r.stats().lost, 0);
        // An event packet that overtook the audio before it fills its slot just the same.
        r.take_other(&RtpHeader {
            payload_type: 101,
            ..header(14)
        });
        r.handle_packet(&header(15), &[15]);
        r.handle_packet(&header(13), &[13]);
        let order: Vec<u8> = std::iter::from_fn(|| r.poll_packet().map(|(_, p)| p[0])).collect();
        assert_eq!(order, [13, 15]);
        assert_eq!(r.stats().lost, 0);
    }

    #[test]
    fn sender_round_trips_through_the_parser() {
        let mut tx = RtpSender::new(0xdead_beef, 65535, 1000);
        let mut buf = Vec::new();
        tx.packet(8, true, &[0xD5; FRAME], None, &mut buf)
            .expect("build");
        tx.advance(FRAME as u32);
        let (h, payload) = parse(&buf).expect("parse");
        assert_eq!(
            (h.payload_type, h.sequence, h.timestamp, h.ssrc, h.marker),
            (8, 65535, 1000, 0xdead_beef, true)
        );
        assert_eq!(payload.len(), FRAME);
        tx.packet(8, false, &[0xD5; FRAME], None, &mut buf)
            .expect("build");
        let (h, _) = parse(&buf).expect("parse");
        assert_eq!((h.sequence, h.timestamp), (0, 1160));
        assert!(parse(&[0x80, 0]).is_err());
        assert!(parse(&[0x40; 12]).is_err());
    }
}
