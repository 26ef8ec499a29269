//! Any sequence of inputs, in any state, on every shipped flow: no panic, every deadline at or
//! after `now`, and once finished the flow stays finished and silent.

mod support;

use std::time::{Duration, Instant};

use flow_engine::{CallFlow, CallInfo, HttpOutcome, Input, RequestId};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Digit(char),
    Advance(u16),
    Fire,
    PlayDone(u8),
    Http(u8, u16),
    Lookup(u8, bool),
    Coupon(u8, bool),
    Sms(u8, bool),
    Transfer(u8, bool),
    Hold(bool),
    HangUp,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::sample::select(vec!['0', '1', '2', '5', '9', '*', '#', 'A']).prop_map(Op::Digit),
        2 => any::<u16>().prop_map(Op::Advance),
        2 => Just(Op::Fire),
        3 => (0u8..8).prop_map(Op::PlayDone),
        1 => ((0u8..8), prop_oneof![Just(200u16), Just(500), Just(0)]).prop_map(|(i, s)| Op::Http(i, s)),
        1 => ((0u8..8), any::<bool>()).prop_map(|(i, b)| Op::Lookup(i, b)),
        1 => ((0u8..8), any::<bool>()).prop_map(|(i, b)| Op::Coupon(i, b)),
        1 => ((0u8..8), any::<bool>()).prop_map(|(i, b)| Op::Sms(i, b)),
        1 => ((0u8..8), any::<bool>()).prop_map(|(i, b)| Op::Transfer(i, b)),
        1 => any::<bool>().prop_map(Op::Hold),
        1 => Just(Op::HangUp),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn random_inputs_never_panic_or_schedule_the_past(
        flow in proptest::sample::select(vec!["deflection", "coupon", "isp"]),
        ani in proptest::sample::select(vec!["", "+15551230001", "+4930123456"]),
        ops in proptest::collection::vec(op(), 0..120),
    ) {
        let set = support::flows();
        #[allow(clippy::disallowed_methods)] // the test's epoch
        let mut now = Instant::now();
        let id = set.find(flow).unwrap();
        let info = CallInfo { call_id: "c".into(), ani: ani.into(), dnis: "1".into(), unix_ms: 1_795_000_000_000, vars: Vec::new() };
        let mut call = CallFlow::new(now, set, id, info);
        call.handle_input(now, Input::Answered);
        let mut finished = false;
        for op in ops {
            let r = |i: u8| RequestId(u64::from(i));
            let input = match op {
                Op::Digit(d) => Input::Digit(d),
                Op::Advance(ms) => { now += Duration::from_millis(u64::from(ms)); continue; }
                Op::Fire => {
                    if let Some(at) = call.poll_timeout() { now = now.max(at); }
                    Input::Timeout
                }
                Op::PlayDone(i) => Input::PlaybackFinished(r(i)),
                Op::Http(i, 0) => Input::HttpResult { id: r(i), outcome: HttpOutcome::TimedOut },
                Op::Http(i, s) => Input::HttpResult { id: r(i), outcome: HttpOutcome::Response { status: s, body: r#"{"available":true,"url":"u"}"#.into() } },
                Op::Lookup(i, found) => Input::LookupResult { id: r(i), record: found.then(|| vec![("contract".into(), "1".into()), ("balance".into(), "x".into())]) },
                Op::Coupon(i, ok) => Input::CouponIssued { id: r(i), serial: ok.then(|| "S".into()) },
                Op::Sms(i, ok) => Input::SmsResult { id: r(i), outcome: if ok { Ok(()) } else { Err("no".into()) } },
                Op::Transfer(i, ok) => Input::TransferResult { id: r(i), ok },
                Op::Hold(true) => Input::Held,
                Op::Hold(false) => Input::Resumed,
                Op::HangUp => Input::HungUp,
            };
            // The daemon's contract: a due deadline fires before anything else is fed.
            if call.poll_timeout().is_some_and(|at| at <= now) {
                call.handle_input(now, Input::Timeout);
            }
            call.handle_input(now, input);
            let mut outputs = 0;
            while let Some(out) = call.poll_output() {
                prop_assert!(!finished, "output after Finished: {out:?}");
                if matches!(out, flow_engine::Output::Finished(_)) { finished = true; }
                outputs += 1;
            }
            prop_assert!(outputs < 64);
            if let Some(at) = call.poll_timeout() {
                prop_assert!(at >= now, "deadline in the past");
            }
            prop_assert_eq!(finished, call.is_finished());
        }
    }
}
