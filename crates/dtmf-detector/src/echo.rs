//! The echo reference: what the media server itself played, which a line echoes back into the
//! caller's audio 10–50 ms later (plus the network's round trip and the jitter buffer) and
//! 6–30 dB down. A prompt holding music, or tones, must not make a digit of its own echo.
//!
//! The rule is linear and needs no echo canceller: an echo holds at a frequency no more energy
//! than the played signal held there when it left. A run about to be confirmed is discounted as
//! echo when, at one lag within [`MAX_LAG_MS`], the played audio, 3 dB down, held at least as much
//! energy as the received audio at *both* of the candidate's tones (over the same 30 ms Hann window the
//! harmonic veto uses). A digit the caller presses over an echoed prompt is still found unless
//! the prompt carried both of its tones at once, within 3 dB of the keypad's level: a caller
//! pressing the very key whose tones the prompt is playing is taken for its echo.

use crate::classify::Candidate;
use crate::harmonic::{Harmonics, MAX_WINDOW, Veto, Window};
use crate::simd::Kernel;
use crate::spectrum::Coefficients;

/// The least echo loss assumed, as a power ratio: 3 dB. G.168 designs for 6 dB or more, but a
/// hybrid's reflections can add up to within 3 dB of what was played at one frequency.
const MIN_LOSS: f32 = 0.5;

/// Longest delay between playing a sample and hearing its echo that the reference covers, ms.
pub(crate) const MAX_LAG_MS: usize = 250;

/// The played audio of the last [`MAX_LAG_MS`] plus one veto window, on the received audio's
/// time line: sample `t` of the reference left when sample `t` of the input arrived.
#[derive(Clone, Debug)]
pub(crate) struct EchoReference {
    ring: Vec<i16>,
    /// Reference samples fed so far.
    fed: u64,
    /// Lag step, samples (half a block).
    step: usize,
    lags: usize,
}

impl EchoReference {
    pub(crate) fn new(coeffs: &Coefficients, window: &Window) -> Self {
        let lag_samples = MAX_LAG_MS * coeffs.rate.hz() as usize / 1000;
        let step = coeffs.block_len / 2;
        Self {
            ring: vec![0; lag_samples + window.len() + coeffs.block_len],
            fed: 0,
            step,
            lags: lag_samples / step + 1,
        }
    }

    /// Appends played samples. When the reference runs ahead of the input, or behind it, the
    /// lag search absorbs up to [`MAX_LAG_MS`] of the difference.
    pub(crate) fn feed(&mut self, mut played: &[i16]) {
        let len = self.ring.len();
        if played.len() > len {
            self.fed += (played.len() - len) as u64;
            played = &played[played.len() - len..];
        }
        while !played.is_empty() {
            let at = (self.fed % len as u64) as usize;
            let take = played.len().min(len - at);
            self.ring[at..at + take].copy_from_slice(&played[..take]);
            self.fed += take as u64;
            played = &played[take..];
        }
    }

    /// Puts the next `len` played samples on the input's time line, whose next sample is `now`:
    /// fed just before the received samples of the same interval they start at `now`, just
    /// after at `now - len`; an interval with nothing played is silence. A reference ahead of
    /// the input (received audio stopped while prompts went on) is pulled back to `now`:
    /// nothing past `fed` is ever read, so what it overwrites was never used.
    pub(crate) fn align(&mut self, now: u64, len: u64) {
        self.fed = self.fed.min(now);
        self.catch_up(now.saturating_sub(len));
    }

    /// Moves the reference to `now` when it lags the input (nothing played is silence).
    fn catch_up(&mut self, now: u64) {
        if self.fed + self.ring.len() as u64 <= now {
            self.ring.fill(0);
            self.fed = now;
        }
        while self.fed < now {
            let len = self.ring.len();
            let at = (self.fed % len as u64) as usize;
            let take = ((now - self.fed) as usize).min(len - at);
            self.ring[at..at + take].fill(0);
            self.fed += take as u64;
        }
    }

    /// Whether the candidate, whose veto window of input `input` ended at stream time `end`,
    /// is explained by what was played.
    pub(crate) fn explains(
        &self,
        coeffs: &Coefficients,
        window: &Window,
        candidate: &Candidate,
        input: &[i16],
        end: u64,
    ) -> bool {
        let (low_hz, high_hz) = candidate.frequencies();
        let fs = coeffs.rate.hz() as f32;
        let weights = window.weights();
        let received = |hz| goertzel(input.iter().copied(), weights, hz, fs);
        let (in_low, in_high) = (received(low_hz), received(high_hz));
        let m = weights.len() as u64;
        let len = self.ring.len() as u64;
        let oldest = self.fed.saturating_sub(len);
        (0..self.lags).any(|k| {
            let lag = (k * self.step) as u64;
            let Some(start) = end.checked_sub(lag + m) else {
                return false;
            };
            if start < oldest || start + m > self.fed {
                return false;
            }
            let played = (start..start + m).map(|t| self.ring[(t % len) as usize]);
            goertzel(played.clone(), weights, low_hz, fs) * MIN_LOSS >= in_low
                && goertzel(played, weights, high_hz, fs) * MIN_LOSS >= in_high
        })
    }
}

/// Power of the windowed samples at `hz`.
fn goertzel(samples: impl Iterator<Item = i16>, weights: &[f32], hz: f32, fs: f32) -> f32 {
    let w = std::f32::consts::TAU * hz / fs;
    let k = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for (x, g) in samples.zip(weights) {
        let s0 = f32::from(x) * g + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - k * s1 * s2
}

/// The echo rule (when a reference is fed), then the harmonic veto.
pub(crate) struct EchoOrHarmonics<'a, F> {
    /// The reference, and the stream time at the end of the veto window.
    echo: Option<(&'a EchoReference, u64)>,
    harmonics: Harmonics<'a, F>,
}

impl<'a, F: Fn(&mut [i16])> EchoOrHarmonics<'a, F> {
    /// The veto for a window ending at `end` whose samples `fill` writes, oldest first.
    pub(crate) fn new(
        kernel: Kernel,
        coeffs: &'a Coefficients,
        window: &'a Window,
        echo: Option<&'a EchoReference>,
        end: u64,
        fill: F,
    ) -> Self {
        Self {
            echo: echo.map(|e| (e, end)),
            harmonics: Harmonics {
                kernel,
                coeffs,
                window,
                fill,
            },
        }
    }
}

impl<F: Fn(&mut [i16])> Veto for EchoOrHarmonics<'_, F> {
    #[inline(always)]
    fn vetoes(self, candidate: &Candidate) -> bool {
        if let Some((echo, end)) = self.echo {
            let h = &self.harmonics;
            let mut input = [0i16; MAX_WINDOW];
            let input = &mut input[..h.window.len()];
            (h.fill)(input);
            if echo.explains(h.coeffs, h.window, candidate, input, end) {
                return true;
            }
        }
        self.harmonics.vetoes(candidate)
    }
}
