//! G.711 µ-law and A-law (ITU-T G.711), encode and decode. Decoding is a 256-entry table built
//! at compile time; encoding is the segment search of the standard.

/// Which G.711 law.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law (PCMU, payload type 0).
    Ulaw,
    /// A-law (PCMA, payload type 8).
    Alaw,
}

impl Law {
    /// The code of silence (zero amplitude).
    pub fn silence(self) -> u8 {
        match self {
            Self::Ulaw => 0xFF,
            Self::Alaw => 0xD5,
        }
    }
    /// Decodes one code.
    pub fn decode(self, code: u8) -> i16 {
        match self {
            Self::Ulaw => ULAW_TABLE[code as usize],
            Self::Alaw => ALAW_TABLE[code as usize],
        }
    }
    /// Encodes one sample.
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Self::Ulaw => ulaw_encode(sample),
            Self::Alaw => alaw_encode(sample),
        }
    }
    /// Decodes `codes` into `out` (as many as fit); returns the count.
    pub fn decode_into(self, codes: &[u8], out: &mut [i16]) -> usize {
        let n = codes.len().min(out.len());
        for (o, &c) in out.iter_mut().zip(&codes[..n]) {
            *o = self.decode(c);
        }
        n
    }
    /// Encodes `pcm` into `out` (as many as fit); returns the count.
    pub fn encode_into(self, pcm: &[i16], out: &mut [u8]) -> usize {
        let n = pcm.len().min(out.len());
        for (o, &s) in out.iter_mut().zip(&pcm[..n]) {
            *o = self.encode(s);
        }
        n
    }
}

const fn ulaw_decode(code: u8) -> i16 {
    let u = !code;
    let t = (((u & 0x0F) as i32) << 3) + 0x84;
    let t = t << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

const fn alaw_decode(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => t = (t + 0x108) << (seg - 1),
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

const fn table(alaw: bool) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if alaw {
            alaw_decode(i as u8)
        } else {
            ulaw_decode(i as u8)
        };
        i += 1;
    }
    t
}

const ULAW_TABLE: [i16; 256] = table(false);
const ALAW_TABLE: [i16; 256] = table(true);

fn ulaw_encode(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32_635;
    let s = i32::from(sample);
    let (sign, magnitude) = if s < 0 { (0x80, -s) } else { (0x00, s) };
    let m = magnitude.min(CLIP) + BIAS;
    let exponent = (31 - m.leading_zeros() as i32 - 7).clamp(0, 7);
    let mantissa = (m >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

fn alaw_encode(sample: i16) -> u8 {
    let s = i32::from(sample);
    let (mask, magnitude) = if s >= 0 { (0xD5, s) } else { (0x55, -s - 1) };
    let m = magnitude.min(0x7FFF) >> 3;
    let code = if m < 32 {
        m >> 1
    } else {
        let exponent = 31 - m.leading_zeros() as i32 - 4;
        (exponent << 4) | ((m >> exponent) & 0x0F)
    };
    (code as u8) ^ mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for code in 0..=255u8 {
            // µ-law has two zeros: 0x7F (−0) decodes to 0, which encodes as 0xFF (+0).
            let want = if code == 0x7F { 0xFF } else { code };
            assert_eq!(
                Law::Ulaw.encode(Law::Ulaw.decode(code)),
                want,
                "µ-law {code:#04x}"
            );
            assert_eq!(
                Law::Alaw.encode(Law::Alaw.decode(code)),
                code,
                "A-law {code:#04x}"
            );
        }
    }

    #[test]
    fn reference_points() {
        // G.711 Table 2a/2b: decision and reconstruction values at the segment ends.
        assert_eq!(Law::Ulaw.decode(0x80), 32_124);
        assert_eq!(Law::Ulaw.decode(0x00), -32_124);
        assert_eq!(Law::Alaw.decode(0xAA), 32_256);
        assert_eq!(Law::Alaw.decode(0x2A), -32_256);
        assert_eq!(Law::Ulaw.encode(0), 0xFF);
        assert_eq!(Law::Alaw.encode(0), 0xD5);
        assert_eq!(Law::Ulaw.encode(i16::MAX), 0x80);
        assert_eq!(Law::Ulaw.encode(i16::MIN), 0x00);
        assert_eq!(Law::Alaw.encode(i16::MIN), 0x2A);
    }

    #[test]
    fn quantisation_error_is_within_half_a_step() {
        for law in [Law::Ulaw, Law::Alaw] {
            for s in (-32_000i32..32_000).step_by(7) {
                let s = s as i16;
                let back = i32::from(law.decode(law.encode(s)));
                let err = (back - i32::from(s)).abs();
                // The largest step is 1024 (µ-law) / 1024 (A-law) in the top segment.
                assert!(err <= 1024, "{law:?} {s} -> {back}");
            }
        }
    }
}
