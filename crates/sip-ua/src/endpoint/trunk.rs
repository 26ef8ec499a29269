//! Registrations we keep with trunks (RFC 3261 §10.2) and their keepalives: REGISTER with our
//! Contact and `Expires`, a 401/407 digest challenge answered (MD5 or SHA-256; a second one in
//! a row is a failure: wrong credentials), 423 answered with its `Min-Expires`, the binding
//! refreshed before it runs out (half-way for short ones, 30 s early for long ones), failures
//! retried with backoff (5 s doubling to 5 min, or a 503's `Retry-After`), and OPTIONS every
//! keepalive interval. Any response to an OPTIONS means the trunk is there; none within 64·T1
//! marks it down. State changes come out as [`Output::Trunk`].

use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::{Endpoint, TimerRef};
use crate::build::{self, DialogRequest};
use crate::call::Retransmit;
use crate::digest::Challenge;
use crate::message::{NameAddr, Response};
use crate::{Output, Transport, TrunkEvent, TrunkId, TrunkRegistration};

/// First retry after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// A request in flight for a trunk.
#[derive(Debug)]
struct InFlight {
    branch: String,
    data: Vec<u8>,
    retransmit: Retransmit,
}

/// One trunk's registration and keepalive.
#[derive(Debug)]
pub(super) struct Trunk {
    spec: TrunkRegistration,
    call_id: String,
    tag: String,
    cseq: u32,
    /// Seconds asked for (raised by a 423).
    expires: u32,
    register: Option<InFlight>,
    /// Challenges answered in a row.
    challenges: u8,
    failures: u32,
    /// When the next REGISTER goes (a refresh, or a retry).
    next_register: Option<Instant>,
    options: Option<InFlight>,
    next_options: Option<Instant>,
    /// Our binding is in place.
    registered: bool,
    /// The last OPTIONS was answered.
    answering: bool,
    /// Registered (where we register) and answering (where we keep alive).
    up: bool,
    /// The earliest timer entry armed for it that has not fired.
    armed: Option<Instant>,
}

impl Endpoint {
    /// Starts keeping a registration (and keepalive) with a trunk: the first REGISTER (or
    /// OPTIONS) goes now. Its state changes arrive as [`Output::Trunk`].
    pub fn add_trunk(&mut self, now: Instant, spec: TrunkRegistration) -> TrunkId {
        let id = TrunkId(self.trunks.len() as u64 + 1);
        let trunk = Trunk {
            call_id: format!("{}@ivrd", self.token()),
            tag: self.token(),
            cseq: 0,
            expires: u32::try_from(spec.expires.as_secs())
                .unwrap_or(u32::MAX)
                .max(1),
            register: None,
            challenges: 0,
            failures: 0,
            next_register: spec.register.then_some(now),
            options: None,
            next_options: spec.keepalive.map(|_| now),
            registered: false,
            answering: false,
            up: false,
            armed: None,
            spec,
        };
        self.trunks.insert(id, trunk);
        self.trunk_timer(now, id);
        id
    }

    /// A trunk's deadlines: REGISTER and OPTIONS retransmissions and give-ups, refreshes,
    /// retries and keepalives.
    pub(super) fn trunk_timer(&mut self, now: Instant, id: TrunkId) {
        let t2 = self.config.t2;
        let Some(t) = self.trunks.get_mut(&id) else {
            return;
        };
        if t.armed.is_some_and(|at| at <= now) {
            t.armed = None;
        }
        let mut resend = Vec::new();
        let mut register_timed_out = false;
        if let Some(r) = t.register.as_mut() {
            if now >= r.retransmit.give_up {
                register_timed_out = true;
            } else if now >= r.retransmit.next {
                r.retransmit.backoff(now, t2);
                resend.push(r.data.clone());
            }
        }
        let mut options_timed_out = false;
        if let Some(o) = t.options.as_mut() {
            if now >= o.retransmit.give_up {
                options_timed_out = true;
            } else if now >= o.retransmit.next {
                o.retransmit.backoff(now, t2);
                resend.push(o.data.clone());
            }
        }
        let flow = t.spec.flow;
        for data in resend {
            self.stats.retransmissions_sent += 1;
            self.transmit(flow, data);
        }
        if register_timed_out {
            self.register_failed(now, id, 0, None);
        }
        if options_timed_out {
            if let Some(t) = self.trunks.get_mut(&id) {
                t.options = None;
                t.answering = false;
                warn!(trunk = %t.spec.name, "OPTIONS unanswered within 64·T1");
            }
            self.update_up(id);
        }
        let Some(t) = self.trunks.get_mut(&id) else {
            return;
        };
        if t.register.is_none() && t.next_register.is_some_and(|at| at <= now) {
            t.next_register = None;
            self.send_register(now, id, None);
        }
        let Some(t) = self.trunks.get_mut(&id) else {
            return;
        };
        if t.options.is_none() && t.next_options.is_some_and(|at| at <= now) {
            let interval = t.spec.keepalive.unwrap_or(Duration::from_secs(30));
            t.next_options = Some(now + interval);
            self.send_options(now, id);
        }
        self.arm_trunk(id);
    }

    /// The final response to one of a trunk's requests; false if it is none of theirs.
    pub(super) fn trunk_response(&mut self, now: Instant, resp: &Response) -> bool {
        let branch = &resp.common.branch;
        let found = self.trunks.iter().find_map(|(id, t)| {
            if t.register.as_ref().is_some_and(|r| r.branch == *branch) {
                Some((*id, true))
            } else if t.options.as_ref().is_some_and(|o| o.branch == *branch) {
                Some((*id, false))
            } else {
                None
            }
        });
        let Some((id, register)) = found else {
            return false;
        };
        if resp.status < 200 {
            // Provisional: Timer E goes to T2.
            let t2 = self.config.t2;
            if let Some(t) = self.trunks.get_mut(&id) {
                let r = if register {
                    &mut t.register
                } else {
                    &mut t.options
                };
                if let Some(r) = r.as_mut() {
                    r.retransmit.interval = t2;
                }
            }
            return true;
        }
        match register {
            true => self.register_answered(now, id, resp),
            false => {
                // Any final answer, even 405, means the trunk is there.
                if let Some(t) = self.trunks.get_mut(&id) {
                    t.options = None;
                    t.answering = true;
                }
                self.update_up(id);
            }
        }
        self.arm_trunk(id);
        true
    }

    fn register_answered(&mut self, now: Instant, id: TrunkId, resp: &Response) {
        if let Some(t) = self.trunks.get_mut(&id) {
            t.register = None;
        }
        match resp.status {
            200..=299 => {
                let Some(t) = self.trunks.get_mut(&id) else {
                    return;
                };
                let granted = granted_expires(resp, &t.spec.contact_user).unwrap_or(t.expires);
                let granted = Duration::from_secs(u64::from(granted.max(1)));
                let early = (granted / 2).max(granted.saturating_sub(Duration::from_secs(30)));
                t.next_register = Some(now + early);
                t.failures = 0;
                t.challenges = 0;
                t.registered = true;
                info!(trunk = %t.spec.name, expires_s = granted.as_secs(), "registered");
                self.out.push_back(Output::Trunk(
                    id,
                    TrunkEvent::Registered { expires: granted },
                ));
                self.update_up(id);
            }
            401 | 407 => {
                let challenge = Challenge::of(resp);
                let cnonce = self.token();
                let Some(t) = self.trunks.get_mut(&id) else {
                    return;
                };
                match (challenge, t.spec.credentials.clone()) {
                    (Some((challenge, name)), Some(c)) if t.challenges == 0 => {
                        t.challenges += 1;
                        let uri = t.spec.registrar.clone();
                        let answer = challenge.answer(
                            &c.username,
                            &c.password,
                            "REGISTER",
                            &uri,
                            1,
                            &cnonce,
                        );
                        self.send_register(now, id, Some((name, answer)));
                    }
                    _ => self.register_failed(now, id, resp.status, None),
                }
            }
            423 => {
                let min = resp
                    .common
                    .header("Min-Expires")
                    .and_then(|v| v.trim().parse::<u32>().ok());
                let Some(t) = self.trunks.get_mut(&id) else {
                    return;
                };
                match min {
                    Some(min) if min > t.expires => {
                        t.expires = min;
                        self.send_register(now, id, None);
                    }
                    _ => self.register_failed(now, id, 423, None),
                }
            }
            status => {
                let retry = resp
                    .common
                    .header("Retry-After")
                    .and_then(|v| v.split(';').next()?.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                self.register_failed(now, id, status, retry);
            }
        }
    }

    /// A REGISTER failed (`status` 0: no answer): try again after the backoff.
    fn register_failed(&mut self, now: Instant, id: TrunkId, status: u16, retry: Option<Duration>) {
        let Some(t) = self.trunks.get_mut(&id) else {
            return;
        };
        t.register = None;
        t.challenges = 0;
        t.registered = false;
        let backoff = FIRST_BACKOFF
            .saturating_mul(1 << t.failures.min(10))
            .min(MAX_BACKOFF);
        t.failures += 1;
        let retry_in = retry.unwrap_or(backoff).clamp(FIRST_BACKOFF, MAX_BACKOFF);
        t.next_register = Some(now + retry_in);
        warn!(trunk = %t.spec.name, status, retry_in_s = retry_in.as_secs(), "registration failed");
        self.out.push_back(Output::Trunk(
            id,
            TrunkEvent::RegisterFailed { status, retry_in },
        ));
        self.update_up(id);
    }

    fn send_register(&mut self, now: Instant, id: TrunkId, auth: Option<(&'static str, String)>) {
        let Some(t) = self.trunks.get(&id) else {
            return;
        };
        let s = &t.spec;
        let param = s.flow.transport.uri_param();
        let contact = format!("<sip:{}@{}{param}>", s.contact_user, s.flow.local);
        let mut headers = vec![("Contact", contact), ("Expires", t.expires.to_string())];
        headers.extend(auth);
        let (to, call_id) = (format!("<{}>", t.spec.aor), t.call_id.clone());
        let flight = self.send_trunk_request(now, id, "REGISTER", &to, &call_id, &headers);
        if let Some(t) = self.trunks.get_mut(&id) {
            t.register = flight;
        }
    }

    fn send_options(&mut self, now: Instant, id: TrunkId) {
        let Some(t) = self.trunks.get(&id) else {
            return;
        };
        let to = format!("<{}>", t.spec.registrar);
        let call_id = format!("{}@ivrd", self.token());
        let flight = self.send_trunk_request(now, id, "OPTIONS", &to, &call_id, &[]);
        if let Some(t) = self.trunks.get_mut(&id) {
            t.options = flight;
        }
    }

    /// Sends one of a trunk's requests (the next CSeq, a new branch); what to track it by.
    fn send_trunk_request(
        &mut self,
        now: Instant,
        id: TrunkId,
        method: &str,
        to: &str,
        call_id: &str,
        headers: &[(&str, String)],
    ) -> Option<InFlight> {
        let branch = format!("z9hG4bK{}", self.token());
        let t = self.trunks.get_mut(&id)?;
        t.cseq += 1;
        let data = build::request(
            &DialogRequest {
                method,
                target: &t.spec.registrar,
                transport: t.spec.flow.transport,
                local: t.spec.flow.local,
                branch: &branch,
                route_set: &[],
                local_uri: &t.spec.aor,
                local_tag: &t.tag,
                remote: to,
                call_id,
                cseq: t.cseq,
                user_agent: &self.config.user_agent,
            },
            headers,
            None,
        );
        let flow = t.spec.flow;
        let flight = self.in_flight(now, flow.transport, branch, data.clone());
        self.transmit(flow, data);
        Some(flight)
    }

    fn in_flight(
        &self,
        now: Instant,
        transport: Transport,
        branch: String,
        data: Vec<u8>,
    ) -> InFlight {
        let t1 = self.config.t1;
        InFlight {
            branch,
            data,
            retransmit: Retransmit::start(now, t1, 64 * t1, transport == Transport::Udp),
        }
    }

    /// Reports a change of up/down.
    fn update_up(&mut self, id: TrunkId) {
        let Some(t) = self.trunks.get_mut(&id) else {
            return;
        };
        let up = (t.registered || !t.spec.register) && (t.answering || t.spec.keepalive.is_none());
        if t.up != up {
            t.up = up;
            info!(trunk = %t.spec.name, up, "trunk state");
            let event = if up { TrunkEvent::Up } else { TrunkEvent::Down };
            self.out.push_back(Output::Trunk(id, event));
        }
    }

    /// Arms the trunk's earliest deadline unless an entry at or before it is pending.
    fn arm_trunk(&mut self, id: TrunkId) {
        let Some(t) = self.trunks.get_mut(&id) else {
            return;
        };
        // A request in flight holds back the next of its kind (its deadline may have passed).
        let next = [
            t.register.as_ref().map(|r| r.retransmit.next_deadline()),
            t.options.as_ref().map(|o| o.retransmit.next_deadline()),
            t.next_register.filter(|_| t.register.is_none()),
            t.next_options.filter(|_| t.options.is_none()),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(at) = next
            && t.armed.is_none_or(|armed| at < armed)
        {
            t.armed = Some(at);
            self.arm(at, TimerRef::Trunk(id));
        }
    }
}

/// The expiry the registrar granted our binding: our Contact's `expires`, else `Expires`.
fn granted_expires(resp: &Response, contact_user: &str) -> Option<u32> {
    let ours = resp
        .common
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Contact"))
        .flat_map(|(_, v)| crate::registrar::split_list(v))
        .map(NameAddr::parse)
        .find(|a| crate::message::uri_user(a.uri) == contact_user)
        .and_then(|a| a.param("expires")?.parse().ok());
    ours.or_else(|| resp.common.header("Expires")?.trim().parse().ok())
}
