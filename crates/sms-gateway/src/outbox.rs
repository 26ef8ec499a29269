//! The outbox: a sans-IO state machine that takes messages from flows and hands them to a
//! provider so that none is lost or sent twice.
//!
//! Every state change comes out as [`Output::Persist`] *before* the output that acts on it:
//! the driver writes each `Persist` durably before it carries out anything after it (write
//! ahead). A submission is therefore always on disk as `Submitting` before it leaves; after a
//! crash, such a message is submitted again and flagged `maybe_duplicate` (unless the provider
//! itself recognises a repeat), and one found that way a second time is given up rather than
//! sent a third time. Retries back off exponentially with ±20 % jitter; after
//! `max_attempts` a message goes to the dead letters.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use crate::guard::{Guard, GuardConfig, Keyword, keyword};
use crate::message::{Message, MessageId, State};
use crate::text::{Encoding, segment};
use crate::{Country, E164, SmsError};

/// Retry timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Submissions before a message is dead.
    pub max_attempts: u32,
    /// Wait after the first failure; doubled after each further one.
    pub base_ms: u64,
    /// The longest wait.
    pub max_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_ms: 5_000,
            max_ms: 600_000,
        }
    }
}

/// The outbox's settings.
#[derive(Clone, Debug)]
pub struct OutboxConfig {
    /// National numbers are read against this country.
    pub home: Country,
    /// Opt-outs, allowlist, caps.
    pub guard: GuardConfig,
    /// Retries.
    pub retry: RetryPolicy,
    /// Longest message, in SMS parts.
    pub max_segments: u32,
    /// Submissions outstanding at once.
    pub max_in_flight: usize,
    /// How long a finished message stays in memory for idempotency (keys older than this may
    /// be enqueued again).
    pub retention_ms: u64,
    /// Whether the provider recognises a repeated submission itself (so a resubmission after
    /// a crash cannot duplicate).
    pub provider_dedupes: bool,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            home: Country::default(),
            guard: GuardConfig::default(),
            retry: RetryPolicy::default(),
            max_segments: 10,
            max_in_flight: 16,
            retention_ms: 48 * 3_600_000,
            provider_dedupes: false,
        }
    }
}

/// A message a flow wants sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    /// Idempotency key: call id + flow node + purpose.
    pub key: String,
    /// Recipient as typed or as the caller ID.
    pub to: String,
    /// Body.
    pub text: String,
    /// The call, if any.
    pub call_id: Option<String>,
    /// What it is for.
    pub purpose: String,
    /// A coupon serial in the text.
    pub coupon: Option<String>,
}

/// The outcome of [`Outbox::enqueue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// A new message.
    New(MessageId),
    /// The key was seen before: this is the message it made.
    Existing(MessageId),
}

/// One submission for the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    /// Our id (goes into receipt callbacks).
    pub id: MessageId,
    /// Idempotency key, for providers that can use one.
    pub key: String,
    /// The call it came from.
    pub call_id: Option<String>,
    /// What it is for.
    pub purpose: String,
    /// Recipient.
    pub to: E164,
    /// Body.
    pub text: String,
    /// Encoding.
    pub encoding: Encoding,
    /// Parts.
    pub segments: u32,
    /// 1 for the first submission.
    pub attempt: u32,
}

/// What the provider said to a submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitResult {
    /// Taken.
    Accepted {
        /// The provider's id, if it gives one.
        provider_id: Option<String>,
    },
    /// Not now: try again later.
    Retryable {
        /// Why.
        reason: String,
        /// The request may have been taken anyway (a timeout after sending).
        ambiguous: bool,
    },
    /// Never: the message itself is refused.
    Permanent {
        /// Why.
        reason: String,
    },
}

/// What a delivery receipt says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptStatus {
    /// On the handset.
    Delivered,
    /// The SMSC has it (accepted or buffered for later delivery).
    InTransit,
    /// It will not arrive.
    Failed(String),
}

/// An inbound SMS or MMS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inbound {
    /// Sender as the provider gave it.
    pub from: String,
    /// Our number it was sent to.
    pub to: String,
    /// Text.
    pub text: String,
    /// MMS media URLs.
    pub media: Vec<String>,
}

/// What the outbox asks of its driver, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Write this message (insert or replace by id) before carrying out any later output.
    Persist(Message),
    /// Hand this to the provider; report with [`Outbox::handle_submit_result`].
    Submit(Submission),
    /// Write an opt-out (or opt-in) record.
    OptOut {
        /// The number.
        number: E164,
        /// Out (true) or back in.
        opted_out: bool,
        /// `sms:STOP`, `flow:<call id>`, …
        source: String,
        /// When.
        at_ms: u64,
    },
    /// Store an inbound message (for the caller's ticket).
    Inbound {
        /// The message.
        message: Inbound,
        /// The sender, normalised, when it is a valid number.
        from: Option<E164>,
        /// The keyword it was, if any.
        keyword: Option<Keyword>,
        /// When it arrived.
        at_ms: u64,
    },
}

/// The outbox. See the module docs for the persistence contract.
#[derive(Debug)]
pub struct Outbox {
    config: OutboxConfig,
    guard: Guard,
    messages: HashMap<MessageId, Message>,
    keys: HashMap<String, MessageId>,
    /// Queued messages by due time.
    due: BTreeSet<(u64, MessageId)>,
    in_flight: HashSet<MessageId>,
    /// Finished messages by the time they finished, for eviction.
    finished: VecDeque<(u64, MessageId)>,
    next_id: u64,
    rng: u64,
    out: VecDeque<Output>,
}

mod restore;

impl Outbox {
    /// An empty outbox. `seed` drives the retry jitter.
    pub fn new(config: OutboxConfig, seed: u64) -> Self {
        Self {
            guard: Guard::new(config.guard.clone()),
            config,
            messages: HashMap::new(),
            keys: HashMap::new(),
            due: BTreeSet::new(),
            in_flight: HashSet::new(),
            finished: VecDeque::new(),
            next_id: 1,
            rng: seed | 1,
            out: VecDeque::new(),
        }
    }

    /// Takes a message. Refusals (bad number, empty or oversize body, opted out, caps) are
    /// errors and leave nothing behind; a known key returns the message it made.
    pub fn enqueue(&mut self, now_ms: u64, new: NewMessage) -> Result<Enqueued, SmsError> {
        if let Some(&id) = self.keys.get(&new.key) {
            return Ok(Enqueued::Existing(id));
        }
        let to = E164::parse(&new.to, self.config.home)?;
        if new.text.trim().is_empty() {
            return Err(SmsError::EmptyBody);
        }
        let segments = segment(&new.text);
        let parts = u32::try_from(segments.parts.len()).unwrap_or(u32::MAX);
        if parts > self.config.max_segments {
            return Err(SmsError::TooLong {
                segments: parts,
                max: self.config.max_segments,
            });
        }
        self.guard.check(&to, now_ms)?;
        self.guard.count(&to, now_ms);
        let id = MessageId(self.next_id);
        self.next_id += 1;
        let message = Message {
            id,
            key: new.key,
            to: to.to_string(),
            text: new.text,
            encoding: segments.encoding,
            segments: parts,
            call_id: new.call_id,
            purpose: new.purpose,
            coupon: new.coupon,
            attempts: 0,
            maybe_duplicate: false,
            state: State::Queued {
                next_attempt_ms: now_ms,
            },
            created_ms: now_ms,
            updated_ms: now_ms,
        };
        self.keys.insert(message.key.clone(), id);
        self.out.push_back(Output::Persist(message.clone()));
        self.due.insert((now_ms, id));
        self.messages.insert(id, message);
        self.pump(now_ms);
        Ok(Enqueued::New(id))
    }

    /// The provider's answer to a submission.
    pub fn handle_submit_result(&mut self, now_ms: u64, id: MessageId, result: SubmitResult) {
        self.in_flight.remove(&id);
        let retry = self.config.retry;
        let Some(m) = self.messages.get_mut(&id) else {
            return;
        };
        if !matches!(m.state, State::Submitting { .. }) {
            // A receipt got here first; it knows better.
            self.pump(now_ms);
            return;
        }
        let next = match result {
            SubmitResult::Accepted { provider_id } => State::Accepted { provider_id },
            SubmitResult::Permanent { reason } => State::Failed { reason },
            SubmitResult::Retryable { reason, ambiguous } => {
                if ambiguous && m.maybe_duplicate {
                    State::Dead {
                        reason: format!("{reason}; outcome unknown twice, not sent a third time"),
                    }
                } else if m.attempts >= retry.max_attempts {
                    State::Dead { reason }
                } else {
                    m.maybe_duplicate |= ambiguous;
                    let wait = backoff(retry, m.attempts, &mut self.rng);
                    State::Queued {
                        next_attempt_ms: now_ms + wait,
                    }
                }
            }
        };
        self.transition(now_ms, id, next);
        self.pump(now_ms);
    }

    /// A delivery receipt for our message `id`. Receipts for messages no longer in memory are
    /// `UnknownMessage` (the driver may still store them raw).
    pub fn handle_receipt(
        &mut self,
        now_ms: u64,
        id: MessageId,
        status: ReceiptStatus,
    ) -> Result<(), SmsError> {
        let m = self
            .messages
            .get(&id)
            .ok_or(SmsError::UnknownMessage(id.0))?;
        if m.state.is_final() {
            return Ok(());
        }
        let next = match status {
            ReceiptStatus::Delivered => State::Delivered,
            ReceiptStatus::Failed(reason) => State::Failed { reason },
            ReceiptStatus::InTransit => match &m.state {
                State::Accepted { .. } => return Ok(()),
                _ => State::Accepted { provider_id: None },
            },
        };
        if let State::Queued { next_attempt_ms } = m.state {
            self.due.remove(&(next_attempt_ms, id));
        }
        self.in_flight.remove(&id);
        self.transition(now_ms, id, next);
        self.pump(now_ms);
        Ok(())
    }

    /// An inbound message: stored, and a keyword acted on (STOP opts the sender out). Returns
    /// the keyword it was.
    pub fn handle_inbound(&mut self, now_ms: u64, message: Inbound) -> Option<Keyword> {
        let from = E164::parse(&message.from, self.config.home).ok();
        let keyword = keyword(&message.text);
        if let (Some(number), Some(k)) = (&from, keyword) {
            self.set_opt_out(now_ms, number, k == Keyword::OptOut, "sms".into());
        }
        self.out.push_back(Output::Inbound {
            message,
            from,
            keyword,
            at_ms: now_ms,
        });
        keyword
    }

    /// An opt-out (or, with `opted_out` false, an opt-in) by other means than a keyword
    /// (a key press in a flow): `source` says which.
    pub fn opt_out(
        &mut self,
        now_ms: u64,
        number: &str,
        opted_out: bool,
        source: &str,
    ) -> Result<E164, SmsError> {
        let number = E164::parse(number, self.config.home)?;
        self.set_opt_out(now_ms, &number, opted_out, source.to_string());
        Ok(number)
    }

    fn set_opt_out(&mut self, now_ms: u64, number: &E164, opted_out: bool, source: String) {
        self.guard.set_opted_out(number, opted_out);
        self.out.push_back(Output::OptOut {
            number: number.clone(),
            opted_out,
            source,
            at_ms: now_ms,
        });
    }

    /// An operator's retry of a dead letter (or a failed message): queued again now, its
    /// attempts counted afresh. `false` if it is not in memory or not dead or failed.
    pub fn retry(&mut self, now_ms: u64, id: MessageId) -> bool {
        let Some(m) = self.messages.get_mut(&id) else {
            return false;
        };
        if !matches!(m.state, State::Dead { .. } | State::Failed { .. }) {
            return false;
        }
        m.attempts = 0;
        self.transition(
            now_ms,
            id,
            State::Queued {
                next_attempt_ms: now_ms,
            },
        );
        self.pump(now_ms);
        true
    }

    /// Starts due submissions and forgets finished messages past retention.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        while let Some(&(at, id)) = self.finished.front() {
            if now_ms.saturating_sub(at) < self.config.retention_ms {
                break;
            }
            self.finished.pop_front();
            // A message retried since it finished is live again: it stays.
            if self.messages.get(&id).is_some_and(|m| m.state.is_final())
                && let Some(m) = self.messages.remove(&id)
            {
                self.keys.remove(&m.key);
            }
        }
        self.guard.prune(now_ms);
        self.pump(now_ms);
    }

    /// The next output, in the order it must be carried out.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Outbox::handle_timeout`] is next needed.
    pub fn poll_timeout(&self) -> Option<u64> {
        let submit = (self.in_flight.len() < self.config.max_in_flight)
            .then(|| self.due.first().map(|(at, _)| *at))
            .flatten();
        let evict = self
            .finished
            .front()
            .map(|(at, _)| at + self.config.retention_ms);
        submit.into_iter().chain(evict).min()
    }

    /// A message in memory, by id.
    pub fn message(&self, id: MessageId) -> Option<&Message> {
        self.messages.get(&id)
    }

    /// The messages in memory (live ones, and finished ones until they are evicted), by the
    /// name of their state.
    pub fn by_state(&self) -> std::collections::BTreeMap<&'static str, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for m in self.messages.values() {
            *counts.entry(m.state.name()).or_default() += 1;
        }
        counts
    }

    /// Messages neither finished nor waiting for a receipt.
    pub fn pending(&self) -> usize {
        self.due.len() + self.in_flight.len()
    }

    fn pump(&mut self, now_ms: u64) {
        while self.in_flight.len() < self.config.max_in_flight {
            let Some(&(at, id)) = self.due.first() else {
                break;
            };
            if at > now_ms {
                break;
            }
            self.due.pop_first();
            let Some(m) = self.messages.get_mut(&id) else {
                continue;
            };
            m.attempts += 1;
            let Ok(to) = E164::parse(&m.to, self.config.home) else {
                let reason = format!("stored number {} is not E.164", m.to);
                self.transition(now_ms, id, State::Failed { reason });
                continue;
            };
            let submission = Submission {
                id,
                key: m.key.clone(),
                call_id: m.call_id.clone(),
                purpose: m.purpose.clone(),
                to,
                text: m.text.clone(),
                encoding: m.encoding,
                segments: m.segments,
                attempt: m.attempts,
            };
            self.transition(now_ms, id, State::Submitting { since_ms: now_ms });
            self.in_flight.insert(id);
            self.out.push_back(Output::Submit(submission));
        }
    }

    fn transition(&mut self, now_ms: u64, id: MessageId, state: State) {
        let Some(m) = self.messages.get_mut(&id) else {
            return;
        };
        if let State::Queued { next_attempt_ms } = state {
            self.due.insert((next_attempt_ms, id));
        }
        if state.is_final() {
            self.finished.push_back((now_ms, id));
        }
        m.state = state;
        m.updated_ms = now_ms;
        self.out.push_back(Output::Persist(m.clone()));
    }
}

/// The wait before attempt `attempts + 1`: base × 2^(attempts − 1), capped, ±20 %.
fn backoff(policy: RetryPolicy, attempts: u32, rng: &mut u64) -> u64 {
    let exp = attempts.saturating_sub(1).min(30);
    let wait = policy.base_ms.saturating_mul(1 << exp).min(policy.max_ms);
    // splitmix64
    *rng = rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *rng;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let jitter = (z % 401) as i64 - 200; // per mille, −200..=200
    let wait = wait as i64 + wait as i64 * jitter / 1000;
    wait.max(1) as u64
}
