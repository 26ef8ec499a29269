//! Coupon serials and the rules of redeeming one.
//!
//! A serial is 12 Crockford base-32 characters from 60 random bits (the caller supplies
//! them, from a CSPRNG), plus a check character (mod 37, as Crockford defines), printed in
//! groups of four: `7KQ2-MX9D-A4T0-W`. Merchants type them: case, dashes, spaces and the
//! look-alikes I/L (1) and O (0) are forgiven; a typo fails the check character before any
//! lookup.

use serde::{Deserialize, Serialize};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Crockford's check symbols: the alphabet plus five more, for values 32–36.
const CHECK: &[u8; 37] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";

/// A serial from 60 random bits.
pub fn serial(random: u64) -> String {
    let value = random & ((1 << 60) - 1);
    let mut raw = String::with_capacity(13);
    for i in (0..12).rev() {
        raw.push(ALPHABET[((value >> (i * 5)) & 31) as usize] as char);
    }
    raw.push(CHECK[(value % 37) as usize] as char);
    let mut out = String::with_capacity(16);
    for (i, c) in raw.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

/// The canonical form of a typed serial, or `None` if it cannot be one (wrong length,
/// foreign characters, or a check character that does not match).
pub fn normalise(typed: &str) -> Option<String> {
    let mut raw = String::with_capacity(13);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        };
        raw.push(c);
    }
    if raw.chars().count() != 13 {
        return None;
    }
    let mut value: u64 = 0;
    for c in raw.chars().take(12) {
        let digit = ALPHABET.iter().position(|a| *a as char == c)?;
        value = (value << 5) | digit as u64;
    }
    let check = raw.chars().nth(12)?;
    (CHECK[(value % 37) as usize] as char == check).then(|| serial(value))
}

/// A stored coupon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    /// Canonical serial.
    pub serial: String,
    /// Campaign.
    pub campaign: String,
    /// The call it was issued in.
    pub call_id: String,
    /// Issued at.
    pub issued_ms: u64,
    /// Valid until.
    pub expires_ms: u64,
    /// Redeemed at, and by which merchant.
    pub redeemed: Option<(u64, String)>,
}

/// Why a redemption is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not a serial we issued (or mistyped).
    #[error("unknown serial")]
    Unknown,
    /// Redeemed before.
    #[error("already redeemed at {at_ms} by {merchant}")]
    AlreadyRedeemed {
        /// When.
        at_ms: u64,
        /// By whom.
        merchant: String,
    },
    /// Past its validity.
    #[error("expired at {expires_ms}")]
    Expired {
        /// When it expired.
        expires_ms: u64,
    },
    /// The merchant may not redeem this campaign.
    #[error("campaign {0} is not open to this merchant")]
    WrongCampaign(String),
}

/// Whether `coupon` may be redeemed now by a merchant allowed `campaigns` (empty: all).
pub fn check_redeem(
    coupon: Option<&Coupon>,
    campaigns: &[String],
    now_ms: u64,
) -> Result<(), Refusal> {
    let coupon = coupon.ok_or(Refusal::Unknown)?;
    if !campaigns.is_empty() && !campaigns.contains(&coupon.campaign) {
        return Err(Refusal::WrongCampaign(coupon.campaign.clone()));
    }
    if let Some((at_ms, merchant)) = &coupon.redeemed {
        return Err(Refusal::AlreadyRedeemed {
            at_ms: *at_ms,
            merchant: merchant.clone(),
        });
    }
    if now_ms >= coupon.expires_ms {
        return Err(Refusal::Expired {
            expires_ms: coupon.expires_ms,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn format_and_typos() {
        let s = serial(0x0123_4567_89ab_cdef);
        assert_eq!(s.len(), 16);
        assert_eq!(s.matches('-').count(), 3);
        assert_eq!(
            normalise(&s.to_lowercase().replace('-', " ")),
            Some(s.clone())
        );
        let mut typo: Vec<char> = s.chars().collect();
        typo[1] = if typo[1] == '7' { '8' } else { '7' };
        assert_eq!(normalise(&typo.into_iter().collect::<String>()), None);
        assert_eq!(normalise("short"), None);
    }

    #[test]
    fn redemption_rules() {
        let mut c = Coupon {
            serial: serial(1),
            campaign: "spring".into(),
            call_id: "c1".into(),
            issued_ms: 0,
            expires_ms: 1000,
            redeemed: None,
        };
        assert_eq!(check_redeem(None, &[], 0), Err(Refusal::Unknown));
        assert_eq!(check_redeem(Some(&c), &[], 10), Ok(()));
        assert!(matches!(
            check_redeem(Some(&c), &["autumn".into()], 10),
            Err(Refusal::WrongCampaign(_))
        ));
        assert!(matches!(
            check_redeem(Some(&c), &[], 1000),
            Err(Refusal::Expired { .. })
        ));
        c.redeemed = Some((5, "shop".into()));
        assert!(matches!(
            check_redeem(Some(&c), &[], 10),
            Err(Refusal::AlreadyRedeemed { .. })
        ));
    }

    proptest! {
        #[test]
        fn every_serial_normalises_to_itself(v in any::<u64>()) {
            let s = serial(v);
            prop_assert_eq!(normalise(&s), Some(s.clone()));
        }

        #[test]
        fn one_changed_character_is_caught(v in any::<u64>(), pos in 0usize..13, d in 1usize..32) {
            let s = serial(v);
            let mut raw: Vec<u8> = s.replace('-', "").into_bytes();
            if pos < 12 {
                let i = ALPHABET.iter().position(|a| *a == raw[pos]).unwrap_or(0);
                raw[pos] = ALPHABET[(i + d) % 32];
                let typed = String::from_utf8(raw).unwrap_or_default();
                prop_assert_eq!(normalise(&typed), None);
            }
        }
    }
}
