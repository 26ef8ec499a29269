//! The scripted peer shared by the endpoint tests: one `Endpoint` on a simulated clock that
//! only jumps forward, with everything it sent and reported kept for assertions.
#![allow(dead_code, unreachable_pub)]

use std::time::Instant;

pub mod seeds;

use sip_ua::{
    AudioCodec, CallId, Command, Endpoint, Event, Flow, Input, LocalMedia, Output, SipConfig,
    Transport,
};

pub const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    m=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";

pub struct Peer {
    pub sip: Endpoint,
    pub now: Instant,
    pub flow: Flow,
    pub sent: Vec<String>,
    pub events: Vec<(CallId, Event)>,
    pub registrations: Vec<sip_ua::Registration>,
    pub trunks: Vec<(sip_ua::TrunkId, sip_ua::TrunkEvent)>,
}

impl Peer {
    // The simulation's epoch: read once, then only jumped forward.
    pub fn new(transport: Transport) -> Self {
        Self::with_config(transport, SipConfig::default())
    }

    #[allow(clippy::disallowed_methods)]
    pub fn with_config(transport: Transport, config: SipConfig) -> Self {
        Self {
            sip: Endpoint::new(config),
            now: Instant::now(),
            flow: Flow {
                transport,
                remote: "127.0.0.1:5070".parse().expect("addr"),
                local: "127.0.0.1:5060".parse().expect("addr"),
            },
            sent: Vec::new(),
            events: Vec::new(),
            registrations: Vec::new(),
            trunks: Vec::new(),
        }
    }

    pub fn send(&mut self, text: &str) {
        let data = text.replace('\n', "\r\n");
        seeds::keep(data.as_bytes());
        let input = Input::Datagram {
            flow: self.flow,
            data: data.as_bytes(),
        };
        self.sip.handle_input(self.now, input);
        self.drain();
    }

    pub fn drain(&mut self) {
        while let Some(out) = self.sip.poll_output() {
            match out {
                Output::Transmit(t) => {
                    seeds::keep(&t.data);
                    self.sent.push(String::from_utf8_lossy(&t.data).into());
                }
                Output::Event(call, event) => self.events.push((call, event)),
                Output::Register(r) => self.registrations.push(r),
                Output::Trunk(id, event) => self.trunks.push((id, event)),
            }
        }
    }

    /// Jumps to each deadline up to `until`.
    pub fn run_until(&mut self, until: Instant) {
        while let Some(at) = self.sip.poll_timeout() {
            if at > until {
                break;
            }
            self.now = self.now.max(at);
            self.sip.handle_input(self.now, Input::Timeout);
            self.drain();
        }
        self.now = until;
    }

    /// Sends `text` as coming from `remote`.
    pub fn send_from(&mut self, remote: &str, text: &str) {
        let saved = self.flow.remote;
        self.flow.remote = remote.parse().expect("addr");
        self.send(text);
        self.flow.remote = saved;
    }

    pub fn take_sent(&mut self) -> Vec<String> {
        std::mem::take(&mut self.sent)
    }

    pub fn incoming(&self) -> CallId {
        self.events
            .iter()
            .find_map(|(c, e)| matches!(e, Event::Incoming(_)).then_some(*c))
            .expect("an incoming call")
    }

    pub fn answer(&mut self, call: CallId) {
        let offer = match &self
            .events
            .iter()
            .find(|(c, _)| *c == call)
            .expect("call")
            .1
        {
            Event::Incoming(i) => i.offer.clone().expect("an offer"),
            _ => panic!("not incoming"),
        };
        let negotiated = offer
            .negotiate(&[AudioCodec::Pcma, AudioCodec::Pcmu])
            .expect("codec");
        let local = LocalMedia {
            rtp: "127.0.0.1:20000".parse().expect("addr"),
            session_id: 1,
            version: 1,
        };
        self.sip
            .handle_command(self.now, call, Command::Answer { local, negotiated })
            .expect("answer");
        self.drain();
    }
}

pub fn invite(branch: &str) -> String {
    format!(
        "INVITE sip:100@127.0.0.1 SIP/2.0\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\n\
         From: \"Alice\" <sip:+15551234567@127.0.0.1>;tag=a1\n\
         To: <sip:100@127.0.0.1>\n\
         Call-ID: call-1\n\
         CSeq: 1 INVITE\n\
         Contact: <sip:alice@127.0.0.1:5070>\n\
         Content-Type: application/sdp\n\
         Content-Length: {}\n\n{}",
        OFFER.len(),
        OFFER.replace("\r\n", "\n")
    )
    .replace("\n\n", "\n\n")
}

pub fn in_dialog(method: &str, cseq: u32, to_tag: &str, extra: &str, body: &str) -> String {
    format!(
        "{method} sip:ivrd@127.0.0.1:5060 SIP/2.0\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-{method}-{cseq}\n\
         From: \"Alice\" <sip:+15551234567@127.0.0.1>;tag=a1\n\
         To: <sip:100@127.0.0.1>;tag={to_tag}\n\
         Call-ID: call-1\n\
         CSeq: {cseq} {method}\n\
         {extra}Content-Length: {}\n\n{body}",
        body.replace('\n', "\r\n").len()
    )
}

pub fn to_tag(response: &str) -> String {
    response
        .lines()
        .find(|l| l.starts_with("To:"))
        .and_then(|l| l.split(";tag=").nth(1))
        .expect("To tag")
        .trim()
        .to_string()
}
