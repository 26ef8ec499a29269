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

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use call_control::{AgentView, CallView};
use serde::Deserialize;
use serde_json::{Value, json};

use super::calls::{ApiCommand, call_json};
use super::ops::{AppState, OpsState};
use super::{ADMIN_COOKIE, ask};

/// What the SIP loop shows the dashboard.
pub(crate) struct Live {
    pub(crate) calls: Vec<CallView>,
    pub(crate) queues: Vec<(String, usize)>,
    pub(crate) agents: Vec<AgentView>,
}

pub(super) fn routes() -> Router<Arc<OpsState>> {
    Router::new()
        .route("/", get(page))
        .route("/dashboard/events", get(events))
}

#[derive(Deserialize)]
struct Login {
    token: Option<String>,
}

async fn page(State(s): AppState, headers: HeaderMap, Query(q): Query<Login>) -> Response {
    if !s.admin.enabled() {
        return StatusCode::NOT_FOUND.into_response();
    }
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
    let calls: Vec<Value> = live
        .calls
        .iter()
        .map(|c| {
            let mut v = call_json(c);
            v["duration_s"] = json!((now - c.start_unix_ms).max(0) / 1000);
            v
        })
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
