//! TCP framing: bytes cut into chunks at arbitrary points (each chunk's length from the input)
//! go through the stream framer; every message it cuts out goes to an endpoint. The framer
//! must agree with itself however the stream is split, and never panic.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use sip_ua::{Endpoint, Flow, Framed, Input, SipConfig, StreamFramer, Transport};

/// The messages cut from `chunks` (true: oversized, only its head), and whether the stream
/// broke.
fn messages(chunks: &[&[u8]]) -> (Vec<(bool, Vec<u8>)>, bool) {
    let mut framer = StreamFramer::new();
    let mut out = Vec::new();
    for chunk in chunks {
        framer.handle_bytes(chunk);
        loop {
            match framer.poll_message() {
                Ok(Some(Framed::Message(m))) => out.push((false, m)),
                Ok(Some(Framed::Oversized(head))) => out.push((true, head)),
                Ok(None) => break,
                Err(_) => return (out, true),
            }
        }
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(split).max(1);
    let chunks: Vec<&[u8]> = stream.chunks(step).collect();
    let (cut, failed) = messages(&chunks);
    let (whole, whole_failed) = messages(&[stream]);
    if !failed && !whole_failed {
        assert_eq!(
            cut, whole,
            "the framing depends on how the stream was split"
        );
    }
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    let mut sip = Endpoint::new(SipConfig::default());
    let flow = Flow {
        transport: Transport::Tcp,
        remote: "192.0.2.1:40000".parse().expect("addr"),
        local: "192.0.2.10:5060".parse().expect("addr"),
    };
    for (oversized, m) in &whole {
        let input = match oversized {
            true => Input::Oversized { flow, head: m },
            false => Input::Datagram { flow, data: m },
        };
        sip.handle_input(now, input);
        while sip.poll_output().is_some() {}
    }
});
