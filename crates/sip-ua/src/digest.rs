//! HTTP Digest authentication for our requests (RFC 3261 §22, RFC 7616): a trunk's 401 or 407
//! challenge answered with MD5 or SHA-256, `qop=auth` when offered, and a nonce count per nonce.

use md5::Md5;
use sha2::{Digest as _, Sha256};

/// A digest algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Md5,
    Sha256,
}

/// A `WWW-Authenticate` or `Proxy-Authenticate` challenge we can answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub(crate) realm: String,
    pub(crate) nonce: String,
    pub(crate) opaque: Option<String>,
    pub(crate) algorithm: Algorithm,
    /// The server offered `qop=auth`.
    pub(crate) qop_auth: bool,
}

impl Challenge {
    /// Parses one challenge value (`Digest realm="…", nonce="…", …`). `None` for another
    /// scheme, an algorithm we lack (`-sess` variants, SHA-512-256) or a challenge without
    /// realm or nonce.
    /// The challenge of a 401 (`WWW-Authenticate`) or 407 (`Proxy-Authenticate`), with the
    /// header its answer goes in.
    pub(crate) fn of(resp: &crate::message::Response) -> Option<(Self, &'static str)> {
        let (challenge, answer) = match resp.status {
            401 => ("WWW-Authenticate", "Authorization"),
            _ => ("Proxy-Authenticate", "Proxy-Authorization"),
        };
        resp.common
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(challenge))
            .find_map(|(_, v)| Self::parse(v))
            .map(|c| (c, answer))
    }

    pub(crate) fn parse(value: &str) -> Option<Self> {
        let rest = value.trim();
        let (scheme, params) = rest.split_once(char::is_whitespace)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return None;
        }
        let (mut realm, mut nonce, mut opaque, mut algorithm, mut qop) =
            (None, None, None, Algorithm::Md5, None);
        for (name, value) in params_of(params) {
            match name.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(value),
                "nonce" => nonce = Some(value),
                "opaque" => opaque = Some(value),
                "qop" => qop = Some(value),
                "algorithm" => {
                    algorithm = match value.to_ascii_uppercase().as_str() {
                        "MD5" => Algorithm::Md5,
                        "SHA-256" => Algorithm::Sha256,
                        _ => return None,
                    }
                }
                _ => {}
            }
        }
        let qop_auth = qop
            .as_ref()
            .is_some_and(|q| q.split(',').any(|q| q.trim() == "auth"));
        if qop.is_some() && !qop_auth {
            return None; // auth-int only
        }
        Some(Self {
            realm: realm?,
            nonce: nonce?,
            opaque,
            algorithm,
            qop_auth,
        })
    }

    /// The `Authorization` / `Proxy-Authorization` value for `method` on `uri`, the `nc`-th use
    /// of this nonce, with client nonce `cnonce`.
    pub(crate) fn answer(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        nc: u32,
        cnonce: &str,
    ) -> String {
        let h = |s: &str| hash(self.algorithm, s);
        let ha1 = h(&format!("{username}:{}:{password}", self.realm));
        let ha2 = h(&format!("{method}:{uri}"));
        let nc = format!("{nc:08x}");
        let response = match self.qop_auth {
            true => h(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce)),
            false => h(&format!("{ha1}:{}:{ha2}", self.nonce)),
        };
        let algorithm = match self.algorithm {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        };
        let mut out = format!(
            "Digest username=\"{username}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm={algorithm}",
            self.realm, self.nonce
        );
        if self.qop_auth {
            out.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{cnonce}\""));
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(&format!(", opaque=\"{opaque}\""));
        }
        out
    }
}

pub(crate) fn hash(algorithm: Algorithm, s: &str) -> String {
    let bytes: Vec<u8> = match algorithm {
        Algorithm::Md5 => Md5::digest(s.as_bytes()).to_vec(),
        Algorithm::Sha256 => Sha256::digest(s.as_bytes()).to_vec(),
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `name=value` pairs of a challenge, values unquoted; commas inside quotes do not split.
pub(crate) fn params_of(params: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (mut current, mut quoted) = (String::new(), false);
    for c in params.chars().chain(std::iter::once(',')) {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => {
                if let Some((name, value)) = current.split_once('=') {
                    let value = value.trim();
                    let value = value
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(value);
                    out.push((name.trim().to_string(), value.to_string()));
                }
                current.clear();
            }
            c => current.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256.
    #[test]
    fn rfc_7616_examples() {
        let header = |algorithm: &str| {
            format!(
                "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
                 algorithm={algorithm}, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
                 opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
            )
        };
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        for (algorithm, response) in [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let challenge = Challenge::parse(&header(algorithm)).expect("challenge");
            assert!(challenge.qop_auth);
            let answer = challenge.answer(
                "Mufasa",
                "Circle of Life",
                "GET",
                "/dir/index.html",
                1,
                cnonce,
            );
            assert!(
                answer.contains(&format!("response=\"{response}\"")),
                "{algorithm}: {answer}"
            );
            assert!(answer.contains("nc=00000001"), "{answer}");
            assert!(answer.contains("opaque=\"FQhe/"), "{answer}");
        }
        assert_eq!(Challenge::parse("Basic realm=\"x\""), None);
        assert_eq!(
            Challenge::parse("Digest realm=\"x\", nonce=\"n\", algorithm=SHA-512-256"),
            None
        );
    }

    /// RFC 2617 §3.5's example has no qop in the form SIP trunks most often send (RFC 3261
    /// §22.4 allows it): response = H(HA1:nonce:HA2).
    #[test]
    fn without_qop() {
        let challenge =
            Challenge::parse("Digest realm=\"sip.example\", nonce=\"abc\"").expect("ok");
        assert!(!challenge.qop_auth);
        let answer = challenge.answer("bob", "secret", "INVITE", "sip:1@sip.example", 1, "x");
        let ha1 = hash(Algorithm::Md5, "bob:sip.example:secret");
        let ha2 = hash(Algorithm::Md5, "INVITE:sip:1@sip.example");
        let expected = hash(Algorithm::Md5, &format!("{ha1}:abc:{ha2}"));
        assert!(
            answer.contains(&format!("response=\"{expected}\"")),
            "{answer}"
        );
        assert!(!answer.contains("qop"));
    }
}
