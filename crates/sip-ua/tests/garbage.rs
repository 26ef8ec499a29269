//! Arbitrary bytes, and valid messages with arbitrary damage, never panic the endpoint, and
//! whatever it sends back is a response.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use sip_ua::{Endpoint, Flow, Input, Output, SipConfig, Transport};

const INVITE: &str = "INVITE sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
    From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: g1\r\nCSeq: 1 INVITE\r\n\
    Contact: <sip:a@127.0.0.1:5070>\r\nContent-Type: application/sdp\r\nContent-Length: 62\r\n\r\n\
    v=0\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\ns=-\r\n";

#[allow(clippy::disallowed_methods)] // the simulation's epoch
fn run(messages: &[Vec<u8>]) -> Result<(), TestCaseError> {
    let mut sip = Endpoint::new(SipConfig::default());
    let flow = Flow {
        transport: Transport::Udp,
        remote: "127.0.0.1:5070".parse().expect("addr"),
        local: "127.0.0.1:5060".parse().expect("addr"),
    };
    let mut now = Instant::now();
    for m in messages {
        sip.handle_input(now, Input::Datagram { flow, data: m });
        now += Duration::from_secs(1);
        sip.handle_input(now, Input::Timeout);
        while let Some(o) = sip.poll_output() {
            if let Output::Transmit(t) = o {
                prop_assert!(
                    t.data.starts_with(b"SIP/2.0 "),
                    "{:?}",
                    String::from_utf8_lossy(&t.data)
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(messages in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..600), 1..6)) {
        run(&messages)?;
    }

    #[test]
    fn damaged_invites(cuts in prop::collection::vec((0usize..INVITE.len(), any::<u8>()), 1..8)) {
        let mut m = INVITE.as_bytes().to_vec();
        for (at, byte) in cuts {
            m[at] = byte;
        }
        let truncated = m[..m.len() / 2].to_vec();
        run(&[m, truncated])?;
    }
}
