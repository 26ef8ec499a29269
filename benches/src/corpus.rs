//! The talk-down and talk-off corpus from real sound: the sources `audio/corpus/make.sh` builds
//! (recorded music, speech in several languages and voices), levelled to telephone levels,
//! with digits placed over them at a chosen signal-to-interference ratio, the echo of a played
//! prompt, and the G.711 round trip of a phone line. Deterministic: every mix comes from a seed.
//! The mixes and their ground truth can be written out (`dtmf-compare --write-corpus DIR`) in
//! the format `audio/corpus/README.md` describes.

use std::path::{Path, PathBuf};

mod files;

pub use files::write_mix;
use files::{read_kind, read_prompts};

use dtmf_detector::Digit;
use dtmf_detector::testkit::{Rng, dbm0_amplitude, digit_frequencies, to_pcm};
use media::Law;

const FS: f64 = 8000.0;

/// One source recording, mono 8 kHz, and the gain that brings it to its telephone level.
#[derive(Clone, Debug)]
pub struct Source {
    /// File name without `.raw`.
    pub name: String,
    /// Samples as recorded.
    raw: Vec<i16>,
    gain: f64,
}

impl Source {
    /// Seconds of audio.
    pub fn seconds(&self) -> f64 {
        self.raw.len() as f64 / FS
    }

    fn len(&self) -> usize {
        self.raw.len()
    }

    /// Samples `range` at the source's telephone level.
    fn at_level(&self, range: std::ops::Range<usize>) -> Vec<f64> {
        self.raw[range]
            .iter()
            .map(|&s| f64::from(s) * self.gain)
            .collect()
    }

    fn all(&self) -> Vec<f64> {
        self.at_level(0..self.len())
    }
}

/// The sources, by kind.
#[derive(Clone, Debug)]
pub struct Corpus {
    /// Recorded music (game soundtracks).
    pub music: Vec<Source>,
    /// Synthesised speech, several languages and voices.
    pub speech: Vec<Source>,
    /// The prompts ivrd ships (`audio/prompts`), to be played and echoed.
    pub prompts: Vec<Source>,
}

/// What lies under the digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Material {
    /// Recorded music.
    Music,
    /// Speech.
    Speech,
    /// The echo of a prompt ivrd plays (speech prompts, music on hold, tone prompts).
    Echo,
}

impl Material {
    /// Every material.
    pub const ALL: [Self; 3] = [Self::Music, Self::Speech, Self::Echo];

    /// Short name, for tables and file names.
    pub fn name(self) -> &'static str {
        match self {
            Self::Music => "music",
            Self::Speech => "speech",
            Self::Echo => "echoed prompts",
        }
    }
}

/// A digit placed in a mix (sample indices).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placed {
    /// The key.
    pub digit: Digit,
    /// The tone's first sample.
    pub start: usize,
    /// One past the tone's last sample.
    pub end: usize,
    /// Level of the low tone, dBm0.
    pub low_dbm0: f64,
    /// Level of the high tone, dBm0.
    pub high_dbm0: f64,
    /// Digit power over the interference's power during the tone, dB.
    pub sir_db: f64,
}

/// A mix: what the caller's line carries, and, for echo mixes, what ivrd played.
#[derive(Clone, Debug, Default)]
pub struct Mix {
    /// The received audio after the G.711 round trip.
    pub pcm: Vec<i16>,
    /// The played prompt on the same time line (echo mixes only).
    pub reference: Option<Vec<i16>>,
    /// The digits in it, in order.
    pub digits: Vec<Placed>,
}

impl Corpus {
    /// `target/dtmf-corpus` of this workspace, or `$IVRD_DTMF_CORPUS`.
    pub fn default_dir() -> PathBuf {
        std::env::var_os("IVRD_DTMF_CORPUS").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/dtmf-corpus"),
            PathBuf::from,
        )
    }

    /// Reads the sources `make.sh` wrote in `dir`, and the prompts in `audio/prompts`.
    pub fn open(dir: &Path) -> Result<Self, String> {
        if !dir.join(".complete").exists() {
            return Err(format!(
                "{} holds no complete corpus: run audio/corpus/make.sh",
                dir.display()
            ));
        }
        let music = read_kind(&dir.join("music"), (-22.0, -12.0))?;
        let speech = read_kind(&dir.join("speech"), (-24.0, -14.0))?;
        let prompts_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../audio/prompts");
        let prompts = read_prompts(&prompts_dir)?;
        if music.is_empty() || speech.is_empty() || prompts.is_empty() {
            return Err(format!("{}: a kind of source is empty", dir.display()));
        }
        Ok(Self {
            music,
            speech,
            prompts,
        })
    }

    /// Seconds of music and of speech.
    pub fn hours(&self) -> (f64, f64) {
        let total = |s: &[Source]| s.iter().map(Source::seconds).sum::<f64>() / 3600.0;
        (total(&self.music), total(&self.speech))
    }

    /// `count` digits over `material` at `sir_db`, one per 1.2 s clip cut from a random place
    /// in a random source (for echo, a call: [`ECHO_LEAD_S`] more of the prompt before the clip,
    /// and a second of silence after it). Digit levels, twist, frequency deviation, duration and position are
    /// drawn inside Q.24 (tones −25…0 dBm0, twist −4…+8 dB, ±1.5 %, 45–120 ms).
    pub fn talkdown(&self, material: Material, sir_db: f64, count: usize, seed: u64) -> Mix {
        let mut rng = Rng::new(seed ^ (material as u64 * 0x5851_F42D));
        // An echo clip is a call of its own: the prompt has played over the call's echo path for
        // a while before the caller presses, and a second with nothing played parts the calls.
        let echo = material == Material::Echo;
        let (lead, parting) = if echo {
            ((ECHO_LEAD_S * FS) as usize, FS as usize)
        } else {
            (0, 0)
        };
        let clip = (1.2 * FS) as usize + lead;
        let mut received = Vec::with_capacity(count * clip);
        let mut played = Vec::new();
        let mut digits = Vec::with_capacity(count);
        for _ in 0..count {
            let digit = Digit::ALL[(rng.next_u64() % 16) as usize];
            let low_dbm0 = rng.range(-22.0, -3.0);
            let high_dbm0 = (low_dbm0 - rng.range(-4.0, 8.0)).clamp(-25.0, 0.0);
            let len = (rng.range(45.0, 120.0) * FS / 1000.0) as usize;
            let at = lead + (rng.range(0.3, 0.7) * FS) as usize;
            let (al, ah) = (dbm0_amplitude(low_dbm0), dbm0_amplitude(high_dbm0));
            let digit_power = (al * al + ah * ah) / 2.0;
            // Scale the bed so that the ratio holds over the tone itself; an echo bed whose
            // prompt would then have to be played louder than full scale is drawn again (the
            // echo of a clipped prompt is not what an unclipped one returns).
            let (mut bed, mut reference, mut gain);
            let mut attempt = 0;
            loop {
                (bed, reference) = self.bed(material, &mut rng, clip, at..at + len);
                let bed_power = power(&bed[at..at + len]).max(1e-9);
                gain = (digit_power / bed_power / 10f64.powf(sir_db / 10.0)).sqrt();
                let peak = reference
                    .iter()
                    .flatten()
                    .fold(0.0f64, |m, v| m.max(v.abs()));
                attempt += 1;
                if peak * gain <= PLAYED_PEAK || attempt == 50 {
                    break;
                }
            }
            let mut tone = vec![0.0; clip];
            let (fl, fh) = digit_frequencies(digit);
            let (fl, fh) = (
                fl * (1.0 + rng.range(-0.015, 0.015)),
                fh * (1.0 + rng.range(-0.015, 0.015)),
            );
            let (pl, ph) = (rng.range(0.0, 6.3), rng.range(0.0, 6.3));
            for (i, t) in tone[at..at + len].iter_mut().enumerate() {
                let t_s = i as f64 / FS;
                *t = al * (std::f64::consts::TAU * fl * t_s + pl).sin()
                    + ah * (std::f64::consts::TAU * fh * t_s + ph).sin();
            }
            let offset = received.len();
            received.extend(bed.iter().zip(&tone).map(|(b, t)| b * gain + t));
            if let Some(r) = reference {
                // The prompt was played that much louder or softer: the echo keeps its loss.
                played.extend(r.iter().map(|v| v * gain));
                received.extend(std::iter::repeat_n(0.0, parting));
                played.extend(std::iter::repeat_n(0.0, parting));
            }
            digits.push(Placed {
                digit,
                start: offset + at,
                end: offset + at + len,
                low_dbm0,
                high_dbm0,
                sir_db,
            });
        }
        Mix {
            pcm: line(&received),
            reference: (material == Material::Echo).then(|| to_pcm(&played)),
            digits,
        }
    }

    /// Up to `seconds` of `material` with no digit: every source once, in order, as a caller's
    /// line would carry it. For echo, every prompt and a share of the music played in turn,
    /// [`PROMPTS_PER_CALL`] to a call, each call echoed with a delay and loss of its own.
    pub fn talkoff(&self, material: Material, seconds: f64, seed: u64) -> Mix {
        let limit = (seconds * FS) as usize;
        let mut rng = Rng::new(seed);
        match material {
            Material::Music | Material::Speech => {
                let sources = if material == Material::Music {
                    &self.music
                } else {
                    &self.speech
                };
                let mut all = Vec::new();
                for s in sources {
                    if all.len() >= limit {
                        break;
                    }
                    all.extend(s.at_level(0..s.len().min(limit - all.len())));
                }
                Mix {
                    pcm: line(&all),
                    reference: None,
                    digits: Vec::new(),
                }
            }
            Material::Echo => {
                let (mut received, mut played) = (Vec::new(), Vec::new());
                let mut k = 0;
                while received.len() < limit {
                    // One call: three prompts back to back over the one echo path the call has,
                    // then a second with nothing played before the next call.
                    let path = EchoPath::draw(&mut rng);
                    let mut prompt = Vec::new();
                    for _ in 0..PROMPTS_PER_CALL {
                        prompt.extend(self.prompt(k, &mut rng));
                        k += 1;
                    }
                    prompt.extend(std::iter::repeat_n(0.0, FS as usize));
                    let echo = path.apply(&prompt);
                    let noise = -65.0;
                    received.extend(echo.iter().map(|e| e + comfort(&mut rng, noise)));
                    played.extend(prompt);
                }
                received.truncate(limit);
                played.truncate(limit);
                Mix {
                    pcm: line(&received),
                    reference: Some(to_pcm(&played)),
                    digits: Vec::new(),
                }
            }
        }
    }

    /// A played prompt: the shipped prompts, music on hold, and tone prompts (DTMF pairs and
    /// call-progress tones, the hardest thing a prompt can hold), in turn.
    fn prompt(&self, k: usize, rng: &mut Rng) -> Vec<f64> {
        match k % 4 {
            0 | 1 => {
                let p = &self.prompts[(rng.next_u64() % self.prompts.len() as u64) as usize];
                line_f64(&p.all())
            }
            2 => {
                let m = &self.music[(rng.next_u64() % self.music.len() as u64) as usize];
                let len = ((rng.range(4.0, 12.0)) * FS) as usize;
                let at = (rng.next_u64() as usize) % m.len().saturating_sub(len).max(1);
                line_f64(&m.at_level(at..(at + len).min(m.len())))
            }
            _ => tone_prompt(rng),
        }
    }

    /// A clip of `material` of `len` samples, active over `span`; for echo, with the prompt
    /// that was played.
    fn bed(
        &self,
        material: Material,
        rng: &mut Rng,
        len: usize,
        span: std::ops::Range<usize>,
    ) -> (Vec<f64>, Option<Vec<f64>>) {
        for attempt in 0..50 {
            let (bed, reference) = match material {
                Material::Music | Material::Speech => {
                    let sources = if material == Material::Music {
                        &self.music
                    } else {
                        &self.speech
                    };
                    (cut(sources, rng, len), None)
                }
                Material::Echo => {
                    let mut prompt = self.prompt(rng.next_u64() as usize, rng);
                    prompt.resize(prompt.len().max(len + 800), 0.0);
                    let at = (rng.next_u64() as usize) % (prompt.len() - len - 400);
                    let played = prompt[at..at + len].to_vec();
                    let echo = echo_of(&played, rng);
                    (echo, Some(played))
                }
            };
            // The interference must be there during the tone (not a pause between notes or
            // words), or the ratio means nothing; after many tries, take what there is.
            if power(&bed[span.clone()]) > dbm0_power(-50.0) || attempt == 49 {
                return (bed, reference);
            }
        }
        unreachable!("the last attempt returns")
    }
}

/// A random `len`-sample cut of a random source.
fn cut(sources: &[Source], rng: &mut Rng, len: usize) -> Vec<f64> {
    let s = &sources[(rng.next_u64() % sources.len() as u64) as usize];
    if s.len() <= len {
        let mut v = s.all();
        v.resize(len, 0.0);
        return v;
    }
    let at = (rng.next_u64() as usize) % (s.len() - len);
    s.at_level(at..at + len)
}

/// The loudest sample a prompt is played at (G.711's full scale is 32,124 in µ-law).
const PLAYED_PEAK: f64 = 32_000.0;

/// How long an echoed prompt plays before the talk-down clip of its call starts, s.
pub const ECHO_LEAD_S: f64 = 0.6;

/// Prompts a call of the echo talk-off set plays, one after another over the call's echo path
/// (three, so that the four kinds of prompt take turns at opening a call).
pub const PROMPTS_PER_CALL: usize = 3;

/// Line echo of `played` over a path of its own (see [`EchoPath`]).
pub fn echo_of(played: &[f64], rng: &mut Rng) -> Vec<f64> {
    EchoPath::draw(rng).apply(played)
}

/// A line's echo path: 10–50 ms late, 6–30 dB down, through a hybrid's short dispersion (a
/// second reflection 2–6 ms later and 6–12 dB below the first). A call keeps its path.
#[derive(Clone, Copy, Debug)]
pub struct EchoPath {
    delay: usize,
    loss: f64,
    second: usize,
    loss2: f64,
}

impl EchoPath {
    /// A path drawn from the ranges above.
    pub fn draw(rng: &mut Rng) -> Self {
        let delay = (rng.range(10.0, 50.0) * FS / 1000.0) as usize;
        let loss = 10f64.powf(-rng.range(6.0, 30.0) / 20.0);
        let second = delay + (rng.range(2.0, 6.0) * FS / 1000.0) as usize;
        let loss2 = loss * 10f64.powf(-rng.range(6.0, 12.0) / 20.0);
        let sign = if rng.unit() < 0.5 { -1.0 } else { 1.0 };
        Self {
            delay,
            loss,
            second,
            loss2: loss2 * sign,
        }
    }

    /// What comes back of `played` over this path.
    pub fn apply(&self, played: &[f64]) -> Vec<f64> {
        (0..played.len())
            .map(|n| {
                let a = n.checked_sub(self.delay).map_or(0.0, |i| played[i]) * self.loss;
                let b = n.checked_sub(self.second).map_or(0.0, |i| played[i]) * self.loss2;
                a + b
            })
            .collect()
    }
}

/// A tone prompt: DTMF pairs at prompt level (an IVR "press this" demonstration, a number
/// being dialled in the prompt), then a ringback or busy cadence.
fn tone_prompt(rng: &mut Rng) -> Vec<f64> {
    let mut out = Vec::new();
    let tau = std::f64::consts::TAU;
    let n_digits = 3 + (rng.next_u64() % 6) as usize;
    for _ in 0..n_digits {
        let digit = Digit::ALL[(rng.next_u64() % 16) as usize];
        let (fl, fh) = digit_frequencies(digit);
        let level = rng.range(-12.0, -4.0);
        let (a, len) = (
            dbm0_amplitude(level),
            (rng.range(60.0, 250.0) * FS / 1000.0) as usize,
        );
        out.extend((0..len).map(|i| {
            let t = i as f64 / FS;
            a * ((tau * fl * t).sin() + (tau * fh * t).sin())
        }));
        out.extend(std::iter::repeat_n(
            0.0,
            (rng.range(60.0, 300.0) * FS / 1000.0) as usize,
        ));
    }
    let (f1, f2, on, off) = if rng.unit() < 0.5 {
        (440.0, 480.0, 2.0, 4.0) // ringback
    } else {
        (480.0, 620.0, 0.5, 0.5) // busy
    };
    let a = dbm0_amplitude(-13.0);
    for _ in 0..2 {
        out.extend((0..(on * FS) as usize).map(|i| {
            let t = i as f64 / FS;
            a * ((tau * f1 * t).sin() + (tau * f2 * t).sin())
        }));
        out.extend(std::iter::repeat_n(0.0, (off * FS) as usize));
    }
    line_f64(&out)
}

/// Low noise under an echo, as a real line has: `dbm0` RMS.
fn comfort(rng: &mut Rng, dbm0: f64) -> f64 {
    rng.gaussian() * dbm0_amplitude(dbm0) / std::f64::consts::SQRT_2
}

fn power(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64
}

fn dbm0_power(dbm0: f64) -> f64 {
    dbm0_amplitude(dbm0).powi(2) / 2.0
}

/// The G.711 µ-law round trip of a phone line.
pub fn line(x: &[f64]) -> Vec<i16> {
    to_pcm(x)
        .into_iter()
        .map(|s| Law::Ulaw.decode(Law::Ulaw.encode(s)))
        .collect()
}

fn line_f64(x: &[f64]) -> Vec<f64> {
    line(x).into_iter().map(f64::from).collect()
}

/// How a detector fared on a mix: digits found in order (the longest common subsequence of
/// the placed and the reported keys, so that detectors reporting no times are judged alike),
/// and the reports beyond those.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Score {
    /// Placed digits.
    pub placed: usize,
    /// Placed digits reported, in order.
    pub found: usize,
    /// Reports that match no placed digit.
    pub false_digits: usize,
}

impl Score {
    /// Judges `reported` keys against the mix's digits.
    pub fn of(placed: &[Placed], reported: &[Digit]) -> Self {
        let a: Vec<Digit> = placed.iter().map(|p| p.digit).collect();
        let mut row = vec![0usize; reported.len() + 1];
        for x in &a {
            let mut diagonal = 0;
            for (j, y) in reported.iter().enumerate() {
                let up = row[j + 1];
                row[j + 1] = if x == y { diagonal + 1 } else { up.max(row[j]) };
                diagonal = up;
            }
        }
        let found = row[reported.len()];
        Self {
            placed: a.len(),
            found,
            false_digits: reported.len() - found,
        }
    }

    /// Share of the placed digits found, percent.
    pub fn percent(&self) -> f64 {
        100.0 * self.found as f64 / self.placed.max(1) as f64
    }
}
