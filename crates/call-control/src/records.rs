//! Call detail records: one for every leg the switch knows (an inbound call, a push call, a
//! leg placed for a dial node, an agent's leg, a callback), opened when the leg begins, told
//! what happens to it (answered, bridged, transferred, no RTP, its flow's path) and closed
//! into a [`CallRecord`] when the endpoint reports its end ([`crate::Output::Record`]).
//!
//! The switch reads no wall clock: it learns one from the Unix times that come with
//! [`crate::Input::Incoming`] and [`crate::Input::Push`] and dates every record from that
//! pair and its monotonic `now`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use flow_engine::{CallSummary, Entry, TraceStep};
use sip_ua::{CallId, EndReason};

use crate::AttemptId;

/// What kind of leg a record is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LegKind {
    /// A call that came in.
    Inbound,
    /// A push call placed through the API.
    Push,
    /// A leg placed for a flow's dial node.
    Dial,
    /// A leg placed to an agent for a queue.
    Agent,
    /// A queue's call back to a customer.
    Callback,
}

impl LegKind {
    /// `inbound`, `push`, `dial`, `agent` or `callback`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Push => "push",
            Self::Dial => "dial",
            Self::Agent => "agent",
            Self::Callback => "callback",
        }
    }

    /// `inbound` or `outbound` (the metrics' direction).
    pub fn direction(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            _ => "outbound",
        }
    }
}

/// How a leg ended: each case its own value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Answered, and ended by us (the flow hung up).
    Answered,
    /// Answered, and the far side hung up.
    CallerHungUp,
    /// The caller gave up before we answered (CANCEL).
    Cancelled,
    /// We refused it with this status (488 no codec, 503 no port, 500 no flow …).
    Rejected(u16),
    /// A leg we placed was busy (486, 600).
    Busy,
    /// A leg we placed rang out, or we stopped ringing it.
    NoAnswer,
    /// A leg we placed was refused with this status.
    Refused(u16),
    /// A leg we placed got no final response.
    NoResponse,
    /// Transferred to this target (REFER accepted and succeeded).
    Transferred(String),
    /// Bridged to this party (a dial target, an agent's contact, the caller of an agent leg).
    Bridged(String),
    /// No RTP arrived: ivrd hung up.
    RtpTimeout,
    /// Our 2xx was never acknowledged.
    AckTimeout,
    /// The session timer ran out (RFC 4028): nobody refreshed the session; we sent BYE.
    SessionExpired,
    /// Our reliable provisional was never PRACKed (RFC 3262): we refused the INVITE.
    NoPrack,
    /// The answer's media was unusable.
    NoUsableAnswer,
    /// The flow failed (a runaway loop, a failed transfer with nowhere to go).
    FlowFailed(String),
}

impl Disposition {
    /// Its name (CDRs, the metrics' outcome label).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::CallerHungUp => "caller_hung_up",
            Self::Cancelled => "cancelled",
            Self::Rejected(_) => "rejected",
            Self::Busy => "busy",
            Self::NoAnswer => "no_answer",
            Self::Refused(_) => "refused",
            Self::NoResponse => "no_response",
            Self::Transferred(_) => "transferred",
            Self::Bridged(_) => "bridged",
            Self::RtpTimeout => "rtp_timeout",
            Self::AckTimeout => "ack_timeout",
            Self::SessionExpired => "session_expired",
            Self::NoPrack => "no_prack",
            Self::NoUsableAnswer => "no_usable_answer",
            Self::FlowFailed(_) => "flow_failed",
        }
    }

    /// The status, target or reason that goes with it.
    pub fn detail(&self) -> Option<String> {
        match self {
            Self::Rejected(s) | Self::Refused(s) => Some(s.to_string()),
            Self::Transferred(t) | Self::Bridged(t) | Self::FlowFailed(t) => Some(t.clone()),
            _ => None,
        }
    }
}

/// One leg's record, closed when it ended.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRecord {
    /// The leg's handle.
    pub leg: CallId,
    /// What kind of leg.
    pub kind: LegKind,
    /// Its API id: the SIP Call-ID of an inbound call, a push call's id; empty for a placed
    /// leg (its SIP Call-ID is the driver's to fill in).
    pub id: String,
    /// The API id of the call it was placed for.
    pub parent: Option<String>,
    /// Who called (the caller's number, or the caller ID we presented).
    pub from: String,
    /// Who was called (the dialled number, a target URI).
    pub to: String,
    /// The trunk it went through.
    pub trunk: Option<String>,
    /// The flow it ran.
    pub flow: Option<String>,
    /// When it began, in milliseconds since the Unix epoch.
    pub start_unix_ms: i64,
    /// From its start to the answer (2xx sent or received), if answered.
    pub answered_after: Option<Duration>,
    /// From its start to its end.
    pub ended_after: Duration,
    /// How it ended.
    pub disposition: Disposition,
    /// Whether the far side ended it (BYE, CANCEL, a refusal) rather than ivrd.
    pub ended_by_remote: bool,
    /// Its flow's path, each node with its outcome and time since the answer.
    pub path: Vec<TraceStep>,
    /// Keys entered (menu choices, collected entries; sensitive ones masked).
    pub entries: Vec<Entry>,
}

impl CallRecord {
    /// Time talking: from the answer to the end (zero if never answered).
    pub fn talk_time(&self) -> Duration {
        self.answered_after
            .map_or(Duration::ZERO, |a| self.ended_after.saturating_sub(a))
    }
}

/// A leg being placed: what its record will say once it has a handle.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub(crate) kind: LegKind,
    pub(crate) id: String,
    pub(crate) parent: Option<String>,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) trunk: Option<String>,
    pub(crate) flow: Option<String>,
}

#[derive(Debug)]
struct Open {
    head: Pending,
    start: Instant,
    start_unix_ms: i64,
    answered: Option<Instant>,
    bridged: Option<String>,
    transferring: Option<String>,
    transferred: Option<String>,
    rtp_timeout: bool,
    summary: Option<CallSummary>,
}

/// The open records, and the wall clock the switch was last told.
#[derive(Debug, Default)]
pub(crate) struct Records {
    open: HashMap<CallId, Open>,
    placing: HashMap<AttemptId, Pending>,
    /// A monotonic instant and the Unix time it was.
    clock: Option<(Instant, i64)>,
}

impl Records {
    /// The Unix time at `now`, from the last pair learned.
    fn unix_ms(&self, now: Instant) -> i64 {
        let Some((at, unix)) = self.clock else {
            return 0;
        };
        match now.checked_duration_since(at) {
            Some(d) => unix + d.as_millis() as i64,
            None => unix - at.saturating_duration_since(now).as_millis() as i64,
        }
    }

    pub(crate) fn learn_clock(&mut self, now: Instant, unix_ms: i64) {
        self.clock = Some((now, unix_ms));
    }

    pub(crate) fn open(&mut self, now: Instant, leg: CallId, head: Pending) {
        let start_unix_ms = self.unix_ms(now);
        let open = Open {
            head,
            start: now,
            start_unix_ms,
            answered: None,
            bridged: None,
            transferring: None,
            transferred: None,
            rtp_timeout: false,
            summary: None,
        };
        self.open.insert(leg, open);
    }

    /// A leg is being placed for `attempt`; [`Records::placed`] opens its record.
    pub(crate) fn placing(&mut self, attempt: AttemptId, head: Pending) {
        self.placing.insert(attempt, head);
    }

    pub(crate) fn placed(&mut self, now: Instant, attempt: AttemptId, leg: Option<CallId>) {
        if let (Some(head), Some(leg)) = (self.placing.remove(&attempt), leg) {
            self.open(now, leg, head);
        }
    }

    /// When an open leg began (Unix ms).
    pub(crate) fn start_unix_ms(&self, leg: CallId) -> Option<i64> {
        self.open.get(&leg).map(|o| o.start_unix_ms)
    }

    /// The API id of an open leg.
    pub(crate) fn id(&self, leg: CallId) -> Option<&str> {
        self.open.get(&leg).map(|o| o.head.id.as_str())
    }

    pub(crate) fn answered(&mut self, now: Instant, leg: CallId) {
        if let Some(o) = self.open.get_mut(&leg) {
            o.answered.get_or_insert(now);
        }
    }

    /// Two legs' media were joined: each record names the other party.
    pub(crate) fn bridged(&mut self, a: CallId, b: CallId) {
        let to_b = self.open.get(&b).map(|o| o.head.to.clone());
        // The placed leg `b` is bridged to whoever called in, or to the party `a` called.
        let party_a = self.open.get(&a).map(|o| match o.head.kind {
            LegKind::Inbound => o.head.from.clone(),
            _ => o.head.to.clone(),
        });
        if let (Some(o), Some(to)) = (self.open.get_mut(&a), to_b) {
            o.bridged = Some(to);
        }
        if let (Some(o), Some(party)) = (self.open.get_mut(&b), party_a) {
            o.bridged = Some(party);
        }
    }

    pub(crate) fn transferring(&mut self, leg: CallId, target: &str) {
        if let Some(o) = self.open.get_mut(&leg) {
            o.transferring = Some(target.to_string());
        }
    }

    pub(crate) fn transfer_result(&mut self, leg: CallId, ok: bool) {
        if let Some(o) = self.open.get_mut(&leg) {
            let target = o.transferring.take();
            if ok {
                o.transferred = target;
            }
        }
    }

    pub(crate) fn rtp_timeout(&mut self, leg: CallId) {
        if let Some(o) = self.open.get_mut(&leg) {
            o.rtp_timeout = true;
        }
    }

    pub(crate) fn flow_finished(&mut self, leg: CallId, summary: &CallSummary) {
        if let Some(o) = self.open.get_mut(&leg) {
            o.summary = Some(summary.clone());
        }
    }

    /// Open legs by direction: (inbound, outbound).
    pub(crate) fn live(&self) -> (usize, usize) {
        let inbound = self
            .open
            .values()
            .filter(|o| o.head.kind == LegKind::Inbound)
            .count();
        (inbound, self.open.len() - inbound)
    }

    /// The leg ended: its record.
    pub(crate) fn close(
        &mut self,
        now: Instant,
        leg: CallId,
        reason: &EndReason,
    ) -> Option<CallRecord> {
        let o = self.open.remove(&leg)?;
        let placed = o.head.kind != LegKind::Inbound;
        let answered = o.answered.is_some();
        let flow_failed = o.summary.as_ref().and_then(|s| match &s.disposition {
            flow_engine::Disposition::Failed(why) => Some(why.clone()),
            _ => None,
        });
        let disposition = if o.rtp_timeout {
            Disposition::RtpTimeout
        } else if let Some(target) = o.transferred {
            Disposition::Transferred(target)
        } else if let Some(party) = o.bridged {
            Disposition::Bridged(party)
        } else if let Some(why) = flow_failed {
            Disposition::FlowFailed(why)
        } else {
            by_reason(reason, placed, answered)
        };
        let (path, entries) = o
            .summary
            .map_or((Vec::new(), Vec::new()), |s| (s.trace, s.entries));
        Some(CallRecord {
            leg,
            kind: o.head.kind,
            id: o.head.id,
            parent: o.head.parent,
            from: o.head.from,
            to: o.head.to,
            trunk: o.head.trunk,
            flow: o.head.flow,
            start_unix_ms: o.start_unix_ms,
            answered_after: o.answered.map(|a| a.saturating_duration_since(o.start)),
            ended_after: now.saturating_duration_since(o.start),
            disposition,
            ended_by_remote: matches!(reason, EndReason::CallerHungUp | EndReason::Refused(_))
                || (!placed && *reason == EndReason::Cancelled),
            path,
            entries,
        })
    }
}

/// The disposition the end itself tells, when nothing on the way decided it.
fn by_reason(reason: &EndReason, placed: bool, answered: bool) -> Disposition {
    match reason {
        EndReason::CallerHungUp => Disposition::CallerHungUp,
        EndReason::Cancelled if placed => Disposition::NoAnswer,
        EndReason::Cancelled => Disposition::Cancelled,
        EndReason::HungUp if answered => Disposition::Answered,
        EndReason::HungUp if placed => Disposition::NoAnswer,
        // 480 before answering: the flow gave up on it.
        EndReason::HungUp => Disposition::Rejected(480),
        EndReason::Rejected(status) => Disposition::Rejected(*status),
        EndReason::AckTimeout => Disposition::AckTimeout,
        EndReason::NoUsableAnswer => Disposition::NoUsableAnswer,
        EndReason::Refused(486 | 600) => Disposition::Busy,
        EndReason::Refused(408 | 480 | 487) => Disposition::NoAnswer,
        EndReason::Refused(status) => Disposition::Refused(*status),
        EndReason::NoResponse => Disposition::NoResponse,
        EndReason::SessionExpired => Disposition::SessionExpired,
        EndReason::NoPrack => Disposition::NoPrack,
    }
}
