//! Message bodies: GSM 03.38 7-bit when every character has a septet (extension characters
//! take two), UCS-2 otherwise; split into concatenated parts with the 6-octet UDH of
//! 3GPP TS 23.040 §9.2.3.24.1 when one SMS is not enough.

/// How a body goes over the air.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// GSM 03.38 default alphabet: 160 septets in one SMS, 153 per concatenated part.
    Gsm7,
    /// UCS-2 (UTF-16 code units): 70 in one SMS, 67 per part.
    Ucs2,
}

/// A body cut into the parts that go out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segments {
    /// The encoding every part uses.
    pub encoding: Encoding,
    /// The parts' texts, in order; one part means no UDH.
    pub parts: Vec<String>,
}

/// The GSM 03.38 default alphabet (one septet each), ESC excluded.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
    ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table: ESC plus one septet each.
const GSM7_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// Septets a character takes in GSM-7, or `None` if it has none.
fn septets(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The encoding `text` needs.
pub fn encoding(text: &str) -> Encoding {
    match text.chars().all(|c| septets(c).is_some()) {
        true => Encoding::Gsm7,
        false => Encoding::Ucs2,
    }
}

/// Splits `text` into SMS parts. A character (an extension pair, a surrogate pair) is never
/// split across parts.
pub fn segment(text: &str) -> Segments {
    let encoding = encoding(text);
    let (single, per_part) = match encoding {
        Encoding::Gsm7 => (160, 153),
        Encoding::Ucs2 => (70, 67),
    };
    let size = |c: char| match encoding {
        Encoding::Gsm7 => septets(c).unwrap_or(1),
        Encoding::Ucs2 => c.len_utf16(),
    };
    let total: usize = text.chars().map(size).sum();
    if total <= single {
        return Segments {
            encoding,
            parts: vec![text.to_string()],
        };
    }
    let mut parts = Vec::new();
    let (mut part, mut used) = (String::new(), 0);
    for c in text.chars() {
        let n = size(c);
        if used + n > per_part {
            parts.push(std::mem::take(&mut part));
            used = 0;
        }
        part.push(c);
        used += n;
    }
    parts.push(part);
    Segments { encoding, parts }
}

/// GSM 03.38 code of each extension character (after ESC, 0x1B).
const GSM7_EXTENSION_CODES: [u8; 10] = [0x0A, 0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65];

/// The GSM 03.38 code of a basic character (the table has ESC at 0x1B, which the string skips).
fn gsm7_code(c: char) -> Option<u8> {
    let i = GSM7_BASIC.chars().position(|b| b == c)?;
    Some(if i < 0x1B { i as u8 } else { i as u8 + 1 })
}

/// `text` as unpacked GSM 03.38 septets, one per octet, extension characters as ESC + code
/// (the form SMPP's `data_coding` 0 carries); `None` if a character has no septet.
pub fn gsm7_unpacked(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if let Some(code) = gsm7_code(c) {
            out.push(code);
        } else {
            let i = GSM7_EXTENSION.chars().position(|e| e == c)?;
            out.extend([0x1B, GSM7_EXTENSION_CODES[i]]);
        }
    }
    Some(out)
}

/// Unpacked GSM 03.38 septets back to text; unknown codes become `?`.
pub fn gsm7_decode(octets: &[u8]) -> String {
    let basic: Vec<char> = GSM7_BASIC.chars().collect();
    let mut out = String::with_capacity(octets.len());
    let mut escaped = false;
    for &o in octets {
        let o = o & 0x7F;
        if escaped {
            escaped = false;
            let ext = GSM7_EXTENSION_CODES.iter().position(|&e| e == o);
            out.push(
                ext.and_then(|i| GSM7_EXTENSION.chars().nth(i))
                    .unwrap_or('?'),
            );
        } else if o == 0x1B {
            escaped = true;
        } else {
            let i = if o < 0x1B { o as usize } else { o as usize - 1 };
            out.push(basic.get(i).copied().unwrap_or('?'));
        }
    }
    out
}

/// The concatenation UDH for part `seq` (1-based) of `total`, with an 8-bit reference shared
/// by all parts of one message.
pub fn concat_udh(reference: u8, total: u8, seq: u8) -> [u8; 6] {
    [0x05, 0x00, 0x03, reference, total, seq]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn limits_per_encoding() {
        assert_eq!(segment(&"a".repeat(160)).parts.len(), 1);
        assert_eq!(segment(&"a".repeat(161)).parts.len(), 2);
        assert_eq!(segment(&"a".repeat(306)).parts.len(), 2);
        assert_eq!(segment(&"a".repeat(307)).parts.len(), 3);
        // € is an extension character: two septets.
        assert_eq!(segment(&"€".repeat(80)).parts.len(), 1);
        assert_eq!(segment(&"€".repeat(81)).parts.len(), 2);
        let uk = "Ваш баланс".repeat(8);
        let s = segment(&uk);
        assert_eq!(s.encoding, Encoding::Ucs2);
        assert_eq!(s.parts.len(), 2);
        assert_eq!(segment(&"ж".repeat(70)).parts.len(), 1);
        assert_eq!(segment(&"ж".repeat(71)).parts.len(), 2);
        assert_eq!(encoding("Grüße, Müller! 50 € {ok}"), Encoding::Gsm7);
        assert_eq!(encoding("ç is not in the basic table"), Encoding::Ucs2);
        assert_eq!(concat_udh(7, 3, 1), [5, 0, 3, 7, 3, 1]);
    }

    #[test]
    fn gsm7_codes_match_the_03_38_table() {
        // Spot values from 3GPP TS 23.038 §6.2.1: @ 0x00, Δ 0x10, ESC 0x1B skipped, Æ 0x1C,
        // space 0x20, ¡ 0x40, A 0x41, § 0x5F, ¿ 0x60, à 0x7F; € is ESC 0x65.
        assert_eq!(
            gsm7_unpacked("@ΔÆ ¡A§¿à").unwrap(),
            [0x00, 0x10, 0x1C, 0x20, 0x40, 0x41, 0x5F, 0x60, 0x7F]
        );
        assert_eq!(gsm7_unpacked("€[").unwrap(), [0x1B, 0x65, 0x1B, 0x3C]);
        assert_eq!(gsm7_unpacked("ç"), None);
        assert_eq!(GSM7_BASIC.chars().count(), 127);
    }

    proptest! {
        #[test]
        fn gsm7_round_trips(text in "[@£$a-zA-Z0-9ΔÆ€{}\\[\\]~|^ ]{0,200}") {
            prop_assert_eq!(gsm7_decode(&gsm7_unpacked(&text).unwrap()), text);
        }
    }

    proptest! {
        #[test]
        fn parts_rejoin_and_fit(text in "[a-z€😀жç ]{0,400}") {
            let s = segment(&text);
            prop_assert_eq!(s.parts.concat(), text.clone());
            let (single, per) = match s.encoding { Encoding::Gsm7 => (160, 153), Encoding::Ucs2 => (70, 67) };
            let size = |p: &str| -> usize { match s.encoding {
                Encoding::Gsm7 => p.chars().map(|c| septets(c).unwrap_or(1)).sum(),
                Encoding::Ucs2 => p.encode_utf16().count(),
            }};
            if s.parts.len() == 1 {
                prop_assert!(size(&s.parts[0]) <= single);
            } else {
                for p in &s.parts { prop_assert!(size(p) <= per && !p.is_empty()); }
            }
        }
    }
}
