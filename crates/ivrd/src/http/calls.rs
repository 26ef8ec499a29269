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

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use call_control::{CallView, PushRefusal};
use serde::Deserialize;
use serde_json::json as j;
use tokio::sync::{mpsc, oneshot};

use super::{Admin, json};
use crate::push_log::PushLog;

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

pub(crate) fn router(api: Api, admin: Admin) -> Router {
    let shared = Arc::new(Shared { api, admin });
    Router::new()
        .route("/calls", get(list).post(push))
        .route("/calls/{id}", get(outcome).delete(hang_up))
        .route("/calls/{id}/priority", post(priority))
        .with_state(shared)
}

/// The body of `POST /calls`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PushBody {
    to: String,
    flow: String,
    #[serde(default)]
    vars: BTreeMap<String, String>,
    caller_id: Option<String>,
    trunk: Option<String>,
    status_url: Option<String>,
    ring_timeout_s: Option<u64>,
}

fn bad(reason: impl std::fmt::Display) -> Response {
    json(StatusCode::BAD_REQUEST, j!({ "error": reason.to_string() }))
}

fn gone() -> Response {
    json(
        StatusCode::SERVICE_UNAVAILABLE,
        j!({"error": "the call loop is not answering"}),
    )
}

/// Checks a push request; the reason it is refused otherwise.
fn check(body: PushBody, default_ring_s: u64) -> Result<PushOrder, String> {
    let to = body.to.trim();
    if to.is_empty() || to.len() > 256 {
        return Err("`to` must be 1 to 256 characters".into());
    }
    if to
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>\"".contains(c))
    {
        return Err("`to` has spaces, quotes, angle brackets or control characters".into());
    }
    let uri = to.starts_with("sip:") || to.starts_with("sips:");
    let number = to.strip_prefix('+').unwrap_or(to);
    if !uri {
        if number.is_empty() || number.len() > 20 || !number.chars().all(|c| c.is_ascii_digit()) {
            return Err("`to` is neither a sip: URI nor a number (+ and up to 20 digits)".into());
        }
        if body.trunk.is_none() {
            return Err("a number needs a `trunk` to be called through".into());
        }
    }
    if body.flow.is_empty()
        || !body
            .flow
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    {
        return Err("`flow` must name a flow (letters, digits, - and _)".into());
    }
    if let Some(id) = &body.caller_id
        && (id.is_empty()
            || id.len() > 32
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '+'))
    {
        return Err("`caller_id` must be 1 to 32 letters, digits or +".into());
    }
    if let Some(url) = &body.status_url {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("`status_url`: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("`status_url` must be http or https".into());
        }
    }
    for (k, v) in &body.vars {
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("var `{k}`: names are letters, digits and _"));
        }
        if v.len() > 1024 {
            return Err(format!("var `{k}`: over 1024 bytes"));
        }
    }
    let ring_timeout_s = body.ring_timeout_s.unwrap_or(default_ring_s);
    if !(1..=300).contains(&ring_timeout_s) {
        return Err("`ring_timeout_s` must be 1 to 300".into());
    }
    Ok(PushOrder {
        id: format!("push-{:016x}", crate::clock::secure_random()),
        to: to.to_string(),
        flow: body.flow,
        vars: body.vars.into_iter().collect(),
        caller_id: body.caller_id,
        trunk: body.trunk,
        status_url: body.status_url,
        ring_timeout_s,
    })
}

async fn push(State(s): AppState, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let body: PushBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad(format!("body: {e}")),
    };
    let order = match check(body, s.api.ring_timeout_s) {
        Ok(o) => o,
        Err(reason) => return bad(reason),
    };
    let id = order.id.clone();
    let (tx, rx) = oneshot::channel();
    if s.api.commands.send(ApiCommand::Push(order, tx)).is_err() {
        return gone();
    }
    match rx.await {
        Ok(Ok(())) => json(StatusCode::ACCEPTED, j!({"id": id, "status": "calling"})),
        Ok(Err(e @ PushRefusal::TooFast(_))) => {
            let mut r = json(StatusCode::TOO_MANY_REQUESTS, j!({"error": e.to_string()}));
            r.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
            r
        }
        Ok(Err(e @ PushRefusal::TrunkFull { .. })) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            j!({"error": e.to_string()}),
        ),
        Ok(Err(e)) => bad(e),
        Err(_) => gone(),
    }
}

async fn list(State(s): AppState, headers: HeaderMap) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let (tx, rx) = oneshot::channel();
    if s.api.commands.send(ApiCommand::List(tx)).is_err() {
        return gone();
    }
    let Ok(views) = rx.await else {
        return gone();
    };
    let calls: Vec<serde_json::Value> = views.iter().map(call_json).collect();
    json(StatusCode::OK, j!({ "calls": calls }))
}

/// A live call as the API and the dashboard show it.
pub(crate) fn call_json(v: &CallView) -> serde_json::Value {
    let legs: Vec<serde_json::Value> = v
        .legs
        .iter()
        .map(|l| j!({"leg": l.leg.map(|l| l.to_string()), "target": l.target, "state": l.state}))
        .collect();
    j!({
        "id": v.id, "leg": v.leg.to_string(), "direction": v.direction, "state": v.state,
        "flow": v.flow, "node": v.node, "start_ms": v.start_unix_ms, "legs": legs,
    })
}

async fn outcome(State(s): AppState, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    match s.api.log.get(id).await {
        Ok(Some(record)) => json(StatusCode::OK, record),
        Ok(None) => json(StatusCode::NOT_FOUND, j!({"error": "no such push call"})),
        Err(e) => json(StatusCode::SERVICE_UNAVAILABLE, j!({"error": e})),
    }
}

async fn hang_up(State(s): AppState, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let (tx, rx) = oneshot::channel();
    if s.api.commands.send(ApiCommand::HangUp(id, tx)).is_err() {
        return gone();
    }
    match rx.await {
        Ok(true) => (StatusCode::ACCEPTED, "").into_response(),
        Ok(false) => json(StatusCode::NOT_FOUND, j!({"error": "no such live call"})),
        Err(_) => gone(),
    }
}

/// `POST /calls/{id}/priority` `{"priority": N}`: a waiting caller moves up (or down) the
/// line; higher goes first, -1000 to 1000.
async fn priority(
    State(s): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        priority: i32,
    }
    let p = match serde_json::from_slice::<Body>(&body) {
        Ok(b) if (-1000..=1000).contains(&b.priority) => b.priority,
        Ok(b) => {
            let error = format!("priority {}: must be -1000 to 1000", b.priority);
            return json(StatusCode::BAD_REQUEST, j!({ "error": error }));
        }
        Err(e) => return json(StatusCode::BAD_REQUEST, j!({"error": e.to_string()})),
    };
    let (tx, rx) = oneshot::channel();
    if s.api
        .commands
        .send(ApiCommand::Priority(id, p, tx))
        .is_err()
    {
        return gone();
    }
    match rx.await {
        Ok(true) => (StatusCode::NO_CONTENT, "").into_response(),
        Ok(false) => json(
            StatusCode::NOT_FOUND,
            j!({"error": "no such call waiting in a queue"}),
        ),
        Err(_) => gone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: serde_json::Value) -> Result<PushOrder, String> {
        check(serde_json::from_value(v).map_err(|e| e.to_string())?, 30)
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
                "control characters",
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
