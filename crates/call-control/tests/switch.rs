//! The switch driven as the daemon drives it, on a jumped clock: each path of a dial node,
//! named after what it proves. Leg ids come from a real `sip_ua::Endpoint` (their only source).

use std::time::{Duration, Instant};

use call_control::{AttemptId, DialRequest, Input, Output, Switch};
use flow_engine::{DialMode, DialOutcome, RequestId};
use sip_ua::{
    AudioCodec, CallId, Dial, EndReason, Endpoint, Event, Flow, LocalMedia, Negotiated, SipConfig,
    Transport, sdp::Direction,
};

struct Sim {
    switch: Switch,
    now: Instant,
    /// Mints call ids.
    sip: Endpoint,
    caller: CallId,
    out: Vec<Output>,
}

impl Sim {
    // The simulation's epoch: read once, then only jumped forward.
    #[allow(clippy::disallowed_methods)]
    fn new() -> Self {
        let now = Instant::now();
        let mut sip = Endpoint::new(SipConfig::default());
        let caller = mint(&mut sip, now);
        Self {
            switch: Switch::new(),
            now,
            sip,
            caller,
            out: Vec::new(),
        }
    }

    fn mint(&mut self) -> CallId {
        mint(&mut self.sip, self.now)
    }

    fn input(&mut self, input: Input) {
        self.switch.handle_input(self.now, input);
        self.out
            .extend(std::iter::from_fn(|| self.switch.poll_output()));
        if let Some(at) = self.switch.poll_timeout() {
            assert!(at >= self.now, "deadline in the past");
        }
    }

    fn dial(&mut self, targets: &[&str], mode: DialMode) {
        let caller = self.caller;
        self.input(Input::Dial(DialRequest {
            caller,
            request: RequestId(7),
            targets: targets.iter().map(|t| t.to_string()).collect(),
            trunk: None,
            mode,
            ring_timeout: Duration::from_secs(20),
            caller_id: "+15551234567".into(),
        }));
    }

    /// Answers every pending `Place` with a fresh leg; returns (attempt, target, leg).
    fn place_all(&mut self) -> Vec<(AttemptId, String, CallId)> {
        let places: Vec<(AttemptId, String)> = self
            .take()
            .into_iter()
            .filter_map(|o| match o {
                Output::Place {
                    attempt, target, ..
                } => Some((attempt, target)),
                _ => None,
            })
            .collect();
        let mut placed = Vec::new();
        for (attempt, target) in places {
            let leg = self.mint();
            self.input(Input::Placed {
                attempt,
                leg: Ok(leg),
            });
            placed.push((attempt, target, leg));
        }
        placed
    }

    fn take(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    fn run_until(&mut self, until: Instant) {
        while let Some(at) = self.switch.poll_timeout() {
            if at > until {
                break;
            }
            self.now = at;
            self.input(Input::Timeout);
        }
        self.now = until;
    }

    fn dial_result(&self) -> Option<DialOutcome> {
        self.out.iter().find_map(|o| match o {
            Output::Flow(_, flow_engine::Input::DialResult { outcome, .. }) => {
                Some(outcome.clone())
            }
            _ => None,
        })
    }
}

/// A fresh call id from `sip` (ids have no other source).
fn mint(sip: &mut Endpoint, now: Instant) -> CallId {
    sip.dial(
        now,
        Dial {
            target: "sip:x@127.0.0.1".into(),
            from: "sip:ivrd@127.0.0.1".into(),
            flow: Flow {
                transport: Transport::Udp,
                remote: "127.0.0.1:5070".parse().expect("addr"),
                local: "127.0.0.1:5060".parse().expect("addr"),
            },
            route: vec![],
            local: LocalMedia {
                rtp: "127.0.0.1:20000".parse().expect("addr"),
                session_id: 1,
                version: 1,
            },
            telephone_event: 101,
            credentials: None,
        },
    )
    .expect("an id")
}

fn media() -> Negotiated {
    Negotiated {
        remote: "127.0.0.1:30000".parse().expect("addr"),
        codec: AudioCodec::Pcma,
        telephone_event: Some(101),
        direction: Direction::SendRecv,
    }
}

#[test]
fn answered_bridges_and_the_agent_hanging_up_ends_the_bridge_not_the_caller() {
    let mut sim = Sim::new();
    sim.dial(&["sip:agent@192.0.2.20"], DialMode::Sequential);
    let legs = sim.place_all();
    let leg = legs[0].2;
    sim.input(Input::Sip(leg, Event::Answered(media())));
    assert_eq!(
        sim.dial_result(),
        Some(DialOutcome::Answered("sip:agent@192.0.2.20".into()))
    );
    let caller = sim.caller;
    assert!(sim.out.contains(&Output::Bridge {
        caller,
        callee: leg
    }));
    sim.take();
    sim.input(Input::Sip(leg, Event::Ended(EndReason::CallerHungUp)));
    let out = sim.take();
    assert!(out.contains(&Output::Unbridge {
        caller,
        callee: leg
    }));
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Flow(_, flow_engine::Input::BridgeEnded { id: RequestId(7) })
    )));
    assert!(!out.contains(&Output::HangUp(caller)), "the caller stays");
    assert_eq!(sim.switch.sessions(), 0);
}

#[test]
fn the_caller_hanging_up_while_bridged_hangs_up_the_agent() {
    let mut sim = Sim::new();
    sim.dial(&["sip:agent@192.0.2.20"], DialMode::Sequential);
    let leg = sim.place_all()[0].2;
    sim.input(Input::Sip(leg, Event::Answered(media())));
    sim.take();
    let caller = sim.caller;
    sim.input(Input::Sip(caller, Event::Ended(EndReason::CallerHungUp)));
    let out = sim.take();
    assert!(out.contains(&Output::HangUp(leg)));
    assert!(out.contains(&Output::Unbridge {
        caller,
        callee: leg
    }));
    // Its BYE's Ended then is no one's business.
    sim.input(Input::Sip(leg, Event::Ended(EndReason::HungUp)));
    assert!(sim.take().is_empty());
}

#[test]
fn the_caller_hanging_up_while_the_agent_rings_cancels_it() {
    let mut sim = Sim::new();
    sim.dial(&["sip:agent@192.0.2.20"], DialMode::Sequential);
    let leg = sim.place_all()[0].2;
    let caller = sim.caller;
    sim.input(Input::Sip(caller, Event::Ended(EndReason::Cancelled)));
    assert_eq!(sim.take(), [Output::HangUp(leg)]);
    assert_eq!(sim.switch.sessions(), 0);
}

#[test]
fn a_busy_agent_is_busy_and_the_next_in_turn_is_tried_first() {
    let mut sim = Sim::new();
    sim.dial(
        &["sip:a@192.0.2.20", "sip:b@192.0.2.21"],
        DialMode::Sequential,
    );
    let a = sim.place_all()[0].2;
    sim.input(Input::Sip(a, Event::Ended(EndReason::Refused(486))));
    let b = sim.place_all();
    assert_eq!(b[0].1, "sip:b@192.0.2.21", "the next target");
    sim.input(Input::Sip(b[0].2, Event::Ended(EndReason::Refused(600))));
    assert_eq!(sim.dial_result(), Some(DialOutcome::Busy));
}

#[test]
fn no_answer_cancels_at_the_ring_timeout_and_moves_on() {
    let mut sim = Sim::new();
    sim.dial(
        &["sip:a@192.0.2.20", "sip:b@192.0.2.21"],
        DialMode::Sequential,
    );
    let a = sim.place_all()[0].2;
    sim.input(Input::Sip(a, Event::Progress(None)));
    let start = sim.now;
    sim.run_until(start + Duration::from_secs(20));
    let out = sim.out.clone();
    assert!(out.contains(&Output::HangUp(a)), "CANCEL at 20 s: {out:?}");
    let b = sim.place_all();
    assert_eq!(b.len(), 1, "b is dialled next");
    sim.input(Input::Sip(b[0].2, Event::Progress(None)));
    sim.input(Input::Sip(a, Event::Ended(EndReason::Cancelled)));
    sim.run_until(start + Duration::from_secs(40));
    assert_eq!(sim.dial_result(), Some(DialOutcome::NoAnswer));
    assert_eq!(sim.switch.poll_timeout(), None);
}

#[test]
fn all_at_once_the_first_to_answer_wins_and_the_others_are_cancelled() {
    let mut sim = Sim::new();
    sim.dial(
        &["sip:a@192.0.2.20", "sip:b@192.0.2.21", "sip:c@192.0.2.22"],
        DialMode::Simultaneous,
    );
    let legs = sim.place_all();
    assert_eq!(legs.len(), 3);
    sim.input(Input::Sip(legs[1].2, Event::Answered(media())));
    let out = sim.take();
    assert!(out.contains(&Output::HangUp(legs[0].2)));
    assert!(out.contains(&Output::HangUp(legs[2].2)));
    assert!(!out.contains(&Output::HangUp(legs[1].2)));
    // A second answer that crossed our CANCEL is hung up too.
    sim.input(Input::Sip(legs[0].2, Event::Answered(media())));
    assert_eq!(sim.take(), [Output::HangUp(legs[0].2)]);
}

#[test]
fn an_unreachable_target_fails_with_its_reason() {
    let mut sim = Sim::new();
    sim.dial(&["sip:agent@unresolvable.example"], DialMode::Sequential);
    let attempt = sim
        .take()
        .into_iter()
        .find_map(|o| match o {
            Output::Place { attempt, .. } => Some(attempt),
            _ => None,
        })
        .expect("place");
    sim.input(Input::Placed {
        attempt,
        leg: Err("host not an IP address".into()),
    });
    assert_eq!(
        sim.dial_result(),
        Some(DialOutcome::Failed("host not an IP address".into()))
    );
    let mut sim = Sim::new();
    sim.dial(&["sip:agent@192.0.2.20"], DialMode::Sequential);
    let leg = sim.place_all()[0].2;
    sim.input(Input::Sip(leg, Event::Ended(EndReason::NoResponse)));
    assert_eq!(
        sim.dial_result(),
        Some(DialOutcome::Failed("no response".into()))
    );
}

/// A target that never even rang (an unreachable host: no provisional response before the
/// ring timeout) is a failure, not "no answer"; and a second dial by the same caller is not
/// cut short by the first dial's ring timer.
#[test]
fn silence_until_the_ring_timeout_is_failed_and_old_timers_do_not_leak() {
    let mut sim = Sim::new();
    sim.dial(&["sip:agent@192.0.2.99"], DialMode::Sequential);
    let a = sim.place_all()[0].2;
    sim.input(Input::Sip(a, Event::Ended(EndReason::Refused(486))));
    assert_eq!(sim.dial_result(), Some(DialOutcome::Busy));
    sim.take();
    // The flow dials again 5 s later; the first dial's timer (due at 20 s) must not touch it.
    let start = sim.now;
    sim.run_until(start + Duration::from_secs(5));
    sim.dial(&["sip:agent@192.0.2.99"], DialMode::Sequential);
    let b = sim.place_all()[0].2;
    sim.run_until(start + Duration::from_secs(21));
    assert!(sim.dial_result().is_none(), "cut short: {:?}", sim.out);
    sim.run_until(start + Duration::from_secs(25));
    assert!(sim.out.contains(&Output::HangUp(b)));
    assert_eq!(
        sim.dial_result(),
        Some(DialOutcome::Failed("no response".into()))
    );
}
