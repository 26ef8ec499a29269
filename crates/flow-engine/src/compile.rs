//! Flow files → [`FlowSet`]: every error of every file is reported at once.

mod fields;
mod queue;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::error::{ConfigError, Problem};
use crate::graph::{
    Collect, Confirm, Consent, ConsentAnswer, Dial, DialMode, Flow, FlowId, FlowSet, Http,
    HttpMethod, Kind, Menu, Node, NodeId, Sms,
};
use crate::raw;
use crate::say::{self, Currency};
use crate::template::is_name;
use crate::vars::BUILTINS;
use fields::is_key;

/// What the flows may refer to outside themselves: prompt names per language, and data
/// sources with their columns. The daemon fills it from disk; tests fill it by hand.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    prompts: HashMap<String, HashSet<String>>,
    sources: HashMap<String, Vec<String>>,
    queues: HashSet<String>,
}

impl Catalog {
    /// Adds prompt names (file stems) to a language's set.
    pub fn add_prompts<I: IntoIterator<Item = S>, S: Into<String>>(
        &mut self,
        language: &str,
        names: I,
    ) {
        self.prompts
            .entry(language.to_string())
            .or_default()
            .extend(names.into_iter().map(Into::into));
    }

    /// Declares a queue (`queue` nodes name one).
    pub fn add_queue(&mut self, name: &str) {
        self.queues.insert(name.to_string());
    }

    /// Declares a data source and its columns.
    pub fn add_source(&mut self, name: &str, columns: Vec<String>) {
        self.sources.insert(name.to_string(), columns);
    }

    fn has_prompt(&self, language: &str, name: &str) -> bool {
        self.prompts
            .get(language)
            .is_some_and(|set| set.contains(name))
    }
}

/// One flow file's text, named by its flow name (the file stem) and a label for errors.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Flow name used by routes and `goto`.
    pub name: String,
    /// Path or label shown in errors.
    pub file: String,
    /// TOML text.
    pub text: String,
}

/// Parses and compiles every file. Either all flows are valid, or every error is returned.
pub fn load(files: &[SourceFile], catalog: &Catalog) -> Result<FlowSet, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut parsed = Vec::new();
    for f in files {
        match toml::from_str::<raw::FlowFile>(&f.text) {
            Ok(raw) => parsed.push((f, raw)),
            Err(e) => errors.push(ConfigError {
                file: f.file.clone(),
                node: None,
                field: String::new(),
                problem: Problem::Syntax(match e.span() {
                    Some(span) => {
                        let line = f.text[..span.start.min(f.text.len())].matches('\n').count() + 1;
                        format!("line {line}: {}", e.message())
                    }
                    None => e.message().to_string(),
                }),
            }),
        }
    }
    let by_name: HashMap<String, FlowId> = parsed
        .iter()
        .enumerate()
        .map(|(i, (f, _))| (f.name.clone(), FlowId(i as u32)))
        .collect();
    let defined = defined_vars(parsed.iter().map(|(_, raw)| raw), catalog);
    let mut flows = Vec::new();
    for (f, raw) in &parsed {
        let mut c = Compiler {
            file: &f.file,
            names: raw
                .nodes
                .keys()
                .enumerate()
                .map(|(i, n)| (n.as_str(), NodeId(i as u32)))
                .collect(),
            flows: &by_name,
            catalog,
            defined: &defined,
            errors: &mut errors,
            node: None,
            languages: &raw.flow.languages,
            currency: Currency::Eur,
        };
        flows.push(c.flow(&f.name, raw));
    }
    if errors.is_empty() {
        Ok(FlowSet { flows, by_name })
    } else {
        Err(errors)
    }
}

/// Every variable some flow or node writes.
fn defined_vars<'a>(
    files: impl Iterator<Item = &'a raw::FlowFile>,
    catalog: &Catalog,
) -> HashSet<String> {
    let mut defined: HashSet<String> = BUILTINS.iter().map(|s| s.to_string()).collect();
    for raw in files {
        defined.extend(raw.vars.keys().cloned());
        for node in raw.nodes.values() {
            match node {
                raw::Node::Set { vars, .. } => defined.extend(vars.keys().cloned()),
                raw::Node::Collect(c) => {
                    defined.insert(c.store.clone());
                }
                raw::Node::Menu(m) => defined.extend(m.store.clone()),
                raw::Node::Lookup { source, into, .. } => {
                    for column in catalog.sources.get(source).into_iter().flatten() {
                        defined.insert(format!("{into}.{column}"));
                    }
                }
                raw::Node::Http(h) => defined.extend(h.map.keys().cloned()),
                raw::Node::Sms(s) if s.coupon.is_some() => {
                    defined.insert("coupon".into());
                }
                _ => {}
            }
        }
    }
    defined
}

struct Compiler<'a> {
    file: &'a str,
    names: HashMap<&'a str, NodeId>,
    flows: &'a HashMap<String, FlowId>,
    catalog: &'a Catalog,
    defined: &'a HashSet<String>,
    errors: &'a mut Vec<ConfigError>,
    node: Option<String>,
    languages: &'a [String],
    currency: Currency,
}

impl Compiler<'_> {
    fn error(&mut self, field: impl Into<String>, problem: Problem) {
        self.errors.push(ConfigError {
            file: self.file.to_string(),
            node: self.node.clone(),
            field: field.into(),
            problem,
        });
    }

    fn flow(&mut self, name: &str, raw: &raw::FlowFile) -> Flow {
        let timezone = jiff::tz::TimeZone::get(&raw.flow.timezone).unwrap_or_else(|e| {
            self.error(
                "flow.timezone",
                Problem::Invalid(format!("time zone `{}`: {e}", raw.flow.timezone)),
            );
            jiff::tz::TimeZone::UTC
        });
        self.currency = Currency::from_code(&raw.flow.currency).unwrap_or_else(|| {
            self.error(
                "flow.currency",
                Problem::Invalid(format!(
                    "currency `{}`: use EUR, USD or UAH",
                    raw.flow.currency
                )),
            );
            Currency::Eur
        });
        if raw.flow.languages.is_empty() {
            self.error(
                "flow.languages",
                Problem::Invalid("at least one language".into()),
            );
        }
        let start = self.target("flow.start", &raw.flow.start);
        for var in raw.vars.keys() {
            if !is_name(var) || BUILTINS.contains(&var.as_str()) {
                self.error(
                    format!("vars.{var}"),
                    Problem::Invalid("not a settable variable name".into()),
                );
            }
        }
        let nodes = raw
            .nodes
            .iter()
            .map(|(node_name, node)| {
                self.node = Some(node_name.clone());
                let kind = self.kind(node);
                Node {
                    name: node_name.clone(),
                    kind,
                }
            })
            .collect::<Vec<_>>();
        self.node = None;
        self.check_loops(&nodes);
        Flow {
            name: name.to_string(),
            start,
            nodes,
            languages: raw.flow.languages.clone(),
            timezone,
            currency: self.currency,
            vars: raw
                .vars
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    fn kind(&mut self, node: &raw::Node) -> Kind {
        match node {
            raw::Node::Play {
                prompts,
                barge_in,
                on_key,
                next,
            } => {
                if on_key.is_some() && !barge_in {
                    self.error("on_key", Problem::Invalid("needs `barge_in = true`".into()));
                }
                Kind::Play {
                    items: self.items("prompts", prompts),
                    barge_in: *barge_in,
                    on_key: on_key.as_ref().map(|t| self.target("on_key", t)),
                    next: self.target("next", next),
                }
            }
            raw::Node::Menu(m) => Kind::Menu(Box::new(self.menu(m))),
            raw::Node::Collect(c) => Kind::Collect(Box::new(self.collect(c))),
            raw::Node::Branch { cases, otherwise } => Kind::Branch {
                cases: cases
                    .iter()
                    .enumerate()
                    .map(|(i, case)| {
                        let cond = self.cond(&format!("cases[{i}].when"), &case.when);
                        (cond, self.target(&format!("cases[{i}].goto"), &case.goto))
                    })
                    .collect(),
                otherwise: self.target("else", otherwise),
            },
            raw::Node::Lookup {
                source,
                key,
                into,
                found,
                not_found,
            } => {
                if !self.catalog.sources.contains_key(source) {
                    self.error("source", Problem::UnknownSource(source.clone()));
                }
                if !is_name(into) {
                    self.error(
                        "into",
                        Problem::Invalid(format!("`{into}` is not a variable name")),
                    );
                }
                Kind::Lookup {
                    source: source.clone(),
                    key: self.template("key", key),
                    into: into.clone(),
                    found: self.target("found", found),
                    not_found: self.target("not_found", not_found),
                }
            }
            raw::Node::Http(h) => Kind::Http(Box::new(self.http(h))),
            raw::Node::Sms(s) => Kind::Sms(Box::new(self.sms(s))),
            raw::Node::Consent(c) => Kind::Consent(Box::new(self.consent(c))),
            raw::Node::Dial(d) => Kind::Dial(Box::new(self.dial(d))),
            raw::Node::Queue(q) => Kind::Queue(Box::new(self.queue(q))),
            raw::Node::Transfer { target, on_failure } => Kind::Transfer {
                target: self.template("target", target),
                on_failure: on_failure.as_ref().map(|t| self.target("on_failure", t)),
            },
            raw::Node::Hangup {} => Kind::HangUp,
            raw::Node::Goto { flow } => Kind::Goto(self.flow_ref("flow", flow)),
            raw::Node::Call { flow, next } => Kind::Call {
                flow: self.flow_ref("flow", flow),
                next: self.target("next", next),
            },
            raw::Node::Return {} => Kind::Return,
            raw::Node::Set { vars, next } => Kind::Set {
                vars: vars
                    .iter()
                    .map(|(var, value)| {
                        let field = format!("vars.{var}");
                        if !is_name(var) || (BUILTINS.contains(&var.as_str()) && var != "language")
                        {
                            self.error(&field, Problem::Invalid(format!("`{var}` cannot be set")));
                        }
                        let t = self.template(&field, value);
                        let unknown_language = (var == "language")
                            .then(|| t.literal())
                            .flatten()
                            .filter(|l| !self.languages.contains(l));
                        if let Some(lang) = unknown_language {
                            self.error(
                                &field,
                                Problem::Invalid(format!(
                                    "language `{lang}` is not in flow.languages"
                                )),
                            );
                        }
                        (var.clone(), t)
                    })
                    .collect(),
                next: self.target("next", next),
            },
            raw::Node::Event { name, fields, next } => Kind::Event {
                name: name.clone(),
                fields: fields
                    .iter()
                    .map(|(k, v)| (k.clone(), self.template(&format!("fields.{k}"), v)))
                    .collect(),
                next: self.target("next", next),
            },
        }
    }

    fn menu(&mut self, m: &raw::Menu) -> Menu {
        let mut choices = Vec::new();
        for (keys, target) in &m.choices {
            let field = format!("choices.{keys}");
            if keys.is_empty() || !keys.chars().all(is_key) {
                self.error(
                    &field,
                    Problem::Invalid(format!("`{keys}` is not a key sequence (0-9, *, #, A-D)")),
                );
            }
            choices.push((keys.clone(), self.target(&field, target)));
        }
        if choices.is_empty() {
            self.error(
                "choices",
                Problem::Invalid("a menu needs at least one choice".into()),
            );
        }
        if let Some(store) = &m.store {
            self.settable("store", store);
        }
        Menu {
            greeting: self.items("greeting", &m.greeting),
            greeting_short: m
                .greeting_short
                .as_ref()
                .map(|g| self.items("greeting_short", g)),
            choices,
            invalid: self.items("invalid", &m.invalid),
            no_input: self.items("no_input", &m.no_input),
            timeout: self.millis("timeout_ms", m.timeout_ms, 500, 60_000),
            inter_digit: self.millis("inter_digit_ms", m.inter_digit_ms, 500, 30_000),
            max_failures: self.count("max_failures", m.max_failures, 1, 10),
            max_timeouts: self.count("max_timeouts", m.max_timeouts, 1, 10),
            on_failure: self.target("on_failure", &m.on_failure),
            on_no_input: self.target(
                "on_no_input",
                m.on_no_input.as_ref().unwrap_or(&m.on_failure),
            ),
            store: m.store.clone(),
        }
    }

    fn collect(&mut self, c: &raw::Collect) -> Collect {
        self.settable("store", &c.store);
        let max_digits = self.count("max_digits", c.max_digits, 1, 32) as usize;
        let min_digits = self.count("min_digits", c.min_digits, 1, 32) as usize;
        if min_digits > max_digits {
            self.error(
                "min_digits",
                Problem::Invalid(format!("{min_digits} is more than max_digits {max_digits}")),
            );
        }
        let terminator = match c.terminator.chars().collect::<Vec<_>>().as_slice() {
            [] => None,
            [k] if is_key(*k) => Some(*k),
            _ => {
                self.error(
                    "terminator",
                    Problem::Invalid(format!("`{}` is not one key", c.terminator)),
                );
                None
            }
        };
        let confirm = c.confirm.as_ref().map(|k| {
            let yes = self.key("confirm.yes", &k.yes);
            let no = self.key("confirm.no", &k.no);
            if yes == no {
                self.error(
                    "confirm.no",
                    Problem::Invalid("the same key as confirm.yes".into()),
                );
            }
            Confirm {
                before: self.items("confirm.before", &k.before),
                after: self.items("confirm.after", &k.after),
                yes,
                no,
            }
        });
        if confirm.is_some() {
            self.check_fragments("confirm", &say::digits("0123456789"));
        }
        Collect {
            prompts: self.items("prompts", &c.prompts),
            store: c.store.clone(),
            min_digits,
            max_digits,
            terminator,
            first_digit_timeout: self.millis(
                "first_digit_timeout_ms",
                c.first_digit_timeout_ms,
                500,
                60_000,
            ),
            inter_digit_timeout: self.millis(
                "inter_digit_timeout_ms",
                c.inter_digit_timeout_ms,
                500,
                30_000,
            ),
            max_attempts: self.count("max_attempts", c.max_attempts, 1, 10),
            invalid: self.items("invalid", &c.invalid),
            no_input: self.items("no_input", &c.no_input),
            confirm,
            next: self.target("next", &c.next),
            on_failure: self.target("on_failure", &c.on_failure),
            on_no_input: self.target(
                "on_no_input",
                c.on_no_input.as_ref().unwrap_or(&c.on_failure),
            ),
            sensitive: c.sensitive,
        }
    }

    fn http(&mut self, h: &raw::Http) -> Http {
        let method = match h.method.to_ascii_uppercase().as_str() {
            "GET" => HttpMethod::Get,
            "POST" => HttpMethod::Post,
            other => {
                self.error(
                    "method",
                    Problem::Invalid(format!("`{other}`: use GET or POST")),
                );
                HttpMethod::Get
            }
        };
        for (var, pointer) in &h.map {
            self.settable(&format!("map.{var}"), var);
            if !pointer.is_empty() && !pointer.starts_with('/') {
                self.error(
                    format!("map.{var}"),
                    Problem::Invalid(format!("`{pointer}` is not a JSON pointer (`/field/sub`)")),
                );
            }
        }
        let body = h.body.as_ref().map(|b| self.template("body", b));
        if body.is_some() && method == HttpMethod::Get {
            self.error("body", Problem::Invalid("a GET has no body".into()));
        }
        Http {
            method,
            url: self.template("url", &h.url),
            body,
            timeout: self.millis("timeout_ms", h.timeout_ms, 100, 30_000),
            map: h.map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            on_success: self.target("on_success", &h.on_success),
            on_failure: self.target("on_failure", &h.on_failure),
            on_timeout: self.target("on_timeout", h.on_timeout.as_ref().unwrap_or(&h.on_failure)),
        }
    }

    fn sms(&mut self, s: &raw::Sms) -> Sms {
        if s.purpose.is_empty() || !is_name(&s.purpose) {
            self.error(
                "purpose",
                Problem::Invalid("a name (letters, digits, _ - .)".into()),
            );
        }
        if s.text.trim().is_empty() {
            self.error("text", Problem::Invalid("an SMS needs text".into()));
        }
        let coupon = s.coupon.as_ref().map(|c| {
            let days = self.count("coupon.valid_days", c.valid_days, 1, 3_650);
            (c.campaign.clone(), days)
        });
        Sms {
            to: self.template("to", &s.to),
            text: self.template("text", &s.text),
            purpose: s.purpose.clone(),
            coupon,
            timeout: self.millis("timeout_ms", s.timeout_ms, 100, 60_000),
            next: self.target("next", &s.next),
            on_failure: self.target("on_failure", &s.on_failure),
        }
    }

    fn dial(&mut self, d: &raw::Dial) -> Dial {
        if d.to.is_empty() {
            self.error("to", Problem::Invalid("a dial node needs a target".into()));
        }
        for (i, target) in d.to.iter().enumerate() {
            let uri = target.trim();
            let number = uri.starts_with('+') && d.trunk.is_some();
            if !(uri.starts_with("sip:")
                || uri.starts_with("sips:")
                || uri.starts_with('{')
                || number)
            {
                let what = match d.trunk {
                    Some(_) => "a sip: URI or an E.164 number",
                    None => "a sip: URI (numbers need a trunk)",
                };
                self.error(
                    format!("to[{i}]"),
                    Problem::Invalid(format!("`{uri}` is not {what}")),
                );
            }
        }
        let mode = match d.mode.as_deref() {
            None | Some("sequential") => DialMode::Sequential,
            Some("simultaneous") => DialMode::Simultaneous,
            Some(other) => {
                self.error(
                    "mode",
                    Problem::Invalid(format!("`{other}`: use sequential or simultaneous")),
                );
                DialMode::Sequential
            }
        };
        let seconds = self.count("ring_timeout_s", d.ring_timeout_s, 1, 300);
        Dial {
            to: d
                .to
                .iter()
                .enumerate()
                .map(|(i, t)| self.template(&format!("to[{i}]"), t))
                .collect(),
            trunk: d.trunk.clone(),
            mode,
            ring_timeout: Duration::from_secs(u64::from(seconds)),
            caller_id: d.caller_id.as_ref().map(|c| self.template("caller_id", c)),
            after: d.after.as_ref().map(|a| self.target("after", a)),
            busy: self.target("busy", &d.busy),
            no_answer: self.target("no_answer", &d.no_answer),
            failed: self.target("failed", &d.failed),
        }
    }

    fn consent(&mut self, c: &raw::Consent) -> Consent {
        if c.purpose.is_empty() || !is_name(&c.purpose) {
            self.error(
                "purpose",
                Problem::Invalid("a name (letters, digits, _ - .)".into()),
            );
        }
        let answer = match c.answer.as_str() {
            "granted" => ConsentAnswer::Granted,
            "declined" => ConsentAnswer::Declined,
            "opt_out" => ConsentAnswer::OptOut,
            "opt_in" => ConsentAnswer::OptIn,
            other => {
                self.error(
                    "answer",
                    Problem::Invalid(format!(
                        "`{other}`: use granted, declined, opt_out or opt_in"
                    )),
                );
                ConsentAnswer::Declined
            }
        };
        Consent {
            number: self.template("number", &c.number),
            purpose: c.purpose.clone(),
            answer,
            timeout: self.millis("timeout_ms", c.timeout_ms, 100, 60_000),
            next: self.target("next", &c.next),
            on_failure: self.target("on_failure", &c.on_failure),
        }
    }
}
