//! RFC 4733 telephone-event: DTMF as RTP events. Decoding reports each event once (keyed by its
//! RTP timestamp, which is the event's start), on its second packet; the end packets, sent three
//! times, only close it. Encoding produces the packets for one key press.
//!
//! Every sender repeats an event's packets (updates every 50 ms or so with a growing duration,
//! then three end packets, RFC 4733 §2.5.1), so a lone packet is not a key press: a burst of
//! junk telephone-event packets once made 14–18 false digits in one call. An event is reported
//! when a later packet of it (same timestamp and code) has a longer duration or the end bit,
//! so a packet merely sent twice is not one either. A packet must also be plausible: a DTMF
//! event code, and a duration no longer than [`MAX_DURATION`].

/// The 4-byte event payload (RFC 4733 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventPayload {
    /// Event code: 0–9, 10 `*`, 11 `#`, 12–15 `A`–`D`.
    pub event: u8,
    /// The E bit: this is an end packet.
    pub end: bool,
    /// Volume, 0 to −63 dBm0 (as a positive number).
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl EventPayload {
    /// Parses a payload; `None` if it is shorter than 4 bytes.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let [event, flags, hi, lo, ..] = *payload else {
            return None;
        };
        Some(Self {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([hi, lo]),
        })
    }

    /// The 4 bytes.
    pub fn to_bytes(self) -> [u8; 4] {
        let [hi, lo] = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3F),
            hi,
            lo,
        ]
    }
}

/// The key of an event code, if it is a DTMF key.
pub fn event_key(event: u8) -> Option<char> {
    Some(match event {
        0..=9 => char::from(b'0' + event),
        10 => '*',
        11 => '#',
        12..=15 => char::from(b'A' + event - 12),
        _ => return None,
    })
}

/// The event code of a key.
pub fn key_event(key: char) -> Option<u8> {
    Some(match key {
        '0'..='9' => key as u8 - b'0',
        '*' => 10,
        '#' => 11,
        'A'..='D' => key as u8 - b'A' + 12,
        _ => return None,
    })
}

/// A key press seen in telephone-event packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpDigit {
    /// The key.
    pub key: char,
    /// The event's RTP timestamp (its start).
    pub timestamp: u32,
    /// Volume in −dBm0.
    pub volume: u8,
}

/// Longest plausible key press, in 8 kHz timestamp units (8 s).
pub const MAX_DURATION: u16 = 64_000;

/// An event seen lately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    timestamp: u32,
    event: u8,
    /// The duration of its first packet: a later one must be longer, or an end packet.
    first_duration: u16,
    /// Reported as a key press.
    reported: bool,
    ended: bool,
}

/// Turns telephone-event packets into key presses, once each. An event is its (timestamp,
/// code); a marked start packet after that event's end is a new press (a replayed capture, such
/// as SIPp playing one pcap twice, repeats timestamps).
#[derive(Clone, Debug, Default)]
pub struct EventDecoder {
    /// The most recent events reported (a few, for reordered end packets).
    seen: [Option<Seen>; 4],
    next_slot: usize,
}

impl EventDecoder {
    /// A decoder with nothing seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one packet's timestamp and payload; returns the key when an event's second packet
    /// arrives. Non-DTMF events (flash, tones), implausible durations and short payloads are
    /// ignored.
    pub fn handle_packet(
        &mut self,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Option<RtpDigit> {
        let p = EventPayload::parse(payload)?;
        let key = event_key(p.event)?;
        if p.duration > MAX_DURATION {
            return None;
        }
        let digit = RtpDigit {
            key,
            timestamp,
            volume: p.volume,
        };
        let known = self
            .seen
            .iter_mut()
            .flatten()
            .find(|s| s.timestamp == timestamp && s.event == p.event);
        let Some(known) = known else {
            self.seen[self.next_slot] = Some(Seen {
                timestamp,
                event: p.event,
                first_duration: p.duration,
                reported: false,
                ended: p.end,
            });
            self.next_slot = (self.next_slot + 1) % self.seen.len();
            return None;
        };
        if known.ended && marker && !p.end {
            // A marked start after the end: the same capture replayed, a new press.
            known.reported = false;
            known.ended = false;
            known.first_duration = p.duration;
            return None;
        }
        known.ended |= p.end;
        if known.reported || !(p.end || p.duration > known.first_duration) {
            return None;
        }
        known.reported = true;
        Some(digit)
    }
}

/// The payloads of one key press of `duration` samples, one per 20 ms, the last three being
/// end packets (RFC 4733 §2.5.1.4). All share the event's start timestamp.
pub fn encode_key(key: char, duration: u16, volume: u8) -> Option<Vec<EventPayload>> {
    let event = key_event(key)?;
    let mut packets = Vec::new();
    let mut d: u16 = 160;
    while d < duration {
        packets.push(EventPayload {
            event,
            end: false,
            volume,
            duration: d,
        });
        d = d.saturating_add(160);
    }
    for _ in 0..3 {
        packets.push(EventPayload {
            event,
            end: true,
            volume,
            duration,
        });
    }
    Some(packets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sipp_pcap_event_decodes_once() {
        // The shape of SIPp's dtmf_2833_1.pcap: event 1, volume 10, durations 160…800, then
        // three identical end packets, all with one timestamp.
        let mut d = EventDecoder::new();
        let mut keys = Vec::new();
        for duration in (160..=800).step_by(160) {
            let p = EventPayload {
                event: 1,
                end: false,
                volume: 10,
                duration: duration as u16,
            };
            keys.extend(d.handle_packet(4000, duration == 160, &p.to_bytes()));
        }
        for _ in 0..3 {
            let p = EventPayload {
                event: 1,
                end: true,
                volume: 10,
                duration: 960,
            };
            keys.extend(d.handle_packet(4000, false, &p.to_bytes()));
        }
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].key, '1');
        // The same capture replayed: a marked start after the end is a second press, reported
        // on its next packet.
        let start = EventPayload {
            event: 1,
            end: false,
            volume: 10,
            duration: 160,
        };
        assert_eq!(d.handle_packet(4000, true, &start.to_bytes()), None);
        let update = EventPayload {
            duration: 320,
            ..start
        };
        assert_eq!(
            d.handle_packet(4000, false, &update.to_bytes())
                .map(|k| k.key),
            Some('1')
        );
        // Bytes from RFC 4733 §2.3's layout: event 11 (#), E set, volume 10, duration 1280.
        assert_eq!(
            EventPayload::parse(&[11, 0x8A, 0x05, 0x00]),
            Some(EventPayload {
                event: 11,
                end: true,
                volume: 10,
                duration: 1280
            })
        );
        let next = EventPayload {
            event: 11,
            end: true,
            volume: 10,
            duration: 1280,
        };
        assert_eq!(d.handle_packet(5600, false, &next.to_bytes()), None);
        assert_eq!(
            d.handle_packet(5600, false, &next.to_bytes())
                .map(|k| k.key),
            Some('#'),
            "only end packets (the start was lost): the repeats make it a press"
        );
        assert_eq!(d.handle_packet(5600, false, &[1, 2]), None);
    }

    /// Junk telephone-event packets (random codes, timestamps and flags, as a burst from a
    /// stranger or a broken gateway sends) once made 14–18 digits in one call: each was taken
    /// as the start of a press. Now none is: no two share an event's timestamp and code.
    #[test]
    fn a_burst_of_junk_events_makes_no_digit() {
        let mut d = EventDecoder::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut digits = 0;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = x.to_le_bytes();
            let timestamp = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            digits += usize::from(d.handle_packet(timestamp, b[0] & 1 == 1, &b[..4]).is_some());
        }
        assert_eq!(digits, 0);
        // Junk sent twice over: the same duration again is no progress.
        let twice = EventPayload {
            event: 3,
            end: false,
            volume: 10,
            duration: 320,
        };
        for _ in 0..4 {
            assert_eq!(d.handle_packet(4242, false, &twice.to_bytes()), None);
        }
        let too_long = EventPayload {
            event: 5,
            end: false,
            volume: 10,
            duration: MAX_DURATION + 1,
        };
        for _ in 0..3 {
            assert_eq!(d.handle_packet(77, false, &too_long.to_bytes()), None);
        }
    }

    #[test]
    fn encode_then_decode() {
        let packets = encode_key('*', 800, 10).expect("key");
        assert_eq!(packets.iter().filter(|p| p.end).count(), 3);
        let mut d = EventDecoder::new();
        let keys: Vec<_> = packets
            .iter()
            .enumerate()
            .filter_map(|(i, p)| d.handle_packet(9, i == 0, &p.to_bytes()))
            .collect();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].key, '*');
        assert!(encode_key('x', 800, 10).is_none());
    }
}
