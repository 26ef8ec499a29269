//! Field-level compilation: conditions, playlists, templates, targets, ranges and the
//! immediate-loop check. Each reports into the compiler's error list and returns a placeholder
//! so that compilation goes on and finds the other errors.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Compiler;
use crate::error::Problem;
use crate::graph::{CompareOp, Cond, FlowId, Kind, Node, NodeId, SayItem};
use crate::raw;
use crate::say::{self, Language};
use crate::template::{Template, is_name};
use crate::vars::BUILTINS;

impl Compiler<'_> {
    pub(super) fn cond(&mut self, field: &str, c: &raw::Condition) -> Cond {
        let mut found: Vec<Cond> = Vec::new();
        let compares = [
            (&c.equals, CompareOp::Equals),
            (&c.not_equals, CompareOp::NotEquals),
            (&c.prefix, CompareOp::Prefix),
            (&c.gt, CompareOp::Gt),
            (&c.ge, CompareOp::Ge),
            (&c.lt, CompareOp::Lt),
            (&c.le, CompareOp::Le),
        ];
        let needs_var = compares.iter().any(|(v, _)| v.is_some()) || c.is_set.is_some();
        let var = match (&c.var, needs_var) {
            (Some(v), true) => {
                self.read(field, v);
                v.clone()
            }
            (None, true) => {
                self.error(
                    field,
                    Problem::Invalid("`var` is required with this operator".into()),
                );
                String::new()
            }
            (Some(_), false) => {
                self.error(
                    field,
                    Problem::Invalid("`var` without an operator (equals, prefix, gt, …)".into()),
                );
                String::new()
            }
            (None, false) => String::new(),
        };
        for (value, op) in compares {
            if let Some(value) = value {
                let value = self.template(field, value);
                found.push(Cond::Compare {
                    var: var.clone(),
                    op,
                    value,
                });
            }
        }
        if let Some(set) = c.is_set {
            found.push(Cond::IsSet {
                var: var.clone(),
                set,
            });
        }
        if let Some(range) = &c.time_between {
            match (
                range.as_slice(),
                range
                    .iter()
                    .map(|t| parse_hhmm(t))
                    .collect::<Option<Vec<_>>>(),
            ) {
                ([_, _], Some(m)) => found.push(Cond::TimeBetween {
                    from: m[0],
                    to: m[1],
                }),
                _ => self.error(
                    field,
                    Problem::Invalid("time_between is [\"HH:MM\", \"HH:MM\"]".into()),
                ),
            }
        }
        if let Some(days) = &c.weekdays {
            let mut mask = 0u8;
            for d in days {
                match ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                    .iter()
                    .position(|w| w == &d.to_ascii_lowercase())
                {
                    Some(i) => mask |= 1 << i,
                    None => self.error(
                        field,
                        Problem::Invalid(format!("weekday `{d}`: use mon … sun")),
                    ),
                }
            }
            found.push(Cond::Weekdays(mask));
        }
        for (list, all) in [(&c.all, true), (&c.any, false)] {
            if let Some(list) = list {
                let subs = list
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        self.cond(
                            &format!("{field}.{}[{i}]", if all { "all" } else { "any" }),
                            s,
                        )
                    })
                    .collect();
                found.push(if all {
                    Cond::All(subs)
                } else {
                    Cond::Any(subs)
                });
            }
        }
        if let Some(not) = &c.not {
            found.push(Cond::Not(Box::new(self.cond(&format!("{field}.not"), not))));
        }
        match found.len() {
            1 => found.remove(0),
            0 => {
                self.error(field, Problem::Invalid("no operator".into()));
                Cond::All(Vec::new())
            }
            _ => {
                self.error(
                    field,
                    Problem::Invalid("one operator per condition; combine with `all`/`any`".into()),
                );
                Cond::All(found)
            }
        }
    }

    pub(super) fn items(&mut self, field: &str, items: &[raw::SayItem]) -> Vec<SayItem> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let field = format!("{field}[{i}]");
                self.item(&field, item)
            })
            .collect()
    }

    pub(super) fn item(&mut self, field: &str, item: &raw::SayItem) -> SayItem {
        let say = match item {
            raw::SayItem::Prompt(name) => {
                self.check_fragments(field, std::slice::from_ref(name));
                return SayItem::Prompt(name.clone());
            }
            raw::SayItem::Say(say) => say,
        };
        let set = [&say.digits, &say.number, &say.amount, &say.time];
        if set.iter().filter(|v| v.is_some()).count() + usize::from(say.silence_ms.is_some()) != 1 {
            self.error(
                field,
                Problem::Invalid("exactly one of digits, number, amount, time, silence_ms".into()),
            );
            return SayItem::Silence(0);
        }
        if let Some(ms) = say.silence_ms {
            return SayItem::Silence(self.count(field, ms, 20, 60_000));
        }
        if let Some(t) = &say.digits {
            self.check_fragments(field, &say::digits("0123456789*#"));
            return SayItem::Digits(self.template(field, t));
        }
        let languages: Vec<String> = self.languages.to_vec();
        for lang in &languages {
            match Language::from_code(lang) {
                Some(l) => self.check_in(field, lang, &say::fragments(l, self.currency)),
                None => self.error(
                    field,
                    Problem::Invalid(format!(
                        "no number rules for language `{lang}` (en, de, uk)"
                    )),
                ),
            }
        }
        match (&say.number, &say.amount, &say.time) {
            (Some(t), _, _) => SayItem::Number(self.template(field, t)),
            (_, Some(t), _) => SayItem::Amount(self.template(field, t)),
            (_, _, Some(t)) => SayItem::Time(self.template(field, t)),
            _ => SayItem::Silence(0),
        }
    }

    /// Reports prompts missing from any declared language, one error per language.
    pub(super) fn check_fragments(&mut self, field: &str, names: &[String]) {
        let languages: Vec<String> = self.languages.to_vec();
        for lang in &languages {
            self.check_in(field, lang, names);
        }
    }

    pub(super) fn check_in(&mut self, field: &str, lang: &str, names: &[String]) {
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !self.catalog.has_prompt(lang, n))
            .cloned()
            .collect();
        if !missing.is_empty() {
            self.error(
                field,
                Problem::MissingPrompts {
                    language: lang.to_string(),
                    prompts: missing,
                },
            );
        }
    }

    pub(super) fn template(&mut self, field: &str, text: &str) -> Template {
        match Template::parse(text) {
            Ok(t) => {
                let vars: Vec<String> = t.vars().map(String::from).collect();
                for v in vars {
                    self.read(field, &v);
                }
                t
            }
            Err(e) => {
                self.error(field, Problem::Invalid(format!("template {text:?}: {e}")));
                Template::parse("").expect("the empty template parses")
            }
        }
    }

    pub(super) fn read(&mut self, field: &str, var: &str) {
        if !self.defined.contains(var) {
            self.error(field, Problem::UndefinedVariable(var.to_string()));
        }
    }

    pub(super) fn settable(&mut self, field: &str, var: &str) {
        if !is_name(var) || BUILTINS.contains(&var) {
            self.error(field, Problem::Invalid(format!("`{var}` cannot be set")));
        }
    }

    pub(super) fn target(&mut self, field: &str, name: &str) -> NodeId {
        self.names.get(name).copied().unwrap_or_else(|| {
            self.error(field, Problem::UnknownTarget(name.to_string()));
            NodeId(0)
        })
    }

    pub(super) fn flow_ref(&mut self, field: &str, name: &str) -> FlowId {
        self.flows.get(name).copied().unwrap_or_else(|| {
            self.error(field, Problem::UnknownFlow(name.to_string()));
            FlowId(0)
        })
    }

    pub(super) fn key(&mut self, field: &str, text: &str) -> char {
        match text.chars().collect::<Vec<_>>().as_slice() {
            [k] if is_key(*k) => *k,
            _ => {
                self.error(field, Problem::Invalid(format!("`{text}` is not one key")));
                '1'
            }
        }
    }

    pub(super) fn millis(&mut self, field: &str, ms: u64, min: u64, max: u64) -> Duration {
        if !(min..=max).contains(&ms) {
            self.error(
                field,
                Problem::OutOfRange {
                    value: ms,
                    min,
                    max,
                },
            );
        }
        Duration::from_millis(ms.clamp(min, max))
    }

    pub(super) fn count(&mut self, field: &str, n: u32, min: u32, max: u32) -> u32 {
        if !(min..=max).contains(&n) {
            self.error(
                field,
                Problem::OutOfRange {
                    value: n.into(),
                    min: min.into(),
                    max: max.into(),
                },
            );
        }
        n.clamp(min, max)
    }

    /// Nodes that pass control on at once (branch, set, event) must not form a cycle: a call
    /// would spin without waiting for anything.
    pub(super) fn check_loops(&mut self, nodes: &[Node]) {
        let next = |n: &Node| -> Vec<NodeId> {
            match &n.kind {
                Kind::Branch { cases, otherwise } => {
                    cases.iter().map(|c| c.1).chain([*otherwise]).collect()
                }
                Kind::Set { next, .. } | Kind::Event { next, .. } => vec![*next],
                _ => Vec::new(),
            }
        };
        // 0 = unvisited, 1 = on the stack, 2 = done.
        let mut state = vec![0u8; nodes.len()];
        let mut reported = BTreeMap::new();
        for root in 0..nodes.len() {
            let mut stack = vec![(root, 0usize)];
            while let Some(&mut (n, ref mut edge)) = stack.last_mut() {
                if *edge == 0 {
                    if state[n] != 0 {
                        stack.pop();
                        continue;
                    }
                    state[n] = 1;
                }
                let outs = next(&nodes[n]);
                if let Some(&to) = outs.get(*edge) {
                    *edge += 1;
                    let to = to.0 as usize;
                    match state.get(to) {
                        Some(0) => stack.push((to, 0)),
                        Some(1) => {
                            reported
                                .entry(nodes[to].name.clone())
                                .or_insert_with(|| nodes[n].name.clone());
                        }
                        _ => {}
                    }
                } else {
                    state[n] = 2;
                    stack.pop();
                }
            }
        }
        for (to, from) in reported {
            self.node = Some(from);
            self.error(
                "",
                Problem::Invalid(format!(
                    "loops back to `{to}` without playing or waiting for anything"
                )),
            );
        }
        self.node = None;
    }
}

pub(super) fn is_key(c: char) -> bool {
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D')
}

fn parse_hhmm(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}
