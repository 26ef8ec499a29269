//! Answering a request that failed to parse or failed our checks. If the raw text still has a
//! request line and the five headers a response needs (Via, From, To, Call-ID, CSeq, compact
//! forms included) it gets 400 Bad Request (416 for a bad URI scheme, 505 for a SIP version
//! other than 2.0) naming the problem in a Warning header; otherwise nothing is sent. ACK is
//! never answered.

use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::SipError;
use crate::build::reason;

pub(crate) fn error_response(
    data: &[u8],
    _source: SocketAddr,
    error: &SipError,
) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(data).ok()?;
    let head = text.split("\r\n\r\n").next()?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next()?;
    let mut parts = request_line.split(' ');
    let method = parts.next()?;
    if method.is_empty() || method == "ACK" || method.starts_with("SIP/") {
        return None;
    }
    let (mut vias, mut from, mut to, mut call_id, mut cseq) = (Vec::new(), None, None, None, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "via" | "v" => vias.push(value),
            "from" | "f" => from = Some(value),
            "to" | "t" => to = Some(value),
            "call-id" | "i" => call_id = Some(value),
            "cseq" => cseq = Some(value),
            _ => {}
        }
    }
    let (from, to, call_id, cseq) = (from?, to?, call_id?, cseq?);
    if vias.is_empty() {
        return None;
    }
    const KNOWN: [&str; 14] = [
        "INVITE",
        "ACK",
        "BYE",
        "CANCEL",
        "OPTIONS",
        "INFO",
        "REFER",
        "NOTIFY",
        "MESSAGE",
        "PRACK",
        "PUBLISH",
        "REGISTER",
        "SUBSCRIBE",
        "UPDATE",
    ];
    let version = request_line.split(' ').filter(|p| !p.is_empty()).nth(2);
    let status = match error {
        SipError::VersionNotSupported(_) => 505,
        _ if version.is_some_and(|v| v.starts_with("SIP/") && v != "SIP/2.0") => 505,
        SipError::UnsupportedScheme(_) => 416,
        SipError::TooLarge(_) => 513,
        // A method nobody here knows (RFC 3261 §8.2.1: 405 is for methods the UAS knows).
        _ if !KNOWN.contains(&method) => 501,
        _ => 400,
    };
    let warning: String = error
        .to_string()
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(120)
        .collect();
    let mut out = String::with_capacity(400);
    let _ = write!(out, "SIP/2.0 {status} {}\r\n", reason(status));
    for via in vias {
        let _ = write!(out, "Via: {via}\r\n");
    }
    let _ = write!(
        out,
        "From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n\
         Warning: 399 ivrd \"{warning}\"\r\nContent-Length: 0\r\n\r\n"
    );
    Some(out.into_bytes())
}
