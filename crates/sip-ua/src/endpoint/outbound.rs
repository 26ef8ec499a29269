//! Calls we place (RFC 3261 §13.2, §17.1.1): the INVITE client transaction (Timers A, B and
//! D), provisional responses, our ACK for the 2xx (resent to its retransmissions), CANCEL of a
//! pending INVITE (its 487 acknowledged; a 2xx that crosses it ACKed and BYEd), digest
//! challenges answered once per nonce, and forked 2xx answers from other dialogs ACKed and
//! BYEd.

use std::time::Instant;

use tracing::{info, warn};

use super::checks::ALLOW;
use super::{Endpoint, TimerRef};
use crate::build::{self, DialogRequest};
use crate::call::{Call, CallState, Cancel, Inviting, Retransmit};
use crate::digest::Challenge;
use crate::message::{self, Message, Method, NameAddr, Response, addr_uri};
use crate::sdp::{self, MediaOffer};
use crate::session_timer::{self, has_option};
use crate::{CallId, Dial, EndReason, Event, Output, SipError, Transport};

/// Most digest challenges answered for one call.
const MAX_CHALLENGES: u8 = 2;

/// How long a call may ring once it has had a provisional response (RFC 3261 §17.1.1.2 stops
/// Timer B there; the application's ring timeout normally cancels it much sooner; 3 minutes is
/// a proxy's Timer C).
const PROCEEDING_LIMIT: std::time::Duration = std::time::Duration::from_secs(180);

impl Endpoint {
    /// Places a call: sends the INVITE with our offer. Its progress, answer and end arrive as
    /// events for the returned call; [`Command::HangUp`](crate::Command::HangUp) cancels it
    /// while it rings and sends BYE once it is answered.
    pub fn dial(&mut self, now: Instant, dial: Dial) -> Result<CallId, SipError> {
        // A target rendered from flow variables must not smuggle in headers (CRLF) or break
        // the name-addr it is written into.
        let unsafe_char = |c: char| c.is_control() || c.is_whitespace() || "<>\"".contains(c);
        if dial.target.chars().any(unsafe_char) || dial.from.chars().any(unsafe_char) {
            return Err(SipError::Misuse(
                "dial: the target or From has characters a URI cannot",
            ));
        }
        let id = CallId(self.next_call);
        self.next_call += 1;
        let local_tag = self.token();
        let call_id = format!("{}@ivrd", self.token());
        let branch = format!("z9hG4bK{}", self.token());
        let offer = sdp::offer(&dial.local, &self.config.codecs, dial.telephone_event);
        let to = format!("<{}>", dial.target);
        let mut headers = vec![("Allow", ALLOW.to_string())];
        headers.extend(self.config.session_timers.request_headers(None));
        let data = build::request(
            &DialogRequest {
                method: "INVITE",
                target: &dial.target,
                transport: dial.flow.transport,
                local: dial.flow.local,
                branch: &branch,
                route_set: &dial.route,
                local_uri: &dial.from,
                local_tag: &local_tag,
                remote: &to,
                call_id: &call_id,
                cseq: 1,
                user_agent: &self.config.user_agent,
            },
            &headers,
            Some(("application/sdp", &offer)),
        );
        let Ok(Message::Request(invite)) = message::parse(&data) else {
            return Err(SipError::Misuse(
                "dial: the target or From is not a usable SIP URI",
            ));
        };
        let mut call = Call::new(dial.flow, &invite, local_tag);
        call.remote_tag = None;
        call.remote = to;
        call.local_uri = dial.from;
        call.remote_target = dial.target;
        call.route_set = dial.route;
        call.local_cseq = 1;
        call.remote_cseq = 0;
        call.offered = Some(dial.local);
        call.setup_source = None;
        call.peer_allows_update = false; // until its answer says
        let udp = dial.flow.transport == Transport::Udp;
        let t1 = self.config.t1;
        let inviting = Inviting {
            data: data.clone(),
            branch: branch.clone(),
            retransmit: udp.then(|| Retransmit::start(now, t1, 64 * t1, true)),
            give_up: now + 64 * t1,
            proceeding: false,
            cancel: Cancel::NotAsked,
            credentials: dial.credentials,
            challenges: 0,
            session_expires: None,
        };
        let next = inviting.next_deadline();
        call.state = CallState::Inviting(Box::new(inviting));
        info!(call_id = %call_id, to = %call.remote_target, "placing a call");
        self.by_branch.insert(branch, id);
        self.by_dialog.insert((call_id, call.local_tag.clone()), id);
        self.calls.insert(id, call);
        self.transmit(dial.flow, data);
        self.arm(next, TimerRef::Call(id));
        Ok(id)
    }

    /// A response to one of our INVITEs.
    pub(super) fn handle_invite_response(&mut self, now: Instant, call: CallId, resp: Response) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        match (&mut c.state, resp.status) {
            (CallState::Inviting(inv), 100..=199) => {
                inv.retransmit = None; // Proceeding: Timer A stops
                if !inv.proceeding && inv.cancel != Cancel::Sent {
                    // Timer B does not run in Proceeding; our ring timeout (or this limit) does.
                    inv.give_up = now + PROCEEDING_LIMIT;
                    self.timers
                        .push(std::cmp::Reverse((inv.give_up, TimerRef::Call(call))));
                }
                inv.proceeding = true;
                if inv.cancel == Cancel::OnProvisional {
                    self.send_cancel(now, call);
                }
                if resp.status == 100 {
                    return;
                }
                let early = (resp.status == 183 && !resp.common.body.is_empty())
                    .then(|| MediaOffer::parse(&resp.common.body))
                    .and_then(Result::ok)
                    .and_then(|answer| answer.accept_answer(&self.config.codecs).ok());
                self.out
                    .push_back(Output::Event(call, Event::Progress(early)));
            }
            (CallState::Inviting(_), 200..=299) => self.take_2xx(now, call, &resp),
            (CallState::Inviting(_), _) => self.take_refusal(now, call, &resp),
            (CallState::Refused { ack, .. }, 300..) => {
                let (flow, ack) = (c.flow, ack.clone());
                self.transmit(flow, ack);
            }
            (_, 200..=299) if c.ack.is_some() => {
                if resp.common.to_tag == c.remote_tag {
                    // The 2xx again: our ACK was lost.
                    let (flow, ack) = (c.flow, c.ack.clone().unwrap_or_default());
                    self.transmit(flow, ack);
                } else {
                    self.end_forked_dialog(now, call, &resp);
                }
            }
            _ => {}
        }
    }

    /// The 2xx: the dialog is confirmed with our ACK; a call we asked to cancel is ended with
    /// BYE at once, and so is one without a usable answer.
    fn take_2xx(&mut self, now: Instant, call: CallId, resp: &Response) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let CallState::Inviting(inv) = &c.state else {
            return;
        };
        let cancelled = inv.cancel != Cancel::NotAsked;
        c.remote_tag = resp.common.to_tag.clone();
        c.remote = resp.common.to.clone();
        if let Some(contact) = resp.common.header("Contact") {
            c.remote_target = addr_uri(contact).to_string();
        }
        // RFC 3261 §12.1.2: the UAC's route set is the Record-Route in reverse.
        c.route_set = record_route(resp).into_iter().rev().collect();
        c.peer_allows_update = has_option(&resp.common, "Allow", "UPDATE");
        c.session = session_timer::as_uac(&resp.common);
        c.state = CallState::Confirmed;
        let ack = self.dialog_ack(call);
        if let Some(c) = self.calls.get_mut(&call) {
            c.ack = Some(ack.clone());
            let flow = c.flow;
            self.transmit(flow, ack);
        }
        let answer = MediaOffer::parse(&resp.common.body)
            .and_then(|answer| answer.accept_answer(&self.config.codecs));
        match (cancelled, answer) {
            (true, _) => {
                info!(call_id = %resp.common.call_id, "answered after CANCEL: hanging up");
                self.send_in_dialog(now, call, Method::Bye, &[], None);
                self.end(call, EndReason::Cancelled);
            }
            (false, Ok(negotiated)) => {
                if let Some(c) = self.calls.get_mut(&call) {
                    let local = c.offered.take().unwrap_or(crate::LocalMedia {
                        rtp: c.flow.local,
                        session_id: 0,
                        version: 0,
                    });
                    c.media = Some((local, negotiated));
                }
                self.out
                    .push_back(Output::Event(call, Event::Answered(negotiated)));
                let _ = self.start_session(now, call);
            }
            (false, Err(error)) => {
                warn!(call_id = %resp.common.call_id, %error, "answered without a usable answer: hanging up");
                self.send_in_dialog(now, call, Method::Bye, &[], None);
                self.end(call, EndReason::NoUsableAnswer);
            }
        }
    }

    /// A final response of 300–699: ACKed in the transaction; a digest challenge answered with
    /// a new INVITE when we have credentials; otherwise the call ends.
    fn take_refusal(&mut self, now: Instant, call: CallId, resp: &Response) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let CallState::Inviting(inv) = &c.state else {
            return;
        };
        // RFC 3261 §17.1.1.3: the ACK of a non-2xx copies the INVITE's Request-URI, Via,
        // From, Call-ID and Route, takes To from the response, and has CSeq n ACK.
        let ack = build::request(
            &DialogRequest {
                remote: &resp.common.to,
                ..c.request("ACK", &inv.branch, c.local_cseq, &self.config.user_agent)
            },
            &[],
            None,
        );
        let flow = c.flow;
        let cancelled =
            matches!(&c.state, CallState::Inviting(inv) if inv.cancel != Cancel::NotAsked);
        self.transmit(flow, ack.clone());
        if matches!(resp.status, 401 | 407) && !cancelled && self.answer_challenge(now, call, resp)
        {
            return;
        }
        if resp.status == 422 && !cancelled && self.ask_longer(now, call, resp) {
            return;
        }
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let reason = match &c.state {
            CallState::Inviting(inv) if inv.cancel == Cancel::Sent && resp.status == 487 => {
                EndReason::Cancelled
            }
            _ => EndReason::Refused(resp.status),
        };
        // Timer D: absorb retransmissions of the final response (32 s on UDP, none on TCP).
        let until = match c.flow.transport {
            Transport::Udp => now + 64 * self.config.t1,
            Transport::Tcp | Transport::Tls => now,
        };
        c.state = CallState::Refused { ack, until };
        self.arm(until, TimerRef::Call(call));
        self.end(call, reason);
    }

    /// Sends the INVITE again with an `Authorization` (401) or `Proxy-Authorization` (407).
    /// False when there is nothing to answer with.
    fn answer_challenge(&mut self, now: Instant, call: CallId, resp: &Response) -> bool {
        let found = Challenge::of(resp);
        let cnonce = self.token();
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        let CallState::Inviting(inv) = &mut c.state else {
            return false;
        };
        let (Some((challenge, answer_header)), Some(credentials)) =
            (found, inv.credentials.clone())
        else {
            return false;
        };
        if inv.challenges >= MAX_CHALLENGES {
            warn!(call_id = %c.sip_call_id, status = resp.status, "challenged again: giving up");
            return false;
        }
        inv.challenges += 1;
        let authorization = challenge.answer(
            &credentials.username,
            &credentials.password,
            "INVITE",
            &c.remote_target,
            1,
            &cnonce,
        );
        self.resend_invite(now, call, Some((answer_header, authorization)));
        true
    }

    /// A 422 (RFC 4028 §7.4): the INVITE again, asking for the `Min-SE` it names. False when
    /// it names none larger than we asked for.
    fn ask_longer(&mut self, now: Instant, call: CallId, resp: &Response) -> bool {
        let ours = self.config.session_timers.expires_secs();
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        let CallState::Inviting(inv) = &mut c.state else {
            return false;
        };
        let asked = inv.session_expires.unwrap_or(ours);
        match session_timer::min_se_of(&resp.common) {
            Some(min) if min > asked => {
                info!(call_id = %c.sip_call_id, min, "422: asking for a longer session interval");
                inv.session_expires = Some(min);
                self.resend_invite(now, call, None);
                true
            }
            _ => false,
        }
    }

    /// Our INVITE again on a new branch and CSeq, with the same offer, the session interval
    /// last asked for and `extra` (an authorization).
    fn resend_invite(&mut self, now: Instant, call: CallId, extra: Option<(&'static str, String)>) {
        let branch = format!("z9hG4bK{}", self.token());
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let CallState::Inviting(inv) = &c.state else {
            return;
        };
        let mut headers = vec![("Allow", ALLOW.to_string())];
        headers.extend(
            self.config
                .session_timers
                .request_headers(inv.session_expires),
        );
        headers.extend(extra);
        c.local_cseq += 1;
        let offer = String::from_utf8_lossy(&c.invite.common.body).into_owned();
        let data = build::request(
            &c.request("INVITE", &branch, c.local_cseq, &self.config.user_agent),
            &headers,
            Some(("application/sdp", &offer)),
        );
        let t1 = self.config.t1;
        let udp = c.flow.transport == Transport::Udp;
        let CallState::Inviting(inv) = &mut c.state else {
            return;
        };
        let old = std::mem::replace(&mut inv.branch, branch.clone());
        inv.data = data.clone();
        inv.retransmit = udp.then(|| Retransmit::start(now, t1, 64 * t1, true));
        inv.give_up = now + 64 * t1;
        inv.proceeding = false;
        let next = inv.next_deadline();
        c.invite_branch = branch.clone();
        let flow = c.flow;
        self.by_branch.remove(&old);
        self.by_branch.insert(branch, call);
        self.transmit(flow, data);
        self.arm(next, TimerRef::Call(call));
    }

    /// Hang-up of a call we placed that is not answered yet: CANCEL once it has had a
    /// provisional response (RFC 3261 §9.1), else as soon as one arrives.
    pub(super) fn cancel_invite(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let CallState::Inviting(inv) = &mut c.state else {
            return;
        };
        match (inv.cancel, inv.proceeding) {
            (Cancel::NotAsked, true) => self.send_cancel(now, call),
            (Cancel::NotAsked, false) => inv.cancel = Cancel::OnProvisional,
            _ => {}
        }
    }

    fn send_cancel(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let CallState::Inviting(inv) = &mut c.state else {
            return;
        };
        inv.cancel = Cancel::Sent;
        // §9.1: without a final response within 64·T1 of the CANCEL, the INVITE is given up.
        inv.give_up = now + 64 * self.config.t1;
        let give_up_invite = inv.give_up;
        let branch = inv.branch.clone();
        // §9.1: Request-URI, Call-ID, To, From, CSeq number and the Via branch of the INVITE.
        let data = build::request(
            &c.request("CANCEL", &branch, c.local_cseq, &self.config.user_agent),
            &[],
            None,
        );
        let flow = c.flow;
        self.arm(give_up_invite, TimerRef::Call(call));
        self.start_client(now, call, Method::Cancel, branch, flow, data);
    }

    /// Timers A, B and D of a call we placed.
    pub(super) fn outbound_timer(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        match &mut c.state {
            CallState::Inviting(inv) => {
                if now >= inv.give_up {
                    warn!(call_id = %c.sip_call_id, "no final response to our INVITE (Timer B)");
                    self.end(call, EndReason::NoResponse);
                    return;
                }
                let mut resend = None;
                if let Some(r) = inv.retransmit.as_mut()
                    && now >= r.next
                {
                    // Timer A doubles without the T2 cap that non-INVITE requests have.
                    r.backoff(now, 64 * self.config.t1);
                    resend = Some(inv.data.clone());
                }
                let (next, flow) = (inv.next_deadline(), c.flow);
                if let Some(data) = resend {
                    self.transmit(flow, data);
                }
                self.arm(next, TimerRef::Call(call));
            }
            CallState::Refused { until, .. } if now >= *until => self.remove(call),
            _ => {}
        }
    }

    /// The ACK for the 2xx of our INVITE: a new transaction in the dialog, CSeq of the INVITE.
    fn dialog_ack(&mut self, call: CallId) -> Vec<u8> {
        let branch = format!("z9hG4bK{}", self.token());
        let Some(c) = self.calls.get(&call) else {
            return Vec::new();
        };
        build::request(
            &c.request("ACK", &branch, c.local_cseq, &self.config.user_agent),
            &[],
            None,
        )
    }

    /// A 2xx from another fork (another To tag): RFC 3261 §13.2.2.4 says to ACK it; we want
    /// one dialog only, so that one is ended with BYE at once.
    fn end_forked_dialog(&mut self, now: Instant, call: CallId, resp: &Response) {
        let ack_branch = format!("z9hG4bK{}", self.token());
        let bye_branch = format!("z9hG4bK{}", self.token());
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        info!(call_id = %c.sip_call_id, "a second 2xx from another fork: ACK and BYE");
        let target = resp
            .common
            .header("Contact")
            .map_or(c.remote_target.as_str(), addr_uri)
            .to_string();
        let route: Vec<String> = record_route(resp).into_iter().rev().collect();
        let request = |method, branch, cseq| {
            build::request(
                &DialogRequest {
                    target: &target,
                    route_set: &route,
                    remote: &resp.common.to,
                    ..c.request(method, branch, cseq, &self.config.user_agent)
                },
                &[],
                None,
            )
        };
        let ack = request("ACK", &ack_branch, c.local_cseq);
        let bye = request("BYE", &bye_branch, c.local_cseq + 1);
        let flow = c.flow;
        self.transmit(flow, ack);
        self.start_client(now, call, Method::Bye, bye_branch, flow, bye);
    }
}

impl Call {
    /// Whether we placed this call (rather than answered it).
    pub(crate) fn placed(&self) -> bool {
        matches!(
            self.state,
            CallState::Inviting(_) | CallState::Refused { .. }
        ) || self.ack.is_some()
    }
}

/// The Record-Route values of a response, in order, each URI in its own `<…>`.
fn record_route(resp: &Response) -> Vec<String> {
    resp.common
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Record-Route"))
        .flat_map(|(_, v)| v.split(','))
        .map(|r| format!("<{}>", NameAddr::parse(r).uri))
        .collect()
}
