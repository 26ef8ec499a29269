//! Inbound calls through the core on a jumped clock, each test named after the path it proves:
//! a SIP caller (a real `sip_ua::Endpoint`) calls ivrd's endpoint, and the core rings, answers,
//! runs the flow and ends the call.

mod support;

use std::time::Duration;

use media::MediaEvent;
use sip_ua::{Command, EndReason, Event};
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

const MENU: &str = r#"
[flow]
start = "menu"
languages = ["en"]

[nodes.menu]
type = "menu"
greeting = ["main-menu"]
choices = { "1" = "text" }
timeout_ms = 5000
max_failures = 1
max_timeouts = 1
on_failure = "bye"
on_no_input = "bye"

[nodes.text]
type = "sms"
to = "{ani}"
text = "Your link: https://example.com/chat"
purpose = "chat-link"
next = "bye"
on_failure = "bye"

[nodes.bye]
type = "hangup"
"#;

fn sim(flow: &str) -> Sim {
    let flows = support::flows(&[("hello", HELLO), ("menu", MENU)]);
    Sim::new(flows, flow, &[], &[Script::Silent])
}

#[test]
fn a_call_rings_is_answered_plays_its_flow_and_is_hung_up() {
    let mut s = sim("hello");
    let call = s.call(0, "sip:100@10.0.0.1");
    s.run_for(Duration::from_millis(500));
    let progress = s.peers[0]
        .events
        .iter()
        .any(|(c, e)| *c == call && matches!(e, Event::Progress(_)));
    assert!(progress, "180 before the answer");
    assert!(s.legs().is_empty(), "no media before the answer");
    s.run_for(Duration::from_secs(1));
    let answered = s.peers[0]
        .events
        .iter()
        .any(|(_, e)| matches!(e, Event::Answered(_)));
    assert!(answered, "answered after answer_after:\n{:#?}", s.trace);
    let leg = s.legs()[0];
    s.run_for(Duration::from_secs(3));
    assert_eq!(s.prompts(leg), ["welcome", "goodbye"]);
    assert_eq!(s.peers[0].ended(), [EndReason::CallerHungUp], "ivrd's BYE");
    assert_eq!(s.media.ended, [leg]);
    assert_eq!(s.live(), (0, 0, 0));
}

#[test]
fn no_free_rtp_port_refuses_the_call_with_503_after_ringing() {
    let mut s = sim("hello");
    s.media.no_ports = true;
    s.call(0, "sip:100@10.0.0.1");
    s.run_for(Duration::from_secs(3));
    assert_eq!(s.peers[0].ended(), [EndReason::Refused(503)]);
    assert!(s.media.ended.is_empty(), "no media was started");
    assert_eq!(s.live(), (0, 0, 0));
}

#[test]
fn the_caller_cancelling_while_it_rings_ends_the_call_before_any_flow_or_media() {
    let mut s = sim("hello");
    let call = s.call(0, "sip:100@10.0.0.1");
    s.run_for(Duration::from_millis(300));
    s.peer_command(0, call, Command::HangUp);
    s.run_for(Duration::from_secs(5));
    assert_eq!(s.peers[0].ended(), [EndReason::Cancelled]);
    assert!(s.legs().is_empty(), "never answered, no media");
    assert!(s.core.poll_timeout().is_none(), "the answer timer is gone");
    assert_eq!(s.live(), (0, 0, 0));
}

#[test]
fn a_key_pressed_at_the_menu_sends_the_sms_and_the_flow_hangs_up() {
    let mut s = sim("menu");
    s.call(0, "sip:100@10.0.0.1");
    s.run_for(Duration::from_millis(1200));
    let leg = s.legs()[0];
    s.media_event(
        leg,
        MediaEvent::Digit {
            key: '1',
            source: media::DigitSource::Rfc4733,
        },
    );
    s.run_for(Duration::from_secs(2));
    let sms: Vec<_> = s
        .effects
        .iter()
        .filter_map(|(_, e)| match e {
            call_control::Effect::SendSms(r) => Some(r.to.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sms, ["+15551234567"], "to the caller's number");
    assert_eq!(s.peers[0].ended(), [EndReason::CallerHungUp]);
    assert_eq!(s.live(), (0, 0, 0));
}

#[test]
fn no_rtp_from_the_caller_hangs_up_and_the_flow_ends_dropped() {
    let mut s = sim("menu");
    s.call(0, "sip:100@10.0.0.1");
    s.run_for(Duration::from_millis(1200));
    let leg = s.legs()[0];
    s.media_event(leg, MediaEvent::Inactive);
    s.run_for(Duration::from_secs(1));
    assert_eq!(s.peers[0].ended(), [EndReason::CallerHungUp], "ivrd's BYE");
    assert!(s.core.poll_timeout().is_none(), "the menu's timer is gone");
    assert_eq!(s.live(), (0, 0, 0));
}

/// A trunk whose calls must be SRTP (`srtp = "required"`): a plain RTP/AVP offer from its
/// source gets 488 before it rings; from elsewhere (the default, optional) it is answered.
#[test]
fn plain_rtp_from_a_trunk_that_requires_srtp_gets_488() {
    let flows = support::flows(&[("hello", HELLO)]);
    let trunk = |net: &str| call_control::TrunkPolicy {
        sources: vec![net.parse().expect("a network")],
        srtp: call_control::SrtpPolicy::Required,
        ..Default::default()
    };
    let mut s = Sim::with(flows.clone(), "hello", &[], &[Script::Silent], |c| {
        c.trunks.insert("secure".into(), trunk("10.0.0.2"));
    });
    s.call(0, "sip:100@10.0.0.1");
    s.run_for(Duration::from_secs(3));
    assert_eq!(s.peers[0].ended(), [EndReason::Refused(488)]);
    let rang = s.peers[0]
        .events
        .iter()
        .any(|(_, e)| matches!(e, Event::Progress(_)));
    assert!(!rang, "refused before ringing");
    let mut s = Sim::with(flows, "hello", &[], &[Script::Silent], |c| {
        c.trunks.insert("secure".into(), trunk("10.0.9.0/24"));
    });
    s.call(0, "sip:100@10.0.0.1");
    s.run_for(Duration::from_secs(3));
    let ended = s.peers[0].ended();
    assert!(!ended.contains(&EndReason::Refused(488)), "{ended:?}");
    assert!(!s.legs().is_empty(), "answered: its media started");
}
