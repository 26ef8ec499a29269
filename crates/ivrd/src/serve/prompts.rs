//! Prompts are read once at start (symphonia: WAV PCM/µ-law/A-law, MP3, FLAC, Ogg; any rate),
//! mixed to mono, brought to 8 kHz and cached as ready G.711 frames in both laws.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use dtmf_detector::SampleRate;
use media::PromptFrames;

use crate::audio_file;

/// Prompts by name (file stem).
#[derive(Debug, Default)]
pub(crate) struct Prompts {
    by_name: HashMap<String, Arc<PromptFrames>>,
}

impl Prompts {
    /// Loads every audio file in `dir`. A file that cannot be read is an error naming it.
    pub(crate) fn load(dir: &Path) -> anyhow::Result<Self> {
        let mut by_name = HashMap::new();
        let entries = std::fs::read_dir(dir)
            .map_err(|e| anyhow::anyhow!("prompt directory {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if !path.is_file() {
                continue;
            }
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let audio = audio_file::read(&path)
                .map_err(|e| anyhow::anyhow!("prompt {}: {e}", path.display()))?;
            let pcm = narrowband_mono(audio.rate, &audio.channels);
            by_name.insert(name.to_string(), Arc::new(PromptFrames::from_pcm(&pcm)));
        }
        Ok(Self { by_name })
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<PromptFrames>> {
        self.by_name.get(name).cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }
}

/// Averages the channels and halves 16 kHz to 8 kHz through a 31-tap windowed-sinc low-pass at
/// 3.6 kHz.
fn narrowband_mono(rate: SampleRate, channels: &[Vec<i16>]) -> Vec<i16> {
    let len = channels.iter().map(Vec::len).min().unwrap_or(0);
    let mono: Vec<f32> = (0..len)
        .map(|i| channels.iter().map(|c| f32::from(c[i])).sum::<f32>() / channels.len() as f32)
        .collect();
    match rate {
        SampleRate::Narrowband => mono.iter().map(|&v| v as i16).collect(),
        _ => {
            const TAPS: usize = 31;
            let cutoff = 3600.0 / 16_000.0;
            let taps: Vec<f32> = (0..TAPS)
                .map(|k| {
                    let n = k as f32 - (TAPS / 2) as f32;
                    let sinc = if n == 0.0 {
                        2.0 * cutoff
                    } else {
                        (std::f32::consts::TAU * cutoff * n).sin() / (std::f32::consts::PI * n)
                    };
                    let w =
                        0.54 - 0.46 * (std::f32::consts::TAU * k as f32 / (TAPS - 1) as f32).cos();
                    sinc * w
                })
                .collect();
            (0..len / 2)
                .map(|i| {
                    let centre = 2 * i;
                    let v: f32 = taps
                        .iter()
                        .enumerate()
                        .map(|(k, t)| {
                            let j = (centre + k).checked_sub(TAPS / 2);
                            j.and_then(|j| mono.get(j)).map_or(0.0, |x| x * t)
                        })
                        .sum();
                    v.clamp(-32768.0, 32767.0) as i16
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_prompts_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../audio/prompts/en");
        let prompts = Prompts::load(&dir).expect("prompts");
        for name in ["welcome", "goodbye", "digit-0", "digit-star", "digit-pound"] {
            assert!(prompts.get(name).is_some_and(|p| p.frames() > 10), "{name}");
        }
    }

    #[test]
    fn wideband_is_halved_and_keeps_a_1khz_tone() {
        let tone: Vec<i16> = (0..1600)
            .map(|n| {
                (10_000.0 * (std::f32::consts::TAU * 1000.0 * n as f32 / 16_000.0).sin()) as i16
            })
            .collect();
        let out = narrowband_mono(SampleRate::Wideband, &[tone]);
        assert_eq!(out.len(), 800);
        let peak = out[100..700].iter().map(|v| v.abs()).max().unwrap_or(0);
        assert!((9_000..=11_000).contains(&peak), "{peak}");
    }
}
