//! DTMF in real rooms: digits over recorded music, speech and the echo of ivrd's own prompts
//! (the corpus `audio/corpus/make.sh` builds from Debian packages; `.ci/run` makes it before the
//! tests). Without the corpus the tests say so and pass, except under `CI`, where they fail.
//! The full tables, with spandsp and multimon-ng side by side, are `dtmf-compare --only
//! talkdown` and `--only talkoff-real` (crate README of dtmf-detector).

use dtmf_detector::SampleRate;
use dtmf_detector::testkit::{detect, detect_with_reference};
use ivrd_benches::corpus::{Corpus, Material, Score};

fn corpus() -> Option<Corpus> {
    match Corpus::open(&Corpus::default_dir()) {
        Ok(c) => Some(c),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn found(pcm: &[i16], reference: Option<&[i16]>) -> Vec<dtmf_detector::Digit> {
    let rate = SampleRate::Narrowband;
    match reference {
        Some(r) => detect_with_reference(rate, pcm, r),
        None => detect(rate, pcm),
    }
    .into_iter()
    .map(|d| d.digit)
    .collect()
}

#[test]
fn every_digit_15_db_or_more_over_real_music_speech_and_echoed_prompts_is_found() {
    let Some(corpus) = corpus() else { return };
    for material in Material::ALL {
        for (step, sir) in [25.0, 20.0, 15.0, 10.0].into_iter().enumerate() {
            // The seeds of dtmf-compare's table: the same mixes.
            let mix = corpus.talkdown(material, sir, 200, 1000 + step as u64);
            let plain = Score::of(&mix.digits, &found(&mix.pcm, None));
            let (want, false_max) = if sir >= 15.0 { (100.0, 0) } else { (90.0, 2) };
            let label = format!("{} at SIR {sir} dB", material.name());
            let Some(reference) = &mix.reference else {
                assert!(plain.percent() >= want, "{label}: {plain:?}");
                assert!(plain.false_digits <= false_max, "{label}: {plain:?}");
                continue;
            };
            // Over echoed prompts the reference is what ivrd runs with: the prompt's own tones
            // make no digit, and the partials its echo lays under a press do not veto it.
            // Without it, every tone of the prompt is a digit and the harmonic veto takes a few
            // presses for the echo's notes.
            let with = Score::of(&mix.digits, &found(&mix.pcm, Some(reference)));
            assert!(
                with.percent() >= want,
                "{label} with the reference: {with:?}"
            );
            assert!(
                with.false_digits <= false_max,
                "{label} with the reference: {with:?}"
            );
            assert!(plain.percent() >= want - 5.0, "{label}: {plain:?}");
        }
    }
}

#[test]
fn real_speech_and_echoed_prompts_make_no_digit_and_real_music_almost_none() {
    let Some(corpus) = corpus() else { return };
    // Half an hour of each here; `dtmf-compare --only talkoff-real` runs all 2.5 hours.
    let seconds = 1800.0;
    let speech = corpus.talkoff(Material::Speech, seconds, 7);
    assert_eq!(found(&speech.pcm, None), [], "speech");
    let music = corpus.talkoff(Material::Music, seconds, 7);
    let music_false = found(&music.pcm, None).len();
    assert!(
        music_false <= 1,
        "music: {music_false} false digits in 30 min"
    );
    let echo = corpus.talkoff(Material::Echo, seconds, 7);
    let reference = echo.reference.as_deref();
    assert_eq!(
        found(&echo.pcm, reference),
        [],
        "echoed prompts, with the reference"
    );
    // Without it the echo of the tone prompts is heard as digits, by every detector.
    assert!(found(&echo.pcm, None).len() > 100);
}
