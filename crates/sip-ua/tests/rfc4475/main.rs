//! RFC 4475 torture messages, every one of §3.1–3.4, transcribed from the RFC with section
//! numbers and the RFC's names; long repetitions are rebuilt with `repeat` as its
//! <allOneLine>/<repeat> notation says. Each test feeds one datagram to a fresh endpoint acting
//! as the UAS and checks what it sent back: valid messages are handled as the RFC expects of a
//! user agent, invalid ones get 400 (or the more precise 4xx/5xx the RFC names) or are dropped,
//! and nothing panics.
//!
//! - `valid`: §3.1.1 (syntax that must be accepted)
//! - `invalid`: §3.1.2 (syntax that must be refused)
//! - `semantics`: §3.2 transaction layer, §3.3 application layer, §3.4 RFC 2543 compatibility

use std::time::Instant;

use sip_ua::{Endpoint, Event, Flow, Input, Output, SipConfig, Transport};

mod invalid;
#[path = "../support/seeds.rs"]
mod seeds;
mod semantics;
mod valid;

/// The SDP body most of the RFC's messages carry, with its `o=` and `c=` address. With a
/// one-digit last octet it is 150 bytes long; `a=rtpmap:31 LPC` has no clock rate, as in the RFC.
fn sdp(ip: &str) -> String {
    sdp_at(ip, ip, "0")
}

/// The same body with distinct origin and connection addresses and a `t=` start time.
fn sdp_at(origin: &str, connection: &str, start: &str) -> String {
    format!(
        "v=0\r\no=mhandley 29739 7272939 IN IP4 {origin}\r\ns=-\r\nc=IN IP4 {connection}\r\n\
         t={start} 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\n\
         a=rtpmap:31 LPC\r\n"
    )
}

/// What the endpoint did with one message.
struct Outcome {
    /// Every message it transmitted, in order.
    sent: Vec<String>,
    /// Calls it reported to the application.
    incoming: usize,
}

impl Outcome {
    /// The status codes it sent, in order.
    fn statuses(&self) -> Vec<u16> {
        self.sent
            .iter()
            .filter_map(|m| m.strip_prefix("SIP/2.0 "))
            .filter_map(|m| m.split(' ').next())
            .filter_map(|s| s.parse().ok())
            .collect()
    }

    /// A header of the last response, by name.
    fn header(&self, name: &str) -> Option<String> {
        let last = self.sent.last()?;
        last.split("\r\n").find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

fn feed(message: &[u8]) -> Outcome {
    feed_over(Transport::Udp, message)
}

#[allow(clippy::disallowed_methods)] // a fixed instant: nothing here waits
fn feed_over(transport: Transport, message: &[u8]) -> Outcome {
    seeds::keep(message);
    let mut sip = Endpoint::new(SipConfig::default());
    let flow = Flow {
        transport,
        remote: "192.0.2.1:5060".parse().expect("addr"),
        local: "192.0.2.10:5060".parse().expect("addr"),
    };
    sip.handle_input(
        Instant::now(),
        Input::Datagram {
            flow,
            data: message,
        },
    );
    let mut out = Outcome {
        sent: Vec::new(),
        incoming: 0,
    };
    while let Some(o) = sip.poll_output() {
        match o {
            Output::Transmit(t) => {
                seeds::keep(&t.data);
                out.sent.push(String::from_utf8_lossy(&t.data).into());
            }
            Output::Event(_, Event::Incoming(_)) => out.incoming += 1,
            Output::Event(..) | Output::Register(_) | Output::Trunk(..) => {}
        }
    }
    out
}
