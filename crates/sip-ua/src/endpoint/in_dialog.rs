//! Requests inside a call: ACK, CANCEL, re-INVITE, INFO and NOTIFY.

use std::time::Instant;

use tracing::{debug, warn};

use super::{Endpoint, TimerRef};
use crate::build::Extra;
use crate::call::{CallState, Retransmit};
use crate::message::{Method, Request};
use crate::sdp::{self, LocalMedia, MediaOffer, Negotiated};
use crate::{
    CallId, EndReason, Event, Flow, Output, SipError, TransferOutcome, Transport, dtmf_info,
};

/// Telephone-event payload type we offer when the call had none.
pub(super) const TELEPHONE_EVENT: u8 = 101;

impl Endpoint {
    pub(super) fn handle_reinvite(&mut self, now: Instant, flow: Flow, req: Request) {
        let Some(call) = self.dialog_of(&req) else {
            self.answer_request(now, flow, &req, 481, Extra::default());
            return;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if let Some((branch, response)) = &c.last_reinvite
            && *branch == req.common.branch
        {
            let data = response.clone();
            self.transmit(flow, data);
            return;
        }
        let Some((mut local, current)) = c.media else {
            self.answer_request(now, flow, &req, 491, Extra::default());
            return;
        };
        // RFC 4028 §9: a re-INVITE is a refresh; one asking for too short an interval is 422.
        let (session, refusal) =
            super::refresh::session_refusal(&req.common, &self.config.session_timers);
        if let Some((status, extra)) = refusal {
            self.answer_request(now, flow, &req, status, extra);
            return;
        }
        // RFC 3261 §14.2: a re-INVITE without SDP asks us to offer (a resume from hold often
        // comes so); the answer comes in the ACK, as for a late offer.
        let late = req.common.body.is_empty();
        let (sdp, updated) = match late {
            true => {
                local.version += 1;
                c.media = Some((local, current));
                c.offered = Some(local);
                let te = current.telephone_event.unwrap_or(TELEPHONE_EVENT);
                let key = current.srtp.and_then(|s| s.ours);
                (sdp::offer_srtp(&local, &self.config.codecs, te, key), None)
            }
            false => match self.answer_reoffer(call, &req.common.body) {
                Ok((answer, negotiated)) => (answer, Some(negotiated)),
                Err(error) => {
                    warn!(call_id = %req.common.call_id, %error, "re-INVITE not acceptable");
                    self.answer_request(now, flow, &req, 488, Extra::default());
                    return;
                }
            },
        };
        if let Some(c) = self.calls.get_mut(&call) {
            c.session = session;
        }
        let mut extra = Extra::sdp(flow, sdp);
        extra.headers.extend(self.start_session(now, call));
        // RFC 3261 §14.2: the re-INVITE's 2xx is retransmitted like the first until its ACK,
        // and a retransmitted re-INVITE gets the same 2xx again.
        let data = self.response_for(flow, &req, 200, &extra);
        self.transmit(flow, data.clone());
        let t1 = self.config.t1;
        let retransmit = Retransmit::start(now, t1, 64 * t1, flow.transport == Transport::Udp);
        if let Some(c) = self.calls.get_mut(&call) {
            c.last_reinvite = Some((req.common.branch.clone(), data.clone()));
            c.state = CallState::Answering {
                response: data,
                retransmit,
            };
        }
        self.arm(retransmit.next_deadline(), TimerRef::Call(call));
        if let Some(negotiated) = updated {
            self.out
                .push_back(Output::Event(call, Event::MediaUpdated(negotiated)));
        }
    }

    /// An offer in a dialog (re-INVITE, UPDATE): negotiated against the codec in use, our
    /// SDP version bumped; the answer and what it settles.
    pub(super) fn answer_reoffer(
        &mut self,
        call: CallId,
        body: &[u8],
    ) -> Result<(String, Negotiated), SipError> {
        let c = self.calls.get_mut(&call).ok_or(SipError::NoSuchCall)?;
        let (mut local, current) = c
            .media
            .ok_or_else(|| SipError::NotAcceptable("no media to renegotiate".into()))?;
        let offer = MediaOffer::parse(body)?;
        let mut negotiated = offer.negotiate(&[current.codec])?;
        negotiated.telephone_event = offer.telephone_event;
        // SRTP neither starts nor stops mid-call; a new key of the peer's is taken, ours kept.
        negotiated.srtp = sdp::keep_srtp(current.srtp, negotiated.srtp)?;
        local.version += 1;
        c.media = Some((local, negotiated));
        Ok((sdp::answer_offer(body, &local, &negotiated), negotiated))
    }

    pub(super) fn handle_ack(&mut self, now: Instant, req: Request) {
        let call = match self.dialog_of(&req) {
            Some(call) => Some(call),
            // ACK to a non-2xx final carries the INVITE's branch.
            None => self.by_branch.get(&req.common.branch).copied(),
        };
        let Some(call) = call else {
            debug!(call_id = %req.common.call_id, "stray ACK dropped");
            return;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        match c.state {
            CallState::Answering { .. } => {
                c.state = CallState::Confirmed;
                let offered = c.offered.take();
                self.out.push_back(Output::Event(call, Event::Acked));
                self.leave_setup(call);
                if let Some(local) = offered {
                    self.take_answer(now, call, local, &req);
                }
            }
            CallState::Rejected { .. } => self.remove(call),
            _ => {}
        }
    }

    /// Late offer: the ACK carries the answer to the offer in our 2xx (RFC 3261 §13.2.1). An
    /// ACK without one, or with none of our codecs, leaves the call without media: BYE.
    fn take_answer(&mut self, now: Instant, call: CallId, local: LocalMedia, ack: &Request) {
        let current = self.calls.get(&call).and_then(|c| c.media).map(|(_, n)| n);
        let answer = match ack.common.body.is_empty() {
            true => Err(SipError::NotAcceptable("the ACK has no SDP answer".into())),
            false => MediaOffer::parse(&ack.common.body)
                .and_then(|answer| answer.accept_answer(&self.config.codecs))
                .and_then(|mut n| {
                    // An answer to our re-offer keeps the call's SRTP (a late offer's is RTP).
                    n.srtp = sdp::keep_srtp(current.and_then(|c| c.srtp), n.srtp)?;
                    Ok(n)
                }),
        };
        match answer {
            Ok(negotiated) => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.media = Some((local, negotiated));
                }
                self.out
                    .push_back(Output::Event(call, Event::MediaUpdated(negotiated)));
            }
            // After a re-INVITE the media we had goes on.
            Err(error) if self.calls.get(&call).is_some_and(|c| c.media.is_some()) => {
                warn!(call_id = %ack.common.call_id, %error, "our re-offer not answered: media unchanged");
            }
            Err(error) => {
                warn!(call_id = %ack.common.call_id, %error, "late offer not answered: hanging up");
                self.send_in_dialog(now, call, Method::Bye, &[], None);
                self.end(call, EndReason::NoUsableAnswer);
            }
        }
    }

    pub(super) fn handle_cancel(&mut self, now: Instant, flow: Flow, req: Request) {
        let Some(&call) = self.by_branch.get(&req.common.branch) else {
            self.answer_request(now, flow, &req, 481, Extra::default());
            return;
        };
        self.answer_request(now, flow, &req, 200, Extra::default());
        let pending = self
            .calls
            .get(&call)
            .is_some_and(|c| matches!(c.state, CallState::Offered | CallState::Ringing));
        if pending {
            self.reject(now, call, 487, Extra::default());
            self.end(call, EndReason::Cancelled);
        }
    }

    pub(super) fn handle_info(&mut self, now: Instant, flow: Flow, req: Request) {
        let Some(call) = self.dialog_of(&req) else {
            self.answer_request(now, flow, &req, 481, Extra::default());
            return;
        };
        let content_type = req.common.header("Content-Type").unwrap_or_default();
        match dtmf_info::parse(content_type, &req.common.body) {
            Ok(Some(dtmf)) => {
                self.answer_request(now, flow, &req, 200, Extra::default());
                self.out.push_back(Output::Event(call, Event::Dtmf(dtmf)));
            }
            // An INFO with no body (a keep-alive some carriers send) or another package.
            Ok(None) => self.answer_request(now, flow, &req, 200, Extra::default()),
            Err(error) => {
                warn!(call_id = %req.common.call_id, %error, "INFO not understood");
                self.answer_request(now, flow, &req, 415, Extra::default());
            }
        }
    }

    pub(super) fn handle_notify(&mut self, now: Instant, flow: Flow, req: Request) {
        let Some(call) = self.dialog_of(&req) else {
            self.answer_request(now, flow, &req, 481, Extra::default());
            return;
        };
        self.answer_request(now, flow, &req, 200, Extra::default());
        // message/sipfrag: "SIP/2.0 200 OK"; only final statuses end the transfer.
        let frag = String::from_utf8_lossy(&req.common.body);
        let status = frag
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u16>().ok());
        match status {
            Some(s) if s >= 200 => {
                let outcome = if s < 300 {
                    TransferOutcome::Succeeded
                } else {
                    TransferOutcome::Failed(s)
                };
                self.out
                    .push_back(Output::Event(call, Event::TransferResult(outcome)));
            }
            _ => {}
        }
    }
}
