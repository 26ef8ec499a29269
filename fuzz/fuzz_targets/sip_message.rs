//! One SIP datagram (or, with the first byte odd, a message cut from a TCP stream) to a fresh
//! endpoint, then its timers run out: whatever arrives, the endpoint answers or drops it and
//! never panics. A second message after the first reaches transactions and dialogs the first
//! one made (the input is split at the first `\0\0\0\0`).
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sip_ua::{Endpoint, Flow, Input, SipConfig, Transport};

fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let transport = if mode & 1 == 0 {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    let flow = Flow {
        transport,
        remote: "192.0.2.1:5060".parse().expect("addr"),
        local: "192.0.2.10:5060".parse().expect("addr"),
    };
    let mut sip = Endpoint::new(SipConfig::default());
    let mut now = start();
    let (first, second) = match data.windows(4).position(|w| w == [0, 0, 0, 0]) {
        Some(at) => (&data[..at], Some(&data[at + 4..])),
        None => (data, None),
    };
    for message in [Some(first), second].into_iter().flatten() {
        sip.handle_input(
            now,
            Input::Datagram {
                flow,
                data: message,
            },
        );
        while sip.poll_output().is_some() {}
        now += Duration::from_millis(u64::from(mode >> 1) * 100);
    }
    if mode & 2 != 0 {
        sip.handle_input(now, Input::Oversized { flow, head: first });
        while sip.poll_output().is_some() {}
    }
    // Every timer the messages started, in order, for at most a few minutes of SIP time.
    for _ in 0..64 {
        let Some(at) = sip.poll_timeout() else { break };
        if at > start() + Duration::from_secs(300) {
            break;
        }
        now = now.max(at);
        sip.handle_input(now, Input::Timeout);
        while sip.poll_output().is_some() {}
    }
});
