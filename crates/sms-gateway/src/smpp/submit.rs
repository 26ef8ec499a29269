//! A submission as submit_sm bodies (one per SMS part, with the concatenation UDH), and
//! what a submit_sm_resp error status means for it.

use super::pdu::{Address, ShortMessage};
use crate::outbox::{Submission, SubmitResult};
use crate::text::{Encoding, concat_udh, gsm7_unpacked, segment};

/// The submit_sm bodies of `sub`, from `source`.
pub(super) fn parts(source: &Address, sub: &Submission) -> Vec<ShortMessage> {
    let segments = segment(&sub.text);
    let total = segments.parts.len();
    // The same reference on every attempt, so a handset joins resent parts correctly.
    let reference = (sub.id.0 % 256) as u8;
    let octets = |text: &str| match segments.encoding {
        Encoding::Gsm7 => gsm7_unpacked(text).unwrap_or_else(|| text.as_bytes().to_vec()),
        Encoding::Ucs2 => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
    };
    segments
        .parts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut short_message = Vec::new();
            if total > 1 {
                short_message.extend(concat_udh(reference, total as u8, i as u8 + 1));
            }
            short_message.extend(octets(text));
            ShortMessage {
                source: source.clone(),
                dest: Address {
                    ton: 1,
                    npi: 1,
                    addr: sub.to.as_str().trim_start_matches('+').to_string(),
                },
                esm_class: if total > 1 { 0x40 } else { 0 },
                registered_delivery: 1,
                data_coding: match segments.encoding {
                    Encoding::Gsm7 => 0,
                    Encoding::Ucs2 => 8,
                },
                short_message,
                ..ShortMessage::default()
            }
        })
        .collect()
}

/// What a submit_sm_resp error status means for the message (SMPP 3.4 §5.1.3).
pub(super) fn classify(code: u32) -> SubmitResult {
    let reason = format!("submit_sm refused with status {code:#x}");
    match code {
        // The message itself is wrong: length, addresses, classes, flags, times.
        0x01 | 0x0A | 0x0B | 0x15 | 0x26 | 0x27 | 0x43 | 0x61 | 0x62 | 0x66 | 0x67 => {
            SubmitResult::Permanent { reason }
        }
        // Throttling, full queues, system errors and vendor codes: try again later.
        _ => SubmitResult::Retryable {
            reason,
            ambiguous: false,
        },
    }
}
