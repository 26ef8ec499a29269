//! `config/flows/isp.toml`, every branch: language, time of day, outage, balance by SMS,
//! trust credit refusals, departments, rotary callers.

mod support;

use flow_engine::Disposition;
use support::Sim;

const MORNING: &str = "2026-11-23T08:00";
const AFTERNOON: &str = "2026-11-23T14:00";
const EVENING: &str = "2026-11-23T21:30";
/// In customers.csv: Bob (Springfield, outage until 18:30, balance +25), Carla (blocked until
/// 2027-02-01), Dan (may have trust credit), Anna (German number).
const BOB: &str = "+15551230001";
const CARLA: &str = "+15551230002";
const DAN: &str = "+15551230003";
const ANNA: &str = "+4930123456";
const STRANGER: &str = "+15550000000";

/// Greets, skips the outage notice if any, and stops at the main menu.
fn at_menu(ani: &str) -> Sim {
    let mut sim = Sim::new("isp", ani, AFTERNOON);
    while !sim.last_played().ends_with("main-menu") {
        sim.play_out();
    }
    sim
}

#[test]
fn greeting_follows_the_local_time_of_day() {
    for (time, prompt) in [
        (MORNING, "good-morning"),
        (AFTERNOON, "good-afternoon"),
        (EVENING, "good-evening"),
    ] {
        let sim = Sim::new("isp", STRANGER, time);
        assert_eq!(sim.played, [format!("en:{prompt}")]);
    }
}

#[test]
fn german_numbers_hear_german_prompts() {
    let mut sim = Sim::new("isp", ANNA, MORNING);
    assert_eq!(sim.played, ["de:good-morning"]);
    sim.play_out();
    sim.play_out();
    assert_eq!(sim.last_played(), "de:main-menu");
}

#[test]
fn callers_in_an_outage_area_hear_when_it_ends() {
    let mut sim = Sim::new("isp", BOB, AFTERNOON);
    sim.play_out();
    assert_eq!(sim.last_played(), "en:outage-in-your-area num-18 num-30");
    sim.play_out();
    assert_eq!(sim.last_played(), "en:main-menu");
    let mut dan = Sim::new("isp", DAN, AFTERNOON);
    dan.play_out();
    assert_eq!(
        dan.last_played(),
        "en:main-menu",
        "no outage in Shelbyville"
    );
}

#[test]
fn balance_is_texted_to_the_registered_number_after_readback() {
    let mut sim = at_menu(BOB);
    sim.press("#");
    assert_eq!(sim.last_played(), "en:enter-contract");
    sim.press("22223333#");
    assert!(
        sim.last_played()
            .starts_with("en:you-entered digit-2 digit-2")
    );
    sim.press("1");
    assert_eq!(sim.sms.len(), 1);
    assert_eq!(sim.sms[0].to, BOB);
    assert_eq!(
        sim.sms[0].text,
        "Contract 22223333: your balance is 25.00 EUR."
    );
    assert_eq!(sim.last_played(), "en:balance-sent");
    sim.play_out();
    assert_eq!(sim.last_played(), "en:main-menu");
}

#[test]
fn balance_is_refused_when_the_caller_is_not_the_registered_number() {
    for ani in [DAN, ""] {
        let mut sim = at_menu(ani);
        sim.press("#22223333#1");
        assert!(sim.sms.is_empty());
        assert_eq!(sim.last_played(), "en:number-not-registered");
    }
}

#[test]
fn an_unknown_contract_is_said_so_and_a_wrong_entry_can_be_redone() {
    let mut sim = at_menu(BOB);
    sim.press("#99999999#1");
    assert_eq!(sim.last_played(), "en:contract-not-found");
    let mut sim = at_menu(BOB);
    sim.press("#123#");
    assert_eq!(sim.last_played(), "en:invalid-contract enter-contract");
    sim.press("99999999#2");
    assert_eq!(sim.last_played(), "en:enter-contract");
    sim.press("22223333#1");
    assert_eq!(sim.sms.len(), 1);
}

#[test]
fn trust_credit_gives_each_refusal_reason() {
    let mut stranger = at_menu(STRANGER);
    stranger.press("0");
    assert_eq!(stranger.last_played(), "en:trust-refused-not-registered");
    let mut bob = at_menu(BOB);
    bob.press("0");
    assert_eq!(
        bob.last_played(),
        "en:trust-refused-positive num-20 num-5 cur-eur-many"
    );
    let mut carla = at_menu(CARLA);
    carla.press("0");
    assert_eq!(carla.last_played(), "en:trust-refused-blocked");
    let mut dan = at_menu(DAN);
    dan.press("0");
    assert_eq!(dan.events, ["trust_credit_activated"]);
    assert_eq!(dan.last_played(), "en:trust-activated");
}

#[test]
fn keys_one_to_five_transfer_to_departments() {
    for (key, target) in [
        ("1", "sales"),
        ("2", "support"),
        ("3", "billing"),
        ("4", "moves"),
        ("5", "cancellations"),
    ] {
        let mut sim = at_menu(DAN);
        sim.press(key);
        assert_eq!(sim.last_played(), "en:transferring");
        sim.settle();
        let uri = format!("sip:{target}@127.0.0.1:5080");
        assert_eq!(sim.transfers, [uri.as_str()]);
        assert_eq!(sim.disposition(), &Disposition::Transferred(uri));
    }
}

#[test]
fn rotary_callers_who_press_nothing_reach_the_operator() {
    let mut sim = at_menu(STRANGER);
    sim.play_out();
    sim.time_out();
    assert_eq!(sim.last_played(), "en:no-input main-menu-short");
    sim.play_out();
    sim.time_out();
    assert_eq!(sim.last_played(), "en:transferring-operator");
    sim.settle();
    assert_eq!(sim.transfers, ["sip:operator@127.0.0.1:5080"]);
}

/// A caller who put ivrd on hold while the menu listened for a key came back to "no input":
/// the menu's deadline ran on through the hold. Now it waits, and after the resume the caller
/// has the time that was left.
#[test]
fn time_on_hold_does_not_count_against_the_menu() {
    let mut sim = at_menu(STRANGER);
    sim.play_out();
    let deadline = sim.call.poll_timeout().expect("listening");
    sim.now += std::time::Duration::from_secs(1);
    sim.input(flow_engine::Input::Held);
    assert_eq!(sim.call.poll_timeout(), None, "no deadline on hold");
    sim.now += std::time::Duration::from_secs(60);
    sim.input(flow_engine::Input::Resumed);
    assert_eq!(
        sim.call.poll_timeout(),
        Some(deadline + std::time::Duration::from_secs(60))
    );
    sim.press("1");
    assert_eq!(sim.last_played(), "en:transferring");
}

#[test]
fn three_invalid_keys_reach_the_operator_and_a_failed_transfer_ends_politely() {
    let mut sim = at_menu(STRANGER);
    sim.transfer_ok = false;
    sim.press("7");
    assert_eq!(sim.last_played(), "en:invalid-choice main-menu-short");
    sim.press("8*");
    assert_eq!(sim.last_played(), "en:transferring-operator");
    sim.settle();
    assert!(
        sim.played
            .contains(&"en:transfer-failed goodbye".to_string())
    );
    assert_eq!(sim.disposition(), &Disposition::Completed);
}

#[test]
fn german_callers_hear_times_in_german() {
    // Anna's area (berlin-mitte) has an outage until 21:15; her balance is negative and she is
    // not blocked, so trust credit is granted.
    let mut anna = Sim::new("isp", ANNA, EVENING);
    anna.play_out();
    assert_eq!(
        anna.last_played(),
        "de:outage-in-your-area num-1-und num-20 uhr num-15"
    );
    anna.play_out();
    anna.press("0");
    assert_eq!(anna.last_played(), "de:trust-activated");
}

#[test]
fn balance_entry_running_out_of_attempts_returns_to_the_menu() {
    let mut sim = at_menu(BOB);
    sim.press("#");
    sim.press("1#");
    sim.press("12#");
    sim.play_out();
    sim.time_out();
    assert_eq!(sim.last_played(), "en:main-menu");
    let path = sim.path();
    // The contract number is sensitive: its keys are masked in the path.
    assert!(path.contains(&"balance invalid *".to_string()), "{path:?}");
    assert!(path.contains(&"balance invalid **".to_string()), "{path:?}");
    assert!(path.contains(&"balance no_input".to_string()), "{path:?}");
    assert!(sim.sms.is_empty());
}

#[test]
fn a_refused_balance_sms_is_said_so() {
    let mut sim = at_menu(BOB);
    sim.sms_ok = false;
    sim.press("#22223333#1");
    assert_eq!(sim.sms.len(), 1);
    assert_eq!(sim.last_played(), "en:sms-failed");
    sim.play_out();
    assert_eq!(sim.last_played(), "en:main-menu");
}
