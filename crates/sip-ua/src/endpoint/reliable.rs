//! Reliable provisional responses on the answering side (RFC 3262): for an INVITE with
//! `Require: 100rel`, 180 and 183 carry `Require: 100rel` and an `RSeq`, are retransmitted on
//! T1 doubling until their PRACK, and go one at a time (later ones wait); our 2xx waits for the
//! PRACK of the one outstanding; 64·T1 without a PRACK refuses the INVITE with 500.

use std::time::Instant;

use tracing::warn;

use super::{Endpoint, TimerRef};
use crate::build::{self, Extra};
use crate::call::{CallState, Retransmit};
use crate::message::Request;
use crate::{CallId, EndReason, Flow, Transport};

impl Endpoint {
    /// A provisional response for a call that requires 100rel: sent reliably now, or queued
    /// behind the one awaiting its PRACK. Gives `extra` back when the call does not require
    /// 100rel (the caller sends it the plain way).
    pub(super) fn reliably(
        &mut self,
        now: Instant,
        call: CallId,
        status: u16,
        mut extra: Extra,
    ) -> Option<Extra> {
        let t1 = self.config.t1;
        let c = self.calls.get_mut(&call)?;
        let Some(r) = c.reliable.as_mut() else {
            return Some(extra);
        };
        c.state = CallState::Ringing;
        if r.unacked.is_some() {
            r.queued.push_back((status, extra));
            return None;
        }
        // RSeq: any start below 2^31, then one more for each (RFC 3262 §3).
        r.rseq = r.rseq.wrapping_add(1).clamp(1, 0x7fff_ffff);
        let rseq = r.rseq;
        extra.headers.push(("Require", "100rel".into()));
        extra.headers.push(("RSeq", rseq.to_string()));
        if !extra.headers.iter().any(|(n, _)| *n == "Contact") {
            // The provisional makes an early dialog: the PRACK goes to this Contact.
            let contact = build::contact(c.flow.transport, c.flow.local);
            extra.headers.push(("Contact", contact));
        }
        let udp = c.flow.transport == Transport::Udp;
        let retransmit = Retransmit::start(now, t1, 64 * t1, udp);
        let data = self.respond_invite(call, status, extra);
        if let Some(c) = self.calls.get_mut(&call) {
            c.last_provisional = data.clone();
            if let Some(r) = c.reliable.as_mut() {
                r.unacked = Some((rseq, data, retransmit));
            }
        }
        self.arm(retransmit.next_deadline(), TimerRef::Reliable(call));
        None
    }

    /// Whether our 2xx must wait for a PRACK (then it is kept, with `extra`, until one comes).
    /// Provisionals still queued are dropped either way: the answer overtakes them.
    pub(super) fn hold_2xx(&mut self, call: CallId, extra: &mut Extra) -> bool {
        let Some(r) = self.calls.get_mut(&call).and_then(|c| c.reliable.as_mut()) else {
            return false;
        };
        r.queued.clear();
        if r.unacked.is_some() {
            r.held_2xx = Some(std::mem::take(extra));
            return true;
        }
        false
    }

    /// A PRACK: it must acknowledge the provisional outstanding (`RAck: rseq cseq INVITE`), or
    /// it gets 481. Then the next queued provisional, or the held 2xx, goes out.
    pub(super) fn handle_prack(&mut self, now: Instant, flow: Flow, req: Request) {
        let call = self.dialog_of(&req);
        let Some(c) = call.and_then(|call| self.calls.get_mut(&call)) else {
            self.answer_request(now, flow, &req, 481, Extra::default());
            return;
        };
        let invite_cseq = c.invite.common.cseq;
        let acked = req.common.header("RAck").and_then(rack);
        let pending = c
            .reliable
            .as_ref()
            .and_then(|r| r.unacked.as_ref())
            .map(|(rseq, ..)| *rseq);
        let matches =
            pending.is_some_and(|rseq| acked == Some((rseq, invite_cseq, "INVITE".into())));
        if !matches {
            warn!(call_id = %c.sip_call_id, rack = ?acked, ?pending, "PRACK acknowledges nothing outstanding");
            self.answer_request(now, flow, &req, 481, Extra::default());
            return;
        }
        let next = c.reliable.as_mut().map(|r| {
            r.unacked = None;
            (r.held_2xx.take(), r.queued.pop_front())
        });
        let Some(call) = call else {
            return;
        };
        self.answer_request(now, flow, &req, 200, Extra::default());
        match next {
            Some((Some(held), _)) => self.send_2xx(now, call, held),
            Some((None, Some((status, extra)))) => self.provisional(now, call, status, extra),
            _ => {}
        }
    }

    /// The outstanding reliable provisional: resent on UDP (T1 doubling), or, at 64·T1 with no
    /// PRACK, the INVITE is refused with 500.
    pub(super) fn reliable_timer(&mut self, now: Instant, call: CallId) {
        let t1 = self.config.t1;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let flow = c.flow;
        let sip_call_id = c.sip_call_id.clone();
        let Some((_, data, retransmit)) = c.reliable.as_mut().and_then(|r| r.unacked.as_mut())
        else {
            return;
        };
        if now < retransmit.next_deadline() {
            return; // an earlier schedule's entry
        }
        if now >= retransmit.give_up {
            warn!(call_id = %sip_call_id, "no PRACK within 64·T1: refusing the INVITE with 500");
            self.reject(now, call, 500, Extra::default());
            self.end(call, EndReason::NoPrack);
            return;
        }
        retransmit.backoff(now, 64 * t1);
        let (next, data) = (retransmit.next_deadline(), data.clone());
        self.stats.retransmissions_sent += 1;
        self.transmit(flow, data);
        self.arm(next, TimerRef::Reliable(call));
    }
}

/// `RAck: response-num CSeq-num Method` (RFC 3262 §7.2).
fn rack(value: &str) -> Option<(u32, u32, String)> {
    let mut parts = value.split_whitespace();
    let rseq = parts.next()?.parse().ok()?;
    let cseq = parts.next()?.parse().ok()?;
    let method = parts.next()?.to_ascii_uppercase();
    parts.next().is_none().then_some((rseq, cseq, method))
}

#[cfg(test)]
mod tests {
    #[test]
    fn rack_reads_rfc_3262_examples() {
        assert_eq!(
            super::rack("776656 1 INVITE"),
            Some((776_656, 1, "INVITE".into()))
        );
        assert_eq!(
            super::rack(" 1  314159 invite "),
            Some((1, 314_159, "INVITE".into()))
        );
        assert_eq!(super::rack("1 INVITE"), None);
        assert_eq!(super::rack("x 1 INVITE"), None);
        assert_eq!(super::rack("1 2 INVITE extra"), None);
    }
}
