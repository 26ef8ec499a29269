//! Reads audio files (WAV PCM/µ-law/A-law, MP3, FLAC, Ogg Vorbis) into 16-bit channels at a
//! rate the detector analyses: 8 kHz and 16 kHz pass through, anything else is resampled to
//! 16 kHz.

use std::fs::File;
use std::path::Path;

use dtmf_detector::SampleRate;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AudioError {
    #[error("cannot open: {0}")]
    Open(#[from] std::io::Error),
    #[error("unsupported or unrecognised format: {0}")]
    Format(String),
    #[error("no audio track")]
    NoTrack,
    #[error("corrupt audio: {0}")]
    Corrupt(String),
}

/// A decoded file: one vector of samples per channel, at `rate`.
pub(crate) struct Audio {
    pub(crate) rate: SampleRate,
    pub(crate) channels: Vec<Vec<i16>>,
}

pub(crate) fn read(path: &Path) -> Result<Audio, AudioError> {
    let file = File::open(path)?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| AudioError::Format(e.to_string()))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or(AudioError::NoTrack)?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or(AudioError::NoTrack)?
        .clone();
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| AudioError::Format(e.to_string()))?;

    let mut rate = params.sample_rate.unwrap_or(0);
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(AudioError::Corrupt(e.to_string())),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(buf) => buf,
            // A damaged packet: skip it, as players do.
            Err(SymError::DecodeError(_)) => continue,
            Err(e) => return Err(AudioError::Corrupt(e.to_string())),
        };
        rate = buf.spec().rate();
        let count = buf.spec().channels().count().max(1);
        if channels.len() < count {
            channels.resize_with(count, Vec::new);
        }
        interleaved.resize(buf.samples_interleaved(), 0.0);
        buf.copy_to_slice_interleaved(&mut interleaved);
        for frame in interleaved.chunks_exact(count) {
            for (ch, s) in channels.iter_mut().zip(frame) {
                ch.push(*s);
            }
        }
    }
    if channels.is_empty() {
        return Err(AudioError::NoTrack);
    }
    if rate == 0 {
        return Err(AudioError::Format("no sample rate".into()));
    }
    let (rate, channels) = match SampleRate::from_hz(rate) {
        Ok(r) => (r, channels),
        Err(_) => (
            SampleRate::Wideband,
            channels.iter().map(|c| resample(c, rate, 16_000)).collect(),
        ),
    };
    let to_pcm = |c: &Vec<f32>| {
        c.iter()
            .map(|s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
            .collect()
    };
    Ok(Audio {
        rate,
        channels: channels.iter().map(to_pcm).collect(),
    })
}

/// Windowed-sinc (Blackman, 32 zero crossings) rate conversion. The cut-off sits at 45 % of the
/// lower rate, well above the 1.7 kHz top DTMF tone.
fn resample(x: &[f32], from: u32, to: u32) -> Vec<f32> {
    const HALF_TAPS: f64 = 32.0;
    let ratio = f64::from(to) / f64::from(from);
    let cutoff = 0.45 * ratio.min(1.0); // in cycles per input sample ×2 below
    let len = (x.len() as f64 * ratio).floor() as usize;
    let reach = (HALF_TAPS / (2.0 * cutoff)).ceil() as isize;
    (0..len)
        .map(|n| {
            let centre = n as f64 / ratio;
            let first = centre.floor() as isize - reach;
            let mut acc = 0.0;
            let mut norm = 0.0;
            for i in first..=first + 2 * reach {
                let t = i as f64 - centre;
                let u = t / reach as f64;
                if u.abs() >= 1.0 {
                    continue;
                }
                let window = 0.42
                    + 0.5 * (std::f64::consts::PI * u).cos()
                    + 0.08 * (2.0 * std::f64::consts::PI * u).cos();
                let arg = 2.0 * cutoff * t;
                let sinc = if arg.abs() < 1e-12 {
                    1.0
                } else {
                    (std::f64::consts::PI * arg).sin() / (std::f64::consts::PI * arg)
                };
                let w = window * sinc;
                norm += w;
                if let Some(v) = usize::try_from(i).ok().and_then(|i| x.get(i)) {
                    acc += w * f64::from(*v);
                }
            }
            if norm > 0.0 { (acc / norm) as f32 } else { 0.0 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_a_tone_and_its_level() {
        let from = 44_100;
        let x: Vec<f32> = (0..44_100)
            .map(|n| {
                0.5 * (std::f64::consts::TAU * 1209.0 * n as f64 / f64::from(from)).sin() as f32
            })
            .collect();
        let y = resample(&x, from, 16_000);
        assert_eq!(y.len(), 16_000);
        let mid = &y[1000..15_000];
        let rms = (mid.iter().map(|v| v * v).sum::<f32>() / mid.len() as f32).sqrt();
        assert!((rms - 0.5 / 2f32.sqrt()).abs() < 0.01, "rms {rms}");
    }
}
