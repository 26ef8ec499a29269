//! The corpus's files: the sources `make.sh` wrote, the shipped prompts, and mixes written out.

use std::path::{Path, PathBuf};

use dtmf_detector::testkit::{Rng, dbm0_amplitude};
use media::Law;

use super::{FS, Mix, Source};

/// Every `.raw` in `dir`, each scaled so that its active level (over 10 ms blocks no more than
/// 40 dB below its loudest) is a level drawn in `levels` (dBm0), per file.
pub(super) fn read_kind(dir: &Path, levels: (f64, f64)) -> Result<Vec<Source>, String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "raw"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for (i, path) in names.iter().enumerate() {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let raw: Vec<i16> = bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        let level = Rng::new(i as u64 + 77).range(levels.0, levels.1);
        let gain = active_level_gain(&raw, level);
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(Source { name, raw, gain });
    }
    Ok(out)
}

/// The shipped prompts (`audio/prompts/<language>/*.wav`, 8 kHz µ-law), at the level they are
/// played.
pub(super) fn read_prompts(dir: &Path) -> Result<Vec<Source>, String> {
    let mut out = Vec::new();
    let mut langs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    langs.sort();
    for lang in langs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&lang)
            .map_err(|e| format!("{}: {e}", lang.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wav"))
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            let data = wav_data(&bytes).ok_or_else(|| format!("{}: not a WAV", f.display()))?;
            let raw = data.iter().map(|&c| Law::Ulaw.decode(c)).collect();
            let name = f.display().to_string();
            out.push(Source {
                name,
                raw,
                gain: 1.0,
            });
        }
    }
    Ok(out)
}

/// The `data` chunk of a RIFF WAV file.
fn wav_data(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.get(..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().ok()?) as usize;
        let body = bytes.get(at + 8..(at + 8 + len).min(bytes.len()))?;
        if id == b"data" {
            return Some(body);
        }
        at += 8 + len + len % 2;
    }
    None
}

/// The gain that puts `pcm`'s active level at `level_dbm0`.
fn active_level_gain(pcm: &[i16], level_dbm0: f64) -> f64 {
    let blocks: Vec<f64> = pcm
        .chunks(80)
        .map(|b| b.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / b.len() as f64)
        .collect();
    let loudest = blocks.iter().copied().fold(0.0, f64::max);
    let active: Vec<f64> = blocks.into_iter().filter(|&p| p > loudest * 1e-4).collect();
    if active.is_empty() {
        return 1.0;
    }
    let rms = (active.iter().sum::<f64>() / active.len() as f64).sqrt();
    dbm0_amplitude(level_dbm0) / std::f64::consts::SQRT_2 / rms
}

/// Writes `mix` as `NAME.raw` (16-bit little-endian PCM, 8 kHz), `NAME.ref.raw` (what was
/// played, for echo mixes) and `NAME.tsv` (one line per digit: key, start and end in ms,
/// low and high tone levels in dBm0, SIR in dB).
pub fn write_mix(dir: &Path, name: &str, mix: &Mix) -> Result<(), String> {
    let raw = |pcm: &[i16]| {
        pcm.iter()
            .flat_map(|s| s.to_le_bytes())
            .collect::<Vec<u8>>()
    };
    let put = |file: String, bytes: &[u8]| {
        std::fs::write(dir.join(&file), bytes).map_err(|e| format!("{file}: {e}"))
    };
    put(format!("{name}.raw"), &raw(&mix.pcm))?;
    if let Some(r) = &mix.reference {
        put(format!("{name}.ref.raw"), &raw(r))?;
    }
    let ms = |s: usize| s as f64 * 1000.0 / FS;
    let mut tsv = String::from("digit\tstart_ms\tend_ms\tlow_dbm0\thigh_dbm0\tsir_db\n");
    for d in &mix.digits {
        tsv += &format!(
            "{}\t{:.3}\t{:.3}\t{:.2}\t{:.2}\t{:.1}\n",
            d.digit.to_char(),
            ms(d.start),
            ms(d.end),
            d.low_dbm0,
            d.high_dbm0,
            d.sir_db
        );
    }
    put(format!("{name}.tsv"), tsv.as_bytes())
}
