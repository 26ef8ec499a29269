//! The SMPP 3.4 PDUs an ESME transceiver needs, encoded and decoded on byte slices
//! (SMPP 3.4 §4). Any other command decodes as [`Body::Other`] so the session can answer it
//! with `generic_nack`.

use crate::SmsError;

/// Command ids (SMPP 3.4 §5.1.2.1).
pub mod id {
    /// generic_nack.
    pub const GENERIC_NACK: u32 = 0x8000_0000;
    /// bind_transceiver.
    pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
    /// submit_sm.
    pub const SUBMIT_SM: u32 = 0x0000_0004;
    /// deliver_sm.
    pub const DELIVER_SM: u32 = 0x0000_0005;
    /// unbind.
    pub const UNBIND: u32 = 0x0000_0006;
    /// enquire_link.
    pub const ENQUIRE_LINK: u32 = 0x0000_0015;
    /// The bit that makes a command id a response id.
    pub const RESP: u32 = 0x8000_0000;
}

/// Command statuses we send or act on (SMPP 3.4 §5.1.3).
pub mod status {
    /// No error.
    pub const OK: u32 = 0x00;
    /// Message length is invalid.
    pub const INVMSGLEN: u32 = 0x01;
    /// Command length is invalid.
    pub const INVCMDLEN: u32 = 0x02;
    /// Invalid command id.
    pub const INVCMDID: u32 = 0x03;
    /// Incorrect bind status for the command.
    pub const INVBNDSTS: u32 = 0x04;
    /// System error.
    pub const SYSERR: u32 = 0x08;
    /// Invalid source address.
    pub const INVSRCADR: u32 = 0x0A;
    /// Invalid destination address.
    pub const INVDSTADR: u32 = 0x0B;
    /// Message queue full.
    pub const MSGQFUL: u32 = 0x14;
    /// submit_sm failed.
    pub const SUBMITFAIL: u32 = 0x45;
    /// Throttling error.
    pub const THROTTLED: u32 = 0x58;
    /// Delivery failure (for deliver_sm_resp).
    pub const DELIVERYFAILURE: u32 = 0xFE;
}

/// Optional parameter tags we read or write (SMPP 3.4 §5.3.2).
pub mod tag {
    /// receipted_message_id.
    pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
    /// message_payload.
    pub const MESSAGE_PAYLOAD: u16 = 0x0424;
    /// message_state.
    pub const MESSAGE_STATE: u16 = 0x0427;
}

/// Longest PDU we accept; SMPP sets no limit, real ones stay far below.
pub const MAX_PDU: usize = 64 * 1024;

/// A source or destination address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Address {
    /// Type of number (1 international, 5 alphanumeric, …).
    pub ton: u8,
    /// Numbering plan (1 E.164).
    pub npi: u8,
    /// Digits without `+`, or an alphanumeric sender.
    pub addr: String,
}

/// The body of submit_sm and deliver_sm (same layout, SMPP 3.4 §4.4.1 and §4.6.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShortMessage {
    /// service_type.
    pub service_type: String,
    /// Originator.
    pub source: Address,
    /// Recipient.
    pub dest: Address,
    /// esm_class (0x40 UDHI; 0x04 on deliver_sm: a delivery receipt).
    pub esm_class: u8,
    /// protocol_id.
    pub protocol_id: u8,
    /// priority_flag.
    pub priority: u8,
    /// registered_delivery (1: a receipt on final outcome).
    pub registered_delivery: u8,
    /// data_coding (0 SMSC default/GSM-7, 3 Latin-1, 8 UCS-2).
    pub data_coding: u8,
    /// The octets, UDH included when `esm_class` has UDHI.
    pub short_message: Vec<u8>,
    /// Optional parameters, in order.
    pub tlvs: Vec<(u16, Vec<u8>)>,
}

impl ShortMessage {
    /// The value of optional parameter `tag`.
    pub fn tlv(&self, tag: u16) -> Option<&[u8]> {
        self.tlvs
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_slice())
    }
}

/// What a PDU carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// bind_transceiver.
    BindTransceiver {
        /// system_id.
        system_id: String,
        /// password.
        password: String,
        /// system_type.
        system_type: String,
    },
    /// bind_transceiver_resp (the SMSC's system_id; empty on error).
    BindTransceiverResp {
        /// system_id.
        system_id: String,
    },
    /// submit_sm.
    SubmitSm(ShortMessage),
    /// submit_sm_resp (the SMSC's message id; empty on error).
    SubmitSmResp {
        /// message_id.
        message_id: String,
    },
    /// deliver_sm.
    DeliverSm(ShortMessage),
    /// deliver_sm_resp.
    DeliverSmResp,
    /// enquire_link.
    EnquireLink,
    /// enquire_link_resp.
    EnquireLinkResp,
    /// unbind.
    Unbind,
    /// unbind_resp.
    UnbindResp,
    /// generic_nack.
    GenericNack,
    /// Any other command, body kept raw.
    Other {
        /// command_id.
        command_id: u32,
    },
}

/// One PDU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pdu {
    /// command_status.
    pub status: u32,
    /// sequence_number.
    pub seq: u32,
    /// The command and its fields.
    pub body: Body,
}

/// What one frame held: a PDU, or a header whose body we could not read (answered with
/// `generic_nack` or an error response; the stream stays in step).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A PDU.
    Pdu(Pdu),
    /// A well-framed PDU with a broken body.
    Bad {
        /// command_id.
        command_id: u32,
        /// sequence_number.
        seq: u32,
        /// What was wrong.
        reason: String,
    },
}

impl Pdu {
    /// The command_id of this PDU.
    pub fn command_id(&self) -> u32 {
        match &self.body {
            Body::BindTransceiver { .. } => id::BIND_TRANSCEIVER,
            Body::BindTransceiverResp { .. } => id::BIND_TRANSCEIVER | id::RESP,
            Body::SubmitSm(_) => id::SUBMIT_SM,
            Body::SubmitSmResp { .. } => id::SUBMIT_SM | id::RESP,
            Body::DeliverSm(_) => id::DELIVER_SM,
            Body::DeliverSmResp => id::DELIVER_SM | id::RESP,
            Body::EnquireLink => id::ENQUIRE_LINK,
            Body::EnquireLinkResp => id::ENQUIRE_LINK | id::RESP,
            Body::Unbind => id::UNBIND,
            Body::UnbindResp => id::UNBIND | id::RESP,
            Body::GenericNack => id::GENERIC_NACK,
            Body::Other { command_id } => *command_id,
        }
    }

    /// The octets on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0; 4];
        out.extend(self.command_id().to_be_bytes());
        out.extend(self.status.to_be_bytes());
        out.extend(self.seq.to_be_bytes());
        match &self.body {
            Body::BindTransceiver {
                system_id,
                password,
                system_type,
            } => {
                cstr(&mut out, system_id);
                cstr(&mut out, password);
                cstr(&mut out, system_type);
                // interface_version 3.4, addr_ton, addr_npi, address_range.
                out.extend([0x34, 0, 0, 0]);
            }
            Body::BindTransceiverResp { system_id } => cstr(&mut out, system_id),
            Body::SubmitSm(sm) | Body::DeliverSm(sm) => encode_sm(&mut out, sm),
            Body::SubmitSmResp { message_id } => cstr(&mut out, message_id),
            // deliver_sm_resp carries an unused, empty message_id.
            Body::DeliverSmResp => out.push(0),
            Body::EnquireLink
            | Body::EnquireLinkResp
            | Body::Unbind
            | Body::UnbindResp
            | Body::GenericNack
            | Body::Other { .. } => {}
        }
        let len = out.len() as u32;
        out[..4].copy_from_slice(&len.to_be_bytes());
        out
    }
}

fn cstr(out: &mut Vec<u8>, s: &str) {
    out.extend(s.bytes().filter(|&b| b != 0));
    out.push(0);
}

fn encode_sm(out: &mut Vec<u8>, sm: &ShortMessage) {
    cstr(out, &sm.service_type);
    out.extend([sm.source.ton, sm.source.npi]);
    cstr(out, &sm.source.addr);
    out.extend([sm.dest.ton, sm.dest.npi]);
    cstr(out, &sm.dest.addr);
    out.extend([sm.esm_class, sm.protocol_id, sm.priority]);
    // schedule_delivery_time and validity_period: immediately, SMSC default.
    out.extend([0, 0]);
    out.extend([sm.registered_delivery, 0, sm.data_coding, 0]);
    let short = &sm.short_message[..sm.short_message.len().min(254)];
    out.push(short.len() as u8);
    out.extend(short);
    for (tag, value) in &sm.tlvs {
        out.extend(tag.to_be_bytes());
        out.extend((value.len() as u16).to_be_bytes());
        out.extend(value);
    }
}

/// Takes one frame off the front of `buf`: `Ok(None)` until a whole PDU is there, then the
/// PDU and the octets it took. An impossible length is an error: the stream cannot be
/// resynchronised and the connection must close.
pub fn decode(buf: &[u8]) -> Result<Option<(Decoded, usize)>, SmsError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if !(16..=MAX_PDU).contains(&len) {
        return Err(SmsError::Smpp(format!("command_length {len} out of range")));
    }
    if buf.len() < len {
        return Ok(None);
    }
    let word = |i: usize| u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    let (command_id, status, seq) = (word(4), word(8), word(12));
    let decoded = match decode_body(command_id, status, &buf[16..len]) {
        Ok(body) => Decoded::Pdu(Pdu { status, seq, body }),
        Err(reason) => Decoded::Bad {
            command_id,
            seq,
            reason,
        },
    };
    Ok(Some((decoded, len)))
}

/// A cursor over a PDU body.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self, field: &str) -> Result<u8, String> {
        let (&b, rest) = self
            .rest
            .split_first()
            .ok_or_else(|| format!("body ends before {field}"))?;
        self.rest = rest;
        Ok(b)
    }

    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err(format!("body ends inside {field}"));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn cstr(&mut self, field: &str) -> Result<String, String> {
        let end = self
            .rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| format!("{field} is not NUL-terminated"))?;
        let s = String::from_utf8_lossy(&self.rest[..end]).into_owned();
        self.rest = &self.rest[end + 1..];
        Ok(s)
    }

    fn address(&mut self, field: &str) -> Result<Address, String> {
        Ok(Address {
            ton: self.u8(field)?,
            npi: self.u8(field)?,
            addr: self.cstr(field)?,
        })
    }
}

fn decode_body(command_id: u32, status: u32, body: &[u8]) -> Result<Body, String> {
    let mut r = Reader { rest: body };
    // An error response may come without its body (SMPP 3.4 §3.3.1 allows it).
    let resp_field = |r: &mut Reader<'_>, field: &str| -> Result<String, String> {
        if r.rest.is_empty() && status != status::OK {
            Ok(String::new())
        } else {
            r.cstr(field)
        }
    };
    Ok(match command_id {
        id::BIND_TRANSCEIVER => Body::BindTransceiver {
            system_id: r.cstr("system_id")?,
            password: r.cstr("password")?,
            system_type: r.cstr("system_type")?,
        },
        x if x == id::BIND_TRANSCEIVER | id::RESP => Body::BindTransceiverResp {
            system_id: resp_field(&mut r, "system_id")?,
        },
        id::SUBMIT_SM => Body::SubmitSm(decode_sm(&mut r)?),
        x if x == id::SUBMIT_SM | id::RESP => Body::SubmitSmResp {
            message_id: resp_field(&mut r, "message_id")?,
        },
        id::DELIVER_SM => Body::DeliverSm(decode_sm(&mut r)?),
        x if x == id::DELIVER_SM | id::RESP => Body::DeliverSmResp,
        id::ENQUIRE_LINK => Body::EnquireLink,
        x if x == id::ENQUIRE_LINK | id::RESP => Body::EnquireLinkResp,
        id::UNBIND => Body::Unbind,
        x if x == id::UNBIND | id::RESP => Body::UnbindResp,
        id::GENERIC_NACK => Body::GenericNack,
        command_id => Body::Other { command_id },
    })
}

fn decode_sm(r: &mut Reader<'_>) -> Result<ShortMessage, String> {
    let service_type = r.cstr("service_type")?;
    let source = r.address("source_addr")?;
    let dest = r.address("destination_addr")?;
    let esm_class = r.u8("esm_class")?;
    let protocol_id = r.u8("protocol_id")?;
    let priority = r.u8("priority_flag")?;
    r.cstr("schedule_delivery_time")?;
    r.cstr("validity_period")?;
    let registered_delivery = r.u8("registered_delivery")?;
    r.u8("replace_if_present_flag")?;
    let data_coding = r.u8("data_coding")?;
    r.u8("sm_default_msg_id")?;
    let sm_length = r.u8("sm_length")? as usize;
    let short_message = r.take(sm_length, "short_message")?.to_vec();
    let mut tlvs = Vec::new();
    while !r.rest.is_empty() {
        let t = r.take(4, "an optional parameter header")?;
        let (tag, len) = (
            u16::from_be_bytes([t[0], t[1]]),
            u16::from_be_bytes([t[2], t[3]]),
        );
        tlvs.push((tag, r.take(len as usize, "an optional parameter")?.to_vec()));
    }
    Ok(ShortMessage {
        service_type,
        source,
        dest,
        esm_class,
        protocol_id,
        priority,
        registered_delivery,
        data_coding,
        short_message,
        tlvs,
    })
}
