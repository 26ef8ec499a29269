//! Prompt playback: prompts converted once into ready G.711 frames, playlists of prompts,
//! silence and tones, paced by the caller one 20 ms frame at a time.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::Law;
use crate::rtp::FRAME;

/// One 20 ms G.711 frame.
pub type Frame = [u8; FRAME];

/// A prompt ready to send: its frames in both laws, made once when the prompt is loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptFrames {
    ulaw: Vec<Frame>,
    alaw: Vec<Frame>,
}

impl PromptFrames {
    /// Encodes 8 kHz PCM; the last frame is padded with silence.
    pub fn from_pcm(pcm: &[i16]) -> Self {
        let encode = |law: Law| {
            pcm.chunks(FRAME)
                .map(|chunk| {
                    let mut frame = [law.silence(); FRAME];
                    law.encode_into(chunk, &mut frame);
                    frame
                })
                .collect()
        };
        Self {
            ulaw: encode(Law::Ulaw),
            alaw: encode(Law::Alaw),
        }
    }

    /// Number of 20 ms frames.
    pub fn frames(&self) -> usize {
        self.ulaw.len()
    }

    fn frame(&self, law: Law, i: usize) -> Option<&Frame> {
        match law {
            Law::Ulaw => self.ulaw.get(i),
            Law::Alaw => self.alaw.get(i),
        }
    }
}

/// A tone: one or two frequencies with an on/off cadence (e.g. ringback 440+480 Hz, 2 s on,
/// 4 s off; a beep 1000 Hz).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tone {
    /// Frequencies in Hz; 0 for none.
    pub hz: [f32; 2],
    /// Level per frequency, dBm0.
    pub level_dbm0: f32,
    /// Cadence: milliseconds on, then off (0 off: continuous).
    pub on_ms: u32,
    /// Milliseconds off.
    pub off_ms: u32,
}

impl Tone {
    /// North American ringback.
    pub const RINGBACK_US: Self = Self {
        hz: [440.0, 480.0],
        level_dbm0: -19.0,
        on_ms: 2000,
        off_ms: 4000,
    };
    /// A short beep.
    pub const BEEP: Self = Self {
        hz: [1000.0, 0.0],
        level_dbm0: -10.0,
        on_ms: 0,
        off_ms: 0,
    };
}

/// One playlist entry.
#[derive(Clone, Debug, PartialEq)]
pub enum PlayItem {
    /// A loaded prompt.
    Prompt(Arc<PromptFrames>),
    /// Silence for this many milliseconds (rounded up to 20 ms frames).
    Silence(u32),
    /// A tone for this many milliseconds.
    Tone(Tone, u32),
}

/// What the player produced for a tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Played {
    /// A frame of audio (prompt or tone).
    Audio,
    /// A frame of silence (in a playlist, or idle).
    Silence,
}

/// Plays a playlist; the caller asks for one frame per 20 ms.
#[derive(Clone, Debug, Default)]
pub struct Player {
    queue: VecDeque<PlayItem>,
    /// Frame index within the head item.
    position: usize,
    /// Samples generated of the current tone item.
    tone_sample: u64,
    barge_in: bool,
    /// A playlist ran out since the last poll.
    finished: bool,
}

impl Player {
    /// An idle player.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces whatever is playing with `items`.
    pub fn play(&mut self, items: Vec<PlayItem>, barge_in: bool) {
        self.queue = items.into();
        self.position = 0;
        self.tone_sample = 0;
        self.barge_in = barge_in;
        self.finished = false;
    }

    /// Stops at once; returns whether something was playing.
    pub fn stop(&mut self) -> bool {
        let playing = !self.queue.is_empty();
        self.queue.clear();
        self.position = 0;
        playing
    }

    /// Whether a key press should stop the current playlist.
    pub fn barge_in(&self) -> bool {
        self.barge_in && !self.queue.is_empty()
    }

    /// Whether something is queued.
    pub fn is_playing(&self) -> bool {
        !self.queue.is_empty()
    }

    /// True once after a playlist has run to its end.
    pub fn take_finished(&mut self) -> bool {
        std::mem::take(&mut self.finished)
    }

    /// Writes the next frame into `out`.
    pub fn next_frame(&mut self, law: Law, out: &mut Frame) -> Played {
        loop {
            let Some(item) = self.queue.front() else {
                out.fill(law.silence());
                return Played::Silence;
            };
            let frames = match item {
                PlayItem::Prompt(p) => p.frames(),
                PlayItem::Silence(ms) | PlayItem::Tone(_, ms) => ms.div_ceil(20) as usize,
            };
            if self.position >= frames {
                self.queue.pop_front();
                self.position = 0;
                self.tone_sample = 0;
                if self.queue.is_empty() {
                    self.finished = true;
                }
                continue;
            }
            let played = match item {
                PlayItem::Prompt(p) => {
                    match p.frame(law, self.position) {
                        Some(frame) => out.copy_from_slice(frame),
                        None => out.fill(law.silence()),
                    }
                    Played::Audio
                }
                PlayItem::Silence(_) => {
                    out.fill(law.silence());
                    Played::Silence
                }
                PlayItem::Tone(tone, _) => {
                    let tone = *tone;
                    self.tone_frame(&tone, law, out)
                }
            };
            self.position += 1;
            return played;
        }
    }

    fn tone_frame(&mut self, tone: &Tone, law: Law, out: &mut Frame) -> Played {
        let amplitude =
            dtmf_detector::DBM0_REFERENCE_AMPLITUDE * 10f32.powf(tone.level_dbm0 / 20.0);
        let period = u64::from(tone.on_ms + tone.off_ms) * 8;
        let on = u64::from(tone.on_ms) * 8;
        let mut audible = false;
        for o in out.iter_mut() {
            let n = self.tone_sample;
            self.tone_sample += 1;
            let sounding = period == 0 || tone.off_ms == 0 || n % period < on;
            let mut v = 0.0f32;
            if sounding {
                audible = true;
                let t = n as f32 / 8000.0;
                for hz in tone.hz.into_iter().filter(|h| *h > 0.0) {
                    v += amplitude * (std::f32::consts::TAU * hz * t).sin();
                }
            }
            *o = law.encode(v.clamp(-32768.0, 32767.0) as i16);
        }
        if audible {
            Played::Audio
        } else {
            Played::Silence
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlist_runs_in_order_then_reports_finished() {
        let prompt = Arc::new(PromptFrames::from_pcm(&[1000i16; 400]));
        assert_eq!(prompt.frames(), 3);
        let mut p = Player::new();
        p.play(
            vec![
                PlayItem::Prompt(prompt),
                PlayItem::Silence(40),
                PlayItem::Tone(Tone::BEEP, 20),
            ],
            true,
        );
        let mut frame = [0u8; FRAME];
        let kinds: Vec<Played> = (0..7)
            .map(|_| p.next_frame(Law::Ulaw, &mut frame))
            .collect();
        use Played::{Audio, Silence};
        assert_eq!(
            kinds,
            [Audio, Audio, Audio, Silence, Silence, Audio, Silence]
        );
        assert!(p.take_finished());
        assert!(!p.take_finished());
        assert!(!p.barge_in());
    }
}
