//! Client transactions: the requests the endpoint sends in a dialog (BYE, REFER, INFO, and
//! the session refreshes UPDATE and re-INVITE), their
//! retransmissions (Timers E/F; RFC 3261 §17.1.2) and their responses.

use std::time::Instant;

use tracing::{debug, warn};

use super::{ClientTsx, Endpoint, TimerRef};
use crate::build;
use crate::call::Retransmit;
use crate::message::{Method, Response};
use crate::{CallId, Event, Flow, Output, TransferOutcome, Transport};

impl Endpoint {
    pub(super) fn handle_response(&mut self, now: Instant, resp: Response) {
        let branch = &resp.common.branch;
        if resp.common.cseq_method.eq_ignore_ascii_case("INVITE")
            && let Some(&call) = self.by_branch.get(branch)
            && self.calls.get(&call).is_some_and(crate::call::Call::placed)
        {
            self.handle_invite_response(now, call, resp);
            return;
        }
        if self.trunk_response(now, &resp) {
            return;
        }
        if resp.status < 200 {
            // Provisional: Timer E goes to T2; a re-INVITE stops retransmitting (Timer A).
            if let Some(tsx) = self.clients.get_mut(branch) {
                match tsx.method {
                    Method::Invite => tsx.retransmit = None,
                    _ => {
                        if let Some(r) = tsx.retransmit.as_mut() {
                            r.interval = self.config.t2;
                        }
                    }
                }
            }
            return;
        }
        let Some(tsx) = self.clients.remove(branch) else {
            let invite = resp.common.cseq_method.eq_ignore_ascii_case("INVITE");
            if !(invite && resp.status < 300 && self.ack_again(&resp)) {
                debug!(call_id = %resp.common.call_id, status = resp.status, "stray response dropped");
            }
            return;
        };
        if let Some(c) = self.calls.get_mut(&tsx.call) {
            c.requests.retain(|b| b != branch);
        }
        if matches!(tsx.method, Method::Update | Method::Invite) {
            self.refresh_answered(now, tsx.call, tsx.method, &resp);
        }
        if tsx.method == Method::Refer {
            let outcome = if resp.status < 300 {
                Event::TransferAccepted
            } else {
                Event::TransferResult(TransferOutcome::Failed(resp.status))
            };
            self.out.push_back(Output::Event(tsx.call, outcome));
        }
    }

    pub(super) fn client_timer(&mut self, now: Instant, branch: String) {
        let Some(tsx) = self.clients.get_mut(&branch) else {
            return;
        };
        if now >= tsx.give_up {
            let tsx = self.clients.remove(&branch);
            if let Some(tsx) = tsx {
                if let Some(c) = self.calls.get_mut(&tsx.call) {
                    c.requests.retain(|b| *b != branch);
                }
                warn!(method = ?tsx.method, "request timed out (Timer F)");
                if tsx.method == Method::Refer {
                    self.out.push_back(Output::Event(
                        tsx.call,
                        Event::TransferResult(TransferOutcome::TimedOut),
                    ));
                }
            }
            return;
        }
        let mut resend = None;
        if let Some(r) = tsx.retransmit.as_mut()
            && now >= r.next
        {
            r.backoff(now, self.config.t2);
            resend = Some((tsx.flow, tsx.data.clone()));
        }
        let next = tsx
            .retransmit
            .map_or(tsx.give_up, |r| r.next.min(tsx.give_up));
        if let Some((flow, data)) = resend {
            self.stats.retransmissions_sent += 1;
            self.transmit(flow, data);
        }
        self.arm(next, TimerRef::Client(branch));
    }

    pub(super) fn send_in_dialog(
        &mut self,
        now: Instant,
        call: CallId,
        method: Method,
        headers: &[(&str, String)],
        body: Option<(&'static str, &str)>,
    ) {
        let branch = format!("z9hG4bK{}", self.token());
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.local_cseq += 1;
        let name = match method {
            Method::Bye => "BYE",
            Method::Refer => "REFER",
            Method::Update => "UPDATE",
            Method::Invite => "INVITE",
            _ => "INFO",
        };
        let data = build::request(
            &c.request(name, &branch, c.local_cseq, &self.config.user_agent),
            headers,
            body,
        );
        c.requests.push(branch.clone());
        let flow = c.flow;
        self.start_client(now, call, method, branch, flow, data);
    }

    /// Sends a non-INVITE request and keeps it as a client transaction: retransmitted on UDP
    /// (Timer E), given up at 64·T1 (Timer F).
    pub(super) fn start_client(
        &mut self,
        now: Instant,
        call: CallId,
        method: Method,
        branch: String,
        flow: Flow,
        data: Vec<u8>,
    ) {
        let t1 = self.config.t1;
        let udp = flow.transport == Transport::Udp;
        let retransmit = udp.then(|| Retransmit::start(now, t1, 64 * t1, true));
        let give_up = now + 64 * t1;
        let next = retransmit.map_or(give_up, |r| r.next);
        self.transmit(flow, data.clone());
        self.clients.insert(
            branch.clone(),
            ClientTsx {
                call,
                method,
                data,
                flow,
                retransmit,
                give_up,
            },
        );
        self.arm(next, TimerRef::Client(branch));
    }
}
