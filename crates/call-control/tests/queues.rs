//! Queues through the core on a jumped clock: callers (real `sip_ua::Endpoint`s) run the
//! shipped `queue` flow, agents are `Endpoint`s with scripts, and each test is named after the
//! queue path it proves.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use call_control::{AgentStatus, Input, QueueEventKind, QueueSet};
use media::{DigitSource, MediaEvent};
use sip_ua::{CallId, Command, EndReason};
use support::{IVRD, Script, Sim};

const CALLER: usize = 0;

/// A flow queueing in `sales` (the shipped one queues in `support`).
const SALES: &str = r#"
[flow]
start = "wait"
languages = ["en"]

[nodes.wait]
type = "queue"
queue = "sales"
after = "bye"
timeout = "bye"
full = "bye"
no_agents = "bye"

[nodes.bye]
type = "hangup"
"#;

/// Queues `support` and `sales` with `settings` for support, and agents a1-a3 at peers 1-3
/// (10.0.0.3-5) serving support; a1 serves sales too. `agent` adds lines to every agent.
fn queues(settings: &str, agent: &str) -> QueueSet {
    let agents: String = (1..=3)
        .map(|i| {
            let queues = if i == 1 {
                "{ support = 0, sales = 0 }"
            } else {
                "{ support = 0 }"
            };
            format!(
                "[agents.a{i}]\ncontact = \"sip:a{i}@10.0.0.{}:5060\"\nqueues = {queues}\n\
                 wrap_up_s = 5\nno_answer_delay_s = 5\nbusy_delay_s = 5\n{agent}\n",
                i + 2
            )
        })
        .collect();
    let text = format!(
        "[defaults]\nring_timeout_s = 10\nannounce_position_s = 30\nannounce_min_gap_s = 10\n\
         exit_key = \"0\"\ncallback_key = \"9\"\n\
         default_handle_s = 120\nmax_wait_s = 120\n\
         [defaults.languages.en]\nmusic = [\"hold-music\"]\nposition = [\"queue-position\"]\n\
         wait = [\"queue-wait\"]\nminutes = [\"queue-minutes\"]\nperiodic = [\"queue-periodic\"]\n\
         overflow = [\"queue-overflow\"]\n\
         [queues.support]\n{settings}\n[queues.sales]\n{agents}"
    );
    call_control::load_queues("queues.toml", &text, &|_, _| true).expect("valid queues")
}

fn sim(settings: &str, agent: &str, agents: [Script; 3]) -> Sim {
    let flows = support::flows(&[("sales", SALES)]);
    let set = queues(settings, agent);
    let peers = [Script::Silent, agents[0], agents[1], agents[2]];
    Sim::with(flows, "queue", &[], &peers, |c| {
        c.queues = set;
        c.routes.insert("sales".into(), "sales".into());
    })
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn agent_addr(i: usize) -> SocketAddr {
    addr(&format!("10.0.0.{}:5060", i + 2))
}

fn ivrd() -> SocketAddr {
    addr(IVRD)
}

/// INVITEs ivrd sent to agent `i` (1-3).
fn rung(s: &Sim, i: usize) -> usize {
    s.sent(ivrd(), agent_addr(i), "INVITE").len()
}

/// A caller calls and is queued (answered after 1 s, the welcome takes 1 s).
fn queued(s: &mut Sim) -> CallId {
    let call = s.call(CALLER, "sip:500@10.0.0.1");
    s.run_for(Duration::from_millis(2100));
    call
}

/// ivrd's leg of the `n`th call it answered (the order media started).
fn caller_leg(s: &Sim, n: usize) -> CallId {
    s.media.answered[n]
}

fn key(s: &mut Sim, leg: CallId, key: char) {
    let digit = MediaEvent::Digit {
        key,
        source: DigitSource::Rfc4733,
    };
    s.media_event(leg, digit);
}

#[test]
fn longest_idle_rings_one_agent_bridges_them_and_the_agent_hanging_up_says_goodbye() {
    let answer = Script::Answer(Duration::from_secs(2));
    let mut s = sim("", "", [answer, answer, answer]);
    queued(&mut s);
    s.run_for(Duration::from_secs(3));
    assert_eq!(
        (rung(&s, 1), rung(&s, 2), rung(&s, 3)),
        (1, 0, 0),
        "one agent rung"
    );
    assert_eq!(s.media.bridged.len(), 1, "{:#?}", s.trace);
    let caller = caller_leg(&s, 0);
    let heard = s.prompts(caller);
    assert_eq!(heard[0], "queue-welcome");
    assert!(
        heard[1..].iter().all(|p| p == "hold-music"),
        "music, looped: {heard:?}"
    );
    assert!(
        s.trace.iter().any(|t| t.contains("Stop(")),
        "the music is cut at the bridge"
    );
    let agent_call = s.peers[1].incoming()[0];
    s.run_for(Duration::from_secs(20));
    s.peer_command(1, agent_call, Command::HangUp);
    s.run_for(Duration::from_secs(3));
    assert_eq!(
        s.prompts(caller).last().map(String::as_str),
        Some("goodbye")
    );
    assert_eq!(s.peers[CALLER].ended(), [EndReason::CallerHungUp]);
    s.run_for(Duration::from_secs(40));
    assert_eq!(s.live(), (0, 0, 0));
}

#[test]
fn ring_all_rings_every_free_agent_the_first_answer_wins_and_the_rest_are_cancelled() {
    let mut s = sim(
        "strategy = \"ring-all\"",
        "",
        [
            Script::Answer(Duration::from_secs(4)),
            Script::Answer(Duration::from_secs(1)),
            Script::Ring,
        ],
    );
    queued(&mut s);
    s.run_for(Duration::from_secs(2));
    assert_eq!((rung(&s, 1), rung(&s, 2), rung(&s, 3)), (1, 1, 1));
    assert_eq!(s.media.bridged.len(), 1);
    s.run_for(Duration::from_secs(5));
    assert_eq!(s.sent(ivrd(), agent_addr(1), "CANCEL").len(), 1);
    assert_eq!(s.sent(ivrd(), agent_addr(3), "CANCEL").len(), 1);
    assert!(s.peers[2].ended().is_empty(), "the winner stays");
    // a1's 200 crossed our CANCEL or came after it: either way a1 is not bridged.
    assert_eq!(s.media.bridged.len(), 1);
}

#[test]
fn ring_all_two_agents_answering_at_once_bridge_one_and_hang_up_the_other() {
    let both = Script::Answer(Duration::from_secs(2));
    let mut s = sim("strategy = \"ring-all\"", "", [both, both, Script::Ring]);
    queued(&mut s);
    s.run_for(Duration::from_secs(5));
    assert_eq!(s.media.bridged.len(), 1);
    let byes =
        s.sent(ivrd(), agent_addr(1), "BYE").len() + s.sent(ivrd(), agent_addr(2), "BYE").len();
    assert_eq!(byes, 1, "the second answer is hung up");
    s.run_for(Duration::from_secs(30));
    let ended: Vec<_> = [1, 2].iter().flat_map(|p| s.peers[*p].ended()).collect();
    assert_eq!(ended.len(), 1, "one agent stays on the call");
}

#[test]
fn an_agent_who_answers_and_hangs_up_at_once_ends_the_bridge_not_the_caller() {
    let answer = Script::Answer(Duration::from_secs(1));
    let mut s = sim("", "", [answer, answer, answer]);
    queued(&mut s);
    s.run_for(Duration::from_millis(1100));
    assert_eq!(s.media.bridged.len(), 1);
    let agent_call = s.peers[1].incoming()[0];
    s.peer_command(1, agent_call, Command::HangUp);
    s.run_for(Duration::from_secs(2));
    let caller = caller_leg(&s, 0);
    assert_eq!(
        s.prompts(caller).last().map(String::as_str),
        Some("goodbye")
    );
}

#[test]
fn a_busy_agent_is_held_back_and_the_next_agent_is_rung() {
    let mut s = sim(
        "",
        "",
        [
            Script::Reject(486),
            Script::Answer(Duration::from_secs(1)),
            Script::Ring,
        ],
    );
    queued(&mut s);
    s.run_for(Duration::from_secs(3));
    assert_eq!(rung(&s, 1), 1);
    assert_eq!(rung(&s, 2), 1, "the next one");
    assert_eq!(s.media.bridged.len(), 1);
    assert_eq!(
        s.sent(ivrd(), agent_addr(1), "ACK").len(),
        1,
        "the 486 ACKed"
    );
}

#[test]
fn an_agent_ringing_out_max_no_answer_times_goes_on_break_and_is_not_rung_again() {
    let mut s = sim(
        "max_wait_s = 100",
        "max_no_answer = 2",
        [Script::Ring, Script::Ring, Script::Ring],
    );
    s.core
        .handle_input(s.now, agent_status("a2", AgentStatus::LoggedOut));
    s.core
        .handle_input(s.now, agent_status("a3", AgentStatus::LoggedOut));
    queued(&mut s);
    s.run_for(Duration::from_secs(90));
    // Rung at 2 s, rang out at 12 s, held back 5 s, rung at 17 s, rang out at 27 s: on break.
    assert_eq!(rung(&s, 1), 2, "{:#?}", s.trace);
    assert_eq!(s.sent(ivrd(), agent_addr(1), "CANCEL").len(), 2);
    s.run_for(Duration::from_secs(20));
    let caller = caller_leg(&s, 0);
    assert!(
        s.prompts(caller).contains(&"queue-sorry".to_string()),
        "the longest wait passed"
    );
}

fn agent_status(agent: &str, status: AgentStatus) -> Input {
    Input::AgentStatus {
        agent: agent.into(),
        status,
    }
}

#[test]
fn wrap_up_is_one_per_agent_across_their_queues() {
    let answer = Script::Answer(Duration::from_secs(1));
    let mut s = sim("", "", [answer, answer, answer]);
    queued(&mut s);
    s.run_for(Duration::from_secs(2));
    let agent_call = s.peers[1].incoming()[0];
    s.run_for(Duration::from_secs(5));
    s.peer_command(1, agent_call, Command::HangUp);
    // a1 is in wrap-up (5 s); a caller into `sales` (only a1 serves it) waits for it.
    s.call(CALLER, "sip:sales@10.0.0.1");
    s.run_for(Duration::from_millis(1100));
    s.run_for(Duration::from_secs(2));
    assert_eq!(rung(&s, 1), 1, "not during wrap-up");
    s.run_for(Duration::from_secs(5));
    assert_eq!(rung(&s, 1), 2, "after it");
}

#[test]
fn the_longest_wait_takes_the_timeout_branch_and_cancels_the_ringing_agent() {
    let mut s = sim(
        "max_wait_s = 8",
        "",
        [Script::Ring, Script::Ring, Script::Ring],
    );
    queued(&mut s);
    s.run_for(Duration::from_secs(9));
    let caller = caller_leg(&s, 0);
    assert!(
        s.prompts(caller).contains(&"queue-sorry".to_string()),
        "{:?}",
        s.prompts(caller)
    );
    assert_eq!(s.sent(ivrd(), agent_addr(1), "CANCEL").len(), 1);
}

#[test]
fn a_full_queue_sends_the_next_caller_to_the_full_branch() {
    let mut s = sim(
        "max_len = 1",
        "",
        [Script::Ring, Script::Ring, Script::Ring],
    );
    queued(&mut s);
    s.call(CALLER, "sip:500@10.0.0.1");
    s.run_for(Duration::from_millis(2100));
    let second = caller_leg(&s, 1);
    assert_eq!(
        s.prompts(second),
        ["queue-welcome", "queue-sorry", "goodbye"]
    );
}

#[test]
fn no_agent_logged_in_takes_the_no_agents_branch() {
    let mut s = sim(
        "",
        "logged_in = false",
        [Script::Ring, Script::Ring, Script::Ring],
    );
    queued(&mut s);
    let caller = caller_leg(&s, 0);
    assert_eq!(
        s.prompts(caller),
        ["queue-welcome", "queue-closed", "goodbye"]
    );
}

#[test]
fn the_last_agent_logging_out_empties_the_queue_when_it_leaves_when_empty() {
    let mut s = sim("", "", [Script::Ring, Script::Ring, Script::Ring]);
    queued(&mut s);
    for a in ["a1", "a2", "a3"] {
        s.core
            .handle_input(s.now, agent_status(a, AgentStatus::LoggedOut));
    }
    s.settle();
    let caller = caller_leg(&s, 0);
    assert!(
        s.prompts(caller).contains(&"queue-closed".to_string()),
        "{:?}",
        s.prompts(caller)
    );
}

#[test]
fn the_exit_key_and_the_callback_key_leave_by_their_branches_other_keys_do_nothing() {
    for (k, prompt) in [('0', "queue-exit"), ('9', "queue-callback")] {
        let mut s = sim("", "", [Script::Ring, Script::Ring, Script::Ring]);
        queued(&mut s);
        let caller = caller_leg(&s, 0);
        key(&mut s, caller, '5');
        assert!(
            !s.prompts(caller)
                .iter()
                .any(|p| p.starts_with("queue-exit"))
        );
        key(&mut s, caller, k);
        s.run_for(Duration::from_millis(100));
        assert_eq!(
            s.prompts(caller).iter().rev().nth(1).map(String::as_str),
            Some(prompt)
        );
        assert_eq!(
            s.sent(ivrd(), agent_addr(1), "CANCEL").len(),
            1,
            "its agent cancelled"
        );
    }
}

#[test]
fn a_caller_hanging_up_while_an_agent_rings_cancels_the_agent() {
    let mut s = sim("", "", [Script::Ring, Script::Ring, Script::Ring]);
    let call = queued(&mut s);
    s.run_for(Duration::from_secs(1));
    s.peer_command(CALLER, call, Command::HangUp);
    s.run_for(Duration::from_secs(40));
    assert_eq!(s.peers[1].ended(), [EndReason::Cancelled]);
    assert_eq!(s.live(), (0, 0, 0));
}

#[test]
fn announcements_give_the_position_and_wait_and_the_music_resumes() {
    let mut s = sim("", "", [Script::Ring, Script::Ring, Script::Ring]);
    for a in ["a2", "a3"] {
        s.core
            .handle_input(s.now, agent_status(a, AgentStatus::LoggedOut));
    }
    queued(&mut s);
    s.run_for(Duration::from_secs(35));
    let caller = caller_leg(&s, 0);
    let heard = s.prompts(caller).join(" ");
    // One agent logged in, the default handle time 120 s: about 2 minutes.
    assert!(
        heard.contains("queue-position num-1 queue-wait num-2 queue-minutes hold-music"),
        "{heard}"
    );
}

#[test]
fn a_ticket_opens_with_the_ivr_path_goes_to_the_agent_rung_and_closes_bridged() {
    use call_control::TicketChange;
    let answer = Script::Answer(Duration::from_secs(2));
    let mut s = sim("", "", [answer, answer, answer]);
    let call = queued(&mut s);
    s.run_for(Duration::from_secs(3));
    let TicketChange::Opened(t) = &s.tickets[0] else {
        panic!("{:?}", s.tickets);
    };
    assert_eq!(
        (t.queue.as_str(), t.caller.as_str()),
        ("support", "+15551234567")
    );
    assert!(
        t.path.iter().any(|p| p.starts_with("queue/welcome:played")),
        "{:?}",
        t.path
    );
    assert_eq!(
        t.predicted_wait,
        Duration::from_secs(40),
        "120 s over 3 agents"
    );
    let id = t.id.clone();
    assert_eq!(
        s.tickets[1],
        TicketChange::Offered {
            id: id.clone(),
            agent: "a1".into()
        }
    );
    let TicketChange::Closed {
        outcome,
        agent,
        waited,
        deliver,
        ..
    } = &s.tickets[2]
    else {
        panic!("{:?}", s.tickets);
    };
    assert_eq!(
        (*outcome, agent.as_deref(), *deliver),
        ("bridged", Some("a1"), false)
    );
    assert!(*waited >= Duration::from_secs(2), "{waited:?}");
    s.peer_command(CALLER, call, Command::HangUp);
    s.run_for(Duration::from_secs(1));
    assert_eq!(s.tickets.last(), Some(&TicketChange::Ended { id }));
}

#[test]
fn one_caller_rings_one_agent_at_a_time_even_when_two_come_free_at_once() {
    let answer = Script::Answer(Duration::from_secs(1));
    let mut s = sim("", "", [answer, answer, Script::Ring]);
    s.core
        .handle_input(s.now, agent_status("a3", AgentStatus::LoggedOut));
    // Two callers, two agents talking to them; a third caller waits.
    queued(&mut s);
    queued(&mut s);
    queued(&mut s);
    s.run_for(Duration::from_secs(2));
    let calls: Vec<_> = [1, 2].iter().map(|p| s.peers[*p].incoming()[0]).collect();
    // Both agents hang up in the same instant: the waiting caller rings exactly one of them.
    for (p, call) in [1, 2].iter().zip(calls) {
        s.peers[*p]
            .sip
            .handle_command(s.now, call, Command::HangUp)
            .expect("agent BYE");
    }
    // Both come out of wrap-up (5 s) in the same instant too.
    s.run_for(Duration::from_secs(6));
    let third = caller_leg(&s, 2);
    let rings: Vec<_> = s
        .trace
        .iter()
        .filter(|t| t.starts_with("Place") && t.contains(&format!("home: Some({third:?})")))
        .collect();
    let all: Vec<_> = s
        .trace
        .iter()
        .filter(|t| t.starts_with("Place"))
        .map(|t| t.chars().take(60).collect::<String>())
        .collect();
    assert_eq!(rings.len(), 1, "{third:?} {all:#?}");
}

#[test]
fn a_callback_keeps_its_place_and_the_customer_is_called_back_when_the_agent_answers() {
    use call_control::QueueEventKind;
    let answer = Script::Answer(Duration::from_secs(1));
    let mut s = sim("", "", [answer, Script::Ring, Script::Ring]);
    for a in ["a2", "a3"] {
        s.core
            .handle_input(s.now, agent_status(a, AgentStatus::LoggedOut));
    }
    // The caller's phone answers calls to it: the call back.
    s.peers[CALLER].script = Script::Answer(Duration::from_secs(1));
    queued(&mut s);
    s.run_for(Duration::from_secs(2));
    assert_eq!(s.media.bridged.len(), 1, "the first caller talks to a1");
    // A second caller waits, and asks for a callback.
    queued(&mut s);
    let second = caller_leg(&s, 1);
    key(&mut s, second, '9');
    s.run_for(Duration::from_secs(3));
    assert!(s.prompts(second).contains(&"queue-callback".to_string()));
    // A third joins behind the kept place.
    queued(&mut s);
    let positions: Vec<usize> = s
        .queue_events
        .iter()
        .filter_map(|e| match e.kind {
            QueueEventKind::Enter { position } => Some(position),
            _ => None,
        })
        .collect();
    assert_eq!(positions, [1, 1, 2], "the callback counts in the line");
    // a1 hangs up on the first caller; after wrap-up (5 s) a1 is rung for the callback,
    // answers, and the customer is called back and bridged to a1.
    let first_agent_call = s.peers[1].incoming()[0];
    s.peer_command(1, first_agent_call, Command::HangUp);
    s.run_for(Duration::from_secs(9));
    assert_eq!(
        s.peers[1].incoming().len(),
        2,
        "a1 rung for the callback first"
    );
    let callbacks = s.sent(ivrd(), addr("10.0.0.2:5060"), "INVITE").len();
    assert_eq!(callbacks, 1, "the customer called back");
    assert_eq!(s.media.bridged.len(), 2, "{:#?}", s.media.bridged);
    let third = caller_leg(&s, 2);
    assert!(
        !s.media
            .bridged
            .iter()
            .any(|(a, b)| *a == third || *b == third),
        "the third caller still waits its turn"
    );
}

#[test]
fn the_periodic_announcement_plays_at_its_interval_apart_from_the_position() {
    let mut s = sim(
        "announce_position_s = 0\nperiodic_s = 20",
        "",
        [Script::Ring, Script::Ring, Script::Ring],
    );
    queued(&mut s);
    s.run_for(Duration::from_secs(45));
    let leg = caller_leg(&s, 0);
    let periodic = s
        .prompts(leg)
        .iter()
        .filter(|p| *p == "queue-periodic")
        .count();
    assert_eq!(periodic, 2, "at 20 s and 40 s: {:?}", s.prompts(leg));
}

/// How many "ring no answer" events the journal holds for `agent`.
fn rang_out(s: &Sim, agent: &str) -> usize {
    s.queue_events
        .iter()
        .filter(|e| matches!(&e.kind, QueueEventKind::RingNoAnswer { agent: a } if a == agent))
        .count()
}

#[test]
fn ring_all_losers_are_neither_held_back_nor_counted_as_not_answering() {
    let mut s = sim(
        "strategy = \"ring-all\"",
        "max_no_answer = 1",
        [
            Script::Answer(Duration::from_secs(1)),
            Script::Ring,
            Script::Ring,
        ],
    );
    queued(&mut s);
    s.run_for(Duration::from_secs(2));
    assert_eq!(s.media.bridged.len(), 1, "a1 took it");
    assert_eq!(s.sent(ivrd(), agent_addr(2), "CANCEL").len(), 1);
    // A second caller right away: a2 and a3 ring again at once, not 5 s later, and not on
    // break for a ring the switch itself cancelled; nor does a ring timer of the first ring
    // go off against them later.
    s.call(CALLER, "sip:500@10.0.0.1");
    s.run_for(Duration::from_millis(2100));
    assert_eq!((rung(&s, 2), rung(&s, 3)), (2, 2), "{:#?}", s.trace);
    assert_eq!((rang_out(&s, "a2"), rang_out(&s, "a3")), (0, 0));
    s.run_for(Duration::from_secs(5));
    assert_eq!((rang_out(&s, "a2"), rang_out(&s, "a3")), (0, 0));
}

#[test]
fn an_agent_already_logged_out_logging_out_again_does_not_empty_a_queue_joined_empty() {
    let mut s = sim(
        "join_empty = true\nleave_when_empty = true",
        "logged_in = false",
        [
            Script::Answer(Duration::from_secs(1)),
            Script::Ring,
            Script::Ring,
        ],
    );
    queued(&mut s);
    s.core
        .handle_input(s.now, agent_status("a2", AgentStatus::LoggedOut));
    s.settle();
    let caller = caller_leg(&s, 0);
    assert!(
        !s.prompts(caller).contains(&"queue-closed".to_string()),
        "{:?}",
        s.prompts(caller)
    );
    s.core
        .handle_input(s.now, agent_status("a1", AgentStatus::Available));
    s.run_for(Duration::from_secs(2));
    assert_eq!(s.media.bridged.len(), 1, "still in line, and taken");
}

#[test]
fn over_capacity_joining_callers_hear_the_overflow_options_then_wait_on_or_take_the_callback() {
    // The estimated wait is position × 120 s / 3 agents: 40 s, 80 s, 120 s, … over 60 s from
    // the second caller on.
    let rings = [Script::Ring, Script::Ring, Script::Ring];
    let mut s = sim("overflow_ewt_s = 60", "", rings);
    queued(&mut s);
    let first = caller_leg(&s, 0);
    assert!(!s.prompts(first).iter().any(|p| p == "queue-overflow"));
    // The second presses 1 (keep waiting) during the options: the music at once.
    s.call(CALLER, "sip:500@10.0.0.1");
    s.run_for(Duration::from_millis(2100));
    let second = caller_leg(&s, 1);
    assert_eq!(s.prompts(second), ["queue-welcome", "queue-overflow"]);
    key(&mut s, second, '1');
    s.run_for(Duration::from_millis(100));
    assert_eq!(
        s.prompts(second),
        ["queue-welcome", "queue-overflow", "hold-music"]
    );
    // The third lets the options end: the music; the fourth takes the callback (9).
    s.call(CALLER, "sip:500@10.0.0.1");
    s.run_for(Duration::from_millis(3100));
    let third = caller_leg(&s, 2);
    assert_eq!(
        s.prompts(third),
        ["queue-welcome", "queue-overflow", "hold-music"]
    );
    s.call(CALLER, "sip:500@10.0.0.1");
    s.run_for(Duration::from_millis(2100));
    let fourth = caller_leg(&s, 3);
    key(&mut s, fourth, '9');
    s.run_for(Duration::from_millis(100));
    assert_eq!(
        s.prompts(fourth).iter().rev().nth(1).map(String::as_str),
        Some("queue-callback")
    );
    let overflows = s
        .queue_events
        .iter()
        .filter(|e| matches!(e.kind, QueueEventKind::Overflow { .. }))
        .count();
    assert_eq!(overflows, 3);
}

#[test]
fn a_waiting_callers_priority_moves_them_up_the_line_and_they_are_taken_first() {
    let answer = Script::Answer(Duration::from_secs(1));
    let mut s = sim("", "logged_in = false", [answer, answer, answer]);
    // a3 on break: logged in, so callers join, but nobody is rung yet.
    s.core
        .handle_input(s.now, agent_status("a3", AgentStatus::OnBreak));
    for _ in 0..3 {
        s.call(CALLER, "sip:500@10.0.0.1");
        s.run_for(Duration::from_millis(300));
    }
    s.run_for(Duration::from_secs(2));
    let third_leg = caller_leg(&s, 2);
    let views = s.core.call_views();
    let third = views
        .iter()
        .find(|v| v.leg == third_leg)
        .expect("third")
        .id
        .clone();
    assert!(s.core.is_queued(&third));
    let priority = Input::QueuePriority {
        call: third.clone(),
        priority: 5,
    };
    s.core.handle_input(s.now, priority);
    s.settle();
    let moved = s.queue_events.iter().find_map(|e| match e.kind {
        QueueEventKind::Priority { position, .. } => Some((e.call_id.clone(), position)),
        _ => None,
    });
    assert_eq!(moved, Some((third, 1)));
    // The first agent free takes the third caller.
    s.core
        .handle_input(s.now, agent_status("a3", AgentStatus::Available));
    s.run_for(Duration::from_secs(2));
    assert_eq!(s.media.bridged.len(), 1);
    assert_eq!(s.media.bridged[0].0, third_leg, "{:#?}", s.trace);
}

#[test]
fn a_rejection_holds_the_agent_back_for_the_reject_delay_not_the_busy_one() {
    let mut s = sim(
        "",
        "reject_delay_s = 20",
        [Script::Reject(603), Script::Ring, Script::Ring],
    );
    for a in ["a2", "a3"] {
        s.core
            .handle_input(s.now, agent_status(a, AgentStatus::LoggedOut));
    }
    queued(&mut s);
    s.run_for(Duration::from_secs(1));
    assert_eq!(rung(&s, 1), 1);
    let rejected = s.queue_events.iter().any(|e| {
        matches!(&e.kind, QueueEventKind::AgentRejected { agent, status: 603 } if agent == "a1")
    });
    assert!(rejected, "{:?}", s.queue_events);
    // busy_delay_s is 5: a busy a1 would ring again by now.
    s.run_for(Duration::from_secs(10));
    assert_eq!(rung(&s, 1), 1, "held back 20 s");
    s.run_for(Duration::from_secs(10));
    assert_eq!(rung(&s, 1), 2, "then rung again");
}
