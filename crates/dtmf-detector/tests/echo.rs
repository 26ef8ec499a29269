//! The echo reference: a prompt's own tones make no digit, and the hard cases of barge-in (a
//! press of the very key whose tones the prompt is playing, a press over an echo whose partials
//! would make it look harmonic) are still heard, alike by the single detector and the bank.
use dtmf_detector::testkit::{
    Detection, Signal, Tone, dbm0_amplitude, detect, detect_with_reference,
};
use dtmf_detector::{Digit, DtmfBank, Event, SampleRate};

const RATE: SampleRate = SampleRate::Narrowband;

/// What the caller's line carries: `played` back `delay` samples late at `gain` (amplitude),
/// plus the caller's own sound.
fn line(played: &[i16], delay: usize, gain: f32, caller: &[i16]) -> Vec<i16> {
    (0..played.len())
        .map(|n| {
            let echo = n
                .checked_sub(delay)
                .map_or(0.0, |k| f32::from(played[k]) * gain);
            (echo + f32::from(caller.get(n).copied().unwrap_or(0))).clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

fn keys(found: &[Detection]) -> String {
    found.iter().map(|d| d.digit.to_char()).collect()
}

/// The keys a two-channel bank hears on each channel, both fed `heard` and `played`.
fn bank_keys(heard: &[i16], played: &[i16]) -> [String; 2] {
    let mut bank = DtmfBank::with_rate(RATE, 2);
    let mut pressed = [String::new(), String::new()];
    for (frame, sent) in heard.chunks_exact(160).zip(played.chunks_exact(160)) {
        for c in 0..2 {
            bank.handle_reference(c, sent).expect("channel");
        }
        let tick: Vec<i16> = frame.iter().flat_map(|&s| [s, s]).collect();
        bank.handle_interleaved(&tick).expect("whole frames");
        while let Some(e) = bank.poll_event() {
            if let Event::Pressed { digit, .. } = e.event {
                pressed[e.channel].push(digit.to_char());
            }
        }
    }
    pressed
}

/// A prompt of DTMF tones comes back 35 ms late and 9 dB down while the caller presses another
/// key. With what was played fed as the reference, the single detector and the bank both hear
/// the press alone; without it, the echo's keys too.
#[test]
fn with_the_echo_reference_a_prompts_own_tones_make_no_digit_in_detector_and_bank() {
    let mut prompt = Signal::new(RATE);
    for d in [Digit::D3, Digit::D9, Digit::Star] {
        prompt
            .tone(&Tone {
                duration_ms: 150.0,
                level_dbm0: -5.0,
                ..Tone::new(d)
            })
            .silence(150.0);
    }
    let played = prompt.to_pcm();
    let mut caller = Signal::new(RATE);
    caller
        .silence(240.0)
        .tone(&Tone::new(Digit::D0))
        .silence(500.0);
    let heard = line(&played, 280, 0.355, &caller.to_pcm());
    assert_eq!(keys(&detect(RATE, &heard)), "309*");
    assert_eq!(keys(&detect_with_reference(RATE, &heard, &played)), "0");
    assert_eq!(bank_keys(&heard, &played), ["0", "0"]);
}

/// The prompt of the barge-in tests: 600 ms of noise at speech level (white, seed `seed`), then
/// the tones of 5 for 400 ms, then 400 ms of silence.
fn speech_then_tone_of_5(seed: u64) -> Vec<i16> {
    let mut prompt = Signal::new(RATE);
    prompt
        .silence(600.0)
        .white_noise(-15.0, seed)
        .tone(&Tone {
            duration_ms: 400.0,
            level_dbm0: -5.0,
            ..Tone::new(Digit::D5)
        })
        .silence(400.0);
    prompt.to_pcm()
}

/// The prompt speaks (noise at speech level) for 600 ms, then plays the tones of 5 for 400 ms;
/// its echo comes back 30 ms late and 18 dB down. The caller presses 5 150 ms into the tone.
/// The echo of the tone alone is no digit; the press over it is one, with its own onset: the
/// line has shown how little it echoes, and the press stands 6 dB and more above what the echo
/// of the tone could be.
#[test]
fn a_press_of_the_key_the_prompt_is_playing_is_heard_over_a_quiet_echo() {
    let played = speech_then_tone_of_5(3);
    let echo_only = line(&played, 240, 0.126, &[]);
    assert_eq!(keys(&detect_with_reference(RATE, &echo_only, &played)), "");

    let mut caller = Signal::new(RATE);
    caller
        .silence(750.0)
        .tone(&Tone {
            duration_ms: 100.0,
            level_dbm0: -10.0,
            ..Tone::new(Digit::D5)
        })
        .silence(100.0);
    let heard = line(&played, 240, 0.126, &caller.to_pcm());
    let found = detect_with_reference(RATE, &heard, &played);
    assert_eq!(keys(&found), "5", "{found:?}");
    let onset = found[0].onset_ms.expect("an onset");
    assert!((onset - 750.0).abs() <= 10.0, "onset {onset} ms");
    assert_eq!(bank_keys(&heard, &played), ["5", "5"]);
}

/// The prompt holds partials at the second harmonics of 1's tones (1,394 and 2,418 Hz), and
/// its echo, 25 ms late and 9 dB down, stands 7 dB under a press of 1: without the reference
/// the harmonic veto takes the press for an instrument's note; with it, those partials are
/// the prompt's, and the press is heard.
#[test]
fn partials_the_echo_explains_do_not_veto_a_press() {
    let n = 12_000;
    let a = dbm0_amplitude(-8.0);
    let played: Vec<i16> = (0..n)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let tau = std::f64::consts::TAU;
            (a * ((tau * 1394.0 * t).sin() + (tau * 2418.0 * t).sin())) as i16
        })
        .collect();
    let mut caller = Signal::new(RATE);
    caller
        .silence(800.0)
        .tone(&Tone {
            duration_ms: 100.0,
            level_dbm0: -10.0,
            ..Tone::new(Digit::D1)
        })
        .silence(100.0);
    let heard = line(&played, 200, 0.355, &caller.to_pcm());
    assert_eq!(keys(&detect(RATE, &heard)), "");
    let found = detect_with_reference(RATE, &heard, &played);
    assert_eq!(keys(&found), "1", "{found:?}");
    assert_eq!(bank_keys(&heard, &played), ["1", "1"]);
}

/// A press held in the history before a run is no echo: the single detector and the bank both
/// leave it out of the delay's estimate, and hear the same keys (5 before the prompt's tone,
/// then 5 over its echo).
#[test]
fn a_press_before_the_prompt_tone_is_heard_alike_by_detector_and_bank() {
    let played = speech_then_tone_of_5(5);
    let mut caller = Signal::new(RATE);
    caller
        .silence(470.0)
        .tone(&Tone {
            duration_ms: 120.0,
            level_dbm0: -10.0,
            ..Tone::new(Digit::D5)
        })
        .silence(190.0)
        .tone(&Tone {
            duration_ms: 100.0,
            level_dbm0: -10.0,
            ..Tone::new(Digit::D5)
        })
        .silence(100.0);
    let heard = line(&played, 240, 0.126, &caller.to_pcm());
    let spans = detect_with_reference(RATE, &heard, &played);
    let found = keys(&spans);
    assert_eq!(found, "55", "{spans:?} without {:?}", detect(RATE, &heard));
    assert_eq!(bank_keys(&heard, &played), [found.clone(), found]);
}
