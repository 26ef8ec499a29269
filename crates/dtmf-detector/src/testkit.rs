//! Signal generators and the ITU-T Q.24 sweep, for tests, benches and comparisons.
//!
//! Everything is deterministic: noise comes from a seeded generator. Levels are in dBm0 with
//! 0 dBm0 a sine 3.14 dB below full scale.

use crate::spectrum::NOMINAL_HZ;
use crate::{DBM0_REFERENCE_AMPLITUDE, DetectorConfig, Digit, DtmfDetector, SampleRate};

mod q24;
mod talkoff;

pub use q24::{Case, Demand, Outcome, q24_cases};
pub use talkoff::{dtmf_vowels, music, sung_vowel};

/// SplitMix64: small, fast, seeded.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// Standard normal (Box–Muller).
    pub fn gaussian(&mut self) -> f64 {
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Peak amplitude of a sine at `dbm0`.
pub fn dbm0_amplitude(dbm0: f64) -> f64 {
    f64::from(DBM0_REFERENCE_AMPLITUDE) * 10f64.powf(dbm0 / 20.0)
}

/// Nominal (low, high) frequencies of a key, Hz.
pub fn digit_frequencies(digit: Digit) -> (f64, f64) {
    let (row, column) = digit.tones();
    (
        f64::from(NOMINAL_HZ[row]),
        f64::from(NOMINAL_HZ[4 + column]),
    )
}

/// One dual tone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tone {
    /// The key.
    pub digit: Digit,
    /// Level of the low-group tone, dBm0.
    pub level_dbm0: f64,
    /// High-group level minus low-group level, dB (Q.24 "twist": +4 to −8 must pass).
    pub twist_db: f64,
    /// Relative frequency error of the low tone (0.015 = +1.5 %).
    pub low_deviation: f64,
    /// Relative frequency error of the high tone.
    pub high_deviation: f64,
    /// Duration, ms.
    pub duration_ms: f64,
}

impl Tone {
    /// A clean 60 ms tone at −10 dBm0 per tone.
    pub fn new(digit: Digit) -> Self {
        Self {
            digit,
            level_dbm0: -10.0,
            twist_db: 0.0,
            low_deviation: 0.0,
            high_deviation: 0.0,
            duration_ms: 60.0,
        }
    }
}

/// A digit the signal holds, in samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    /// The key.
    pub digit: Digit,
    /// First sample of the tone.
    pub start: u64,
    /// One past the last sample of the tone.
    pub end: u64,
}

/// A signal under construction, with the digits it holds.
#[derive(Clone, Debug)]
pub struct Signal {
    rate: SampleRate,
    samples: Vec<f64>,
    expected: Vec<Expected>,
    phase: f64,
}

impl Signal {
    /// An empty signal at `rate`.
    pub fn new(rate: SampleRate) -> Self {
        Self {
            rate,
            samples: Vec::new(),
            expected: Vec::new(),
            phase: 0.37,
        }
    }

    fn ms_to_samples(&self, ms: f64) -> usize {
        (ms * f64::from(self.rate.hz()) / 1000.0).round() as usize
    }

    /// Appends silence.
    pub fn silence(&mut self, ms: f64) -> &mut Self {
        let n = self.ms_to_samples(ms);
        self.samples.resize(self.samples.len() + n, 0.0);
        self
    }

    /// Appends a tone and records it as expected.
    pub fn tone(&mut self, tone: &Tone) -> &mut Self {
        self.tone_with_break(tone, tone.duration_ms, 0.0)
    }

    /// Appends a tone interrupted for `break_ms` after `break_at_ms` (the tone keeps its phase,
    /// as a tone generator gated off and on would). Expected as one digit.
    pub fn tone_with_break(&mut self, tone: &Tone, break_at_ms: f64, break_ms: f64) -> &mut Self {
        let fs = f64::from(self.rate.hz());
        let (low, high) = digit_frequencies(tone.digit);
        let (fl, fh) = (
            low * (1.0 + tone.low_deviation),
            high * (1.0 + tone.high_deviation),
        );
        let al = dbm0_amplitude(tone.level_dbm0);
        let ah = dbm0_amplitude(tone.level_dbm0 + tone.twist_db);
        let total = self.ms_to_samples(tone.duration_ms + break_ms);
        let gap_from = self.ms_to_samples(break_at_ms);
        let gap_to = gap_from + self.ms_to_samples(break_ms);
        let start = self.samples.len();
        let tau = std::f64::consts::TAU;
        for n in 0..total {
            let t = n as f64 / fs;
            let v = if (gap_from..gap_to).contains(&n) {
                0.0
            } else {
                al * (tau * fl * t + self.phase).sin()
                    + ah * (tau * fh * t + 2.0 * self.phase).sin()
            };
            self.samples.push(v);
        }
        self.phase = (self.phase + 1.234) % tau;
        self.expected.push(Expected {
            digit: tone.digit,
            start: start as u64,
            end: (start + total) as u64,
        });
        self
    }

    /// Adds white Gaussian noise of power `dbm0` over the whole signal so far.
    pub fn white_noise(&mut self, dbm0: f64, seed: u64) -> &mut Self {
        let sigma = dbm0_amplitude(dbm0) / std::f64::consts::SQRT_2;
        let mut rng = Rng::new(seed);
        for s in &mut self.samples {
            *s += sigma * rng.gaussian();
        }
        self
    }

    /// Appends arbitrary samples (not expected to hold digits).
    pub fn extend(&mut self, samples: &[f64]) -> &mut Self {
        self.samples.extend_from_slice(samples);
        self
    }

    /// Samples so far.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether no sample has been added yet.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The digits placed in the signal.
    pub fn expected(&self) -> &[Expected] {
        &self.expected
    }

    /// The samples, rounded and clipped to 16 bits.
    pub fn to_pcm(&self) -> Vec<i16> {
        to_pcm(&self.samples)
    }

    /// The signal's rate.
    pub fn rate(&self) -> SampleRate {
        self.rate
    }
}

/// Rounds and clips to 16 bits.
pub fn to_pcm(samples: &[f64]) -> Vec<i16> {
    samples
        .iter()
        .map(|s| s.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// A digit a detector reported.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detection {
    /// The key.
    pub digit: Digit,
    /// Estimated onset, ms (if the detector gives one).
    pub onset_ms: Option<f64>,
    /// Estimated end, ms (if the detector gives one).
    pub end_ms: Option<f64>,
}

/// Runs [`DtmfDetector::decode`] with default thresholds and reports times in ms.
pub fn detect(rate: SampleRate, pcm: &[i16]) -> Vec<Detection> {
    spans_to_detections(
        rate,
        DtmfDetector::decode(&DetectorConfig::at_rate(rate), pcm),
    )
}

/// As [`detect`], with `reference` (what was played, on the same time line) fed to
/// [`DtmfDetector::handle_reference`] frame by frame before the received audio.
pub fn detect_with_reference(rate: SampleRate, pcm: &[i16], reference: &[i16]) -> Vec<Detection> {
    spans_to_detections(
        rate,
        DtmfDetector::decode_with_reference(&DetectorConfig::at_rate(rate), pcm, reference),
    )
}

fn spans_to_detections(rate: SampleRate, spans: Vec<crate::DigitSpan>) -> Vec<Detection> {
    spans
        .into_iter()
        .map(|span| Detection {
            digit: span.digit,
            onset_ms: Some(span.onset.as_millis(rate)),
            end_ms: Some(span.end.as_millis(rate)),
        })
        .collect()
}
