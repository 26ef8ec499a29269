//! Writing SIP messages: responses that copy what RFC 3261 §8.2.6 says to copy, and the
//! in-dialog requests the answering side sends (BYE, REFER).

use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::message::{Request, header_param};
use crate::{Flow, Transport};

/// The standard reason phrase for the statuses we send.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        423 => "Interval Too Brief",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        415 => "Unsupported Media Type",
        406 => "Not Acceptable",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        422 => "Session Interval Too Small",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        603 => "Decline",
        _ => "Unknown",
    }
}

/// What a response adds to the copied headers.
#[derive(Clone, Debug, Default)]
pub(crate) struct Extra {
    pub(crate) headers: Vec<(&'static str, String)>,
    /// Content type and body.
    pub(crate) body: Option<(&'static str, String)>,
}

impl Extra {
    /// Our Contact and an SDP body: what 183, the 2xx to INVITE and the 2xx to re-INVITE carry.
    pub(crate) fn sdp(flow: Flow, sdp: String) -> Self {
        Self {
            headers: vec![("Contact", contact(flow.transport, flow.local))],
            body: Some(("application/sdp", sdp)),
        }
    }
}

/// Our Contact on a flow: the advertised address, with `;transport=tcp` on a stream so that
/// the peer sends its ACK and in-dialog requests over TCP too (RFC 3261 §18.1.1 defaults a
/// Contact without it to UDP).
pub(crate) fn contact(transport: Transport, local: SocketAddr) -> String {
    format!("<sip:ivrd@{local}{}>", transport.uri_param())
}

/// A response to `req` received from `source`. Copies Via (adding `received`/`rport` to the top
/// one when it asks for rport, RFC 3581), From, To (adding our tag), Call-ID and CSeq.
pub(crate) fn response(
    req: &Request,
    source: SocketAddr,
    status: u16,
    user_agent: &str,
    to_tag: &str,
    extra: &Extra,
) -> Vec<u8> {
    let c = &req.common;
    let mut out = String::with_capacity(512);
    let _ = write!(out, "SIP/2.0 {status} {}\r\n", reason(status));
    for (i, via) in c.vias.iter().enumerate() {
        if i == 0 {
            let _ = write!(out, "Via: {}\r\n", stamp_top_via(via, source));
        } else {
            let _ = write!(out, "Via: {via}\r\n");
        }
    }
    let _ = write!(out, "From: {}\r\n", c.from);
    match &c.to_tag {
        None if status > 100 => {
            let _ = write!(out, "To: {};tag={to_tag}\r\n", c.to);
        }
        _ => {
            let _ = write!(out, "To: {}\r\n", c.to);
        }
    }
    let _ = write!(
        out,
        "Call-ID: {}\r\nCSeq: {} {}\r\nServer: {user_agent}\r\n",
        c.call_id, c.cseq, c.cseq_method
    );
    for (name, value) in &extra.headers {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    finish(&mut out, extra.body.as_ref().map(|(t, b)| (*t, b.as_str())));
    out.into_bytes()
}

fn finish(out: &mut String, body: Option<(&str, &str)>) {
    match body {
        Some((content_type, body)) => {
            let _ = write!(
                out,
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
        None => out.push_str("Content-Length: 0\r\n\r\n"),
    }
}

/// RFC 3581: a top Via with a bare `rport` gets the source port, and `received` the source IP.
fn stamp_top_via(via: &str, source: SocketAddr) -> String {
    let (first, rest) = match via.split_once(',') {
        Some((first, rest)) => (first, Some(rest)),
        None => (via, None),
    };
    let mut stamped = String::with_capacity(first.len() + 40);
    if header_param(first, "rport") == Some("") {
        for (i, part) in first.split(';').enumerate() {
            if i > 0 {
                stamped.push(';');
            }
            if part.trim().eq_ignore_ascii_case("rport") {
                let _ = write!(stamped, "rport={}", source.port());
            } else {
                stamped.push_str(part);
            }
        }
        let _ = write!(stamped, ";received={}", source.ip());
    } else {
        stamped.push_str(first);
    }
    if let Some(rest) = rest {
        stamped.push(',');
        stamped.push_str(rest);
    }
    stamped
}

/// The dialog fields an in-dialog request needs.
pub(crate) struct DialogRequest<'a> {
    pub(crate) method: &'a str,
    pub(crate) target: &'a str,
    pub(crate) transport: Transport,
    pub(crate) local: SocketAddr,
    pub(crate) branch: &'a str,
    pub(crate) route_set: &'a [String],
    pub(crate) local_uri: &'a str,
    pub(crate) local_tag: &'a str,
    pub(crate) remote: &'a str,
    pub(crate) call_id: &'a str,
    pub(crate) cseq: u32,
    pub(crate) user_agent: &'a str,
}

/// An in-dialog request (BYE, REFER, INFO) with `headers` and an optional body added.
pub(crate) fn request(
    d: &DialogRequest<'_>,
    headers: &[(&str, String)],
    body: Option<(&str, &str)>,
) -> Vec<u8> {
    let transport = d.transport.via_name();
    let mut out = String::with_capacity(512);
    let _ = write!(
        out,
        "{} {} SIP/2.0\r\nVia: SIP/2.0/{transport} {};branch={};rport\r\nMax-Forwards: 70\r\n",
        d.method, d.target, d.local, d.branch
    );
    for route in d.route_set {
        let _ = write!(out, "Route: {route}\r\n");
    }
    let _ = write!(
        out,
        "From: <{}>;tag={}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} {}\r\n",
        d.local_uri, d.local_tag, d.remote, d.call_id, d.cseq, d.method,
    );
    // RFC 3261 Table 3: Contact is not applicable to BYE and CANCEL; a REGISTER names its own.
    let own = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("Contact"));
    if !matches!(d.method, "BYE" | "CANCEL") && !own {
        let _ = write!(out, "Contact: {}\r\n", contact(d.transport, d.local));
    }
    let _ = write!(out, "User-Agent: {}\r\n", d.user_agent);
    for (name, value) in headers {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    finish(&mut out, body);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rport_is_filled_in() {
        let src: SocketAddr = "192.0.2.7:5071".parse().expect("addr");
        assert_eq!(
            stamp_top_via("SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKx", src),
            "SIP/2.0/UDP 10.0.0.1:5060;rport=5071;branch=z9hG4bKx;received=192.0.2.7"
        );
        assert_eq!(
            stamp_top_via("SIP/2.0/UDP a;branch=1, SIP/2.0/UDP b;branch=2", src),
            "SIP/2.0/UDP a;branch=1, SIP/2.0/UDP b;branch=2"
        );
    }
}
