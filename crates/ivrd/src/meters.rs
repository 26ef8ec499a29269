//! Prometheus metrics on the `metrics` facade, rendered by `GET /metrics` (no listener of
//! their own). Label values come from config names and enums only, never a number or a
//! Call-ID: a flow's node and outcome, a queue's name, a disposition, a class of response.
//!
//! What is counted where:
//! - a call's totals, answer time, duration, its flow's node outcomes and the deflection funnel:
//!   from its CDR when it ends ([`call_record`]);
//! - SIP counters and the live gauges: published from the SIP loop once a second and before
//!   every scrape ([`publish`]);
//! - RTP packets and jitter: by the media workers (`serve::media_meters`);
//! - digits, prompt plays and queue journal events: as they happen;
//! - SMS: by the SMS side as messages move (`sms`).

use call_control::{CallRecord, QueueEvent, QueueEventKind, Switch};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sip_ua::EndpointStats;

/// Histogram buckets (seconds) by metric.
const BUCKETS: [(&str, &[f64]); 5] = [
    (
        "ivrd_call_answer_seconds",
        &[0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0],
    ),
    (
        "ivrd_call_duration_seconds",
        &[
            1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
        ],
    ),
    (
        "ivrd_rtp_jitter_seconds",
        &[0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2],
    ),
    (
        "ivrd_rtcp_rtt_seconds",
        &[0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0],
    ),
    (
        "ivrd_queue_wait_seconds",
        &[
            5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0,
        ],
    ),
];

/// Installs the recorder for this process; its handle renders the scrape.
pub(crate) fn install() -> anyhow::Result<PrometheusHandle> {
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in BUCKETS {
        builder = builder.set_buckets_for_metric(Matcher::Full(name.into()), buckets)?;
    }
    let handle = builder.install_recorder()?;
    describe();
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(
        "ivrd_calls_active",
        "Legs up or being set up now, by direction."
    );
    describe_counter!(
        "ivrd_calls_total",
        "Legs ended, by direction and disposition."
    );
    describe_histogram!(
        "ivrd_call_answer_seconds",
        "From a leg's INVITE to its answer."
    );
    describe_histogram!("ivrd_call_duration_seconds", "Talk time of answered legs.");
    describe_counter!("ivrd_sip_responses_total", "SIP responses sent, by class.");
    describe_counter!("ivrd_sip_requests_sent_total", "SIP requests sent.");
    describe_counter!(
        "ivrd_sip_retransmissions_total",
        "SIP messages resent (sent) or absorbed (received)."
    );
    describe_counter!(
        "ivrd_sip_malformed_total",
        "SIP messages that failed parsing or checks."
    );
    describe_gauge!("ivrd_sip_dialogs", "Live SIP dialogs and pending INVITEs.");
    describe_gauge!(
        "ivrd_trunk_up",
        "1 while a trunk is registered (where it registers) and answering OPTIONS (where kept alive)."
    );
    describe_counter!("ivrd_rtp_packets_total", "RTP packets in (audio) and out.");
    describe_counter!(
        "ivrd_rtp_problem_packets_total",
        "RTP packets lost, late, duplicate or unusable."
    );
    describe_histogram!(
        "ivrd_rtp_jitter_seconds",
        "Each leg's RFC 3550 interarrival jitter at its end."
    );
    describe_counter!(
        "ivrd_rtcp_reports_total",
        "RTCP compound reports sent and received (read, from the peer)."
    );
    describe_histogram!(
        "ivrd_rtcp_rtt_seconds",
        "Each leg's largest RTCP round-trip time, at its end (legs whose peer sent reports)."
    );
    describe_counter!("ivrd_dtmf_digits_total", "Key presses heard, by source.");
    describe_counter!("ivrd_prompt_plays_total", "Playlists started.");
    describe_counter!(
        "ivrd_flow_outcomes_total",
        "Flow nodes left, by flow, node and outcome."
    );
    describe_counter!("ivrd_deflection_total", "The deflection funnel, by stage.");
    describe_gauge!("ivrd_queue_waiting", "Callers in line, by queue.");
    describe_gauge!("ivrd_agents", "Agents by status and state.");
    describe_histogram!(
        "ivrd_queue_wait_seconds",
        "Time in line, by queue and how it ended."
    );
    describe_counter!(
        "ivrd_queue_calls_total",
        "Callers who left a queue, by how (connect, abandon, exits)."
    );
}

/// A leg ended.
pub(crate) fn call_record(r: &CallRecord) {
    let direction = r.kind.direction();
    counter!("ivrd_calls_total", "direction" => direction, "outcome" => r.disposition.name())
        .increment(1);
    if let Some(answer) = r.answered_after {
        histogram!("ivrd_call_answer_seconds", "direction" => direction)
            .record(answer.as_secs_f64());
        histogram!("ivrd_call_duration_seconds", "direction" => direction)
            .record(r.talk_time().as_secs_f64());
    }
    for step in &r.path {
        let (flow, node) = step.node.split_once('/').unwrap_or(("", &step.node));
        counter!(
            "ivrd_flow_outcomes_total",
            "flow" => flow.to_string(),
            "node" => node.to_string(),
            "outcome" => step.outcome_label().to_string()
        )
        .increment(1);
    }
    for stage in crate::cdr::funnel(r) {
        funnel(stage);
    }
}

/// One more at a stage of the deflection funnel (`offered`, `accepted`, `declined`,
/// `timed_out`, `sms_accepted`, `sms_delivered`, `chat_started`).
pub(crate) fn funnel(stage: &str) {
    let stage = match stage {
        "offered" => "offered",
        "accepted" => "accepted",
        "declined" => "declined",
        "timed_out" => "timed_out",
        "sms_accepted" => "sms_accepted",
        "sms_delivered" => "sms_delivered",
        "chat_started" => "chat_started",
        _ => "other",
    };
    counter!("ivrd_deflection_total", "stage" => stage).increment(1);
}

pub(crate) fn digit(source: media::DigitSource) {
    let source = match source {
        media::DigitSource::Rfc4733 => "rfc4733",
        media::DigitSource::InBand => "inband",
        media::DigitSource::SipInfo => "sip_info",
    };
    counter!("ivrd_dtmf_digits_total", "source" => source).increment(1);
}

pub(crate) fn prompt_play() {
    counter!("ivrd_prompt_plays_total").increment(1);
}

/// The SIP endpoint's counters and the core's live gauges.
pub(crate) fn publish(sip: EndpointStats, dialogs: usize, core: &Switch) {
    for (i, n) in sip.responses.iter().enumerate() {
        const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"];
        counter!("ivrd_sip_responses_total", "class" => CLASSES[i]).absolute(*n);
    }
    counter!("ivrd_sip_requests_sent_total").absolute(sip.requests);
    counter!("ivrd_sip_retransmissions_total", "way" => "sent").absolute(sip.retransmissions_sent);
    counter!("ivrd_sip_retransmissions_total", "way" => "received")
        .absolute(sip.retransmissions_received);
    counter!("ivrd_sip_malformed_total").absolute(sip.malformed);
    gauge!("ivrd_sip_dialogs").set(dialogs as f64);
    let (inbound, outbound) = core.live_legs();
    gauge!("ivrd_calls_active", "direction" => "inbound").set(inbound as f64);
    gauge!("ivrd_calls_active", "direction" => "outbound").set(outbound as f64);
    for (queue, waiting) in core.queue_waiting() {
        gauge!("ivrd_queue_waiting", "queue" => queue.to_string()).set(waiting as f64);
    }
    let mut agents: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    for a in core.agent_views() {
        *agents.entry((a.status, a.state)).or_default() += 1;
    }
    for status in ["logged_out", "available", "on_break"] {
        for state in ["idle", "ringing", "on_call", "wrap_up"] {
            let n = agents.get(&(status, state)).copied().unwrap_or(0);
            gauge!("ivrd_agents", "status" => status, "state" => state).set(n as f64);
        }
    }
}

/// A queue journal event.
pub(crate) fn queue_event(e: &QueueEvent) {
    let (outcome, waited) = match &e.kind {
        QueueEventKind::Connect { waited, .. } => ("connect", *waited),
        QueueEventKind::Abandon { waited } => ("abandon", *waited),
        QueueEventKind::Exit { outcome, waited } => (*outcome, *waited),
        _ => return,
    };
    let queue = e.queue.clone();
    counter!("ivrd_queue_calls_total", "queue" => queue.clone(), "outcome" => outcome).increment(1);
    histogram!("ivrd_queue_wait_seconds", "queue" => queue, "outcome" => outcome)
        .record(waited.as_secs_f64());
}

/// A message offered to the outbox: taken, or refused by the guard (and why).
pub(crate) fn sms_enqueued(result: &Result<sms_gateway::Enqueued, sms_gateway::SmsError>) {
    match result {
        Ok(sms_gateway::Enqueued::New(_)) => counter!("ivrd_sms_enqueued_total").increment(1),
        Ok(sms_gateway::Enqueued::Existing(_)) => {}
        Err(e) => counter!("ivrd_sms_refused_total", "reason" => e.kind()).increment(1),
    }
}

/// The provider's answer to a submission.
pub(crate) fn sms_submitted(provider: &'static str, result: &sms_gateway::SubmitResult) {
    let result = match result {
        sms_gateway::SubmitResult::Accepted { .. } => "accepted",
        sms_gateway::SubmitResult::Retryable { .. } => "retryable",
        sms_gateway::SubmitResult::Permanent { .. } => "permanent",
    };
    counter!("ivrd_sms_submits_total", "provider" => provider, "result" => result).increment(1);
}

/// A delivery receipt, for a message sent for `purpose` (if it is still in memory); whether
/// it delivered a chat link (the deflection funnel's `sms_delivered`).
pub(crate) fn sms_receipt(status: &sms_gateway::ReceiptStatus, purpose: Option<&str>) -> bool {
    let status = match status {
        sms_gateway::ReceiptStatus::Delivered => "delivered",
        sms_gateway::ReceiptStatus::InTransit => "in_transit",
        sms_gateway::ReceiptStatus::Failed(_) => "failed",
    };
    counter!("ivrd_sms_receipts_total", "status" => status).increment(1);
    let chat_link = status == "delivered" && purpose.is_some_and(|p| p.contains("chat"));
    if chat_link {
        funnel("sms_delivered");
    }
    chat_link
}

/// A number opted out (or back in).
pub(crate) fn sms_opt_out(opted_out: bool) {
    let change = if opted_out { "out" } else { "in" };
    counter!("ivrd_sms_opt_outs_total", "change" => change).increment(1);
}

/// The outbox's messages by state.
pub(crate) fn sms_outbox(by_state: &std::collections::BTreeMap<&'static str, usize>) {
    for state in sms_gateway::State::NAMES {
        let n = by_state.get(state).copied().unwrap_or(0);
        gauge!("ivrd_sms_outbox", "state" => state).set(n as f64);
    }
}
