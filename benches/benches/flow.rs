//! Flow engine cost per step: compiling the shipped flows, and one caller going through the
//! ISP menu (greeting, lookups, menu, collect with readback, SMS), inputs fed as the daemon
//! does. Read as medians, against each other across changes.
#![allow(missing_docs, clippy::disallowed_methods)] // criterion entry points; the bench's epoch

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use flow_engine::{CallFlow, CallInfo, Catalog, FlowSet, Input, Output, SourceFile};

fn files() -> (Vec<SourceFile>, Catalog) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut catalog = Catalog::default();
    for lang in ["en", "de", "uk"] {
        let names = std::fs::read_dir(root.join("audio/prompts").join(lang))
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .path()
                    .file_stem()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            });
        catalog.add_prompts(lang, names);
    }
    let columns = |h: &str| h.split(',').map(String::from).collect::<Vec<_>>();
    catalog.add_source(
        "customers",
        columns("phone,contract,name,area,balance,trust_blocked_until"),
    );
    catalog.add_source(
        "contracts",
        columns("phone,contract,name,area,balance,trust_blocked_until"),
    );
    catalog.add_source("outages", columns("area,until"));
    let files = ["deflection", "coupon", "isp", "demo"]
        .iter()
        .map(|n| SourceFile {
            name: n.to_string(),
            file: n.to_string(),
            text: std::fs::read_to_string(root.join("config/flows").join(format!("{n}.toml")))
                .unwrap(),
        })
        .collect();
    (files, catalog)
}

/// One ISP call: balance by SMS, then hang up. Returns the outputs seen.
fn isp_call(set: &Arc<FlowSet>, t0: Instant) -> usize {
    let id = set.find("isp").unwrap();
    let info = CallInfo {
        call_id: "c".into(),
        ani: "+15551230001".into(),
        dnis: "300".into(),
        unix_ms: 1_795_300_000_000,
        vars: Vec::new(),
    };
    let mut call = CallFlow::new(t0, set.clone(), id, info);
    let mut now = t0;
    let mut seen = 0;
    let mut inputs = vec![Input::Answered];
    let keys = "##22223333#1";
    let mut k = keys.chars();
    while let Some(input) = inputs.pop() {
        call.handle_input(now, input);
        while let Some(out) = call.poll_output() {
            seen += 1;
            match out {
                Output::Lookup { id, .. } => inputs.push(Input::LookupResult {
                    id,
                    record: Some(vec![
                        ("phone".into(), "+15551230001".into()),
                        ("area".into(), "x".into()),
                    ]),
                }),
                Output::SendSms(s) => inputs.push(Input::SmsResult {
                    id: s.id,
                    outcome: Ok(()),
                }),
                // Prompts without barge-in play to their end; the others are cut by the next key.
                Output::Play {
                    id,
                    barge_in: false,
                    ..
                } => inputs.push(Input::PlaybackFinished(id)),
                _ => {}
            }
        }
        now += Duration::from_millis(300);
        if inputs.is_empty() {
            match k.next() {
                Some(key) => inputs.push(Input::Digit(key)),
                None => inputs.push(Input::HungUp),
            }
        }
        if call.is_finished() {
            break;
        }
    }
    assert!(
        call.trace().iter().any(|s| s.outcome == "sms_accepted"),
        "{:?}",
        call.trace()
    );
    seen
}

fn bench(c: &mut Criterion) {
    let (files, catalog) = files();
    c.bench_function("flow/compile_shipped_flows", |b| {
        b.iter(|| flow_engine::load(black_box(&files), &catalog).unwrap())
    });
    let set = Arc::new(flow_engine::load(&files, &catalog).unwrap());
    let t0 = Instant::now();
    c.bench_function("flow/isp_balance_call", |b| {
        b.iter(|| isp_call(black_box(&set), t0))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
