//! The ITU-T Q.24 sweep: generated cases per parameter group, and how a detector's output is
//! judged against each.

use super::{Detection, Expected, Signal, Tone};
use crate::{Digit, SampleRate};

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
