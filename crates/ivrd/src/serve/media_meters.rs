//! A media worker's RTP counters for Prometheus: packets in and out, lost, late, duplicate and
//! unusable, kept as plain integers on the worker's thread and added to the shared counters
//! once a second (the worker's calls are summed then, so a long call is counted as it goes, not
//! only when it ends), and each call's jitter observed when its media ends.

use std::time::Duration;

use media::rtp::ReceiveStats;

/// Ticks (20 ms) between two publications.
const EVERY: u32 = 50;

/// How a leg's media went, for its CDR.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Quality {
    pub(crate) stats: ReceiveStats,
    /// RFC 3550 interarrival jitter at the end, and at its worst.
    pub(crate) jitter: Duration,
    pub(crate) max_jitter: Duration,
    /// What RTCP said: the round trip, the peer's view of our stream.
    pub(crate) rtcp: media::RtcpQuality,
}

#[derive(Clone, Copy, Default)]
struct Sums {
    received: u64,
    sent: u64,
    lost: u64,
    late: u64,
    duplicate: u64,
    invalid: u64,
    rtcp_sent: u64,
    rtcp_received: u64,
}

impl Sums {
    fn add(&mut self, s: &ReceiveStats) {
        self.received += s.delivered + s.late + s.duplicate;
        self.lost += s.lost;
        self.late += s.late;
        self.duplicate += s.duplicate;
        self.invalid += s.invalid + s.foreign;
    }
}

#[derive(Default)]
pub(crate) struct RtpMeters {
    /// Of calls whose media ended, and packets sent by all.
    ended: Sums,
    published: Sums,
    ticks: u32,
}

impl RtpMeters {
    pub(crate) fn sent(&mut self) {
        self.ended.sent += 1;
    }

    pub(crate) fn rtcp_sent(&mut self) {
        self.ended.rtcp_sent += 1;
    }

    pub(crate) fn rtcp_received(&mut self, reports: u64) {
        self.ended.rtcp_received += reports;
    }

    /// A leg's media ended with this quality.
    pub(crate) fn ended(&mut self, q: &Quality) {
        self.ended.add(&q.stats);
        metrics::histogram!("ivrd_rtp_jitter_seconds").record(q.jitter.as_secs_f64());
        if let Some(rtt) = q.rtcp.max_rtt {
            metrics::histogram!("ivrd_rtcp_rtt_seconds").record(rtt.as_secs_f64());
        }
    }

    /// One tick; once a second the sums of the ended calls and of `live` are published.
    pub(crate) fn tick(&mut self, live: impl Iterator<Item = ReceiveStats>) {
        self.ticks += 1;
        if self.ticks < EVERY {
            return;
        }
        self.ticks = 0;
        let mut now = self.ended;
        for s in live {
            now.add(&s);
        }
        let p = self.published;
        let packets =
            |direction| metrics::counter!("ivrd_rtp_packets_total", "direction" => direction);
        packets("in").increment(now.received.saturating_sub(p.received));
        packets("out").increment(now.sent.saturating_sub(p.sent));
        let problem = |kind| metrics::counter!("ivrd_rtp_problem_packets_total", "kind" => kind);
        problem("lost").increment(now.lost.saturating_sub(p.lost));
        problem("late").increment(now.late.saturating_sub(p.late));
        problem("duplicate").increment(now.duplicate.saturating_sub(p.duplicate));
        problem("invalid").increment(now.invalid.saturating_sub(p.invalid));
        metrics::counter!("ivrd_rtcp_reports_total", "direction" => "out")
            .increment(now.rtcp_sent.saturating_sub(p.rtcp_sent));
        metrics::counter!("ivrd_rtcp_reports_total", "direction" => "in")
            .increment(now.rtcp_received.saturating_sub(p.rtcp_received));
        self.published = now;
    }
}
