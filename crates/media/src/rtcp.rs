//! RTCP (RFC 3550 §6), sans-IO: compound packets read and written (sender and receiver reports
//! with an SDES CNAME, BYE), the receiver statistics a report block carries (Appendix A.1 and
//! A.3: extended highest sequence number, cumulative and fractional loss), and the round-trip
//! time a peer's report block gives us (§6.4.1). RTCP and RTP on one port (RFC 5761 §4) are
//! told apart by [`is_rtcp`]. Wall-clock time enters only as [`NtpTime`], from the caller.

use std::time::Duration;

use crate::MediaError;

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
pub const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// Packet types (RFC 3550 §12.1).
const SR: u8 = 200;
const RR: u8 = 201;
const SDES: u8 = 202;
const BYE: u8 = 203;
/// SDES item CNAME.
const CNAME: u8 = 1;
/// Sequence tracking (Appendix A.1).
const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;

/// A wall-clock instant as a 64-bit NTP timestamp (32.32 fixed point seconds since 1900).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// From time since the Unix epoch (e.g. a kernel receive timestamp).
    pub fn from_unix(since_epoch: Duration) -> Self {
        let secs = since_epoch.as_secs().wrapping_add(NTP_UNIX_OFFSET);
        let frac = (u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
        Self((secs << 32) | frac)
    }

    /// The middle 32 bits (16.16 seconds): the form LSR, DLSR and round trips are counted in.
    pub fn middle(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// 16.16 fixed-point seconds as a duration.
fn short_to_duration(units: u32) -> Duration {
    Duration::from_nanos((u64::from(units) * 1_000_000_000) >> 16)
}

/// A duration as 16.16 fixed-point seconds (saturating).
fn duration_to_short(d: Duration) -> u32 {
    let units = (d.as_nanos() << 16) / 1_000_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// What a sender report says of its sender's stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderInfo {
    /// When it was sent.
    pub ntp: NtpTime,
    /// The same instant on the RTP clock.
    pub rtp_timestamp: u32,
    /// RTP packets sent so far.
    pub packets: u32,
    /// Payload octets sent so far.
    pub octets: u32,
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source reported on.
    pub ssrc: u32,
    /// Packets lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Packets lost since the start (24-bit signed: duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles in the upper 16 bits).
    pub highest_seq: u32,
    /// Interarrival jitter, in RTP timestamp units.
    pub jitter: u32,
    /// The middle 32 bits of the NTP time of the last SR received from that source (0: none).
    pub lsr: u32,
    /// Since that SR, in 1/65536 s (0: none).
    pub dlsr: u32,
}

impl ReportBlock {
    /// The round-trip time this block gives, received at `arrival` by the source it reports
    /// on (A − LSR − DLSR, §6.4.1); `None` without an SR to refer to, or if the clocks say it
    /// came back before it went.
    pub fn round_trip(&self, arrival: NtpTime) -> Option<Duration> {
        if self.lsr == 0 {
            return None;
        }
        let rtt = arrival
            .middle()
            .wrapping_sub(self.lsr)
            .wrapping_sub(self.dlsr);
        // More than half the 16.16 range is a negative difference: clock trouble.
        (rtt < 0x8000_0000).then(|| short_to_duration(rtt))
    }
}

/// One packet of a compound RTCP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// A sender report.
    SenderReport {
        /// The sender.
        ssrc: u32,
        /// Its stream.
        info: SenderInfo,
        /// What it received.
        blocks: Vec<ReportBlock>,
    },
    /// A receiver report.
    ReceiverReport {
        /// The reporter.
        ssrc: u32,
        /// What it received.
        blocks: Vec<ReportBlock>,
    },
    /// These sources are leaving.
    Bye {
        /// The sources.
        ssrcs: Vec<u32>,
    },
    /// SDES, APP or a type we do not read: skipped.
    Other {
        /// Its packet type.
        packet_type: u8,
    },
}

/// Whether a datagram on a multiplexed port is RTCP (RFC 5761 §4: the second octet 192–223,
/// which RTP with the payload types we use never has).
pub fn is_rtcp(data: &[u8]) -> bool {
    data.len() >= 8 && data[0] >> 6 == 2 && (192..=223).contains(&data[1])
}

fn bad(what: &str) -> MediaError {
    MediaError::BadRtcp(what.to_string())
}

fn u32_at(data: &[u8], at: usize) -> Result<u32, MediaError> {
    data.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| bad("truncated"))
}

/// Reads a compound packet (Appendix A.2's checks: version 2, no padding but on the last, the
/// lengths adding up to the datagram). The first need not be an SR or RR: reduced-size RTCP
/// (RFC 5506) and phones' APP keepalives (baresip's) begin otherwise.
pub fn parse(data: &[u8]) -> Result<Vec<Packet>, MediaError> {
    let mut packets = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let head = data
            .get(at..at + 4)
            .ok_or_else(|| bad("truncated header"))?;
        if head[0] >> 6 != 2 {
            return Err(bad("not version 2"));
        }
        let padding = head[0] & 0x20 != 0;
        let count = usize::from(head[0] & 0x1f);
        let packet_type = head[1];
        let words = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let end = at + 4 + 4 * words;
        let body = data
            .get(at..end)
            .ok_or_else(|| bad("length past the datagram"))?;
        if padding && end != data.len() {
            return Err(bad("padding before the last packet"));
        }
        packets.push(read_one(body, packet_type, count)?);
        at = end;
    }
    if packets.is_empty() {
        return Err(bad("empty"));
    }
    Ok(packets)
}

fn read_one(body: &[u8], packet_type: u8, count: usize) -> Result<Packet, MediaError> {
    let blocks_at = |from: usize| -> Result<Vec<ReportBlock>, MediaError> {
        (0..count)
            .map(|i| read_block(body, from + 24 * i))
            .collect()
    };
    Ok(match packet_type {
        SR => {
            let info = SenderInfo {
                ntp: NtpTime((u64::from(u32_at(body, 8)?) << 32) | u64::from(u32_at(body, 12)?)),
                rtp_timestamp: u32_at(body, 16)?,
                packets: u32_at(body, 20)?,
                octets: u32_at(body, 24)?,
            };
            Packet::SenderReport {
                ssrc: u32_at(body, 4)?,
                info,
                blocks: blocks_at(28)?,
            }
        }
        RR => Packet::ReceiverReport {
            ssrc: u32_at(body, 4)?,
            blocks: blocks_at(8)?,
        },
        BYE => Packet::Bye {
            ssrcs: (0..count)
                .map(|i| u32_at(body, 4 + 4 * i))
                .collect::<Result<_, _>>()?,
        },
        other => Packet::Other { packet_type: other },
    })
}

fn read_block(body: &[u8], at: usize) -> Result<ReportBlock, MediaError> {
    let lost = u32_at(body, at + 4)?;
    // 24-bit two's complement.
    let cumulative = ((lost << 8) as i32) >> 8;
    Ok(ReportBlock {
        ssrc: u32_at(body, at)?,
        fraction_lost: (lost >> 24) as u8,
        cumulative_lost: cumulative,
        highest_seq: u32_at(body, at + 8)?,
        jitter: u32_at(body, at + 12)?,
        lsr: u32_at(body, at + 16)?,
        dlsr: u32_at(body, at + 20)?,
    })
}

/// A report to send: an SR when we sent RTP since the last one, else an RR, then SDES CNAME.
#[derive(Clone, Debug)]
pub struct Report<'a> {
    /// Our SSRC.
    pub ssrc: u32,
    /// Our stream, for an SR.
    pub sender: Option<SenderInfo>,
    /// What we received (at most 31).
    pub blocks: &'a [ReportBlock],
    /// Our canonical name (at most 255 octets).
    pub cname: &'a str,
}

/// Writes `report` as a compound packet into `out` (cleared first).
pub fn write(report: &Report<'_>, out: &mut Vec<u8>) {
    out.clear();
    let blocks = &report.blocks[..report.blocks.len().min(31)];
    let (packet_type, words) = match report.sender {
        Some(_) => (SR, 6 + 6 * blocks.len()),
        None => (RR, 1 + 6 * blocks.len()),
    };
    out.push(0x80 | blocks.len() as u8);
    out.push(packet_type);
    out.extend_from_slice(&(words as u16).to_be_bytes());
    out.extend_from_slice(&report.ssrc.to_be_bytes());
    if let Some(info) = report.sender {
        out.extend_from_slice(&info.ntp.0.to_be_bytes());
        for word in [info.rtp_timestamp, info.packets, info.octets] {
            out.extend_from_slice(&word.to_be_bytes());
        }
    }
    for b in blocks {
        let lost = (u32::from(b.fraction_lost) << 24)
            | (b.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32 & 0x00ff_ffff);
        for word in [b.ssrc, lost, b.highest_seq, b.jitter, b.lsr, b.dlsr] {
            out.extend_from_slice(&word.to_be_bytes());
        }
    }
    // SDES with one chunk: our SSRC, CNAME, the end item, padded to a word.
    let cname = &report.cname.as_bytes()[..report.cname.len().min(255)];
    let chunk = 4 + 2 + cname.len() + 1;
    let padded = chunk.div_ceil(4) * 4;
    out.push(0x81);
    out.push(SDES);
    out.extend_from_slice(&((padded / 4) as u16).to_be_bytes());
    out.extend_from_slice(&report.ssrc.to_be_bytes());
    out.push(CNAME);
    out.push(cname.len() as u8);
    out.extend_from_slice(cname);
    out.resize(out.len() + (padded - chunk) + 1, 0);
}

/// What we received from one source, for the report blocks about it (Appendix A.1, A.3).
#[derive(Clone, Debug)]
pub struct Reception {
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    /// A sequence number far from the rest: taken as a restart if the next follows it.
    bad_seq: Option<u16>,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// The last SR from this source: its middle NTP bits and when it arrived.
    last_sr: Option<(u32, NtpTime)>,
}

impl Reception {
    /// Starts counting at the source's first packet.
    pub fn new(first_seq: u16) -> Self {
        Self {
            base_seq: u32::from(first_seq),
            max_seq: first_seq,
            cycles: 0,
            bad_seq: None,
            received: 1,
            expected_prior: 0,
            received_prior: 0,
            last_sr: None,
        }
    }

    /// A packet with this sequence number arrived.
    pub fn received(&mut self, seq: u16) {
        let delta = seq.wrapping_sub(self.max_seq);
        if delta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(1 << 16);
            }
            self.max_seq = seq;
        } else if delta <= u16::MAX - MAX_MISORDER + 1 {
            // (RFC 3550 A.1: udelta <= RTP_SEQ_MOD - MAX_MISORDER.)
            // A big jump: a restart if the next packet follows it.
            if self.bad_seq == Some(seq) {
                *self = Self {
                    last_sr: self.last_sr,
                    ..Self::new(seq)
                };
                return;
            }
            self.bad_seq = Some(seq.wrapping_add(1));
            return;
        }
        // else: duplicate or reordered, counted.
        self.received += 1;
    }

    /// A sender report from this source arrived at `arrival`.
    pub fn sender_report(&mut self, info: &SenderInfo, arrival: NtpTime) {
        self.last_sr = Some((info.ntp.middle(), arrival));
    }

    /// Packets lost since the start (expected minus received; negative with duplicates).
    pub fn cumulative_lost(&self) -> i64 {
        i64::from(self.extended_max()) - i64::from(self.base_seq) + 1 - i64::from(self.received)
    }

    fn extended_max(&self) -> u32 {
        self.cycles + u32::from(self.max_seq)
    }

    /// The block to report on `ssrc` at `now`, with its `jitter` (RTP units); starts the next
    /// interval for the fraction lost.
    pub fn block(&mut self, ssrc: u32, jitter: u32, now: NtpTime) -> ReportBlock {
        let expected = self.extended_max() - self.base_seq + 1;
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = match (expected_interval, lost_interval) {
            (0, _) => 0,
            (_, l) if l <= 0 => 0,
            (e, l) => ((l << 8) / i64::from(e)).min(255) as u8,
        };
        let (lsr, dlsr) = match self.last_sr {
            Some((lsr, arrived)) => {
                let since = now.middle().wrapping_sub(arrived.middle());
                (lsr, since)
            }
            None => (0, 0),
        };
        ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: self.cumulative_lost().clamp(-0x80_0000, 0x7f_ffff) as i32,
            highest_seq: self.extended_max(),
            jitter,
            lsr,
            dlsr,
        }
    }
}

/// The interval between our reports: §6.2's 5 s minimum (a two-party call's RTCP share is
/// far below it), randomised by the caller to 0.5–1.5 × as §6.3.1 asks.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// A delay since an SR as DLSR units (1/65536 s).
pub fn dlsr(since: Duration) -> u32 {
    duration_to_short(since)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_of_the_rfc_3550_example() {
        // §6.4.1, figure 2: LSR 0xb705:2000 (46853.125 s), DLSR 0x0005:4000 (5.250 s), the
        // report arriving at A = 0xb710:8000 (46864.500 s): a round trip of 6.125 s.
        let block = ReportBlock {
            lsr: 0xb705_2000,
            dlsr: 0x0005_4000,
            ..ReportBlock::default()
        };
        let arrival = NtpTime(0xb710_8000 << 16);
        assert_eq!(block.round_trip(arrival), Some(Duration::from_millis(6125)));
        assert_eq!(
            ReportBlock::default().round_trip(arrival),
            None,
            "no SR yet"
        );
        // Back before it went: not a time.
        let early = NtpTime(0xb700_0000 << 16);
        assert_eq!(block.round_trip(early), None);
    }

    #[test]
    fn ntp_time_from_unix() {
        let t = NtpTime::from_unix(Duration::from_millis(1_500));
        assert_eq!(t.0 >> 32, NTP_UNIX_OFFSET + 1);
        assert_eq!(t.0 & 0xffff_ffff, 0x8000_0000);
        assert_eq!(dlsr(Duration::from_millis(5_250)), 0x0005_4000);
    }

    #[test]
    fn a_sender_report_written_is_read_back() {
        let block = ReportBlock {
            ssrc: 0x1234_5678,
            fraction_lost: 12,
            cumulative_lost: -3,
            highest_seq: 0x0001_0005,
            jitter: 40,
            lsr: 0xb705_2000,
            dlsr: 0x0005_4000,
        };
        let info = SenderInfo {
            ntp: NtpTime(0xdead_beef_0123_4567),
            rtp_timestamp: 160_000,
            packets: 1000,
            octets: 160_000,
        };
        let mut out = Vec::new();
        let report = Report {
            ssrc: 7,
            sender: Some(info),
            blocks: &[block],
            cname: "ivrd@192.0.2.1",
        };
        write(&report, &mut out);
        assert_eq!(out.len() % 4, 0);
        assert!(is_rtcp(&out));
        let packets = parse(&out).expect("parses");
        assert_eq!(
            packets,
            [
                Packet::SenderReport {
                    ssrc: 7,
                    info,
                    blocks: vec![block]
                },
                Packet::Other { packet_type: SDES }
            ]
        );
        // Without RTP sent: a receiver report.
        let rr = Report {
            sender: None,
            blocks: &[],
            ..report
        };
        write(&rr, &mut out);
        assert_eq!(
            parse(&out).expect("parses")[0],
            Packet::ReceiverReport {
                ssrc: 7,
                blocks: vec![]
            }
        );
    }

    #[test]
    fn malformed_reports_are_errors_and_rtp_is_not_rtcp() {
        let mut sr = Vec::new();
        let report = Report {
            ssrc: 1,
            sender: None,
            blocks: &[ReportBlock::default()],
            cname: "x",
        };
        write(&report, &mut sr);
        for cut in [0, 3, 7, 20, sr.len() - 1] {
            assert!(parse(&sr[..cut]).is_err(), "cut at {cut}");
        }
        let mut v1 = sr.clone();
        v1[0] = 0x41;
        assert!(parse(&v1).is_err());
        // Reduced-size RTCP (RFC 5506): an SDES alone is read.
        let sdes_first = sr[32..].to_vec();
        assert_eq!(
            parse(&sdes_first),
            Ok(vec![Packet::Other { packet_type: SDES }])
        );
        // RTP, PCMU, marker set or not.
        let rtp = [0x80, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7];
        assert!(!is_rtcp(&rtp));
        assert!(
            !is_rtcp(&[0x80, 0xe5, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7]),
            "PT 101 marked"
        );
        // A BYE after the report is read.
        let mut with_bye = sr.clone();
        with_bye.extend_from_slice(&[0x81, BYE, 0, 1, 0, 0, 0, 9]);
        assert_eq!(
            parse(&with_bye).expect("parses").last(),
            Some(&Packet::Bye { ssrcs: vec![9] })
        );
    }

    #[test]
    fn loss_is_counted_across_the_sequence_wrap_and_per_interval() {
        // 100 packets from 65500 on, through the wrap, five of them lost.
        let mut r = Reception::new(65_500);
        for i in 1..100u16 {
            if (40..45).contains(&i) {
                continue;
            }
            r.received(65_500u16.wrapping_add(i));
        }
        let sr_at = NtpTime::from_unix(Duration::from_secs(100));
        let info = SenderInfo {
            ntp: NtpTime(0x0000_1234_5678_0000),
            rtp_timestamp: 0,
            packets: 0,
            octets: 0,
        };
        r.sender_report(&info, sr_at);
        let now = NtpTime::from_unix(Duration::from_millis(101_500));
        let b = r.block(3, 12, now);
        assert_eq!(
            b.highest_seq,
            (1 << 16) + u32::from(65_500u16.wrapping_add(99))
        );
        assert_eq!(b.cumulative_lost, 5);
        assert_eq!(b.fraction_lost, (5 * 256 / 100) as u8);
        assert_eq!((b.lsr, b.dlsr), (0x1234_5678, 0x0001_8000));
        // The next interval: ten more, none lost; a duplicate makes no loss negative.
        for i in 100..110u16 {
            r.received(65_500u16.wrapping_add(i));
        }
        r.received(65_500u16.wrapping_add(109));
        let b = r.block(3, 12, now);
        assert_eq!((b.fraction_lost, b.cumulative_lost), (0, 4));
    }

    #[test]
    fn a_restarted_sender_is_followed_after_two_packets() {
        let mut r = Reception::new(10);
        r.received(11);
        // A jump of 30000: ignored once, taken when the next follows it.
        r.received(30_011);
        assert_eq!(r.block(1, 0, NtpTime(0)).highest_seq, 11);
        r.received(30_012);
        let b = r.block(1, 0, NtpTime(0));
        assert_eq!((b.highest_seq, b.cumulative_lost), (30_012, 0));
    }
}
