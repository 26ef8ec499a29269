//! `config/flows/deflection.toml`, every branch, in simulated time.

mod support;

use flow_engine::Disposition;
use support::{HttpPlan, Sim};

const CALLER: &str = "+15551239999";
const NOON: &str = "2026-11-23T12:00";

fn offer() -> Sim {
    let sim = Sim::new("deflection", CALLER, NOON);
    assert_eq!(sim.last_played(), "en:welcome-support press-1-for-chat");
    sim
}

#[test]
fn accepted_and_available_texts_the_chat_url_to_the_caller() {
    let mut sim = offer();
    sim.press("1");
    assert_eq!(
        sim.http_urls,
        ["http://127.0.0.1:8089/availability?dnis=100"]
    );
    assert_eq!(sim.sms.len(), 1);
    assert_eq!(sim.sms[0].to, CALLER);
    assert_eq!(
        sim.sms[0].text,
        "Continue with us by chat: https://chat.example/s/abc"
    );
    assert_eq!(
        sim.sms[0].idempotency_key,
        "call-1:deflection/send_chat_link:chat_link"
    );
    assert_eq!(sim.last_played(), "en:chat-link-sent goodbye");
    sim.settle();
    assert_eq!(sim.disposition(), &Disposition::Completed);
    assert!(sim.hung_up);
    assert_eq!(sim.events, ["deflection_offered", "deflection_accepted"]);
    assert!(
        sim.path().contains(&"availability http 200".to_string()),
        "{:?}",
        sim.path()
    );
}

#[test]
fn not_available_sends_the_static_link() {
    for plan in [
        HttpPlan::Respond(200, r#"{"available": false}"#),
        HttpPlan::Respond(503, "busy"),
        HttpPlan::Respond(200, "not json"),
        HttpPlan::Fail,
        HttpPlan::Silent,
    ] {
        let mut sim = offer();
        sim.http = plan.clone();
        sim.press("1");
        if matches!(plan, HttpPlan::Silent) {
            assert!(sim.sms.is_empty());
            sim.time_out();
            assert!(sim.path().contains(&"availability timed_out".to_string()));
        }
        assert_eq!(sim.sms.len(), 1, "{plan:?}");
        assert_eq!(
            sim.sms[0].text,
            "Chat with us any time: https://example.com/chat"
        );
        assert_eq!(sim.sms[0].purpose, "static_chat_link");
        assert_eq!(sim.last_played(), "en:static-link-sent goodbye");
        sim.settle();
        assert_eq!(sim.disposition(), &Disposition::Completed);
    }
}

#[test]
fn not_available_without_static_link_goes_to_an_agent() {
    let set = support::flows_with(|_, t| {
        t.replace(r#"send_static_link = "true""#, r#"send_static_link = "no""#)
    });
    let mut sim = Sim::with(set, "deflection", CALLER, NOON);
    sim.http = HttpPlan::Respond(200, r#"{"available": false}"#);
    sim.press("1");
    assert!(sim.sms.is_empty());
    assert_eq!(sim.last_played(), "en:transferring-agent");
    sim.settle();
    assert_eq!(sim.transfers, ["sip:agents@127.0.0.1:5080"]);
    assert_eq!(
        sim.disposition(),
        &Disposition::Transferred("sip:agents@127.0.0.1:5080".into())
    );
}

#[test]
fn declined_goes_to_an_agent_and_is_never_offered_again() {
    let mut sim = offer();
    sim.press("2");
    sim.settle();
    assert_eq!(sim.events, ["deflection_offered", "deflection_declined"]);
    assert_eq!(sim.transfers, ["sip:agents@127.0.0.1:5080"]);
    let offers = sim
        .played
        .iter()
        .filter(|p| p.contains("press-1-for-chat"))
        .count();
    assert_eq!(offers, 1);
}

#[test]
fn no_answer_to_the_offer_counts_as_timed_out() {
    let mut sim = offer();
    sim.play_out();
    sim.time_out();
    assert_eq!(sim.events, ["deflection_offered", "deflection_timed_out"]);
    sim.settle();
    assert_eq!(sim.transfers.len(), 1);
}

#[test]
fn invalid_keys_twice_count_as_declined() {
    let mut sim = offer();
    sim.press("7");
    assert_eq!(sim.last_played(), "en:invalid-choice press-1-for-chat");
    sim.press("8");
    assert_eq!(sim.events, ["deflection_offered", "deflection_declined"]);
    assert_eq!(
        sim.path()[1..3],
        ["offer invalid 7".to_string(), "offer invalid 8".to_string()]
    );
}

#[test]
fn sms_refused_says_so_and_goes_to_an_agent() {
    let mut sim = offer();
    sim.sms_ok = false;
    sim.press("1");
    assert_eq!(sim.last_played(), "en:sms-failed");
    sim.settle();
    assert_eq!(sim.transfers.len(), 1);
}

#[test]
fn failed_transfer_says_agents_are_busy() {
    let mut sim = offer();
    sim.transfer_ok = false;
    sim.press("2");
    sim.settle();
    assert!(sim.played.iter().any(|p| p == "en:agents-busy goodbye"));
    assert_eq!(sim.disposition(), &Disposition::Completed);
}

#[test]
fn withheld_caller_id_asks_for_a_mobile_number_and_reads_it_back() {
    for withheld in ["", "anonymous"] {
        let mut sim = Sim::new("deflection", withheld, NOON);
        sim.press("1");
        assert_eq!(sim.last_played(), "en:enter-mobile-number");
        sim.press("015112345678#");
        assert_eq!(
            sim.last_played(),
            "en:you-entered digit-0 digit-1 digit-5 digit-1 digit-1 digit-2 digit-3 digit-4 digit-5 digit-6 digit-7 digit-8 confirm-or-reenter"
        );
        sim.play_out();
        sim.press("1");
        assert_eq!(sim.sms.len(), 1);
        assert_eq!(sim.sms[0].to, "015112345678");
    }
}

#[test]
fn the_mobile_number_can_be_entered_again() {
    let mut sim = Sim::new("deflection", "", NOON);
    sim.press("1");
    sim.press("01511111111#");
    sim.press("2");
    assert_eq!(sim.last_played(), "en:enter-mobile-number");
    sim.press("01522222222#1");
    assert_eq!(sim.sms[0].to, "01522222222");
}

#[test]
fn a_short_number_then_silence_runs_out_of_attempts_and_goes_to_an_agent() {
    let mut sim = Sim::new("deflection", "", NOON);
    sim.press("1");
    sim.press("123#");
    assert_eq!(sim.last_played(), "en:invalid-number enter-mobile-number");
    sim.play_out();
    sim.time_out();
    assert_eq!(sim.last_played(), "en:no-input enter-mobile-number");
    sim.play_out();
    sim.press("0151"); // then nothing: the inter-digit timeout ends a too-short entry
    sim.time_out();
    assert!(sim.sms.is_empty());
    assert_eq!(sim.last_played(), "en:transferring-agent");
    let path = sim.path();
    assert!(
        path.contains(&"ask_number invalid 123".to_string()),
        "{path:?}"
    );
    assert!(
        path.contains(&"ask_number no_input".to_string()),
        "{path:?}"
    );
}

#[test]
fn caller_hanging_up_ends_the_flow_with_the_path_so_far() {
    let mut sim = offer();
    sim.press("1");
    sim.input(flow_engine::Input::HungUp);
    assert_eq!(sim.disposition(), &Disposition::CallerHungUp);
    assert!(!sim.summary.as_ref().unwrap().trace.is_empty());
}

/// A call ivrd ended because the caller's RTP stopped was logged as `CallerHungUp`, which
/// hid dead lines among ordinary hang-ups in the call records.
#[test]
fn a_dropped_line_is_not_a_caller_hang_up() {
    let mut sim = offer();
    sim.input(flow_engine::Input::Dropped(flow_engine::DropCause::NoMedia));
    assert_eq!(
        sim.disposition(),
        &Disposition::Dropped(flow_engine::DropCause::NoMedia)
    );
    assert!(
        sim.path().iter().any(|s| s.ends_with(" no_media")),
        "{:?}",
        sim.path()
    );
}

#[test]
fn pressing_1_records_consent_and_9_opts_out() {
    let mut sim = offer();
    sim.press("1");
    assert_eq!(sim.consents, vec![format!("{CALLER} chat_link Granted")]);
    assert!(
        sim.path()
            .contains(&"consented consent_recorded".to_string())
    );
    let mut sim = offer();
    sim.press("9");
    assert_eq!(sim.consents, vec![format!("{CALLER} all_sms OptOut")]);
    assert!(sim.sms.is_empty());
    assert!(
        sim.path()
            .contains(&"no_texts consent_recorded".to_string())
    );
    assert_eq!(sim.last_played(), "en:transferring-agent");
}
