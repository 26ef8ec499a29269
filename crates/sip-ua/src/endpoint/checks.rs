//! What a UAS checks in a request before acting on it (RFC 3261 §8.2): the method (405 for
//! methods it knows but does not serve, 501 for the rest), the extensions the request requires
//! beyond ours (420), the body type (415) and whether an answer can be written in a type the caller accepts
//! (406). ACK and CANCEL are never refused here.

use crate::build::Extra;
use crate::message::{Method, Request};

/// The methods this UAS serves, for `Allow`.
pub(super) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY, UPDATE, PRACK";

/// The option tags we support (RFC 4028 session timers, RFC 3262 reliable provisionals), for
/// `Supported`; a `Require` of any other gets 420.
pub(super) const SUPPORTED: &str = "timer, 100rel";

/// Methods defined by RFC 3261 and its extensions that we do not serve: 405 with `Allow`.
const KNOWN_UNSERVED: [&str; 5] = ["REGISTER", "MESSAGE", "SUBSCRIBE", "PUBLISH", "REFER"];

/// The refusal for `req`, if it is refused: status and the headers the status calls for.
pub(super) fn refusal(req: &Request) -> Option<(u16, Extra)> {
    if matches!(req.method, Method::Ack | Method::Cancel) {
        return None;
    }
    if matches!(req.method, Method::Refer | Method::Other) {
        let status = match KNOWN_UNSERVED.contains(&req.method_token.as_str()) {
            true => 405,
            false => 501,
        };
        return Some((status, headers(vec![("Allow", ALLOW.into())])));
    }
    // §8.2.2.3: a Require of a tag we do not support is refused with the tags we do not
    // support. (A UAS ignores Proxy-Require.)
    let unsupported: Vec<&str> = req
        .common
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Require"))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|t| {
            !t.is_empty()
                && !SUPPORTED
                    .split(", ")
                    .any(|ours| t.eq_ignore_ascii_case(ours))
        })
        .collect();
    if !unsupported.is_empty() {
        return Some((420, headers(vec![("Unsupported", unsupported.join(", "))])));
    }
    if req.method == Method::Invite {
        // §8.2.3: a body we cannot read.
        if !req.common.body.is_empty() {
            let content_type = req.common.header("Content-Type").unwrap_or_default();
            if !media_type(content_type).eq_ignore_ascii_case("application/sdp") {
                return Some((415, headers(vec![("Accept", "application/sdp".into())])));
            }
        }
        // §8.2.2.2 / RFC 4475 sdp01: our answer is SDP; an Accept without it rules it out.
        if let Some(accept) = req.common.header("Accept")
            && !accepts_sdp(accept)
        {
            return Some((406, headers(vec![("Accept", "application/sdp".into())])));
        }
    }
    None
}

fn headers(headers: Vec<(&'static str, String)>) -> Extra {
    Extra {
        headers,
        ..Extra::default()
    }
}

/// `type/subtype` of a Content-Type or Accept element, without parameters.
fn media_type(value: &str) -> &str {
    value.split(';').next().unwrap_or_default().trim()
}

/// Whether an Accept value admits application/sdp. An empty Accept admits nothing
/// (RFC 3261 §20.1).
fn accepts_sdp(accept: &str) -> bool {
    accept.split(',').map(media_type).any(|t| {
        t.eq_ignore_ascii_case("application/sdp")
            || t.eq_ignore_ascii_case("application/*")
            || t == "*/*"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_lists() {
        assert!(accepts_sdp("application/sdp;level=1, text/plain"));
        assert!(accepts_sdp("application/*"));
        assert!(accepts_sdp("*/*"));
        assert!(!accepts_sdp("text/nobodyKnowsThis"));
        assert!(!accepts_sdp(""));
        assert_eq!(
            media_type(" application/sdp ; charset=x"),
            "application/sdp"
        );
    }
}
