//! `config/flows/coupon.toml`: a key during the message sends a coupon SMS.

mod support;

use flow_engine::Disposition;
use support::Sim;

const CALLER: &str = "+15551239999";
const NOON: &str = "2026-11-23T12:00";

#[test]
fn a_key_during_the_message_sends_a_coupon_with_a_serial() {
    let mut sim = Sim::new("coupon", CALLER, NOON);
    assert_eq!(sim.last_played(), "en:coupon-offer");
    sim.press("5");
    assert_eq!(sim.events, ["coupon_requested"]);
    assert_eq!(sim.sms.len(), 1);
    let sms = &sim.sms[0];
    assert_eq!(sms.to, CALLER);
    assert_eq!(sms.coupon.as_deref(), Some("SERIAL1"));
    assert_eq!(
        sms.text,
        "Your coupon code: SERIAL1. Show it at the till within 30 days."
    );
    assert_eq!(sms.idempotency_key, "call-1:coupon/send_coupon:coupon");
    assert_eq!(sim.last_played(), "en:coupon-sent goodbye");
    sim.settle();
    assert_eq!(sim.disposition(), &Disposition::Completed);
    assert_eq!(sim.path()[1], "offer key 5");
}

#[test]
fn no_key_says_goodbye_without_a_coupon() {
    let mut sim = Sim::new("coupon", CALLER, NOON);
    sim.settle();
    assert!(sim.sms.is_empty());
    assert_eq!(sim.played, ["en:coupon-offer", "en:goodbye"]);
    assert_eq!(sim.disposition(), &Disposition::Completed);
}

#[test]
fn a_withheld_number_cannot_get_a_coupon() {
    let mut sim = Sim::new("coupon", "anonymous", NOON);
    assert_eq!(sim.last_played(), "en:coupon-no-caller-id goodbye");
    sim.press("1");
    sim.settle();
    assert!(sim.sms.is_empty());
}

#[test]
fn refused_coupon_or_sms_says_so() {
    for (coupon_ok, sms_ok) in [(false, true), (true, false)] {
        let mut sim = Sim::new("coupon", CALLER, NOON);
        sim.coupon_ok = coupon_ok;
        sim.sms_ok = sms_ok;
        sim.press("1");
        assert_eq!(sim.last_played(), "en:sms-failed goodbye");
        sim.settle();
        assert_eq!(sim.disposition(), &Disposition::Completed);
    }
}
