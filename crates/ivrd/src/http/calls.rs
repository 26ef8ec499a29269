//! The calls API (admin token):
//! - `POST /calls` with `{"to", "flow", "vars"?, "caller_id"?, "trunk"?, "status_url"?,
//!   "ring_timeout_s"?}`: a push call. `202 {"id"}` once placed; the flow runs when the callee
//!   answers; the outcome (answered, busy, no_answer, failed, with durations) is stored and
//!   POSTed to `status_url`. `400` with the reason for bad input, `429` over the rate of push
//!   calls (with `Retry-After`), `503` when the trunk is at its cap.
//! - `GET /calls`: live calls, with their state, flow and the legs placed for them.
//! - `GET /calls/{id}`: a push call's stored outcome.
//! - `DELETE /calls/{id}`: hang up a live call (a push still ringing is cancelled).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use call_control::{CallView, PushRefusal};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Admin, ApiError, GONE, WAIT, error, matches, reply};
use crate::push_log::{PushLog, PushRecord};

/// A push call as the API asked for it, checked.
#[derive(Debug, Clone)]
pub(crate) struct PushOrder {
    pub(crate) id: String,
    pub(crate) to: String,
    pub(crate) flow: String,
    pub(crate) vars: Vec<(String, String)>,
    pub(crate) caller_id: Option<String>,
    pub(crate) trunk: Option<String>,
    pub(crate) status_url: Option<String>,
    pub(crate) ring_timeout_s: u64,
}

/// What the API asks of the SIP loop.
pub(crate) enum ApiCommand {
    Push(PushOrder, oneshot::Sender<Result<(), PushRefusal>>),
    List(oneshot::Sender<Vec<CallView>>),
    HangUp(String, oneshot::Sender<bool>),
    /// An agent's new status; false if there is no such agent.
    AgentStatus(String, call_control::AgentStatus, oneshot::Sender<bool>),
    /// Every agent: status, state, where they are rung.
    Agents(oneshot::Sender<Vec<call_control::AgentView>>),
    /// A waiting caller's new priority; false if the call is not waiting in a queue.
    Priority(String, i32, oneshot::Sender<bool>),
    /// Publish the SIP loop's counters and gauges now (a scrape is about to render them).
    Publish(oneshot::Sender<()>),
    /// What the dashboard shows of the SIP loop now.
    Dashboard(oneshot::Sender<super::dashboard::Live>),
    /// The flows loaded (for `/ready` and `GET /flows`).
    Ready(oneshot::Sender<super::Readiness>),
    /// Load, check and swap the flows: their names, or every error.
    ReloadFlows(oneshot::Sender<Result<Vec<String>, Vec<String>>>),
}

/// The API's side of the channel to the SIP loop, and the stores it reads.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) commands: mpsc::UnboundedSender<ApiCommand>,
    pub(crate) log: PushLog,
    pub(crate) tickets: crate::tickets::TicketLog,
    /// Tickets offered to agents, as (agent, ticket JSON), for their pages.
    pub(crate) agent_events: tokio::sync::broadcast::Sender<(String, String)>,
    /// Ring timeout when the request gives none.
    pub(crate) ring_timeout_s: u64,
}

struct Shared {
    api: Api,
    admin: Admin,
}

type AppState = State<Arc<Shared>>;

pub(crate) fn routes(api: Api, admin: Admin) -> OpenApiRouter {
    let shared = Arc::new(Shared { api, admin });
    OpenApiRouter::new()
        .routes(routes!(list, push))
        .routes(routes!(outcome, hang_up))
        .routes(routes!(priority))
        .with_state(shared)
}

/// What a push call's `to` may be: a `sip:`/`sips:` URI (printable ASCII, no spaces, quotes or
/// angle brackets), or a number (`+` and up to 20 digits) called through a trunk.
const TO: &str = r#"^(sips?:[!#-;=?-~]{1,252}|\+?[0-9]{1,20})$"#;
/// Names of flows and trunks.
const NAME: &str = "^[A-Za-z0-9_-]{1,64}$";
/// Names of a flow's variables.
const VAR: &str = "^[A-Za-z0-9_]{1,64}$";
/// A caller id.
const CALLER_ID: &str = r"^[A-Za-z0-9+]{1,32}$";
/// A status URL, before it is parsed.
const STATUS_URL: &str = r#"^https?://[!#-;=?-~]{1,2040}$"#;

/// The body of `POST /calls`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"to": "sip:alice@127.0.0.1:5999", "flow": "demo", "ring_timeout_s": 2}))]
#[serde(deny_unknown_fields)]
struct PushBody {
    /// Whom to call: a `sip:` or `sips:` URI, or a number (`+` and up to 20 digits), which
    /// needs `trunk`.
    #[schema(pattern = r#"^(sips?:[!#-;=?-~]{1,252}|\+?[0-9]{1,20})$"#)]
    to: String,
    /// The flow to run when they answer.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    flow: String,
    /// The flow's variables (names: letters, digits, `_`; values up to 1,024 bytes).
    #[serde(default)]
    #[schema(schema_with = vars_schema)]
    vars: BTreeMap<String, String>,
    /// The caller id to present.
    #[schema(pattern = r"^[A-Za-z0-9+]{1,32}$")]
    caller_id: Option<String>,
    /// The trunk to call through.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    trunk: Option<String>,
    /// Where the outcome is POSTed when the call is over.
    #[schema(pattern = r#"^https?://[!#-;=?-~]{1,2040}$"#)]
    status_url: Option<String>,
    /// How long it may ring (default from `[push]`).
    #[schema(minimum = 1, maximum = 300)]
    #[serde(default, deserialize_with = "super::whole_opt")]
    ring_timeout_s: Option<u64>,
}

fn vars_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let value = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(1024));
    let name = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(VAR));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(value))
        .property_names(Some(name))
        .build()
}

/// The patterns above, which the document carries too (a test holds them equal).
pub(super) const PATTERNS: [&str; 5] = [TO, NAME, VAR, CALLER_ID, STATUS_URL];

/// Why a push request was refused: malformed (`400`), or well formed but not something ivrd
/// can call (`422`).
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    Malformed(String),
    Unusable(String),
}

/// Checks a push request; the reason it is refused otherwise.
fn check(body: PushBody, default_ring_s: u64) -> Result<PushOrder, Refused> {
    let malformed = |what: &str| Err(Refused::Malformed(what.to_string()));
    if !matches(TO, &body.to) {
        return malformed(
            "`to` is neither a sip: URI (printable, no spaces, quotes or angle brackets) \
             nor a number (+ and up to 20 digits)",
        );
    }
    if !matches(NAME, &body.flow) {
        return malformed("`flow` must name a flow (1 to 64 letters, digits, - and _)");
    }
    if body
        .caller_id
        .as_deref()
        .is_some_and(|c| !matches(CALLER_ID, c))
    {
        return malformed("`caller_id` must be 1 to 32 letters, digits or +");
    }
    if body.trunk.as_deref().is_some_and(|t| !matches(NAME, t)) {
        return malformed("`trunk` must name a trunk (1 to 64 letters, digits, - and _)");
    }
    if let Some(url) = &body.status_url {
        if !matches(STATUS_URL, url) {
            return malformed("`status_url` must be an http or https URL");
        }
        if let Err(e) = reqwest::Url::parse(url) {
            return Err(Refused::Unusable(format!("`status_url`: {e}")));
        }
    }
    for (k, v) in &body.vars {
        if !matches(VAR, k) {
            let e = format!("var `{k}`: names are 1 to 64 letters, digits and _");
            return Err(Refused::Malformed(e));
        }
        if v.chars().count() > 1024 {
            return Err(Refused::Malformed(format!(
                "var `{k}`: over 1024 characters"
            )));
        }
    }
    let ring_timeout_s = body.ring_timeout_s.unwrap_or(default_ring_s);
    if !(1..=300).contains(&ring_timeout_s) {
        return malformed("`ring_timeout_s` must be 1 to 300");
    }
    let uri = body.to.starts_with("sip:") || body.to.starts_with("sips:");
    if !uri && body.trunk.is_none() {
        let e = "a number needs a `trunk` to be called through";
        return Err(Refused::Unusable(e.into()));
    }
    Ok(PushOrder {
        id: format!("push-{:016x}", crate::clock::secure_random()),
        to: body.to,
        flow: body.flow,
        vars: body.vars.into_iter().collect(),
        caller_id: body.caller_id,
        trunk: body.trunk,
        status_url: body.status_url,
        ring_timeout_s,
    })
}

/// A push call placed.
#[derive(Serialize, ToSchema)]
struct Pushed {
    /// Its id, for `GET` and `DELETE /calls/{id}`.
    id: String,
    /// `calling`.
    status: &'static str,
}

/// Place a push call: ivrd calls `to` and runs `flow` when they answer (admin).
#[utoipa::path(post, path = "/calls", tag = "calls", security(("admin" = [])),
    request_body = PushBody, responses(
    (status = 202, description = "Placed", body = Pushed),
    (status = 400, description = "A malformed request", body = ApiError),
    (status = 401, description = "No admin token"),
    (status = 409, description = "A call with this id is live", body = ApiError),
    (status = 422, description = "No such flow or trunk, a number without a trunk, or a \
        status URL that does not parse", body = ApiError),
    (status = 429, description = "Over the rate of push calls (`Retry-After`)", body = ApiError),
    (status = 503, description = "The trunk is at its cap, or the call loop does not answer",
        body = ApiError)))]
async fn push(State(s): AppState, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let body: PushBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("body: {e}")),
    };
    let order = match check(body, s.api.ring_timeout_s) {
        Ok(o) => o,
        Err(Refused::Malformed(e)) => return error(StatusCode::BAD_REQUEST, &e),
        Err(Refused::Unusable(e)) => return error(StatusCode::UNPROCESSABLE_ENTITY, &e),
    };
    let id = order.id.clone();
    let refusal = match super::ask(&s.api.commands, |tx| ApiCommand::Push(order, tx), WAIT).await {
        Some(Ok(())) => {
            return reply(
                StatusCode::ACCEPTED,
                Pushed {
                    id,
                    status: "calling",
                },
            );
        }
        Some(Err(e)) => e,
        None => return error(StatusCode::SERVICE_UNAVAILABLE, GONE),
    };
    let status = match refusal {
        PushRefusal::TooFast(_) => StatusCode::TOO_MANY_REQUESTS,
        PushRefusal::TrunkFull { .. } => StatusCode::SERVICE_UNAVAILABLE,
        PushRefusal::Duplicate(_) => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let mut r = error(status, &refusal.to_string());
    if matches!(
        refusal,
        PushRefusal::TooFast(_) | PushRefusal::TrunkFull { .. }
    ) {
        r.headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("1"));
    }
    r
}

/// The live calls.
#[derive(Serialize, ToSchema)]
struct Calls {
    /// Ordered by id.
    calls: Vec<LiveCall>,
}

/// A live call as the API and the dashboard show it.
#[derive(Serialize, ToSchema)]
pub(crate) struct LiveCall {
    /// Its API id: the SIP Call-ID of an inbound call, a push call's id.
    id: String,
    /// Its leg.
    leg: String,
    /// `inbound` or `push`.
    direction: &'static str,
    /// `ringing`, `answering`, `calling`, `up`, `refused`.
    state: &'static str,
    /// The flow it runs.
    flow: String,
    /// Where its flow is: `flow/node`.
    node: String,
    /// When it began, ms since the Unix epoch.
    start_ms: i64,
    /// Legs placed for its dial node, or the one it is bridged to.
    legs: Vec<PlacedLeg>,
    /// How long it has lasted (the dashboard's).
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_s: Option<i64>,
}

/// A leg placed for a call.
#[derive(Serialize, ToSchema)]
struct PlacedLeg {
    /// The leg, once placed.
    leg: Option<String>,
    /// Its target.
    target: String,
    /// `placing`, `calling`, `ringing`, `bridged`, `over`.
    state: &'static str,
}

impl LiveCall {
    pub(crate) fn new(v: &CallView, duration_s: Option<i64>) -> Self {
        let legs = v
            .legs
            .iter()
            .map(|l| PlacedLeg {
                leg: l.leg.map(|l| l.to_string()),
                target: l.target.clone(),
                state: l.state,
            })
            .collect();
        Self {
            id: v.id.clone(),
            leg: v.leg.to_string(),
            direction: v.direction,
            state: v.state,
            flow: v.flow.clone(),
            node: v.node.clone(),
            start_ms: v.start_unix_ms,
            legs,
            duration_s,
        }
    }
}

/// The live calls, with their state, flow node and the legs placed for them (admin).
#[utoipa::path(get, path = "/calls", tag = "calls", security(("admin" = [])), responses(
    (status = 200, description = "The calls", body = Calls),
    (status = 401, description = "No admin token"),
    (status = 503, description = "The call loop does not answer", body = ApiError)))]
async fn list(State(s): AppState, headers: HeaderMap) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    match super::ask(&s.api.commands, ApiCommand::List, WAIT).await {
        Some(views) => {
            let calls = views.iter().map(|v| LiveCall::new(v, None)).collect();
            reply(StatusCode::OK, Calls { calls })
        }
        None => error(StatusCode::SERVICE_UNAVAILABLE, GONE),
    }
}

/// A push call's stored outcome (admin).
#[utoipa::path(get, path = "/calls/{id}", tag = "calls", security(("admin" = [])),
    params(("id" = String, Path, description = "The push call's id")), responses(
    (status = 200, description = "Its record", body = PushRecord),
    (status = 401, description = "No admin token"),
    (status = 404, description = "No such push call", body = ApiError),
    (status = 503, description = "The store does not answer", body = ApiError)))]
async fn outcome(State(s): AppState, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    match s.api.log.get(id).await {
        Ok(Some(record)) => reply(StatusCode::OK, record),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such push call"),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e),
    }
}

/// Hang up a live call; a push call still ringing is cancelled (admin).
#[utoipa::path(delete, path = "/calls/{id}", tag = "calls", security(("admin" = [])),
    params(("id" = String, Path, description = "The call's API id")), responses(
    (status = 202, description = "Hanging up"),
    (status = 401, description = "No admin token"),
    (status = 404, description = "No such live call", body = ApiError),
    (status = 503, description = "The call loop does not answer", body = ApiError)))]
async fn hang_up(State(s): AppState, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    match super::ask(&s.api.commands, |tx| ApiCommand::HangUp(id, tx), WAIT).await {
        Some(true) => StatusCode::ACCEPTED.into_response(),
        Some(false) => error(StatusCode::NOT_FOUND, "no such live call"),
        None => error(StatusCode::SERVICE_UNAVAILABLE, GONE),
    }
}

/// A waiting caller's new place in line.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Priority {
    /// Higher goes first.
    #[schema(minimum = -1000, maximum = 1000)]
    #[serde(deserialize_with = "super::whole")]
    priority: i32,
}

/// Move a caller waiting in a queue up (or down) the line (admin).
#[utoipa::path(post, path = "/calls/{id}/priority", tag = "queues", security(("admin" = [])),
    params(("id" = String, Path, description = "The call's API id")),
    request_body = Priority, responses(
    (status = 204, description = "Moved"),
    (status = 400, description = "Not a priority from -1000 to 1000", body = ApiError),
    (status = 401, description = "No admin token"),
    (status = 404, description = "No such call waiting in a queue", body = ApiError),
    (status = 503, description = "The call loop does not answer", body = ApiError)))]
async fn priority(
    State(s): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let p = match serde_json::from_slice::<Priority>(&body) {
        Ok(b) if (-1000..=1000).contains(&b.priority) => b.priority,
        Ok(b) => {
            let e = format!("priority {}: must be -1000 to 1000", b.priority);
            return error(StatusCode::BAD_REQUEST, &e);
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    match super::ask(&s.api.commands, |tx| ApiCommand::Priority(id, p, tx), WAIT).await {
        Some(true) => StatusCode::NO_CONTENT.into_response(),
        Some(false) => error(StatusCode::NOT_FOUND, "no such call waiting in a queue"),
        None => error(StatusCode::SERVICE_UNAVAILABLE, GONE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json as j;

    fn body(v: serde_json::Value) -> Result<PushOrder, String> {
        let body = serde_json::from_value(v).map_err(|e| e.to_string())?;
        check(body, 30).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn the_document_carries_the_patterns_the_handler_checks() {
        let schema =
            serde_json::to_value(<PushBody as utoipa::PartialSchema>::schema()).expect("schema");
        let pattern = |field: &str| schema["properties"][field]["pattern"].clone();
        assert_eq!(pattern("to"), TO);
        assert_eq!(pattern("flow"), NAME);
        assert_eq!(pattern("trunk"), NAME);
        assert_eq!(pattern("caller_id"), CALLER_ID);
        assert_eq!(pattern("status_url"), STATUS_URL);
        assert_eq!(
            schema["properties"]["vars"]["propertyNames"]["pattern"],
            VAR
        );
        for p in PATTERNS {
            assert!(regex::Regex::new(p).is_ok(), "{p} compiles");
        }
    }

    #[test]
    fn push_requests_are_checked_with_reasons() {
        let ok = body(j!({"to": "sip:bob@127.0.0.1:5070", "flow": "notify"})).expect("valid");
        assert_eq!((ok.ring_timeout_s, ok.trunk), (30, None));
        assert!(ok.id.starts_with("push-"));
        for (v, reason) in [
            (
                j!({"to": "+15551234567", "flow": "notify"}),
                "needs a `trunk`",
            ),
            (
                j!({"to": "sip:a@b\r\nX: y", "flow": "notify"}),
                "neither a sip: URI",
            ),
            (
                j!({"to": "12ab", "flow": "notify", "trunk": "t"}),
                "neither a sip: URI",
            ),
            (j!({"to": "sip:a@b", "flow": "../x"}), "must name a flow"),
            (
                j!({"to": "sip:a@b", "flow": "n", "caller_id": "a b"}),
                "`caller_id`",
            ),
            (
                j!({"to": "sip:a@b", "flow": "n", "status_url": "ftp://x"}),
                "http or https",
            ),
            (
                j!({"to": "sip:a@b", "flow": "n", "status_url": "not a url"}),
                "`status_url`",
            ),
            (
                j!({"to": "sip:a@b", "flow": "n", "status_url": "http://[::1"}),
                "Unusable",
            ),
            (j!({"to": " sip:a@b", "flow": "n"}), "Malformed"),
            (
                j!({"to": "sip:a@b", "flow": "n", "ring_timeout_s": 0}),
                "1 to 300",
            ),
            (
                j!({"to": "sip:a@b", "flow": "n", "vars": {"a-b": "x"}}),
                "var `a-b`",
            ),
        ] {
            let e = body(v.clone()).expect_err("refused");
            assert!(e.contains(reason), "{v}: {e}");
        }
        let unknown: Result<PushBody, _> =
            serde_json::from_value(j!({"to": "x", "flow": "y", "tο": 1}));
        assert!(unknown.is_err(), "unknown fields are refused");
    }
}
