//! Session timers (RFC 4028): what a request or response asks for, what we agree to, and when
//! the next refresh, or the end of a session nobody refreshed, is due.
//!
//! `refresher=uac|uas` names roles in the transaction that carries the header, not in the
//! dialog: in a request we receive, `uac` is the peer; in a response to our request, `uac` is
//! us. [`SessionTimer::we_refresh`] holds the answer in dialog terms.

use std::time::{Duration, Instant};

use crate::message::Common;

/// RFC 4028 §4: nobody may ask for a session interval under 90 s.
pub(crate) const MIN_SE_FLOOR: u32 = 90;

/// Our session-timer settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimers {
    /// The interval we ask for in our INVITEs and grant when a caller supports timers but asks
    /// for none; a larger request is reduced to it (RFC 4028 §9 allows that).
    pub expires: Duration,
    /// The smallest interval we accept: a request under it gets 422 with this `Min-SE`.
    pub min_se: Duration,
}

impl Default for SessionTimers {
    fn default() -> Self {
        Self {
            expires: Duration::from_secs(1800),
            min_se: Duration::from_secs(u64::from(MIN_SE_FLOOR)),
        }
    }
}

impl SessionTimers {
    fn min_se_secs(&self) -> u32 {
        secs(self.min_se).max(MIN_SE_FLOOR)
    }

    pub(crate) fn expires_secs(&self) -> u32 {
        secs(self.expires).max(self.min_se_secs())
    }

    /// The headers of a request that asks for a session timer, we refreshing.
    pub(crate) fn request_headers(&self, interval: Option<u32>) -> [(&'static str, String); 3] {
        let interval = interval.unwrap_or_else(|| self.expires_secs());
        [
            ("Supported", "timer".into()),
            ("Session-Expires", format!("{interval};refresher=uac")),
            ("Min-SE", self.min_se_secs().to_string()),
        ]
    }
}

fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// A session interval in force on a dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SessionTimer {
    /// Seconds.
    pub(crate) interval: u32,
    /// We send the refreshes; otherwise the peer does, and we end the call when they stop.
    pub(crate) we_refresh: bool,
    /// The peer said `Supported: timer`: our 2xx says `Require: timer`.
    pub(crate) peer_supports: bool,
}

/// What a request's session-timer headers call for, as its UAS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Asked {
    /// No session timer on this session.
    Off,
    /// This one, in our 2xx.
    On(SessionTimer),
    /// 422 with this `Min-SE`.
    TooSmall(u32),
    /// 400: a `Session-Expires` or `Min-SE` we cannot read.
    Malformed(String),
}

impl SessionTimer {
    /// When the next thing is due from `now` (a refresh was just sent or answered): our
    /// refresh at half the interval, or the BYE a third of it (at most 32 s) before the end
    /// (RFC 4028 §10).
    pub(crate) fn due(&self, now: Instant) -> Instant {
        let interval = Duration::from_secs(u64::from(self.interval));
        match self.we_refresh {
            true => now + interval / 2,
            false => now + interval - (interval / 3).min(Duration::from_secs(32)),
        }
    }

    /// After our refresh went out at `now` with no answer yet: when to give up and end the
    /// call (the same point as if the peer were refreshing).
    pub(crate) fn refresh_deadline(&self, now: Instant) -> Instant {
        let interval = Duration::from_secs(u64::from(self.interval));
        now + interval / 2 - (interval / 3).min(Duration::from_secs(32))
    }

    /// The headers of our 2xx to the request that set this timer.
    pub(crate) fn response_headers(&self) -> Vec<(&'static str, String)> {
        let refresher = if self.we_refresh { "uas" } else { "uac" };
        let mut headers = vec![(
            "Session-Expires",
            format!("{};refresher={refresher}", self.interval),
        )];
        if self.peer_supports {
            headers.push(("Require", "timer".into()));
        }
        headers
    }
}

/// Our decision as the UAS of an INVITE, re-INVITE or UPDATE (RFC 4028 §9).
pub(crate) fn as_uas(req: &Common, ours: &SessionTimers) -> Asked {
    let supports = has_option(req, "Supported", "timer") || has_option(req, "Require", "timer");
    let their_min = match min_se(req) {
        Ok(m) => m.unwrap_or(MIN_SE_FLOOR).max(MIN_SE_FLOOR),
        Err(e) => return Asked::Malformed(e),
    };
    let (interval, refresher) = match session_expires(req) {
        Ok(Some((delta, refresher))) => {
            if delta < ours.min_se_secs() || delta < MIN_SE_FLOOR {
                return Asked::TooSmall(ours.min_se_secs());
            }
            (delta.min(ours.expires_secs()).max(their_min), refresher)
        }
        Ok(None) if supports => (ours.expires_secs().max(their_min), None),
        Ok(None) => return Asked::Off,
        Err(e) => return Asked::Malformed(e),
    };
    // A caller that does not support timers cannot refresh: we must (§9).
    let peer_refreshes = supports && refresher != Some(Role::Uas);
    Asked::On(SessionTimer {
        interval,
        we_refresh: !peer_refreshes,
        peer_supports: supports,
    })
}

/// What a 2xx to our INVITE or UPDATE set: `None` when it has no `Session-Expires` (the peer
/// does not do timers; we do not force them on it).
pub(crate) fn as_uac(resp: &Common) -> Option<SessionTimer> {
    let (interval, refresher) = session_expires(resp).ok().flatten()?;
    Some(SessionTimer {
        interval: interval.max(MIN_SE_FLOOR),
        // §7.2: a 2xx without `refresher` leaves it to us.
        we_refresh: refresher != Some(Role::Uas),
        peer_supports: true,
    })
}

/// The `Min-SE` of a 422 to our request.
pub(crate) fn min_se_of(resp: &Common) -> Option<u32> {
    min_se(resp).ok().flatten()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Uac,
    Uas,
}

/// `Session-Expires: delta-seconds *(;param)` (compact `x`).
fn session_expires(c: &Common) -> Result<Option<(u32, Option<Role>)>, String> {
    let Some(value) = c.header("Session-Expires") else {
        return Ok(None);
    };
    let mut parts = value.split(';');
    let delta = parts.next().unwrap_or_default().trim();
    let delta: u32 = delta
        .parse()
        .map_err(|_| format!("Session-Expires {value:?} is not a number of seconds"))?;
    let mut refresher = None;
    for param in parts {
        let (name, v) = param.split_once('=').unwrap_or((param, ""));
        if name.trim().eq_ignore_ascii_case("refresher") {
            refresher = match v.trim() {
                r if r.eq_ignore_ascii_case("uac") => Some(Role::Uac),
                r if r.eq_ignore_ascii_case("uas") => Some(Role::Uas),
                _ => {
                    return Err(format!(
                        "Session-Expires {value:?}: refresher is uac or uas"
                    ));
                }
            };
        }
    }
    Ok(Some((delta, refresher)))
}

/// `Min-SE: delta-seconds *(;param)`.
fn min_se(c: &Common) -> Result<Option<u32>, String> {
    let Some(value) = c.header("Min-SE") else {
        return Ok(None);
    };
    let delta = value.split(';').next().unwrap_or_default().trim();
    delta
        .parse()
        .map(Some)
        .map_err(|_| format!("Min-SE {value:?} is not a number of seconds"))
}

/// Whether an option tag is listed in any `name` header (`Supported`, `Require`; compact `k`
/// arrives expanded).
pub(crate) fn has_option(c: &Common, name: &str, tag: &str) -> bool {
    c.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(tag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, parse};

    fn invite(extra: &str) -> Common {
        let text = format!(
            "INVITE sip:ivr@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
             From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:ivr@127.0.0.1>\r\nCall-ID: st1\r\n\
             CSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match parse(text.as_bytes()) {
            Ok(Message::Request(r)) => r.common,
            other => panic!("{other:?}"),
        }
    }

    fn on(interval: u32, we_refresh: bool, peer_supports: bool) -> Asked {
        Asked::On(SessionTimer {
            interval,
            we_refresh,
            peer_supports,
        })
    }

    #[test]
    fn a_uas_honours_grants_and_refuses() {
        let ours = SessionTimers::default();
        // RFC 4028 §9: the caller refreshes unless it says otherwise or cannot.
        assert_eq!(
            as_uas(
                &invite("Supported: timer\r\nSession-Expires: 90\r\n"),
                &ours
            ),
            on(90, false, true)
        );
        assert_eq!(
            as_uas(
                &invite("k: timer\r\nx: 120;refresher=uas\r\nMin-SE: 90\r\n"),
                &ours
            ),
            on(120, true, true)
        );
        // A proxy asked for one on behalf of a caller without timers: we refresh, no Require.
        assert_eq!(
            as_uas(&invite("Session-Expires: 600;refresher=uac\r\n"), &ours),
            on(600, true, false)
        );
        // Reduced to ours, never under the caller's Min-SE.
        assert_eq!(
            as_uas(
                &invite("Supported: timer\r\nSession-Expires: 7200\r\n"),
                &ours
            ),
            on(1800, false, true)
        );
        let short = SessionTimers {
            expires: Duration::from_secs(100),
            ..ours
        };
        assert_eq!(
            as_uas(
                &invite("Supported: timer\r\nSession-Expires: 7200\r\nMin-SE: 300\r\n"),
                &short
            ),
            on(300, false, true)
        );
        // Supported but not asked: we grant ours, the caller refreshing.
        assert_eq!(
            as_uas(&invite("Supported: 100rel, timer\r\n"), &ours),
            on(1800, false, true)
        );
        assert_eq!(as_uas(&invite(""), &ours), Asked::Off);
        assert_eq!(
            as_uas(
                &invite("Supported: timer\r\nSession-Expires: 60\r\n"),
                &ours
            ),
            Asked::TooSmall(90)
        );
        for bad in [
            "Session-Expires: soon\r\n",
            "Session-Expires: 90;refresher=me\r\n",
            "Session-Expires: 90\r\nMin-SE: x\r\n",
        ] {
            assert!(
                matches!(as_uas(&invite(bad), &ours), Asked::Malformed(_)),
                "{bad}"
            );
        }
    }

    #[test]
    fn deadlines_follow_section_10() {
        #[allow(clippy::disallowed_methods)] // the test's epoch; only added to
        let now = Instant::now();
        let theirs = SessionTimer {
            interval: 90,
            we_refresh: false,
            peer_supports: true,
        };
        assert_eq!(theirs.due(now), now + Duration::from_secs(60));
        let long = SessionTimer {
            interval: 1800,
            ..theirs
        };
        assert_eq!(long.due(now), now + Duration::from_secs(1768));
        let ours = SessionTimer {
            we_refresh: true,
            ..theirs
        };
        assert_eq!(ours.due(now), now + Duration::from_secs(45));
        assert_eq!(ours.refresh_deadline(now), now + Duration::from_secs(15));
        assert_eq!(
            ours.response_headers(),
            vec![
                ("Session-Expires", "90;refresher=uas".to_string()),
                ("Require", "timer".to_string())
            ]
        );
    }
}
