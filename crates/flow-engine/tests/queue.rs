//! The `queue` node, through the shipped `queue` flow: the caller is queued after the welcome,
//! each way out of the queue takes its branch, and a bridged call goes on when the agent hangs
//! up.

mod support;

use flow_engine::{Disposition, Input, QueueOutcome};
use support::Sim;

fn queued() -> Sim {
    let mut sim = Sim::new("queue", "+15551234567", "2026-12-02T15:00");
    assert_eq!(sim.last_played(), "en:queue-welcome");
    sim.play_out();
    assert_eq!(
        sim.queued,
        ["support 0 true true"],
        "exit key and callback branches exist"
    );
    sim
}

#[test]
fn each_way_out_of_the_queue_takes_its_branch() {
    for (outcome, prompt) in [
        (QueueOutcome::Timeout, "en:queue-sorry goodbye"),
        (QueueOutcome::Full, "en:queue-sorry goodbye"),
        (QueueOutcome::NoAgents, "en:queue-closed goodbye"),
        (QueueOutcome::ExitKey, "en:queue-exit goodbye"),
        (QueueOutcome::Callback, "en:queue-callback goodbye"),
    ] {
        let mut sim = queued();
        let id = sim.queue_request.expect("queued");
        sim.input(Input::QueueResult {
            id,
            outcome: outcome.clone(),
        });
        assert_eq!(sim.last_played(), prompt, "{outcome:?}");
        sim.settle();
        assert!(sim.hung_up, "{outcome:?}");
        assert_eq!(sim.disposition(), &Disposition::Completed);
    }
}

#[test]
fn bridged_waits_for_the_agent_and_then_says_goodbye() {
    let mut sim = queued();
    let id = sim.queue_request.expect("queued");
    sim.input(Input::QueueResult {
        id,
        outcome: QueueOutcome::Bridged("alice".into()),
    });
    assert!(
        sim.path().iter().any(|s| s.ends_with("bridged alice")),
        "{:?}",
        sim.path()
    );
    assert_eq!(sim.call.poll_timeout(), None, "no deadline while bridged");
    sim.input(Input::BridgeEnded { id });
    assert_eq!(sim.last_played(), "en:goodbye");
    sim.settle();
    assert!(sim.hung_up);
}

#[test]
fn keys_while_queued_are_the_queues_not_the_flows() {
    let mut sim = queued();
    sim.press("123");
    assert!(sim.summary.is_none(), "still queued");
    assert_eq!(sim.queued.len(), 1);
}

#[test]
fn a_queue_answer_that_never_comes_times_out_to_the_timeout_branch() {
    let mut sim = queued();
    sim.time_out();
    assert_eq!(sim.last_played(), "en:queue-sorry goodbye");
}

#[test]
fn a_queue_node_naming_no_queue_is_an_error_at_its_place() {
    let set = flow_engine::load(
        &[flow_engine::SourceFile {
            name: "q".into(),
            file: "q.toml".into(),
            text: "[flow]\nstart = \"w\"\n[nodes.w]\ntype = \"queue\"\nqueue = \"nope\"\n\
                   timeout = \"b\"\nfull = \"b\"\nno_agents = \"b\"\n[nodes.b]\ntype = \"hangup\"\n"
                .into(),
        }],
        &support::catalog(),
    );
    let errors = set.expect_err("refused");
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        ["q.toml: node `w`: queue: no queue named `nope` (queues: sales, support)"]
    );
}
