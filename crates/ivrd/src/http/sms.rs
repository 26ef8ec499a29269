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

use axum::Router;
use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sms_gateway::Inbound;
use sms_gateway::coupon::{Refusal, normalise};
use sms_gateway::provider::{Receipt, kannel, template, twilio};
use tracing::{info, warn};

use super::{Admin, bearer, constant_time_eq, json};
use crate::sms::Sms;
use crate::sms::config::{Merchant, SmsConfig, secret};

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
pub(crate) fn router(
    sms: Sms,
    merchants: &[Merchant],
    config: &SmsConfig,
    admin: Admin,
) -> anyhow::Result<Router> {
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
    Ok(Router::new()
        .route("/sms/kannel/dlr", get(kannel_dlr))
        .route("/sms/kannel/mo", get(kannel_mo))
        .route("/sms/twilio/status", post(twilio_status))
        .route("/sms/twilio/inbound", post(twilio_inbound))
        .route("/sms/http/dlr", get(http_dlr).post(http_dlr))
        .route("/sms/http/mo", get(http_mo).post(http_mo))
        .route("/coupons/redeem", post(redeem))
        .route("/coupons/stats/{campaign}", get(stats))
        .route("/calls/{id}/inbound", get(call_inbound))
        .route("/consents/{number}", get(consents))
        .route("/sms/send", post(send))
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
            Ok(_) => StatusCode::OK.into_response(),
            Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
        },
        Err(e) => {
            warn!(provider = api, error = %e, ?pairs, "bad inbound callback");
            (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
    }
}

async fn kannel_dlr(State(s): AppState, RawQuery(q): RawQuery) -> Response {
    receipt(&s, "kannel", kannel::receipt, &pairs(q, None)).await
}
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

async fn twilio_status(
    State(s): AppState,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    RawForm(f): RawForm,
) -> Response {
    if let Some(refusal) = twilio_refusal(&s, &headers, "/sms/twilio/status", q.as_deref(), &f) {
        return refusal;
    }
    receipt(&s, "twilio", twilio::receipt, &pairs(q, Some(&f))).await
}
async fn twilio_inbound(
    State(s): AppState,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    RawForm(f): RawForm,
) -> Response {
    if let Some(refusal) = twilio_refusal(&s, &headers, "/sms/twilio/inbound", q.as_deref(), &f) {
        return refusal;
    }
    // Twilio also replies with the response body (TwiML); an empty one sends nothing.
    let _ = inbound(&s, "twilio", twilio::inbound, &pairs(q, Some(&f))).await;
    ([("Content-Type", "text/xml")], "<Response/>").into_response()
}
async fn http_dlr(State(s): AppState, RawQuery(q): RawQuery, body: axum::body::Bytes) -> Response {
    receipt(&s, "http", template::receipt, &pairs(q, Some(&body))).await
}
async fn http_mo(State(s): AppState, RawQuery(q): RawQuery, body: axum::body::Bytes) -> Response {
    inbound(&s, "http", template::inbound, &pairs(q, Some(&body))).await
}

/// The merchant a bearer token belongs to (tokens compared in constant time).
fn merchant<'a>(s: &'a Shared, headers: &HeaderMap) -> Option<&'a Merchant> {
    let token = bearer(headers)?;
    s.merchants
        .iter()
        .find(|(_, t)| constant_time_eq(t.as_bytes(), token.as_bytes()))
        .map(|(m, _)| m)
}

async fn redeem(State(s): AppState, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let Some(m) = merchant(&s, &headers) else {
        return json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": "unknown merchant token"}),
        );
    };
    let typed = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["serial"].as_str().map(str::to_string))
        .or_else(|| {
            form_urlencoded::parse(&body)
                .find(|(k, _)| k == "serial")
                .map(|(_, v)| v.into_owned())
        });
    let Some(typed) = typed else {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "no serial"}),
        );
    };
    let Some(serial) = normalise(&typed) else {
        return json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"status": "refused", "reason": "unknown serial"}),
        );
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
            json(
                StatusCode::OK,
                serde_json::json!({"status": "redeemed", "serial": c.serial, "campaign": c.campaign, "call_id": c.call_id}),
            )
        }
        Ok(Err(refusal)) => {
            info!(merchant = %name, reason = %refusal, "coupon refused");
            let status = match refusal {
                Refusal::Unknown => StatusCode::NOT_FOUND,
                Refusal::AlreadyRedeemed { .. } => StatusCode::CONFLICT,
                Refusal::Expired { .. } => StatusCode::GONE,
                Refusal::WrongCampaign(_) => StatusCode::FORBIDDEN,
            };
            json(
                status,
                serde_json::json!({"status": "refused", "reason": refusal.to_string()}),
            )
        }
        Err(e) => {
            warn!(error = %e, "coupon store failed");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"error": "store unavailable"}),
            )
        }
    }
}

async fn stats(State(s): AppState, headers: HeaderMap, Path(campaign): Path<String>) -> Response {
    let Some(m) = merchant(&s, &headers) else {
        return json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": "unknown merchant token"}),
        );
    };
    if !m.campaigns.is_empty() && !m.campaigns.contains(&campaign) {
        return json(
            StatusCode::FORBIDDEN,
            serde_json::json!({"error": "campaign not open to this merchant"}),
        );
    }
    let name = campaign.clone();
    match s.sms.store.call(move |st| st.campaign_stats(&name)).await {
        Ok(stats) => json(
            StatusCode::OK,
            serde_json::json!({"campaign": campaign, "issued": stats.issued, "sent": stats.sent, "delivered": stats.delivered, "redeemed": stats.redeemed}),
        ),
        Err(e) => {
            warn!(error = %e, "stats failed");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"error": "store unavailable"}),
            )
        }
    }
}

async fn send(State(s): AppState, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "body is not JSON"}),
        );
    };
    let (Some(to), Some(text)) = (v["to"].as_str(), v["text"].as_str()) else {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "`to` and `text` are required"}),
        );
    };
    let key = v["key"].as_str().map_or_else(
        || format!("admin:{:016x}", crate::clock::secure_random()),
        str::to_string,
    );
    let message = sms_gateway::NewMessage {
        key,
        to: to.to_string(),
        text: text.to_string(),
        call_id: None,
        purpose: v["purpose"].as_str().unwrap_or("operator").to_string(),
        coupon: None,
    };
    match s.sms.enqueue(message).await {
        Ok(sms_gateway::Enqueued::New(id)) => json(
            StatusCode::ACCEPTED,
            serde_json::json!({"id": id.0, "status": "new"}),
        ),
        Ok(sms_gateway::Enqueued::Existing(id)) => json(
            StatusCode::ACCEPTED,
            serde_json::json!({"id": id.0, "status": "existing"}),
        ),
        Err(e) => json(
            StatusCode::UNPROCESSABLE_ENTITY,
            serde_json::json!({"error": e}),
        ),
    }
}

async fn call_inbound(
    State(s): AppState,
    headers: HeaderMap,
    Path(call_id): Path<String>,
) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let id = call_id.clone();
    match s.sms.store.call(move |st| st.inbound_for_call(&id)).await {
        Ok(messages) => {
            let list: Vec<serde_json::Value> = messages
                .into_iter()
                .map(|m| serde_json::json!({"from": m.sender, "to": m.recipient, "text": m.body, "media": m.media, "keyword": m.keyword, "at_ms": m.at_ms}))
                .collect();
            json(
                StatusCode::OK,
                serde_json::json!({"call_id": call_id, "inbound": list}),
            )
        }
        Err(e) => {
            warn!(error = %e, "inbound lookup failed");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"error": "store unavailable"}),
            )
        }
    }
}

/// A number's consent records (E.164, `+` as `%2B` or literal), for audits.
async fn consents(State(s): AppState, headers: HeaderMap, Path(number): Path<String>) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    if !number.starts_with('+') {
        let error = "give the number in E.164 form (+ and digits)";
        return json(
            StatusCode::UNPROCESSABLE_ENTITY,
            serde_json::json!({ "error": error }),
        );
    }
    let n = number.clone();
    match s.sms.store.call(move |st| st.consents(&n)).await {
        Ok(list) => json(
            StatusCode::OK,
            serde_json::json!({"number": number, "consents": list}),
        ),
        Err(e) => {
            warn!(error = %e, "consent lookup failed");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"error": "store unavailable"}),
            )
        }
    }
}
