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

/// The shipped prompts (`audio/prompts/<language>/*.wav`, 8 kHz), at the level they are
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
            let raw = wav_samples(&bytes).map_err(|e| format!("{}: {e}", f.display()))?;
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

/// The samples of an 8 kHz mono RIFF WAV file in µ-law, A-law or 16-bit PCM, or why not. This
/// is narrower than what ivrd itself plays (any rate, channels and container): the corpus
/// takes the shipped prompts, which are all 8 kHz mono WAV.
fn wav_samples(bytes: &[u8]) -> Result<Vec<i16>, String> {
    if bytes.get(..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return Err("not a RIFF WAVE file".into());
    }
    let mut format = None;
    let mut at: usize = 12;
    while let Some(start) = at.checked_add(8).filter(|&start| start <= bytes.len()) {
        let header = &bytes[at..start];
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let end = start.saturating_add(len);
        let body = &bytes[start..end.min(bytes.len())];
        match &header[..4] {
            b"fmt " => {
                let field = |i: usize| body.get(i..i + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
                let rate = body
                    .get(4..8)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                match (field(0), field(2), rate, field(14)) {
                    (Some(tag), Some(1), Some(8000), Some(bits)) => format = Some((tag, bits)),
                    other => return Err(format!("not 8 kHz mono (fmt {other:?})")),
                }
            }
            b"data" => {
                return match format {
                    Some((7, 8)) => Ok(body.iter().map(|&c| Law::Ulaw.decode(c)).collect()),
                    Some((6, 8)) => Ok(body.iter().map(|&c| Law::Alaw.decode(c)).collect()),
                    Some((1, 16)) => Ok(body
                        .chunks_exact(2)
                        .map(|b| i16::from_le_bytes([b[0], b[1]]))
                        .collect()),
                    Some((tag, bits)) => Err(format!(
                        "format {tag} with {bits} bits (µ-law, A-law or 16-bit PCM expected)"
                    )),
                    None => Err("data before fmt".into()),
                };
            }
            _ => {}
        }
        at = end.saturating_add(len % 2);
    }
    Err("no data chunk".into())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let mut fmt = Vec::new();
        for v in [tag, channels] {
            fmt.extend(v.to_le_bytes());
        }
        fmt.extend(rate.to_le_bytes());
        fmt.extend((rate * u32::from(bits / 8)).to_le_bytes());
        fmt.extend((bits / 8).to_le_bytes());
        fmt.extend(bits.to_le_bytes());
        let mut out = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        out.extend((fmt.len() as u32).to_le_bytes());
        out.extend(fmt);
        out.extend(b"data");
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn prompts_decode_by_their_format_and_others_are_refused() {
        let ulaw = wav(7, 1, 8000, 8, &[0x00, 0xFF]);
        let want: Vec<i16> = [0x00, 0xFF].map(|c| Law::Ulaw.decode(c)).to_vec();
        assert_eq!(wav_samples(&ulaw), Ok(want));
        let alaw = wav(6, 1, 8000, 8, &[0xD5]);
        assert_eq!(wav_samples(&alaw), Ok(vec![Law::Alaw.decode(0xD5)]));
        let pcm = wav(1, 1, 8000, 16, &[0x34, 0x12, 0xFF, 0xFF]);
        assert_eq!(wav_samples(&pcm), Ok(vec![0x1234, -1]));
        assert!(wav_samples(&wav(1, 2, 8000, 16, &[0; 4])).is_err());
        assert!(wav_samples(&wav(1, 1, 16000, 16, &[0; 4])).is_err());
        assert!(wav_samples(&wav(3, 1, 8000, 32, &[0; 4])).is_err());
        assert!(wav_samples(b"RIFF").is_err());
        assert!(wav_samples(&wav(0xFFFE, 1, 8000, 16, &[0; 4])).is_err());
    }

    #[test]
    fn chunks_between_fmt_and_data_are_skipped_with_their_pad_byte() {
        let plain = wav(7, 1, 8000, 8, &[0x00, 0xFF]);
        let data_at = plain.len() - 10;
        let mut with_list = plain[..data_at].to_vec();
        with_list.extend(b"LIST\x03\0\0\0abc\0");
        with_list.extend(&plain[data_at..]);
        assert_eq!(wav_samples(&with_list), wav_samples(&plain));
        assert!(wav_samples(&plain).is_ok());
        let mut data_first = b"RIFF\0\0\0\0WAVE".to_vec();
        data_first.extend(&plain[data_at..]);
        assert_eq!(wav_samples(&data_first), Err("data before fmt".into()));
    }

    #[test]
    fn the_shipped_prompts_all_read() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../audio/prompts");
        let prompts = read_prompts(&dir).expect("shipped prompts");
        assert!(!prompts.is_empty());
        assert!(prompts.iter().all(|p| !p.raw.is_empty()), "an empty prompt");
    }
}
