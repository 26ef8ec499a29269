//! multimon-ng (Debian `multimon-ng`) as a reference DTMF decoder, run as a process: it wants
//! raw 16-bit mono at 22 050 Hz, so our 8 kHz audio goes through `sox` first (its resampler,
//! not ours). multimon-ng prints `DTMF: <digit>` per decision and no times, so it is judged on
//! digits only.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use dtmf_detector::Digit;
use dtmf_detector::testkit::Detection;

/// Whether both `multimon-ng` and `sox` run here.
pub fn available() -> bool {
    let runs = |p: &str, a: &str| {
        Command::new(p)
            .arg(a)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    runs("multimon-ng", "-h") && runs("sox", "--version")
}

/// Pipes `input` through `program args` and returns its standard output.
fn pipe(program: &str, args: &[&str], input: Vec<u8>) -> Vec<u8> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_end(&mut out)
        .expect("read");
    let _ = writer.join();
    let _ = child.wait();
    out
}

/// 8 kHz PCM as raw 22 050 Hz little-endian octets, resampled by sox.
pub fn resample(pcm: &[i16]) -> Vec<u8> {
    let raw: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    let fmt = ["-t", "raw", "-e", "signed", "-b", "16", "-c", "1", "-L"];
    let mut args: Vec<&str> = fmt.to_vec();
    args.extend(["-r", "8000", "-"]);
    args.extend(fmt);
    args.extend(["-r", "22050", "-"]);
    pipe("sox", &args, raw)
}

/// Runs multimon-ng's DTMF demodulator over raw 22 050 Hz octets; the digits it printed.
pub fn decode_raw(raw: Vec<u8>) -> Vec<Detection> {
    let out = pipe(
        "multimon-ng",
        &["-q", "-n", "-c", "-a", "DTMF", "-t", "raw", "-"],
        raw,
    );
    String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| l.strip_prefix("DTMF: "))
        .filter_map(|d| d.chars().next())
        .filter_map(Digit::from_char)
        .map(|digit| Detection {
            digit,
            onset_ms: None,
            end_ms: None,
        })
        .collect()
}

/// The digits multimon-ng finds in 8 kHz PCM.
pub fn detect(pcm: &[i16]) -> Vec<Detection> {
    decode_raw(resample(pcm))
}

/// Wall time of one multimon-ng run over already resampled audio (process start included;
/// long inputs make it negligible).
pub fn time_raw(raw: &[u8]) -> Duration {
    let raw = raw.to_vec();
    crate::time(|| decode_raw(raw)).1
}
