//! Calls we place, in simulation: our endpoint dials another of our endpoints (the callee)
//! over an in-memory network on a jumped clock. Each test is one path of the INVITE client
//! transaction and its dialog; a few inject hand-made responses (a challenge, a forked 2xx).

use std::time::{Duration, Instant};

use sip_ua::{
    AudioCodec, CallId, Command, Credentials, Dial, EndReason, Endpoint, Event, Flow, Input,
    LocalMedia, Output, SipConfig, Transport,
};

/// Two endpoints and what travels between them.
struct Pair {
    caller: Endpoint,
    callee: Endpoint,
    now: Instant,
    /// Datagrams on their way: (to the callee?, bytes).
    wire: Vec<(bool, Vec<u8>)>,
    /// Everything sent, as text: (by the caller?, message).
    log: Vec<(bool, String)>,
    caller_events: Vec<(CallId, Event)>,
    callee_events: Vec<(CallId, Event)>,
    /// Drop the caller's next datagram whose text starts with this.
    drop_next: Option<&'static str>,
    /// Drop every datagram of the caller's that starts with this.
    drop_all: Option<&'static str>,
}

fn caller_flow() -> Flow {
    Flow {
        transport: Transport::Udp,
        remote: "127.0.0.1:5062".parse().expect("addr"),
        local: "127.0.0.1:5060".parse().expect("addr"),
    }
}

fn callee_flow() -> Flow {
    Flow {
        transport: Transport::Udp,
        remote: "127.0.0.1:5060".parse().expect("addr"),
        local: "127.0.0.1:5062".parse().expect("addr"),
    }
}

fn dial() -> Dial {
    Dial {
        target: "sip:agent@127.0.0.1:5062".into(),
        from: "sip:+15550001111@127.0.0.1".into(),
        flow: caller_flow(),
        route: vec![],
        local: LocalMedia {
            rtp: "127.0.0.1:20000".parse().expect("addr"),
            session_id: 5,
            version: 1,
        },
        telephone_event: 101,
        credentials: None,
    }
}

impl Pair {
    // The simulation's epoch: read once, then only jumped forward.
    #[allow(clippy::disallowed_methods)]
    fn new() -> Self {
        Self {
            caller: Endpoint::new(SipConfig {
                seed: 1,
                ..SipConfig::default()
            }),
            callee: Endpoint::new(SipConfig {
                seed: 2,
                ..SipConfig::default()
            }),
            now: Instant::now(),
            wire: Vec::new(),
            log: Vec::new(),
            caller_events: Vec::new(),
            callee_events: Vec::new(),
            drop_next: None,
            drop_all: None,
        }
    }

    fn collect(&mut self) {
        while let Some(out) = self.caller.poll_output() {
            match out {
                Output::Transmit(t) => {
                    let text = String::from_utf8_lossy(&t.data).into_owned();
                    self.log.push((true, text.clone()));
                    if self.drop_next.is_some_and(|p| text.starts_with(p)) {
                        self.drop_next = None;
                        continue;
                    }
                    if self.drop_all.is_some_and(|p| text.starts_with(p)) {
                        continue;
                    }
                    self.wire.push((true, t.data));
                }
                Output::Event(c, e) => self.caller_events.push((c, e)),
                Output::Register(_) | Output::Trunk(..) => {}
            }
        }
        while let Some(out) = self.callee.poll_output() {
            match out {
                Output::Transmit(t) => {
                    self.log
                        .push((false, String::from_utf8_lossy(&t.data).into_owned()));
                    self.wire.push((false, t.data));
                }
                Output::Event(c, e) => self.callee_events.push((c, e)),
                Output::Register(_) | Output::Trunk(..) => {}
            }
        }
    }

    /// Delivers everything in flight (and what it causes) until the wire is quiet.
    fn deliver(&mut self) {
        self.collect();
        for _ in 0..100 {
            let wire = std::mem::take(&mut self.wire);
            if wire.is_empty() {
                return;
            }
            for (to_callee, data) in wire {
                let input = |flow| Input::Datagram { flow, data: &data };
                match to_callee {
                    true => self.callee.handle_input(self.now, input(callee_flow())),
                    false => self.caller.handle_input(self.now, input(caller_flow())),
                }
                self.collect();
            }
        }
    }

    /// Jumps the clock to each deadline of either endpoint up to `until`, delivering as it goes.
    fn run_until(&mut self, until: Instant) {
        loop {
            let next = [self.caller.poll_timeout(), self.callee.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    self.caller.handle_input(self.now, Input::Timeout);
                    self.callee.handle_input(self.now, Input::Timeout);
                    self.deliver();
                }
                _ => break,
            }
        }
        self.now = until;
    }

    fn callee_call(&self) -> CallId {
        self.callee_events
            .iter()
            .find_map(|(c, e)| matches!(e, Event::Incoming(_)).then_some(*c))
            .expect("the callee got the INVITE")
    }

    /// The callee rings, then answers with our codecs.
    fn answer(&mut self) {
        let call = self.callee_call();
        let offer = self
            .callee_events
            .iter()
            .find_map(|(_, e)| match e {
                Event::Incoming(i) => i.offer.clone(),
                _ => None,
            })
            .expect("an offer");
        let negotiated = offer.negotiate(&[AudioCodec::Pcma]).expect("PCMA offered");
        let local = LocalMedia {
            rtp: "127.0.0.1:30000".parse().expect("addr"),
            session_id: 9,
            version: 1,
        };
        self.callee
            .handle_command(self.now, call, Command::Answer { local, negotiated })
            .expect("answer");
        self.deliver();
    }

    fn ring(&mut self) {
        let call = self.callee_call();
        self.callee
            .handle_command(self.now, call, Command::Ring)
            .expect("ring");
        self.deliver();
    }

    fn sent_by_caller(&self, start: &str) -> usize {
        self.log
            .iter()
            .filter(|(by_caller, m)| *by_caller && m.starts_with(start))
            .count()
    }

    fn caller_ended(&self) -> Option<EndReason> {
        self.caller_events.iter().find_map(|(_, e)| match e {
            Event::Ended(r) => Some(*r),
            _ => None,
        })
    }

    fn callee_ended(&self) -> Option<EndReason> {
        self.callee_events.iter().find_map(|(_, e)| match e {
            Event::Ended(r) => Some(*r),
            _ => None,
        })
    }
}

#[test]
fn answered_call_gets_our_ack_and_either_side_hangs_up() {
    for callee_hangs_up in [false, true] {
        let mut p = Pair::new();
        let call = p.caller.dial(p.now, dial()).expect("dial");
        p.deliver();
        p.ring();
        assert!(matches!(p.caller_events[0].1, Event::Progress(None)));
        p.answer();
        let answered = p.caller_events.iter().find_map(|(_, e)| match e {
            Event::Answered(n) => Some(*n),
            _ => None,
        });
        let n = answered.expect("answered");
        assert_eq!(n.codec, AudioCodec::Pcma);
        assert_eq!(n.remote, "127.0.0.1:30000".parse().expect("addr"));
        assert!(
            p.callee_events
                .iter()
                .any(|(_, e)| matches!(e, Event::Acked))
        );
        assert_eq!(p.sent_by_caller("ACK "), 1);
        match callee_hangs_up {
            false => p
                .caller
                .handle_command(p.now, call, Command::HangUp)
                .expect("bye"),
            true => {
                let theirs = p.callee_call();
                p.callee
                    .handle_command(p.now, theirs, Command::HangUp)
                    .expect("bye")
            }
        }
        p.deliver();
        let start = p.now;
        p.run_until(start + Duration::from_secs(40));
        let (ours, theirs) = match callee_hangs_up {
            false => (EndReason::HungUp, EndReason::CallerHungUp),
            true => (EndReason::CallerHungUp, EndReason::HungUp),
        };
        assert_eq!(p.caller_ended(), Some(ours));
        assert_eq!(p.callee_ended(), Some(theirs));
        assert_eq!((p.caller.calls(), p.callee.calls()), (0, 0));
    }
}

#[test]
fn busy_callee_is_refused_and_the_486_is_acknowledged() {
    let mut p = Pair::new();
    p.caller.dial(p.now, dial()).expect("dial");
    p.deliver();
    let theirs = p.callee_call();
    p.callee
        .handle_command(p.now, theirs, Command::Reject { status: 486 })
        .expect("busy");
    p.deliver();
    assert_eq!(p.caller_ended(), Some(EndReason::Refused(486)));
    assert_eq!(p.sent_by_caller("ACK "), 1);
    let start = p.now;
    p.run_until(start + Duration::from_secs(40));
    assert_eq!(
        (p.caller.calls(), p.callee.calls()),
        (0, 0),
        "Timers D and H"
    );
}

#[test]
fn no_answer_is_cancelled_and_the_487_absorbed() {
    let mut p = Pair::new();
    let call = p.caller.dial(p.now, dial()).expect("dial");
    p.deliver();
    p.ring();
    p.caller
        .handle_command(p.now, call, Command::HangUp)
        .expect("cancel");
    p.deliver();
    assert_eq!(p.sent_by_caller("CANCEL "), 1);
    assert_eq!(p.caller_ended(), Some(EndReason::Cancelled));
    assert_eq!(p.callee_ended(), Some(EndReason::Cancelled));
    let start = p.now;
    p.run_until(start + Duration::from_secs(40));
    assert_eq!(p.sent_by_caller("CANCEL "), 1, "its 200 stopped it");
    assert_eq!((p.caller.calls(), p.callee.calls()), (0, 0));
}

#[test]
fn hang_up_before_any_provisional_cancels_when_one_arrives() {
    let mut p = Pair::new();
    let call = p.caller.dial(p.now, dial()).expect("dial");
    p.caller
        .handle_command(p.now, call, Command::HangUp)
        .expect("cancel");
    assert_eq!(
        p.sent_by_caller("CANCEL "),
        0,
        "not before a provisional (RFC 3261 §9.1)"
    );
    p.deliver(); // the INVITE, its 100 Trying, then our CANCEL
    assert_eq!(p.sent_by_caller("CANCEL "), 1);
    assert_eq!(p.caller_ended(), Some(EndReason::Cancelled));
}

#[test]
fn nobody_there_gives_up_at_64_t1_after_seven_invites() {
    let mut p = Pair::new();
    p.caller.dial(p.now, dial()).expect("dial");
    p.collect();
    p.wire.clear();
    let start = p.now;
    // Every datagram lost: nothing is delivered, the clock jumps from deadline to deadline.
    while let Some(at) = p.caller.poll_timeout() {
        p.now = at;
        p.caller.handle_input(p.now, Input::Timeout);
        p.collect();
        p.wire.clear();
    }
    assert_eq!(p.now - start, Duration::from_secs(32), "Timer B");
    assert_eq!(
        p.sent_by_caller("INVITE "),
        7,
        "0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s"
    );
    assert_eq!(p.caller_ended(), Some(EndReason::NoResponse));
    assert_eq!(p.caller.calls(), 0);
}

#[test]
fn a_retransmitted_2xx_gets_our_ack_again() {
    let mut p = Pair::new();
    p.caller.dial(p.now, dial()).expect("dial");
    p.deliver();
    p.drop_next = Some("ACK ");
    p.answer();
    assert!(
        !p.callee_events
            .iter()
            .any(|(_, e)| matches!(e, Event::Acked))
    );
    let start = p.now;
    p.run_until(start + Duration::from_secs(1));
    assert_eq!(
        p.sent_by_caller("ACK "),
        2,
        "re-ACK for the retransmitted 2xx"
    );
    assert!(
        p.callee_events
            .iter()
            .any(|(_, e)| matches!(e, Event::Acked))
    );
}

#[test]
fn a_2xx_crossing_our_cancel_is_acknowledged_and_hung_up() {
    let mut p = Pair::new();
    let call = p.caller.dial(p.now, dial()).expect("dial");
    p.deliver();
    p.ring();
    // The callee answers; before its 200 arrives, we cancel.
    let theirs = p.callee_call();
    let offer = p
        .callee_events
        .iter()
        .find_map(|(_, e)| match e {
            Event::Incoming(i) => i.offer.clone(),
            _ => None,
        })
        .expect("offer");
    let negotiated = offer.negotiate(&[AudioCodec::Pcmu]).expect("codec");
    let local = LocalMedia {
        rtp: "127.0.0.1:30000".parse().expect("addr"),
        session_id: 1,
        version: 1,
    };
    p.callee
        .handle_command(p.now, theirs, Command::Answer { local, negotiated })
        .expect("answer");
    p.collect(); // the 200 is on the wire
    p.caller
        .handle_command(p.now, call, Command::HangUp)
        .expect("cancel");
    p.deliver();
    assert_eq!(p.sent_by_caller("CANCEL "), 1);
    assert_eq!(p.sent_by_caller("ACK "), 1);
    assert_eq!(p.sent_by_caller("BYE "), 1);
    assert_eq!(p.caller_ended(), Some(EndReason::Cancelled));
    let start = p.now;
    p.run_until(start + Duration::from_secs(40));
    assert_eq!((p.caller.calls(), p.callee.calls()), (0, 0));
}

/// A response to the caller, made from its INVITE (for the hand-made cases).
fn response_to(invite: &str, status_line: &str, to_tag: &str, extra: &str, body: &str) -> String {
    let mut out = format!("SIP/2.0 {status_line}\r\n");
    for line in invite.split("\r\n").take_while(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or_default();
        match name {
            "Via" | "From" | "Call-ID" | "CSeq" => out.push_str(&format!("{line}\r\n")),
            "To" => out.push_str(&format!("{line};tag={to_tag}\r\n")),
            _ => {}
        }
    }
    out.push_str(extra);
    out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    out
}

const ANSWER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

#[test]
fn a_second_2xx_from_another_fork_is_acknowledged_and_hung_up() {
    let mut p = Pair::new();
    p.caller.dial(p.now, dial()).expect("dial");
    p.collect();
    let invite = p.log[0].1.clone();
    p.wire.clear();
    let contact = "Contact: <sip:fork@127.0.0.1:5062>\r\nContent-Type: application/sdp\r\n";
    for tag in ["first", "second"] {
        let ok = response_to(&invite, "200 OK", tag, contact, ANSWER);
        p.caller.handle_input(
            p.now,
            Input::Datagram {
                flow: caller_flow(),
                data: ok.as_bytes(),
            },
        );
        p.collect();
    }
    let answered = p
        .caller_events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Answered(_)))
        .count();
    assert_eq!(answered, 1, "one dialog");
    assert_eq!(p.sent_by_caller("ACK "), 2);
    let bye = p
        .log
        .iter()
        .find(|(by, m)| *by && m.starts_with("BYE "))
        .expect("BYE to the second fork");
    assert!(bye.1.contains(";tag=second"), "{}", bye.1);
    assert_eq!(p.caller.calls(), 1, "the first dialog goes on");
}

#[test]
fn a_407_challenge_is_answered_with_digest_credentials() {
    let mut p = Pair::new();
    let mut d = dial();
    d.credentials = Some(Credentials {
        username: "ivrd".into(),
        password: "secret".into(),
    });
    p.caller.dial(p.now, d).expect("dial");
    p.collect();
    let invite = p.log[0].1.clone();
    p.wire.clear();
    let challenge = "Proxy-Authenticate: Digest realm=\"trunk.example\", nonce=\"abc123\", \
        qop=\"auth\", algorithm=MD5\r\n";
    let refused = response_to(
        &invite,
        "407 Proxy Authentication Required",
        "p1",
        challenge,
        "",
    );
    p.caller.handle_input(
        p.now,
        Input::Datagram {
            flow: caller_flow(),
            data: refused.as_bytes(),
        },
    );
    p.collect();
    assert_eq!(p.sent_by_caller("ACK "), 1, "the 407 is acknowledged");
    let again = p
        .log
        .iter()
        .filter(|(by, m)| *by && m.starts_with("INVITE "))
        .nth(1)
        .expect("a second INVITE")
        .1
        .clone();
    assert!(again.contains("CSeq: 2 INVITE\r\n"), "{again}");
    let auth = again
        .lines()
        .find(|l| l.starts_with("Proxy-Authorization: Digest "))
        .expect("credentials");
    for part in [
        "username=\"ivrd\"",
        "realm=\"trunk.example\"",
        "nonce=\"abc123\"",
        "uri=\"sip:agent@127.0.0.1:5062\"",
        "qop=auth",
        "nc=00000001",
    ] {
        assert!(auth.contains(part), "{auth}");
    }
    assert!(p.caller_ended().is_none());
    // A second refusal without a challenge ends it.
    let busy = response_to(&again, "486 Busy Here", "p2", "", "");
    p.caller.handle_input(
        p.now,
        Input::Datagram {
            flow: caller_flow(),
            data: busy.as_bytes(),
        },
    );
    p.collect();
    assert_eq!(p.caller_ended(), Some(EndReason::Refused(486)));
}

/// Timer B used to run on after the 180, so a call ringing for more than 32 s ended as "no
/// response" without a CANCEL, and the agent's phone kept ringing. In Proceeding only our ring
/// timeout (a CANCEL) ends it.
#[test]
fn a_ringing_call_outlives_timer_b_until_we_cancel() {
    let mut p = Pair::new();
    let call = p.caller.dial(p.now, dial()).expect("dial");
    p.deliver();
    p.ring();
    let start = p.now;
    p.run_until(start + Duration::from_secs(60));
    assert_eq!(p.caller_ended(), None, "still ringing after 60 s");
    p.caller
        .handle_command(p.now, call, Command::HangUp)
        .expect("cancel");
    p.deliver();
    assert_eq!(p.caller_ended(), Some(EndReason::Cancelled));
}

/// A dial target comes from flow variables; one with a CRLF would have added headers to our
/// INVITE. It is refused before anything is sent.
#[test]
fn a_target_with_a_crlf_is_refused() {
    let mut p = Pair::new();
    let mut d = dial();
    d.target = "sip:agent@127.0.0.1:5062\r\nX-Injected: 1".into();
    assert!(p.caller.dial(p.now, d).is_err());
    p.collect();
    assert!(p.log.is_empty());
}

/// Session timers between two of ours (RFC 4028): our INVITE asks for 1800 s, the callee
/// grants it with us refreshing; our UPDATEs every 900 s keep a two-hour call up, and when
/// they stop getting through the callee hangs up before the interval runs out.
#[test]
fn we_refresh_the_session_we_asked_for_and_the_callee_ends_it_when_we_stop() {
    let mut p = Pair::new();
    let call = p.caller.dial(p.now, dial()).expect("dial");
    p.collect();
    let invite = p.log[0].1.clone();
    assert!(invite.contains("Supported: timer\r\nSession-Expires: 1800;refresher=uac\r\n"));
    p.deliver();
    p.ring();
    p.answer();
    let ok = p
        .log
        .iter()
        .find(|(by, m)| !*by && m.starts_with("SIP/2.0 200") && m.contains("INVITE\r\n"))
        .expect("the 2xx")
        .1
        .clone();
    assert!(
        ok.contains("Session-Expires: 1800;refresher=uac\r\n"),
        "{ok}"
    );
    assert!(ok.contains("Require: timer\r\n"), "{ok}");
    let start = p.now;
    p.run_until(start + Duration::from_secs(2 * 3600));
    assert_eq!(p.sent_by_caller("UPDATE "), 8, "every 900 s");
    assert_eq!((p.caller_ended(), p.callee_ended()), (None, None));
    assert_eq!((p.caller.calls(), p.callee.calls()), (1, 1));
    // Our refreshes are lost from now on (the last got through at 2 h): both sides give up
    // 1800 − 32 s after it, we because our next refresh was never answered.
    p.drop_all = Some("UPDATE ");
    p.run_until(start + Duration::from_secs(2 * 3600 + 1767));
    assert_eq!((p.caller_ended(), p.callee_ended()), (None, None));
    p.run_until(start + Duration::from_secs(2 * 3600 + 1768));
    assert_eq!(p.callee_ended(), Some(EndReason::SessionExpired));
    assert_eq!(p.caller_ended(), Some(EndReason::SessionExpired));
    p.run_until(start + Duration::from_secs(3 * 3600));
    assert_eq!((p.caller.calls(), p.callee.calls()), (0, 0));
    let _ = call;
}

/// A 422 to our INVITE: it goes again asking for the callee's Min-SE.
#[test]
fn a_422_is_answered_with_a_longer_interval() {
    let mut p = Pair::new();
    p.caller.dial(p.now, dial()).expect("dial");
    p.collect();
    let invite = p.log[0].1.clone();
    p.wire.clear();
    let too_small = response_to(
        &invite,
        "422 Session Interval Too Small",
        "s1",
        "Min-SE: 3600\r\n",
        "",
    );
    p.caller.handle_input(
        p.now,
        Input::Datagram {
            flow: caller_flow(),
            data: too_small.as_bytes(),
        },
    );
    p.collect();
    assert_eq!(p.sent_by_caller("ACK "), 1, "the 422 is acknowledged");
    let again = p
        .log
        .iter()
        .filter(|(by, m)| *by && m.starts_with("INVITE "))
        .nth(1)
        .expect("a second INVITE")
        .1
        .clone();
    assert!(again.contains("CSeq: 2 INVITE\r\n"), "{again}");
    assert!(
        again.contains("Session-Expires: 3600;refresher=uac\r\n"),
        "{again}"
    );
    assert!(p.caller_ended().is_none());
    // The same again ends it: we asked for that much already.
    let again_422 = response_to(
        &again,
        "422 Session Interval Too Small",
        "s2",
        "Min-SE: 3600\r\n",
        "",
    );
    p.caller.handle_input(
        p.now,
        Input::Datagram {
            flow: caller_flow(),
            data: again_422.as_bytes(),
        },
    );
    p.collect();
    assert_eq!(p.caller_ended(), Some(EndReason::Refused(422)));
}
