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

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sms_gateway::Inbound;
use sms_gateway::coupon::{Refusal, normalise};
use sms_gateway::provider::{Receipt, kannel, template, twilio};
use tracing::{info, warn};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Admin, ApiError, bearer, constant_time_eq, error, reply};
use crate::sms::Sms;
use crate::sms::config::{Merchant, SmsConfig, secret};
use crate::sms::store::{CampaignStats, Consent};

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
    Ok(OpenApiRouter::new()
        .routes(routes!(kannel_dlr))
        .routes(routes!(kannel_mo))
        .routes(routes!(twilio_status))
        .routes(routes!(twilio_inbound))
        .routes(routes!(http_dlr, http_dlr_post))
        .routes(routes!(http_mo, http_mo_post))
        .routes(routes!(redeem))
        .routes(routes!(stats))
        .routes(routes!(call_inbound))
        .routes(routes!(consents))
        .routes(routes!(send))
        .with_state(shared))
}

fn pairs(query: Option<String>, form: Option<&[u8]>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    if let Some(form) = form {
        out.extend(form_urlencoded::parse(form).into_owned());
    }
    out
}

type Parse<T> = fn(&[(String, String)]) -> Result<T, sms_gateway::SmsError>;

async fn receipt(
    s: &Shared,
    api: &str,
    parse: Parse<Receipt>,
    pairs: &[(String, String)],
) -> Response {
    match parse(pairs) {
        // Not stored: 503, so the gateway sends it again.
        Ok(r) => match s.sms.receipt(r).await {
            Ok(()) => StatusCode::OK.into_response(),
            Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
        },
        Err(e) => {
            warn!(provider = api, error = %e, ?pairs, "bad receipt callback");
            (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
    }
}

async fn inbound(
    s: &Shared,
    api: &str,
    parse: Parse<Inbound>,
    pairs: &[(String, String)],
) -> Response {
    match parse(pairs) {
        Ok(m) => match s.sms.inbound(m).await {
            Ok(Some(sms_gateway::Keyword::OptOut)) => s.stop_reply.clone().into_response(),
            Ok(_) => (StatusCode::OK, "").into_response(),
            Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
        },
        Err(e) => {
            warn!(provider = api, error = %e, ?pairs, "bad inbound callback");
            (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
    }
}

/// A Kannel delivery report (`dlr-url` `…?id=<ours>&type=%d&reply=%A`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct KannelDlr {
    /// Our message id.
    id: u64,
    /// Kannel's report type: 1 delivered, 2 undelivered, 4 queued, 8 submitted, 16 rejected.
    #[param(value_type = KannelType, inline)]
    r#type: u32,
    /// The SMSC's reply.
    reply: Option<String>,
}

/// Kannel's report types.
struct KannelType;

impl utoipa::PartialSchema for KannelType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .enum_values(Some([1, 2, 4, 8, 16]))
            .into()
    }
}

impl ToSchema for KannelType {}

/// Kannel's delivery report for a message (open, as the gateway calls it).
#[utoipa::path(get, path = "/sms/kannel/dlr", tag = "sms", params(KannelDlr), responses(
    (status = 200, description = "Stored"),
    (status = 400, description = "Not a report", body = String, content_type = "text/plain"),
    (status = 503, description = "Not stored: send it again", body = String,
        content_type = "text/plain")))]
async fn kannel_dlr(State(s): AppState, RawQuery(q): RawQuery) -> Response {
    receipt(&s, "kannel", kannel::receipt, &pairs(q, None)).await
}

/// An inbound message from Kannel (`get-url` `…?from=%p&to=%P&text=%a`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct KannelMo {
    /// The sender.
    #[param(min_length = 1)]
    from: String,
    /// Our number.
    to: Option<String>,
    /// The text.
    text: Option<String>,
}

/// An inbound SMS from Kannel (open); the answer's body is the reply Kannel sends back: the
/// opt-out confirmation for a stop keyword, nothing otherwise.
#[utoipa::path(get, path = "/sms/kannel/mo", tag = "sms", params(KannelMo), responses(
    (status = 200, description = "Stored; the reply to send, if any", body = String,
        content_type = "text/plain"),
    (status = 400, description = "Not a message", body = String, content_type = "text/plain"),
    (status = 503, description = "Not stored: send it again", body = String,
        content_type = "text/plain")))]
async fn kannel_mo(State(s): AppState, RawQuery(q): RawQuery) -> Response {
    inbound(&s, "kannel", kannel::inbound, &pairs(q, None)).await
}
/// Checks `X-Twilio-Signature` over the URL Twilio called (our public base, the path, the
/// query) and the form; `Some` refusal (403) when it does not match.
fn twilio_refusal(
    s: &Shared,
    headers: &HeaderMap,
    path: &str,
    query: Option<&str>,
    form: &[u8],
) -> Option<Response> {
    let (token, base) = s.twilio.as_ref()?;
    let url = match query {
        Some(q) => format!("{base}{path}?{q}"),
        None => format!("{base}{path}"),
    };
    let params: Vec<(String, String)> = form_urlencoded::parse(form).into_owned().collect();
    let given = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if twilio::signature_valid(token, &url, &params, given) {
        return None;
    }
    warn!(%url, "Twilio webhook with a wrong or missing signature refused");
    Some((StatusCode::FORBIDDEN, "bad X-Twilio-Signature").into_response())
}

/// Which of our messages a Twilio status callback is for (`StatusCallback` `…?id=<ours>`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct TwilioId {
    /// Our message id.
    id: u64,
}

/// A Twilio status callback's form.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
struct TwilioStatus {
    /// The message's status.
    #[schema(schema_with = twilio_states)]
    MessageStatus: String,
    /// Twilio's error code, when it failed.
    #[schema(required = false)]
    ErrorCode: String,
}

fn twilio_states() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let states = [
        "accepted",
        "queued",
        "sending",
        "sent",
        "scheduled",
        "delivered",
        "read",
        "undelivered",
        "failed",
    ];
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(states))
        .build()
}

/// Twilio's status callback for a message (open; `X-Twilio-Signature` checked when
/// `validate_signatures` is on).
#[utoipa::path(post, path = "/sms/twilio/status", tag = "sms", params(TwilioId),
    request_body(content = TwilioStatus, content_type = "application/x-www-form-urlencoded"),
    responses(
    (status = 200, description = "Stored"),
    (status = 400, description = "Not a status", body = String, content_type = "text/plain"),
    (status = 403, description = "A wrong or missing signature", body = String,
        content_type = "text/plain"),
    (status = 503, description = "Not stored: send it again", body = String,
        content_type = "text/plain")))]
async fn twilio_status(
    State(s): AppState,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    f: axum::body::Bytes,
) -> Response {
    if let Some(refusal) = twilio_refusal(&s, &headers, "/sms/twilio/status", q.as_deref(), &f) {
        return refusal;
    }
    receipt(&s, "twilio", twilio::receipt, &pairs(q, Some(&f))).await
}

/// A Twilio inbound-message webhook's form (its media as `MediaUrl0`…, up to 10).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
struct TwilioInbound {
    /// The sender.
    From: String,
    /// Our number.
    #[schema(required = false)]
    To: String,
    /// The text.
    #[schema(required = false)]
    Body: String,
    /// How many media URLs follow (Twilio sends at most 10).
    #[schema(minimum = 0, maximum = 10, required = false)]
    NumMedia: u32,
}

/// An inbound SMS or MMS from Twilio (open; signature checked as for status callbacks). The
/// answer, once stored, is empty TwiML: Twilio sends no reply.
#[utoipa::path(post, path = "/sms/twilio/inbound", tag = "sms",
    request_body(content = TwilioInbound, content_type = "application/x-www-form-urlencoded"),
    responses(
    (status = 200, description = "Stored", body = String, content_type = "text/xml"),
    (status = 400, description = "Not a message", body = String, content_type = "text/plain"),
    (status = 503, description = "Not stored: send it again", body = String,
        content_type = "text/plain"),
    (status = 403, description = "A wrong or missing signature", body = String,
        content_type = "text/plain")))]
async fn twilio_inbound(
    State(s): AppState,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    f: axum::body::Bytes,
) -> Response {
    if let Some(refusal) = twilio_refusal(&s, &headers, "/sms/twilio/inbound", q.as_deref(), &f) {
        return refusal;
    }
    let answer = inbound(&s, "twilio", twilio::inbound, &pairs(q, Some(&f))).await;
    if answer.status() != StatusCode::OK {
        return answer;
    }
    // Twilio also replies with the response body (TwiML); an empty one sends nothing.
    ([("Content-Type", "text/xml")], "<Response/>").into_response()
}

/// The HTTP-template provider's delivery report (query or form).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct HttpDlr {
    /// Our message id.
    id: u64,
    /// The message's status (any case).
    #[param(value_type = HttpState, inline)]
    status: String,
}

/// A message's status as the HTTP-template provider reports it.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
enum HttpState {
    Delivered,
    Failed,
    Undelivered,
    Rejected,
    Expired,
    Accepted,
    Queued,
    Sent,
    Buffered,
}

/// A delivery report from the HTTP-template provider (open).
#[utoipa::path(get, path = "/sms/http/dlr", tag = "sms", params(HttpDlr), responses(
    (status = 200, description = "Stored"),
    (status = 400, description = "Not a report", body = String, content_type = "text/plain"),
    (status = 503, description = "Not stored: send it again", body = String,
        content_type = "text/plain")))]
async fn http_dlr(State(s): AppState, RawQuery(q): RawQuery, body: axum::body::Bytes) -> Response {
    receipt(&s, "http", template::receipt, &pairs(q, Some(&body))).await
}

/// A delivery report from the HTTP-template provider, posted (open; the fields in the query
/// or a form body).
#[utoipa::path(post, path = "/sms/http/dlr", tag = "sms", params(HttpDlr), responses(
    (status = 200, description = "Stored"),
    (status = 400, description = "Not a report", body = String, content_type = "text/plain"),
    (status = 503, description = "Not stored: send it again", body = String,
        content_type = "text/plain")))]
async fn http_dlr_post(state: AppState, query: RawQuery, body: axum::body::Bytes) -> Response {
    http_dlr(state, query, body).await
}

/// An inbound message from the HTTP-template provider (query or form).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct HttpMo {
    /// The sender.
    from: String,
    /// Our number.
    to: Option<String>,
    /// The text.
    text: Option<String>,
}

/// An inbound SMS from the HTTP-template provider (open); a stop keyword is answered with the
/// opt-out confirmation.
#[utoipa::path(get, path = "/sms/http/mo", tag = "sms", params(HttpMo), responses(
    (status = 200, description = "Stored; the reply to send, if any", body = String,
        content_type = "text/plain"),
    (status = 400, description = "Not a message", body = String, content_type = "text/plain"),
    (status = 503, description = "Not stored: send it again", body = String,
        content_type = "text/plain")))]
async fn http_mo(State(s): AppState, RawQuery(q): RawQuery, body: axum::body::Bytes) -> Response {
    inbound(&s, "http", template::inbound, &pairs(q, Some(&body))).await
}

/// An inbound SMS from the HTTP-template provider, posted (open; the fields in the query or a
/// form body).
#[utoipa::path(post, path = "/sms/http/mo", tag = "sms", params(HttpMo), responses(
    (status = 200, description = "Stored; the reply to send, if any", body = String,
        content_type = "text/plain"),
    (status = 400, description = "Not a message", body = String, content_type = "text/plain"),
    (status = 503, description = "Not stored: send it again", body = String,
        content_type = "text/plain")))]
async fn http_mo_post(state: AppState, query: RawQuery, body: axum::body::Bytes) -> Response {
    http_mo(state, query, body).await
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

impl Send {
    /// What breaks the documented shape (the schema's patterns and lengths), if anything: a
    /// 400; what the outbox refuses in a well-formed body is a 422.
    fn malformed(&self) -> Option<&'static str> {
        let number = self.to.strip_prefix('+').unwrap_or(&self.to);
        if !(3..=40).contains(&number.len())
            || !number
                .bytes()
                .all(|b| b.is_ascii_digit() || b" ().-/".contains(&b))
        {
            return Some("`to`: an invalid number (+, then 3 to 40 digits, spaces, ( ) . - /)");
        }
        if self.text.trim().is_empty() {
            return Some("`text`: an empty message body");
        }
        if self
            .key
            .as_ref()
            .is_some_and(|k| !(1..=256).contains(&k.len()))
        {
            return Some("`key`: 1 to 256 bytes");
        }
        let purpose_ok = self.purpose.as_deref().is_none_or(|p| {
            (1..=64).contains(&p.len())
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
        });
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
    match s.sms.enqueue(message).await {
        Ok(sms_gateway::Enqueued::New(id)) => reply(
            StatusCode::ACCEPTED,
            Enqueued {
                id: id.0,
                status: "new",
            },
        ),
        Ok(sms_gateway::Enqueued::Existing(id)) => reply(
            StatusCode::ACCEPTED,
            Enqueued {
                id: id.0,
                status: "existing",
            },
        ),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, &e),
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
