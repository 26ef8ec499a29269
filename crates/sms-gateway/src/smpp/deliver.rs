//! What a `deliver_sm` from the SMSC means: a delivery receipt (SMPP 3.4 §4.6.1, esm_class
//! 0x04, with the Appendix B text and/or the receipted_message_id and message_state
//! parameters), or a mobile-originated message whose text we decode by `data_coding`.

use super::pdu::{ShortMessage, tag};
use crate::outbox::{Inbound, ReceiptStatus};
use crate::text::gsm7_decode;

/// What a deliver_sm carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// A delivery receipt.
    Receipt {
        /// The SMSC's id of the message.
        smsc_id: String,
        /// Whether the id came from receipted_message_id (which quotes submit_sm_resp's
        /// form) rather than from the receipt text (whose number base varies by SMSC).
        id_from_tlv: bool,
        /// What it says.
        status: ReceiptStatus,
        /// The receipt text, for the store.
        raw: String,
    },
    /// A message from a handset.
    Inbound(Inbound),
}

/// Reads a deliver_sm; `Err` names what is missing.
pub fn read(sm: &ShortMessage) -> Result<Delivery, String> {
    let octets = match (sm.short_message.is_empty(), sm.tlv(tag::MESSAGE_PAYLOAD)) {
        (true, Some(payload)) => payload,
        _ => &sm.short_message,
    };
    let octets = if sm.esm_class & 0x40 != 0 {
        // UDHI: the first octet is the header's length.
        let udh = usize::from(*octets.first().ok_or("UDHI set on an empty message")?) + 1;
        octets.get(udh..).ok_or("UDH longer than the message")?
    } else {
        octets
    };
    let text = decode_text(sm.data_coding, octets);
    if sm.esm_class & 0x3C == 0x04 {
        return receipt(sm, text);
    }
    let from = match sm.source.ton {
        1 if !sm.source.addr.starts_with('+') => format!("+{}", sm.source.addr),
        _ => sm.source.addr.clone(),
    };
    Ok(Delivery::Inbound(Inbound {
        from,
        to: sm.dest.addr.clone(),
        text,
        media: Vec::new(),
    }))
}

fn receipt(sm: &ShortMessage, text: String) -> Result<Delivery, String> {
    let field = |name: &str| -> Option<String> {
        let lower = text.to_ascii_lowercase();
        let at = lower.find(&format!("{name}:"))? + name.len() + 1;
        text[at..].split_whitespace().next().map(str::to_string)
    };
    let tlv_id = sm
        .tlv(tag::RECEIPTED_MESSAGE_ID)
        .map(|v| {
            String::from_utf8_lossy(v)
                .trim_end_matches('\0')
                .to_string()
        })
        .filter(|s| !s.is_empty());
    let id_from_tlv = tlv_id.is_some();
    let smsc_id = tlv_id
        .or_else(|| field("id"))
        .ok_or("a receipt without a message id")?;
    let stat = match sm.tlv(tag::MESSAGE_STATE) {
        Some(&[state]) => match state {
            1 => "ENROUTE",
            2 => "DELIVRD",
            3 => "EXPIRED",
            4 => "DELETED",
            5 => "UNDELIV",
            6 => "ACCEPTD",
            8 => "REJECTD",
            _ => "UNKNOWN",
        }
        .to_string(),
        _ => field("stat")
            .ok_or("a receipt without a state")?
            .to_ascii_uppercase(),
    };
    let status = match stat.as_str() {
        "DELIVRD" | "DELIVERED" => ReceiptStatus::Delivered,
        "ENROUTE" | "ACCEPTD" | "ACCEPTED" | "BUFFRED" => ReceiptStatus::InTransit,
        _ => ReceiptStatus::Failed(match field("err") {
            Some(err) => format!("{stat} err:{err}"),
            None => stat,
        }),
    };
    Ok(Delivery::Receipt {
        smsc_id,
        id_from_tlv,
        status,
        raw: text,
    })
}

/// Text of `octets` in `data_coding` (SMPP 3.4 §5.2.19; GSM 03.38 coding groups).
pub fn decode_text(data_coding: u8, octets: &[u8]) -> String {
    match data_coding {
        0 => gsm7_decode(octets),
        // IA5 and Latin-1: one octet, one code point.
        1 | 3 => octets.iter().map(|&b| char::from(b)).collect(),
        8 => {
            let units: Vec<u16> = octets
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        // Message class group: bit 2 clear means the default alphabet.
        dc if dc & 0xF4 == 0xF0 => gsm7_decode(octets),
        _ => String::from_utf8_lossy(octets).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smpp::pdu::Address;

    fn sm(esm_class: u8, data_coding: u8, text: &[u8]) -> ShortMessage {
        ShortMessage {
            source: Address {
                ton: 1,
                npi: 1,
                addr: "4915112345678".into(),
            },
            dest: Address {
                ton: 0,
                npi: 0,
                addr: "4930123".into(),
            },
            esm_class,
            data_coding,
            short_message: text.to_vec(),
            ..ShortMessage::default()
        }
    }

    #[test]
    fn appendix_b_receipt_text() {
        let text = b"id:0123456789 sub:001 dlvrd:001 submit date:2611221200 done date:2611221201 stat:DELIVRD err:000 text:Hello";
        let Delivery::Receipt {
            smsc_id, status, ..
        } = read(&sm(0x04, 0, text)).unwrap()
        else {
            panic!("not a receipt")
        };
        assert_eq!(smsc_id, "0123456789");
        assert_eq!(status, ReceiptStatus::Delivered);
        let text = b"id:77 sub:001 dlvrd:000 submit date:2611221200 done date:2611221201 stat:UNDELIV err:034 text:";
        let Ok(Delivery::Receipt { status, .. }) = read(&sm(0x04, 0, text)) else {
            panic!()
        };
        assert_eq!(status, ReceiptStatus::Failed("UNDELIV err:034".into()));
    }

    #[test]
    fn receipt_by_tlvs_only() {
        let mut m = sm(0x04, 0, b"");
        m.tlvs = vec![
            (tag::RECEIPTED_MESSAGE_ID, b"abc\0".to_vec()),
            (tag::MESSAGE_STATE, vec![5]),
        ];
        let Ok(Delivery::Receipt {
            smsc_id, status, ..
        }) = read(&m)
        else {
            panic!()
        };
        assert_eq!(smsc_id, "abc");
        assert!(matches!(status, ReceiptStatus::Failed(_)));
        assert!(read(&sm(0x04, 0, b"stat:DELIVRD")).is_err());
    }

    #[test]
    fn inbound_texts_by_coding() {
        let Ok(Delivery::Inbound(m)) = read(&sm(0, 0, b"STOP")) else {
            panic!()
        };
        assert_eq!(
            (m.from.as_str(), m.text.as_str()),
            ("+4915112345678", "STOP")
        );
        let ucs2: Vec<u8> = "СТОП".encode_utf16().flat_map(u16::to_be_bytes).collect();
        let Ok(Delivery::Inbound(m)) = read(&sm(0, 8, &ucs2)) else {
            panic!()
        };
        assert_eq!(m.text, "СТОП");
        let mut with_udh = vec![5, 0, 3, 9, 2, 1];
        with_udh.extend(b"part");
        let Ok(Delivery::Inbound(m)) = read(&sm(0x40, 0, &with_udh)) else {
            panic!()
        };
        assert_eq!(m.text, "part");
        assert!(read(&sm(0x40, 0, &[9, 1])).is_err());
        assert_eq!(decode_text(3, &[0x47, 0x72, 0xFC, 0xDF]), "Grüß");
    }
}
