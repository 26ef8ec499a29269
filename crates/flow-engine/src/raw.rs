//! The serde mirror of a flow file. Nothing here is checked beyond its shape (unknown fields are
//! rejected); [`crate::compile`] turns it into a graph that cannot hold a dangling reference.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One flow file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    /// The `[flow]` table.
    pub flow: FlowHeader,
    /// Constants, readable as variables (`{name}`) and overridable with `set` nodes.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// The nodes by name.
    pub nodes: BTreeMap<String, Node>,
}

/// The `[flow]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowHeader {
    /// The first node.
    pub start: String,
    /// Languages whose prompt sets must hold every prompt this flow plays; the first is the
    /// default caller language.
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    /// IANA time zone for time-of-day conditions and `{today}`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// ISO 4217 currency for `amount` items: EUR, USD or UAH.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

fn default_languages() -> Vec<String> {
    vec!["en".into()]
}

fn default_timezone() -> String {
    "UTC".into()
}

fn default_currency() -> String {
    "EUR".into()
}

/// A node; `type` selects the kind.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Node {
    /// Play a playlist, then go on.
    Play {
        /// What to say.
        prompts: Vec<SayItem>,
        /// A key stops the playlist.
        #[serde(default)]
        barge_in: bool,
        /// Where a key press goes (barge-in only); the key is in `{last_digit}`.
        on_key: Option<String>,
        /// Where the finished playlist goes.
        next: String,
    },
    /// A menu: one choice among keys.
    Menu(Menu),
    /// Collect a number.
    Collect(Collect),
    /// The first matching case wins.
    Branch {
        /// Cases in order.
        cases: Vec<Case>,
        /// When no case matches.
        #[serde(rename = "else")]
        otherwise: String,
    },
    /// Find a record in a data source.
    Lookup {
        /// Source name (configured in ivrd.toml).
        source: String,
        /// Key template.
        key: String,
        /// Variable prefix: column `c` lands in `{into.c}`.
        into: String,
        /// Record found.
        found: String,
        /// No record.
        not_found: String,
    },
    /// An HTTP request.
    Http(Http),
    /// Send an SMS (the engine only asks; the SMS gateway sends).
    Sms(Sms),
    /// Record the caller's answer to an SMS consent question, or an opt-out / opt-in.
    Consent(Consent),
    /// Bridge the caller to a SIP URI, or to a list of them in turn or all at once.
    Dial(Dial),
    /// Wait in a queue for an agent.
    Queue(Queue),
    /// Transfer the call.
    Transfer {
        /// SIP URI template.
        target: String,
        /// Where a refused transfer goes; hang up when absent.
        on_failure: Option<String>,
    },
    /// Hang up.
    Hangup {},
    /// Continue at another flow's start.
    Goto {
        /// Flow name (file stem).
        flow: String,
    },
    /// Run another flow as a sub-flow; its `return` node comes back to `next`.
    Call {
        /// Flow name.
        flow: String,
        /// Where to continue after the sub-flow returns.
        next: String,
    },
    /// Return from a sub-flow.
    Return {},
    /// Assign variables.
    Set {
        /// Variable → template.
        vars: BTreeMap<String, String>,
        /// Next node.
        next: String,
    },
    /// Emit an analytics event.
    Event {
        /// Event name.
        name: String,
        /// Extra fields (templates).
        #[serde(default)]
        fields: BTreeMap<String, String>,
        /// Next node.
        next: String,
    },
}

/// One playlist entry: a prompt name, or a table saying a value.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SayItem {
    /// A prompt file name (no extension) in the caller's language.
    Prompt(String),
    /// A value said from recorded fragments.
    Say(Say),
}

/// `{ digits = "{account}" }` and friends: exactly one field.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Say {
    /// Say each character as a digit.
    pub digits: Option<String>,
    /// Say an integer.
    pub number: Option<String>,
    /// Say an amount of money in the flow's currency.
    pub amount: Option<String>,
    /// Say a time of day `HH:MM`.
    pub time: Option<String>,
    /// Silence.
    pub silence_ms: Option<u32>,
}

/// Menu fields, after FreeSWITCH's ivr-menu.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Menu {
    /// First greeting.
    pub greeting: Vec<SayItem>,
    /// Greeting on later attempts (defaults to `greeting`).
    pub greeting_short: Option<Vec<SayItem>>,
    /// Key sequence → node.
    pub choices: BTreeMap<String, String>,
    /// Played after an invalid entry.
    #[serde(default)]
    pub invalid: Vec<SayItem>,
    /// Played after no entry.
    #[serde(default)]
    pub no_input: Vec<SayItem>,
    /// Wait for a key after the greeting.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Wait between keys of a multi-key choice.
    #[serde(default = "default_inter_digit_ms")]
    pub inter_digit_ms: u64,
    /// Invalid entries allowed.
    #[serde(default = "default_max")]
    pub max_failures: u32,
    /// Timeouts allowed.
    #[serde(default = "default_max")]
    pub max_timeouts: u32,
    /// When invalid entries run out (or timeouts and `on_no_input` is absent).
    pub on_failure: String,
    /// When timeouts run out.
    pub on_no_input: Option<String>,
    /// Variable that receives the chosen keys.
    pub store: Option<String>,
}

/// Digit collection fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collect {
    /// Prompt (barge-in).
    pub prompts: Vec<SayItem>,
    /// Variable that receives the digits.
    pub store: String,
    /// Fewest digits accepted.
    #[serde(default = "default_min_digits")]
    pub min_digits: u32,
    /// Most digits; reaching it ends the entry.
    pub max_digits: u32,
    /// Ends the entry; not stored. Empty string: no terminator.
    #[serde(default = "default_terminator")]
    pub terminator: String,
    /// Wait for the first key after the prompt.
    #[serde(default = "default_timeout_ms")]
    pub first_digit_timeout_ms: u64,
    /// Wait between keys.
    #[serde(default = "default_inter_digit_ms")]
    pub inter_digit_timeout_ms: u64,
    /// Attempts in all (invalid + no input).
    #[serde(default = "default_max")]
    pub max_attempts: u32,
    /// Played after too few digits.
    #[serde(default)]
    pub invalid: Vec<SayItem>,
    /// Played after no digits.
    #[serde(default)]
    pub no_input: Vec<SayItem>,
    /// Read back and ask for confirmation.
    pub confirm: Option<Confirm>,
    /// Entry accepted.
    pub next: String,
    /// Attempts ran out.
    pub on_failure: String,
    /// Attempts ran out and none had any key (defaults to `on_failure`).
    pub on_no_input: Option<String>,
    /// The digits are private (an account number, a PIN): masked in CDRs, traces and logs.
    #[serde(default)]
    pub sensitive: bool,
}

/// Confirm-by-readback: `before` + the digits + `after`, then `yes` or `no`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    /// Before the digits ("you entered").
    pub before: Vec<SayItem>,
    /// After the digits ("press 1 to confirm, 2 to re-enter").
    pub after: Vec<SayItem>,
    /// Key that confirms.
    #[serde(default = "default_yes")]
    pub yes: String,
    /// Key that re-enters.
    #[serde(default = "default_no")]
    pub no: String,
}

/// One branch case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// The condition.
    pub when: Condition,
    /// Where it goes.
    pub goto: String,
}

/// A condition: one operator per table; `all`, `any` and `not` combine.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The variable compared.
    pub var: Option<String>,
    /// Equal to the template.
    pub equals: Option<String>,
    /// Not equal.
    pub not_equals: Option<String>,
    /// Starts with.
    pub prefix: Option<String>,
    /// Greater than (numbers numerically, other text lexicographically: ISO dates work).
    pub gt: Option<String>,
    /// Greater or equal.
    pub ge: Option<String>,
    /// Less than.
    pub lt: Option<String>,
    /// Less or equal.
    pub le: Option<String>,
    /// The variable is set and not empty (`true`) or unset/empty (`false`).
    pub is_set: Option<bool>,
    /// Local time in `[from, to)`, `HH:MM`; `from > to` wraps past midnight.
    pub time_between: Option<Vec<String>>,
    /// Local weekday among these (`mon` … `sun`).
    pub weekdays: Option<Vec<String>>,
    /// Every sub-condition.
    pub all: Option<Vec<Self>>,
    /// Any sub-condition.
    pub any: Option<Vec<Self>>,
    /// Negation.
    pub not: Option<Box<Self>>,
}

/// HTTP request node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// GET or POST.
    #[serde(default = "default_method")]
    pub method: String,
    /// URL template.
    pub url: String,
    /// JSON body template (POST).
    pub body: Option<String>,
    /// Give up after this long.
    #[serde(default = "default_http_timeout_ms")]
    pub timeout_ms: u64,
    /// Variable → JSON pointer into the response (`/chat/url`).
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    /// 2xx with a JSON body.
    pub on_success: String,
    /// Connection error, non-2xx or a body that is not JSON.
    pub on_failure: String,
    /// No answer in time (defaults to `on_failure`).
    pub on_timeout: Option<String>,
}

/// SMS node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sms {
    /// Recipient template (`{ani}` or a collected number).
    pub to: String,
    /// Text template.
    pub text: String,
    /// Purpose: part of the idempotency key and of the record.
    pub purpose: String,
    /// Ask for a coupon first; its serial is `{coupon}` in `text`.
    pub coupon: Option<Coupon>,
    /// Wait for the outbox to accept.
    #[serde(default = "default_sms_timeout_ms")]
    pub timeout_ms: u64,
    /// Accepted into the outbox.
    pub next: String,
    /// Refused (opted out, invalid number, rate limit) or no answer.
    pub on_failure: String,
}

/// Dial node: place a call and bridge the caller to whoever answers first.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dial {
    /// SIP URI templates, dialled in turn (`sequential`) or all at once (`simultaneous`); with
    /// a `trunk`, E.164 numbers (`+15551234567`) too.
    pub to: Vec<String>,
    /// The trunk (`[trunks.NAME]` of the daemon config) to send the calls through.
    pub trunk: Option<String>,
    /// `sequential` (default) or `simultaneous`.
    #[serde(default)]
    pub mode: Option<String>,
    /// How long each target rings (all of them, at once, in `simultaneous`), seconds.
    #[serde(default = "default_ring_timeout_s")]
    pub ring_timeout_s: u32,
    /// Caller ID to present (template); the caller's own number when absent.
    pub caller_id: Option<String>,
    /// Where the flow goes when the bridged call ends from the far side; hang up when absent.
    pub after: Option<String>,
    /// Every target busy (486, 600).
    pub busy: String,
    /// Nobody answered in time.
    pub no_answer: String,
    /// Refused otherwise, unreachable, or no usable answer.
    pub failed: String,
}

fn default_ring_timeout_s() -> u32 {
    30
}

/// Queue node: wait in a queue (`config/queues.toml`) until an agent answers, or leave it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// The queue's name.
    pub queue: String,
    /// Higher waits less: callers are served by priority, then by arrival.
    #[serde(default)]
    pub priority: i32,
    /// Where the flow goes when the agent hangs up; hang up when absent.
    pub after: Option<String>,
    /// The queue's longest wait passed.
    pub timeout: String,
    /// The queue was full.
    pub full: String,
    /// No agent to wait for (the queue's join and leave rules).
    pub no_agents: String,
    /// The caller pressed the queue's exit key; without this branch the key does nothing.
    pub exit_key: Option<String>,
    /// The caller chose a callback; without this branch no callback is offered.
    pub callback: Option<String>,
}

/// Consent node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// Whose consent (template; usually `{ani}`).
    pub number: String,
    /// What it is for, e.g. `wait_time_sms`.
    pub purpose: String,
    /// `granted`, `declined`, `opt_out` (never message this number again) or `opt_in`.
    pub answer: String,
    /// Wait for the store.
    #[serde(default = "default_sms_timeout_ms")]
    pub timeout_ms: u64,
    /// Recorded.
    pub next: String,
    /// Not recorded (an invalid number, the store failing) or no answer in time.
    pub on_failure: String,
}

/// Coupon request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coupon {
    /// Campaign name.
    pub campaign: String,
    /// Valid this many days.
    #[serde(default = "default_coupon_days")]
    pub valid_days: u32,
}

fn default_timeout_ms() -> u64 {
    5_000
}
fn default_inter_digit_ms() -> u64 {
    3_000
}
fn default_max() -> u32 {
    3
}
fn default_min_digits() -> u32 {
    1
}
fn default_terminator() -> String {
    "#".into()
}
fn default_yes() -> String {
    "1".into()
}
fn default_no() -> String {
    "2".into()
}
fn default_method() -> String {
    "GET".into()
}
fn default_http_timeout_ms() -> u64 {
    3_000
}
fn default_sms_timeout_ms() -> u64 {
    5_000
}
fn default_coupon_days() -> u32 {
    30
}
