//! Side-by-side: ivrd's DTMF detector against spandsp's `dtmf_rx` on the same generated audio.
//!
//! ```sh
//! cargo run --release -p ivrd-benches --features spandsp --bin dtmf-compare [-- --talkoff-seconds 600 --rounds 9]
//! ```
//! `--only q24|talkoff|talkdown|talkoff-real|worker|throughput` runs one part; `--only-ivrd` leaves
//! the other detectors out. `talkdown` and
//! `talkoff-real` use the corpus of real sound (`audio/corpus/make.sh`; `--talkdown-digits N`
//! per cell, `--real-seconds S` of each material); `--write-corpus DIR` writes its talk-down
//! mixes and their ground truth instead.
//! Without `--features spandsp` spandsp is left out; multimon-ng (run as a process, through
//! sox to its 22 050 Hz) joins when both are installed. Prints the Q.24 sweep per parameter,
//! talk-off (false digits per hour of sung vowels tuned onto DTMF pairs, and of music), and
//! throughput: medians of interleaved rounds, and their ratio.

#[path = "dtmf_compare/real.rs"]
mod real;
#[path = "dtmf_compare/worker.rs"]
mod worker;

use std::collections::BTreeMap;
use std::time::Duration;

use dtmf_detector::testkit::{
    Case, Detection, Outcome, Signal, Tone, detect, dtmf_vowels, music, q24_cases, to_pcm,
};
use dtmf_detector::{Digit, DtmfBank, DtmfDetector, SampleRate};
use ivrd_benches::{median, time};

const RATE: SampleRate = SampleRate::Narrowband;

type DetectFn = fn(&[i16]) -> Vec<Detection>;

fn ours(pcm: &[i16]) -> Vec<Detection> {
    detect(RATE, pcm)
}

fn ours_with_reference(pcm: &[i16], reference: &[i16]) -> Vec<Digit> {
    dtmf_detector::testkit::detect_with_reference(RATE, pcm, reference)
        .into_iter()
        .map(|d| d.digit)
        .collect()
}

fn contenders() -> Vec<(&'static str, DetectFn)> {
    #[allow(unused_mut)]
    let mut list: Vec<(&'static str, DetectFn)> = vec![("ivrd", ours)];
    if std::env::args().any(|a| a == "--only-ivrd") {
        return list;
    }
    #[cfg(feature = "spandsp")]
    list.push(("spandsp", ivrd_benches::spandsp::Spandsp::detect));
    if ivrd_benches::multimon::available() {
        list.push(("multimon-ng", ivrd_benches::multimon::detect));
    }
    list
}

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--write-corpus") {
        let Some(dir) = std::env::args()
            .skip_while(|a| a != "--write-corpus")
            .nth(1)
        else {
            eprintln!("dtmf-compare: --write-corpus needs a directory");
            std::process::exit(2);
        };
        let digits = arg("--talkdown-digits", 200.0) as usize;
        if let Err(e) = real::write(std::path::Path::new(&dir), digits) {
            eprintln!("dtmf-compare: {e}");
            std::process::exit(1);
        }
        return;
    }
    let talkoff_seconds = arg("--talkoff-seconds", 600.0);
    let rounds = arg("--rounds", 9.0) as usize;
    if !cfg!(feature = "spandsp") {
        println!("note: built without --features spandsp; showing ivrd only\n");
    }
    let only = |part: &str| {
        std::env::args()
            .skip_while(|a| a != "--only")
            .nth(1)
            .is_none_or(|p| p == part)
    };
    if only("q24") {
        q24(&contenders());
    }
    if only("talkoff") {
        talkoff(&contenders(), talkoff_seconds);
    }
    if only("talkdown") {
        let digits = arg("--talkdown-digits", 200.0) as usize;
        real::talkdown(&contenders(), ours_with_reference, digits);
    }
    if only("talkoff-real") {
        let seconds = arg("--real-seconds", 9000.0);
        real::talkoff(&contenders(), ours_with_reference, seconds);
    }
    if only("worker") {
        let calls = (arg("--calls", 2000.0) as usize).max(1);
        let prompt = to_pcm(&music(RATE, 30.0, 99));
        worker::worker(&sparse_workload(), &prompt, calls, 5);
    }
    if only("throughput") {
        throughput("dense digits", &workload(), rounds, true);
        throughput("sparse digits", &sparse_workload(), rounds, false);
        throughput("line noise alone", &noise_workload(), rounds, false);
    }
}

fn q24(contenders: &[(&'static str, DetectFn)]) {
    let cases = q24_cases(RATE);
    println!(
        "== ITU-T Q.24 sweep at 8 kHz ({} generated cases)",
        cases.len()
    );
    print!("{:<14}", "parameter");
    for (name, _) in contenders {
        print!("{name:>16}");
    }
    println!();
    let mut table: BTreeMap<&str, Vec<(usize, usize)>> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut worst_onset = 0.0f64;
    for case in &cases {
        let row = table
            .entry(case.group)
            .or_insert_with(|| vec![(0, 0); contenders.len()]);
        for (i, (name, run)) in contenders.iter().enumerate() {
            let found = run(&case.pcm);
            let outcome = judge(case, &found, *name == "ivrd");
            if *name == "ivrd" {
                worst_onset = worst_onset.max(onset_error(case, &found));
            }
            row[i].1 += 1;
            if outcome == Outcome::Pass {
                row[i].0 += 1;
            } else if failures.len() < 400 {
                failures.push(format!(
                    "  {name}: {} / {}: {outcome:?}",
                    case.group, case.name
                ));
            }
        }
    }
    for (group, row) in &table {
        print!("{group:<14}");
        for (pass, total) in row {
            print!("{:>16}", format!("{pass}/{total}"));
        }
        println!();
    }
    println!("ivrd worst onset error on detected cases: {worst_onset:.2} ms (limit ±10 ms)");
    println!(
        "(spandsp and multimon-ng are judged on digits only: they report decisions, not onsets)"
    );
    if !failures.is_empty() {
        println!("failed cases:\n{}", failures.join("\n"));
    }
    println!();
}

fn judge(case: &Case, found: &[Detection], with_onsets: bool) -> Outcome {
    if with_onsets {
        return case.judge(found);
    }
    let digits_only: Vec<Detection> = found
        .iter()
        .map(|d| Detection {
            onset_ms: None,
            end_ms: None,
            ..*d
        })
        .collect();
    case.judge(&digits_only)
}

fn onset_error(case: &Case, found: &[Detection]) -> f64 {
    let ms = |s: u64| s as f64 * 1000.0 / f64::from(RATE.hz());
    if found.len() != case.expected.len() {
        return 0.0;
    }
    found
        .iter()
        .zip(&case.expected)
        .filter_map(|(d, e)| d.onset_ms.map(|o| (o - ms(e.start)).abs()))
        .fold(0.0, f64::max)
}

fn talkoff(contenders: &[(&'static str, DetectFn)], seconds: f64) {
    println!("== Talk-off: false digits per hour ({seconds:.0} s of each material)");
    let materials = [
        (
            "sung vowels on DTMF pairs",
            to_pcm(&dtmf_vowels(RATE, seconds, 11)),
        ),
        ("music", to_pcm(&music(RATE, seconds, 12))),
    ];
    print!("{:<28}", "material");
    for (name, _) in contenders {
        print!("{name:>16}");
    }
    println!();
    for (material, pcm) in &materials {
        print!("{material:<28}");
        for (_, run) in contenders {
            let n = run(pcm).len();
            print!(
                "{:>16}",
                format!("{n} ({:.0}/h)", n as f64 * 3600.0 / seconds)
            );
        }
        println!();
    }
    println!();
}

/// 30 s at 8 kHz, one digit every 5 s, music in between, noise under everything: closer to
/// what a media server's calls carry (hold music and prompts, a key now and then) than the
/// dense workload, and still far more digits than real calls have.
fn sparse_workload() -> Vec<i16> {
    let mut s = Signal::new(RATE);
    let mut k = 0u64;
    while s.len() < 30 * 8000 {
        s.extend(&music(RATE, 4.5, k));
        s.tone(&Tone::new(Digit::ALL[(k % 16) as usize]))
            .silence(440.0);
        k += 1;
    }
    s.white_noise(-40.0, 5);
    let mut pcm = s.to_pcm();
    pcm.truncate(30 * 8000);
    pcm
}

/// 30 s of line noise at −40 dBm0 and nothing else: a call nobody speaks on. Nothing in it
/// passes the screen's level, so the bank's rate here is its feed and screen, the floor under
/// the other workloads.
fn noise_workload() -> Vec<i16> {
    let mut s = Signal::new(RATE);
    s.silence(30_000.0).white_noise(-40.0, 5);
    let mut pcm = s.to_pcm();
    pcm.truncate(30 * 8000);
    pcm
}

/// 30 s at 8 kHz, dense: the sixteen digits (60 ms on, 60 ms off) then 2 s of music, again and
/// again, noise under everything. Every channel holds a tone a quarter of the time.
fn workload() -> Vec<i16> {
    let mut s = Signal::new(RATE);
    let mut k = 0u64;
    while s.len() < 30 * 8000 {
        for d in Digit::ALL {
            s.tone(&Tone::new(d)).silence(60.0);
        }
        s.extend(&music(RATE, 2.0, k));
        k += 1;
    }
    s.white_noise(-40.0, 5);
    let mut pcm = s.to_pcm();
    pcm.truncate(30 * 8000);
    pcm
}

fn report(label: &str, samples: usize, ours: Duration, theirs: Option<Duration>) {
    let rate = |d: Duration| samples as f64 / d.as_secs_f64();
    print!(
        "{label:<8} ivrd {:>7.1} M samples/s ({:>9.0} ch/core)",
        rate(ours) / 1e6,
        rate(ours) / 8000.0
    );
    if let Some(t) = theirs {
        print!(
            " | spandsp {:>6.1} M samples/s ({:>7.0} ch/core) | ratio {:.1}×",
            rate(t) / 1e6,
            rate(t) / 8000.0,
            t.as_secs_f64() / ours.as_secs_f64()
        );
    }
    println!();
}

/// Passes over the 30 s workload per single-channel round: 50 minutes of audio, so that an
/// ivrd round lasts about 40 ms. With rounds of a few milliseconds (as until 2026-12-04) one
/// interruption or a change of the CPU's clock decided the worst round.
const SINGLE_PASSES: usize = 100;
/// Passes over the bank's 10 s of 256 channels per round: about 100 ms of ivrd's time.
const BANK_PASSES: usize = 6;

fn throughput(name: &str, pcm: &[i16], rounds: usize, with_multimon: bool) {
    println!(
        "== Throughput on {name}, one core, medians of {rounds} interleaved rounds (20 ms frames)"
    );
    // Single channel.
    #[allow(unused_mut)]
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        a.push(
            time(|| {
                let mut det = DtmfDetector::with_rate(RATE);
                let mut n = 0;
                for frame in pcm
                    .chunks(160)
                    .cycle()
                    .take(SINGLE_PASSES * pcm.len() / 160)
                {
                    det.handle_samples(frame);
                    while det.poll_event().is_some() {
                        n += 1;
                    }
                }
                n
            })
            .1,
        );
        #[cfg(feature = "spandsp")]
        b.push(
            time(|| {
                let mut rx = ivrd_benches::spandsp::Spandsp::plain();
                let mut n = 0;
                for frame in pcm
                    .chunks(160)
                    .cycle()
                    .take(SINGLE_PASSES * pcm.len() / 160)
                {
                    rx.feed(frame);
                    n += rx.drain_digits();
                }
                n
            })
            .1,
        );
    }
    let ours_single = median(a.clone());
    report(
        "single",
        SINGLE_PASSES * pcm.len(),
        ours_single,
        (!b.is_empty()).then(|| median(b.clone())),
    );
    worst_round("single", &a, &b);
    if with_multimon {
        multimon_throughput(pcm, rounds, ours_single);
    }

    // Bank: 256 channels in lockstep, each the workload shifted by a different offset.
    let channels = 256usize;
    let frames = 10 * 8000;
    let planar: Vec<Vec<i16>> = (0..channels)
        .map(|c| {
            pcm.iter()
                .cycle()
                .skip(c * 997)
                .take(frames)
                .copied()
                .collect()
        })
        .collect();
    let mut interleaved = vec![0i16; frames * channels];
    for (c, ch) in planar.iter().enumerate() {
        for (n, s) in ch.iter().enumerate() {
            interleaved[n * channels + c] = *s;
        }
    }
    #[allow(unused_mut)]
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        a.push(
            time(|| {
                let mut bank = DtmfBank::with_rate(RATE, channels);
                let mut n = 0;
                for tick in (0..BANK_PASSES).flat_map(|_| interleaved.chunks(160 * channels)) {
                    bank.handle_interleaved(tick).expect("whole frames");
                    while bank.poll_event().is_some() {
                        n += 1;
                    }
                }
                n
            })
            .1,
        );
        #[cfg(feature = "spandsp")]
        b.push(
            time(|| {
                let mut rx: Vec<_> = (0..channels)
                    .map(|_| ivrd_benches::spandsp::Spandsp::plain())
                    .collect();
                let mut n = 0;
                for start in (0..BANK_PASSES).flat_map(|_| (0..frames).step_by(160)) {
                    for (r, ch) in rx.iter_mut().zip(&planar) {
                        r.feed(&ch[start..start + 160]);
                        n += r.drain_digits();
                    }
                }
                n
            })
            .1,
        );
    }
    report(
        "bank",
        BANK_PASSES * frames * channels,
        median(a.clone()),
        (!b.is_empty()).then(|| median(b.clone())),
    );
    worst_round("bank", &a, &b);
}

/// The ratio in the round that was worst for ivrd (its slowest against spandsp's fastest of
/// the rounds around it would flatter neither: each round is a pair run back to back).
fn worst_round(label: &str, ours: &[Duration], theirs: &[Duration]) {
    let worst = ours
        .iter()
        .zip(theirs)
        .map(|(o, t)| t.as_secs_f64() / o.as_secs_f64())
        .fold(f64::INFINITY, f64::min);
    if worst.is_finite() {
        println!(
            "{label:<8} worst of {} rounds: ratio {worst:.1}×",
            ours.len().min(theirs.len())
        );
    }
}

/// multimon-ng over the same audio (resampled once, outside the timing), as real-time
/// channels per core: it works at 22 050 Hz, so samples per second would flatter it less
/// than the audio it gets through.
fn multimon_throughput(pcm: &[i16], rounds: usize, ours: Duration) {
    if !ivrd_benches::multimon::available() {
        return;
    }
    let audio: Vec<i16> = pcm
        .iter()
        .copied()
        .cycle()
        .take(SINGLE_PASSES * pcm.len())
        .collect();
    let raw = ivrd_benches::multimon::resample(&audio);
    let theirs = median(
        (0..rounds.div_ceil(3))
            .map(|_| ivrd_benches::multimon::time_raw(&raw))
            .collect(),
    );
    let seconds = audio.len() as f64 / 8000.0;
    println!(
        "single   multimon-ng {:>7.0} ch/core (whole process, 22 050 Hz input) | ivrd {:.0} ch/core | ratio {:.1}×",
        seconds / theirs.as_secs_f64(),
        seconds / ours.as_secs_f64(),
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
}
