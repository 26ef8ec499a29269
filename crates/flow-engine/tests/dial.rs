//! The `dial` node: the ISP flow's department transfer (REFER) replaced by a dial node, each of
//! its outcomes followed, and the bridge's end continuing the flow.

mod support;

use flow_engine::{DialOutcome, Disposition, Input};
use support::{Sim, flows_with};

const STRANGER: &str = "+15550000000";

/// The ISP flow with its `department` node dialling instead of transferring.
fn dialling_isp(dial: &str) -> Sim {
    let set = flows_with(|name, text| {
        if name != "isp" {
            return text;
        }
        text.replace(
            "[nodes.department]\ntype = \"transfer\"\ntarget = \"{department}\"\non_failure = \"transfer_failed\"\n",
            dial,
        )
    });
    let mut sim = Sim::with(set, "isp", STRANGER, "2026-12-02T15:00");
    while !sim.last_played().ends_with("main-menu") {
        sim.play_out();
    }
    sim.play_out();
    sim
}

const DIAL: &str = "[nodes.department]\ntype = \"dial\"\nto = [\"{department}\", \"sip:backup@127.0.0.1\"]\n\
    ring_timeout_s = 15\ncaller_id = \"{ani}\"\nafter = \"after_call\"\nbusy = \"transfer_failed\"\n\
    no_answer = \"transfer_failed\"\nfailed = \"transfer_failed\"\n\n[nodes.after_call]\ntype = \"play\"\n\
    prompts = [\"goodbye\"]\nnext = \"bye\"\n";

#[test]
fn answered_bridges_and_the_flow_goes_on_when_the_agent_hangs_up() {
    let mut sim = dialling_isp(DIAL);
    sim.press("1");
    sim.settle();
    assert_eq!(
        sim.dials,
        ["Sequential sip:sales@127.0.0.1:5080 sip:backup@127.0.0.1 15s +15550000000"]
    );
    assert!(sim.summary.is_none(), "bridged: the flow waits");
    assert!(
        sim.path()
            .iter()
            .any(|s| s.starts_with("department answered sip:sales")),
        "{:?}",
        sim.path()
    );
    assert_eq!(sim.call.poll_timeout(), None, "no deadline while bridged");
    let id = sim.dialled.expect("dialled");
    sim.input(Input::BridgeEnded { id });
    assert_eq!(sim.last_played(), "en:goodbye");
    sim.settle();
    assert!(sim.hung_up);
    assert_eq!(sim.disposition(), &Disposition::Completed);
}

#[test]
fn the_caller_hanging_up_while_bridged_ends_the_flow() {
    let mut sim = dialling_isp(DIAL);
    sim.press("1");
    sim.settle();
    sim.input(Input::HungUp);
    assert_eq!(sim.disposition(), &Disposition::CallerHungUp);
}

#[test]
fn busy_no_answer_and_failed_take_their_branches() {
    for (outcome, step) in [
        (DialOutcome::Busy, "department busy"),
        (DialOutcome::NoAnswer, "department no_answer"),
        (DialOutcome::Failed("503".into()), "department failed 503"),
    ] {
        let mut sim = dialling_isp(DIAL);
        sim.dial_plan = Some(outcome);
        sim.press("1");
        sim.settle();
        assert!(sim.path().contains(&step.to_string()), "{:?}", sim.path());
        assert!(
            sim.played.iter().any(|p| p.contains("transfer-failed")),
            "{:?}",
            sim.played
        );
    }
}

#[test]
fn no_answer_from_the_daemon_times_out_as_no_answer() {
    let mut sim = dialling_isp(DIAL);
    sim.dial_plan = None;
    sim.press("1");
    sim.settle();
    let started = sim.now;
    sim.time_out();
    assert_eq!(
        sim.now - started,
        std::time::Duration::from_secs(2 * 15 + 10)
    );
    assert!(
        sim.path().contains(&"department timed_out".to_string()),
        "{:?}",
        sim.path()
    );
}
