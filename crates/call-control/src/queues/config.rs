//! `config/queues.toml` → [`QueueSet`]: queues and agents, parsed strictly and compiled with
//! every error reported at once, each with its place (`queue `support`: strategy: …`).
//!
//! Settings come in layers: `[defaults]`, then `[queues.NAME]`, then per language
//! (`[queues.NAME.languages.de]` over `[defaults.languages.de]`) for what callers hear.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// How a queue picks agents for its next caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Every eligible agent rings at once; the first to answer wins.
    RingAll,
    /// The agent idle longest.
    LongestIdle,
    /// In turn, remembering where the last call went.
    RoundRobin,
    /// The agent who took the fewest calls.
    FewestCalls,
    /// The agent with the least talk time.
    LeastTalkTime,
    /// In the order the agents are listed.
    Linear,
    /// At random, weighted by `weight`.
    WeightedRandom,
}

impl Strategy {
    const NAMES: [(&'static str, Self); 7] = [
        ("ring-all", Self::RingAll),
        ("longest-idle", Self::LongestIdle),
        ("round-robin", Self::RoundRobin),
        ("fewest-calls", Self::FewestCalls),
        ("least-talk-time", Self::LeastTalkTime),
        ("linear", Self::Linear),
        ("weighted-random", Self::WeightedRandom),
    ];
}

/// What callers of a queue hear, in one language.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sounds {
    /// Music on hold, looped.
    pub music: Vec<String>,
    /// Before the position ("you are number").
    pub position: Vec<String>,
    /// Before the estimated wait in minutes ("your wait is about").
    pub wait: Vec<String>,
    /// After it ("minutes").
    pub minutes: Vec<String>,
    /// The periodic announcement.
    pub periodic: Vec<String>,
    /// The wait-time SMS offer ("press 1 to allow, 2 to deny").
    pub sms_consent: Vec<String>,
    /// After a 1: "we have sent you a text".
    pub sms_sent: Vec<String>,
    /// After another key: "wrong selection" (then the offer again).
    pub wrong_selection: Vec<String>,
    /// The SMS; `{queue}` and `{ewt_minutes}` are filled in.
    pub sms_text: String,
    /// The overflow options over capacity ("press 1 to keep waiting, 9 for a callback that
    /// keeps your place").
    pub overflow: Vec<String>,
}

/// The key that keeps waiting in the overflow options.
pub(crate) const OVERFLOW_KEEP_KEY: char = '1';

/// When a queue is over capacity: a joining caller then hears the overflow options.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Overflow {
    /// More callers waiting than this per available agent…
    pub per_agent: Option<f64>,
    /// … or an estimated wait above this.
    pub ewt: Option<Duration>,
}

/// The wait-time SMS offer of a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitSms {
    /// Offered only while the estimated wait is at least this…
    pub ewt_min: Duration,
    /// … and at most this.
    pub ewt_max: Duration,
    /// Offered at most this many times to one caller.
    pub max_offers: u32,
    /// No key this long after the offer: `no_response`.
    pub answer_timeout: Duration,
}

/// One queue, compiled.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// Its name.
    pub name: String,
    /// How agents are picked.
    pub strategy: Strategy,
    /// Callers waiting at most (more are refused: `full`).
    pub max_len: usize,
    /// The longest wait (`timeout`).
    pub max_wait: Duration,
    /// Callers may join when no agent is logged in.
    pub join_empty: bool,
    /// Waiting callers leave (`no_agents`) when the last agent logs out.
    pub leave_when_empty: bool,
    /// How long an agent rings.
    pub ring_timeout: Duration,
    /// Announce the position this often (`None`: never).
    pub announce_every: Option<Duration>,
    /// The estimated wait is announced with the position.
    pub announce_wait: bool,
    /// The periodic announcement this often (`None`: never).
    pub periodic_every: Option<Duration>,
    /// No two announcements closer than this.
    pub min_gap: Duration,
    /// The key that leaves the queue (for flows with an `exit_key` branch).
    pub exit_key: Option<char>,
    /// The key that asks for a callback (for flows with a `callback` branch).
    pub callback_key: Option<char>,
    /// Every this long waiting, agents one penalty further away become eligible.
    pub penalty_step: Option<Duration>,
    /// The handle time assumed before any call was handled.
    pub default_handle: Duration,
    /// Sounds by language (every language given, each complete from the layers).
    pub sounds: HashMap<String, Sounds>,
    /// The wait-time SMS offer, when enabled.
    pub wait_sms: Option<WaitSms>,
    /// An abandoned call with SMS data still sends its ticket.
    pub abandoned_tickets: bool,
    /// Over capacity, joining callers hear the overflow options.
    pub overflow: Option<Overflow>,
}

impl QueueConfig {
    /// The sounds for `language`, else the first configured language's.
    pub fn sounds(&self, language: &str) -> Option<&Sounds> {
        self.sounds
            .get(language)
            .or_else(|| self.sounds.get("en"))
            .or_else(|| self.sounds.values().next())
    }
}

/// One agent, compiled.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// Their name.
    pub name: String,
    /// Where they are rung when not registered: a SIP URI (empty: only where they register).
    pub contact: String,
    /// Their digest password, to register with ivrd under their name.
    pub password: Option<Password>,
    /// Queues they serve, with their penalty in each (0 first).
    pub queues: Vec<(String, u32)>,
    /// After a call, before the next (across all their queues).
    pub wrap_up: Duration,
    /// Rings without an answer in a row before they are put on break.
    pub max_no_answer: u32,
    /// Not rung again for this long after they let a call ring out.
    pub no_answer_delay: Duration,
    /// … after they were busy (486 Busy Here, 600 Busy Everywhere).
    pub busy_delay: Duration,
    /// Not rung again for this long after rejecting a call (603 Decline and other refusals).
    pub reject_delay: Duration,
    /// Logged in when ivrd starts.
    pub logged_in: bool,
    /// Weight for `weighted-random`.
    pub weight: u32,
}

/// An agent's SIP password: never printed (`Debug` shows `***`).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The password itself, for digest verification.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Every queue and agent.
#[derive(Clone, Debug, Default)]
pub struct QueueSet {
    /// Queues, in name order.
    pub queues: Vec<QueueConfig>,
    /// Agents, in name order.
    pub agents: Vec<AgentConfig>,
}

impl QueueSet {
    /// The queue named `name`.
    pub fn queue(&self, name: &str) -> Option<&QueueConfig> {
        self.queues.iter().find(|q| q.name == name)
    }

    /// Queue names.
    pub fn names(&self) -> Vec<&str> {
        self.queues.iter().map(|q| q.name.as_str()).collect()
    }
}

/// One problem in the queue file, with its place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueConfigError {
    /// The file.
    pub file: String,
    /// `queue `support``, `agent `alice``, `defaults`, or empty for the file as a whole.
    pub section: String,
    /// The field.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for QueueConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        if !self.section.is_empty() {
            write!(f, "{}: ", self.section)?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}", self.problem)
    }
}

impl std::error::Error for QueueConfigError {}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    defaults: RawQueue,
    #[serde(default)]
    queues: BTreeMap<String, RawQueue>,
    #[serde(default)]
    agents: BTreeMap<String, RawAgent>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    strategy: Option<String>,
    max_len: Option<u32>,
    max_wait_s: Option<u32>,
    join_empty: Option<bool>,
    leave_when_empty: Option<bool>,
    ring_timeout_s: Option<u32>,
    announce_position_s: Option<u32>,
    announce_wait: Option<bool>,
    periodic_s: Option<u32>,
    announce_min_gap_s: Option<u32>,
    exit_key: Option<String>,
    callback_key: Option<String>,
    penalty_step_s: Option<u32>,
    default_handle_s: Option<u32>,
    abandoned_tickets: Option<bool>,
    overflow_per_agent: Option<f64>,
    overflow_ewt_s: Option<u32>,
    #[serde(default)]
    wait_sms: RawWaitSms,
    #[serde(default)]
    languages: BTreeMap<String, RawSounds>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaitSms {
    enabled: Option<bool>,
    ewt_min_s: Option<u32>,
    ewt_max_s: Option<u32>,
    max_offers: Option<u32>,
    answer_timeout_s: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSounds {
    music: Option<Vec<String>>,
    position: Option<Vec<String>>,
    wait: Option<Vec<String>>,
    minutes: Option<Vec<String>>,
    periodic: Option<Vec<String>>,
    sms_consent: Option<Vec<String>>,
    sms_sent: Option<Vec<String>>,
    wrong_selection: Option<Vec<String>>,
    sms_text: Option<String>,
    overflow: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    contact: Option<String>,
    #[serde(default)]
    queues: BTreeMap<String, u32>,
    wrap_up_s: Option<u32>,
    max_no_answer: Option<u32>,
    no_answer_delay_s: Option<u32>,
    busy_delay_s: Option<u32>,
    reject_delay_s: Option<u32>,
    password: Option<String>,
    logged_in: Option<bool>,
    weight: Option<u32>,
}

/// Parses and compiles `text` (from `file`); `has_prompt(language, name)` says whether a prompt
/// exists. Either everything is valid or every error is returned.
pub fn load(
    file: &str,
    text: &str,
    has_prompt: &dyn Fn(&str, &str) -> bool,
) -> Result<QueueSet, Vec<QueueConfigError>> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        vec![QueueConfigError {
            file: file.into(),
            section: String::new(),
            field: String::new(),
            problem: e.to_string().trim().replace('\n', " "),
        }]
    })?;
    let mut c = Check {
        file,
        section: String::new(),
        errors: Vec::new(),
        has_prompt,
    };
    let queues: Vec<QueueConfig> = raw
        .queues
        .iter()
        .map(|(name, q)| {
            c.section = format!("queue `{name}`");
            c.queue(name, &raw.defaults, q)
        })
        .collect();
    let agents: Vec<AgentConfig> = raw
        .agents
        .iter()
        .map(|(name, a)| {
            c.section = format!("agent `{name}`");
            c.agent(name, a, &raw.queues)
        })
        .collect();
    match c.errors.is_empty() {
        true => Ok(QueueSet { queues, agents }),
        false => Err(c.errors),
    }
}

/// What a queue's sounds must include.
#[derive(Clone, Copy)]
struct Needs {
    wait_sms: bool,
    overflow: bool,
}

struct Check<'a> {
    file: &'a str,
    section: String,
    errors: Vec<QueueConfigError>,
    has_prompt: &'a dyn Fn(&str, &str) -> bool,
}

impl Check<'_> {
    fn error(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.errors.push(QueueConfigError {
            file: self.file.into(),
            section: self.section.clone(),
            field: field.into(),
            problem: problem.into(),
        });
    }

    fn seconds(&mut self, field: &str, value: u32, min: u32, max: u32) -> Duration {
        if !(min..=max).contains(&value) {
            self.error(field, format!("{value}: must be {min} to {max}"));
        }
        Duration::from_secs(u64::from(value.clamp(min, max)))
    }

    /// `0` means never.
    fn every(&mut self, field: &str, value: u32) -> Option<Duration> {
        (value > 0).then(|| self.seconds(field, value, 5, 3600))
    }

    fn key(&mut self, field: &str, key: Option<&String>) -> Option<char> {
        let key = key?;
        let mut chars = key.chars();
        match (chars.next(), chars.next()) {
            (Some(k), None) if k.is_ascii_digit() || "*#".contains(k) => Some(k),
            _ => {
                self.error(field, format!("`{key}`: one key, 0-9, * or #"));
                None
            }
        }
    }

    fn queue(&mut self, name: &str, d: &RawQueue, q: &RawQueue) -> QueueConfig {
        let pick = |a: Option<u32>, b: Option<u32>, default: u32| a.or(b).unwrap_or(default);
        let strategy_name = q.strategy.clone().or(d.strategy.clone());
        let strategy = match strategy_name.as_deref() {
            None => Strategy::LongestIdle,
            Some(s) => match Strategy::NAMES.iter().find(|(n, _)| *n == s) {
                Some((_, strategy)) => *strategy,
                None => {
                    let names: Vec<&str> = Strategy::NAMES.iter().map(|(n, _)| *n).collect();
                    self.error(
                        "strategy",
                        format!("`{s}`: use one of {}", names.join(", ")),
                    );
                    Strategy::LongestIdle
                }
            },
        };
        let max_len = pick(q.max_len, d.max_len, 100);
        if max_len == 0 {
            self.error("max_len", "must be at least 1");
        }
        let exit_key = self.key("exit_key", q.exit_key.as_ref().or(d.exit_key.as_ref()));
        let callback_key = self.key(
            "callback_key",
            q.callback_key.as_ref().or(d.callback_key.as_ref()),
        );
        if exit_key.is_some() && exit_key == callback_key {
            self.error("callback_key", "the same key as exit_key");
        }
        let mut languages: Vec<&String> = q.languages.keys().chain(d.languages.keys()).collect();
        languages.sort();
        languages.dedup();
        if languages.is_empty() {
            self.error("languages", "no language gives the callers' music");
        }
        let wait_sms = self.wait_sms(&q.wait_sms, &d.wait_sms);
        let overflow = self.overflow(q, d, callback_key);
        let needs = Needs {
            wait_sms: wait_sms.is_some(),
            overflow: overflow.is_some(),
        };
        let sounds = languages
            .into_iter()
            .map(|lang| {
                let (a, b) = (q.languages.get(lang), d.languages.get(lang));
                let s = self.sounds(lang, a, b, needs);
                (lang.clone(), s)
            })
            .collect();
        QueueConfig {
            name: name.into(),
            strategy,
            max_len: max_len as usize,
            max_wait: self.seconds(
                "max_wait_s",
                pick(q.max_wait_s, d.max_wait_s, 900),
                5,
                86_400,
            ),
            join_empty: q.join_empty.or(d.join_empty).unwrap_or(false),
            leave_when_empty: q.leave_when_empty.or(d.leave_when_empty).unwrap_or(true),
            ring_timeout: self.seconds(
                "ring_timeout_s",
                pick(q.ring_timeout_s, d.ring_timeout_s, 15),
                1,
                300,
            ),
            announce_every: self.every(
                "announce_position_s",
                pick(q.announce_position_s, d.announce_position_s, 60),
            ),
            announce_wait: q.announce_wait.or(d.announce_wait).unwrap_or(true),
            periodic_every: self.every("periodic_s", pick(q.periodic_s, d.periodic_s, 0)),
            min_gap: self.seconds(
                "announce_min_gap_s",
                pick(q.announce_min_gap_s, d.announce_min_gap_s, 15),
                0,
                3600,
            ),
            exit_key,
            callback_key,
            penalty_step: self.every(
                "penalty_step_s",
                pick(q.penalty_step_s, d.penalty_step_s, 0),
            ),
            default_handle: self.seconds(
                "default_handle_s",
                pick(q.default_handle_s, d.default_handle_s, 180),
                1,
                7200,
            ),
            sounds,
            wait_sms,
            abandoned_tickets: q.abandoned_tickets.or(d.abandoned_tickets).unwrap_or(true),
            overflow,
        }
    }

    fn overflow(&mut self, q: &RawQueue, d: &RawQueue, callback: Option<char>) -> Option<Overflow> {
        let per_agent = q.overflow_per_agent.or(d.overflow_per_agent);
        let ewt = q.overflow_ewt_s.or(d.overflow_ewt_s);
        if per_agent.is_none() && ewt.is_none() {
            return None;
        }
        if let Some(p) = per_agent.filter(|p| !(p.is_finite() && *p > 0.0 && *p <= 1000.0)) {
            self.error(
                "overflow_per_agent",
                format!("{p}: must be above 0, at most 1000"),
            );
        }
        match callback {
            None => self.error(
                "callback_key",
                "the overflow options offer a callback: set callback_key",
            ),
            Some(OVERFLOW_KEEP_KEY) => self.error(
                "callback_key",
                "1 keeps waiting in the overflow options: use another key",
            ),
            Some(_) => {}
        }
        Some(Overflow {
            per_agent,
            ewt: ewt.map(|s| self.seconds("overflow_ewt_s", s, 1, 86_400)),
        })
    }

    fn wait_sms(&mut self, q: &RawWaitSms, d: &RawWaitSms) -> Option<WaitSms> {
        if !q.enabled.or(d.enabled).unwrap_or(false) {
            return None;
        }
        let pick = |a: Option<u32>, b: Option<u32>, default: u32| a.or(b).unwrap_or(default);
        let min = pick(q.ewt_min_s, d.ewt_min_s, 120);
        let max = pick(q.ewt_max_s, d.ewt_max_s, 3600);
        if min > max {
            self.error(
                "wait_sms.ewt_min_s",
                format!("{min}: above ewt_max_s ({max})"),
            );
        }
        let max_offers = pick(q.max_offers, d.max_offers, 2);
        if !(1..=10).contains(&max_offers) {
            self.error(
                "wait_sms.max_offers",
                format!("{max_offers}: must be 1 to 10"),
            );
        }
        Some(WaitSms {
            ewt_min: Duration::from_secs(u64::from(min)),
            ewt_max: Duration::from_secs(u64::from(max)),
            max_offers: max_offers.clamp(1, 10),
            answer_timeout: self.seconds(
                "wait_sms.answer_timeout_s",
                pick(q.answer_timeout_s, d.answer_timeout_s, 10),
                1,
                60,
            ),
        })
    }

    fn sounds(
        &mut self,
        lang: &str,
        q: Option<&RawSounds>,
        d: Option<&RawSounds>,
        needs: Needs,
    ) -> Sounds {
        let field = |f: fn(&RawSounds) -> &Option<Vec<String>>| {
            q.and_then(|s| f(s).clone())
                .or_else(|| d.and_then(|s| f(s).clone()))
                .unwrap_or_default()
        };
        let s = Sounds {
            music: field(|s| &s.music),
            position: field(|s| &s.position),
            wait: field(|s| &s.wait),
            minutes: field(|s| &s.minutes),
            periodic: field(|s| &s.periodic),
            sms_consent: field(|s| &s.sms_consent),
            sms_sent: field(|s| &s.sms_sent),
            wrong_selection: field(|s| &s.wrong_selection),
            sms_text: q
                .and_then(|s| s.sms_text.clone())
                .or_else(|| d.and_then(|s| s.sms_text.clone()))
                .unwrap_or_default(),
            overflow: field(|s| &s.overflow),
        };
        if s.music.is_empty() {
            self.error(
                format!("languages.{lang}.music"),
                "callers need music on hold",
            );
        }
        if needs.overflow && s.overflow.is_empty() {
            let field = format!("languages.{lang}.overflow");
            self.error(field, "needed when the queue has overflow options");
        }
        if needs.wait_sms {
            for (what, empty) in [
                ("sms_consent", s.sms_consent.is_empty()),
                ("sms_sent", s.sms_sent.is_empty()),
                ("wrong_selection", s.wrong_selection.is_empty()),
                ("sms_text", s.sms_text.trim().is_empty()),
            ] {
                if empty {
                    let field = format!("languages.{lang}.{what}");
                    self.error(field, "needed when wait_sms is enabled");
                }
            }
        }
        for (what, list) in [
            ("music", &s.music),
            ("position", &s.position),
            ("wait", &s.wait),
            ("minutes", &s.minutes),
            ("periodic", &s.periodic),
            ("sms_consent", &s.sms_consent),
            ("sms_sent", &s.sms_sent),
            ("wrong_selection", &s.wrong_selection),
            ("overflow", &s.overflow),
        ] {
            for (i, name) in list.iter().enumerate() {
                if !(self.has_prompt)(lang, name) {
                    let problem = format!("missing from the `{lang}` prompt set: {name}");
                    self.error(format!("languages.{lang}.{what}[{i}]"), problem);
                }
            }
        }
        s
    }

    fn agent(
        &mut self,
        name: &str,
        a: &RawAgent,
        queues: &BTreeMap<String, RawQueue>,
    ) -> AgentConfig {
        let contact = a.contact.clone().unwrap_or_default();
        if let Some(p) = &a.password
            && (p.len() < 8 || p.chars().any(char::is_control))
        {
            self.error("password", "at least 8 characters, no control characters");
        }
        match (contact.as_str(), &a.password) {
            ("", None) => self.error(
                "contact",
                "an agent needs a sip: URI to be rung at, or a password to register with",
            ),
            ("", Some(_)) => {}
            (c, _) if !(c.starts_with("sip:") || c.starts_with("sips:")) => {
                self.error("contact", format!("`{c}`: an agent needs a sip: URI"));
            }
            _ => {}
        }
        if contact
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\"".contains(c))
        {
            self.error(
                "contact",
                "spaces, quotes, angle brackets or control characters",
            );
        }
        if a.queues.is_empty() {
            self.error("queues", "an agent serves at least one queue");
        }
        for (queue, penalty) in &a.queues {
            if !queues.contains_key(queue) {
                self.error(
                    format!("queues.{queue}"),
                    format!("no queue named `{queue}`"),
                );
            }
            if *penalty > 100 {
                self.error(format!("queues.{queue}"), "penalties are 0 to 100");
            }
        }
        let seconds = |c: &mut Self, f: &str, v: Option<u32>, default: u32| {
            c.seconds(f, v.unwrap_or(default), 0, 3600)
        };
        AgentConfig {
            name: name.into(),
            contact,
            password: a.password.clone().map(Password),
            queues: a.queues.iter().map(|(q, p)| (q.clone(), *p)).collect(),
            wrap_up: seconds(self, "wrap_up_s", a.wrap_up_s, 10),
            max_no_answer: a.max_no_answer.unwrap_or(3),
            no_answer_delay: seconds(self, "no_answer_delay_s", a.no_answer_delay_s, 10),
            busy_delay: seconds(self, "busy_delay_s", a.busy_delay_s, 10),
            reject_delay: seconds(self, "reject_delay_s", a.reject_delay_s, 10),
            logged_in: a.logged_in.unwrap_or(true),
            weight: a.weight.unwrap_or(1).max(1),
        }
    }
}
