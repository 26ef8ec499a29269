//! After the SIPp scenarios: what the operations surface says of them. `GET /metrics` must count
//! each call, digit source, response class and the malformed datagram sent on purpose, and its
//! flow outcomes must be the sum of the CDRs' paths; `GET /cdrs` must hold one record per call
//! with the disposition, path and durations that call had, and `ivrd cdr export` the same.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use crate::common::{self, Ivrd};

/// A call a scenario made: its Call-ID, scenario and hold.
pub(crate) struct Made {
    pub(crate) call_id: String,
    pub(crate) scenario: &'static str,
    pub(crate) hold_ms: u32,
}

/// One sample of `name` with exactly these labels (sorted `k="v"` pairs), if present.
fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut want: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    want.sort();
    metrics.lines().find_map(|line| {
        let (key, value) = line.rsplit_once(' ')?;
        let (n, rest) = key.split_once('{').unwrap_or((key, "}"));
        if n != name {
            return None;
        }
        let mut got: Vec<String> = rest
            .trim_end_matches('}')
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        got.sort();
        (got == want).then(|| value.parse().ok()).flatten()
    })
}

fn value(metrics: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(metrics, name, labels).unwrap_or(0.0)
}

pub(crate) fn check(ivrd: &Ivrd, http: u16, token: &str, made: &[Made], pcap: bool) -> Vec<String> {
    let mut failures = Vec::new();
    // A datagram that is no SIP message at all.
    let junk = std::net::UdpSocket::bind("127.0.0.1:0").expect("socket");
    junk.send_to(b"NOT SIP AT ALL\r\n\r\n", ("127.0.0.1", ivrd.port))
        .expect("send");
    std::thread::sleep(std::time::Duration::from_millis(300));

    let auth = format!("Bearer {token}");
    // The last call's record is written once its media has reported: give it a moment.
    let count = || {
        let (_, text) = common::http(
            "GET",
            http,
            "/cdrs?since=0",
            &[("Authorization", &auth)],
            "",
        );
        text.lines().count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count() < made.len() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (status, cdr_text) = common::http(
        "GET",
        http,
        "/cdrs?since=0",
        &[("Authorization", &auth)],
        "",
    );
    if status != 200 {
        return vec![format!("GET /cdrs: {status} {cdr_text}")];
    }
    let cdrs: Vec<Value> = cdr_text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let (status, metrics) = common::http("GET", http, "/metrics", &[], "");
    if status != 200 {
        return vec![format!("GET /metrics: {status} {metrics}")];
    }
    let mut expect = |what: &str, got: f64, ok: bool| {
        if !ok {
            failures.push(format!("metrics: {what} = {got}"));
        }
    };

    // Calls by disposition, as the scenarios ended them.
    let cancelled = made.iter().filter(|m| m.scenario == "cancel").count() as f64;
    let hung_up = made.len() as f64 - cancelled;
    let labels = |outcome| [("direction", "inbound"), ("outcome", outcome)];
    let n = value(&metrics, "ivrd_calls_total", &labels("caller_hung_up"));
    expect("calls caller_hung_up", n, n == hung_up);
    let n = value(&metrics, "ivrd_calls_total", &labels("cancelled"));
    expect("calls cancelled", n, n == cancelled);
    let n = value(&metrics, "ivrd_calls_active", &[("direction", "inbound")]);
    expect("calls active", n, n == 0.0);
    // Digits by source: dtmf-pt96 "123" (and the pcap's "47"), in-band "159", INFO "4*".
    let rfc4733 = if pcap { 5.0 } else { 3.0 };
    for (source, want) in [("rfc4733", rfc4733), ("inband", 3.0), ("sip_info", 2.0)] {
        let n = value(&metrics, "ivrd_dtmf_digits_total", &[("source", source)]);
        expect(&format!("digits {source}"), n, n == want);
    }
    let n = value(&metrics, "ivrd_sip_responses_total", &[("class", "2xx")]);
    expect("2xx sent", n, n >= 2.0 * hung_up);
    let n = value(&metrics, "ivrd_sip_responses_total", &[("class", "4xx")]);
    expect("4xx sent (487 to the CANCELled INVITE)", n, n >= cancelled);
    let n = value(&metrics, "ivrd_sip_malformed_total", &[]);
    expect("malformed", n, n >= 1.0);
    let n = value(&metrics, "ivrd_rtp_packets_total", &[("direction", "out")]);
    expect("RTP out", n, n > 100.0);
    let n = value(&metrics, "ivrd_rtp_packets_total", &[("direction", "in")]);
    expect("RTP in", n, n > 10.0);
    let n = value(&metrics, "ivrd_prompt_plays_total", &[]);
    expect("prompt plays", n, n >= hung_up);
    let n = value(
        &metrics,
        "ivrd_call_answer_seconds_count",
        &[("direction", "inbound")],
    );
    expect("answer-time histogram count", n, n == hung_up);
    // Flow outcomes are the CDRs' paths, counted.
    let mut steps: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    for c in &cdrs {
        for step in c["path"].as_array().into_iter().flatten() {
            let step = step.as_str().unwrap_or_default();
            let Some((node, rest)) = step.split_once(':') else {
                continue;
            };
            let outcome = rest.rsplit_once('@').map_or(rest, |(o, _)| o);
            let (flow, node) = node.split_once('/').unwrap_or(("", node));
            *steps
                .entry((flow.into(), node.into(), outcome.into()))
                .or_default() += 1.0;
        }
    }
    for ((flow, node, outcome), want) in &steps {
        let labels = [
            ("flow", flow.as_str()),
            ("node", node.as_str()),
            ("outcome", outcome.as_str()),
        ];
        let n = value(&metrics, "ivrd_flow_outcomes_total", &labels);
        expect(
            &format!("flow outcome {flow}/{node} {outcome} (CDRs: {want})"),
            n,
            n == *want,
        );
    }
    if steps.is_empty() {
        failures.push("no flow steps in the CDRs".into());
    }

    // One CDR per call, saying what happened.
    for m in made {
        let mine: Vec<&Value> = cdrs
            .iter()
            .filter(|c| c["id"] == m.call_id.as_str())
            .collect();
        let [c] = mine.as_slice() else {
            failures.push(format!(
                "{}: {} CDRs for {}",
                m.scenario,
                mine.len(),
                m.call_id
            ));
            continue;
        };
        let disposition = c["disposition"].as_str().unwrap_or_default();
        let path = c["path"].as_array().map_or(0, Vec::len);
        let talk = c["talk_ms"].as_u64().unwrap_or_default();
        let problem = match m.scenario {
            "cancel" if disposition != "cancelled" => Some("not cancelled"),
            "cancel" if !c["answer_ms"].is_null() || path != 0 => Some("answered or has a path"),
            "cancel" => None,
            _ if disposition != "caller_hung_up" => Some("not caller_hung_up"),
            _ if c["ended_by"] != "remote" => Some("not ended by the caller"),
            _ if path == 0 => Some("no path"),
            _ if !c["path"][0]
                .as_str()
                .unwrap_or_default()
                .starts_with("demo/welcome:") =>
            {
                Some("path does not start at demo/welcome")
            }
            "basic" | "late-offer"
                if talk + 200 < u64::from(m.hold_ms) || talk > u64::from(m.hold_ms) + 2000 =>
            {
                Some("talk time is not the hold")
            }
            "dtmf-inband"
                if c["rtp"]["received"].as_u64().unwrap_or_default() < 10
                    || !c["rtp"]["jitter_ms"].as_f64().is_some_and(|j| j < 40.0) =>
            {
                Some("RTP quality missing")
            }
            _ => None,
        };
        if let Some(problem) = problem {
            failures.push(format!("{} CDR: {problem}: {c}", m.scenario));
        }
    }

    // CSV over HTTP and from the command line: a header and a line per record, the same.
    let (_, csv) = common::http(
        "GET",
        http,
        "/cdrs?since=0&format=csv",
        &[("Authorization", &auth)],
        "",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ivrd"))
        .args(["cdr", "export", "--format", "csv", "--store"])
        .arg(ivrd.var.join("ivrd.sqlite"))
        .output()
        .expect("ivrd cdr export");
    let exported = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || exported != csv || csv.lines().count() != cdrs.len() + 1 {
        failures.push(format!(
            "CSV: {} lines over HTTP, {} exported ({}), {} records",
            csv.lines().count(),
            exported.lines().count(),
            String::from_utf8_lossy(&out.stderr),
            cdrs.len()
        ));
    }
    if !csv.starts_with("id,sip_call_id,kind,") {
        failures.push(format!(
            "CSV header: {}",
            csv.lines().next().unwrap_or_default()
        ));
    }
    failures
}
