//! Push calls (`POST /calls`) through the core on a jumped clock: ivrd calls a peer, runs the
//! shipped `notify` flow when it answers, and reports how the call went, once.

mod support;

use std::time::Duration;

use call_control::{Input, PushRefusal, PushResult};
use media::{DigitSource, MediaEvent};
use sip_ua::{EndReason, Event};
use support::{Script, Sim};

const CUSTOMER: &str = "sip:+15551230000@10.0.0.2:5060";

fn sim(script: Script) -> Sim {
    Sim::new(support::flows(&[]), "dial", &[], &[script])
}

#[test]
fn an_answered_push_runs_its_flow_a_key_sends_the_sms_and_the_outcome_is_answered() {
    let mut s = sim(Script::Answer(Duration::from_secs(2)));
    s.push("push-1", CUSTOMER, "notify", Duration::from_secs(30));
    assert_eq!(s.pushed, [("push-1".to_string(), Ok(()))]);
    s.run_for(Duration::from_secs(3));
    let leg = s.legs()[0];
    assert_eq!(s.prompts(leg), ["notice", "notice-offer"]);
    let calls = s.core.call_views();
    assert_eq!(
        (calls[0].id.as_str(), calls[0].direction, calls[0].state),
        ("push-1", "push", "up")
    );
    s.media_event(
        leg,
        MediaEvent::Digit {
            key: '1',
            source: DigitSource::Rfc4733,
        },
    );
    s.run_for(Duration::from_secs(5));
    let sms: Vec<_> = s
        .effects
        .iter()
        .filter_map(|(_, e)| match e {
            call_control::Effect::SendSms(r) => Some((r.to.clone(), r.idempotency_key.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].0, "+15551230000", "to the number called");
    assert!(
        sms[0].1.starts_with("push-1:"),
        "keyed by the push id: {}",
        sms[0].1
    );
    assert_eq!(s.peers[0].ended(), [EndReason::CallerHungUp], "ivrd's BYE");
    let o = &s.push_outcomes;
    assert_eq!(o.len(), 1, "one outcome");
    assert_eq!(o[0].result, PushResult::Answered);
    assert_eq!(
        o[0].ringing,
        Duration::from_millis(2020),
        "INVITE out, 200 back"
    );
    assert!(o[0].talking > Duration::from_secs(2), "{:?}", o[0].talking);
    assert_eq!(o[0].disposition.as_deref(), Some("Completed"));
    assert_eq!(s.live(), (0, 0, 0));
    assert!(!s.core.has_call("push-1"));
}

#[test]
fn a_busy_callee_ends_the_push_as_busy_without_running_the_flow() {
    let mut s = sim(Script::Reject(486));
    s.push("push-2", CUSTOMER, "notify", Duration::from_secs(30));
    s.run_for(Duration::from_secs(2));
    assert_eq!(s.push_outcomes.len(), 1);
    assert_eq!(s.push_outcomes[0].result, PushResult::Busy);
    assert_eq!(s.push_outcomes[0].disposition, None);
    assert!(s.media.prompts.is_empty());
    assert_eq!(s.media.ended.len(), 1, "its media ended");
}

#[test]
fn an_unanswered_push_is_cancelled_at_its_ring_timeout_as_no_answer() {
    let mut s = sim(Script::Ring);
    s.push("push-3", CUSTOMER, "notify", Duration::from_secs(15));
    s.run_for(Duration::from_secs(14));
    assert!(s.push_outcomes.is_empty());
    assert_eq!(s.core.call_views()[0].state, "calling");
    s.run_for(Duration::from_secs(3));
    assert_eq!(s.peers[0].ended(), [EndReason::Cancelled]);
    assert_eq!(s.push_outcomes[0].result, PushResult::NoAnswer);
    s.run_for(Duration::from_secs(40));
    assert_eq!(s.live(), (0, 0, 0));
}

#[test]
fn a_push_that_never_rings_is_failed_at_its_ring_timeout_and_reported_once() {
    let mut s = sim(Script::Silent);
    s.lose = Some(Box::new(|d| {
        d.to.port() == 5060 && d.to.ip().to_string() == "10.0.0.2"
    }));
    s.push("push-6", CUSTOMER, "notify", Duration::from_secs(5));
    s.run_for(Duration::from_secs(6));
    assert_eq!(s.push_outcomes.len(), 1, "known at the ring timeout");
    let r = &s.push_outcomes[0].result;
    assert_eq!(*r, PushResult::Failed("no response".into()));
    s.run_for(Duration::from_secs(60));
    assert_eq!(
        s.push_outcomes.len(),
        1,
        "not again when Timer B ends the leg"
    );
    assert_eq!(s.live(), (0, 0, 0));
}

#[test]
fn hanging_up_a_ringing_push_through_the_api_cancels_it() {
    let mut s = sim(Script::Ring);
    s.push("push-4", CUSTOMER, "notify", Duration::from_secs(30));
    s.run_for(Duration::from_secs(2));
    assert!(s.core.has_call("push-4"));
    s.core
        .handle_input(s.now, Input::HangUpCall("push-4".into()));
    s.run_for(Duration::from_secs(2));
    assert_eq!(s.peers[0].ended(), [EndReason::Cancelled]);
    let r = &s.push_outcomes[0].result;
    assert!(
        matches!(r, PushResult::Failed(why) if why.contains("API")),
        "{r:?}"
    );
}

#[test]
fn an_unreachable_target_ends_the_push_as_failed_with_the_reason() {
    let mut s = sim(Script::Silent);
    s.push(
        "push-5",
        "sip:nobody@pbx.example",
        "notify",
        Duration::from_secs(30),
    );
    assert_eq!(s.pushed[0].1, Ok(()), "accepted; placing it failed");
    let r = &s.push_outcomes[0].result;
    assert!(
        matches!(r, PushResult::Failed(why) if why.contains("no address")),
        "{r:?}"
    );
    assert_eq!(s.live(), (0, 0, 0));
}

#[test]
fn pushes_over_the_rate_or_for_unknown_flows_or_twice_are_refused_with_the_reason() {
    let mut s = sim(Script::Ring);
    for i in 0..12 {
        s.push(
            &format!("p{i}"),
            CUSTOMER,
            "notify",
            Duration::from_secs(30),
        );
    }
    let refused: Vec<_> = s.pushed.iter().filter(|(_, r)| r.is_err()).collect();
    assert_eq!(refused.len(), 2, "10 per second");
    assert_eq!(refused[0].1, Err(PushRefusal::TooFast(10)));
    s.run_for(Duration::from_secs(1));
    s.push("p0", CUSTOMER, "notify", Duration::from_secs(30));
    s.push("x", CUSTOMER, "no-such-flow", Duration::from_secs(30));
    let last: Vec<_> = s
        .pushed
        .iter()
        .rev()
        .take(2)
        .map(|(_, r)| r.clone())
        .collect();
    assert_eq!(
        last,
        [
            Err(PushRefusal::UnknownFlow("no-such-flow".into())),
            Err(PushRefusal::Duplicate("p0".into()))
        ]
    );
    let incoming = s.peers[0]
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Incoming(_)))
        .count();
    assert_eq!(incoming, 10);
}
