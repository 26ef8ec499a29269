//! `ivrd dtmf decode` and `ivrd dtmf bench`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use dtmf_detector::testkit::{Signal, Tone, music};
use dtmf_detector::{DetectorConfig, Digit, DtmfBank, DtmfDetector, SampleRate};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::{audio_file, clock};

#[derive(Serialize)]
struct DigitLine<'a> {
    file: &'a str,
    channel: usize,
    digit: String,
    start_ms: f64,
    end_ms: f64,
}

/// Decodes every file; a file that cannot be read gets one line on stderr and a non-zero exit,
/// and the others are still decoded.
pub(crate) fn decode(files: &[std::path::PathBuf], json: bool) -> ExitCode {
    let mut failed = false;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in files {
        let name = path.display().to_string();
        let audio = match audio_file::read(path) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("ivrd: {name}: {e}");
                failed = true;
                continue;
            }
        };
        for (channel, pcm) in audio.channels.iter().enumerate() {
            for (digit, start_ms, end_ms) in digits(audio.rate, pcm) {
                let written = if json {
                    let line = DigitLine {
                        file: &name,
                        channel,
                        digit: digit.to_string(),
                        start_ms: round1(start_ms),
                        end_ms: round1(end_ms),
                    };
                    serde_json::to_string(&line)
                        .map_err(std::io::Error::other)
                        .and_then(|l| writeln!(out, "{l}"))
                } else {
                    writeln!(
                        out,
                        "{name}\tch{channel}\t{digit}\t{start_ms:.1}\t{end_ms:.1}"
                    )
                };
                if written.is_err() {
                    // Closed pipe (e.g. `| head`): stop quietly.
                    return ExitCode::from(u8::from(failed));
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn round1(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

/// Digits of one channel: (digit, onset ms, end ms).
fn digits(rate: SampleRate, pcm: &[i16]) -> Vec<(Digit, f64, f64)> {
    DtmfDetector::decode(&DetectorConfig::at_rate(rate), pcm)
        .into_iter()
        .map(|s| (s.digit, s.onset.as_millis(rate), s.end.as_millis(rate)))
        .collect()
}

#[derive(Serialize)]
struct BenchLine {
    path: &'static str,
    channels: usize,
    samples_per_s: f64,
    channels_per_core: f64,
}

/// Ten seconds of 8 kHz audio: all sixteen digits, then music, with a little noise.
fn workload() -> Vec<i16> {
    let rate = SampleRate::Narrowband;
    let mut signal = Signal::new(rate);
    for d in Digit::ALL {
        signal.tone(&Tone::new(d)).silence(60.0);
    }
    signal.extend(&music(rate, 8.0, 7));
    signal.white_noise(-45.0, 3);
    let mut pcm = signal.to_pcm();
    pcm.truncate(10 * 8000);
    pcm
}

pub(crate) fn bench(channels: usize, seconds: f64, json: bool) -> ExitCode {
    if channels == 0 || !seconds.is_finite() || seconds <= 0.0 {
        eprintln!("ivrd: --channels must be ≥ 1 and --seconds > 0");
        return ExitCode::FAILURE;
    }
    let pcm = workload();
    let frames = (seconds * 8000.0) as usize / 160 * 160;
    let progress = |len: u64, what: &str| {
        let bar = if json {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(len)
        };
        bar.set_style(
            ProgressStyle::with_template("{msg:>7} [{bar:40}] {percent:>3}% {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(what.to_string());
        bar
    };

    // Single channel, fed in 20 ms frames as RTP delivers them.
    let bar = progress(frames as u64, "single");
    let mut detector = DtmfDetector::with_rate(SampleRate::Narrowband);
    let mut elapsed = Duration::ZERO;
    for (i, frame) in pcm.chunks_exact(160).cycle().take(frames / 160).enumerate() {
        let start = clock::now();
        detector.handle_samples(frame);
        while detector.poll_event().is_some() {}
        elapsed += start.elapsed();
        if i % 500 == 0 {
            bar.set_position((i * 160) as u64);
        }
    }
    bar.finish_and_clear();
    let single = frames as f64 / elapsed.as_secs_f64().max(1e-9);

    // Bank: `channels` calls in lockstep, each the workload at its own offset.
    let bar = progress(frames as u64, "bank");
    let mut bank = DtmfBank::with_rate(SampleRate::Narrowband, channels);
    let mut tick = vec![0i16; 160 * channels];
    let mut elapsed = Duration::ZERO;
    for (t, start_frame) in (0..frames).step_by(160).enumerate() {
        for (n, row) in tick.chunks_exact_mut(channels).enumerate() {
            for (c, s) in row.iter_mut().enumerate() {
                *s = pcm[(start_frame + n + c * 997) % pcm.len()];
            }
        }
        let start = clock::now();
        if bank.handle_interleaved(&tick).is_err() {
            eprintln!("ivrd: internal error: tick is not whole frames");
            return ExitCode::FAILURE;
        }
        while bank.poll_event().is_some() {}
        elapsed += start.elapsed();
        if t % 50 == 0 {
            bar.set_position(start_frame as u64);
        }
    }
    bar.finish_and_clear();
    let banked = (frames * channels) as f64 / elapsed.as_secs_f64().max(1e-9);

    for (path, n, rate) in [("single", 1, single), ("bank", channels, banked)] {
        if json {
            let line = BenchLine {
                path,
                channels: n,
                samples_per_s: rate.round(),
                channels_per_core: (rate / 8000.0).round(),
            };
            match serde_json::to_string(&line) {
                Ok(l) => println!("{l}"),
                Err(e) => eprintln!("ivrd: {e}"),
            }
        } else {
            println!(
                "{path:<7} {:>8.1} M samples/s per core = {:>8.0} real-time 8 kHz channels per core",
                rate / 1e6,
                rate / 8000.0
            );
        }
    }
    ExitCode::SUCCESS
}
