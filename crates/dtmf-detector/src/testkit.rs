//! Signal generators and the ITU-T Q.24 sweep, for tests, benches and comparisons.
//!
//! Everything is deterministic: noise comes from a seeded generator. Levels are in dBm0 with
//! 0 dBm0 a sine 3.14 dB below full scale.

use crate::spectrum::NOMINAL_HZ;
use crate::{DBM0_REFERENCE_AMPLITUDE, DetectorConfig, Digit, DtmfDetector, SampleRate};

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

/// What a Q.24 case demands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Demand {
    /// Exactly the expected digits, in order, each onset within ±10 ms where reported.
    Detect,
    /// No digit at all.
    Reject,
}

/// One case of the Q.24 sweep.
#[derive(Clone, Debug)]
pub struct Case {
    /// Which parameter and value, e.g. `"duration 40 ms +2.5 ms"`.
    pub name: String,
    /// Q.24 parameter group (frequency, level, twist, duration, pause, interruption, noise).
    pub group: &'static str,
    /// Detect or reject.
    pub demand: Demand,
    /// The audio.
    pub pcm: Vec<i16>,
    /// The digits it holds (for `Reject`, the tones that must not be reported).
    pub expected: Vec<Expected>,
    /// Sample rate.
    pub rate: SampleRate,
}

/// How a detector fared on a case.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The demand held.
    Pass,
    /// The wrong digits (reported, expected).
    WrongDigits(String, String),
    /// Right digits, but an onset off by more than 10 ms (worst error, ms).
    OnsetOff(f64),
}

impl Case {
    /// Judges a detector's output against the demand.
    pub fn judge(&self, detections: &[Detection]) -> Outcome {
        let got: String = detections.iter().map(|d| d.digit.to_char()).collect();
        let want: String = match self.demand {
            Demand::Detect => self.expected.iter().map(|e| e.digit.to_char()).collect(),
            Demand::Reject => String::new(),
        };
        if got != want {
            return Outcome::WrongDigits(got, want);
        }
        let ms = |s: u64| s as f64 * 1000.0 / f64::from(self.rate.hz());
        let worst = detections
            .iter()
            .zip(&self.expected)
            .filter_map(|(d, e)| d.onset_ms.map(|o| (o - ms(e.start)).abs()))
            .fold(0.0, f64::max);
        if worst > 10.0 {
            return Outcome::OnsetOff(worst);
        }
        Outcome::Pass
    }
}

/// Grid offsets (ms) at which timing cases are repeated, so tones straddle block edges
/// differently.
const ALIGNMENTS_MS: [f64; 5] = [0.0, 2.5, 5.0, 6.25, 8.75];

fn case(
    rate: SampleRate,
    group: &'static str,
    name: String,
    demand: Demand,
    build: impl FnOnce(&mut Signal),
) -> Case {
    let mut signal = Signal::new(rate);
    signal.silence(50.0);
    build(&mut signal);
    signal.silence(120.0);
    Case {
        name,
        group,
        demand,
        pcm: signal.to_pcm(),
        expected: signal.expected().to_vec(),
        rate,
    }
}

/// The ITU-T Q.24 sweep (AT&T column), every case generated here:
/// frequency ±1.5 % detect / ±3.5 % and beyond reject; level 0 to −25 dBm0 detect, −55 reject;
/// twist +4 to −8 dB detect; duration ≥ 40 ms detect, ≤ 23 ms reject; pause ≥ 40 ms separates;
/// an interruption ≤ 10 ms does not split; white noise at 15 dB SNR detect.
pub fn q24_cases(rate: SampleRate) -> Vec<Case> {
    use Demand::{Detect, Reject};
    let mut cases = Vec::new();
    for digit in Digit::ALL {
        for (dl, dh) in [
            (0.015, 0.015),
            (-0.015, -0.015),
            (0.015, -0.015),
            (-0.015, 0.015),
        ] {
            cases.push(case(
                rate,
                "frequency",
                format!("{digit} low {dl:+} high {dh:+}"),
                Detect,
                |s| {
                    s.tone(&Tone {
                        low_deviation: dl,
                        high_deviation: dh,
                        ..Tone::new(digit)
                    });
                },
            ));
        }
        for dev in [0.035, -0.035, 0.045, -0.045, 0.06, -0.06] {
            cases.push(case(
                rate,
                "frequency",
                format!("{digit} low {dev:+}"),
                Reject,
                |s| {
                    s.tone(&Tone {
                        low_deviation: dev,
                        ..Tone::new(digit)
                    });
                },
            ));
            cases.push(case(
                rate,
                "frequency",
                format!("{digit} high {dev:+}"),
                Reject,
                |s| {
                    s.tone(&Tone {
                        high_deviation: dev,
                        ..Tone::new(digit)
                    });
                },
            ));
        }
    }
    for digit in Digit::ALL {
        for level in [0.0, -5.0, -10.0, -15.0, -20.0, -25.0] {
            cases.push(case(
                rate,
                "level",
                format!("{digit} {level} dBm0"),
                Detect,
                |s| {
                    s.tone(&Tone {
                        level_dbm0: level,
                        ..Tone::new(digit)
                    });
                },
            ));
        }
        for level in [-55.0, -60.0] {
            cases.push(case(
                rate,
                "level",
                format!("{digit} {level} dBm0"),
                Reject,
                |s| {
                    s.tone(&Tone {
                        level_dbm0: level,
                        ..Tone::new(digit)
                    });
                },
            ));
        }
        // Twist corners with both tones between 0 and −25 dBm0.
        for (level, twist) in [
            (-4.0, 4.0),
            (-25.0, 4.0),
            (0.0, -8.0),
            (-17.0, -8.0),
            (-10.0, -4.0),
            (-10.0, 2.0),
            (-21.0, 4.0),
            (-3.0, -7.7),
        ] {
            cases.push(case(
                rate,
                "twist",
                format!("{digit} low {level} twist {twist:+}"),
                Detect,
                |s| {
                    s.tone(&Tone {
                        level_dbm0: level,
                        twist_db: twist,
                        ..Tone::new(digit)
                    });
                },
            ));
        }
    }
    for align in ALIGNMENTS_MS {
        let digit = Digit::D8;
        for ms in [40.0, 45.0, 50.0] {
            cases.push(case(
                rate,
                "duration",
                format!("{ms} ms +{align} ms"),
                Detect,
                |s| {
                    s.silence(align).tone(&Tone {
                        duration_ms: ms,
                        ..Tone::new(digit)
                    });
                },
            ));
        }
        for ms in [23.0, 20.0, 15.0, 10.0] {
            cases.push(case(
                rate,
                "duration",
                format!("{ms} ms +{align} ms"),
                Reject,
                |s| {
                    s.silence(align).tone(&Tone {
                        duration_ms: ms,
                        ..Tone::new(digit)
                    });
                },
            ));
        }
        for (a, b) in [
            (Digit::D3, Digit::D3),
            (Digit::D3, Digit::D6),
            (Digit::Star, Digit::Pound),
        ] {
            cases.push(case(
                rate,
                "pause",
                format!("{a}{b} 40 ms pause +{align} ms"),
                Detect,
                |s| {
                    s.silence(align)
                        .tone(&Tone {
                            duration_ms: 50.0,
                            ..Tone::new(a)
                        })
                        .silence(40.0)
                        .tone(&Tone {
                            duration_ms: 50.0,
                            ..Tone::new(b)
                        });
                },
            ));
        }
        for gap in [5.0, 10.0] {
            cases.push(case(
                rate,
                "interruption",
                format!("{gap} ms break +{align} ms"),
                Detect,
                |s| {
                    s.silence(align).tone_with_break(
                        &Tone {
                            duration_ms: 90.0,
                            ..Tone::new(Digit::D0)
                        },
                        45.0,
                        gap,
                    );
                },
            ));
        }
    }
    for digit in Digit::ALL {
        for seed in 1..=3 {
            // Two tones at −10 dBm0 each: signal power −7 dBm0; noise 15 dB below.
            cases.push(case(
                rate,
                "noise",
                format!("{digit} 15 dB SNR seed {seed}"),
                Detect,
                |s| {
                    s.tone(&Tone::new(digit));
                    s.white_noise(-7.0 - 15.0, seed * 1000 + digit.to_char() as u64);
                },
            ));
        }
    }
    cases
}

/// A sung vowel: a harmonic source at `f0` (−6 dB/octave, glottal source plus lip radiation) with
/// ±`vibrato` relative vibrato at 5.5 Hz, through a cascade of two-pole formant resonators
/// `(centre Hz, bandwidth Hz)` (Klatt's cascade synthesiser), normalised to `level_dbm0` RMS.
pub fn sung_vowel(
    rate: SampleRate,
    f0: f64,
    formants: &[(f64, f64)],
    vibrato: f64,
    duration_ms: f64,
    level_dbm0: f64,
) -> Vec<f64> {
    let fs = f64::from(rate.hz());
    let n = (duration_ms * fs / 1000.0) as usize;
    let harmonics = ((fs / 2.0 - 200.0) / f0).floor() as usize;
    // |H(f)| of a two-pole resonance with unity gain at DC and Q = centre / bandwidth.
    let gain = |f: f64| -> f64 {
        formants
            .iter()
            .map(|&(c, bw)| {
                1.0 / ((1.0 - (f / c).powi(2)).powi(2) + (f * bw / (c * c)).powi(2)).sqrt()
            })
            .product()
    };
    let weights: Vec<f64> = (1..=harmonics)
        .map(|k| gain(k as f64 * f0) / k as f64)
        .collect();
    let mut out = vec![0.0; n];
    let mut phase = 0.0;
    let tau = std::f64::consts::TAU;
    for (i, o) in out.iter_mut().enumerate() {
        let t = i as f64 / fs;
        let f = f0 * (1.0 + vibrato * (tau * 5.5 * t).sin());
        phase += tau * f / fs;
        *o = weights
            .iter()
            .enumerate()
            .map(|(k, w)| w * ((k + 1) as f64 * phase).sin())
            .sum();
    }
    normalise(&mut out, level_dbm0);
    out
}

fn normalise(x: &mut [f64], level_dbm0: f64) {
    let rms = (x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64).sqrt();
    if rms > 0.0 {
        let target = dbm0_amplitude(level_dbm0) / std::f64::consts::SQRT_2;
        x.iter_mut().for_each(|v| *v *= target / rms);
    }
}

/// `seconds` of sung vowels whose fundamentals are chosen so that two harmonics land within
/// 1.5 % of a DTMF pair, with formants on those two harmonics: the classic talk-off trap.
pub fn dtmf_vowels(rate: SampleRate, seconds: f64, seed: u64) -> Vec<f64> {
    let mut traps = Vec::new();
    for digit in Digit::ALL {
        let (low, high) = digit_frequencies(digit);
        for h1 in 1..=8u32 {
            let f0 = low / f64::from(h1);
            if f0 < 80.0 {
                continue;
            }
            let h2 = (high / f0).round();
            if h2 > f64::from(h1) && ((h2 * f0 - high) / high).abs() < 0.015 {
                traps.push((f0, low, h2 * f0));
            }
        }
    }
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let fs = f64::from(rate.hz());
    while (out.len() as f64) < seconds * fs {
        let (f0, a, b) = traps[(rng.next_u64() % traps.len() as u64) as usize];
        let bw = rng.range(50.0, 120.0);
        let vibrato = rng.range(0.0, 0.012);
        let level = rng.range(-25.0, -5.0);
        let ms = rng.range(300.0, 1200.0);
        out.extend(sung_vowel(
            rate,
            f0,
            &[(a, bw), (b, bw), (2600.0, 200.0)],
            vibrato,
            ms,
            level,
        ));
        out.extend(std::iter::repeat_n(
            0.0,
            (rng.range(20.0, 200.0) * fs / 1000.0) as usize,
        ));
    }
    out
}

/// `seconds` of synthetic music: notes and chords of the equal-tempered scale with decaying
/// harmonics, at random tempo.
pub fn music(rate: SampleRate, seconds: f64, seed: u64) -> Vec<f64> {
    let fs = f64::from(rate.hz());
    let mut rng = Rng::new(seed);
    let total = (seconds * fs) as usize;
    let mut out = vec![0.0; total];
    let mut at = 0usize;
    let tau = std::f64::consts::TAU;
    while at < total {
        let len = (rng.range(0.08, 0.6) * fs) as usize;
        let voices = 1 + (rng.next_u64() % 3) as usize;
        let brightness = rng.range(0.3, 0.9);
        for _ in 0..voices {
            let semitone = (rng.next_u64() % 40) as f64 - 12.0;
            let f = 440.0 * 2f64.powf(semitone / 12.0);
            let amp = rng.range(0.3, 1.0);
            for k in 1..=8 {
                let fk = f * f64::from(k);
                if fk > fs / 2.0 - 200.0 {
                    break;
                }
                let ak = amp * brightness.powi(k - 1);
                for i in 0..len.min(total - at) {
                    let t = i as f64 / fs;
                    out[at + i] += ak * (-3.0 * t).exp() * (tau * fk * t).sin();
                }
            }
        }
        at += len;
    }
    normalise(&mut out, -12.0);
    out
}
