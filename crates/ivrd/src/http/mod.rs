//! The daemon's HTTP server (axum), one listener for everything:
//! - `GET /health`; `GET /openapi.json`, the OpenAPI document of all of these (see [`openapi`]).
//! - `GET /metrics` (Prometheus) and `GET /cdrs` (see [`ops`]).
//! - `GET /`: the live dashboard (see [`dashboard`]).
//! - `GET /ready`, flows and their reload, the SMS outbox and its dead letters (see [`admin`]).
//! - The calls API (admin token): push calls, live calls, hang-ups (see [`calls`]).
//! - Tickets, queue statistics and journal, agents' status and their page (see [`tickets`]).
//! - The SMS side: receipts and inbound messages from the gateways, coupon redemption, the
//!   operator's SMS routes (see [`sms`]).
//!
//! Handlers never touch the call path directly: the calls API sends commands to the SIP loop,
//! which owns the call-control core, and awaits its answer.

mod admin;
pub(crate) mod calls;
mod dashboard;
mod openapi;
mod ops;
mod sms;
mod tickets;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::{error, info};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) use admin::Readiness;
pub(crate) use dashboard::Live;
pub(crate) use ops::Ops;

use crate::serve::Config;

/// The admin bearer token, if one is configured (without one, admin routes answer 404).
#[derive(Clone)]
pub(crate) struct Admin(Option<String>);

impl Admin {
    /// Whether admin routes are on (a token is configured).
    pub(crate) fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// An agent's page key: HMAC-SHA256 of their name under the admin token, in hex; `None`
    /// without a token.
    pub(crate) fn agent_key(&self, agent: &str) -> Option<String> {
        let token = self.0.as_ref()?;
        let signature = crate::serve::signature(token, &format!("agent-page:{agent}"));
        Some(signature.trim_start_matches("sha256=").to_string())
    }

    /// Whether `token` is the admin token.
    pub(crate) fn is(&self, token: &str) -> bool {
        self.0
            .as_ref()
            .is_some_and(|a| constant_time_eq(token.as_bytes(), a.as_bytes()))
    }

    /// [`Admin::refusal`] that also takes the dashboard's cookie (a browser cannot send a
    /// bearer token with a page load or an `EventSource`).
    pub(crate) fn refusal_or_cookie(&self, headers: &HeaderMap) -> Option<Response> {
        match cookie(headers, ADMIN_COOKIE).is_some_and(|t| self.is(t)) {
            true => None,
            false => self.refusal(headers),
        }
    }

    /// `None` if the request carries the admin token; the refusal otherwise.
    pub(crate) fn refusal(&self, headers: &HeaderMap) -> Option<Response> {
        let Some(admin) = &self.0 else {
            return Some(StatusCode::NOT_FOUND.into_response());
        };
        match bearer(headers).is_some_and(|t| constant_time_eq(t.as_bytes(), admin.as_bytes())) {
            true => None,
            false => Some(StatusCode::UNAUTHORIZED.into_response()),
        }
    }
}

/// The dashboard's session cookie: the admin token, `HttpOnly`, `SameSite=Strict`.
pub(crate) const ADMIN_COOKIE: &str = "ivrd_admin";

/// A cookie's value.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    Some(
        headers
            .get("authorization")?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?
            .trim(),
    )
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `text` matches `pattern`, one of the patterns the document states for a body
/// ([`calls::PATTERNS`], [`sms::PATTERNS`]; tests hold the document to them), compiled once.
pub(super) fn matches(pattern: &'static str, text: &str) -> bool {
    static COMPILED: std::sync::LazyLock<Vec<(&str, regex::Regex)>> =
        std::sync::LazyLock::new(|| {
            calls::PATTERNS
                .iter()
                .chain(&sms::PATTERNS)
                .filter_map(|p| Some((*p, regex::Regex::new(p).ok()?)))
                .collect()
        });
    COMPILED
        .iter()
        .find(|(p, _)| *p == pattern)
        .is_some_and(|(_, r)| r.is_match(text))
}

/// What a 503 says when the call loop does not answer.
const GONE: &str = "the call loop is not answering";

/// How long the call loop (or the outbox) has to answer an API request.
const WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Sends the SIP loop a command carrying its answer channel; the answer, or `None` if the loop
/// is gone or does not answer within `wait`.
pub(crate) async fn ask<T>(
    commands: &tokio::sync::mpsc::UnboundedSender<calls::ApiCommand>,
    command: impl FnOnce(tokio::sync::oneshot::Sender<T>) -> calls::ApiCommand,
    wait: std::time::Duration,
) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    commands.send(command(tx)).ok()?;
    tokio::time::timeout(wait, rx).await.ok()?.ok()
}

/// An error answer: `{"error": "…"}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ApiError {
    /// What went wrong.
    error: String,
}

/// A query string as `T`, or the documented `400` [`ApiError`] (axum's own rejection is plain
/// text, outside the OpenAPI document).
pub(crate) fn query<T>(
    q: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, Box<Response>> {
    q.map(|axum::extract::Query(q)| q)
        .map_err(|e| Box::new(error(StatusCode::BAD_REQUEST, &e.body_text())))
}

/// Answers `status` with an [`ApiError`].
pub(crate) fn error(status: StatusCode, error: &str) -> Response {
    let body = ApiError {
        error: error.to_string(),
    };
    (status, axum::Json(body)).into_response()
}

/// A whole number in a JSON body, as JSON Schema's `integer` has it: `122` or `122.0`.
pub(crate) fn whole<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    use serde::de::Error;
    let n = <serde_json::Number as serde::Deserialize>::deserialize(d)?;
    let whole = n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    });
    whole
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| D::Error::custom(format!("{n}: not a whole number in range")))
}

/// [`whole`], for an optional field (`null` or absent: `None`).
pub(crate) fn whole_opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    #[derive(serde::Deserialize)]
    struct Whole<T: TryFrom<i64>>(#[serde(deserialize_with = "whole")] T);
    let v = <Option<Whole<T>> as serde::Deserialize>::deserialize(d)?;
    Ok(v.map(|Whole(t)| t))
}

/// A server-sent event, as the streams send them.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct ServerSentEvent {
    /// The event's name.
    event: String,
    /// Its data: JSON.
    data: String,
}

/// Answers `status` with `body` as JSON.
pub(crate) fn reply<T: serde::Serialize>(status: StatusCode, body: T) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Liveness: the process answers at all.
#[utoipa::path(get, path = "/health", tag = "operations", responses(
    (status = 200, description = "Alive", body = String, content_type = "text/plain")))]
async fn health() -> &'static str {
    "ok"
}

/// The OpenAPI document as served, handed to its route as an extension once built.
#[derive(Clone)]
struct Document(Arc<str>);

/// This document: the OpenAPI 3.1 description of every route.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses(
    (status = 200, description = "The document", body = Object)))]
async fn openapi_json(axum::Extension(Document(document)): axum::Extension<Document>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.to_string(),
    )
        .into_response()
}

/// Every route, and the OpenAPI document built from them served at `/openapi.json`.
fn app(
    config: &Config,
    sms: crate::sms::Sms,
    api: calls::Api,
    ops: ops::Ops,
    admin: Admin,
) -> anyhow::Result<Router> {
    let (router, document) = OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(health))
        .routes(routes!(openapi_json))
        .merge(ops::routes(
            ops,
            api.commands.clone(),
            sms.clone(),
            admin.clone(),
        ))
        .merge(calls::routes(api.clone(), admin.clone()))
        .merge(tickets::routes(api, admin.clone()))
        .merge(sms::routes(sms, &config.merchants, &config.sms, admin)?)
        .split_for_parts();
    let document = openapi::finish(document);
    Ok(router.layer(axum::Extension(Document(document.into()))))
}

/// Binds the listener and serves every route on a task of its own.
pub(crate) async fn start(
    config: &Config,
    sms: crate::sms::Sms,
    api: calls::Api,
    ops: ops::Ops,
) -> anyhow::Result<()> {
    let token = config
        .http
        .admin_token_env
        .as_ref()
        .map(|v| crate::sms::config::secret("", Some(v)))
        .transpose()?;
    let app = app(config, sms, api, ops, Admin(token))?;
    let web = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(|e| anyhow::anyhow!("HTTP {}: {e}", config.http.listen))?;
    info!(listen = %web.local_addr()?, "HTTP listening (calls API, SMS receipts and inbound, coupons)");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(web, app).await {
            error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(())
}
