//! E.164 numbers: validated, and normalised from the national formats callers type or trunks
//! send (`030 1234567`, `0049 30 …`, `(555) 123-4567`, `+44 20 …`) with a configured default
//! country.

use std::fmt;

use crate::SmsError;

/// A phone number in E.164 form: `+`, a country code, at most 15 digits in all.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(String);

/// What national numbers are read against: the country's calling code and its trunk prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Country {
    /// ISO 3166 alpha-2 code.
    pub iso: &'static str,
    /// Calling code without `+`.
    pub calling_code: &'static str,
    /// The digit(s) dialled before a national number and dropped internationally ("0" in
    /// most of Europe, "1" in the NANP), or "" where the leading digit is kept (Italy).
    pub trunk_prefix: &'static str,
    /// The international call prefix besides `00` ("011" in the NANP).
    pub international_prefix: &'static str,
}

/// The countries a default can be chosen from.
const COUNTRIES: [Country; 16] = [
    country("US", "1", "1", "011"),
    country("CA", "1", "1", "011"),
    country("GB", "44", "0", "00"),
    country("IE", "353", "0", "00"),
    country("DE", "49", "0", "00"),
    country("AT", "43", "0", "00"),
    country("CH", "41", "0", "00"),
    country("FR", "33", "0", "00"),
    country("NL", "31", "0", "00"),
    country("BE", "32", "0", "00"),
    country("UA", "380", "0", "00"),
    country("PL", "48", "", "00"),
    country("ES", "34", "", "00"),
    country("IT", "39", "", "00"),
    country("AU", "61", "0", "0011"),
    country("IN", "91", "0", "00"),
];

const fn country(
    iso: &'static str,
    calling_code: &'static str,
    trunk_prefix: &'static str,
    international_prefix: &'static str,
) -> Country {
    Country {
        iso,
        calling_code,
        trunk_prefix,
        international_prefix,
    }
}

impl Default for Country {
    /// The United States (NANP).
    fn default() -> Self {
        COUNTRIES[0]
    }
}

impl Country {
    /// The country with this ISO code (case-insensitive), if we know its numbering rules.
    pub fn by_iso(iso: &str) -> Option<Self> {
        COUNTRIES
            .iter()
            .copied()
            .find(|c| c.iso.eq_ignore_ascii_case(iso))
    }
}

impl E164 {
    /// Reads `input` as typed or sent by a trunk. National numbers are read against `home`.
    pub fn parse(input: &str, home: Country) -> Result<Self, SmsError> {
        let invalid = |reason: &str| SmsError::InvalidNumber {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = input.trim();
        let trimmed = trimmed
            .strip_prefix("tel:")
            .or_else(|| trimmed.strip_prefix("sip:"))
            .unwrap_or(trimmed);
        let trimmed = trimmed.split(['@', ';']).next().unwrap_or_default();
        let (plus, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' | '/' => {}
                _ => return Err(invalid("has characters other than digits")),
            }
        }
        if digits.is_empty() {
            return Err(invalid("no digits"));
        }
        let international = if plus {
            digits
        } else if let Some(rest) = digits.strip_prefix("00") {
            rest.to_string()
        } else if let Some(rest) = (!home.international_prefix.is_empty())
            .then(|| digits.strip_prefix(home.international_prefix))
            .flatten()
        {
            rest.to_string()
        } else if !home.trunk_prefix.is_empty()
            && let Some(national) = digits.strip_prefix(home.trunk_prefix)
            && (home.trunk_prefix != "1" || national.len() == 10)
        {
            format!("{}{national}", home.calling_code)
        } else if home.calling_code == "1" && digits.len() == 10 {
            format!("1{digits}")
        } else if digits.starts_with(home.calling_code) && digits.len() >= 10 {
            // Trunks often send the international form without `+`.
            digits
        } else {
            format!("{}{digits}", home.calling_code)
        };
        if international.starts_with('0') {
            return Err(invalid("a country code never starts with 0"));
        }
        if !(8..=15).contains(&international.len()) {
            return Err(invalid("E.164 numbers have 8 to 15 digits"));
        }
        Ok(Self(format!("+{international}")))
    }

    /// The number with its `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the number starts with any of `prefixes` (`+1`, `+44`, `+4915`); an empty list
    /// allows nothing.
    pub fn matches_any(&self, prefixes: &[String]) -> bool {
        prefixes.iter().any(|p| self.0.starts_with(p.as_str()))
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn de() -> Country {
        Country::by_iso("de").expect("known")
    }

    #[test]
    fn national_and_international_forms() {
        let cases = [
            ("030 1234567", "+49301234567"),
            ("+49 (30) 123-4567", "+49301234567"),
            ("0049301234567", "+49301234567"),
            ("49301234567", "+49301234567"),
            ("tel:+49301234567", "+49301234567"),
            ("sip:+15551234567@trunk.example;user=phone", "+15551234567"),
            ("0044 20 7946 0958", "+442079460958"),
        ];
        for (input, want) in cases {
            assert_eq!(
                E164::parse(input, de()).map(|n| n.0),
                Ok(want.into()),
                "{input}"
            );
        }
        let us = Country::by_iso("US").expect("known");
        for input in ["(555) 123-4567", "1 555 123 4567", "011 49 30 1234567"] {
            let n = E164::parse(input, us).expect(input);
            assert!(
                n.0 == "+15551234567" || n.0 == "+49301234567",
                "{input} → {n}"
            );
        }
        let it = Country::by_iso("IT").expect("known");
        assert_eq!(
            E164::parse("06 1234 5678", it).map(|n| n.0),
            Ok("+390612345678".into())
        );
    }

    #[test]
    fn invalid_numbers_say_why() {
        for input in [
            "",
            "abc",
            "+0123456789",
            "+1234567890123456",
            "12",
            "+49 30 12x",
        ] {
            assert!(
                matches!(
                    E164::parse(input, de()),
                    Err(SmsError::InvalidNumber { .. })
                ),
                "{input}"
            );
        }
    }

    #[test]
    fn prefixes() {
        let n = E164::parse("+4915112345678", de()).expect("valid");
        assert!(n.matches_any(&["+44".into(), "+49".into()]));
        assert!(!n.matches_any(&["+4930".into()]));
        assert!(!n.matches_any(&[]));
    }
}
