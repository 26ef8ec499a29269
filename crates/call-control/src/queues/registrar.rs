//! ivrd as the agents' registrar (RFC 3261 §10.3): an agent with a `password` registers under
//! their name with digest authentication; the contact they register is where they are rung.
//! A REGISTER logs a logged-out agent in (available), an unREGISTER (`Expires: 0`, or
//! `Contact: *`) or an expired binding logs them out. One binding per agent: the latest wins.
//! The same credentials let an agent's phone call in from outside `sip.admission.allow`: its
//! INVITE is challenged (401) and taken once it answers as the agent.

use std::time::{Duration, Instant};

use sip_ua::{
    CallId, Command, Contacts, DigestCredentials, IncomingCall, RegisterAnswer, Registration,
    issue_nonce, nonce_stamp,
};
use tracing::{info, warn};

use super::AgentStatus;
use crate::{Output, Switch, Timer};

/// The digest realm agents answer.
pub(super) const REALM: &str = "ivrd";
/// Shortest binding (423 below it), longest (granted at most), and the default.
const MIN_EXPIRES: u32 = 60;
const MAX_EXPIRES: u32 = 3600;
const DEFAULT_EXPIRES: u32 = 3600;
/// A nonce older than this is stale (the agent's phone answers the new one at once).
const NONCE_LIFE_S: u64 = 300;

/// Why credentials were not taken.
enum Denial {
    /// Challenge (again) with this nonce.
    Challenge { nonce: String, stale: bool },
    /// Refuse with this status.
    Refuse(u16),
}

/// Where an agent registered.
#[derive(Clone, Debug)]
pub(crate) struct Binding {
    pub(crate) contact: String,
    until: Instant,
    call_id: String,
    cseq: u32,
}

impl Switch {
    /// A REGISTER: answered at once.
    pub(crate) fn register(&mut self, now: Instant, r: Registration) {
        let answer = self.registrar_answer(now, &r);
        if let RegisterAnswer::Refuse(status) = answer {
            warn!(user = %r.user, source = %r.source, status, "REGISTER refused");
        }
        self.out.push_back(Output::Register(r.id, answer));
    }

    /// An INVITE from outside the allow-list (`sip.admission.allow`): taken when its
    /// credentials are an agent's (the agent's phone calling in), else challenged or refused.
    pub(crate) fn authenticate_invite(
        &mut self,
        now: Instant,
        call: CallId,
        incoming: &IncomingCall,
    ) -> bool {
        let command = match self.check_digest(now, None, incoming.credentials.as_ref(), "INVITE") {
            Ok(agent) => {
                info!(call_id = %incoming.sip_call_id, agent = %self.queues.agents[agent].config.name,
                    source = %incoming.flow.remote, "unlisted caller authenticated");
                return true;
            }
            Err(Denial::Challenge { nonce, stale }) => Command::Challenge {
                realm: REALM.into(),
                nonce,
                stale,
            },
            Err(Denial::Refuse(_)) => Command::Reject { status: 403 },
        };
        warn!(call_id = %incoming.sip_call_id, source = %incoming.flow.remote,
            challenged = matches!(command, Command::Challenge { .. }), "INVITE from an unlisted source");
        self.out.push_back(Output::Sip(call, command));
        false
    }

    /// Checks digest credentials answering our challenge for `method`: the agent they are (who
    /// must be `user` where given), or why not.
    fn check_digest(
        &mut self,
        now: Instant,
        user: Option<&str>,
        credentials: Option<&DigestCredentials>,
        method: &str,
    ) -> Result<usize, Denial> {
        let epoch = *self.queues.epoch.get_or_insert(now);
        let stamp = now.saturating_duration_since(epoch).as_secs();
        let secret = self.queues.nonce_secret.to_le_bytes();
        let challenge = |stale| Denial::Challenge {
            nonce: issue_nonce(&secret, stamp),
            stale,
        };
        let q = &self.queues;
        let name = match (user, credentials) {
            (Some(user), _) => user,
            (None, Some(c)) => c.username.as_str(),
            (None, None) => return Err(challenge(false)),
        };
        let Some(i) = q.agents.iter().position(|a| a.config.name == name) else {
            return Err(Denial::Refuse(404));
        };
        let password = q.agents[i].config.password.as_ref();
        let Some(password) = password.map(|p| p.expose().to_string()) else {
            return Err(Denial::Refuse(403));
        };
        let Some(c) = credentials else {
            return Err(challenge(false));
        };
        if c.username != name || c.realm != REALM {
            return Err(Denial::Refuse(403));
        }
        let Some(issued) = nonce_stamp(&secret, &c.nonce) else {
            // Not ours (or from before a restart): a fresh challenge.
            return Err(challenge(false));
        };
        if !c.verify(method, &password) {
            return Err(Denial::Refuse(403));
        }
        if stamp.saturating_sub(issued) > NONCE_LIFE_S {
            return Err(challenge(true));
        }
        Ok(i)
    }

    fn registrar_answer(&mut self, now: Instant, r: &Registration) -> RegisterAnswer {
        let i = match self.check_digest(now, Some(&r.user), r.credentials.as_ref(), "REGISTER") {
            Ok(i) => i,
            Err(Denial::Challenge { nonce, stale }) => {
                return RegisterAnswer::Challenge {
                    realm: REALM.into(),
                    nonce,
                    stale,
                };
            }
            Err(Denial::Refuse(status)) => return RegisterAnswer::Refuse(status),
        };
        let q = &self.queues;
        // §10.3 step 7: a refresh older than the binding's is out of order.
        if let Some(b) = &q.agents[i].binding
            && b.call_id == r.call_id
            && r.cseq <= b.cseq
        {
            return RegisterAnswer::Refuse(500);
        }
        match &r.contacts {
            Contacts::Query => {}
            Contacts::RemoveAll => self.unbind(now, i, "unregistered"),
            Contacts::Bind(list) => {
                let asked = |e: &Option<u32>| e.unwrap_or(DEFAULT_EXPIRES);
                // A phone's contact is a plain URI: headers (`?Route=…`), spaces, quotes and
                // brackets would travel into the INVITE that rings the agent.
                let odd = |u: &String| {
                    u.chars()
                        .any(|c| c.is_whitespace() || c.is_control() || "?<>\"".contains(c))
                };
                if list.iter().any(|(u, _)| odd(u)) {
                    return RegisterAnswer::Refuse(400);
                }
                if list
                    .iter()
                    .any(|(_, e)| (1..MIN_EXPIRES).contains(&asked(e)))
                {
                    return RegisterAnswer::TooBrief(MIN_EXPIRES);
                }
                for (uri, e) in list {
                    match asked(e) {
                        0 => {
                            let bound = self.queues.agents[i].binding.as_ref();
                            if bound.is_some_and(|b| &b.contact == uri) {
                                self.unbind(now, i, "unregistered");
                            }
                        }
                        e => self.bind(now, i, uri, e.min(MAX_EXPIRES), r),
                    }
                }
            }
        }
        let bindings = self.queues.agents[i]
            .binding
            .iter()
            .map(|b| {
                let left = b.until.saturating_duration_since(now).as_secs() as u32;
                (b.contact.clone(), left)
            })
            .collect();
        RegisterAnswer::Bound(bindings)
    }

    fn bind(&mut self, now: Instant, agent: usize, uri: &str, expires: u32, r: &Registration) {
        let until = now + Duration::from_secs(u64::from(expires));
        let a = &mut self.queues.agents[agent];
        let fresh = a.binding.as_ref().is_none_or(|b| b.contact != uri);
        a.binding = Some(Binding {
            contact: uri.to_string(),
            until,
            call_id: r.call_id.clone(),
            cseq: r.cseq,
        });
        if fresh {
            info!(agent = %a.config.name, contact = uri, expires, source = %r.source, "agent registered");
        }
        self.timers.set(Timer::Binding(agent as u32), Some(until));
        if a.status == AgentStatus::LoggedOut {
            let name = a.config.name.clone();
            self.set_agent_status(now, &name, AgentStatus::Available);
        }
    }

    fn unbind(&mut self, now: Instant, agent: usize, why: &str) {
        self.timers.set(Timer::Binding(agent as u32), None);
        let a = &mut self.queues.agents[agent];
        if a.binding.take().is_none() {
            return;
        }
        info!(agent = %a.config.name, why, "agent's registration removed");
        if a.status != AgentStatus::LoggedOut {
            let name = a.config.name.clone();
            self.set_agent_status(now, &name, AgentStatus::LoggedOut);
        }
    }

    /// An agent's binding expired without a refresh.
    pub(crate) fn binding_expired(&mut self, now: Instant, agent: u32) {
        let i = agent as usize;
        let due = self.queues.agents.get(i).and_then(|a| a.binding.as_ref());
        if due.is_some_and(|b| b.until <= now) {
            self.unbind(now, i, "expired");
        }
    }
}
