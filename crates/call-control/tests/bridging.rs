//! A caller bridged to agents through the shipped `dial` flow, on a jumped clock: the caller and
//! the agents are real `sip_ua::Endpoint`s talking to ivrd's endpoint over a simulated wire,
//! and each test is named after the call-control path it proves.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use sip_ua::sdp::Direction;
use sip_ua::{Command, EndReason, Event};
use support::{IVRD, Script, Sim, header, uri};

const CALLER: usize = 0;
const AGENT: usize = 1;
const AGENT2: usize = 2;

const BOTH: &str = r#"
[flow]
start = "agents"
languages = ["en"]

[nodes.agents]
type = "dial"
to = ["sip:agent@10.0.0.3:5060", "sip:agent2@10.0.0.4:5060"]
mode = "simultaneous"
ring_timeout_s = 20
after = "goodbye"
busy = "unavailable"
no_answer = "unavailable"
failed = "unavailable"

[nodes.unavailable]
type = "play"
prompts = ["transfer-failed"]
next = "bye"

[nodes.goodbye]
type = "play"
prompts = ["goodbye"]
next = "bye"

[nodes.bye]
type = "hangup"
"#;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn ivrd() -> SocketAddr {
    addr(IVRD)
}

/// The caller calls the `dial` flow, whose agent is peer 1; agent 2 exists for `both`.
fn sim(agent: Script, agent2: Script, flow: &str) -> Sim {
    let flows = support::flows(&[("both", BOTH)]);
    let vars = [("agent", "sip:agent@10.0.0.3:5060")];
    Sim::new(flows, flow, &vars, &[Script::Silent, agent, agent2])
}

/// The caller calls and the flow reaches its dial node (answer after 1 s, "transferring" 1 s).
fn call(s: &mut Sim) -> sip_ua::CallId {
    let call = s.call(CALLER, "sip:400@10.0.0.1");
    s.run_for(Duration::from_millis(2100));
    call
}

fn bridged(s: &Sim) -> (sip_ua::CallId, sip_ua::CallId) {
    assert_eq!(s.media.bridged.len(), 1, "one bridge:\n{:#?}", s.trace);
    s.media.bridged[0]
}

#[test]
fn the_agent_answering_is_bridged_and_the_agent_hanging_up_ends_the_bridge_not_the_caller() {
    let mut s = sim(
        Script::Answer(Duration::from_secs(2)),
        Script::Silent,
        "dial",
    );
    call(&mut s);
    s.run_for(Duration::from_secs(3));
    let (caller, agent) = bridged(&s);
    assert_eq!(s.prompts(caller), ["transferring"]);
    assert!(
        s.media.updates.iter().any(|(l, _)| *l == agent),
        "the agent's media"
    );
    let agent_call = s.peers[AGENT].incoming()[0];
    s.run_for(Duration::from_secs(30));
    s.peer_command(AGENT, agent_call, Command::HangUp);
    s.run_for(Duration::from_secs(3));
    assert_eq!(s.media.unbridged, [(caller, agent)]);
    assert_eq!(s.prompts(caller), ["transferring", "goodbye"]);
    assert_eq!(
        s.peers[CALLER].ended(),
        [EndReason::CallerHungUp],
        "ivrd hung up after goodbye"
    );
    assert_eq!(s.media.ended.len(), 2, "both legs' media ended");
    assert_eq!(s.live(), (0, 0, 0));
}

#[test]
fn the_caller_hanging_up_while_bridged_hangs_up_the_agent() {
    let mut s = sim(
        Script::Answer(Duration::from_secs(1)),
        Script::Silent,
        "dial",
    );
    let call = call(&mut s);
    s.run_for(Duration::from_secs(2));
    bridged(&s);
    s.peer_command(CALLER, call, Command::HangUp);
    s.run_for(Duration::from_secs(2));
    assert_eq!(
        s.peers[AGENT].ended(),
        [EndReason::CallerHungUp],
        "ivrd's BYE"
    );
    assert_eq!(s.live(), (0, 0, 0));
}

#[test]
fn the_caller_cancelling_while_the_agent_rings_cancels_the_agent() {
    let mut s = sim(Script::Ring, Script::Silent, "dial");
    let call = call(&mut s);
    s.run_for(Duration::from_secs(3));
    assert_eq!(s.peers[AGENT].incoming().len(), 1);
    s.peer_command(CALLER, call, Command::HangUp);
    s.run_for(Duration::from_secs(40));
    assert!(!s.sent(ivrd(), addr("10.0.0.3:5060"), "CANCEL").is_empty());
    assert_eq!(s.peers[AGENT].ended(), [EndReason::Cancelled]);
    assert!(s.media.bridged.is_empty());
    assert_eq!(s.live(), (0, 0, 0));
}

#[test]
fn a_busy_agent_is_acknowledged_and_the_caller_hears_transfer_failed() {
    let mut s = sim(Script::Reject(486), Script::Silent, "dial");
    let call = call(&mut s);
    s.run_for(Duration::from_secs(5));
    assert_eq!(
        s.sent(ivrd(), addr("10.0.0.3:5060"), "ACK").len(),
        1,
        "the 486 ACKed"
    );
    let caller = s.legs()[0];
    assert_eq!(
        s.prompts(caller),
        ["transferring", "transfer-failed", "goodbye"]
    );
    assert!(s.peers[CALLER].ended().contains(&EndReason::CallerHungUp));
    let _ = call;
    s.run_for(Duration::from_secs(40));
    assert_eq!(
        s.live(),
        (0, 0, 0),
        "after the 486's retransmissions are absorbed"
    );
}

#[test]
fn no_answer_cancels_the_agent_at_the_ring_timeout() {
    let mut s = sim(Script::Ring, Script::Silent, "dial");
    call(&mut s);
    s.run_for(Duration::from_secs(19));
    assert!(s.sent(ivrd(), addr("10.0.0.3:5060"), "CANCEL").is_empty());
    s.run_for(Duration::from_secs(2));
    assert_eq!(s.sent(ivrd(), addr("10.0.0.3:5060"), "CANCEL").len(), 1);
    s.run_for(Duration::from_secs(5));
    assert_eq!(s.peers[AGENT].ended(), [EndReason::Cancelled]);
    let caller = s.legs()[0];
    assert_eq!(
        s.prompts(caller),
        ["transferring", "transfer-failed", "goodbye"]
    );
    s.run_for(Duration::from_secs(40));
    assert_eq!(
        s.live(),
        (0, 0, 0),
        "after the 487's retransmissions are absorbed"
    );
}

#[test]
fn an_agent_that_never_answers_at_all_fails_the_dial_and_its_leg_is_cleaned_up() {
    let mut s = sim(Script::Silent, Script::Silent, "dial");
    // Not even 100 Trying: the peer's endpoint is not there.
    s.lose = Some(Box::new(|d| d.to == addr("10.0.0.3:5060")));
    call(&mut s);
    s.run_for(Duration::from_secs(25));
    let caller = s.legs()[0];
    assert_eq!(
        s.prompts(caller),
        ["transferring", "transfer-failed", "goodbye"]
    );
    s.run_for(Duration::from_secs(60));
    assert_eq!(s.live(), (0, 0, 0), "Timer B ends the leg:\n{:#?}", s.trace);
}

#[test]
fn bye_glare_both_sides_hanging_up_at_once_ends_both_cleanly() {
    let mut s = sim(
        Script::Answer(Duration::from_secs(1)),
        Script::Silent,
        "dial",
    );
    let call = call(&mut s);
    s.run_for(Duration::from_secs(2));
    bridged(&s);
    let agent_call = s.peers[AGENT].incoming()[0];
    // Both BYEs leave in the same instant; each crosses ivrd's BYE to the other.
    s.peers[CALLER]
        .sip
        .handle_command(s.now, call, Command::HangUp)
        .expect("caller BYE");
    s.peers[AGENT]
        .sip
        .handle_command(s.now, agent_call, Command::HangUp)
        .expect("agent BYE");
    s.run_for(Duration::from_secs(40));
    assert_eq!(s.peers[CALLER].ended().len(), 1);
    assert_eq!(s.peers[AGENT].ended().len(), 1);
    assert_eq!(s.media.ended.len(), 2);
    assert_eq!(s.live(), (0, 0, 0));
}

/// A re-INVITE with `sendonly` (hold) sent to ivrd in an established dialog, then its ACK.
fn reinvite(s: &mut Sim, from: SocketAddr, dialog: Dialog, cseq: u32) {
    let sdp = format!(
        "v=0\r\no=- 2 2 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n",
        ip = from.ip()
    );
    // Responses go to a port no peer listens on: the peer endpoints did not send it.
    let via = format!("SIP/2.0/UDP {}:5999;branch=z9hG4bK-sim-reinvite", from.ip());
    let head = format!(
        "INVITE {target} SIP/2.0\nVia: {via}\nMax-Forwards: 70\nFrom: {from_h}\nTo: {to_h}\n\
         Call-ID: {cid}\nCSeq: {cseq} INVITE\nContact: <sip:peer@{from}>\n\
         Content-Type: application/sdp\nContent-Length: {len}\n\n",
        target = dialog.target,
        from_h = dialog.from,
        to_h = dialog.to,
        cid = dialog.call_id,
        len = sdp.len()
    );
    s.inject(from, &format!("{head}{}", sdp.replace("\r\n", "\n")));
    s.run_for(Duration::from_millis(100));
    let ok = s
        .log
        .iter()
        .find(|d| {
            d.from == ivrd()
                && d.text.starts_with("SIP/2.0 200")
                && d.text.contains(&format!("CSeq: {cseq} INVITE"))
        })
        .unwrap_or_else(|| {
            panic!(
                "ivrd answers the re-INVITE:\n{:#?}",
                s.log.iter().rev().take(3).collect::<Vec<_>>()
            )
        });
    assert!(ok.text.contains("a=recvonly"), "{}", ok.text);
    let ack = format!(
        "ACK {target} SIP/2.0\nVia: SIP/2.0/UDP {ip}:5999;branch=z9hG4bK-sim-ack\nMax-Forwards: 70\n\
         From: {from_h}\nTo: {to_h}\nCall-ID: {cid}\nCSeq: {cseq} ACK\nContent-Length: 0\n\n",
        target = dialog.target,
        ip = from.ip(),
        from_h = dialog.from,
        to_h = dialog.to,
        cid = dialog.call_id
    );
    s.inject(from, &ack);
    s.run_for(Duration::from_millis(100));
}

/// What a peer needs to send an in-dialog request to ivrd.
struct Dialog {
    target: String,
    from: String,
    to: String,
    call_id: String,
}

#[test]
fn a_re_invite_on_either_leg_updates_that_leg_only_and_the_bridge_stays() {
    let mut s = sim(
        Script::Answer(Duration::from_secs(1)),
        Script::Silent,
        "dial",
    );
    call(&mut s);
    s.run_for(Duration::from_secs(2));
    let (caller, agent) = bridged(&s);
    let agent_addr = addr("10.0.0.3:5060");
    // The agent's side: ivrd sent the INVITE, the agent answered it.
    let invite = s.sent(ivrd(), agent_addr, "INVITE")[0].text.clone();
    let ok = s.sent(agent_addr, ivrd(), "SIP/2.0 200")[0].text.clone();
    let dialog = Dialog {
        target: uri(header(&invite, "Contact").expect("Contact")).into(),
        from: header(&ok, "To").expect("To").into(),
        to: header(&invite, "From").expect("From").into(),
        call_id: header(&invite, "Call-ID").expect("Call-ID").into(),
    };
    reinvite(&mut s, agent_addr, dialog, 50);
    let held: Vec<_> = s
        .media
        .updates
        .iter()
        .filter(|(_, n)| n.direction == Direction::RecvOnly)
        .collect();
    assert_eq!(held.len(), 1, "{:#?}", s.media.updates);
    assert_eq!(held[0].0, agent);
    // The caller's side: the caller sent the INVITE, ivrd answered it.
    let caller_addr = addr("10.0.0.2:5060");
    let invite = s.sent(caller_addr, ivrd(), "INVITE")[0].text.clone();
    let ok = s.sent(ivrd(), caller_addr, "SIP/2.0 200")[0].text.clone();
    let dialog = Dialog {
        target: uri(header(&ok, "Contact").expect("Contact")).into(),
        from: header(&invite, "From").expect("From").into(),
        to: header(&ok, "To").expect("To").into(),
        call_id: header(&invite, "Call-ID").expect("Call-ID").into(),
    };
    reinvite(&mut s, caller_addr, dialog, 60);
    let held: Vec<_> = s
        .media
        .updates
        .iter()
        .filter(|(_, n)| n.direction == Direction::RecvOnly)
        .map(|(l, _)| *l)
        .collect();
    assert_eq!(held, [agent, caller]);
    assert!(
        s.media.unbridged.is_empty(),
        "hold is not the end of the bridge"
    );
    s.run_for(Duration::from_secs(60));
    assert_eq!(s.live().0, 2, "both legs still up (no ACK timeout, no BYE)");
}

#[test]
fn the_agents_2xx_retransmitted_for_a_lost_ack_is_acknowledged_again() {
    let mut s = sim(
        Script::Answer(Duration::from_secs(1)),
        Script::Silent,
        "dial",
    );
    let mut lost = false;
    s.lose = Some(Box::new(move |d| {
        let first_ack = !lost && d.from == addr(IVRD) && d.text.starts_with("ACK");
        lost |= first_ack;
        first_ack
    }));
    call(&mut s);
    s.run_for(Duration::from_secs(5));
    let agent_addr = addr("10.0.0.3:5060");
    assert!(
        s.sent(agent_addr, ivrd(), "SIP/2.0 200").len() >= 2,
        "the agent retransmitted"
    );
    assert_eq!(s.sent(ivrd(), agent_addr, "ACK").len(), 2, "ACKed again");
    bridged(&s);
    s.run_for(Duration::from_secs(60));
    assert!(
        s.peers[AGENT].ended().is_empty(),
        "no ACK timeout: {:?}",
        s.peers[AGENT].ended()
    );
    assert!(s.sent(ivrd(), agent_addr, "BYE").is_empty());
}

#[test]
fn a_forked_second_2xx_is_acknowledged_and_hung_up_and_the_first_stays_bridged() {
    let mut s = sim(
        Script::Answer(Duration::from_secs(1)),
        Script::Silent,
        "dial",
    );
    call(&mut s);
    s.run_for(Duration::from_secs(1));
    let agent_addr = addr("10.0.0.3:5060");
    let invite = s.sent(ivrd(), agent_addr, "INVITE")[0].text.clone();
    s.run_for(Duration::from_millis(1500));
    let (caller, agent) = bridged(&s);
    let sdp = "v=0\r\no=- 9 9 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n\
               m=audio 40900 RTP/AVP 0\r\n";
    let h = |n| header(&invite, n).expect("header");
    let ok = format!(
        "SIP/2.0 200 OK\nVia: {via}\nFrom: {from}\nTo: {to};tag=fork2\nCall-ID: {cid}\n\
         CSeq: {cseq}\nContact: <sip:fork@10.0.0.9:5060>\nContent-Type: application/sdp\n\
         Content-Length: {len}\n\n{body}",
        via = h("Via"),
        from = h("From"),
        to = h("To"),
        cid = h("Call-ID"),
        cseq = h("CSeq"),
        len = sdp.len(),
        body = sdp.replace("\r\n", "\n")
    );
    // Forks answer through the proxy that forked: here the agent's address is that hop.
    s.inject(agent_addr, &ok);
    s.run_for(Duration::from_secs(2));
    let to_fork = |m| s.sent(ivrd(), agent_addr, m).len();
    assert_eq!(to_fork("ACK sip:fork@10.0.0.9"), 1, "the fork's 2xx ACKed");
    assert_eq!(to_fork("BYE sip:fork@10.0.0.9"), 1, "and hung up");
    assert_eq!(s.media.bridged, [(caller, agent)]);
    assert!(s.media.unbridged.is_empty());
    assert!(s.peers[AGENT].ended().is_empty());
}

#[test]
fn all_at_once_the_first_to_answer_wins_and_the_other_is_cancelled() {
    let mut s = sim(Script::Answer(Duration::from_secs(3)), Script::Ring, "both");
    s.call(CALLER, "sip:400@10.0.0.1");
    s.run_for(Duration::from_secs(2));
    assert_eq!(s.peers[AGENT].incoming().len(), 1);
    assert_eq!(s.peers[AGENT2].incoming().len(), 1);
    s.run_for(Duration::from_secs(4));
    let (_, agent) = bridged(&s);
    assert_eq!(s.sent(ivrd(), addr("10.0.0.4:5060"), "CANCEL").len(), 1);
    s.run_for(Duration::from_secs(2));
    assert_eq!(s.peers[AGENT2].ended(), [EndReason::Cancelled]);
    s.run_for(Duration::from_secs(40));
    assert_eq!(s.live(), (2, 1, 1), "caller and agent {agent} stay");
}

#[test]
fn all_at_once_simultaneous_answers_bridge_one_and_hang_up_the_other() {
    let both = Script::Answer(Duration::from_secs(3));
    let mut s = sim(both, both, "both");
    s.call(CALLER, "sip:400@10.0.0.1");
    s.run_for(Duration::from_secs(8));
    bridged(&s);
    let byes = s.sent(ivrd(), addr("10.0.0.3:5060"), "BYE").len()
        + s.sent(ivrd(), addr("10.0.0.4:5060"), "BYE").len();
    assert_eq!(byes, 1, "the second answer is hung up");
    let ended: Vec<_> = [AGENT, AGENT2]
        .iter()
        .flat_map(|p| s.peers[*p].ended())
        .collect();
    assert_eq!(ended, [EndReason::CallerHungUp]);
    assert_eq!(s.live(), (2, 1, 1));
    let answered = s.peers[CALLER]
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Answered(_)))
        .count();
    assert_eq!(answered, 1);
}

const BRANCHES: &str = r#"
[flow]
start = "agent"
languages = ["en"]

[nodes.agent]
type = "dial"
to = ["sip:agent@10.0.0.3:5060"]
trunk = "carrier"
ring_timeout_s = 20
after = "bye"
busy = "busy"
no_answer = "no_answer"
failed = "failed"

[nodes.busy]
type = "play"
prompts = ["goodbye"]
next = "bye"

[nodes.no_answer]
type = "play"
prompts = ["main-menu"]
next = "bye"

[nodes.failed]
type = "play"
prompts = ["welcome"]
next = "bye"

[nodes.bye]
type = "hangup"
"#;

/// The `branches` flow (a prompt per dial outcome: failed "welcome", no answer "main-menu",
/// busy "goodbye") dialling agent 1 through trunk `carrier` (`max_calls`; `None`: no such trunk).
fn trunked(max_calls: Option<usize>) -> Sim {
    let flows = support::flows(&[("branches", BRANCHES)]);
    let peers = [
        Script::Silent,
        Script::Answer(Duration::from_secs(1)),
        Script::Silent,
    ];
    Sim::with(flows, "branches", &[], &peers, |c| {
        if let Some(max_calls) = max_calls {
            let caller_id = Some("+15550001111".into());
            let policy = call_control::TrunkPolicy {
                caller_id,
                max_calls,
                ..Default::default()
            };
            c.trunks.insert("carrier".into(), policy);
        }
    })
}

#[test]
fn a_trunk_at_its_cap_fails_the_dial_without_placing_anything() {
    let mut s = trunked(Some(0));
    s.call(CALLER, "sip:500@10.0.0.1");
    s.run_for(Duration::from_secs(4));
    assert_eq!(s.prompts(s.legs()[0]), ["welcome"], "the failed branch");
    assert!(s.peers[AGENT].incoming().is_empty(), "nothing placed");
    assert!(!s.trace.iter().any(|t| t.starts_with("Place")));
}

#[test]
fn a_trunk_unknown_to_call_control_fails_the_dial() {
    let mut s = trunked(None);
    s.call(CALLER, "sip:500@10.0.0.1");
    s.run_for(Duration::from_secs(4));
    assert_eq!(s.prompts(s.legs()[0]), ["welcome"], "the failed branch");
    assert!(s.peers[AGENT].incoming().is_empty());
}

#[test]
fn a_trunk_with_room_places_through_it_presenting_its_caller_id() {
    let mut s = trunked(Some(1));
    s.call(CALLER, "sip:500@10.0.0.1");
    s.run_for(Duration::from_secs(4));
    bridged(&s);
    let invite = &s.sent(ivrd(), addr("10.0.0.3:5060"), "INVITE")[0].text;
    assert!(
        header(invite, "From").is_some_and(|f| f.contains("+15550001111")),
        "{invite}"
    );
}

#[test]
fn an_unreachable_trunk_gives_the_flow_failed_not_no_answer() {
    let mut s = trunked(Some(10));
    // The trunk's proxy never answers: not even 100 Trying.
    s.lose = Some(Box::new(|d| d.to == addr("10.0.0.3:5060")));
    s.call(CALLER, "sip:500@10.0.0.1");
    s.run_for(Duration::from_secs(25));
    assert_eq!(s.prompts(s.legs()[0]), ["welcome"], "the failed branch");
}
