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

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ask;
use super::calls::ApiCommand;
use super::ops::{AppState, OpsState};
use super::{ApiError, error, reply};

/// How long the SIP loop has to answer.
const WAIT: Duration = Duration::from_secs(2);

/// What the SIP loop says of itself for `/ready`.
pub(crate) struct Readiness {
    pub(crate) flows: Vec<String>,
}

pub(super) fn routes() -> OpenApiRouter<Arc<OpsState>> {
    OpenApiRouter::new()
        .routes(routes!(ready))
        .routes(routes!(flows))
        .routes(routes!(reload))
        .routes(routes!(outbox))
        .routes(routes!(retry))
        .routes(routes!(chat_started))
}

/// Readiness, and what it rests on.
#[derive(Serialize, ToSchema)]
struct Ready {
    /// All of the below.
    ready: bool,
    /// The SIP loop answered.
    sip: bool,
    /// The store answered.
    store: bool,
    /// Flows loaded.
    flows: usize,
}

/// Readiness: the SIP loop answers, the store answers, flows are loaded.
#[utoipa::path(get, path = "/ready", tag = "operations", responses(
    (status = 200, description = "Ready", body = Ready),
    (status = 503, description = "Not ready", body = Ready)))]
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
    let sip = sip.is_some();
    reply(
        status,
        Ready {
            ready: ok,
            sip,
            store,
            flows,
        },
    )
}

/// The flows new calls run.
#[derive(Serialize, ToSchema)]
struct Flows {
    /// Their names.
    flows: Vec<String>,
}

/// The flows new calls run (admin).
#[utoipa::path(get, path = "/flows", tag = "operations", security(("admin" = [])), responses(
    (status = 200, description = "The flows", body = Flows),
    (status = 401, description = "No admin token"),
    (status = 503, description = "The SIP loop did not answer", body = ApiError)))]
async fn flows(State(s): AppState, headers: HeaderMap) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    match ask(&s.commands, ApiCommand::Ready, WAIT).await {
        Some(r) => reply(StatusCode::OK, Flows { flows: r.flows }),
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the SIP loop did not answer",
        ),
    }
}

/// A reload's answer.
#[derive(Serialize, ToSchema)]
struct Reload {
    /// Whether the new set is in use.
    reloaded: bool,
    /// The flows now in use (when reloaded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    flows: Vec<String>,
    /// Every error, with its file, node and field (when refused).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
}

/// Load and check the flow directory, and swap it in for new calls (admin).
#[utoipa::path(post, path = "/flows/reload", tag = "operations", security(("admin" = [])),
    responses(
    (status = 200, description = "Reloaded", body = Reload),
    (status = 401, description = "No admin token"),
    (status = 422, description = "Refused: the set in use stays", body = Reload),
    (status = 503, description = "The SIP loop did not answer", body = ApiError)))]
async fn reload(State(s): AppState, headers: HeaderMap) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    match ask(&s.commands, ApiCommand::ReloadFlows, WAIT).await {
        Some(Ok(flows)) => reply(
            StatusCode::OK,
            Reload {
                reloaded: true,
                flows,
                errors: vec![],
            },
        ),
        Some(Err(errors)) => reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            Reload {
                reloaded: false,
                flows: vec![],
                errors,
            },
        ),
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the SIP loop did not answer",
        ),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct OutboxQuery {
    /// Only messages in this state.
    #[param(value_type = Option<OutboxState>, inline)]
    state: Option<String>,
    /// At most this many (default 100).
    #[param(maximum = 10_000)]
    limit: Option<u32>,
}

/// A message's state ([`sms_gateway::State::NAMES`]).
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum OutboxState {
    Queued,
    Submitting,
    Accepted,
    Delivered,
    Failed,
    Dead,
}

/// Messages of the outbox, newest first.
#[derive(Serialize, ToSchema)]
struct Outbox {
    /// Each message as stored.
    #[schema(value_type = Vec<Object>)]
    messages: Vec<sms_gateway::Message>,
}

/// The latest SMS, newest first; `state=dead` lists the dead letters (admin).
#[utoipa::path(get, path = "/sms/outbox", tag = "operations", security(("admin" = [])),
    params(OutboxQuery), responses(
    (status = 200, description = "The messages", body = Outbox),
    (status = 400, description = "An unknown state, or a limit over 10,000", body = ApiError),
    (status = 401, description = "No admin token"),
    (status = 503, description = "The store did not answer", body = ApiError)))]
async fn outbox(
    State(s): AppState,
    headers: HeaderMap,
    q: Result<Query<OutboxQuery>, QueryRejection>,
) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let q = match super::query(q) {
        Ok(q) => q,
        Err(refusal) => return *refusal,
    };
    let names = sms_gateway::State::NAMES;
    if let Some(state) = q.state.as_deref().filter(|st| !names.contains(st)) {
        let e = format!("state {state}: one of {}", names.join(", "));
        return error(StatusCode::BAD_REQUEST, &e);
    }
    let limit = q.limit.unwrap_or(100) as usize;
    if limit > 10_000 {
        let e = format!("limit {limit}: at most 10000");
        return error(StatusCode::BAD_REQUEST, &e);
    }
    let limit = limit.max(1);
    let state = q.state.clone();
    let listed = s
        .sms
        .store
        .call(move |st| st.list_messages(state.as_deref(), limit))
        .await;
    match listed {
        Ok(messages) => reply(StatusCode::OK, Outbox { messages }),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// A retry's answer.
#[derive(Serialize, ToSchema)]
struct Retried {
    /// The message.
    id: u64,
    /// Whether it is queued again.
    retried: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Send a dead (or failed) message again, its attempts counted afresh (admin).
#[utoipa::path(post, path = "/sms/outbox/{id}/retry", tag = "operations",
    security(("admin" = [])), params(("id" = u64, Path, description = "The message id")),
    responses(
    (status = 202, description = "Queued again", body = Retried),
    (status = 400, description = "Not a message id", body = ApiError),
    (status = 401, description = "No admin token"),
    (status = 409, description = "Not dead or failed, or no longer in memory", body = Retried),
    (status = 503, description = "The outbox did not answer", body = ApiError)))]
async fn retry(State(s): AppState, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let Ok(id) = id.parse::<u64>() else {
        return error(StatusCode::BAD_REQUEST, "a message id is a number");
    };
    match s.sms.retry(sms_gateway::MessageId(id)).await {
        Ok(true) => reply(
            StatusCode::ACCEPTED,
            Retried {
                id,
                retried: true,
                error: None,
            },
        ),
        Ok(false) => {
            let error = Some("not a dead or failed message in the outbox".to_string());
            reply(
                StatusCode::CONFLICT,
                Retried {
                    id,
                    retried: false,
                    error,
                },
            )
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e),
    }
}

/// A funnel stage counted.
#[derive(Serialize, ToSchema)]
struct Counted {
    /// Always true.
    counted: bool,
}

/// The chat platform reports a deflected caller's chat began (admin; the body is not read).
#[utoipa::path(post, path = "/deflection/chat-started", tag = "operations",
    security(("admin" = [])), responses(
    (status = 202, description = "Counted", body = Counted),
    (status = 401, description = "No admin token")))]
async fn chat_started(State(s): AppState, headers: HeaderMap) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    crate::meters::funnel("chat_started");
    s.cdrs.stage(crate::clock::unix_ms(), "chat_started");
    reply(StatusCode::ACCEPTED, Counted { counted: true })
}
