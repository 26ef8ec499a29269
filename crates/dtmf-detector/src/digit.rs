//! The sixteen DTMF keys.

use std::fmt;

/// One DTMF key: the ten digits, `*`, `#` and the four column-4 keys `A`–`D`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Digit {
    /// `0`
    D0,
    /// `1`
    D1,
    /// `2`
    D2,
    /// `3`
    D3,
    /// `4`
    D4,
    /// `5`
    D5,
    /// `6`
    D6,
    /// `7`
    D7,
    /// `8`
    D8,
    /// `9`
    D9,
    /// `*`
    Star,
    /// `#`
    Pound,
    /// `A`
    A,
    /// `B`
    B,
    /// `C`
    C,
    /// `D`
    D,
}

/// Keypad layout: row = low-group tone (697, 770, 852, 941 Hz), column = high-group tone
/// (1209, 1336, 1477, 1633 Hz).
const KEYPAD: [[Digit; 4]; 4] = [
    [Digit::D1, Digit::D2, Digit::D3, Digit::A],
    [Digit::D4, Digit::D5, Digit::D6, Digit::B],
    [Digit::D7, Digit::D8, Digit::D9, Digit::C],
    [Digit::Star, Digit::D0, Digit::Pound, Digit::D],
];

impl Digit {
    /// All sixteen keys, in keypad order (row by row).
    pub const ALL: [Self; 16] = [
        Self::D1,
        Self::D2,
        Self::D3,
        Self::A,
        Self::D4,
        Self::D5,
        Self::D6,
        Self::B,
        Self::D7,
        Self::D8,
        Self::D9,
        Self::C,
        Self::Star,
        Self::D0,
        Self::Pound,
        Self::D,
    ];

    /// The key at `row` (low group index 0–3) and `column` (high group index 0–3).
    pub(crate) fn from_tones(row: usize, column: usize) -> Self {
        KEYPAD[row][column]
    }

    /// (row, column) indices of this key's low and high tones.
    pub fn tones(self) -> (usize, usize) {
        let index = Self::ALL
            .iter()
            .position(|d| *d == self)
            .expect("ALL lists every variant");
        (index / 4, index % 4)
    }

    /// The key's character: `0`–`9`, `*`, `#`, `A`–`D`.
    pub fn to_char(self) -> char {
        match self {
            Self::D0 => '0',
            Self::D1 => '1',
            Self::D2 => '2',
            Self::D3 => '3',
            Self::D4 => '4',
            Self::D5 => '5',
            Self::D6 => '6',
            Self::D7 => '7',
            Self::D8 => '8',
            Self::D9 => '9',
            Self::Star => '*',
            Self::Pound => '#',
            Self::A => 'A',
            Self::B => 'B',
            Self::C => 'C',
            Self::D => 'D',
        }
    }

    /// Parses `0`–`9`, `*`, `#`, `A`–`D` (also lower case). Anything else is `None`.
    pub fn from_char(c: char) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|d| d.to_char() == c.to_ascii_uppercase())
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_char())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chars_round_trip_and_tones_match_keypad() {
        for d in Digit::ALL {
            assert_eq!(Digit::from_char(d.to_char()), Some(d));
            let (r, c) = d.tones();
            assert_eq!(Digit::from_tones(r, c), d);
        }
        assert_eq!(Digit::from_char('x'), None);
        assert_eq!(Digit::from_char('a'), Some(Digit::A));
    }
}
