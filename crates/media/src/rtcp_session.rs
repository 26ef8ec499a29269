//! One call's RTCP, sans-IO and clock-free like [`crate::CallMedia`]: it counts what we send
//! and receive, reads the peer's reports (its SR for our LSR/DLSR, its report block about us
//! for the round trip and the loss and jitter it sees), and says when our next compound report
//! is due: every [`REPORT_INTERVAL`] of media time, randomised to 0.5–1.5 × (§6.3.1), an SR
//! when we sent RTP since the last one, else an RR. Wall-clock time enters only as the
//! [`NtpTime`] the caller passes with a datagram or a tick.

use std::time::Duration;

use crate::MediaError;
use crate::MediaTime;
use crate::rtcp::{self, NtpTime, Packet, REPORT_INTERVAL, Reception, Report, SenderInfo};

/// 8 kHz samples in one report interval.
const INTERVAL_SAMPLES: u64 = REPORT_INTERVAL.as_secs() * 8_000;

/// What the reports tell of a call's quality.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RtcpQuality {
    /// The last round-trip time measured.
    pub rtt: Option<Duration>,
    /// The largest round trip.
    pub max_rtt: Option<Duration>,
    /// What the peer reported of our stream: packets lost in all.
    pub peer_lost: Option<i32>,
    /// Its interarrival jitter of our stream (RTP units).
    pub peer_jitter: Option<u32>,
    /// Reports received (that parsed).
    pub received: u32,
    /// Reports sent.
    pub sent: u32,
}

/// One call's RTCP state.
#[derive(Clone, Debug)]
pub struct RtcpSession {
    ssrc: u32,
    cname: String,
    /// The peer's stream: its SSRC and what we received of it.
    peer: Option<(u32, Reception)>,
    packets_sent: u32,
    octets_sent: u32,
    sent_since_report: bool,
    next_report: MediaTime,
    rng: u64,
    quality: RtcpQuality,
}

impl RtcpSession {
    /// A session for our stream `ssrc`, named `cname` (e.g. `ivrd@192.0.2.1`); `seed`
    /// randomises the report times. The first report is due half an interval in.
    pub fn new(ssrc: u32, cname: &str, seed: u64) -> Self {
        Self {
            ssrc,
            cname: cname.to_string(),
            peer: None,
            packets_sent: 0,
            octets_sent: 0,
            sent_since_report: false,
            next_report: MediaTime(INTERVAL_SAMPLES / 2),
            rng: seed | 1,
            quality: RtcpQuality::default(),
        }
    }

    /// An RTP packet of the peer's arrived (after the call's own source checks).
    pub fn rtp_received(&mut self, ssrc: u32, sequence: u16) {
        match &mut self.peer {
            Some((known, reception)) if *known == ssrc => reception.received(sequence),
            // A new source (the peer restarted its stream): counted afresh.
            _ => self.peer = Some((ssrc, Reception::new(sequence))),
        }
    }

    /// We sent an RTP packet with this payload length.
    pub fn rtp_sent(&mut self, payload_len: usize) {
        self.packets_sent = self.packets_sent.wrapping_add(1);
        self.octets_sent = self.octets_sent.wrapping_add(payload_len as u32);
        self.sent_since_report = true;
    }

    /// An RTCP compound packet from the peer, arrived at `arrival`.
    pub fn handle_rtcp(&mut self, data: &[u8], arrival: NtpTime) -> Result<(), MediaError> {
        let packets = rtcp::parse(data)?;
        self.quality.received = self.quality.received.saturating_add(1);
        for packet in packets {
            let blocks = match packet {
                Packet::SenderReport { ssrc, info, blocks } => {
                    if let Some((known, reception)) = &mut self.peer
                        && *known == ssrc
                    {
                        reception.sender_report(&info, arrival);
                    }
                    blocks
                }
                Packet::ReceiverReport { blocks, .. } => blocks,
                Packet::Bye { .. } | Packet::Other { .. } => continue,
            };
            for block in blocks.iter().filter(|b| b.ssrc == self.ssrc) {
                self.quality.peer_lost = Some(block.cumulative_lost);
                self.quality.peer_jitter = Some(block.jitter);
                if let Some(rtt) = block.round_trip(arrival) {
                    self.quality.rtt = Some(rtt);
                    self.quality.max_rtt = Some(self.quality.max_rtt.map_or(rtt, |m| m.max(rtt)));
                }
            }
        }
        Ok(())
    }

    /// At media time `now` (wall clock `wall`, our RTP clock `rtp_now`, the peer stream's
    /// jitter in RTP units): writes our report into `out` if one is due, and says so.
    pub fn poll_report(
        &mut self,
        now: MediaTime,
        wall: NtpTime,
        rtp_now: u32,
        jitter: u32,
        out: &mut Vec<u8>,
    ) -> bool {
        if now < self.next_report {
            return false;
        }
        let block = self
            .peer
            .as_mut()
            .map(|(ssrc, reception)| reception.block(*ssrc, jitter, wall));
        let sender = self.sent_since_report.then_some(SenderInfo {
            ntp: wall,
            rtp_timestamp: rtp_now,
            packets: self.packets_sent,
            octets: self.octets_sent,
        });
        let blocks: Vec<_> = block.into_iter().collect();
        rtcp::write(
            &Report {
                ssrc: self.ssrc,
                sender,
                blocks: &blocks,
                cname: &self.cname,
            },
            out,
        );
        self.sent_since_report = false;
        self.quality.sent = self.quality.sent.saturating_add(1);
        // 0.5–1.5 × the interval.
        let spread = self.random() % (INTERVAL_SAMPLES + 1);
        self.next_report = MediaTime(now.0 + INTERVAL_SAMPLES / 2 + spread);
        true
    }

    /// What the reports said so far.
    pub fn quality(&self) -> RtcpQuality {
        self.quality
    }

    fn random(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: u64) -> NtpTime {
        NtpTime::from_unix(Duration::from_millis(1_790_000_000_000 + ms))
    }

    /// Two sessions talking 20 ms packets, 40 ms apart on the wire each way: B reads A's SR,
    /// A reads B's report about it and finds the 80 ms round trip, whatever B's delay
    /// between the two.
    #[test]
    fn the_round_trip_is_measured_from_the_peers_report() {
        let mut a = RtcpSession::new(0xa, "a@test", 1);
        let mut b = RtcpSession::new(0xb, "b@test", 2);
        for i in 0..200u16 {
            a.rtp_sent(160);
            b.rtp_received(0xa, 1000 + i);
        }
        let mut out = Vec::new();
        let (now, rtp) = (MediaTime(INTERVAL_SAMPLES * 2), 32_000);
        assert!(a.poll_report(now, at_ms(0), rtp, 0, &mut out), "due");
        assert!(!a.poll_report(now, at_ms(0), rtp, 0, &mut out), "not twice");
        b.handle_rtcp(&out, at_ms(40)).expect("A's SR");
        // B reports 537 ms later; A hears it 40 ms after that.
        assert!(b.poll_report(now, at_ms(577), 0, 3, &mut out));
        let packets = rtcp::parse(&out).expect("B's report");
        assert!(
            matches!(packets[0], Packet::ReceiverReport { .. }),
            "B sent no RTP"
        );
        a.handle_rtcp(&out, at_ms(617)).expect("B's RR");
        let q = a.quality();
        let rtt = q.rtt.expect("a round trip");
        assert!(
            rtt.abs_diff(Duration::from_millis(80)) < Duration::from_millis(1),
            "{rtt:?}"
        );
        assert_eq!((q.peer_lost, q.peer_jitter), (Some(0), Some(3)));
        assert_eq!((q.received, q.sent), (1, 1));
    }

    #[test]
    fn reports_come_every_half_to_one_and_a_half_intervals() {
        let mut s = RtcpSession::new(1, "s@test", 99);
        let mut out = Vec::new();
        let mut times = Vec::new();
        // One tick per 20 ms for ten minutes.
        for tick in 0..30_000u64 {
            let now = MediaTime(tick * 160);
            if s.poll_report(now, at_ms(tick * 20), 0, 0, &mut out) {
                times.push(now.0);
            }
        }
        assert_eq!(times[0], INTERVAL_SAMPLES / 2);
        let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.iter()
                .all(|g| (INTERVAL_SAMPLES / 2..=INTERVAL_SAMPLES * 3 / 2 + 160).contains(g))
        );
        let mean = gaps.iter().sum::<u64>() / gaps.len() as u64;
        assert!(
            (INTERVAL_SAMPLES * 9 / 10..INTERVAL_SAMPLES * 11 / 10).contains(&mean),
            "{mean}"
        );
    }

    #[test]
    fn garbage_is_an_error_and_changes_nothing() {
        let mut s = RtcpSession::new(1, "s@test", 3);
        assert!(s.handle_rtcp(&[0x80, 0xc8, 0, 50], at_ms(0)).is_err());
        assert_eq!(s.quality(), RtcpQuality::default());
    }
}
