//! Menus and digit collection: prompt with barge-in, wait for keys with first-key and
//! inter-key deadlines, count invalid entries and timeouts separately, confirm by readback.

use std::sync::Arc;
use std::time::Instant;

use super::CallFlow;
use crate::graph::{Collect, Kind, Menu, NodeId, SayItem};
use crate::io::{Input, Output, RequestId};

/// A menu or collect node in progress.
#[derive(Debug)]
pub(super) struct Gather {
    keys: String,
    phase: Phase,
    /// Invalid entries so far.
    invalid: u32,
    /// Timeouts so far.
    no_input: u32,
    /// Collect only: digits read back, awaiting yes/no.
    confirming: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// A playlist runs (barge-in); listening starts when it ends.
    Prompting(RequestId),
    /// Waiting for a key until the deadline.
    Listening(Instant),
}

impl Gather {
    /// Moves a listening deadline later by `by` (the time spent on hold).
    pub(super) fn postpone(&mut self, by: std::time::Duration) {
        if let Phase::Listening(at) = &mut self.phase {
            *at += by;
        }
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Listening(at) => Some(at),
            Phase::Prompting(_) => None,
        }
    }
}

/// What a finished entry leads to.
enum Verdict {
    Wait(Gather),
    Go(NodeId),
}

impl CallFlow {
    pub(super) fn start_gather(&mut self, now: Instant) -> Gather {
        let set = Arc::clone(&self.set);
        let kind = &set.flow(self.flow).node(self.node).kind;
        let (items, wait) = match kind {
            Kind::Menu(m) => (&m.greeting, m.timeout),
            Kind::Collect(c) => (&c.prompts, c.first_digit_timeout),
            _ => unreachable!("start_gather runs on menu and collect nodes only"),
        };
        // Nothing to say: listen at once.
        let phase = if items.is_empty() {
            Phase::Listening(now + wait)
        } else {
            Phase::Prompting(self.play(items, true))
        };
        Gather {
            keys: String::new(),
            phase,
            invalid: 0,
            no_input: 0,
            confirming: None,
        }
    }

    /// Feeds an input to the menu/collect in progress; `None` when the call moved on.
    pub(super) fn gather(&mut self, now: Instant, mut g: Gather, input: Input) -> Option<Gather> {
        let set = Arc::clone(&self.set);
        let kind = &set.flow(self.flow).node(self.node).kind;
        let verdict = match (kind, input) {
            (_, Input::PlaybackFinished(id)) => match g.phase {
                Phase::Prompting(play) if play == id => {
                    let wait = match kind {
                        Kind::Menu(m) => m.timeout,
                        Kind::Collect(c) => c.first_digit_timeout,
                        _ => unreachable!("gathering on menu and collect nodes only"),
                    };
                    let wait = if g.keys.is_empty() {
                        wait
                    } else {
                        inter_digit(kind)
                    };
                    g.phase = Phase::Listening(now + wait);
                    Verdict::Wait(g)
                }
                _ => Verdict::Wait(g),
            },
            (Kind::Menu(m), Input::Digit(key)) => {
                self.stop_if_prompting(&g);
                g.keys.push(key);
                self.menu_keys(now, m, g)
            }
            (Kind::Collect(c), Input::Digit(key)) => {
                self.stop_if_prompting(&g);
                self.collect_key(now, c, g, key)
            }
            (_, Input::Timeout) if g.deadline().is_some_and(|d| now >= d) => match kind {
                Kind::Menu(m) if g.keys.is_empty() => self.menu_retry(now, m, g, false),
                Kind::Menu(m) => match m.choices.iter().find(|(k, _)| *k == g.keys) {
                    Some((_, to)) => self.choose(now, m, &g.keys, *to),
                    None => self.menu_retry(now, m, g, true),
                },
                Kind::Collect(c) if g.confirming.is_some() || g.keys.is_empty() => {
                    self.collect_retry(now, c, g, false)
                }
                Kind::Collect(c) => self.collect_done(now, c, g),
                _ => unreachable!("gathering on menu and collect nodes only"),
            },
            (_, _) => Verdict::Wait(g),
        };
        match verdict {
            Verdict::Wait(g) => Some(g),
            Verdict::Go(node) => {
                self.goto(now, node);
                None
            }
        }
    }

    fn stop_if_prompting(&mut self, g: &Gather) {
        if matches!(g.phase, Phase::Prompting(_)) {
            self.out.push_back(Output::StopPlayback);
        }
    }

    fn menu_keys(&mut self, now: Instant, m: &Menu, mut g: Gather) -> Verdict {
        let exact = m.choices.iter().find(|(k, _)| *k == g.keys).map(|c| c.1);
        let longer = m
            .choices
            .iter()
            .any(|(k, _)| k.len() > g.keys.len() && k.starts_with(&g.keys));
        match (exact, longer) {
            (Some(to), false) => self.choose(now, m, &g.keys.clone(), to),
            (_, true) => {
                g.phase = Phase::Listening(now + m.inter_digit);
                Verdict::Wait(g)
            }
            (None, false) => self.menu_retry(now, m, g, true),
        }
    }

    fn choose(&mut self, now: Instant, m: &Menu, keys: &str, to: NodeId) -> Verdict {
        if let Some(store) = &m.store {
            self.vars.set(store, keys);
        }
        if let Some(last) = keys.chars().last() {
            self.vars.set("last_digit", last.to_string());
        }
        self.record(now, format!("chose {keys}"));
        self.entered(keys, false);
        Verdict::Go(to)
    }

    /// An invalid entry (`invalid`) or a timeout: count it, give up past the limit, else play
    /// the matching prompt and the short greeting.
    fn menu_retry(&mut self, now: Instant, m: &Menu, mut g: Gather, invalid: bool) -> Verdict {
        if invalid {
            g.invalid += 1;
            self.record(now, format!("invalid {}", g.keys));
            if g.invalid >= m.max_failures {
                return Verdict::Go(m.on_failure);
            }
        } else {
            g.no_input += 1;
            self.record(now, "no_input");
            if g.no_input >= m.max_timeouts {
                return Verdict::Go(m.on_no_input);
            }
        }
        let feedback = if invalid { &m.invalid } else { &m.no_input };
        let greeting = m.greeting_short.as_ref().unwrap_or(&m.greeting);
        self.replay(g, &[feedback, greeting])
    }

    fn replay(&mut self, mut g: Gather, lists: &[&Vec<SayItem>]) -> Verdict {
        let items: Vec<&SayItem> = lists.iter().flat_map(|l| l.iter()).collect();
        let play = self.play_refs(&items);
        g.keys.clear();
        g.phase = Phase::Prompting(play);
        Verdict::Wait(g)
    }

    fn collect_key(&mut self, now: Instant, c: &Collect, mut g: Gather, key: char) -> Verdict {
        if let Some(digits) = g.confirming.clone() {
            if key == c.confirm.as_ref().map_or('1', |k| k.yes) {
                self.entered(&digits, c.sensitive);
                self.vars.set(&c.store, digits);
                self.record(now, "confirmed");
                return Verdict::Go(c.next);
            }
            if key == c.confirm.as_ref().map_or('2', |k| k.no) {
                self.record(now, "reenter");
                g.confirming = None;
                return self.replay(g, &[&c.prompts]);
            }
            if Some(key) == c.terminator {
                // A terminator typed after an entry that ended at max_digits.
                return Verdict::Wait(g);
            }
            return self.collect_retry(now, c, g, true);
        }
        if Some(key) == c.terminator {
            return self.collect_done(now, c, g);
        }
        g.keys.push(key);
        if g.keys.len() >= c.max_digits {
            return self.collect_done(now, c, g);
        }
        g.phase = Phase::Listening(now + c.inter_digit_timeout);
        Verdict::Wait(g)
    }

    /// The entry ended (terminator, max digits or inter-digit timeout).
    fn collect_done(&mut self, now: Instant, c: &Collect, mut g: Gather) -> Verdict {
        if g.keys.len() < c.min_digits {
            let invalid = !g.keys.is_empty();
            return self.collect_retry(now, c, g, invalid);
        }
        let digits = std::mem::take(&mut g.keys);
        self.vars.set(
            "last_digit",
            digits.chars().last().map(String::from).unwrap_or_default(),
        );
        let Some(confirm) = &c.confirm else {
            self.entered(&digits, c.sensitive);
            self.vars.set(&c.store, digits);
            self.record(now, "collected");
            return Verdict::Go(c.next);
        };
        self.record(now, "read_back");
        let mut items: Vec<SayItem> = Vec::new();
        let readback = crate::say::digits(&digits);
        let play = {
            let mut refs: Vec<&SayItem> = confirm.before.iter().collect();
            items.extend(readback.into_iter().map(SayItem::Prompt));
            refs.extend(items.iter());
            refs.extend(confirm.after.iter());
            self.play_refs(&refs)
        };
        g.confirming = Some(digits);
        g.phase = Phase::Prompting(play);
        Verdict::Wait(g)
    }

    fn collect_retry(
        &mut self,
        now: Instant,
        c: &Collect,
        mut g: Gather,
        invalid: bool,
    ) -> Verdict {
        if invalid {
            g.invalid += 1;
            let keys = crate::io::masked(&g.keys, c.sensitive);
            self.record(now, format!("invalid {keys}"));
        } else {
            g.no_input += 1;
            self.record(now, "no_input");
        }
        if g.invalid + g.no_input >= c.max_attempts {
            return Verdict::Go(if g.invalid == 0 {
                c.on_no_input
            } else {
                c.on_failure
            });
        }
        let feedback = if invalid { &c.invalid } else { &c.no_input };
        match g.confirming.clone() {
            Some(digits) => {
                g.keys = digits;
                g.confirming = None;
                self.collect_done(now, c, g)
            }
            None => self.replay(g, &[feedback, &c.prompts]),
        }
    }
}

fn inter_digit(kind: &Kind) -> std::time::Duration {
    match kind {
        Kind::Menu(m) => m.inter_digit,
        Kind::Collect(c) => c.inter_digit_timeout,
        _ => unreachable!("gathering on menu and collect nodes only"),
    }
}
