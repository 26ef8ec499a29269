//! The media worker's call table: lookups after removals, and in-band presses through its bank.

use super::*;

fn live(call: CallId) -> Live {
    Live {
        call,
        sip_call_id: format!("{call}"),
        socket: UdpSocket::bind("127.0.0.1:0").expect("socket"),
        rtcp_socket: UdpSocket::bind("127.0.0.1:0").expect("socket"),
        media: CallMedia::new(CallMediaConfig {
            remote: None,
            accept_from: media::AcceptFrom::FirstSource,
            law: media::Law::Ulaw,
            audio_payload_type: 0,
            telephone_event: None,
            ssrc: 1,
            first_sequence: 0,
            first_timestamp: 0,
            send_silence: false,
            inactivity_ticks: 0,
            reorder_window: 3,
            rtcp: media::RtcpMode::Off,
            srtp: None,
        }),
        tag: 0,
        bridged: None,
        channel: 0,
    }
}

/// `n` call ids, from dialling out.
fn call_ids(n: usize) -> Vec<CallId> {
    #[allow(clippy::disallowed_methods)] // ids only
    let now = std::time::Instant::now();
    let mut sip = sip_ua::Endpoint::new(sip_ua::SipConfig::default());
    (0..n)
        .map(|_| {
            sip.dial(
                now,
                sip_ua::Dial {
                    target: "sip:a@127.0.0.1".into(),
                    from: "sip:b@127.0.0.1".into(),
                    flow: sip_ua::Flow {
                        transport: sip_ua::Transport::Udp,
                        remote: "127.0.0.1:5070".parse().expect("addr"),
                        local: "127.0.0.1:5060".parse().expect("addr"),
                    },
                    route: vec![],
                    local: sip_ua::LocalMedia {
                        rtp: "127.0.0.1:20000".parse().expect("addr"),
                        session_id: 1,
                        version: 1,
                    },
                    telephone_event: 101,
                    credentials: None,
                },
            )
            .expect("id")
        })
        .collect()
}

#[test]
fn calls_are_found_by_id_after_removals_and_pairs_are_disjoint() {
    let ids = call_ids(4);
    let mut calls = Calls::default();
    for &id in &ids {
        calls.insert(live(id));
    }
    assert!(calls.remove(&ids[0]).is_some());
    for &id in &ids[1..] {
        assert_eq!(calls.get_mut(&id).map(|l| l.call), Some(id));
    }
    let (a, b) = calls.pair_mut(&ids[3], &ids[1]).expect("pair");
    assert_eq!((a.call, b.call), (ids[3], ids[1]));
    assert!(calls.pair_mut(&ids[2], &ids[2]).is_none());
    assert!(!calls.contains_key(&ids[0]));
}

/// The bank's presses reach the calls that made them after a removal has moved calls
/// about (their channels no longer follow their places).
#[test]
fn in_band_presses_reach_their_calls_after_a_removal() {
    use dtmf_detector::testkit::{Signal, Tone};
    let ids = call_ids(4);
    let mut calls = Calls::default();
    for &id in &ids {
        calls.insert(live(id));
    }
    assert!(calls.remove(&ids[0]).is_some());
    let rate = dtmf_detector::SampleRate::Narrowband;
    let press = |digit, at_ms| {
        let mut s = Signal::new(rate);
        s.silence(at_ms).tone(&Tone::new(digit)).silence(300.0);
        s.to_pcm()
    };
    let heard = [
        (ids[3], press(dtmf_detector::Digit::D6, 200.0)),
        (ids[1], press(dtmf_detector::Digit::D2, 500.0)),
        (ids[2], vec![0; 8000]),
    ];
    let from: std::net::SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let mut senders: Vec<media::rtp::RtpSender> = (0..3)
        .map(|c| media::rtp::RtpSender::new(0xb0 + c, 1, 0))
        .collect();
    let (mut out, mut packet) = (Vec::new(), Vec::new());
    let mut keys = vec![String::new(); heard.len()];
    let frame = media::rtp::FRAME;
    for i in 0..50 {
        for ((call, pcm), sender) in heard.iter().zip(&mut senders) {
            let live = calls.get_mut(call).expect("live");
            let _ = live.media.handle_tick(&mut out);
            let payload: Vec<u8> = (i * frame..(i + 1) * frame)
                .map(|n| media::Law::Ulaw.encode(pcm.get(n).copied().unwrap_or(0)))
                .collect();
            sender
                .packet(0, i == 0, &payload, None, &mut packet)
                .expect("build");
            sender.advance(frame as u32);
            live.media.handle_rtp(from, &packet);
        }
        calls.detect_in_band();
        for ((call, _), keys) in heard.iter().zip(&mut keys) {
            let live = calls.get_mut(call).expect("live");
            while let Some(e) = live.media.poll_event() {
                if let media::MediaEvent::Digit { key, .. } = e {
                    keys.push(key);
                }
            }
        }
    }
    assert_eq!(keys, ["6", "2", ""]);
}
