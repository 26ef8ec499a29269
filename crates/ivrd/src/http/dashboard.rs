//! The live dashboard (admin token):
//! - `GET /`: the page (plain HTML, CSS and JS shipped in the binary). Opened once as
//!   `/?token=…`, it sets an `HttpOnly`, `SameSite=Strict` cookie and sends the browser on to
//!   `/`, so the token leaves the address bar; without the token or cookie it shows a form.
//! - `GET /dashboard/events`: server-sent events, a `snapshot` each second: live calls with
//!   their flow node and duration, inbound calls per minute over the last hour (the chart) and
//!   per second over the last minute, today's deflection funnel, the SMS outbox by state, the
//!   queues' waiting callers and the agents.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use call_control::{AgentView, CallView};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::calls::{ApiCommand, LiveCall};
use super::ops::{AppState, OpsState};
use super::{ADMIN_COOKIE, ask};

/// What the SIP loop shows the dashboard.
pub(crate) struct Live {
    pub(crate) calls: Vec<CallView>,
    pub(crate) queues: Vec<(String, usize)>,
    pub(crate) agents: Vec<AgentView>,
}

pub(super) fn routes() -> OpenApiRouter<Arc<OpsState>> {
    OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(events))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Login {
    /// The admin token, once: it becomes the page's cookie.
    token: Option<String>,
}

/// The live dashboard (admin token, its cookie, or `?token=` once).
#[utoipa::path(get, path = "/", tag = "dashboard", security((), ("admin" = [])), params(Login),
    responses(
    (status = 200, description = "The page", body = String, content_type = "text/html"),
    (status = 303, description = "The token became a cookie: on to `/`"),
    (status = 401, description = "The login form", body = String, content_type = "text/html"),
    (status = 404, description = "No admin token configured")))]
async fn page(
    State(s): AppState,
    headers: HeaderMap,
    q: Result<Query<Login>, QueryRejection>,
) -> Response {
    if !s.admin.enabled() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Ok(Query(q)) = q else {
        return (StatusCode::UNAUTHORIZED, Html(LOGIN)).into_response();
    };
    if let Some(token) = q.token.filter(|t| s.admin.is(t)) {
        let cookie = format!("{ADMIN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
        let headers = [(header::SET_COOKIE, cookie), (header::LOCATION, "/".into())];
        return (StatusCode::SEE_OTHER, headers).into_response();
    }
    match s.admin.refusal_or_cookie(&headers) {
        None => Html(PAGE).into_response(),
        Some(_) => (StatusCode::UNAUTHORIZED, Html(LOGIN)).into_response(),
    }
}

/// What the dashboard shows, as server-sent events: a `snapshot` (JSON) each second (admin).
#[utoipa::path(get, path = "/dashboard/events", tag = "dashboard", security(("admin" = [])),
    responses(
    (status = 200, description = "`snapshot` events", body = super::ServerSentEvent,
        content_type = "text/event-stream"),
    (status = 401, description = "No admin token"),
    (status = 404, description = "No admin token configured")))]
async fn events(State(s): AppState, headers: HeaderMap) -> Response {
    if let Some(refusal) = s.admin.refusal_or_cookie(&headers) {
        return refusal;
    }
    let stream = futures_util::stream::unfold((s, true), |(s, first)| async move {
        if !first {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let snapshot = snapshot(&s).await?;
        let event = Event::default()
            .event("snapshot")
            .data(snapshot.to_string());
        Some((Ok::<_, Infallible>(event), (s, false)))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// One snapshot; `None` once the SIP loop is gone (the stream ends).
async fn snapshot(s: &OpsState) -> Option<Value> {
    let live = ask(&s.commands, ApiCommand::Dashboard, Duration::from_secs(2)).await?;
    let now = crate::clock::unix_ms();
    let mut summary = s.cdrs.summary(now).await.unwrap_or_default();
    // Calls still up have no record yet: they count in the minute they began.
    for c in live.calls.iter().filter(|c| c.direction == "inbound") {
        let ago = (now / 60_000 - c.start_unix_ms / 60_000).max(0) as usize;
        let slots = summary.per_minute.len();
        if let Some(n) = slots
            .checked_sub(ago + 1)
            .and_then(|i| summary.per_minute.get_mut(i))
        {
            *n += 1;
        }
    }
    let outbox = s.sms.by_state().await.unwrap_or_default();
    let last_minute = summary.per_minute.last().copied().unwrap_or(0);
    let calls: Vec<LiveCall> = live
        .calls
        .iter()
        .map(|c| LiveCall::new(c, Some((now - c.start_unix_ms).max(0) / 1000)))
        .collect();
    let agents: Vec<Value> = live
        .agents
        .iter()
        .map(|a| json!({"name": a.name, "status": a.status, "state": a.state, "calls": a.calls}))
        .collect();
    Some(json!({
        "now_ms": now,
        "calls": calls,
        "calls_per_second": last_minute as f64 / 60.0,
        "per_minute": summary.per_minute,
        "funnel": summary.funnel.into_iter().map(|(k, v)| (k, json!(v))).collect::<serde_json::Map<_, _>>(),
        "outbox": outbox.into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "queues": live.queues.iter().map(|(q, n)| json!({"name": q, "waiting": n})).collect::<Vec<_>>(),
        "agents": agents,
    }))
}

const LOGIN: &str = r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>ivrd</title></head><body style="font-family:sans-serif;margin:2em">
<h1>ivrd</h1><form method="get" action="/"><label>Admin token
<input type="password" name="token" autofocus></label> <button>Open the dashboard</button></form>
</body></html>"#;

const PAGE: &str = include_str!("dashboard.html");
