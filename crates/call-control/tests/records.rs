//! Call detail records on a jumped clock: every leg ends with one record, and its disposition,
//! path, keys and times say what happened to it. Each test is named after what the record
//! tells.

mod support;

use std::time::Duration;

use call_control::{CallRecord, Disposition, LegKind};
use media::{DigitSource, MediaEvent};
use sip_ua::Command;
use support::{Script, Sim};

const HELLO: &str = r#"
[flow]
start = "welcome"
languages = ["en"]

[nodes.welcome]
type = "play"
prompts = ["welcome", "goodbye"]
next = "bye"

[nodes.bye]
type = "hangup"
"#;

const ACCOUNT: &str = r##"
[flow]
start = "account"
languages = ["en"]

[nodes.account]
type = "collect"
prompts = ["enter-contract"]
store = "contract"
min_digits = 4
max_digits = 8
terminator = "#"
sensitive = true
max_attempts = 3
next = "menu"
on_failure = "bye"

[nodes.menu]
type = "menu"
greeting = ["main-menu"]
choices = { "2" = "bye" }
timeout_ms = 5000
on_failure = "bye"

[nodes.bye]
type = "hangup"
"##;

const DIAL: &str = r#"
[flow]
start = "agent"
languages = ["en"]

[nodes.agent]
type = "dial"
to = ["sip:agent@10.0.0.3:5060"]
ring_timeout_s = 20
after = "bye"
busy = "bye"
no_answer = "bye"
failed = "bye"

[nodes.bye]
type = "hangup"
"#;

const START_MS: i64 = 1_790_000_000_000;

fn sim(flow: &str, agent: Script) -> Sim {
    let flows = support::flows(&[("hello", HELLO), ("account", ACCOUNT), ("agent", DIAL)]);
    Sim::new(flows, flow, &[], &[Script::Silent, agent])
}

fn only(s: &Sim) -> &CallRecord {
    assert_eq!(s.records.len(), 1, "one record:\n{:#?}", s.records);
    &s.records[0]
}

fn keys(s: &mut Sim, leg: sip_ua::CallId, keys: &str) {
    for key in keys.chars() {
        let event = MediaEvent::Digit {
            key,
            source: DigitSource::Rfc4733,
        };
        s.media_event(leg, event);
        s.run_for(Duration::from_millis(200));
    }
}

#[test]
fn a_call_the_flow_hangs_up_is_answered_with_its_path_and_times() {
    let mut s = sim("hello", Script::Silent);
    s.call(0, "sip:100@10.0.0.1");
    s.run_for(Duration::from_secs(5));
    let r = only(&s);
    assert_eq!(
        (r.kind, r.disposition.clone()),
        (LegKind::Inbound, Disposition::Answered)
    );
    assert_eq!((r.from.as_str(), r.to.as_str()), ("+15551234567", "100"));
    assert_eq!(r.flow.as_deref(), Some("hello"));
    assert_eq!(r.start_unix_ms, START_MS);
    assert_eq!(
        r.answered_after,
        Some(Duration::from_secs(1)),
        "answer_after"
    );
    assert!(!r.ended_by_remote);
    let path: Vec<String> = r.path.iter().map(ToString::to_string).collect();
    assert_eq!(
        path,
        ["hello/welcome:played@3000ms", "hello/bye:hang_up@3000ms"]
    );
    assert!(r.talk_time() < r.ended_after);
    assert!(!r.id.is_empty(), "the SIP Call-ID");
}

#[test]
fn a_caller_who_cancels_while_it_rings_is_cancelled_and_never_answered() {
    let mut s = sim("hello", Script::Silent);
    let call = s.call(0, "sip:100@10.0.0.1");
    s.run_for(Duration::from_millis(300));
    s.peer_command(0, call, Command::HangUp);
    s.run_for(Duration::from_secs(2));
    let r = only(&s);
    assert_eq!(r.disposition, Disposition::Cancelled);
    assert_eq!(r.answered_after, None);
    assert_eq!(r.talk_time(), Duration::ZERO);
    assert!(r.ended_by_remote);
    assert!(r.path.is_empty());
}

#[test]
fn a_call_refused_for_want_of_an_rtp_port_is_rejected_503() {
    let mut s = sim("hello", Script::Silent);
    s.media.no_ports = true;
    s.call(0, "sip:100@10.0.0.1");
    s.run_for(Duration::from_secs(3));
    assert_eq!(only(&s).disposition, Disposition::Rejected(503));
    assert_eq!(only(&s).disposition.detail().as_deref(), Some("503"));
}

#[test]
fn a_call_without_rtp_is_an_rtp_timeout_not_a_hang_up() {
    let mut s = sim("account", Script::Silent);
    s.call(0, "sip:100@10.0.0.1");
    s.run_for(Duration::from_millis(1200));
    let leg = s.legs()[0];
    s.media_event(leg, MediaEvent::Inactive);
    s.run_for(Duration::from_secs(1));
    assert_eq!(only(&s).disposition, Disposition::RtpTimeout);
}

#[test]
fn a_sensitive_entry_is_masked_in_the_keys_and_the_path_and_a_menu_choice_is_kept() {
    let mut s = sim("account", Script::Silent);
    let call = s.call(0, "sip:100@10.0.0.1");
    s.run_for(Duration::from_millis(1200));
    let leg = s.legs()[0];
    keys(&mut s, leg, "12#");
    keys(&mut s, leg, "908070#");
    keys(&mut s, leg, "2");
    s.run_for(Duration::from_secs(1));
    let r = only(&s);
    let entries: Vec<(&str, &str)> = r
        .entries
        .iter()
        .map(|e| (e.node.as_str(), e.digits.as_str()))
        .collect();
    assert_eq!(
        entries,
        [("account/account", "******"), ("account/menu", "2")]
    );
    let path: Vec<&str> = r.path.iter().map(|t| t.outcome.as_str()).collect();
    assert_eq!(path, ["invalid **", "collected", "chose 2", "hang_up"]);
    let text = format!("{r:?}");
    assert!(!text.contains("908070"), "the entry is nowhere: {text}");
    let _ = call;
}

#[test]
fn a_caller_bridged_to_an_agent_and_the_agents_leg_name_each_other() {
    let mut s = sim("agent", Script::Answer(Duration::from_secs(1)));
    let call = s.call(0, "sip:400@10.0.0.1");
    s.run_for(Duration::from_secs(4));
    s.peer_command(0, call, Command::HangUp);
    s.run_for(Duration::from_secs(2));
    assert_eq!(s.records.len(), 2, "{:#?}", s.records);
    let caller = s
        .records
        .iter()
        .find(|r| r.kind == LegKind::Inbound)
        .expect("caller");
    let agent = s
        .records
        .iter()
        .find(|r| r.kind == LegKind::Dial)
        .expect("agent");
    assert_eq!(
        caller.disposition,
        Disposition::Bridged("sip:agent@10.0.0.3:5060".into())
    );
    assert_eq!(
        agent.disposition,
        Disposition::Bridged("+15551234567".into())
    );
    assert_eq!(agent.parent.as_deref(), Some(caller.id.as_str()));
    assert_eq!(agent.to, "sip:agent@10.0.0.3:5060");
    assert!(agent.answered_after.is_some());
    assert!(caller.ended_by_remote && !agent.ended_by_remote);
}

#[test]
fn a_busy_agent_leg_is_busy_and_the_caller_is_answered() {
    let mut s = sim("agent", Script::Reject(486));
    s.call(0, "sip:400@10.0.0.1");
    s.run_for(Duration::from_secs(5));
    let agent = s
        .records
        .iter()
        .find(|r| r.kind == LegKind::Dial)
        .expect("agent");
    assert_eq!(agent.disposition, Disposition::Busy);
    assert_eq!(agent.answered_after, None);
    let caller = s
        .records
        .iter()
        .find(|r| r.kind == LegKind::Inbound)
        .expect("caller");
    assert_eq!(caller.disposition, Disposition::Answered);
    let outcomes: Vec<&str> = caller.path.iter().map(|t| t.outcome_label()).collect();
    assert_eq!(outcomes, ["busy", "hang_up"]);
}

#[test]
fn a_push_call_has_its_own_record_under_its_push_id() {
    let mut s = Sim::new(
        support::flows(&[]),
        "dial",
        &[],
        &[Script::Answer(Duration::from_secs(2))],
    );
    s.push(
        "push-7",
        "sip:+15551230000@10.0.0.2:5060",
        "notify",
        Duration::from_secs(30),
    );
    s.run_for(Duration::from_secs(20));
    let r = only(&s);
    assert_eq!((r.kind, r.id.as_str()), (LegKind::Push, "push-7"));
    assert_eq!(r.flow.as_deref(), Some("notify"));
    assert_eq!(r.from, "+15550001111");
    assert_eq!(r.disposition, Disposition::Answered);
    assert_eq!(r.answered_after, Some(Duration::from_millis(2020)));
}

#[test]
fn new_flows_take_new_calls_and_a_call_already_running_keeps_its_flow() {
    let mut s = sim("hello", Script::Silent);
    s.call(0, "sip:100@10.0.0.1");
    s.run_for(Duration::from_millis(1100));
    // The reload: "hello" now greets with another prompt.
    let changed = HELLO.replace("[\"welcome\", \"goodbye\"]", "[\"main-menu\", \"goodbye\"]");
    let flows = support::flows(&[("hello", &changed), ("account", ACCOUNT), ("agent", DIAL)]);
    s.core
        .handle_input(s.now, call_control::Input::Flows(flows));
    s.call(0, "sip:100@10.0.0.1");
    s.run_for(Duration::from_secs(6));
    let legs = s.legs();
    assert_eq!(legs.len(), 2);
    assert_eq!(
        s.prompts(legs[0]),
        ["welcome", "goodbye"],
        "the old flow to its end"
    );
    assert_eq!(s.prompts(legs[1]), ["main-menu", "goodbye"], "the new flow");
    assert_eq!(s.records.len(), 2);
    assert!(
        s.records
            .iter()
            .all(|r| r.disposition == Disposition::Answered)
    );
}
