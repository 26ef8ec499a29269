//! A call's media fed with packets the way a peer sends them: in-band tones and RFC 4733 for
//! the same presses give one digit each; a press stops a barge-in prompt; silence ends the call.

use std::net::SocketAddr;
use std::sync::Arc;

use dtmf_detector::Digit;
use dtmf_detector::testkit::{Signal, Tone};
use media::rfc4733::encode_key;
use media::rtp::{FRAME, RtpSender};
use media::{
    AcceptFrom, CallMedia, CallMediaConfig, DigitSource, Law, MediaDirection, MediaEvent, PlayItem,
    PromptFrames,
};

/// Where the peer's SDP says it is.
const PEER: &str = "127.0.0.1:6000";

fn peer() -> SocketAddr {
    PEER.parse().expect("addr")
}

fn config() -> CallMediaConfig {
    CallMediaConfig {
        remote: Some(peer()),
        accept_from: AcceptFrom::Sdp,
        law: Law::Ulaw,
        audio_payload_type: 0,
        telephone_event: Some(96),
        ssrc: 1,
        first_sequence: 100,
        first_timestamp: 0,
        send_silence: true,
        inactivity_ticks: 50,
        reorder_window: 3,
        rtcp: media::RtcpMode::Off,
        srtp: None,
    }
}

fn events(call: &mut CallMedia) -> Vec<MediaEvent> {
    std::iter::from_fn(|| call.poll_event()).collect()
}

#[test]
fn in_band_and_rfc4733_for_the_same_presses_report_each_once() {
    let mut call = CallMedia::new(config());
    let prompt = Arc::new(PromptFrames::from_pcm(&vec![3000i16; 8000]));
    call.play(vec![PlayItem::Prompt(prompt)], true);
    let mut signal = Signal::new(dtmf_detector::SampleRate::Narrowband);
    signal.silence(100.0);
    for d in [Digit::D1, Digit::D2] {
        signal.tone(&Tone::new(d)).silence(100.0);
    }
    let pcm = signal.to_pcm();
    let mut audio = RtpSender::new(0xaaaa, 1, 0);
    let mut events_tx = RtpSender::new(0xbbbb, 1, 0);
    let (mut packet, mut out) = (Vec::new(), Vec::new());
    let mut got = Vec::new();
    for (i, chunk) in pcm.chunks_exact(FRAME).enumerate() {
        let payload: Vec<u8> = chunk.iter().map(|&s| Law::Ulaw.encode(s)).collect();
        audio
            .packet(0, i == 0, &payload, None, &mut packet)
            .expect("build");
        audio.advance(FRAME as u32);
        call.handle_rtp(peer(), &packet);
        // RFC 4733 for the same presses, from a second SSRC on the same flow (as SIPp does).
        if i == 5 || i == 15 {
            let key = if i == 5 { '1' } else { '2' };
            for p in encode_key(key, 800, 10).expect("key") {
                events_tx
                    .packet(96, false, &p.to_bytes(), Some(i as u32 * 160), &mut packet)
                    .expect("build");
                call.handle_rtp(peer(), &packet);
            }
        }
        assert_eq!(call.handle_tick(&mut out), Some(peer()));
        got.extend(events(&mut call));
    }
    let digits: Vec<(char, DigitSource)> = got
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Digit { key, source } => Some((*key, *source)),
            _ => None,
        })
        .collect();
    // Whichever source is first reports; the other is dropped.
    let keys: Vec<char> = digits.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, ['1', '2'], "{digits:?}");
    assert_eq!(
        got.iter()
            .filter(|e| **e == MediaEvent::PlaybackStopped)
            .count(),
        1
    );
    call.handle_rtp(peer(), b"garbage");
    assert_eq!(call.stats().invalid, 1);
}

#[test]
fn silence_from_the_peer_ends_the_call_once() {
    let mut call = CallMedia::new(config());
    let mut out = Vec::new();
    let mut got = Vec::new();
    for _ in 0..200 {
        call.handle_tick(&mut out);
        got.extend(events(&mut call));
    }
    assert_eq!(got, [MediaEvent::Inactive]);
}

/// The packets of one RFC 4733 press of `key`, at PT 96 from SSRC `ssrc`.
fn press(key: char, ssrc: u32, timestamp: u32) -> Vec<Vec<u8>> {
    let mut tx = RtpSender::new(ssrc, 1, 0);
    encode_key(key, 800, 10)
        .expect("key")
        .iter()
        .map(|p| {
            let mut packet = Vec::new();
            tx.packet(96, false, &p.to_bytes(), Some(timestamp), &mut packet)
                .expect("build");
            packet
        })
        .collect()
}

fn digits(call: &mut CallMedia) -> String {
    events(call)
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Digit { key, .. } => Some(*key),
            _ => None,
        })
        .collect()
}

/// Any RFC 4733 packet that reached a call's RTP port was heard as a digit, whoever sent it.
/// Now only the SDP's address and port are heard; the rest is counted as foreign.
#[test]
fn digits_from_a_stranger_are_not_heard() {
    let mut call = CallMedia::new(config());
    for stranger in ["127.0.0.2:6000", "127.0.0.1:6002"] {
        for packet in press('5', 9, 1600) {
            call.handle_rtp(stranger.parse().expect("addr"), &packet);
        }
    }
    assert_eq!(digits(&mut call), "");
    assert_eq!(
        call.stats().foreign,
        14,
        "two strangers, seven packets each"
    );
    for packet in press('5', 9, 1600) {
        call.handle_rtp(peer(), &packet);
    }
    assert_eq!(digits(&mut call), "5");
    // The same host on another port, where the SDP host is enough.
    let mut call = CallMedia::new(CallMediaConfig {
        accept_from: AcceptFrom::SdpHost,
        ..config()
    });
    for packet in press('6', 9, 1600) {
        call.handle_rtp("127.0.0.1:7000".parse().expect("addr"), &packet);
    }
    assert_eq!(digits(&mut call), "6");
}

/// Symmetric RTP for callers behind NAT: the first source to send three valid packets in a row
/// is latched, where our RTP then goes, and nobody else is heard; a stranger's odd packet
/// during probation latches nothing.
#[test]
fn latching_takes_the_first_source_and_only_it() {
    let mut call = CallMedia::new(CallMediaConfig {
        accept_from: AcceptFrom::FirstSource,
        ..config()
    });
    let nat: SocketAddr = "198.51.100.7:31000".parse().expect("addr");
    let mut out = Vec::new();
    assert_eq!(
        call.handle_tick(&mut out),
        Some(peer()),
        "the SDP's until latched"
    );
    call.handle_rtp(nat, b"not rtp");
    let stranger: SocketAddr = "203.0.113.9:4000".parse().expect("addr");
    call.handle_rtp(stranger, &press('9', 7, 800)[0]);
    for packet in press('1', 9, 1600) {
        call.handle_rtp(nat, &packet);
    }
    assert_eq!(call.handle_tick(&mut out), Some(nat));
    for packet in press('2', 9, 3200) {
        call.handle_rtp(peer(), &packet);
    }
    assert_eq!(digits(&mut call), "1");
}

/// After a re-INVITE put the caller on hold (our answer `recvonly` or `inactive`), ivrd kept
/// sending the prompt, and 30 s of hold ended the call as RTP inactivity. Now nothing is sent,
/// the prompt waits where it was, and the inactivity timer is suspended until resume.
#[test]
fn hold_sends_nothing_pauses_the_prompt_and_suspends_the_rtp_timeout() {
    let mut call = CallMedia::new(config());
    let prompt = Arc::new(PromptFrames::from_pcm(&vec![3000i16; 160 * 20]));
    call.play(vec![PlayItem::Prompt(prompt)], false);
    let mut out = Vec::new();
    for _ in 0..5 {
        assert_eq!(call.handle_tick(&mut out), Some(peer()));
    }
    for direction in [MediaDirection::RecvOnly, MediaDirection::Inactive] {
        call.set_direction(direction);
        for _ in 0..200 {
            assert_eq!(call.handle_tick(&mut out), None, "{direction:?}");
        }
    }
    assert_eq!(
        events(&mut call),
        [],
        "no inactivity, the prompt not finished"
    );
    call.set_direction(MediaDirection::SendRecv);
    let mut sent = 0;
    let mut finished = false;
    for _ in 0..40 {
        sent += usize::from(call.handle_tick(&mut out).is_some());
        finished |= events(&mut call).contains(&MediaEvent::PlaybackFinished);
        if finished {
            break;
        }
    }
    assert!(finished);
    assert_eq!(
        sent, 16,
        "the 15 frames left of the prompt after resume, then the tick that reports its end"
    );
}

/// A late offer's call has no remote until the ACK's answer: nothing is sent or heard.
#[test]
fn late_offer_media_waits_for_the_answer() {
    let mut call = CallMedia::new(CallMediaConfig {
        remote: None,
        ..config()
    });
    let mut out = Vec::new();
    assert_eq!(call.handle_tick(&mut out), None);
    for packet in press('3', 9, 1600) {
        call.handle_rtp(peer(), &packet);
    }
    assert_eq!(digits(&mut call), "");
    call.renegotiate(peer(), Law::Alaw, 8, Some(96), media::RtcpMode::Off);
    assert_eq!(call.handle_tick(&mut out), Some(peer()));
    assert_eq!(out[1] & 0x7f, 8, "PCMA after the answer");
    for packet in press('3', 9, 1600) {
        call.handle_rtp(peer(), &packet);
    }
    assert_eq!(digits(&mut call), "3");
}

/// The line echoes the prompt back 30 ms later and 10 dB down. A prompt that plays DTMF
/// tones (an IVR demonstrating its keys) must not make digits of its own echo: the call feeds
/// what it plays to the detector as the echo reference. A key the caller presses over the echo
/// is still heard.
#[test]
fn the_echo_of_a_prompt_full_of_tones_makes_no_digit_and_a_press_over_it_is_heard() {
    let rate = dtmf_detector::SampleRate::Narrowband;
    let mut prompt = Signal::new(rate);
    for d in [
        Digit::D1,
        Digit::D5,
        Digit::D9,
        Digit::Pound,
        Digit::D3,
        Digit::D7,
    ] {
        prompt
            .tone(&Tone {
                duration_ms: 180.0,
                level_dbm0: -6.0,
                ..Tone::new(d)
            })
            .silence(120.0);
    }
    let prompt = prompt.to_pcm();
    let mut caller = Signal::new(rate);
    caller.silence(700.0).tone(&Tone {
        duration_ms: 100.0,
        ..Tone::new(Digit::D2)
    });
    let caller = caller.to_pcm();
    let echo_of = |played: &[i16]| -> Vec<i16> {
        let delay = 240; // 30 ms
        (0..played.len())
            .map(|n| {
                n.checked_sub(delay)
                    .map_or(0, |i| (f32::from(played[i]) * 0.316) as i16)
            })
            .collect()
    };
    // Without the reference the echo alone is heard as the prompt's keys.
    let heard = dtmf_detector::testkit::detect(rate, &echo_of(&prompt));
    assert_eq!(heard.len(), 6, "{heard:?}");

    let mut call = CallMedia::new(config());
    call.play(
        vec![PlayItem::Prompt(Arc::new(PromptFrames::from_pcm(&prompt)))],
        false,
    );
    let mut peer_tx = RtpSender::new(0xaaaa, 1, 0);
    let (mut out, mut packet) = (Vec::new(), Vec::new());
    let mut played = Vec::new();
    let mut keys = String::new();
    for i in 0..prompt.len() / FRAME + 10 {
        assert_eq!(call.handle_tick(&mut out), Some(peer()));
        played.extend(out[12..].iter().map(|&c| Law::Ulaw.decode(c)));
        let echo = echo_of(&played);
        let payload: Vec<u8> = (i * FRAME..(i + 1) * FRAME)
            .map(|n| {
                let s = i32::from(echo[n]) + i32::from(caller.get(n).copied().unwrap_or(0));
                Law::Ulaw.encode(s.clamp(-32768, 32767) as i16)
            })
            .collect();
        peer_tx
            .packet(0, i == 0, &payload, None, &mut packet)
            .expect("build");
        peer_tx.advance(FRAME as u32);
        call.handle_rtp(peer(), &packet);
        keys += &digits(&mut call);
    }
    assert_eq!(keys, "2");
}

/// Calls whose in-band detection is shared: a media worker runs one bank for all of them. The
/// press reaches the call that heard it, and the echo of a prompt's tones still makes none.
#[test]
fn a_shared_bank_hears_each_calls_presses_and_discounts_their_echo() {
    let rate = dtmf_detector::SampleRate::Narrowband;
    let mut prompt = Signal::new(rate);
    for d in [Digit::D4, Digit::D4, Digit::D8] {
        prompt
            .tone(&Tone {
                duration_ms: 200.0,
                level_dbm0: -6.0,
                ..Tone::new(d)
            })
            .silence(100.0);
    }
    let prompt = prompt.to_pcm();
    let mut press = Signal::new(rate);
    press.silence(500.0).tone(&Tone {
        duration_ms: 90.0,
        ..Tone::new(Digit::D6)
    });
    let press = press.to_pcm();
    let mut calls: Vec<CallMedia> = (0..3).map(|_| CallMedia::new(config())).collect();
    for call in &mut calls {
        call.share_in_band();
        call.play(
            vec![PlayItem::Prompt(Arc::new(PromptFrames::from_pcm(&prompt)))],
            false,
        );
    }
    let mut bank = dtmf_detector::DtmfBank::with_rate(rate, calls.len());
    let mut senders: Vec<RtpSender> = (0..3).map(|c| RtpSender::new(0xa0 + c, 1, 0)).collect();
    let mut played: Vec<Vec<i16>> = vec![Vec::new(); 3];
    let (mut out, mut packet) = (Vec::new(), Vec::new());
    let mut keys = vec![String::new(); 3];
    let mut tick = vec![0i16; FRAME * 3];
    for i in 0..prompt.len() / FRAME + 10 {
        for (c, call) in calls.iter_mut().enumerate() {
            assert_eq!(call.handle_tick(&mut out), Some(peer()));
            played[c].extend(out[12..].iter().map(|&b| Law::Ulaw.decode(b)));
            // Call 1's caller presses 6; every line echoes its prompt 25 ms late, 8 dB down.
            let payload: Vec<u8> = (i * FRAME..(i + 1) * FRAME)
                .map(|n| {
                    let echo = n
                        .checked_sub(200)
                        .map_or(0.0, |k| f32::from(played[c][k]) * 0.4);
                    let key = if c == 1 {
                        press.get(n).copied().unwrap_or(0)
                    } else {
                        0
                    };
                    Law::Ulaw.encode((echo as i32 + i32::from(key)).clamp(-32768, 32767) as i16)
                })
                .collect();
            senders[c]
                .packet(0, i == 0, &payload, None, &mut packet)
                .expect("build");
            senders[c].advance(FRAME as u32);
            call.handle_rtp(peer(), &packet);
        }
        for (c, call) in calls.iter_mut().enumerate() {
            let (mut heard, mut sent) = ([0i16; FRAME], [0i16; FRAME]);
            if call.take_in_band(&mut heard, &mut sent) {
                bank.handle_reference(c, &sent).expect("channel");
            }
            for (n, s) in heard.iter().enumerate() {
                tick[n * 3 + c] = *s;
            }
        }
        bank.handle_interleaved(&tick).expect("whole frames");
        while let Some(e) = bank.poll_event() {
            if let dtmf_detector::Event::Pressed { digit, .. } = e.event {
                calls[e.channel].in_band_pressed(digit.to_char());
            }
        }
        for (c, call) in calls.iter_mut().enumerate() {
            keys[c] += &digits(call);
        }
    }
    assert_eq!(keys, ["", "6", ""]);
}
