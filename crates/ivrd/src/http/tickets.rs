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

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use call_control::AgentStatus;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::calls::{Api, ApiCommand};
use super::{Admin, ApiError, GONE, WAIT, error, reply};
use crate::tickets::{Journal, QueueStats, Ticket, Tickets};

struct Shared {
    api: Api,
    admin: Admin,
}

type AppState = State<Arc<Shared>>;

pub(crate) fn routes(api: Api, admin: Admin) -> OpenApiRouter {
    let shared = Arc::new(Shared { api, admin });
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(one))
        .routes(routes!(stats))
        .routes(routes!(journal))
        .routes(routes!(agents))
        .routes(routes!(status))
        .routes(routes!(page))
        .routes(routes!(events))
        .routes(routes!(link))
        .with_state(shared)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TicketQuery {
    /// Only this queue's.
    queue: Option<String>,
    /// Opened at or after this, ms since the Unix epoch (default 0).
    since: Option<i64>,
}

/// A ticket with its SMS replies (admin).
#[utoipa::path(get, path = "/tickets/{id}", tag = "queues", security(("admin" = [])),
    params(("id" = String, Path, description = "The ticket's id")), responses(
    (status = 200, description = "The ticket", body = Ticket),
    (status = 401, description = "No admin token"),
    (status = 404, description = "No such ticket", body = ApiError),
    (status = 503, description = "The store does not answer", body = ApiError)))]
async fn one(State(s): AppState, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    match s.api.tickets.get(id, crate::clock::unix_ms()).await {
        Ok(Some(t)) => reply(StatusCode::OK, t),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such ticket"),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e),
    }
}

/// Tickets opened since a time, oldest first, at most 1,000 (admin).
#[utoipa::path(get, path = "/tickets", tag = "queues", security(("admin" = [])),
    params(TicketQuery), responses(
    (status = 200, description = "The tickets", body = Tickets),
    (status = 400, description = "A bad query", body = ApiError),
    (status = 401, description = "No admin token"),
    (status = 503, description = "The store does not answer", body = ApiError)))]
async fn list(
    State(s): AppState,
    headers: HeaderMap,
    q: Result<Query<TicketQuery>, QueryRejection>,
) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let q = match super::query(q) {
        Ok(q) => q,
        Err(refusal) => return *refusal,
    };
    match s.api.tickets.list(q.queue, q.since.unwrap_or(0)).await {
        Ok(v) => reply(StatusCode::OK, v),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e),
    }
}

/// A queue's calls, bridged and abandoned, mean wait and the estimated wait's error (admin).
#[utoipa::path(get, path = "/queues/{name}/stats", tag = "queues", security(("admin" = [])),
    params(("name" = String, Path, description = "The queue")), responses(
    (status = 200, description = "Its figures (zeros for a queue with no calls)",
        body = QueueStats),
    (status = 401, description = "No admin token"),
    (status = 503, description = "The store does not answer", body = ApiError)))]
async fn stats(State(s): AppState, headers: HeaderMap, Path(name): Path<String>) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    match s.api.tickets.stats(name).await {
        Ok(v) => reply(StatusCode::OK, v),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct JournalQuery {
    /// At or after this, ms since the Unix epoch (default 0).
    since: Option<i64>,
}

/// A queue's journal: joins, rings, bridges, abandons, consent steps, in order (admin).
#[utoipa::path(get, path = "/queues/{name}/events", tag = "queues", security(("admin" = [])),
    params(("name" = String, Path, description = "The queue"), JournalQuery), responses(
    (status = 200, description = "The events, at most 10,000", body = Journal),
    (status = 400, description = "A bad query", body = ApiError),
    (status = 401, description = "No admin token"),
    (status = 503, description = "The store does not answer", body = ApiError)))]
async fn journal(
    State(s): AppState,
    headers: HeaderMap,
    Path(name): Path<String>,
    q: Result<Query<JournalQuery>, QueryRejection>,
) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let q = match super::query(q) {
        Ok(q) => q,
        Err(refusal) => return *refusal,
    };
    match s.api.tickets.journal(name, q.since.unwrap_or(0)).await {
        Ok(v) => reply(StatusCode::OK, v),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e),
    }
}

/// Every configured agent.
#[derive(Serialize, ToSchema)]
struct Agents {
    /// In configuration order.
    agents: Vec<Agent>,
}

/// An agent now.
#[derive(Serialize, ToSchema)]
pub(crate) struct Agent {
    /// Their name.
    name: String,
    /// What they chose.
    status: Status,
    /// `idle`, `ringing`, `on_call` or `wrap_up`: what they are doing.
    state: &'static str,
    /// Where they are rung (registered or configured), if anywhere.
    contact: Option<String>,
    /// Registered with ivrd.
    registered: bool,
    /// Calls taken since ivrd started.
    calls: u32,
}

impl From<&call_control::AgentView> for Agent {
    fn from(a: &call_control::AgentView) -> Self {
        // The view names its status from the same enum: every name maps.
        let status = AgentStatus::from_name(a.status).unwrap_or(AgentStatus::LoggedOut);
        Self {
            name: a.name.clone(),
            status: status.into(),
            state: a.state,
            contact: a.contact.clone(),
            registered: a.registered,
            calls: a.calls,
        }
    }
}

/// What an agent chose.
#[derive(Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum Status {
    Available,
    OnBreak,
    LoggedOut,
}

impl From<AgentStatus> for Status {
    fn from(s: AgentStatus) -> Self {
        match s {
            AgentStatus::Available => Self::Available,
            AgentStatus::OnBreak => Self::OnBreak,
            AgentStatus::LoggedOut => Self::LoggedOut,
        }
    }
}

impl From<Status> for AgentStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Available => Self::Available,
            Status::OnBreak => Self::OnBreak,
            Status::LoggedOut => Self::LoggedOut,
        }
    }
}

/// An agent's new status.
#[derive(Serialize, Deserialize, ToSchema)]
struct StatusBody {
    status: Status,
}

/// Every agent: status (what they chose), state (what they do), where they are rung (admin).
#[utoipa::path(get, path = "/agents", tag = "queues", security(("admin" = [])), responses(
    (status = 200, description = "The agents", body = Agents),
    (status = 401, description = "No admin token"),
    (status = 503, description = "The call loop does not answer", body = ApiError)))]
async fn agents(State(s): AppState, headers: HeaderMap) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    match super::ask(&s.api.commands, ApiCommand::Agents, WAIT).await {
        Some(views) => {
            let agents = views.iter().map(Agent::from).collect();
            reply(StatusCode::OK, Agents { agents })
        }
        None => error(StatusCode::SERVICE_UNAVAILABLE, GONE),
    }
}

/// Set an agent's status (admin).
#[utoipa::path(post, path = "/agents/{name}/status", tag = "queues", security(("admin" = [])),
    params(("name" = String, Path, description = "The agent")), request_body = StatusBody,
    responses(
    (status = 200, description = "Set", body = StatusBody),
    (status = 400, description = "Not a status", body = ApiError),
    (status = 401, description = "No admin token"),
    (status = 404, description = "No such agent", body = ApiError),
    (status = 503, description = "The call loop does not answer", body = ApiError)))]
async fn status(
    State(s): AppState,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let body: StatusBody = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("body: {e}")),
    };
    let status = body.status.into();
    let ask = |tx| ApiCommand::AgentStatus(name, status, tx);
    match super::ask(&s.api.commands, ask, WAIT).await {
        Some(true) => reply(StatusCode::OK, body),
        Some(false) => error(StatusCode::NOT_FOUND, "no such agent"),
        None => error(StatusCode::SERVICE_UNAVAILABLE, GONE),
    }
}

/// The cookie that opens one agent's page: their key.
pub(super) const AGENT_COOKIE: &str = "ivrd_agent";

/// Whether the request may see `name`'s page and tickets: their key as a cookie, or the
/// admin's token (bearer or dashboard cookie).
fn agent_allowed(admin: &Admin, headers: &HeaderMap, name: &str) -> bool {
    let key = admin.agent_key(name);
    let own = super::cookie(headers, AGENT_COOKIE)
        .zip(key.as_deref())
        .is_some_and(|(got, want)| super::constant_time_eq(got.as_bytes(), want.as_bytes()));
    own || admin.refusal_or_cookie(headers).is_none()
}

/// The address that opens an agent's page.
#[derive(Serialize, ToSchema)]
struct Link {
    /// `/agents/{name}?key=…`: hand it to the agent.
    url: String,
}

/// The address that opens the agent's page, to hand to them: it carries their key, which the
/// page turns into a cookie (admin).
#[utoipa::path(get, path = "/agents/{name}/link", tag = "queues", security(("admin" = [])),
    params(("name" = String, Path, description = "The agent")), responses(
    (status = 200, description = "The address", body = Link),
    (status = 401, description = "No admin token"),
    (status = 404, description = "No admin token configured")))]
async fn link(State(s): AppState, headers: HeaderMap, Path(name): Path<String>) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let Some(key) = s.admin.agent_key(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let url = format!("/agents/{}?key={key}", safe_name(&name));
    reply(StatusCode::OK, Link { url })
}

/// The tickets offered to one agent as their phone rings, as server-sent events (`ticket`, a
/// [`Ticket`] in JSON): their key's cookie, or the admin's token.
#[utoipa::path(get, path = "/agents/{name}/events", tag = "queues",
    security(("admin" = []), ("agent" = [])),
    params(("name" = String, Path, description = "The agent")), responses(
    (status = 200, description = "`ticket` events", body = super::ServerSentEvent,
        content_type = "text/event-stream"),
    (status = 401, description = "Neither the agent's key nor the admin token")))]
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// The agent's key, once (from `/agents/{name}/link`): it becomes the page's cookie.
    key: Option<String>,
}

/// The agent's page: opened once with `?key=` (from `/agents/{name}/link`), which becomes a
/// cookie for this page only; without it (or the admin's token) `401`.
#[utoipa::path(get, path = "/agents/{name}", tag = "queues",
    security((), ("admin" = []), ("agent" = [])),
    params(("name" = String, Path, description = "The agent"), PageQuery), responses(
    (status = 200, description = "The page", body = String, content_type = "text/html"),
    (status = 303, description = "The key became a cookie: on to the page"),
    (status = 401, description = "Neither the agent's key nor the admin token", body = String,
        content_type = "text/plain")))]
async fn page(
    State(s): AppState,
    headers: HeaderMap,
    Path(name): Path<String>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let q = q.map_or(PageQuery { key: None }, |Query(q)| q);
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
