//! The SMS gateways' callbacks: delivery receipts and inbound messages from Kannel, Twilio
//! and the HTTP-template provider. They are open (a gateway cannot hold a token), Twilio's
//! signed; the parsers in `sms_gateway::provider` are the contract, and the parameter types
//! here only document it.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sms_gateway::Inbound;
use sms_gateway::provider::{Receipt, kannel, template, twilio};
use tracing::warn;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{AppState, Shared};

/// How a delivery report is answered.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum Report {
    /// Stored
    #[response(status = 200)]
    Stored,
    /// Not a report
    #[response(status = 400, content_type = "text/plain")]
    Malformed(String),
    /// Not stored: send it again
    #[response(status = 503, content_type = "text/plain")]
    Unstored(String),
}

/// How an inbound message is answered.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum Message {
    /// Stored; the reply to send, if any
    #[response(status = 200, content_type = "text/plain")]
    Stored(String),
    /// Not a message
    #[response(status = 400, content_type = "text/plain")]
    Malformed(String),
    /// Not stored: send it again
    #[response(status = 503, content_type = "text/plain")]
    Unstored(String),
}

/// The callback routes (state: the SMS routes' own).
pub(super) fn routes() -> OpenApiRouter<std::sync::Arc<Shared>> {
    OpenApiRouter::new()
        .routes(routes!(kannel_dlr))
        .routes(routes!(kannel_mo))
        .routes(routes!(twilio_status))
        .routes(routes!(twilio_inbound))
        .routes(routes!(http_dlr, http_dlr_post))
        .routes(routes!(http_mo, http_mo_post))
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
#[utoipa::path(
    get,
    path = "/sms/kannel/dlr",
    tag = "sms",
    params(KannelDlr),
    responses(Report)
)]
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
#[utoipa::path(
    get,
    path = "/sms/kannel/mo",
    tag = "sms",
    params(KannelMo),
    responses(Message)
)]
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
#[utoipa::path(
    get,
    path = "/sms/http/dlr",
    tag = "sms",
    params(HttpDlr),
    responses(Report)
)]
async fn http_dlr(State(s): AppState, RawQuery(q): RawQuery, body: axum::body::Bytes) -> Response {
    receipt(&s, "http", template::receipt, &pairs(q, Some(&body))).await
}

/// A delivery report from the HTTP-template provider, posted (open; the fields in the query
/// or a form body).
#[utoipa::path(
    post,
    path = "/sms/http/dlr",
    tag = "sms",
    params(HttpDlr),
    responses(Report)
)]
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
#[utoipa::path(
    get,
    path = "/sms/http/mo",
    tag = "sms",
    params(HttpMo),
    responses(Message)
)]
async fn http_mo(State(s): AppState, RawQuery(q): RawQuery, body: axum::body::Bytes) -> Response {
    inbound(&s, "http", template::inbound, &pairs(q, Some(&body))).await
}

/// An inbound SMS from the HTTP-template provider, posted (open; the fields in the query or a
/// form body).
#[utoipa::path(
    post,
    path = "/sms/http/mo",
    tag = "sms",
    params(HttpMo),
    responses(Message)
)]
async fn http_mo_post(state: AppState, query: RawQuery, body: axum::body::Bytes) -> Response {
    http_mo(state, query, body).await
}
