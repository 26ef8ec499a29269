//! The SMS routes: delivery receipts and inbound messages from Kannel, Twilio and the
//! HTTP-template provider, coupon redemption for merchants, and the operator's SMS routes.
//!
//! - `GET /sms/kannel/dlr?id&type&…`, `GET /sms/kannel/mo?from&to&text`: Kannel sends the body
//!   of the MO reply back to the sender, so an opt-out keyword is answered with the configured
//!   confirmation and anything else with an empty body (`omit-empty = true`).
//! - `POST /sms/twilio/status?id`, `POST /sms/twilio/inbound` (form posts), refused with 403
//!   unless `X-Twilio-Signature` matches (`callback_base` must be the URL Twilio calls).
//! - `GET|POST /sms/http/dlr?id&status`, `GET|POST /sms/http/mo?from&to&text`.
//! - `POST /coupons/redeem` with `Authorization: Bearer <merchant token>` and `{"serial": …}`:
//!   200 redeemed, 401 no such merchant, 404 unknown serial, 409 already redeemed, 410
//!   expired, 403 campaign not open to the merchant.
//! - `GET /coupons/stats/{campaign}` (merchant token): issued, sent, delivered, redeemed.
//! - `POST /sms/send` (admin token) with `{"to", "text", "key"?}`: an operator's message through
//!   the same outbox and guards as a flow's (202, or 422 with the refusal).
//! - `GET /calls/{call_id}/inbound` (admin token): the SMS/MMS replies matched to a call, for
//!   the agent's ticket.
//! - `GET /consents/{number}` (admin token): a number's consent records, for audits.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use sms_gateway::coupon::{Refusal, normalise};
use tracing::{info, warn};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Admin, ApiError, bearer, constant_time_eq, error, matches, reply};
use crate::sms::config::{Merchant, SmsConfig, secret};
use crate::sms::store::{CampaignStats, Consent};
use crate::sms::{NotTaken, Sms};

mod callbacks;

struct Shared {
    sms: Sms,
    admin: Admin,
    merchants: Vec<(Merchant, String)>,
    stop_reply: String,
    /// Twilio's auth token and our public base URL, when Twilio webhooks must be signed.
    twilio: Option<(String, String)>,
}

type AppState = State<Arc<Shared>>;

/// The routes, ready to serve.
pub(crate) fn routes(
    sms: Sms,
    merchants: &[Merchant],
    config: &SmsConfig,
    admin: Admin,
) -> anyhow::Result<OpenApiRouter> {
    let twilio = match (&config.twilio, config.provider.as_str()) {
        (Some(t), "twilio") if t.validate_signatures => Some((
            secret(&t.auth_token, t.auth_token_env.as_ref())?,
            config.callback_base.trim_end_matches('/').to_string(),
        )),
        _ => None,
    };
    let merchants = merchants
        .iter()
        .map(|m| Ok((m.clone(), secret(&m.token, m.token_env.as_ref())?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if merchants.iter().any(|(_, token)| token.len() < 16) {
        anyhow::bail!("every merchant token needs at least 16 characters");
    }
    let shared = Arc::new(Shared {
        sms,
        admin,
        merchants,
        stop_reply: config.stop_reply.clone(),
        twilio,
    });
    Ok(callbacks::routes()
        .routes(routes!(redeem))
        .routes(routes!(stats))
        .routes(routes!(call_inbound))
        .routes(routes!(consents))
        .routes(routes!(send))
        .with_state(shared))
}

/// The merchant a bearer token belongs to (tokens compared in constant time).
fn merchant<'a>(s: &'a Shared, headers: &HeaderMap) -> Option<&'a Merchant> {
    let token = bearer(headers)?;
    s.merchants
        .iter()
        .find(|(_, t)| constant_time_eq(t.as_bytes(), token.as_bytes()))
        .map(|(m, _)| m)
}

/// The body of `POST /coupons/redeem` (JSON, or a form with the same field).
#[derive(ToSchema)]
#[allow(dead_code)]
struct Redeem {
    /// The serial as the customer shows it (case, spaces and dashes do not matter).
    #[schema(min_length = 1)]
    serial: String,
}

/// A redemption's answer.
#[derive(Serialize, ToSchema)]
struct Redeemed {
    /// `redeemed` or `refused`.
    status: &'static str,
    /// The serial, normalised.
    #[serde(skip_serializing_if = "Option::is_none")]
    serial: Option<String>,
    /// Its campaign.
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign: Option<String>,
    /// The call that issued it.
    #[serde(skip_serializing_if = "Option::is_none")]
    call_id: Option<String>,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

impl Redeemed {
    fn refused(reason: String) -> Self {
        Self {
            status: "refused",
            serial: None,
            campaign: None,
            call_id: None,
            reason: Some(reason),
        }
    }
}

/// A merchant redeems a coupon, once (the merchant's token).
#[utoipa::path(post, path = "/coupons/redeem", tag = "coupons", security(("merchant" = [])),
    request_body = Redeem, responses(
    (status = 200, description = "Redeemed", body = Redeemed),
    (status = 400, description = "No serial", body = ApiError),
    (status = 401, description = "No such merchant", body = ApiError),
    (status = 403, description = "The campaign is not open to this merchant", body = Redeemed),
    (status = 404, description = "No such serial", body = Redeemed),
    (status = 409, description = "Already redeemed", body = Redeemed),
    (status = 410, description = "Expired", body = Redeemed),
    (status = 503, description = "The store does not answer", body = ApiError)))]
async fn redeem(State(s): AppState, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let Some(m) = merchant(&s, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "unknown merchant token");
    };
    let typed = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["serial"].as_str().map(str::to_string))
        .or_else(|| {
            form_urlencoded::parse(&body)
                .find(|(k, _)| k == "serial")
                .map(|(_, v)| v.into_owned())
        });
    let Some(typed) = typed.filter(|t| !t.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "no serial");
    };
    let Some(serial) = normalise(&typed) else {
        let unknown = Redeemed::refused("unknown serial".into());
        return reply(StatusCode::NOT_FOUND, unknown);
    };
    let (name, campaigns) = (m.name.clone(), m.campaigns.clone());
    let now = crate::sms::now_ms();
    let merchant_name = name.clone();
    let outcome = s
        .sms
        .store
        .call(move |st| st.redeem(&serial, &merchant_name, &campaigns, now))
        .await;
    match outcome {
        Ok(Ok(c)) => {
            info!(merchant = %name, serial = %c.serial, campaign = %c.campaign, "coupon redeemed");
            let redeemed = Redeemed {
                status: "redeemed",
                serial: Some(c.serial),
                campaign: Some(c.campaign),
                call_id: Some(c.call_id),
                reason: None,
            };
            reply(StatusCode::OK, redeemed)
        }
        Ok(Err(refusal)) => {
            info!(merchant = %name, reason = %refusal, "coupon refused");
            let status = match refusal {
                Refusal::Unknown => StatusCode::NOT_FOUND,
                Refusal::AlreadyRedeemed { .. } => StatusCode::CONFLICT,
                Refusal::Expired { .. } => StatusCode::GONE,
                Refusal::WrongCampaign(_) => StatusCode::FORBIDDEN,
            };
            reply(status, Redeemed::refused(refusal.to_string()))
        }
        Err(e) => {
            warn!(error = %e, "coupon store failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        }
    }
}

/// A campaign's conversion figures.
#[derive(Serialize, ToSchema)]
struct Campaign {
    /// The campaign.
    campaign: String,
    /// Coupons issued, sent by SMS, delivered, redeemed.
    #[serde(flatten)]
    stats: CampaignStats,
}

/// A campaign's figures: issued, sent, delivered, redeemed (the merchant's token).
#[utoipa::path(get, path = "/coupons/stats/{campaign}", tag = "coupons",
    security(("merchant" = [])),
    params(("campaign" = String, Path, description = "The campaign")), responses(
    (status = 200, description = "Its figures", body = Campaign),
    (status = 401, description = "No such merchant", body = ApiError),
    (status = 403, description = "The campaign is not open to this merchant", body = ApiError),
    (status = 503, description = "The store does not answer", body = ApiError)))]
async fn stats(State(s): AppState, headers: HeaderMap, Path(campaign): Path<String>) -> Response {
    let Some(m) = merchant(&s, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "unknown merchant token");
    };
    if !m.campaigns.is_empty() && !m.campaigns.contains(&campaign) {
        return error(StatusCode::FORBIDDEN, "campaign not open to this merchant");
    }
    let name = campaign.clone();
    match s.sms.store.call(move |st| st.campaign_stats(&name)).await {
        Ok(stats) => reply(StatusCode::OK, Campaign { campaign, stats }),
        Err(e) => {
            warn!(error = %e, "stats failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        }
    }
}

/// The body of `POST /sms/send`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"to": "+4915112345678", "text": "Your appointment is at 10:00."}))]
struct Send {
    /// The number: E.164, or national in the home country, as typed (`(555) 123-4567`).
    #[schema(pattern = r"^\+?[0-9 ().\-/]{3,40}$")]
    to: String,
    /// The text (split into as many segments as the outbox allows).
    #[schema(pattern = r"\S")]
    text: String,
    /// An idempotency key: the same key twice sends once (default: a fresh one).
    #[schema(min_length = 1, max_length = 256)]
    key: Option<String>,
    /// What it is for, in metrics and the outbox (default `operator`).
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    purpose: Option<String>,
}

/// A number as typed: `+`, then digits and the separators people write.
const NUMBER: &str = r"^\+?[0-9 ().\-/]{3,40}$";
/// Something besides white space.
const NOT_BLANK: &str = r"\S";
/// A purpose: a name for metrics and the outbox.
const PURPOSE: &str = "^[A-Za-z0-9_-]{1,64}$";

/// The patterns above, which the document carries too (a test holds them equal).
pub(super) const PATTERNS: [&str; 3] = [NUMBER, NOT_BLANK, PURPOSE];

impl Send {
    /// What breaks the documented shape (the schema's patterns and lengths), if anything: a
    /// 400; what the outbox refuses in a well-formed body is a 422.
    fn malformed(&self) -> Option<&'static str> {
        if !matches(NUMBER, &self.to) {
            return Some("`to`: an invalid number (+, then 3 to 40 digits, spaces, ( ) . - /)");
        }
        if !matches(NOT_BLANK, &self.text) {
            return Some("`text`: an empty message body");
        }
        let key_ok = |k: &String| (1..=256).contains(&k.chars().count());
        if self.key.as_ref().is_some_and(|k| !key_ok(k)) {
            return Some("`key`: 1 to 256 characters");
        }
        let purpose_ok = self.purpose.as_deref().is_none_or(|p| matches(PURPOSE, p));
        (!purpose_ok).then_some("`purpose`: 1 to 64 letters, digits, - and _")
    }
}

/// A message taken by the outbox.
#[derive(Serialize, ToSchema)]
struct Enqueued {
    /// Its id.
    id: u64,
    /// `new`, or `existing` for a key seen before.
    status: &'static str,
}

/// Send an SMS through the outbox and its guards, as a flow would (admin).
#[utoipa::path(post, path = "/sms/send", tag = "sms", security(("admin" = [])),
    request_body = Send, responses(
    (status = 202, description = "Taken", body = Enqueued),
    (status = 400, description = "A malformed body", body = ApiError),
    (status = 401, description = "No admin token"),
    (status = 422, description = "Refused: not a number, too long, opted out, over a rate, \
        quiet hours", body = ApiError),
    (status = 503, description = "The outbox does not answer", body = ApiError)))]
async fn send(State(s): AppState, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let send: Send = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("body: {e}")),
    };
    if let Some(e) = send.malformed() {
        return error(StatusCode::BAD_REQUEST, e);
    }
    let key = send
        .key
        .unwrap_or_else(|| format!("admin:{:016x}", crate::clock::secure_random()));
    let message = sms_gateway::NewMessage {
        key,
        to: send.to,
        text: send.text,
        call_id: None,
        purpose: send.purpose.unwrap_or_else(|| "operator".into()),
        coupon: None,
    };
    let taken = tokio::time::timeout(super::WAIT, s.sms.enqueue(message)).await;
    match taken {
        Ok(Ok(sms_gateway::Enqueued::New(id))) => reply(
            StatusCode::ACCEPTED,
            Enqueued {
                id: id.0,
                status: "new",
            },
        ),
        Ok(Ok(sms_gateway::Enqueued::Existing(id))) => reply(
            StatusCode::ACCEPTED,
            Enqueued {
                id: id.0,
                status: "existing",
            },
        ),
        Ok(Err(NotTaken::Refused(e))) => error(StatusCode::UNPROCESSABLE_ENTITY, &e),
        Ok(Err(NotTaken::Unavailable(e))) => error(StatusCode::SERVICE_UNAVAILABLE, e),
        // It may still be taken: the same key again sends it once.
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the outbox did not answer in time",
        ),
    }
}

/// The SMS/MMS replies matched to a call.
#[derive(Serialize, ToSchema)]
struct CallInbound {
    /// The call.
    call_id: String,
    /// Oldest first.
    inbound: Vec<InboundMessage>,
}

/// An inbound message.
#[derive(Serialize, ToSchema)]
struct InboundMessage {
    /// The sender.
    from: String,
    /// Our number.
    to: String,
    /// The text.
    text: String,
    /// Media URLs (MMS).
    media: Vec<String>,
    /// The keyword it was (`stop`, …), if any.
    keyword: Option<String>,
    /// When it came, ms since the Unix epoch.
    at_ms: u64,
}

/// The SMS/MMS replies matched to a call, for the agent's ticket (admin).
#[utoipa::path(get, path = "/calls/{id}/inbound", tag = "sms", security(("admin" = [])),
    params(("id" = String, Path, description = "The call's API id")), responses(
    (status = 200, description = "The messages", body = CallInbound),
    (status = 401, description = "No admin token"),
    (status = 503, description = "The store does not answer", body = ApiError)))]
async fn call_inbound(State(s): AppState, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let call_id = id.clone();
    match s.sms.store.call(move |st| st.inbound_for_call(&id)).await {
        Ok(messages) => {
            let inbound = messages
                .into_iter()
                .map(|m| InboundMessage {
                    from: m.sender,
                    to: m.recipient,
                    text: m.body,
                    media: m.media,
                    keyword: m.keyword,
                    at_ms: m.at_ms,
                })
                .collect();
            reply(StatusCode::OK, CallInbound { call_id, inbound })
        }
        Err(e) => {
            warn!(error = %e, "inbound lookup failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        }
    }
}

/// A number's consent records.
#[derive(Serialize, ToSchema)]
struct Consents {
    /// The number.
    number: String,
    /// Oldest first.
    consents: Vec<Consent>,
}

/// A number's consent records, for audits (admin).
#[utoipa::path(get, path = "/consents/{number}", tag = "sms", security(("admin" = [])),
    params(("number" = String, Path, pattern = r"^\+[0-9]{1,20}$",
        description = "E.164: `+` (as `%2B` or literal) and digits")), responses(
    (status = 200, description = "The records", body = Consents),
    (status = 400, description = "Not an E.164 number", body = ApiError),
    (status = 401, description = "No admin token"),
    (status = 503, description = "The store does not answer", body = ApiError)))]
async fn consents(State(s): AppState, headers: HeaderMap, Path(number): Path<String>) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let digits = number.strip_prefix('+').unwrap_or_default();
    if !(1..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        let e = "give the number in E.164 form (+ and up to 20 digits)";
        return error(StatusCode::BAD_REQUEST, e);
    }
    let n = number.clone();
    match s.sms.store.call(move |st| st.consents(&n)).await {
        Ok(consents) => reply(StatusCode::OK, Consents { number, consents }),
        Err(e) => {
            warn!(error = %e, "consent lookup failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_carries_the_patterns_the_handler_checks() {
        let schema =
            serde_json::to_value(<Send as utoipa::PartialSchema>::schema()).expect("schema");
        let pattern = |field: &str| schema["properties"][field]["pattern"].clone();
        assert_eq!(pattern("to"), NUMBER);
        assert_eq!(pattern("text"), NOT_BLANK);
        assert_eq!(pattern("purpose"), PURPOSE);
        for p in PATTERNS {
            assert!(regex::Regex::new(p).is_ok(), "{p} compiles");
        }
    }
}
