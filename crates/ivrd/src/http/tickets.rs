//! Tickets, queues and agents (admin token, except the agent page):
//! - `GET /tickets/{id}`: a queued call's ticket with its SMS replies; `GET /tickets?queue=&since=`
//!   (`since` in ms since the Unix epoch).
//! - `GET /queues/{name}/stats`: calls, bridged, abandoned, mean wait, and the estimated wait's
//!   mean absolute error; `GET /queues/{name}/events?since=`: the queue journal.
//! - `POST /agents/{name}/status` with `{"status": "available" | "on_break" | "logged_out"}`.
//! - `GET /agents/{name}`: the agent's page, which shows each ticket the moment the agent's
//!   phone rings with it (server-sent events from `GET /agents/{name}/events`). It is opened
//!   with the agent's key: `GET /agents/{name}/link` (admin) gives the address to hand them,
//!   `/agents/{name}?key=…`; the key becomes a cookie for that page. The key is an HMAC of the
//!   agent's name under the admin token: changing the token changes every key.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use call_control::AgentStatus;
use serde_json::json as j;
use tokio::sync::{broadcast, oneshot};

use super::calls::{Api, ApiCommand};
use super::{Admin, json};

struct Shared {
    api: Api,
    admin: Admin,
}

type AppState = State<Arc<Shared>>;

pub(crate) fn router(api: Api, admin: Admin) -> Router {
    let shared = Arc::new(Shared { api, admin });
    Router::new()
        .route("/tickets", get(list))
        .route("/tickets/{id}", get(one))
        .route("/queues/{name}/stats", get(stats))
        .route("/queues/{name}/events", get(journal))
        .route("/agents", get(agents))
        .route("/agents/{name}/status", post(status))
        .route("/agents/{name}", get(page))
        .route("/agents/{name}/events", get(events))
        .route("/agents/{name}/link", get(link))
        .with_state(shared)
}

fn unavailable(e: String) -> Response {
    json(StatusCode::SERVICE_UNAVAILABLE, j!({ "error": e }))
}

/// `since` (ms since the Unix epoch, default 0), or the 400 for a bad one.
fn since(q: &HashMap<String, String>) -> Result<i64, Box<Response>> {
    match q.get("since") {
        None => Ok(0),
        Some(s) => s.parse().map_err(|_| {
            let error = "`since` is milliseconds since the Unix epoch";
            Box::new(json(StatusCode::BAD_REQUEST, j!({ "error": error })))
        }),
    }
}

async fn one(State(s): AppState, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    match s.api.tickets.get(id, crate::clock::unix_ms()).await {
        Ok(Some(t)) => json(StatusCode::OK, t),
        Ok(None) => json(StatusCode::NOT_FOUND, j!({"error": "no such ticket"})),
        Err(e) => unavailable(e),
    }
}

async fn list(
    State(s): AppState,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let since = match since(&q) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match s.api.tickets.list(q.get("queue").cloned(), since).await {
        Ok(v) => json(StatusCode::OK, v),
        Err(e) => unavailable(e),
    }
}

async fn stats(State(s): AppState, headers: HeaderMap, Path(name): Path<String>) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    match s.api.tickets.stats(name).await {
        Ok(v) => json(StatusCode::OK, v),
        Err(e) => unavailable(e),
    }
}

async fn journal(
    State(s): AppState,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let since = match since(&q) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match s.api.tickets.journal(name, since).await {
        Ok(v) => json(StatusCode::OK, v),
        Err(e) => unavailable(e),
    }
}

/// `GET /agents`: every agent's status (what they chose), state (what they do), where they are
/// rung and whether they registered.
async fn agents(State(s): AppState, headers: HeaderMap) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let (tx, rx) = oneshot::channel();
    if s.api.commands.send(ApiCommand::Agents(tx)).is_err() {
        return unavailable("the call loop is not answering".into());
    }
    let Ok(views) = rx.await else {
        return unavailable("the call loop is not answering".into());
    };
    let agents: Vec<serde_json::Value> = views
        .iter()
        .map(|a| {
            j!({"name": a.name, "status": a.status, "state": a.state, "contact": a.contact,
                "registered": a.registered, "calls": a.calls})
        })
        .collect();
    json(StatusCode::OK, j!({ "agents": agents }))
}

async fn status(
    State(s): AppState,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let v: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return json(StatusCode::BAD_REQUEST, j!({"error": format!("body: {e}")})),
    };
    let Some(status) = v["status"].as_str().and_then(AgentStatus::from_name) else {
        let error = "`status` is available, on_break or logged_out";
        return json(StatusCode::BAD_REQUEST, j!({ "error": error }));
    };
    let (tx, rx) = oneshot::channel();
    if s.api
        .commands
        .send(ApiCommand::AgentStatus(name, status, tx))
        .is_err()
    {
        return unavailable("the call loop is not answering".into());
    }
    match rx.await {
        Ok(true) => json(StatusCode::OK, j!({"status": v["status"]})),
        Ok(false) => json(StatusCode::NOT_FOUND, j!({"error": "no such agent"})),
        Err(_) => unavailable("the call loop is not answering".into()),
    }
}

/// The cookie that opens one agent's page: their key.
const AGENT_COOKIE: &str = "ivrd_agent";

/// Whether the request may see `name`'s page and tickets: their key as a cookie, or the
/// admin's token (bearer or dashboard cookie).
fn agent_allowed(admin: &Admin, headers: &HeaderMap, name: &str) -> bool {
    let key = admin.agent_key(name);
    let own = super::cookie(headers, AGENT_COOKIE)
        .zip(key.as_deref())
        .is_some_and(|(got, want)| super::constant_time_eq(got.as_bytes(), want.as_bytes()));
    own || admin.refusal_or_cookie(headers).is_none()
}

/// `GET /agents/{name}/link` (admin): the address that opens the agent's page, to hand to
/// them (it carries their key; the page turns it into a cookie).
async fn link(State(s): AppState, headers: HeaderMap, Path(name): Path<String>) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let Some(key) = s.admin.agent_key(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    json(
        StatusCode::OK,
        j!({"url": format!("/agents/{}?key={key}", safe_name(&name))}),
    )
}

/// The tickets offered to one agent, as server-sent events (`ticket`, JSON); their key's
/// cookie or the admin's token.
async fn events(State(s): AppState, headers: HeaderMap, Path(name): Path<String>) -> Response {
    if !agent_allowed(&s.admin, &headers, &name) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let rx = s.api.agent_events.subscribe();
    let stream = futures_util::stream::unfold((rx, name), |(mut rx, name)| async move {
        loop {
            match rx.recv().await {
                Ok((agent, ticket)) if agent == name => {
                    let event = Event::default().event("ticket").data(ticket);
                    return Some((Ok::<_, Infallible>(event), (rx, name)));
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn safe_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect()
}

#[derive(serde::Deserialize)]
struct PageQuery {
    key: Option<String>,
}

/// The agent's page: opened once with `?key=` (from `/agents/{name}/link`), which becomes a
/// cookie for this page only; without it (or the admin's token) `401`.
async fn page(
    State(s): AppState,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let safe = safe_name(&name);
    let want = s.admin.agent_key(&name);
    if let (Some(key), Some(want)) = (q.key, want.as_deref())
        && super::constant_time_eq(key.as_bytes(), want.as_bytes())
    {
        let cookie =
            format!("{AGENT_COOKIE}={key}; HttpOnly; SameSite=Strict; Path=/agents/{safe}");
        let to = format!("/agents/{safe}");
        let headers = [(header::SET_COOKIE, cookie), (header::LOCATION, to)];
        return (StatusCode::SEE_OTHER, headers).into_response();
    }
    if !agent_allowed(&s.admin, &headers, &name) {
        let text = "Ask your supervisor for the link to your page.";
        return (StatusCode::UNAUTHORIZED, text).into_response();
    }
    Html(AGENT_PAGE.replace("{agent}", &safe)).into_response()
}

/// The agent's page: the ticket of the call ringing now, its SMS replies under a banner.
const AGENT_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ivrd: {agent}</title>
<style>body{font-family:sans-serif;margin:2em}#banner{display:none;background:#ffd54f;padding:.5em}
dt{font-weight:bold}li{margin:.3em 0}</style></head>
<body><h1>Agent {agent}</h1><p id="state">Waiting for a call…</p>
<div id="ticket" hidden><div id="banner">SMS received</div><dl>
<dt>Caller</dt><dd id="caller"></dd><dt>Queue</dt><dd id="queue"></dd>
<dt>Waited (predicted)</dt><dd id="wait"></dd><dt>Wait-time SMS</dt><dd id="consent"></dd>
<dt>IVR path</dt><dd id="path"></dd></dl><h2>SMS replies</h2><ul id="replies"></ul></div>
<script>
const show = (t) => {
  document.getElementById('state').textContent = 'Ringing: ticket ' + t.id;
  document.getElementById('ticket').hidden = false;
  document.getElementById('caller').textContent = t.caller;
  document.getElementById('queue').textContent = t.queue;
  document.getElementById('wait').textContent = Math.round(t.predicted_wait_ms / 1000) + ' s';
  document.getElementById('consent').textContent = t.wait_time_sms || 'not asked';
  document.getElementById('path').textContent = (t.path || []).join(' → ');
  const ul = document.getElementById('replies');
  ul.replaceChildren();
  for (const r of t.sms_replies || []) {
    const li = document.createElement('li');
    li.textContent = r.text;
    for (const m of r.media || []) {
      const a = document.createElement('a');
      a.href = m; a.textContent = ' [media]'; li.appendChild(a);
    }
    ul.appendChild(li);
  }
  document.getElementById('banner').style.display = (t.sms_replies || []).length ? 'block' : 'none';
};
new EventSource('/agents/{agent}/events').addEventListener('ticket', (e) => show(JSON.parse(e.data)));
</script></body></html>
"#;
