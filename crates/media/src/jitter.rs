//! Interarrival jitter, as RFC 3550 §6.4.1 defines it and §A.8 computes it: the mean
//! deviation of the difference between packets' arrival spacing and their RTP timestamp
//! spacing, smoothed over 16 packets, in timestamp units. The caller gives each packet's
//! arrival time (the kernel's receive timestamp where there is one, not the time it was read).

use std::time::Duration;

/// One stream's jitter; a new SSRC starts it afresh.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Jitter {
    /// The last packet: its SSRC, arrival (in timestamp units) and RTP timestamp.
    last: Option<(u32, i64, u32)>,
    /// J × 16 (§A.8 keeps four fraction bits).
    scaled: u64,
    max_scaled: u64,
}

impl Jitter {
    /// A packet of `ssrc` stamped `timestamp` arrived at `arrival` (any fixed origin), on a
    /// clock of `rate` Hz.
    pub fn arrived(&mut self, ssrc: u32, timestamp: u32, arrival: Duration, rate: u32) {
        let units = (arrival.as_micros() as i64).saturating_mul(i64::from(rate)) / 1_000_000;
        if let Some((last_ssrc, last_units, last_ts)) = self.last
            && last_ssrc == ssrc
        {
            let transit_change =
                (units - last_units) - i64::from(timestamp.wrapping_sub(last_ts) as i32);
            let d = transit_change.unsigned_abs();
            // J += (|D| - J) / 16, on J × 16.
            self.scaled = self.scaled + d - ((self.scaled + 8) >> 4);
            self.max_scaled = self.max_scaled.max(self.scaled);
        } else if self.last.is_some_and(|(s, _, _)| s != ssrc) {
            self.scaled = 0;
        }
        self.last = Some((ssrc, units, timestamp));
    }

    /// The jitter now, in timestamp units.
    pub fn units(&self) -> u32 {
        (self.scaled >> 4) as u32
    }

    /// The jitter now and the most it has been, at `rate` Hz.
    pub fn now_and_max(&self, rate: u32) -> (Duration, Duration) {
        let at = |scaled: u64| Duration::from_micros(scaled * 1_000_000 / 16 / u64::from(rate));
        (at(self.scaled), at(self.max_scaled))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 8000;

    #[test]
    fn packets_arriving_exactly_on_their_timestamps_have_no_jitter() {
        let mut j = Jitter::default();
        for i in 0..100u32 {
            j.arrived(7, i * 160, Duration::from_millis(u64::from(i) * 20), RATE);
        }
        assert_eq!(j.units(), 0);
    }

    #[test]
    fn packets_arriving_in_pairs_converge_on_the_mean_deviation() {
        // SIPp's pacing: pairs of packets, the second at once, then 40 ms on: |D| is 20 ms
        // (160 units) for every packet, so J converges on 160.
        let mut j = Jitter::default();
        for i in 0..400u32 {
            let arrival = u64::from(i / 2) * 40;
            j.arrived(7, i * 160, Duration::from_millis(arrival), RATE);
        }
        assert!((158..=160).contains(&j.units()), "{}", j.units());
        let (now, max) = j.now_and_max(RATE);
        assert!(
            now <= max && max <= Duration::from_millis(20),
            "{now:?} {max:?}"
        );
    }

    #[test]
    fn a_new_ssrc_starts_afresh_and_timestamps_wrap() {
        let mut j = Jitter::default();
        j.arrived(1, 0, Duration::ZERO, RATE);
        j.arrived(1, 160, Duration::from_millis(60), RATE);
        assert!(j.units() > 0);
        j.arrived(2, u32::MAX - 79, Duration::from_millis(80), RATE);
        assert_eq!(j.units(), 0);
        j.arrived(2, 80, Duration::from_millis(100), RATE);
        assert_eq!(j.units(), 0, "wrapped, on time");
    }
}
