//! One call's dialog state on the answering side.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::Flow;
use crate::build::{DialogRequest, Extra};
use crate::message::{Request, addr_uri};
use crate::sdp::{LocalMedia, Negotiated};
use crate::session_timer::SessionTimer;

/// Where a call is. A transition happens in `Endpoint`; illegal commands are refused there.
#[derive(Clone, Debug)]
pub(crate) enum CallState {
    /// INVITE received, 100 sent, waiting for the application.
    Offered,
    /// 180 sent.
    Ringing,
    /// 2xx sent, retransmitted until the ACK arrives (RFC 3261 §13.3.1.4).
    Answering {
        response: Vec<u8>,
        retransmit: Retransmit,
    },
    /// ACK received: the dialog is confirmed.
    Confirmed,
    /// A non-2xx final response sent, retransmitted until its ACK (Timers G and H).
    Rejected {
        response: Vec<u8>,
        retransmit: Retransmit,
    },
    /// We placed the call: our INVITE waits for a final response (RFC 3261 §17.1.1).
    Inviting(Box<Inviting>),
    /// Our INVITE was refused: the ACK is resent to retransmissions of the final response
    /// until Timer D.
    Refused { ack: Vec<u8>, until: Instant },
}

/// Whether we have asked to cancel our INVITE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cancel {
    NotAsked,
    /// Asked before any provisional response: CANCEL goes out with the first (§9.1).
    OnProvisional,
    Sent,
}

/// Our INVITE in flight.
#[derive(Clone, Debug)]
pub(crate) struct Inviting {
    pub(crate) data: Vec<u8>,
    pub(crate) branch: String,
    /// Timer A (UDP, until a provisional response); `give_up` alone is Timer B.
    pub(crate) retransmit: Option<Retransmit>,
    pub(crate) give_up: Instant,
    /// A provisional response has arrived (the transaction is Proceeding).
    pub(crate) proceeding: bool,
    pub(crate) cancel: Cancel,
    pub(crate) credentials: Option<crate::Credentials>,
    /// Challenges answered so far (an endless loop of them ends the call).
    pub(crate) challenges: u8,
    /// The session interval a 422 made us ask for instead of ours (RFC 4028 §7.4).
    pub(crate) session_expires: Option<u32>,
}

impl Inviting {
    pub(crate) fn next_deadline(&self) -> Instant {
        self.retransmit.map_or(self.give_up, |r| r.next_deadline())
    }
}

/// A retransmission schedule: first after T1, doubling up to a cap, until `give_up`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Retransmit {
    pub(crate) next: Instant,
    pub(crate) interval: Duration,
    pub(crate) give_up: Instant,
}

impl Retransmit {
    /// Starts at `now`. Without retransmission (reliable transport) only `give_up` matters.
    pub(crate) fn start(now: Instant, t1: Duration, timeout: Duration, retransmit: bool) -> Self {
        let give_up = now + timeout;
        Self {
            next: if retransmit { now + t1 } else { give_up },
            interval: t1,
            give_up,
        }
    }

    /// After a retransmission at `now`: double the interval up to `cap`.
    pub(crate) fn backoff(&mut self, now: Instant, cap: Duration) {
        self.interval = (self.interval * 2).min(cap);
        self.next = now + self.interval;
    }

    pub(crate) fn next_deadline(&self) -> Instant {
        self.next.min(self.give_up)
    }
}

/// A call: the INVITE it started with, the dialog's identifiers and its state.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub(crate) flow: Flow,
    pub(crate) invite: Request,
    pub(crate) invite_branch: String,
    pub(crate) sip_call_id: String,
    pub(crate) local_tag: String,
    /// The caller's From tag (absent only from RFC 2543 peers).
    pub(crate) remote_tag: Option<String>,
    /// The caller's From (with its tag): our requests' To.
    pub(crate) remote: String,
    /// The To URI of the INVITE: our requests' From.
    pub(crate) local_uri: String,
    /// Request-URI for our in-dialog requests: the caller's Contact.
    pub(crate) remote_target: String,
    /// Record-Route values, in order (RFC 3261 §12.1.1).
    pub(crate) route_set: Vec<String>,
    pub(crate) local_cseq: u32,
    /// Highest CSeq the caller has used in this dialog (RFC 3261 §12.2.2).
    pub(crate) remote_cseq: u32,
    pub(crate) last_provisional: Vec<u8>,
    /// The last re-INVITE's branch and our 2xx to it, for its retransmissions.
    pub(crate) last_reinvite: Option<(String, Vec<u8>)>,
    pub(crate) media: Option<(LocalMedia, Negotiated)>,
    /// Late offer: our offer went in the 2xx; the answer is awaited in the ACK.
    pub(crate) offered: Option<LocalMedia>,
    /// The source counted in admission while the call is being set up (until its first ACK or
    /// its end).
    pub(crate) setup_source: Option<IpAddr>,
    /// Branches of our requests in this dialog still waiting for a final response; they end
    /// with the dialog (except BYE).
    pub(crate) requests: Vec<String>,
    /// A call we placed: the ACK for its 2xx, resent to retransmissions of the 2xx.
    pub(crate) ack: Option<Vec<u8>>,
    pub(crate) state: CallState,
    /// `Ended` has been reported.
    pub(crate) ended: bool,
    /// The session timer in force (RFC 4028): agreed on the INVITE, running from its 2xx.
    pub(crate) session: Option<SessionTimer>,
    /// When the session timer's next refresh (ours) or expiry (theirs) is due.
    pub(crate) session_due: Option<Instant>,
    /// Our refresh in flight: the give-up point has replaced the refresh point.
    pub(crate) refreshing: bool,
    /// The peer lists UPDATE in its Allow: we refresh with UPDATE, else with re-INVITE.
    pub(crate) peer_allows_update: bool,
    /// The ACK for the 2xx of our last re-INVITE (its CSeq), resent to retransmissions.
    pub(crate) reinvite_ack: Option<(u32, Vec<u8>)>,
    /// Reliable provisional responses, when the INVITE requires them (RFC 3262).
    pub(crate) reliable: Option<Box<Reliable>>,
}

/// Reliable provisional responses of one INVITE (RFC 3262 §3): one unacknowledged at a time.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reliable {
    /// The RSeq of the last one sent.
    pub(crate) rseq: u32,
    /// The one waiting for its PRACK: RSeq, bytes, schedule (T1 doubling, 64·T1 in all).
    pub(crate) unacked: Option<(u32, Vec<u8>, Retransmit)>,
    /// Provisionals asked for while one was unacknowledged: status and what they add.
    pub(crate) queued: VecDeque<(u16, Extra)>,
    /// Our 2xx, held until the PRACK (an answer must not overtake a reliable 183's SDP).
    pub(crate) held_2xx: Option<Extra>,
}

impl Call {
    /// A request in this call's dialog (or, before the dialog, of its INVITE transaction):
    /// its target, route set, From, To and Call-ID, with `method`, `branch` and `cseq`.
    pub(crate) fn request<'a>(
        &'a self,
        method: &'a str,
        branch: &'a str,
        cseq: u32,
        user_agent: &'a str,
    ) -> DialogRequest<'a> {
        DialogRequest {
            method,
            target: &self.remote_target,
            transport: self.flow.transport,
            local: self.flow.local,
            branch,
            route_set: &self.route_set,
            local_uri: &self.local_uri,
            local_tag: &self.local_tag,
            remote: &self.remote,
            call_id: &self.sip_call_id,
            cseq,
            user_agent,
        }
    }

    pub(crate) fn new(flow: Flow, invite: &Request, local_tag: String) -> Self {
        let c = &invite.common;
        let remote_target = c
            .header("Contact")
            .map(|v| addr_uri(v).to_string())
            .unwrap_or_else(|| addr_uri(&c.from).to_string());
        let route_set = c
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("Record-Route"))
            .flat_map(|(_, v)| v.split(',').map(|r| r.trim().to_string()))
            .collect();
        Self {
            flow,
            invite: invite.clone(),
            invite_branch: c.branch.clone(),
            sip_call_id: c.call_id.clone(),
            local_tag,
            remote_tag: c.from_tag.clone(),
            remote: c.from.clone(),
            local_uri: addr_uri(&c.to).to_string(),
            remote_target,
            route_set,
            local_cseq: 0,
            remote_cseq: c.cseq,
            last_provisional: Vec::new(),
            last_reinvite: None,
            media: None,
            offered: None,
            setup_source: Some(flow.remote.ip()),
            requests: Vec::new(),
            ack: None,
            state: CallState::Offered,
            ended: false,
            session: None,
            session_due: None,
            refreshing: false,
            peer_allows_update: c
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("Allow"))
                .flat_map(|(_, v)| v.split(','))
                .any(|m| m.trim().eq_ignore_ascii_case("UPDATE")),
            reinvite_ack: None,
            reliable: None,
        }
    }
}
