//! What stands between a flow and a recipient's phone: the opt-out list (STOP and the usual
//! keywords in each language; a key press in a flow counts too), a country allowlist against
//! SMS-pumping fraud, and per-recipient rate and daily caps.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::{E164, SmsError};

/// Limits, from the daemon config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardConfig {
    /// Number prefixes that may be messaged (`+49`, `+4915`, `+1`). Empty: nobody.
    pub allowed_prefixes: Vec<String>,
    /// Messages to one recipient within any hour.
    pub per_recipient_per_hour: u32,
    /// Messages to one recipient within any 24 hours.
    pub per_recipient_per_day: u32,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            allowed_prefixes: Vec::new(),
            per_recipient_per_hour: 5,
            per_recipient_per_day: 10,
        }
    }
}

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;

/// What an inbound text asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    /// Stop all messages (STOP, UNSUBSCRIBE, STOPP, СТОП, …).
    OptOut,
    /// Messages welcome again (START, UNSTOP, …).
    OptIn,
}

/// Opt-out words in English, German and Ukrainian (CTIA's list for English).
const OPT_OUT: [&str; 12] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "STOPP",
    "ABMELDEN",
    "ABBESTELLEN",
    "СТОП",
    "ВІДПИСАТИСЯ",
    "ВІДМОВА",
];
const OPT_IN: [&str; 5] = ["START", "UNSTOP", "YES", "ANMELDEN", "СТАРТ"];

/// The keyword an inbound text is, if its whole text (trimmed, any case, trailing
/// punctuation ignored) is one.
pub fn keyword(text: &str) -> Option<Keyword> {
    let word = text
        .trim()
        .trim_end_matches(['.', '!'])
        .trim()
        .to_uppercase();
    if OPT_OUT.contains(&word.as_str()) {
        Some(Keyword::OptOut)
    } else if OPT_IN.contains(&word.as_str()) {
        Some(Keyword::OptIn)
    } else {
        None
    }
}

/// The guards' state: opted-out numbers and recent sends per recipient.
#[derive(Debug, Default)]
pub struct Guard {
    config: GuardConfig,
    opted_out: HashSet<E164>,
    recent: HashMap<E164, VecDeque<u64>>,
}

impl Guard {
    /// Guards with these limits and nobody opted out yet.
    pub fn new(config: GuardConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Whether `to` may get one more message at `now_ms`.
    pub fn check(&mut self, to: &E164, now_ms: u64) -> Result<(), SmsError> {
        if self.opted_out.contains(to) {
            return Err(SmsError::OptedOut(to.clone()));
        }
        if !to.matches_any(&self.config.allowed_prefixes) {
            return Err(SmsError::CountryNotAllowed(to.clone()));
        }
        let sends = self.recent.entry(to.clone()).or_default();
        while sends
            .front()
            .is_some_and(|t| now_ms.saturating_sub(*t) >= DAY_MS)
        {
            sends.pop_front();
        }
        let last_hour = sends
            .iter()
            .filter(|t| now_ms.saturating_sub(**t) < HOUR_MS)
            .count();
        if last_hour >= self.config.per_recipient_per_hour as usize {
            return Err(SmsError::RateLimited(to.clone()));
        }
        if sends.len() >= self.config.per_recipient_per_day as usize {
            return Err(SmsError::DailyCap(to.clone()));
        }
        Ok(())
    }

    /// Counts a message to `to` at `at_ms` (enqueued now, or restored from the store).
    pub fn count(&mut self, to: &E164, at_ms: u64) {
        let sends = self.recent.entry(to.clone()).or_default();
        let at = sends.partition_point(|t| *t <= at_ms);
        sends.insert(at, at_ms);
    }

    /// Records an opt-out (or, with `false`, an opt-in).
    pub fn set_opted_out(&mut self, number: &E164, opted_out: bool) {
        match opted_out {
            true => self.opted_out.insert(number.clone()),
            false => self.opted_out.remove(number),
        };
    }

    /// Whether `number` has opted out.
    pub fn is_opted_out(&self, number: &E164) -> bool {
        self.opted_out.contains(number)
    }

    /// Forgets recent sends older than a day (keeps memory bounded).
    pub fn prune(&mut self, now_ms: u64) {
        self.recent.retain(|_, sends| {
            while sends
                .front()
                .is_some_and(|t| now_ms.saturating_sub(*t) >= DAY_MS)
            {
                sends.pop_front();
            }
            !sends.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Country;

    fn n(s: &str) -> E164 {
        E164::parse(s, Country::by_iso("DE").expect("known")).expect("valid")
    }

    #[test]
    fn keywords_in_three_languages() {
        assert_eq!(keyword(" stop "), Some(Keyword::OptOut));
        assert_eq!(keyword("Stopp!"), Some(Keyword::OptOut));
        assert_eq!(keyword("стоп"), Some(Keyword::OptOut));
        assert_eq!(keyword("START"), Some(Keyword::OptIn));
        assert_eq!(keyword("please stop calling"), None);
    }

    #[test]
    fn caps_allowlist_and_opt_out() {
        let mut g = Guard::new(GuardConfig {
            allowed_prefixes: vec!["+49".into()],
            per_recipient_per_hour: 2,
            per_recipient_per_day: 3,
        });
        let a = n("+4915112345678");
        assert!(matches!(
            g.check(&n("+441234567890"), 0),
            Err(SmsError::CountryNotAllowed(_))
        ));
        for t in [0, 1000] {
            g.check(&a, t).expect("under the caps");
            g.count(&a, t);
        }
        assert!(matches!(g.check(&a, 2000), Err(SmsError::RateLimited(_))));
        g.check(&a, HOUR_MS + 1000).expect("an hour later");
        g.count(&a, HOUR_MS + 1000);
        assert!(matches!(
            g.check(&a, 2 * HOUR_MS),
            Err(SmsError::DailyCap(_))
        ));
        g.check(&a, DAY_MS + 1000).expect("a day later");
        g.set_opted_out(&a, true);
        assert!(matches!(
            g.check(&a, DAY_MS + 2000),
            Err(SmsError::OptedOut(_))
        ));
        g.set_opted_out(&a, false);
        g.check(&a, DAY_MS + 3000).expect("opted back in");
    }
}
