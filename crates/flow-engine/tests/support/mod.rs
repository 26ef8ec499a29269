//! Drives a `CallFlow` in simulated time against the shipped flows, prompts and data: lookups
//! are answered from `config/data/*.csv`, and HTTP, coupons, SMS and transfers by a plan the
//! test sets. Every playlist is checked against the prompt set of its language.
#![allow(dead_code, unreachable_pub, clippy::disallowed_methods)] // shared by several test files; t0 is the epoch

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flow_engine::{
    CallFlow, CallInfo, CallSummary, Catalog, Disposition, FlowSet, HttpOutcome, Input, Output,
    Playable, RequestId, SmsRequest, SourceFile,
};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A CSV file: header and rows (the shipped data has no quoted commas).
fn csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).expect("shipped data file");
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

/// Data sources as ivrd.toml configures them: name → (file, key column).
pub const SOURCES: &[(&str, &str, &str)] = &[
    ("customers", "customers.csv", "phone"),
    ("contracts", "customers.csv", "contract"),
    ("outages", "outages.csv", "area"),
];

pub fn catalog() -> Catalog {
    let mut c = Catalog::default();
    for lang in ["en", "de", "uk"] {
        let dir = root().join("audio/prompts").join(lang);
        let names = std::fs::read_dir(&dir).unwrap().map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        });
        c.add_prompts(lang, names);
    }
    for (name, file, _) in SOURCES {
        let (header, _) = csv(&root().join("config/data").join(file));
        c.add_source(name, header);
    }
    // The shipped queues' names (`[queues.NAME]` headers of config/queues.toml).
    let queues = std::fs::read_to_string(root().join("config/queues.toml")).unwrap();
    for line in queues.lines() {
        let name = line
            .trim()
            .strip_prefix("[queues.")
            .and_then(|l| l.strip_suffix(']'));
        if let Some(name) = name.filter(|n| !n.contains('.')) {
            c.add_queue(name);
        }
    }
    c
}

/// The shipped flows, with `edit` applied to each file's text.
pub fn flows_with(edit: impl Fn(&str, String) -> String) -> Arc<FlowSet> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root().join("config/flows")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = edit(&name, std::fs::read_to_string(&path).unwrap());
            files.push(SourceFile {
                name,
                file: path.display().to_string(),
                text,
            });
        }
    }
    match flow_engine::load(&files, &catalog()) {
        Ok(set) => Arc::new(set),
        Err(errors) => panic!(
            "shipped flows invalid:\n{}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

pub fn flows() -> Arc<FlowSet> {
    flows_with(|_, text| text)
}

/// Header, rows, key column.
type Table = (Vec<String>, Vec<Vec<String>>, usize);

/// How the simulated world answers.
#[derive(Clone, Debug)]
pub enum HttpPlan {
    Respond(u16, &'static str),
    Fail,
    /// Never answer: the engine's own deadline fires.
    Silent,
}

pub struct Sim {
    pub call: CallFlow,
    pub t0: Instant,
    pub now: Instant,
    tables: HashMap<String, Table>,
    pub http: HttpPlan,
    pub sms_ok: bool,
    pub coupon_ok: bool,
    pub transfer_ok: bool,
    playing: Option<RequestId>,
    /// Every playlist, as `language:name name …`.
    pub played: Vec<String>,
    pub http_urls: Vec<String>,
    pub sms: Vec<SmsRequest>,
    /// Consent answers recorded, as `number purpose answer`.
    pub consents: Vec<String>,
    pub transfers: Vec<String>,
    /// Dial requests, as `mode targets… timeout caller_id`.
    pub dials: Vec<String>,
    /// How the next dial ends; `None`: never answered (the engine's deadline fires).
    pub dial_plan: Option<flow_engine::DialOutcome>,
    /// The dial request of the bridged call, to end it with `BridgeEnded`.
    pub dialled: Option<RequestId>,
    /// Queue requests, as `queue priority exit_key callback`, and the last one's id.
    pub queued: Vec<String>,
    pub queue_request: Option<RequestId>,
    pub events: Vec<String>,
    pub summary: Option<CallSummary>,
    pub hung_up: bool,
    next_serial: u32,
}

impl Sim {
    pub fn new(flow: &str, ani: &str, local_time: &str) -> Self {
        Self::with(flows(), flow, ani, local_time)
    }

    /// `local_time` is `YYYY-MM-DDTHH:MM` in Europe/Berlin.
    pub fn with(set: Arc<FlowSet>, flow: &str, ani: &str, local_time: &str) -> Self {
        let t0 = Instant::now();
        let unix_ms = format!("{local_time}:00[Europe/Berlin]")
            .parse::<jiff::Zoned>()
            .unwrap()
            .timestamp()
            .as_millisecond();
        let id = set.find(flow).unwrap();
        let info = CallInfo {
            call_id: "call-1".into(),
            ani: ani.into(),
            dnis: "100".into(),
            unix_ms,
            vars: Vec::new(),
        };
        let mut tables = HashMap::new();
        for (name, file, key) in SOURCES {
            let (header, rows) = csv(&root().join("config/data").join(file));
            let k = header.iter().position(|h| h == key).unwrap();
            tables.insert(name.to_string(), (header, rows, k));
        }
        let mut sim = Self {
            call: CallFlow::new(t0, set, id, info),
            t0,
            now: t0,
            tables,
            http: HttpPlan::Respond(
                200,
                r#"{"available": true, "url": "https://chat.example/s/abc"}"#,
            ),
            sms_ok: true,
            consents: Vec::new(),
            coupon_ok: true,
            transfer_ok: true,
            playing: None,
            played: Vec::new(),
            http_urls: Vec::new(),
            sms: Vec::new(),
            transfers: Vec::new(),
            dials: Vec::new(),
            dial_plan: Some(flow_engine::DialOutcome::Answered(
                "sip:sales@127.0.0.1:5080".into(),
            )),
            dialled: None,
            queued: Vec::new(),
            queue_request: None,
            events: Vec::new(),
            summary: None,
            hung_up: false,
            next_serial: 0,
        };
        sim.input(Input::Answered);
        sim
    }

    pub fn input(&mut self, input: Input) {
        self.call.handle_input(self.now, input);
        self.drain();
    }

    fn drain(&mut self) {
        let mut answers = Vec::new();
        while let Some(out) = self.call.poll_output() {
            match out {
                Output::Play {
                    id,
                    language,
                    items,
                    ..
                } => {
                    let names: Vec<String> = items
                        .iter()
                        .map(|p| match p {
                            Playable::Prompt(n) => {
                                assert!(
                                    self.has_prompt(&language, n),
                                    "prompt {language}/{n} missing"
                                );
                                n.clone()
                            }
                            Playable::Silence(ms) => format!("silence-{ms}"),
                        })
                        .collect();
                    self.played.push(format!("{language}:{}", names.join(" ")));
                    self.playing = Some(id);
                }
                Output::StopPlayback => self.playing = None,
                Output::Lookup { id, source, key } => {
                    let (header, rows, k) = &self.tables[&source];
                    let record = rows
                        .iter()
                        .find(|r| r[*k] == key)
                        .map(|r| header.iter().cloned().zip(r.iter().cloned()).collect());
                    answers.push(Input::LookupResult { id, record });
                }
                Output::Http { id, url, .. } => {
                    self.http_urls.push(url);
                    match &self.http {
                        HttpPlan::Respond(status, body) => answers.push(Input::HttpResult {
                            id,
                            outcome: HttpOutcome::Response {
                                status: *status,
                                body: body.to_string(),
                            },
                        }),
                        HttpPlan::Fail => answers.push(Input::HttpResult {
                            id,
                            outcome: HttpOutcome::Failed("connection refused".into()),
                        }),
                        HttpPlan::Silent => {}
                    }
                }
                Output::IssueCoupon { id, .. } => {
                    self.next_serial += 1;
                    let serial = self
                        .coupon_ok
                        .then(|| format!("SERIAL{}", self.next_serial));
                    answers.push(Input::CouponIssued { id, serial });
                }
                Output::SendSms(sms) => {
                    let id = sms.id;
                    self.sms.push(sms);
                    let outcome = if self.sms_ok {
                        Ok(())
                    } else {
                        Err("opted out".into())
                    };
                    answers.push(Input::SmsResult { id, outcome });
                }
                Output::RecordConsent {
                    id,
                    number,
                    purpose,
                    answer,
                } => {
                    self.consents.push(format!("{number} {purpose} {answer:?}"));
                    answers.push(Input::ConsentResult {
                        id,
                        outcome: Ok(()),
                    });
                }
                Output::Transfer { id, target } => {
                    self.transfers.push(target);
                    answers.push(Input::TransferResult {
                        id,
                        ok: self.transfer_ok,
                    });
                }
                Output::Dial {
                    id,
                    targets,
                    mode,
                    ring_timeout,
                    caller_id,
                    ..
                } => {
                    self.dials.push(format!(
                        "{mode:?} {} {}s {}",
                        targets.join(" "),
                        ring_timeout.as_secs(),
                        caller_id.unwrap_or_default()
                    ));
                    self.dialled = Some(id);
                    if let Some(outcome) = self.dial_plan.clone() {
                        answers.push(Input::DialResult { id, outcome });
                    }
                }
                Output::Enqueue {
                    id,
                    queue,
                    priority,
                    exit_key,
                    callback,
                } => {
                    self.queued
                        .push(format!("{queue} {priority} {exit_key} {callback}"));
                    self.queue_request = Some(id);
                }
                Output::HangUp => self.hung_up = true,
                Output::Event(e) => self.events.push(e.name),
                Output::Finished(s) => self.summary = Some(s),
                other => panic!("unexpected output {other:?}"),
            }
        }
        for a in answers {
            self.call.handle_input(self.now, a);
            self.drain();
        }
        if let Some(at) = self.call.poll_timeout() {
            assert!(at >= self.now, "deadline in the past");
        }
    }

    fn has_prompt(&self, language: &str, name: &str) -> bool {
        root()
            .join("audio/prompts")
            .join(language)
            .join(format!("{name}.wav"))
            .exists()
    }

    /// Lets the current playlist play out (3 s of simulated time).
    pub fn play_out(&mut self) {
        let id = self.playing.take().expect("a playlist is playing");
        self.now += Duration::from_secs(3);
        self.input(Input::PlaybackFinished(id));
    }

    /// Plays out every playlist until the flow waits for a key or ends.
    pub fn settle(&mut self) {
        while self.playing.is_some() && self.summary.is_none() {
            self.play_out();
        }
    }

    pub fn press(&mut self, keys: &str) {
        for k in keys.chars() {
            self.now += Duration::from_millis(300);
            self.input(Input::Digit(k));
        }
    }

    /// Jumps to the next deadline and fires it.
    pub fn time_out(&mut self) {
        let at = self.call.poll_timeout().expect("a deadline is armed");
        self.now = at;
        self.input(Input::Timeout);
    }

    pub fn disposition(&self) -> &Disposition {
        &self
            .summary
            .as_ref()
            .expect("the flow finished")
            .disposition
    }

    pub fn path(&self) -> Vec<String> {
        self.call
            .trace()
            .iter()
            .map(|s| format!("{} {}", s.node.split('/').nth(1).unwrap(), s.outcome))
            .collect()
    }

    pub fn last_played(&self) -> &str {
        self.played.last().map_or("", String::as_str)
    }
}
