//! Talk-down and talk-off on the corpus from real sound (`audio/corpus/make.sh`).

use dtmf_detector::Digit;
use ivrd_benches::corpus::{Corpus, Material, Mix, Score};

use crate::DetectFn;

/// The signal-to-interference steps of the talk-down table, dB.
pub(crate) const SIR_STEPS: [f64; 5] = [25.0, 20.0, 15.0, 10.0, 5.0];

/// A detector that also hears what was played (only ivrd's can).
pub(crate) type WithReference = fn(&[i16], &[i16]) -> Vec<Digit>;

fn keys(found: &[dtmf_detector::testkit::Detection]) -> Vec<Digit> {
    found.iter().map(|d| d.digit).collect()
}

fn open() -> Option<Corpus> {
    let dir = Corpus::default_dir();
    match Corpus::open(&dir) {
        Ok(c) => Some(c),
        Err(e) => {
            println!("== real sound: skipped ({e})\n");
            None
        }
    }
}

fn header(first: &str, width: usize, contenders: &[(&'static str, DetectFn)], reference: bool) {
    print!("{first:<width$}");
    for (name, _) in contenders {
        print!("{name:>16}");
    }
    if reference {
        print!("{:>18}", "ivrd + echo ref");
    }
    println!();
}

/// Detection rate per SIR step, per material, for every contender.
pub(crate) fn talkdown(
    contenders: &[(&'static str, DetectFn)],
    with_reference: WithReference,
    digits: usize,
) {
    let Some(corpus) = open() else { return };
    let (music_h, speech_h) = corpus.hours();
    println!(
        "== Talk-down on real sound: digits found, {digits} per cell (Q.24 levels, twist, ±1.5 %, \
         45–120 ms; G.711 round trip; {music_h:.1} h of music, {speech_h:.1} h of speech to cut from)"
    );
    for material in Material::ALL {
        let echo = material == Material::Echo;
        header(material.name(), 16, contenders, echo);
        for (step, sir) in SIR_STEPS.into_iter().enumerate() {
            let mix = corpus.talkdown(material, sir, digits, 1000 + step as u64);
            print!("{:<16}", format!("  SIR {sir:.0} dB"));
            for (_, run) in contenders {
                let s = Score::of(&mix.digits, &keys(&run(&mix.pcm)));
                print!("{:>16}", cell(&s));
            }
            if let Some(reference) = &mix.reference {
                let s = Score::of(&mix.digits, &with_reference(&mix.pcm, reference));
                print!("{:>18}", cell(&s));
            }
            println!();
        }
    }
    println!("(a cell: share found, and false digits in brackets when there are any)\n");
}

fn cell(s: &Score) -> String {
    if s.false_digits > 0 {
        format!("{:.1} % (+{})", s.percent(), s.false_digits)
    } else {
        format!("{:.1} %", s.percent())
    }
}

/// False digits per hour on every source of music and speech, and on echoed prompts.
pub(crate) fn talkoff(
    contenders: &[(&'static str, DetectFn)],
    with_reference: WithReference,
    seconds: f64,
) {
    let Some(corpus) = open() else { return };
    println!("== Talk-off on real sound: false digits (per hour), up to {seconds:.0} s of each");
    header("material", 24, contenders, true);
    for material in Material::ALL {
        let mix: Mix = corpus.talkoff(material, seconds, 7);
        let hours = mix.pcm.len() as f64 / 8000.0 / 3600.0;
        print!("{:<24}", format!("{} ({:.2} h)", material.name(), hours));
        for (_, run) in contenders {
            let n = run(&mix.pcm).len();
            print!("{:>16}", format!("{n} ({:.1}/h)", n as f64 / hours));
        }
        match &mix.reference {
            Some(reference) => {
                let n = with_reference(&mix.pcm, reference).len();
                print!("{:>18}", format!("{n} ({:.1}/h)", n as f64 / hours));
            }
            None => print!("{:>18}", "–"),
        }
        println!();
    }
    println!();
}

/// Writes every talk-down mix and its ground truth to `dir` (format: audio/corpus/README.md).
pub(crate) fn write(dir: &std::path::Path, digits: usize) -> Result<(), String> {
    let corpus = Corpus::open(&Corpus::default_dir())?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for material in Material::ALL {
        for (step, sir) in SIR_STEPS.into_iter().enumerate() {
            let mix = corpus.talkdown(material, sir, digits, 1000 + step as u64);
            let name = format!("{}-sir{sir:.0}", material.name().replace(' ', "-"));
            ivrd_benches::corpus::write_mix(dir, &name, &mix)?;
        }
    }
    println!("wrote {} mixes to {}", 3 * SIR_STEPS.len(), dir.display());
    Ok(())
}
