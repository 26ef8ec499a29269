//! The registrar's side of REGISTER (RFC 3261 §10.3): the request cut into what a registrar
//! decides on (the address of record, the contacts and their expiry, the digest credentials),
//! server nonces, digest verification, and the response the decision becomes. The decision
//! itself (who may register, for how long, what a binding means) is the application's.

use std::net::SocketAddr;

use crate::build::Extra;
use crate::digest::{Algorithm, hash, params_of};
use crate::message::{NameAddr, Nesting, Request, addr_uri, uri_user};

/// Handle of a REGISTER waiting for the application's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegisterId(pub(crate) u64);

impl std::fmt::Display for RegisterId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reg-{}", self.0)
    }
}

/// A REGISTER, as a registrar reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// Answer it with [`crate::Endpoint::answer_register`].
    pub id: RegisterId,
    /// The address of record's user part (the To URI's user).
    pub user: String,
    /// What it asks.
    pub contacts: Contacts,
    /// Its Call-ID and CSeq number (a registrar orders refreshes by them, §10.3 step 7).
    pub call_id: String,
    /// The CSeq number.
    pub cseq: u32,
    /// The Authorization header's digest credentials, if any.
    pub credentials: Option<DigestCredentials>,
    /// Where it came from.
    pub source: SocketAddr,
}

/// The bindings a REGISTER asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contacts {
    /// No Contact: a query of the current bindings.
    Query,
    /// `Contact: *` with `Expires: 0`: remove every binding.
    RemoveAll,
    /// These contacts, each with the expiry asked (its `expires` parameter, else the
    /// Expires header; `None`: neither, the registrar's default).
    Bind(Vec<(String, Option<u32>)>),
}

/// Digest credentials from an Authorization header (RFC 3261 §22.4, RFC 7616).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestCredentials {
    /// The user name.
    pub username: String,
    /// The realm they answer.
    pub realm: String,
    /// The nonce they answer.
    pub nonce: String,
    uri: String,
    response: String,
    algorithm: Algorithm,
    /// `(nc, cnonce)` when `qop=auth`.
    qop: Option<(String, String)>,
}

impl DigestCredentials {
    fn parse(value: &str) -> Option<Self> {
        let (scheme, params) = value.trim().split_once(char::is_whitespace)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return None;
        }
        let params = params_of(params);
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let algorithm = match get("algorithm").map(|a| a.to_ascii_uppercase()).as_deref() {
            None | Some("MD5") => Algorithm::Md5,
            Some("SHA-256") => Algorithm::Sha256,
            Some(_) => return None,
        };
        let qop = match get("qop").as_deref() {
            None => None,
            Some("auth") => Some((get("nc")?, get("cnonce")?)),
            Some(_) => return None,
        };
        Some(Self {
            username: get("username")?,
            realm: get("realm")?,
            nonce: get("nonce")?,
            uri: get("uri")?,
            response: get("response")?.to_ascii_lowercase(),
            algorithm,
            qop,
        })
    }

    /// Whether they prove knowledge of `password` for `method` (REGISTER).
    pub fn verify(&self, method: &str, password: &str) -> bool {
        let h = |s: &str| hash(self.algorithm, s);
        let ha1 = h(&format!("{}:{}:{password}", self.username, self.realm));
        let ha2 = h(&format!("{method}:{}", self.uri));
        let expected = match &self.qop {
            Some((nc, cnonce)) => h(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce)),
            None => h(&format!("{ha1}:{}:{ha2}", self.nonce)),
        };
        // Not a secret compared in a loop an attacker can time per byte: both are hex digests
        // of the same length; compare all of it anyway.
        expected.len() == self.response.len()
            && expected
                .bytes()
                .zip(self.response.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// The registrar's answer to a REGISTER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterAnswer {
    /// 200 OK with the bindings now held, each with its remaining seconds.
    Bound(Vec<(String, u32)>),
    /// 401 with a digest challenge (`stale`: the credentials were right, the nonce old).
    Challenge {
        /// The realm.
        realm: String,
        /// A fresh nonce.
        nonce: String,
        /// The nonce answered was too old.
        stale: bool,
    },
    /// 423 Interval Too Brief, with the shortest expiry allowed.
    TooBrief(u32),
    /// Another final status (403, 404, 500 …).
    Refuse(u16),
}

impl RegisterAnswer {
    /// The status and the headers it carries.
    pub(crate) fn response(&self) -> (u16, Extra) {
        let mut extra = Extra::default();
        let status = match self {
            Self::Bound(bindings) => {
                for (uri, expires) in bindings {
                    extra
                        .headers
                        .push(("Contact", format!("<{uri}>;expires={expires}")));
                }
                200
            }
            Self::Challenge {
                realm,
                nonce,
                stale,
            } => {
                let value = challenge_value(realm, nonce, *stale);
                extra.headers.push(("WWW-Authenticate", value));
                401
            }
            Self::TooBrief(min) => {
                extra.headers.push(("Min-Expires", min.to_string()));
                423
            }
            Self::Refuse(status) => *status,
        };
        (status, extra)
    }
}

/// A `WWW-Authenticate` value: our digest challenge (`stale`: the nonce answered was old).
pub(crate) fn challenge_value(realm: &str, nonce: &str, stale: bool) -> String {
    let stale = if stale { ", stale=true" } else { "" };
    format!("Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\"{stale}")
}

/// The digest credentials of a request's `Authorization` header, if any.
pub(crate) fn credentials_of(req: &Request) -> Option<DigestCredentials> {
    req.common
        .header("Authorization")
        .and_then(DigestCredentials::parse)
}

/// Reads a REGISTER; `Err` is the status and reason to refuse it with (400).
pub(crate) fn read(
    id: RegisterId,
    req: &Request,
    source: SocketAddr,
) -> Result<Registration, String> {
    let header_expires = match req.common.header("Expires") {
        Some(v) => Some(
            v.trim()
                .parse::<u32>()
                .map_err(|_| format!("bad Expires {v:?}"))?,
        ),
        None => None,
    };
    let values: Vec<&str> = req
        .common
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Contact"))
        .flat_map(|(_, v)| split_list(v))
        .collect();
    let contacts = if values.is_empty() {
        Contacts::Query
    } else if values.iter().any(|v| v.trim() == "*") {
        // §10.3 step 6: `*` only alone and with Expires: 0.
        if values.len() > 1 || header_expires != Some(0) {
            return Err("Contact: * needs Expires: 0 and no other contact".into());
        }
        Contacts::RemoveAll
    } else {
        let mut bind = Vec::new();
        for v in values {
            let addr = NameAddr::parse(v);
            if !(addr.uri.starts_with("sip:") || addr.uri.starts_with("sips:")) {
                return Err(format!("Contact {v:?} is not a sip: URI"));
            }
            let expires = match addr.param("expires") {
                Some(e) => Some(
                    e.parse::<u32>()
                        .map_err(|_| format!("bad expires in Contact {v:?}"))?,
                ),
                None => header_expires,
            };
            bind.push((addr.uri.to_string(), expires));
        }
        Contacts::Bind(bind)
    };
    let credentials = credentials_of(req);
    Ok(Registration {
        id,
        user: uri_user(addr_uri(&req.common.to)).to_string(),
        contacts,
        call_id: req.common.call_id.clone(),
        cseq: req.common.cseq,
        credentials,
        source,
    })
}

/// The values of a comma-separated header, commas inside quotes or `<…>` not splitting.
pub(crate) fn split_list(value: &str) -> Vec<&str> {
    let (mut out, mut start) = (Vec::new(), 0);
    let mut nesting = Nesting::default();
    for (i, c) in value.char_indices() {
        if nesting.outside(c) && c == ',' {
            out.push(value[start..i].trim());
            start = i + 1;
        }
    }
    out.push(value[start..].trim());
    out.retain(|v| !v.is_empty());
    out
}

/// A server nonce for time `stamp` (any monotonic count, e.g. seconds since start): the stamp
/// and a keyed hash of it, so the registrar keeps no nonce table.
pub fn issue_nonce(secret: &[u8], stamp: u64) -> String {
    format!("{stamp:x}.{}", nonce_mac(secret, stamp))
}

/// The stamp of a nonce we issued with `secret`; `None` if we did not issue it.
pub fn nonce_stamp(secret: &[u8], nonce: &str) -> Option<u64> {
    let (stamp, mac) = nonce.split_once('.')?;
    let stamp = u64::from_str_radix(stamp, 16).ok()?;
    (nonce_mac(secret, stamp) == mac).then_some(stamp)
}

fn nonce_mac(secret: &[u8], stamp: u64) -> String {
    let key = String::from_utf8_lossy(secret);
    let mac = hash(Algorithm::Sha256, &format!("{key}:{stamp:x}:{key}"));
    mac[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2617 §3.5 / RFC 7616 §3.9.1 worked in reverse: a client's answer (computed by the
    /// client side of this crate) verifies, a wrong password does not.
    #[test]
    fn credentials_answering_our_challenge_verify() {
        let challenge = crate::digest::Challenge::parse(
            "Digest realm=\"ivrd\", nonce=\"5f.abc\", algorithm=MD5, qop=\"auth\"",
        )
        .expect("challenge");
        let header = challenge.answer("alice", "s3cret", "REGISTER", "sip:ivrd", 1, "c1");
        let c = DigestCredentials::parse(&header).expect("credentials");
        assert_eq!((c.username.as_str(), c.realm.as_str()), ("alice", "ivrd"));
        assert!(c.verify("REGISTER", "s3cret"));
        assert!(!c.verify("REGISTER", "wrong"));
        assert!(!c.verify("INVITE", "s3cret"));
        // Without qop (RFC 2069 style, what older phones send).
        let plain = crate::digest::Challenge::parse("Digest realm=\"ivrd\", nonce=\"n\"")
            .expect("challenge")
            .answer("alice", "s3cret", "REGISTER", "sip:ivrd", 1, "c");
        let c = DigestCredentials::parse(&plain).expect("credentials");
        assert!(c.verify("REGISTER", "s3cret"));
    }

    #[test]
    fn nonces_carry_their_stamp_and_only_ours_are_read() {
        let n = issue_nonce(b"key", 1234);
        assert_eq!(nonce_stamp(b"key", &n), Some(1234));
        assert_eq!(nonce_stamp(b"other", &n), None);
        assert_eq!(nonce_stamp(b"key", "4d2.0000"), None);
        assert_eq!(nonce_stamp(b"key", "garbage"), None);
    }

    #[test]
    fn contact_lists_split_outside_quotes_and_brackets() {
        assert_eq!(
            split_list("\"A, B\" <sip:a@h;x=1,2>;expires=60, <sip:b@h>"),
            ["\"A, B\" <sip:a@h;x=1,2>;expires=60", "<sip:b@h>"]
        );
        assert_eq!(split_list("*"), ["*"]);
    }
}
