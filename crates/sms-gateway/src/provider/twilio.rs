//! Twilio Programmable Messaging: `POST /2010-04-01/Accounts/{sid}/Messages.json` with HTTP
//! basic auth (account SID, auth token) and a form body (`To`, `From` or
//! `MessagingServiceSid`, `Body`, `StatusCallback`). 201 returns the message `sid`; errors
//! carry Twilio's `code` (21211 invalid To, 21610 recipient unsubscribed, 21408 region not
//! enabled: permanent). Status callbacks and inbound messages (with MMS media) are form posts.

use super::{HttpMethod, HttpReply, HttpRequest, Provider, Receipt, field, our_id};
use crate::SmsError;
use crate::outbox::{Inbound, ReceiptStatus, Submission, SubmitResult};

/// A Twilio account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Twilio {
    /// API base, `https://api.twilio.com` (a test double elsewhere).
    pub api_base: String,
    /// Account SID.
    pub account_sid: String,
    /// Auth token.
    pub auth_token: String,
    /// Sender number, or a messaging service SID (`MG…`).
    pub from: String,
}

impl Provider for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn request(&self, sub: &Submission, callback: &str) -> HttpRequest {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.api_base.trim_end_matches('/'),
            self.account_sid
        );
        let status_callback = format!(
            "{}/sms/twilio/status?id={}",
            callback.trim_end_matches('/'),
            sub.id
        );
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("To", sub.to.as_str());
        match self.from.starts_with("MG") {
            true => form.append_pair("MessagingServiceSid", &self.from),
            false => form.append_pair("From", &self.from),
        };
        form.append_pair("Body", &sub.text);
        form.append_pair("StatusCallback", &status_callback);
        HttpRequest {
            method: HttpMethod::Post,
            url,
            basic_auth: Some((self.account_sid.clone(), self.auth_token.clone())),
            headers: Vec::new(),
            body: Some((
                "application/x-www-form-urlencoded".into(),
                form.finish().into_bytes(),
            )),
        }
    }

    fn classify(&self, reply: &HttpReply) -> SubmitResult {
        let json: Option<serde_json::Value> = serde_json::from_str(&reply.body).ok();
        let code = json
            .as_ref()
            .and_then(|j| j.get("code"))
            .and_then(|c| c.as_u64());
        match (reply.status, code) {
            (200..=299, _) => SubmitResult::Accepted {
                provider_id: json
                    .as_ref()
                    .and_then(|j| j.get("sid"))
                    .and_then(|s| s.as_str())
                    .map(str::to_string),
            },
            (_, Some(code @ (21211 | 21408 | 21610 | 21612 | 21614))) => SubmitResult::Permanent {
                reason: format!("Twilio error {code}"),
            },
            (status, _) => super::classify_status(status, &reply.body),
        }
    }
}

/// A receipt callback's query or form pairs, parsed.
pub fn receipt(pairs: &[(String, String)]) -> Result<Receipt, SmsError> {
    let id = our_id(pairs)?;
    let state = field(pairs, "MessageStatus")
        .ok_or_else(|| SmsError::BadCallback("no `MessageStatus`".into()))?;
    let error = field(pairs, "ErrorCode").unwrap_or_default();
    let status = match state {
        "delivered" | "read" => ReceiptStatus::Delivered,
        "undelivered" | "failed" => ReceiptStatus::Failed(format!("{state} {error}")),
        "accepted" | "queued" | "sending" | "sent" | "scheduled" => ReceiptStatus::InTransit,
        other => return Err(SmsError::BadCallback(format!("unknown status {other:?}"))),
    };
    Ok(Receipt {
        id,
        status,
        raw: format!("{state} {error}").trim().to_string(),
    })
}

/// Media on one message, at most (Twilio's limit).
const MAX_MEDIA: usize = 10;

/// An inbound-message callback's pairs, parsed.
pub fn inbound(pairs: &[(String, String)]) -> Result<Inbound, SmsError> {
    let from = field(pairs, "From").ok_or_else(|| SmsError::BadCallback("no `From`".into()))?;
    let media_count: usize = match field(pairs, "NumMedia") {
        None => 0,
        Some(n) => n
            .parse()
            .ok()
            .filter(|&n| n <= MAX_MEDIA)
            .ok_or_else(|| SmsError::BadCallback(format!("`NumMedia` {n:?}: not 0 to 10")))?,
    };
    let media = (0..media_count)
        .filter_map(|i| field(pairs, &format!("MediaUrl{i}")).map(str::to_string))
        .collect();
    Ok(Inbound {
        from: from.to_string(),
        to: field(pairs, "To").unwrap_or_default().to_string(),
        text: field(pairs, "Body").unwrap_or_default().to_string(),
        media,
    })
}

/// The `X-Twilio-Signature` of a webhook: Base64 of HMAC-SHA1, keyed with the auth token,
/// over the full URL Twilio called followed by every POST parameter as name then value,
/// sorted (identical pairs once).
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    use base64::Engine;
    use hmac::{KeyInit, Mac};
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `given` is the signature of this webhook (compared in constant time).
pub fn signature_valid(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    given: &str,
) -> bool {
    let want = signature(auth_token, url, params);
    want.len() == given.len()
        && want
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The example of Twilio's request-validation docs, also in the test suites of its
    /// helper libraries (twilio-php, twilio-csharp): token 12345.
    #[test]
    fn twilio_documented_vectors() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = pairs(&[
            ("Digits", "1234"),
            ("To", "+18005551212"),
            ("From", "+14158675309"),
            ("Caller", "+14158675309"),
            ("CallSid", "CA1234567890ABCDE"),
        ]);
        assert_eq!(
            signature("12345", url, &params),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        assert!(signature_valid(
            "12345",
            url,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!signature_valid(
            "12346",
            url,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!signature_valid(
            "12345",
            url,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8"
        ));
        // Repeated parameters (twilio-python's test): each identical pair counts once.
        let repeated = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(
            signature("12345", url, &repeated),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }
}
