//! Detector configuration: the thresholds, with the reasons for their defaults.

use crate::SampleRate;

/// Full-scale amplitude of a 0 dBm0 sine: 3.14 dB below 16-bit full scale (ITU-T G.711).
pub const DBM0_REFERENCE_AMPLITUDE: f32 = 32_767.0 * 0.696_6;

/// How the detector decides. `Default` meets ITU-T Q.24 (AT&T column) with margin; see the crate
/// README for the reasoning behind each value.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DetectorConfig {
    /// Input sample rate.
    pub rate: SampleRate,
    /// Weakest tone accepted, per tone, in dBm0. Q.24 requires −25 dBm0 per tone and up to 8 dB
    /// of twist below that, so −38 dBm0 leaves 5 dB; Q.24 requires rejection at −55 dBm0.
    pub min_tone_dbm0: f32,
    /// Largest accepted "normal" twist (low tone louder than high), dB. Q.24: 8 dB must pass.
    /// In a 10 ms block a high tone 1.5 % off frequency reads up to 0.9 dB low, and the low
    /// tone's side lobe (−18.5 dB for `*`, whose tones are closest) can take another 3 dB off a
    /// high tone 8 dB down, depending on phase.
    pub max_normal_twist_db: f32,
    /// Largest accepted "reverse" twist (high tone louder than low), dB. Q.24: 4 dB must pass;
    /// the same side-lobe leakage, the other way, takes up to 1.8 dB off the low tone.
    pub max_reverse_twist_db: f32,
    /// Smallest share of the block's AC energy the two tones must hold. A clean tone 1.5 % off
    /// frequency in 15 dB SNR white noise holds ≥ 0.85, and a digit 10 dB over real music or
    /// speech about 0.9; speech and music spread their energy over many harmonics and formants,
    /// and a block only 30 % covered by a tone holds ≈ 0.3. At 0.7, real music passed about 20
    /// candidate runs per hour to the harmonic veto; at 0.8, 5 (spandsp's `dtmf_rx` asks 0.82).
    pub min_tone_share: f32,
    /// Largest accepted frequency deviation of each tone, as a fraction of nominal, measured from
    /// the phase advance between blocks. Q.24 must-detect ≤ 1.5 %, must-reject ≥ 3.5 %. 2 % is
    /// 3.5 Hz clear of the first at 697 Hz, where the measurement error is < 1 Hz (a few Hz with
    /// music 10 dB under the digit), and keeps out tone pairs 2–2.5 % off: of the false digits
    /// 2.5 h of real music and speech gave at 2.5 %, four of nine had a tone 2.0–2.4 % off.
    pub max_frequency_deviation: f32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            rate: SampleRate::Narrowband,
            min_tone_dbm0: -38.0,
            max_normal_twist_db: 11.5,
            max_reverse_twist_db: 7.0,
            min_tone_share: 0.8,
            max_frequency_deviation: 0.02,
        }
    }
}

impl DetectorConfig {
    /// The default thresholds at `rate`.
    pub fn at_rate(rate: SampleRate) -> Self {
        Self {
            rate,
            ..Self::default()
        }
    }
}

/// Linear forms of the thresholds, precomputed once.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// Minimum per-tone energy over one block (`Σ` of the tone's samples squared).
    pub(crate) min_tone_energy: f32,
    /// Minimum AC energy of a block that may hold two tones.
    pub(crate) min_block_energy: f32,
    pub(crate) max_normal_twist: f32,
    pub(crate) max_reverse_twist: f32,
    pub(crate) min_tone_share: f32,
    pub(crate) max_frequency_deviation: f32,
    /// Looser per-block bound for the coarse in-block estimate, which is noisier.
    pub(crate) max_coarse_deviation: f32,
}

impl Limits {
    pub(crate) fn new(config: &DetectorConfig) -> Self {
        let amplitude = DBM0_REFERENCE_AMPLITUDE * 10f32.powf(config.min_tone_dbm0 / 20.0);
        let block = config.rate.block_len() as f32;
        Self {
            min_tone_energy: amplitude * amplitude / 2.0 * block,
            min_block_energy: amplitude * amplitude * block,
            max_normal_twist: 10f32.powf(config.max_normal_twist_db / 10.0),
            max_reverse_twist: 10f32.powf(config.max_reverse_twist_db / 10.0),
            min_tone_share: config.min_tone_share,
            max_frequency_deviation: config.max_frequency_deviation,
            max_coarse_deviation: config.max_frequency_deviation * 2.0,
        }
    }
}
