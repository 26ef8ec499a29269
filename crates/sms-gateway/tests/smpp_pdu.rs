//! The SMPP codec against octets from an independent implementation: each vector was made
//! with the `smpp34` Python package (1.5.0, `SubmitSm(...).encode()` / `DeliverSm(...)`),
//! not with our encoder.

use sms_gateway::smpp::pdu::{self, Address, Body, Decoded, Pdu, ShortMessage, tag};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `SubmitSm("4930123", "4915112345678", b"hello", ton/npi 1/1 both, registered_delivery=1,
/// sequence_number=7)`.
const SUBMIT_GSM: &str = "0000003a0000000400000000000000070001013439333031323300010134393135313132333435363738000000000000010000000568656c6c6f";
/// `SubmitSm("IVRD", …, UDH 05 00 03 09 02 01 + "Привіт" UTF-16BE, source ton 5, esm_class
/// 0x40, data_coding 8, sequence_number 0x7fffffff)`.
const SUBMIT_UCS2: &str = "0000004400000004000000007fffffff00050049565244000101343931353131323334353637380040000000000100080012050003090201041f04400438043204560442";
/// A receipt: `DeliverSm(esm_class=4, Appendix B text, TLVs receipted_message_id "abc123",
/// message_state 2, sequence_number=42)`.
const RECEIPT: &str = "000000ac00000005000000000000002a0001013439313531313233343536373800000034393330313233000400000000000000006769643a616263313233207375623a30303120646c7672643a303031207375626d697420646174653a3236313132323132303020646f6e6520646174653a3236313132323132303120737461743a44454c49565244206572723a30303020746578743a68656c6c6f001e0007616263313233000427000102";

fn addr(ton: u8, npi: u8, addr: &str) -> Address {
    Address {
        ton,
        npi,
        addr: addr.into(),
    }
}

#[test]
fn submit_sm_encodes_as_smpp34_does() {
    let gsm = Pdu {
        status: 0,
        seq: 7,
        body: Body::SubmitSm(ShortMessage {
            source: addr(1, 1, "4930123"),
            dest: addr(1, 1, "4915112345678"),
            registered_delivery: 1,
            short_message: b"hello".to_vec(),
            ..ShortMessage::default()
        }),
    };
    assert_eq!(gsm.encode(), hex(SUBMIT_GSM));
    let mut octets = vec![5, 0, 3, 9, 2, 1];
    octets.extend("Привіт".encode_utf16().flat_map(u16::to_be_bytes));
    let ucs2 = Pdu {
        status: 0,
        seq: 0x7fff_ffff,
        body: Body::SubmitSm(ShortMessage {
            source: addr(5, 0, "IVRD"),
            dest: addr(1, 1, "4915112345678"),
            esm_class: 0x40,
            registered_delivery: 1,
            data_coding: 8,
            short_message: octets,
            ..ShortMessage::default()
        }),
    };
    assert_eq!(ucs2.encode(), hex(SUBMIT_UCS2));
    // And back.
    let (Decoded::Pdu(back), used) = pdu::decode(&hex(SUBMIT_UCS2)).unwrap().unwrap() else {
        panic!("bad")
    };
    assert_eq!((back, used), (ucs2, SUBMIT_UCS2.len() / 2));
}

#[test]
fn receipt_decodes_with_its_tlvs() {
    let octets = hex(RECEIPT);
    // Incomplete frames wait for more.
    assert_eq!(pdu::decode(&octets[..3]).unwrap(), None);
    assert_eq!(pdu::decode(&octets[..100]).unwrap(), None);
    let (Decoded::Pdu(p), used) = pdu::decode(&octets).unwrap().unwrap() else {
        panic!("bad")
    };
    assert_eq!((p.seq, used), (42, octets.len()));
    let Body::DeliverSm(sm) = p.body else {
        panic!("not deliver_sm")
    };
    assert_eq!(sm.esm_class, 4);
    assert_eq!(sm.source, addr(1, 1, "4915112345678"));
    assert_eq!(sm.tlv(tag::RECEIPTED_MESSAGE_ID), Some(&b"abc123\0"[..]));
    assert_eq!(sm.tlv(tag::MESSAGE_STATE), Some(&[2u8][..]));
    assert!(sm.short_message.starts_with(b"id:abc123 sub:001"));
}

#[test]
fn broken_frames_are_errors_not_panics() {
    // command_length below the header size or absurdly large: the stream is lost.
    assert!(pdu::decode(&[0, 0, 0, 8, 0, 0, 0, 0]).is_err());
    assert!(pdu::decode(&[0x7f, 0, 0, 0]).is_err());
    // A well-framed deliver_sm whose body stops early: answered, the stream stays in step.
    let mut short = hex(RECEIPT);
    short.truncate(40);
    short[..4].copy_from_slice(&40u32.to_be_bytes());
    let (d, used) = pdu::decode(&short).unwrap().unwrap();
    assert!(matches!(d, Decoded::Bad { seq: 42, .. }));
    assert_eq!(used, 40);
    // Every prefix and every single-octet corruption of a real PDU decodes or errs.
    let octets = hex(RECEIPT);
    for cut in 0..octets.len() {
        let _ = pdu::decode(&octets[..cut]);
    }
    for i in 0..octets.len() {
        let mut bad = octets.clone();
        bad[i] ^= 0xFF;
        let _ = pdu::decode(&bad);
    }
}

#[test]
fn error_responses_may_omit_their_body() {
    // submit_sm_resp with ESME_RTHROTTLED (0x58) and no message_id.
    let octets = [0, 0, 0, 16, 0x80, 0, 0, 4, 0, 0, 0, 0x58, 0, 0, 0, 9];
    let (Decoded::Pdu(p), _) = pdu::decode(&octets).unwrap().unwrap() else {
        panic!("bad")
    };
    assert_eq!(p.status, 0x58);
    assert_eq!(
        p.body,
        Body::SubmitSmResp {
            message_id: String::new()
        }
    );
}
