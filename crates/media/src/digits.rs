//! One key press, one report: a digit can arrive as RFC 4733 events, as in-band tones and by SIP
//! INFO at once (a gateway that sends both, SIPp mixing a DTMF pcap with audio). A press is
//! reported by its first source; each other source may add one report of the same key within
//! [`MERGE_WINDOW`], which is dropped. A second report from the same source is a new press.

use std::collections::VecDeque;

/// Where a digit came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigitSource {
    /// RFC 4733 telephone-event.
    Rfc4733,
    /// Tones in the audio, found by the DTMF detector.
    InBand,
    /// SIP INFO.
    SipInfo,
}

/// How far apart (in 8 kHz samples) two reports of one press may be: 400 ms covers in-band
/// confirmation (30 ms after onset) and INFO's signalling path.
pub const MERGE_WINDOW: u64 = 3200;

#[derive(Clone, Copy, Debug)]
struct Report {
    key: char,
    /// Bit per source that has reported this press.
    sources: u8,
    at: u64,
}

fn bit(source: DigitSource) -> u8 {
    match source {
        DigitSource::Rfc4733 => 1,
        DigitSource::InBand => 2,
        DigitSource::SipInfo => 4,
    }
}

/// Remembers recent reports to drop duplicates across sources.
#[derive(Clone, Debug, Default)]
pub struct DigitMerger {
    recent: VecDeque<Report>,
}

impl DigitMerger {
    /// No reports yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A report of `key` from `source` at media time `at`; returns whether it is a new press.
    pub fn handle_digit(&mut self, key: char, source: DigitSource, at: u64) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|r| at.saturating_sub(r.at) > MERGE_WINDOW)
        {
            self.recent.pop_front();
        }
        if let Some(twin) = self
            .recent
            .iter_mut()
            .find(|r| r.key == key && r.sources & bit(source) == 0)
        {
            twin.sources |= bit(source);
            return false;
        }
        self.recent.push_back(Report {
            key,
            sources: bit(source),
            at,
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DigitSource::{InBand, Rfc4733, SipInfo};

    #[test]
    fn duplicates_across_sources_are_dropped_repeats_are_not() {
        let mut m = DigitMerger::new();
        assert!(m.handle_digit('5', Rfc4733, 0));
        assert!(!m.handle_digit('5', InBand, 240));
        assert!(
            !m.handle_digit('5', SipInfo, 800),
            "INFO twin of the same press"
        );
        // "55" pressed twice by one source: two presses.
        assert!(m.handle_digit('5', Rfc4733, 1600));
        assert!(m.handle_digit('5', Rfc4733, 3200));
        // Long after: a new press.
        assert!(m.handle_digit('5', InBand, 20_000));
        assert!(m.handle_digit('6', Rfc4733, 20_100));
    }
}
