//! The outbox in simulated time: ordering of writes and submissions, retries, dead letters,
//! receipts, guards, and a crash at every step between enqueue and acknowledgement.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use sms_gateway::{
    Country, E164, Enqueued, GuardConfig, Inbound, Message, MessageId, NewMessage, Outbox,
    OutboxConfig, Output, ReceiptStatus, RetryPolicy, SmsError, State, SubmitResult,
};

fn config(provider_dedupes: bool) -> OutboxConfig {
    OutboxConfig {
        home: Country::by_iso("DE").expect("known"),
        guard: GuardConfig {
            allowed_prefixes: vec!["+49".into()],
            per_recipient_per_hour: 50,
            per_recipient_per_day: 100,
        },
        retry: RetryPolicy {
            max_attempts: 4,
            base_ms: 1_000,
            max_ms: 60_000,
        },
        provider_dedupes,
        ..OutboxConfig::default()
    }
}

fn msg(key: &str, to: &str) -> NewMessage {
    NewMessage {
        key: key.into(),
        to: to.into(),
        text: format!("Your chat link for {key}: https://chat.example/{key}"),
        call_id: Some("call-1".into()),
        purpose: "chat_link".into(),
        coupon: None,
    }
}

/// The driver side: a store written on Persist, a provider that records what reached it.
#[derive(Default)]
struct World {
    store: BTreeMap<MessageId, Message>,
    opted_out: Vec<E164>,
    /// key → submissions that reached the provider.
    reached: HashMap<String, u32>,
    /// Submissions sent and not yet answered.
    pending: Vec<MessageId>,
    /// Outputs processed, for crash points.
    steps: usize,
    log: Vec<String>,
}

impl World {
    /// Carries out outputs in order; stops (a crash) after `crash_at` steps in all.
    fn drain(&mut self, outbox: &mut Outbox, crash_at: Option<usize>) -> bool {
        while let Some(o) = outbox.poll_output() {
            if crash_at == Some(self.steps) {
                return false;
            }
            self.steps += 1;
            match o {
                Output::Persist(m) => {
                    self.log
                        .push(format!("persist {} {}", m.id, m.state.name()));
                    self.store.insert(m.id, m);
                }
                Output::Submit(s) => {
                    let stored = self.store.get(&s.id).map(|m| m.state.name());
                    assert_eq!(
                        stored,
                        Some("submitting"),
                        "submitted before it was persisted"
                    );
                    self.log.push(format!("submit {}", s.id));
                    *self.reached.entry(s.key.clone()).or_default() += 1;
                    self.pending.push(s.id);
                }
                Output::OptOut {
                    number, opted_out, ..
                } => {
                    if opted_out {
                        self.opted_out.push(number);
                    }
                }
                Output::Inbound { .. } => {}
            }
        }
        true
    }
}

#[test]
fn write_ahead_then_submit_then_accept_then_deliver() {
    let mut outbox = Outbox::new(config(false), 7);
    let mut w = World::default();
    let Ok(Enqueued::New(id)) = outbox.enqueue(0, msg("a", "0151 12345678")) else {
        panic!("not enqueued")
    };
    w.drain(&mut outbox, None);
    assert_eq!(
        w.log,
        ["persist 1 queued", "persist 1 submitting", "submit 1"]
    );
    assert_eq!(
        outbox.enqueue(5, msg("a", "0151 12345678")),
        Ok(Enqueued::Existing(id))
    );
    outbox.handle_submit_result(10, id, SubmitResult::Accepted { provider_id: None });
    outbox
        .handle_receipt(20, id, ReceiptStatus::Delivered)
        .expect("known");
    w.drain(&mut outbox, None);
    assert_eq!(w.store[&id].state, State::Delivered);
    assert_eq!(w.store[&id].to, "+4915112345678");
    assert_eq!(outbox.pending(), 0);
}

#[test]
fn retries_back_off_with_jitter_then_dead_letter() {
    let mut outbox = Outbox::new(config(false), 11);
    let mut w = World::default();
    let Ok(Enqueued::New(id)) = outbox.enqueue(0, msg("a", "+4915112345678")) else {
        panic!("not enqueued")
    };
    let mut now = 0;
    for attempt in 1..=4u64 {
        w.drain(&mut outbox, None);
        assert_eq!(w.reached["a"], attempt as u32);
        let down = SubmitResult::Retryable {
            reason: "HTTP 503".into(),
            ambiguous: false,
        };
        outbox.handle_submit_result(now, id, down);
        w.drain(&mut outbox, None);
        if attempt == 4 {
            assert!(
                matches!(w.store[&id].state, State::Dead { .. }),
                "{:?}",
                w.store[&id]
            );
            assert_eq!(outbox.pending(), 0);
            assert_eq!(outbox.by_state().get("dead"), Some(&1));
            // The operator retries the dead letter: submitted again at once, with its
            // attempts counted afresh; a live message cannot be "retried".
            assert!(outbox.retry(now, id));
            w.drain(&mut outbox, None);
            assert_eq!(w.reached["a"], 5);
            assert_eq!(w.store[&id].state.name(), "submitting");
            assert!(!outbox.retry(now, id));
            outbox.handle_submit_result(now, id, SubmitResult::Accepted { provider_id: None });
            w.drain(&mut outbox, None);
            // Past the retention of its first death it is still there, being live.
            outbox.handle_timeout(now + 3_600_000 * 48);
            assert!(outbox.message(id).is_some());
            return;
        }
        let next = outbox.poll_timeout().expect("a retry is due");
        let base = 1_000 * (1 << (attempt - 1));
        let wait = next - now;
        assert!(
            wait >= base * 8 / 10 && wait <= base * 12 / 10,
            "attempt {attempt}: {wait}"
        );
        outbox.handle_timeout(next - 1);
        assert!(
            outbox.poll_output().is_none(),
            "nothing before the deadline"
        );
        now = next;
        outbox.handle_timeout(now);
    }
}

#[test]
fn gateway_down_for_a_while_then_back() {
    let mut outbox = Outbox::new(config(false), 3);
    let mut w = World::default();
    let ids: Vec<MessageId> = ["a", "b", "c"]
        .iter()
        .map(|k| match outbox.enqueue(0, msg(k, "+4915112345678")) {
            Ok(Enqueued::New(id)) => id,
            other => panic!("{other:?}"),
        })
        .collect();
    let mut now = 0;
    // Down for the first two attempts of every message.
    for _ in 0..2 {
        w.drain(&mut outbox, None);
        for id in std::mem::take(&mut w.pending) {
            let down = SubmitResult::Retryable {
                reason: "connection refused".into(),
                ambiguous: false,
            };
            outbox.handle_submit_result(now, id, down);
        }
        w.drain(&mut outbox, None);
        now = outbox.poll_timeout().expect("retry") + 5_000;
        outbox.handle_timeout(now);
    }
    w.drain(&mut outbox, None);
    for id in std::mem::take(&mut w.pending) {
        outbox.handle_submit_result(now, id, SubmitResult::Accepted { provider_id: None });
    }
    w.drain(&mut outbox, None);
    for id in ids {
        assert!(matches!(w.store[&id].state, State::Accepted { .. }));
        assert!(!w.store[&id].maybe_duplicate);
    }
    assert!(w.reached.values().all(|n| *n == 3));
}

#[test]
fn permanent_refusal_and_receipt_races() {
    let mut outbox = Outbox::new(config(false), 5);
    let mut w = World::default();
    let Ok(Enqueued::New(a)) = outbox.enqueue(0, msg("a", "+4915112345678")) else {
        panic!()
    };
    let Ok(Enqueued::New(b)) = outbox.enqueue(0, msg("b", "+4915112345679")) else {
        panic!()
    };
    w.drain(&mut outbox, None);
    outbox.handle_submit_result(
        1,
        a,
        SubmitResult::Permanent {
            reason: "HTTP 400".into(),
        },
    );
    // b's receipt arrives before the provider's HTTP reply.
    outbox
        .handle_receipt(2, b, ReceiptStatus::Delivered)
        .expect("known");
    outbox.handle_submit_result(
        3,
        b,
        SubmitResult::Accepted {
            provider_id: Some("x".into()),
        },
    );
    w.drain(&mut outbox, None);
    assert!(matches!(w.store[&a].state, State::Failed { .. }));
    assert_eq!(w.store[&b].state, State::Delivered);
    assert_eq!(
        outbox.handle_receipt(4, MessageId(99), ReceiptStatus::Delivered),
        Err(SmsError::UnknownMessage(99))
    );
}

#[test]
fn bad_input_is_refused_and_leaves_nothing() {
    let mut outbox = Outbox::new(config(false), 1);
    let mut long = msg("long", "+4915112345678");
    long.text = "x".repeat(153 * 10 + 1);
    let mut empty = msg("empty", "+4915112345678");
    empty.text = "  ".into();
    assert!(matches!(
        outbox.enqueue(0, msg("n", "not a number")),
        Err(SmsError::InvalidNumber { .. })
    ));
    assert!(matches!(
        outbox.enqueue(0, msg("uk", "+447700900123")),
        Err(SmsError::CountryNotAllowed(_))
    ));
    assert_eq!(outbox.enqueue(0, empty), Err(SmsError::EmptyBody));
    assert_eq!(
        outbox.enqueue(0, long),
        Err(SmsError::TooLong {
            segments: 11,
            max: 10
        })
    );
    assert!(outbox.poll_output().is_none());
    assert_eq!(outbox.pending(), 0);
}

#[test]
fn inbound_stop_opts_out_and_start_opts_back_in() {
    let mut outbox = Outbox::new(config(false), 1);
    let mut w = World::default();
    let stop = |text: &str| Inbound {
        from: "+4915112345678".into(),
        to: "12345".into(),
        text: text.into(),
        media: vec![],
    };
    outbox.handle_inbound(0, stop("Stop"));
    w.drain(&mut outbox, None);
    assert_eq!(w.opted_out.len(), 1);
    assert!(matches!(
        outbox.enqueue(1, msg("a", "015112345678")),
        Err(SmsError::OptedOut(_))
    ));
    outbox.handle_inbound(2, stop("START"));
    assert!(matches!(
        outbox.enqueue(3, msg("a", "015112345678")),
        Ok(Enqueued::New(_))
    ));
    outbox
        .opt_out(4, "015112345678", true, "flow:call-9")
        .expect("valid");
    assert!(matches!(
        outbox.enqueue(5, msg("b", "015112345678")),
        Err(SmsError::OptedOut(_))
    ));
}

/// Runs three messages to acceptance, crashing after `crash_at` outputs and restarting from
/// the store; returns the world at the end.
fn run_with_crash(crash_at: Option<usize>, dedupes: bool) -> World {
    let mut w = World::default();
    let mut outbox = Outbox::new(config(dedupes), 9);
    let mut now = 0;
    for k in ["a", "b", "c"] {
        let _ = outbox.enqueue(now, msg(k, "+4915112345678"));
    }
    let mut crashed = false;
    for _round in 0..20 {
        let alive = w.drain(&mut outbox, if crashed { None } else { crash_at });
        if !alive {
            crashed = true;
            // The process dies: whatever was in flight gets no reply. Start over from the store.
            w.pending.clear();
            outbox = Outbox::new(config(dedupes), 10);
            let stored: Vec<Message> = w.store.values().cloned().collect();
            now += 1_000;
            outbox.restore(now, stored, &w.opted_out);
            continue;
        }
        // A provider that dedupes by key answers a repeat as already accepted.
        for id in std::mem::take(&mut w.pending) {
            outbox.handle_submit_result(now, id, SubmitResult::Accepted { provider_id: None });
        }
        w.drain(&mut outbox, None);
        match outbox.poll_timeout() {
            Some(t) => {
                now = now.max(t);
                outbox.handle_timeout(now);
            }
            None if outbox.pending() == 0 => break,
            None => {}
        }
    }
    w
}

#[test]
fn a_crash_at_every_step_loses_nothing() {
    let clean = run_with_crash(None, false);
    assert_eq!(clean.store.len(), 3);
    let steps = clean.steps;
    assert!(steps >= 9);
    for crash_at in 0..=steps {
        for dedupes in [false, true] {
            let w = run_with_crash(Some(crash_at), dedupes);
            // A message exists once its first write is done: that is when the flow hears
            // "accepted". One whose first write the crash prevented was never acknowledged.
            for key in ["a", "b", "c"] {
                let Some(m) = w.store.values().find(|m| m.key == key) else {
                    continue;
                };
                assert!(
                    matches!(m.state, State::Accepted { .. }),
                    "crash at {crash_at}: {m:?}"
                );
                let reached = w.reached.get(key).copied().unwrap_or(0);
                // The provider that dedupes counts a repeat once.
                let copies = if dedupes { reached.min(1) } else { reached };
                assert!(
                    (1..=2).contains(&copies),
                    "crash at {crash_at}: {key} reached {reached}×"
                );
                if copies == 2 {
                    assert!(
                        m.maybe_duplicate,
                        "crash at {crash_at}: {key} sent twice unflagged"
                    );
                }
            }
        }
    }
}

proptest! {
    /// Arbitrary interleavings of enqueues, replies, receipts and time never submit a message
    /// that is not persisted as submitting, never submit a finished message, and never give
    /// a deadline in the past.
    #[test]
    fn random_driving_keeps_the_contract(ops in proptest::collection::vec((0u8..6, 0u8..4, 0u64..5_000), 1..150)) {
        let mut outbox = Outbox::new(config(false), 42);
        let mut w = World::default();
        let mut now = 0u64;
        for (op, k, dt) in ops {
            now += dt;
            match op {
                0 => { let _ = outbox.enqueue(now, msg(&format!("k{k}"), "+4915112345678")); }
                1 => if let Some(id) = w.pending.pop() {
                    outbox.handle_submit_result(now, id, SubmitResult::Accepted { provider_id: None });
                },
                2 => if let Some(id) = w.pending.pop() {
                    outbox.handle_submit_result(now, id, SubmitResult::Retryable { reason: "503".into(), ambiguous: k == 0 });
                },
                3 => { let _ = outbox.handle_receipt(now, MessageId(u64::from(k) + 1), ReceiptStatus::Delivered); }
                4 => outbox.handle_timeout(now),
                _ => if let Some(id) = w.pending.pop() {
                    outbox.handle_submit_result(now, id, SubmitResult::Permanent { reason: "400".into() });
                },
            }
            let before: HashMap<MessageId, bool> = w.store.iter().map(|(id, m)| (*id, m.state.is_final())).collect();
            w.drain(&mut outbox, None);
            for line in &w.log {
                if let Some(id) = line.strip_prefix("submit ") {
                    let id = MessageId(id.parse().unwrap_or(0));
                    prop_assert!(!before.get(&id).copied().unwrap_or(false), "finished message submitted");
                }
            }
            w.log.clear();
            if let Some(t) = outbox.poll_timeout() {
                prop_assert!(t + 60_000 * 2 >= now || outbox.pending() > 0);
            }
        }
    }
}
