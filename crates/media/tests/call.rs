//! A call's media fed with packets the way a peer sends them: in-band tones and RFC 4733 for
//! the same presses give one digit each; a press stops a barge-in prompt; silence ends the call.

use std::sync::Arc;

use dtmf_detector::Digit;
use dtmf_detector::testkit::{Signal, Tone};
use media::rfc4733::encode_key;
use media::rtp::{FRAME, RtpSender};
use media::{CallMedia, CallMediaConfig, DigitSource, Law, MediaEvent, PlayItem, PromptFrames};

fn config() -> CallMediaConfig {
    CallMediaConfig {
        law: Law::Ulaw,
        audio_payload_type: 0,
        telephone_event: Some(96),
        ssrc: 1,
        first_sequence: 100,
        first_timestamp: 0,
        send_silence: true,
        inactivity_ticks: 50,
        reorder_window: 3,
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
        call.handle_rtp(&packet);
        // RFC 4733 for the same presses, from a second SSRC on the same flow (as SIPp does).
        if i == 5 || i == 15 {
            let key = if i == 5 { '1' } else { '2' };
            for p in encode_key(key, 800, 10).expect("key") {
                events_tx
                    .packet(96, false, &p.to_bytes(), Some(i as u32 * 160), &mut packet)
                    .expect("build");
                call.handle_rtp(&packet);
            }
        }
        assert!(call.handle_tick(&mut out));
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
    call.handle_rtp(b"garbage");
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
