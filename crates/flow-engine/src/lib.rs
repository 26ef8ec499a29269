//! Call flows for ivrd. Flow files (TOML, one flow per file, see `docs/flows.md`) are parsed
//! into a serde mirror ([`raw`]), then compiled against a [`Catalog`] of prompts and data
//! sources into a [`FlowSet`]: a typed graph with no dangling target, no missing prompt and no
//! variable that nothing sets. [`load`] reports every error of every file at once, each with its
//! file, node and field.
//!
//! A [`CallFlow`] runs one call. It does no IO and reads no clock: the daemon feeds it
//! [`Input`]s with `now`, drains [`Output`]s (play, HTTP request, lookup, SMS, transfer, hang
//! up, events) after every input, and sleeps until [`CallFlow::poll_timeout`].
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//! use flow_engine::{CallFlow, CallInfo, Catalog, Input, Output, SourceFile};
//!
//! let text = r#"
//! [flow]
//! start = "hello"
//! [nodes.hello]
//! type = "play"
//! prompts = ["welcome"]
//! next = "bye"
//! [nodes.bye]
//! type = "hangup"
//! "#;
//! let mut catalog = Catalog::default();
//! catalog.add_prompts("en", ["welcome"]);
//! let file = SourceFile { name: "demo".into(), file: "demo.toml".into(), text: text.into() };
//! let set = Arc::new(flow_engine::load(&[file], &catalog).expect("valid"));
//! # #[allow(clippy::disallowed_methods)]
//! let t0 = Instant::now();
//! let demo = set.find("demo").unwrap();
//! let mut call = CallFlow::new(t0, set, demo, CallInfo::default());
//! call.handle_input(t0, Input::Answered);
//! let Some(Output::Play { id, .. }) = call.poll_output() else { panic!() };
//! call.handle_input(t0 + Duration::from_secs(2), Input::PlaybackFinished(id));
//! assert_eq!(call.poll_output(), Some(Output::HangUp));
//! assert!(matches!(call.poll_output(), Some(Output::Finished(_))));
//! ```

mod compile;
mod engine;
mod error;
mod graph;
mod io;
pub mod raw;
mod say;
mod template;
mod vars;

pub use compile::{Catalog, SourceFile, load};
pub use engine::CallFlow;
pub use error::{ConfigError, Problem};
pub use graph::{DialMode, FlowId, FlowSet};
pub use io::{
    CallInfo, CallSummary, ConsentAnswer, DialOutcome, Disposition, DropCause, Entry, FlowEvent,
    HttpMethod, HttpOutcome, Input, Output, Playable, QueueOutcome, RequestId, SmsRequest,
    TraceStep,
};
pub use vars::{BUILTINS, Vars};

/// Every prompt name `number`, `amount` and `time` items can play in `language` with
/// `currency`, or `None` for a language without number rules (for prompt generation scripts).
pub fn say_fragments(language: &str, currency: &str) -> Option<Vec<String>> {
    let lang = say::Language::from_code(language)?;
    let currency = say::Currency::from_code(currency)?;
    Some(say::fragments(lang, currency))
}

/// The prompt names that say `n` in `language` (`num-…` fragments), or `None` for a language
/// without number rules (queue positions and waits).
pub fn say_number(language: &str, n: u64) -> Option<Vec<String>> {
    let lang = say::Language::from_code(language)?;
    say::number(lang, &n.to_string())
}
