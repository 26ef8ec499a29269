//! Session timers on a dialog (RFC 4028) and UPDATE (RFC 3311). The INVITE's timer is agreed
//! when it arrives (422 under our `Min-SE`) and runs from our 2xx; every re-INVITE or UPDATE
//! refreshes it. When the peer refreshes and stops, we send BYE a third of the interval (at
//! most 32 s) before it ends; when we refresh, an UPDATE (or a re-INVITE with the SDP we have,
//! for a peer without UPDATE) goes out at half the interval, and a refresh not answered in
//! time, or answered 481 or 408, ends the call.

use std::time::Instant;

use tracing::{info, warn};

use super::in_dialog::TELEPHONE_EVENT;
use super::{Endpoint, TimerRef};
use crate::build::{self, Extra};
use crate::call::{CallState, Reliable};
use crate::message::{Method, Request, Response};
use crate::session_timer::{self, Asked, has_option};
use crate::{CallId, EndReason, Event, Flow, Output, sdp};

impl Endpoint {
    /// The extensions a new INVITE asks for: 100rel, and its session timer (422 when too
    /// short, 400 when unreadable). The refusal, if it is refused.
    pub(super) fn agree_extensions(&mut self, call: CallId, req: &Request) -> Option<(u16, Extra)> {
        let first_rseq = u32::from_str_radix(&self.token()[..8], 16).unwrap_or(1) & 0x3fff_ffff;
        let c = self.calls.get_mut(&call)?;
        if has_option(&req.common, "Require", "100rel") {
            c.reliable = Some(Box::new(Reliable {
                rseq: first_rseq,
                ..Reliable::default()
            }));
        }
        let (session, refusal) = session_refusal(&req.common, &self.config.session_timers);
        c.session = session;
        refusal
    }

    /// Starts (or restarts) the session timer as our 2xx goes out; the headers it adds.
    pub(super) fn start_session(
        &mut self,
        now: Instant,
        call: CallId,
    ) -> Vec<(&'static str, String)> {
        let Some(c) = self.calls.get_mut(&call) else {
            return Vec::new();
        };
        c.refreshing = false;
        let Some(timer) = c.session else {
            c.session_due = None;
            return Vec::new();
        };
        let due = timer.due(now);
        c.session_due = Some(due);
        self.arm(due, TimerRef::Session(call));
        timer.response_headers()
    }

    /// The session timer is due: our refresh goes out, or the call ends.
    pub(super) fn session_timer(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let (Some(timer), Some(due)) = (c.session, c.session_due) else {
            return;
        };
        if due > now || !matches!(c.state, CallState::Confirmed | CallState::Answering { .. }) {
            return; // refreshed since this entry was armed, or over
        }
        if timer.we_refresh && !c.refreshing {
            c.refreshing = true;
            let give_up = timer.refresh_deadline(now);
            c.session_due = Some(give_up);
            self.arm(give_up, TimerRef::Session(call));
            self.send_refresh(now, call, timer.interval);
            return;
        }
        warn!(call_id = %c.sip_call_id, interval = timer.interval, "session timer expired: hanging up");
        self.send_in_dialog(now, call, Method::Bye, &[], None);
        self.end(call, EndReason::SessionExpired);
    }

    /// Our refresh: UPDATE without a body, or a re-INVITE offering the media we have (same
    /// SDP version: nothing changes) to a peer that does not allow UPDATE.
    fn send_refresh(&mut self, now: Instant, call: CallId, interval: u32) {
        let headers = self.config.session_timers.request_headers(Some(interval));
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        match (c.peer_allows_update, c.media) {
            (false, Some((local, current))) => {
                let te = current.telephone_event.unwrap_or(TELEPHONE_EVENT);
                let key = current.srtp.and_then(|s| s.ours);
                let offer = sdp::offer_srtp(&local, &[current.codec], te, key);
                let body = Some(("application/sdp", offer.as_str()));
                self.send_in_dialog(now, call, Method::Invite, &headers, body);
            }
            _ => self.send_in_dialog(now, call, Method::Update, &headers, None),
        }
    }

    /// The final response to our refresh (UPDATE or re-INVITE). A re-INVITE's is ACKed.
    pub(super) fn refresh_answered(
        &mut self,
        now: Instant,
        call: CallId,
        method: Method,
        resp: &Response,
    ) {
        if method == Method::Invite {
            self.ack_reinvite(call, resp);
        }
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let interval = c.session.map_or(0, |t| t.interval);
        match resp.status {
            200..=299 => {
                c.session = session_timer::as_uac(&resp.common);
                if c.session.is_none() {
                    info!(call_id = %c.sip_call_id, "the peer turned the session timer off");
                }
                let _ = self.start_session(now, call);
            }
            422 => match session_timer::min_se_of(&resp.common) {
                Some(min) if min > interval => {
                    if let Some(t) = c.session.as_mut() {
                        t.interval = min;
                    }
                    self.send_refresh(now, call, min);
                }
                _ => warn!(call_id = %c.sip_call_id, "422 to our refresh without a larger Min-SE"),
            },
            405 | 501 if method == Method::Update => {
                c.peer_allows_update = false;
                self.send_refresh(now, call, interval);
            }
            408 | 481 => {
                warn!(call_id = %c.sip_call_id, status = resp.status, "refresh: the dialog is gone");
                self.send_in_dialog(now, call, Method::Bye, &[], None);
                self.end(call, EndReason::SessionExpired);
            }
            status => {
                warn!(call_id = %c.sip_call_id, status, "refresh refused: the call ends at expiry unless refreshed");
            }
        }
    }

    /// ACK for a final response to our re-INVITE: a new transaction for a 2xx (kept for its
    /// retransmissions), the INVITE's branch for the rest (RFC 3261 §17.1.1.3).
    fn ack_reinvite(&mut self, call: CallId, resp: &Response) {
        let new_branch = format!("z9hG4bK{}", self.token());
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let success = resp.status < 300;
        let branch = if success {
            &new_branch
        } else {
            &resp.common.branch
        };
        let ack = build::request(
            &c.request("ACK", branch, resp.common.cseq, &self.config.user_agent),
            &[],
            None,
        );
        if success {
            c.reinvite_ack = Some((resp.common.cseq, ack.clone()));
        }
        let flow = c.flow;
        self.transmit(flow, ack);
    }

    /// A 2xx to our re-INVITE again (our ACK was lost): the ACK again. False if it is not one.
    pub(super) fn ack_again(&mut self, resp: &Response) -> bool {
        let Some(tag) = resp.common.from_tag.clone() else {
            return false;
        };
        let Some(c) = self
            .by_dialog
            .get(&(resp.common.call_id.clone(), tag))
            .and_then(|call| self.calls.get(call))
        else {
            return false;
        };
        match &c.reinvite_ack {
            Some((cseq, ack)) if *cseq == resp.common.cseq => {
                let (flow, ack) = (c.flow, ack.clone());
                self.transmit(flow, ack);
                true
            }
            _ => false,
        }
    }

    /// An UPDATE: a refresh of the session timer, and an offer when it has SDP (answered in
    /// its 2xx). In an early dialog only one without an offer is taken.
    pub(super) fn handle_update(&mut self, now: Instant, flow: Flow, req: Request) {
        let Some(call) = self.dialog_of(&req) else {
            self.answer_request(now, flow, &req, 481, Extra::default());
            return;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let contact = ("Contact", build::contact(c.flow.transport, c.flow.local));
        let confirmed = matches!(c.state, CallState::Confirmed | CallState::Answering { .. });
        let offer = !req.common.body.is_empty();
        if !confirmed {
            let (status, mut extra) = match offer {
                true => (488, warning("an offer in an early dialog is not taken")),
                false => (200, Extra::default()),
            };
            extra.headers.push(contact);
            self.answer_request(now, flow, &req, status, extra);
            return;
        }
        let (session, refusal) = session_refusal(&req.common, &self.config.session_timers);
        if let Some((status, extra)) = refusal {
            self.answer_request(now, flow, &req, status, extra);
            return;
        }
        let mut extra = Extra::default();
        let mut updated = None;
        if offer {
            match self.answer_reoffer(call, &req.common.body) {
                Ok((answer, negotiated)) => {
                    extra = Extra::sdp(flow, answer);
                    updated = Some(negotiated);
                }
                Err(error) => {
                    warn!(call_id = %req.common.call_id, %error, "UPDATE offer not acceptable");
                    self.answer_request(now, flow, &req, 488, Extra::default());
                    return;
                }
            }
        } else {
            extra.headers.push(contact);
        }
        if let Some(c) = self.calls.get_mut(&call) {
            c.session = session;
        }
        extra.headers.extend(self.start_session(now, call));
        self.answer_request(now, flow, &req, 200, extra);
        if let Some(negotiated) = updated {
            self.out
                .push_back(Output::Event(call, Event::MediaUpdated(negotiated)));
        }
    }
}

/// What a request's session-timer headers give as its UAS: the timer (if any), or the
/// refusal (422 with our `Min-SE`, 400 with a Warning).
pub(super) fn session_refusal(
    req: &crate::message::Common,
    ours: &session_timer::SessionTimers,
) -> (Option<session_timer::SessionTimer>, Option<(u16, Extra)>) {
    match session_timer::as_uas(req, ours) {
        Asked::Off => (None, None),
        Asked::On(timer) => (Some(timer), None),
        Asked::TooSmall(min) => {
            let extra = Extra {
                headers: vec![("Min-SE", min.to_string())],
                body: None,
            };
            (None, Some((422, extra)))
        }
        Asked::Malformed(error) => (None, Some((400, warning(&error)))),
    }
}

/// A `Warning: 399` with `text` (quotes and backslashes dropped).
fn warning(text: &str) -> Extra {
    let text: String = text.chars().filter(|c| !matches!(c, '"' | '\\')).collect();
    Extra {
        headers: vec![("Warning", format!("399 ivrd \"{text}\""))],
        body: None,
    }
}
