//! Property tests, talk-off, and the single detector and the bank agreeing.

use dtmf_detector::testkit::{Rng, Signal, Tone, detect, dtmf_vowels, music, to_pcm};
use dtmf_detector::{Digit, DtmfBank, DtmfDetector, Event, LANES, SampleRate};
use proptest::prelude::*;

fn digit() -> impl Strategy<Value = Digit> {
    (0usize..16).prop_map(|i| Digit::ALL[i])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random digit strings at random must-detect levels, twists, offsets and timings decode
    /// exactly.
    #[test]
    fn valid_digit_strings_decode_exactly(
        digits in prop::collection::vec((digit(), -25.0f64..0.0, -8.0f64..4.0, -0.015f64..0.015, -0.015f64..0.015, 40.0f64..200.0, 40.0f64..200.0), 1..8),
        wideband in any::<bool>(),
    ) {
        let rate = if wideband { SampleRate::Wideband } else { SampleRate::Narrowband };
        let mut s = Signal::new(rate);
        s.silence(30.0);
        let mut want = String::new();
        for (d, level, twist, dl, dh, on, off) in &digits {
            // Keep both tones inside Q.24's per-tone range of 0 to −25 dBm0.
            let level = level.min(-twist.max(0.0)).max(-25.0 - twist.min(0.0));
            s.tone(&Tone { digit: *d, level_dbm0: level, twist_db: *twist, low_deviation: *dl, high_deviation: *dh, duration_ms: *on });
            s.silence(*off);
            want.push(d.to_char());
        }
        let got: String = detect(rate, &s.to_pcm()).iter().map(|d| d.digit.to_char()).collect();
        prop_assert_eq!(got, want);
    }

    /// Arbitrary input in arbitrary pieces never panics, and event times never run backwards.
    #[test]
    fn arbitrary_input_never_panics(pcm in prop::collection::vec(any::<i16>(), 0..4000), cut in 1usize..500) {
        let mut det = DtmfDetector::with_rate(SampleRate::Narrowband);
        let mut last = 0;
        for piece in pcm.chunks(cut) {
            det.handle_samples(piece);
            while let Some(e) = det.poll_event() {
                if let Event::Released { onset, end, .. } = e {
                    prop_assert!(end >= onset);
                    prop_assert!(onset.samples() >= last);
                    last = onset.samples();
                }
            }
        }
        det.finish();
        while det.poll_event().is_some() {}
        let mut bank = DtmfBank::with_rate(SampleRate::Narrowband, 3);
        let whole = pcm.len() / 3 * 3;
        prop_assert!(bank.handle_interleaved(&pcm[..whole]).is_ok());
        while bank.poll_event().is_some() {}
    }
}

#[test]
fn sung_vowels_on_dtmf_pairs_and_music_give_almost_no_digits() {
    // spandsp's dtmf_rx makes ~2,100 false digits per hour on this vowel material (see the
    // crate README); we allow at most 30 per hour on either material.
    let rate = SampleRate::Narrowband;
    let minutes = 5.0;
    for (name, audio) in [
        ("vowels", dtmf_vowels(rate, minutes * 60.0, 21)),
        ("music", music(rate, minutes * 60.0, 22)),
    ] {
        let false_digits = detect(rate, &to_pcm(&audio)).len();
        let per_hour = false_digits as f64 * 60.0 / minutes;
        assert!(
            per_hour <= 30.0,
            "{name}: {false_digits} false digits in {minutes} min ({per_hour:.0}/h)"
        );
    }
}

#[test]
fn noise_alone_gives_no_digits() {
    let mut s = Signal::new(SampleRate::Narrowband);
    s.silence(60_000.0).white_noise(-10.0, 9);
    assert!(detect(SampleRate::Narrowband, &s.to_pcm()).is_empty());
}

#[test]
fn the_bank_and_the_single_detector_agree_on_every_channel() {
    let rate = SampleRate::Narrowband;
    let channels = LANES + 3; // one full lane group and a partial one
    let mut rng = Rng::new(4);
    let streams: Vec<Vec<i16>> = (0..channels)
        .map(|c| {
            let mut s = Signal::new(rate);
            s.silence(rng.range(0.0, 50.0));
            for _ in 0..5 {
                let d = Digit::ALL[(rng.next_u64() % 16) as usize];
                s.tone(&Tone {
                    duration_ms: rng.range(45.0, 120.0),
                    ..Tone::new(d)
                })
                .silence(rng.range(45.0, 150.0));
            }
            s.white_noise(-35.0, c as u64);
            let mut pcm = s.to_pcm();
            pcm.resize(16_000, 0);
            pcm
        })
        .collect();
    let mut interleaved = vec![0i16; 16_000 * channels];
    for (c, stream) in streams.iter().enumerate() {
        for (n, s) in stream.iter().enumerate() {
            interleaved[n * channels + c] = *s;
        }
    }
    let mut bank = DtmfBank::with_rate(rate, channels);
    let mut got = vec![Vec::new(); channels];
    // Uneven tick sizes exercise segment and block boundaries inside a call.
    for tick in interleaved.chunks(channels * 37) {
        bank.handle_interleaved(tick).expect("whole frames");
        while let Some(e) = bank.poll_event() {
            if let Event::Released { digit, onset, .. } = e.event {
                got[e.channel].push((digit, onset));
            }
        }
    }
    for (c, stream) in streams.iter().enumerate() {
        let mut det = DtmfDetector::with_rate(rate);
        det.handle_samples(stream);
        let mut want = Vec::new();
        while let Some(e) = det.poll_event() {
            if let Event::Released { digit, onset, .. } = e {
                want.push((digit, onset));
            }
        }
        assert_eq!(want.len(), 5, "channel {c}");
        let same = got[c]
            .iter()
            .zip(&want)
            .all(|((d1, o1), (d2, o2))| d1 == d2 && o1.samples().abs_diff(o2.samples()) <= 8);
        assert!(
            same && got[c].len() == want.len(),
            "channel {c}: bank {:?} vs single {want:?}",
            got[c]
        );
    }
}

/// A bank that grows while a key is held keeps the press: it is reported once, and the new
/// channels start silent.
#[test]
fn a_bank_grown_during_a_press_reports_it_once() {
    let rate = SampleRate::Narrowband;
    let mut s = Signal::new(rate);
    s.silence(40.0)
        .tone(&Tone {
            duration_ms: 200.0,
            ..Tone::new(Digit::D7)
        })
        .silence(200.0);
    let pcm = s.to_pcm();
    let mut bank = DtmfBank::with_rate(rate, LANES);
    let mut pressed = Vec::new();
    for (k, frame) in pcm.chunks_exact(160).enumerate() {
        if k == 5 {
            bank.add_channels(LANES + 3);
        }
        let channels = bank.channels();
        let mut tick = vec![0i16; 160 * channels];
        for (n, x) in frame.iter().enumerate() {
            tick[n * channels + 3] = *x;
            if k >= 5 {
                tick[n * channels + channels - 1] = *x;
            }
        }
        bank.handle_interleaved(&tick).expect("whole frames");
        while let Some(e) = bank.poll_event() {
            if let Event::Pressed { digit, .. } = e.event {
                pressed.push((e.channel, digit));
            }
        }
    }
    // Channel 3 heard the whole press; the last channel joined 160 ms into it and still heard
    // the rest of the tone (a new channel hears from when it starts).
    assert_eq!(pressed, [(3, Digit::D7), (2 * LANES + 2, Digit::D7)]);
}
