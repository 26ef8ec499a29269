//! End to end: `ivrd dtmf decode` on the committed fixtures (made by
//! `audio/fixtures/dtmf/make.sh` with sox and espeak-ng), and `ivrd dtmf bench --json`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../audio/fixtures/dtmf")
}

fn ivrd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ivrd"))
        .args(args)
        .output()
        .expect("ivrd runs")
}

fn decoded(file: &Path) -> Vec<String> {
    let out = ivrd(&[
        "dtmf",
        "decode",
        "--json",
        file.to_str().expect("utf-8 path"),
    ]);
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut per_channel: Vec<String> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
        let channel = v["channel"].as_u64().expect("channel") as usize;
        let digit = v["digit"].as_str().expect("digit");
        let (start, end) = (
            v["start_ms"].as_f64().expect("start"),
            v["end_ms"].as_f64().expect("end"),
        );
        assert!(end > start, "{line}");
        assert_eq!(v["file"].as_str(), file.to_str());
        if per_channel.len() <= channel {
            per_channel.resize(channel + 1, String::new());
        }
        per_channel[channel].push_str(digit);
    }
    per_channel
}

#[test]
fn every_fixture_decodes_to_its_sidecar_digits() {
    let mut checked = 0;
    for entry in std::fs::read_dir(fixtures()).expect("fixtures folder") {
        let path = entry.expect("entry").path();
        let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        if !matches!(ext, "wav" | "mp3" | "flac" | "ogg") {
            continue;
        }
        let sidecar = PathBuf::from(format!("{}.digits", path.display()));
        let want: Vec<String> = std::fs::read_to_string(&sidecar)
            .unwrap_or_else(|_| panic!("{} has no .digits sidecar", path.display()))
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(decoded(&path), want, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 9, "only {checked} fixtures found");
}

#[test]
fn onsets_are_the_tone_starts_not_the_decisions() {
    // pcm16-8k.wav: 80 ms gap, then 80 ms tones with 80 ms gaps.
    let out = ivrd(&[
        "dtmf",
        "decode",
        "--json",
        fixtures().join("pcm16-8k.wav").to_str().expect("path"),
    ]);
    for (i, line) in String::from_utf8_lossy(&out.stdout).lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let start = v["start_ms"].as_f64().expect("start");
        let want = 80.0 + 160.0 * i as f64;
        assert!(
            (start - want).abs() <= 10.0,
            "digit {i}: onset {start} ms, tone at {want} ms"
        );
    }
}

#[test]
fn a_bad_file_is_named_on_stderr_and_the_others_still_decode() {
    let dir = std::env::temp_dir().join(format!("ivrd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let garbage = dir.join("garbage.wav");
    std::fs::write(&garbage, b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk").expect("write");
    let missing = dir.join("missing.wav");
    let good = fixtures().join("ulaw.wav");
    let out = ivrd(&[
        "dtmf",
        "decode",
        garbage.to_str().expect("path"),
        good.to_str().expect("path"),
        missing.to_str().expect("path"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    assert!(
        stderr.contains("garbage.wav") && stderr.contains("missing.wav"),
        "{stderr}"
    );
    let digits: String = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split('\t').nth(2))
        .collect();
    assert_eq!(digits, "147");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bench_prints_one_json_line_per_path() {
    let out = ivrd(&[
        "dtmf",
        "bench",
        "--json",
        "--seconds",
        "1",
        "--channels",
        "16",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["path"], "single");
    assert_eq!(lines[1]["path"], "bank");
    for l in &lines {
        assert!(l["samples_per_s"].as_f64().expect("rate") > 0.0);
        assert!(l["channels_per_core"].as_f64().expect("channels") > 0.0);
    }
}
