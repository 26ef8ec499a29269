//! The wait-time SMS offer in a queue, on a jumped clock: each consent outcome (1, 2, another
//! key, no key in 10 s), the re-offer at the announcement interval up to its limit, and the
//! estimated-wait window.

mod support;

use std::time::Duration;

use call_control::{AgentStatus, Effect, Input, QueueEventKind, QueueSet, WaitSmsEvent};
use flow_engine::ConsentAnswer;
use media::{DigitSource, MediaEvent};
use sip_ua::CallId;
use support::{Script, Sim};

/// The `support` queue with the wait-time SMS on (`window` as `ewt_min_s`/`ewt_max_s`), one
/// agent who lets it ring; announcements every 30 s; the estimated wait is 120 s.
fn queues(window: (u32, u32)) -> QueueSet {
    let text = format!(
        "[defaults]\nring_timeout_s = 10\nannounce_position_s = 30\nannounce_min_gap_s = 10\n\
         default_handle_s = 120\nmax_wait_s = 600\n\
         [defaults.wait_sms]\nenabled = true\newt_min_s = {}\newt_max_s = {}\nmax_offers = 2\n\
         answer_timeout_s = 10\n\
         [defaults.languages.en]\nmusic = [\"hold-music\"]\nposition = [\"queue-position\"]\n\
         sms_consent = [\"wait-sms-offer\"]\nsms_sent = [\"wait-sms-sent\"]\n\
         wrong_selection = [\"wrong-selection\"]\n\
         sms_text = \"You are in the {{queue}} queue; about {{ewt_minutes}} minutes. Reply with details or photos.\"\n\
         [queues.support]\n[queues.sales]\n\
         [agents.a1]\ncontact = \"sip:a1@10.0.0.3:5060\"\nqueues = {{ support = 0 }}\nmax_no_answer = 100\n",
        window.0, window.1
    );
    call_control::load_queues("queues.toml", &text, &|_, _| true).expect("valid queues")
}

fn sim(window: (u32, u32)) -> Sim {
    let set = queues(window);
    let peers = [Script::Silent, Script::Ring];
    Sim::with(support::flows(&[]), "queue", &[], &peers, |c| {
        c.queues = set
    })
}

/// The caller calls and joins the queue (answered after 1 s, the welcome 1 s).
fn queued(s: &mut Sim) -> CallId {
    s.call(0, "sip:500@10.0.0.1");
    s.run_for(Duration::from_millis(2100));
    s.media.answered[0]
}

fn key(s: &mut Sim, leg: CallId, key: char) {
    let source = DigitSource::Rfc4733;
    s.media_event(leg, MediaEvent::Digit { key, source });
}

fn sms_events(s: &Sim) -> Vec<WaitSmsEvent> {
    s.queue_events
        .iter()
        .filter_map(|e| match e.kind {
            QueueEventKind::WaitSms(w) => Some(w),
            _ => None,
        })
        .collect()
}

fn consents(s: &Sim) -> Vec<(String, ConsentAnswer)> {
    s.effects
        .iter()
        .filter_map(|(_, e)| match e {
            Effect::RecordConsent {
                number,
                purpose,
                answer,
                ..
            } => {
                assert_eq!(purpose, "wait_time_sms");
                Some((number.clone(), *answer))
            }
            _ => None,
        })
        .collect()
}

fn texts(s: &Sim) -> Vec<(String, String)> {
    s.effects
        .iter()
        .filter_map(|(_, e)| match e {
            Effect::SendSms(r) => Some((r.to.clone(), r.text.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn one_allows_it_the_sms_goes_to_the_callers_number_and_the_caller_stays_in_line() {
    let mut s = sim((60, 3600));
    let caller = queued(&mut s);
    assert_eq!(
        s.prompts(caller),
        ["queue-welcome", "wait-sms-offer"],
        "offered on joining"
    );
    key(&mut s, caller, '1');
    s.run_for(Duration::from_secs(2));
    assert_eq!(
        consents(&s),
        [("+15551234567".to_string(), ConsentAnswer::Granted)]
    );
    let sms = texts(&s);
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].0, "+15551234567");
    assert_eq!(
        sms[0].1,
        "You are in the support queue; about 2 minutes. Reply with details or photos."
    );
    let heard = s.prompts(caller);
    assert_eq!(heard[2..4], ["wait-sms-sent", "hold-music"], "{heard:?}");
    assert_eq!(
        sms_events(&s),
        [
            WaitSmsEvent::Offered,
            WaitSmsEvent::Allowed,
            WaitSmsEvent::Sent
        ]
    );
    s.run_for(Duration::from_secs(60));
    assert!(
        !s.prompts(caller)[3..].contains(&"wait-sms-offer".to_string()),
        "not again"
    );
    assert!(s.core.call_views()[0].state == "up", "still waiting");
}

#[test]
fn two_denies_it_and_the_caller_is_never_asked_again() {
    let mut s = sim((60, 3600));
    let caller = queued(&mut s);
    key(&mut s, caller, '2');
    s.run_for(Duration::from_secs(70));
    assert_eq!(
        consents(&s),
        [("+15551234567".to_string(), ConsentAnswer::Declined)]
    );
    assert!(texts(&s).is_empty());
    let offers = s
        .prompts(caller)
        .iter()
        .filter(|p| *p == "wait-sms-offer")
        .count();
    assert_eq!(offers, 1, "{:?}", s.prompts(caller));
    assert_eq!(
        sms_events(&s),
        [WaitSmsEvent::Offered, WaitSmsEvent::Denied]
    );
}

#[test]
fn another_key_is_a_wrong_selection_then_the_offer_again() {
    let mut s = sim((60, 3600));
    let caller = queued(&mut s);
    key(&mut s, caller, '7');
    assert_eq!(
        s.prompts(caller)[2..],
        ["wrong-selection", "wait-sms-offer"]
    );
    key(&mut s, caller, '1');
    assert_eq!(
        sms_events(&s),
        [
            WaitSmsEvent::Offered,
            WaitSmsEvent::WrongSelection,
            WaitSmsEvent::Allowed,
            WaitSmsEvent::Sent
        ]
    );
}

#[test]
fn no_key_in_10_s_is_no_response_and_it_is_offered_again_at_the_interval_up_to_the_limit() {
    let mut s = sim((60, 3600));
    let caller = queued(&mut s);
    // The offer plays 1 s, then 10 s to answer.
    s.run_for(Duration::from_secs(10));
    assert!(consents(&s).is_empty(), "not yet");
    s.run_for(Duration::from_secs(2));
    assert_eq!(
        consents(&s),
        [("+15551234567".to_string(), ConsentAnswer::NoResponse)]
    );
    assert_eq!(
        s.prompts(caller).last().map(String::as_str),
        Some("hold-music")
    );
    // At the 30 s announcement: the position, then the offer again.
    s.run_for(Duration::from_secs(20));
    let heard = s.prompts(caller).join(" ");
    assert!(
        heard.contains("queue-position num-1 wait-sms-offer"),
        "{heard}"
    );
    s.run_for(Duration::from_secs(15));
    assert_eq!(consents(&s).len(), 2, "no response again");
    // At 60 s the limit (2) is reached: the position only.
    s.run_for(Duration::from_secs(30));
    let offers = s
        .prompts(caller)
        .iter()
        .filter(|p| *p == "wait-sms-offer")
        .count();
    assert_eq!(offers, 2);
    assert_eq!(
        sms_events(&s),
        [
            WaitSmsEvent::Offered,
            WaitSmsEvent::NoResponse,
            WaitSmsEvent::Offered,
            WaitSmsEvent::NoResponse
        ]
    );
}

#[test]
fn outside_the_estimated_wait_window_it_is_not_offered() {
    let mut s = sim((600, 3600));
    let caller = queued(&mut s);
    s.run_for(Duration::from_secs(40));
    assert!(!s.prompts(caller).contains(&"wait-sms-offer".to_string()));
    assert!(sms_events(&s).is_empty());
}

#[test]
fn a_caller_who_leaves_the_queue_is_not_offered_again() {
    let mut s = sim((60, 3600));
    let caller = queued(&mut s);
    s.core.handle_input(
        s.now,
        Input::AgentStatus {
            agent: "a1".into(),
            status: AgentStatus::LoggedOut,
        },
    );
    s.run_for(Duration::from_secs(60));
    let heard = s.prompts(caller);
    assert!(heard.contains(&"queue-closed".to_string()), "{heard:?}");
    assert_eq!(
        sms_events(&s),
        [WaitSmsEvent::Offered],
        "no response was never recorded"
    );
}

#[test]
fn an_abandoned_caller_who_allowed_the_sms_still_delivers_a_ticket_with_it() {
    use call_control::TicketChange;
    let mut s = sim((60, 3600));
    let caller = queued(&mut s);
    key(&mut s, caller, '1');
    s.run_for(Duration::from_secs(3));
    let call = s.peers[0].events[0].0;
    s.peer_command(0, call, sip_ua::Command::HangUp);
    s.run_for(Duration::from_secs(1));
    let kinds: Vec<String> = s
        .tickets
        .iter()
        .map(|t| match t {
            TicketChange::Opened(_) => "opened".to_string(),
            TicketChange::Consent { status, .. } => format!("consent {status}"),
            TicketChange::SmsSent { .. } => "sms".into(),
            TicketChange::Offered { agent, .. } => format!("offered {agent}"),
            TicketChange::Closed {
                outcome, deliver, ..
            } => format!("closed {outcome} {deliver}"),
            TicketChange::Ended { .. } => "ended".into(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "opened",
            "offered a1",
            "consent allowed",
            "sms",
            "closed abandoned true",
            "ended"
        ]
    );
}
