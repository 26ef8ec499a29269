//! What goes into and out of a [`crate::CallFlow`].

use std::fmt;
use std::time::Duration;

pub use crate::graph::{ConsentAnswer, HttpMethod};

/// Facts about the call, known when it starts.
#[derive(Clone, Debug, Default)]
pub struct CallInfo {
    /// The daemon's id for the call (part of SMS idempotency keys).
    pub call_id: String,
    /// Caller number (ANI); empty or `anonymous` when withheld.
    pub ani: String,
    /// Dialled number (DNIS).
    pub dnis: String,
    /// Wall clock at the start, milliseconds since the Unix epoch (for time-of-day conditions).
    pub unix_ms: i64,
    /// Values that override the flows' `[vars]` (deployment settings such as API addresses).
    pub vars: Vec<(String, String)>,
}

/// Identifies one request (playlist, HTTP, lookup, coupon, SMS, transfer) so that a late answer
/// to an abandoned request is recognised and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Inputs to [`crate::CallFlow::handle_input`].
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// The call is answered: the flow starts.
    Answered,
    /// A key press (once per press, whatever its source).
    Digit(char),
    /// A playlist played to its end.
    PlaybackFinished(RequestId),
    /// A deadline from `poll_timeout` passed.
    Timeout,
    /// Answer to [`Output::Http`].
    HttpResult {
        /// The request.
        id: RequestId,
        /// What happened.
        outcome: HttpOutcome,
    },
    /// Answer to [`Output::Lookup`]: the record's columns, or `None` when not found.
    LookupResult {
        /// The request.
        id: RequestId,
        /// Column → value.
        record: Option<Vec<(String, String)>>,
    },
    /// Answer to [`Output::IssueCoupon`]: the serial, or `None` when none could be issued.
    CouponIssued {
        /// The request.
        id: RequestId,
        /// The serial.
        serial: Option<String>,
    },
    /// Answer to [`Output::SendSms`].
    SmsResult {
        /// The request.
        id: RequestId,
        /// Accepted into the outbox, or refused with a reason.
        outcome: Result<(), String>,
    },
    /// Answer to [`Output::RecordConsent`].
    ConsentResult {
        /// The request.
        id: RequestId,
        /// Recorded, or why not.
        outcome: Result<(), String>,
    },
    /// Answer to [`Output::Dial`]: how the dialling ended. After `Answered` the caller is
    /// bridged until [`Input::BridgeEnded`] (or the caller hangs up).
    DialResult {
        /// The request.
        id: RequestId,
        /// What happened.
        outcome: DialOutcome,
    },
    /// Answer to [`Output::Enqueue`]: how the caller left the queue. After `Bridged` the caller
    /// is with an agent until [`Input::BridgeEnded`] (or the caller hangs up).
    QueueResult {
        /// The request.
        id: RequestId,
        /// How.
        outcome: QueueOutcome,
    },
    /// The bridged call of [`Output::Dial`] or [`Output::Enqueue`] ended from the far side; the
    /// caller is still here.
    BridgeEnded {
        /// The request.
        id: RequestId,
    },
    /// Answer to [`Output::Transfer`]: the transfer target answered (true) or it failed.
    TransferResult {
        /// The request.
        id: RequestId,
        /// Whether the call reached the target.
        ok: bool,
    },
    /// The call went on hold (either side): the prompt waits, and so do the deadlines of the
    /// menu or collect node listening for keys.
    Held,
    /// The call came off hold: listening deadlines go on with the time they had left.
    Resumed,
    /// The caller hung up.
    HungUp,
    /// The line failed under the call: ivrd ended it for a reason that is nobody's choice.
    Dropped(DropCause),
}

/// Why a line failed under a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropCause {
    /// No RTP from the caller for the configured time.
    NoMedia,
    /// Our 2xx was never acknowledged.
    NoAck,
    /// Nobody refreshed the session (RFC 4028 session timer).
    SessionExpired,
}

impl DropCause {
    /// The name used in traces and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::NoMedia => "no_media",
            Self::NoAck => "no_ack",
            Self::SessionExpired => "session_expired",
        }
    }
}

/// The end of an HTTP request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpOutcome {
    /// A response.
    Response {
        /// Status code.
        status: u16,
        /// Body text.
        body: String,
    },
    /// No connection, or the request failed.
    Failed(String),
    /// No response in time.
    TimedOut,
}

/// One playlist entry, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Playable {
    /// A prompt by name in the playlist's language.
    Prompt(String),
    /// Silence, milliseconds.
    Silence(u32),
}

/// Outputs from [`crate::CallFlow::poll_output`].
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Replace whatever plays with this playlist; report the end as `PlaybackFinished(id)`.
    Play {
        /// The playlist.
        id: RequestId,
        /// Prompt set.
        language: String,
        /// Entries.
        items: Vec<Playable>,
        /// A key press stops it.
        barge_in: bool,
    },
    /// Stop the playlist.
    StopPlayback,
    /// Make an HTTP request.
    Http {
        /// The request.
        id: RequestId,
        /// Method.
        method: HttpMethod,
        /// URL.
        url: String,
        /// JSON body (POST).
        body: Option<String>,
        /// Give up after this long.
        timeout: Duration,
    },
    /// Find the record with `key` in `source`.
    Lookup {
        /// The request.
        id: RequestId,
        /// Data source.
        source: String,
        /// Key.
        key: String,
    },
    /// Issue a unique coupon serial for `campaign`.
    IssueCoupon {
        /// The request.
        id: RequestId,
        /// Campaign.
        campaign: String,
        /// Validity.
        valid_days: u32,
    },
    /// Enqueue an SMS.
    SendSms(SmsRequest),
    /// Record a consent answer (and for an opt-out, put the number on the opt-out list).
    RecordConsent {
        /// The request.
        id: RequestId,
        /// Whose (as rendered; the gateway normalises it).
        number: String,
        /// What for.
        purpose: String,
        /// The answer.
        answer: ConsentAnswer,
    },
    /// Place a call to `targets` and bridge the caller to the first that answers; answer with
    /// [`Input::DialResult`], and [`Input::BridgeEnded`] when the far side hangs up.
    Dial {
        /// The request.
        id: RequestId,
        /// SIP URIs (or E.164 numbers, with a trunk), in order.
        targets: Vec<String>,
        /// The trunk to send them through; directly to the URI's host when `None`.
        trunk: Option<String>,
        /// In turn or all at once.
        mode: crate::DialMode,
        /// How long each target (or all at once) rings.
        ring_timeout: Duration,
        /// Caller ID to present; the caller's own when `None`.
        caller_id: Option<String>,
    },
    /// Put the caller in a queue until an agent answers; answer with [`Input::QueueResult`], and
    /// [`Input::BridgeEnded`] when the agent hangs up. While it waits, the queue plays to the
    /// caller and hears its keys.
    Enqueue {
        /// The request.
        id: RequestId,
        /// The queue's name.
        queue: String,
        /// Higher is served first.
        priority: i32,
        /// The queue's exit key leaves it (the node has an `exit_key` branch).
        exit_key: bool,
        /// A callback may be offered (the node has a `callback` branch).
        callback: bool,
    },
    /// Transfer the call (REFER).
    Transfer {
        /// The request.
        id: RequestId,
        /// SIP URI.
        target: String,
    },
    /// Hang up (BYE).
    HangUp,
    /// An analytics event.
    Event(FlowEvent),
    /// The flow ended; the last output.
    Finished(CallSummary),
}

/// An SMS the flow wants sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsRequest {
    /// The request.
    pub id: RequestId,
    /// Recipient as entered or as the caller ID (the gateway normalises it).
    pub to: String,
    /// Text.
    pub text: String,
    /// Purpose.
    pub purpose: String,
    /// `call_id:flow/node:purpose`: the same logical message is enqueued once.
    pub idempotency_key: String,
    /// The coupon serial in the text, if any.
    pub coupon: Option<String>,
}

/// An event node fired, or the engine reports something worth counting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowEvent {
    /// Name.
    pub name: String,
    /// `flow/node`.
    pub node: String,
    /// Time since the flow began (the call arrived, or a push call was placed).
    pub at: Duration,
    /// Fields.
    pub fields: Vec<(String, String)>,
}

/// How a dial node's call attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialOutcome {
    /// This target answered; the caller is bridged to it.
    Answered(String),
    /// Every target was busy.
    Busy,
    /// Nobody answered within the ring timeout.
    NoAnswer,
    /// Refused otherwise, unreachable, or answered without usable media; why.
    Failed(String),
}

/// How a caller left a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueOutcome {
    /// This agent answered; the caller is bridged to them.
    Bridged(String),
    /// The longest wait passed.
    Timeout,
    /// The queue was full.
    Full,
    /// No agent to wait for.
    NoAgents,
    /// The caller pressed the exit key.
    ExitKey,
    /// The caller chose a callback (the queue keeps their place).
    Callback,
}

impl QueueOutcome {
    /// `bridged`, `timeout`, `full`, `no_agents`, `exit_key` or `callback` (traces, journals).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Bridged(_) => "bridged",
            Self::Timeout => "timeout",
            Self::Full => "full",
            Self::NoAgents => "no_agents",
            Self::ExitKey => "exit_key",
            Self::Callback => "callback",
        }
    }
}

/// How a call's flow ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// The flow hung up.
    Completed,
    /// The caller hung up.
    CallerHungUp,
    /// The line failed (no RTP, no ACK) and ivrd ended the call.
    Dropped(DropCause),
    /// Transferred to this target.
    Transferred(String),
    /// The flow failed (a transfer that failed with nowhere to go, a runaway loop).
    Failed(String),
}

/// The end of a call: its disposition and the path taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSummary {
    /// How it ended.
    pub disposition: Disposition,
    /// Each node left, in order, with its outcome.
    pub trace: Vec<TraceStep>,
    /// What the caller keyed in, in order (menu choices and collected entries).
    pub entries: Vec<Entry>,
}

/// Keys entered at one node; a `sensitive` node's are masked (`*` for each key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `flow/node`.
    pub node: String,
    /// The keys, or as many `*`.
    pub digits: String,
}

/// `digits` as they are, or one `*` for each when `sensitive`.
pub(crate) fn masked(digits: &str, sensitive: bool) -> String {
    match sensitive {
        true => "*".repeat(digits.chars().count()),
        false => digits.to_string(),
    }
}

/// One node on the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceStep {
    /// Time since the flow began (the call arrived, or a push call was placed).
    pub at: Duration,
    /// `flow/node`.
    pub node: String,
    /// What happened there: `played`, `key 1`, `chose 2`, `invalid 9`, `no_input`, `collected`,
    /// `confirmed`, `case 0`, `else`, `found`, `not_found`, `http 200`, `http_failed`,
    /// `timed_out`, `sms_accepted`, `sms_refused`, `transferred`, `transfer_failed`, …
    pub outcome: String,
}

impl TraceStep {
    /// The outcome with its free-form part left out (`answered`, not `answered sip:…`;
    /// `http_failed`, not its reason), so that it can label a metric: keys, menu choices,
    /// branch cases and HTTP statuses stay, as the flow file bounds them.
    pub fn outcome_label(&self) -> &str {
        let (head, rest) = self
            .outcome
            .split_once(' ')
            .unwrap_or((self.outcome.as_str(), ""));
        match head {
            "key" | "chose" | "case" | "event" => &self.outcome,
            "http" if rest.len() == 3 && rest.bytes().all(|b| b.is_ascii_digit()) => &self.outcome,
            _ => head,
        }
    }
}

impl fmt::Display for TraceStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}@{}ms",
            self.node,
            self.outcome,
            self.at.as_millis()
        )
    }
}
