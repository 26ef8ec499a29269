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
