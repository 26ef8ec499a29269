//! SIP messages as the endpoint sees them: parsed with rsipstack's `sip` module (compact and
//! folded headers, the rsip lineage), then checked and reduced to the fields a user agent needs.
//! Nothing of rsipstack leaves this module.

use rsipstack::sip::{HasHeaders, SipMessage};

use crate::SipError;

/// A request method. Methods rsipstack does not know never reach here: they fail to parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Info,
    Refer,
    Notify,
    Register,
    Update,
    Prack,
    Other,
}

impl Method {
    fn from_token(token: &str) -> Self {
        match token {
            "INVITE" => Self::Invite,
            "ACK" => Self::Ack,
            "BYE" => Self::Bye,
            "CANCEL" => Self::Cancel,
            "OPTIONS" => Self::Options,
            "INFO" => Self::Info,
            "REFER" => Self::Refer,
            "NOTIFY" => Self::Notify,
            "REGISTER" => Self::Register,
            "UPDATE" => Self::Update,
            "PRACK" => Self::Prack,
            _ => Self::Other,
        }
    }
}

/// The header fields every request and response must carry (RFC 3261 §8.1.1), plus what the
/// user agent reads.
#[derive(Clone, Debug)]
pub(crate) struct Common {
    /// Every Via value in order, as received (responses copy them back unchanged).
    pub(crate) vias: Vec<String>,
    pub(crate) branch: String,
    pub(crate) from: String,
    pub(crate) from_tag: Option<String>,
    pub(crate) to: String,
    pub(crate) to_tag: Option<String>,
    pub(crate) call_id: String,
    pub(crate) cseq: u32,
    pub(crate) cseq_method: String,
    pub(crate) body: Vec<u8>,
    /// All headers, canonical names (compact forms expanded), in order.
    pub(crate) headers: Vec<(String, String)>,
}

impl Common {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) method_token: String,
    pub(crate) uri: String,
    pub(crate) common: Common,
}

#[derive(Clone, Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) common: Common,
}

#[derive(Clone, Debug)]
pub(crate) enum Message {
    Request(Request),
    Response(Response),
}

/// Parses and checks one message (a whole datagram, or one framed message from a stream).
pub(crate) fn parse(data: &[u8]) -> Result<Message, SipError> {
    let message = SipMessage::try_from(data).map_err(|e| SipError::Malformed(e.to_string()))?;
    match message {
        SipMessage::Request(mut r) => {
            let method_token = r.method.to_string();
            let uri = r.uri.to_string();
            let body = std::mem::take(&mut r.body);
            let common = common(r.headers(), body, data)?;
            if !common.cseq_method.eq_ignore_ascii_case(&method_token) {
                return Err(SipError::Malformed(format!(
                    "CSeq method {} does not match request method {method_token}",
                    common.cseq_method
                )));
            }
            // The Request-Line as sent: exactly three elements, single spaces (RFC 3261 §7.1;
            // RFC 4475 lwsstart, lwsruri, ltgtruri), and a URI scheme we serve.
            let line = data.split(|b| *b == b'\r').next().unwrap_or_default();
            let line = String::from_utf8_lossy(line);
            let parts: Vec<&str> = line.split(' ').collect();
            if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
                return Err(SipError::Malformed(format!("bad Request-Line {line:?}")));
            }
            if parts[2] != "SIP/2.0" {
                return Err(SipError::VersionNotSupported(parts[2].to_string()));
            }
            let raw_uri = parts[1];
            if raw_uri.starts_with('<') {
                return Err(SipError::Malformed(format!(
                    "Request-URI {raw_uri} is enclosed in <>"
                )));
            }
            if raw_uri.contains('?') {
                // RFC 3261 §19.1.1: URI headers are not allowed in a Request-URI (escruri).
                return Err(SipError::Malformed(format!(
                    "Request-URI {raw_uri} carries headers"
                )));
            }
            if !(raw_uri.starts_with("sip:")
                || raw_uri.starts_with("sips:")
                || raw_uri.starts_with("tel:"))
            {
                return Err(SipError::UnsupportedScheme(raw_uri.to_string()));
            }
            Ok(Message::Request(Request {
                method: Method::from_token(&method_token),
                method_token,
                uri,
                common,
            }))
        }
        SipMessage::Response(mut r) => {
            let status = u16::from(r.status_code.clone());
            let body = std::mem::take(&mut r.body);
            let common = common(r.headers(), body, data)?;
            Ok(Message::Response(Response { status, common }))
        }
    }
}

fn common(
    headers: &rsipstack::sip::Headers,
    body: Vec<u8>,
    raw: &[u8],
) -> Result<Common, SipError> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|h| (h.name().to_string(), h.value().to_string()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .ok_or_else(|| SipError::Malformed(format!("missing {name} header")))
    };
    let vias: Vec<String> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Via"))
        .map(|(_, v)| v.clone())
        .collect();
    let top_via = vias
        .first()
        .ok_or_else(|| SipError::Malformed("missing Via header".into()))?;
    let top_via = top_via.split(',').next().unwrap_or_default();
    for name in SINGLE_VALUED {
        if headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
            > 1
        {
            return Err(SipError::Malformed(format!(
                "{name} appears more than once"
            )));
        }
    }
    for (name, value) in &headers {
        if ["Via", "From", "To", "Contact"]
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
            && is_broken_value(value)
        {
            return Err(SipError::Malformed(format!(
                "empty parameter in {name}: {value}"
            )));
        }
    }
    let from = find("From")?;
    let to = find("To")?;
    let call_id = find("Call-ID")?;
    let cseq = find("CSeq")?;
    // RFC 2543 peers send no branch: key their transactions by what identifies them instead.
    let branch = match header_param(top_via, "branch") {
        Some(b) if !b.is_empty() => b.to_string(),
        _ => format!(
            "rfc2543;{};{call_id};{}",
            top_via.trim(),
            cseq.split_whitespace().next().unwrap_or("")
        ),
    };
    let mut parts = cseq.split_whitespace();
    let number = parts
        .next()
        .and_then(|n| n.parse::<u32>().ok())
        .ok_or_else(|| SipError::Malformed(format!("bad CSeq {cseq:?}")))?;
    let cseq_method = parts
        .next()
        .ok_or_else(|| SipError::Malformed(format!("bad CSeq {cseq:?}")))?
        .to_string();
    let declared = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
        .map(|(_, v)| v.trim());
    let mut body = body;
    if declared.is_none() && body.is_empty() {
        // RFC 3261 §18.3: without Content-Length a datagram's body runs to its end (RFC 2543
        // peers, inv2543). Streams never get here with a body: the framer reads it as 0.
        body = raw[raw.len() - body_len(raw)..].to_vec();
    }
    if let Some(declared) = declared {
        let declared: usize = declared
            .parse()
            .map_err(|_| SipError::Malformed(format!("bad Content-Length {declared:?}")))?;
        let available = body_len(raw);
        if declared > available {
            return Err(SipError::Malformed(format!(
                "Content-Length {declared} but only {available} body bytes"
            )));
        }
    }
    Ok(Common {
        branch,
        vias,
        from_tag: header_param(&from, "tag").map(str::to_string),
        to_tag: header_param(&to, "tag").map(str::to_string),
        from,
        to,
        call_id,
        cseq: number,
        cseq_method,
        body,
        headers,
    })
}

/// Header fields that may appear once only (RFC 3261 §7.3.1, §20; RFC 4475 multi01, mcl01).
const SINGLE_VALUED: [&str; 7] = [
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Max-Forwards",
    "Content-Length",
    "Content-Type",
];

/// Whether a Via, From, To or Contact value has an empty parameter or list element
/// (`;;`, `;,`, a trailing `,`) outside quotes and `<…>` (RFC 4475 badinv01), or an
/// unterminated quoted string or `<` (quotbal).
fn is_broken_value(value: &str) -> bool {
    let mut nesting = Nesting::default();
    let mut segment_empty = false; // just after a separator
    for c in value.chars() {
        if nesting.outside(c) && (c == ';' || c == ',') {
            if segment_empty {
                return true;
            }
            segment_empty = true;
        } else if !c.is_whitespace() {
            segment_empty = false;
        }
    }
    segment_empty || nesting.open()
}

/// Where a scan through a header value stands: inside a quoted string (with its
/// backslash escapes), inside `<…>`.
#[derive(Debug, Default)]
pub(crate) struct Nesting {
    quoted: bool,
    bracket: bool,
    escaped: bool,
}

impl Nesting {
    /// Takes the next character: true if it stands outside quotes and `<…>` (where a `,` or
    /// `;` separates), false for the quotes and brackets themselves and all inside them.
    pub(crate) fn outside(&mut self, c: char) -> bool {
        if self.escaped {
            self.escaped = false;
            return false;
        }
        match c {
            '\\' if self.quoted => self.escaped = true,
            '"' => self.quoted = !self.quoted,
            '<' if !self.quoted => self.bracket = true,
            '>' if !self.quoted => self.bracket = false,
            _ => return !self.quoted && !self.bracket,
        }
        false
    }

    /// A quoted string or `<` is still open.
    pub(crate) fn open(&self) -> bool {
        self.quoted || self.bracket
    }
}

/// Bytes after the blank line that ends the headers.
fn body_len(raw: &[u8]) -> usize {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |p| raw.len() - p - 4)
}

/// A name-addr or addr-spec header value cut into its parts, honouring quoted strings (RFC 3261
/// §25.1): a `>` or `;` inside a display name or a quoted parameter value (RFC 5626's
/// `+sip.instance="<urn:uuid:…>"`) does not end anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NameAddr<'a> {
    /// The URI as sent, without `<>`.
    pub(crate) uri: &'a str,
    /// The header parameters after the URI, from the first `;` (empty if none).
    pub(crate) params: &'a str,
}

impl<'a> NameAddr<'a> {
    /// Cuts `value`. Without `<…>` the URI runs to the first `;` (RFC 3261 §20: an addr-spec's
    /// parameters are header parameters). A value whose `<` is never closed is all URI.
    pub(crate) fn parse(value: &'a str) -> Self {
        let value = value.trim();
        let Some(open) = find_unquoted(value, 0, '<') else {
            let (uri, params) = match find_unquoted(value, 0, ';') {
                Some(at) => (&value[..at], &value[at..]),
                None => (value, ""),
            };
            return Self {
                uri: uri.trim(),
                params,
            };
        };
        // Inside `<…>` nothing is quoted: a URI has no quoted strings.
        let Some(close) = value[open..].find('>').map(|at| open + at) else {
            return Self {
                uri: value[open + 1..].trim(),
                params: "",
            };
        };
        let rest = &value[close + 1..];
        let params = match find_unquoted(rest, 0, ';') {
            Some(at) => &rest[at..],
            None => "",
        };
        Self {
            uri: value[open + 1..close].trim(),
            params,
        }
    }

    /// A header parameter's value (`;tag=abc` → `abc`; a flag → `""`), quotes removed.
    pub(crate) fn param(&self, name: &str) -> Option<&'a str> {
        param_in(self.params, name)
    }
}

/// The byte offset of the first `c` at or after `from` outside a quoted string.
fn find_unquoted(value: &str, from: usize, c: char) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (i, ch) in value[from..].char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match ch {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ch if ch == c && !quoted => return Some(from + i),
            _ => {}
        }
    }
    None
}

/// A parameter of a `;a=1;b;c="x;y"` list, quote-aware.
fn param_in<'a>(mut params: &'a str, name: &str) -> Option<&'a str> {
    while let Some(rest) = params
        .strip_prefix(';')
        .or_else(|| find_unquoted(params, 0, ';').map(|at| &params[at + 1..]))
    {
        let end = find_unquoted(rest, 0, ';').unwrap_or(rest.len());
        let p = &rest[..end];
        let (key, val) = p.split_once('=').unwrap_or((p, ""));
        if key.trim().eq_ignore_ascii_case(name) {
            let val = val.trim();
            return Some(
                val.strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(val),
            );
        }
        params = &rest[end..];
    }
    None
}

/// A header parameter (`;name=value`) of a name-addr or Via value, outside any `<…>` URI and
/// any quoted string.
pub(crate) fn header_param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    NameAddr::parse(value).param(name)
}

/// The URI of a name-addr (`"Bob" <sip:bob@host>;tag=x` → `sip:bob@host`) or addr-spec.
pub(crate) fn addr_uri(value: &str) -> &str {
    NameAddr::parse(value).uri
}

/// The user part of a SIP URI (`sip:+15551234@host` → `+15551234`), or the tel number.
pub(crate) fn uri_user(uri: &str) -> &str {
    let rest = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))
        .or_else(|| uri.strip_prefix("tel:"))
        .unwrap_or(uri);
    let rest = rest.split(['?', ';']).next().unwrap_or(rest);
    match rest.split_once('@') {
        Some((user, _)) => user.split(':').next().unwrap_or(user),
        None if uri.starts_with("tel:") => rest,
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_and_uris() {
        let to = "\"Bob\" <sip:+1555@h;transport=udp>;tag=abc";
        assert_eq!(header_param(to, "tag"), Some("abc"));
        assert_eq!(header_param("<sip:a@b;tag=no>", "tag"), None);
        assert_eq!(addr_uri(to), "sip:+1555@h;transport=udp");
        assert_eq!(addr_uri("sip:x@y;tag=1"), "sip:x@y");
        assert_eq!(uri_user("sip:+1555@h;transport=udp"), "+1555");
        assert_eq!(uri_user("tel:+1555;phone-context=x"), "+1555");
        assert_eq!(uri_user("sip:host"), "");
        let via = "SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK1";
        assert_eq!(header_param(via, "branch"), Some("z9hG4bK1"));
        assert_eq!(header_param(via, "rport"), Some(""));
    }

    /// linphone 5.1 sends an RFC 5626 Contact whose quoted `+sip.instance` holds `<…>`. We used
    /// to cut the URI at the last `>`, so every BYE and REFER to linphone went to a garbled
    /// Request-URI (`sip:127.0.0.1:5091;transport=udp>;+sip.instance="<urn:uuid:…`), which it
    /// ignored: the call stayed up on the phone after ivrd had ended it.
    #[test]
    fn quoted_angle_brackets_do_not_end_the_uri() {
        let contact =
            "<sip:127.0.0.1:5091;transport=udp>;+sip.instance=\"<urn:uuid:8e2a-11>\";expires=60";
        assert_eq!(addr_uri(contact), "sip:127.0.0.1:5091;transport=udp");
        assert_eq!(
            header_param(contact, "+sip.instance"),
            Some("<urn:uuid:8e2a-11>")
        );
        assert_eq!(header_param(contact, "expires"), Some("60"));
        let from = "\"Smith; \\\"Bob\\\" <x>\" <sip:bob@h>;tag=7;x=\"a;tag=8\"";
        assert_eq!(addr_uri(from), "sip:bob@h");
        assert_eq!(header_param(from, "tag"), Some("7"));
        assert_eq!(header_param(from, "x"), Some("a;tag=8"));
        assert_eq!(header_param("sip:bob@h;tag=9", "tag"), Some("9"));
        assert_eq!(addr_uri("<sip:unclosed@h"), "sip:unclosed@h");
    }

    #[test]
    fn compact_and_folded_headers_parse() {
        let raw = "INVITE sip:ivr@127.0.0.1 SIP/2.0\r\n\
            v: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKabc\r\n\
            f: <sip:alice@127.0.0.1>\r\n ;tag=1\r\n\
            t: <sip:ivr@127.0.0.1>\r\n\
            i: c1@127.0.0.1\r\n\
            CSeq: 1 INVITE\r\n\
            l: 0\r\n\r\n";
        let Ok(Message::Request(r)) = parse(raw.as_bytes()) else {
            panic!("did not parse")
        };
        assert_eq!(r.method, Method::Invite);
        assert_eq!(r.common.call_id, "c1@127.0.0.1");
        assert_eq!(r.common.from_tag.as_deref(), Some("1"));
        assert_eq!(r.common.branch, "z9hG4bKabc");
    }

    #[test]
    fn content_length_beyond_the_datagram_is_malformed() {
        let raw = "OPTIONS sip:ivr@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
            From: <sip:a@h>;tag=1\r\nTo: <sip:ivr@h>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\
            Content-Length: 50\r\n\r\nshort";
        assert!(matches!(parse(raw.as_bytes()), Err(SipError::Malformed(_))));
    }
}
