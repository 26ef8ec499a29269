//! The admin API's operations routes:
//! - `GET /ready` (open): readiness for a load balancer or an orchestrator: `200` when SIP is
//!   bound and its loop answers, the store answers and flows are loaded; `503` with what is not.
//!   (`GET /health` stays the liveness check: the process answers at all.)
//! - `GET /flows` (admin): the flows new calls run.
//! - `POST /flows/reload` (admin): load and check the flow directory again and swap the set
//!   for new calls; calls already running keep theirs. A broken set changes nothing and answers
//!   `422` with every error, each with its file, node and field.
//! - `GET /sms/outbox?state=&limit=` (admin): the latest messages, newest first (`state`:
//!   `queued`, `submitting`, `accepted`, `delivered`, `failed`, `dead`); `dead` lists the
//!   dead letters.
//! - `POST /deflection/chat-started` (admin): the chat platform tells ivrd that a deflected
//!   caller started the chat (the funnel's last stage; the body, if any, is not read).
//! - `POST /sms/outbox/{id}/retry` (admin): send a dead (or failed) message again, its attempts
//!   counted afresh; `409` if it is neither, or older than the outbox keeps in memory.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::calls::ApiCommand;
use super::ops::{AppState, OpsState};
use super::{ask, json as reply};

/// How long the SIP loop has to answer.
const WAIT: Duration = Duration::from_secs(2);

/// What the SIP loop says of itself for `/ready`.
pub(crate) struct Readiness {
    pub(crate) flows: Vec<String>,
}

pub(super) fn routes() -> Router<Arc<OpsState>> {
    Router::new()
        .route("/ready", get(ready))
        .route("/flows", get(flows))
        .route("/flows/reload", post(reload))
        .route("/sms/outbox", get(outbox))
        .route("/sms/outbox/{id}/retry", post(retry))
        .route("/deflection/chat-started", post(chat_started))
}

async fn ready(State(s): AppState) -> Response {
    let sip = ask(&s.commands, ApiCommand::Ready, WAIT).await;
    let query = crate::cdr::Query {
        since: 0,
        until: 0,
        limit: 1,
    };
    let store = s.cdrs.read(query).await.is_ok();
    let flows = sip.as_ref().map_or(0, |r| r.flows.len());
    let ok = sip.is_some() && store && flows > 0;
    let status = match ok {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    reply(
        status,
        json!({"ready": ok, "sip": sip.is_some(), "store": store, "flows": flows}),
    )
}

async fn flows(State(s): AppState, headers: HeaderMap) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    match ask(&s.commands, ApiCommand::Ready, WAIT).await {
        Some(r) => reply(StatusCode::OK, json!({"flows": r.flows})),
        None => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "the SIP loop did not answer"}),
        ),
    }
}

async fn reload(State(s): AppState, headers: HeaderMap) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    match ask(&s.commands, ApiCommand::ReloadFlows, WAIT).await {
        Some(Ok(flows)) => reply(StatusCode::OK, json!({"reloaded": true, "flows": flows})),
        Some(Err(errors)) => reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"reloaded": false, "errors": errors}),
        ),
        None => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "the SIP loop did not answer"}),
        ),
    }
}

#[derive(Deserialize)]
struct OutboxQuery {
    state: Option<String>,
    limit: Option<usize>,
}

async fn outbox(State(s): AppState, headers: HeaderMap, Query(q): Query<OutboxQuery>) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    if let Some(state) = q
        .state
        .as_deref()
        .filter(|st| !sms_gateway::State::NAMES.contains(st))
    {
        let error = format!(
            "state {state}: one of {}",
            sms_gateway::State::NAMES.join(", ")
        );
        return reply(StatusCode::BAD_REQUEST, json!({"error": error}));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let state = q.state.clone();
    let listed = s
        .sms
        .store
        .call(move |st| st.list_messages(state.as_deref(), limit))
        .await;
    match listed {
        Ok(messages) => reply(StatusCode::OK, json!({"messages": messages})),
        Err(e) => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": e.to_string()}),
        ),
    }
}

async fn retry(State(s): AppState, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let Ok(id) = id.parse::<u64>() else {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "a message id is a number"}),
        );
    };
    match s.sms.retry(sms_gateway::MessageId(id)).await {
        Ok(true) => reply(StatusCode::ACCEPTED, json!({"id": id, "retried": true})),
        Ok(false) => reply(
            StatusCode::CONFLICT,
            json!({"id": id, "retried": false, "error": "not a dead or failed message in the outbox"}),
        ),
        Err(e) => reply(StatusCode::SERVICE_UNAVAILABLE, json!({"error": e})),
    }
}

async fn chat_started(State(s): AppState, headers: HeaderMap) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    crate::meters::funnel("chat_started");
    s.cdrs.stage(crate::clock::unix_ms(), "chat_started");
    reply(StatusCode::ACCEPTED, json!({"counted": true}))
}
