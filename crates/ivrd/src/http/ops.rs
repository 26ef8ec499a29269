//! The operations surface:
//! - `GET /metrics`: Prometheus text format. Open, as scrapers expect, unless
//!   `http.metrics_token` asks for the admin token. The SIP loop publishes its counters and
//!   gauges just before the render, so a scrape sees the state of that moment.
//! - `GET /cdrs?since=&until=&format=jsonl|csv&limit=` (admin token): call detail records of
//!   the legs that started in `[since, until)` (Unix ms or RFC 3339; default: the last 24 h),
//!   oldest first, as JSON lines (default) or CSV with a header.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use tokio::sync::mpsc;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::calls::ApiCommand;
use super::{Admin, ApiError, error};
use crate::cdr::{self, CdrLog};

/// What the operations routes (these, [`super::admin`] and [`super::dashboard`]) share.
pub(crate) struct OpsState {
    pub(crate) prometheus: PrometheusHandle,
    pub(crate) commands: mpsc::UnboundedSender<ApiCommand>,
    pub(crate) sms: crate::sms::Sms,
    pub(crate) cdrs: CdrLog,
    pub(crate) admin: Admin,
    /// Serve `/metrics` without the admin token.
    pub(crate) metrics_open: bool,
}

pub(crate) type AppState = State<Arc<OpsState>>;

/// What the daemon hands the operations routes.
pub(crate) struct Ops {
    pub(crate) prometheus: PrometheusHandle,
    pub(crate) cdrs: CdrLog,
    /// Serve `/metrics` without the admin token.
    pub(crate) metrics_open: bool,
}

/// The metrics, CDR, admin and dashboard routes.
pub(crate) fn routes(
    ops: Ops,
    commands: mpsc::UnboundedSender<ApiCommand>,
    sms: crate::sms::Sms,
    admin: Admin,
) -> OpenApiRouter {
    let state = Arc::new(OpsState {
        prometheus: ops.prometheus,
        commands,
        sms,
        cdrs: ops.cdrs,
        admin,
        metrics_open: ops.metrics_open,
    });
    OpenApiRouter::new()
        .routes(routes!(metrics))
        .routes(routes!(cdrs))
        .merge(super::admin::routes())
        .merge(super::dashboard::routes())
        .with_state(state)
}

/// Prometheus metrics, text format (open unless `[http] metrics_need_token`).
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "The metrics", body = String, content_type = "text/plain"),
    (status = 401, description = "No admin token (when asked for)")))]
async fn metrics(State(s): AppState, headers: HeaderMap) -> Response {
    if !s.metrics_open
        && let Some(refusal) = s.admin.refusal(&headers)
    {
        return refusal;
    }
    // A loop too busy to answer at once still gets scraped, a moment stale.
    let _ = super::ask(&s.commands, ApiCommand::Publish, Duration::from_millis(250)).await;
    s.prometheus.run_upkeep();
    let body = s.prometheus.render();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CdrQuery {
    /// Unix ms (an RFC 3339 time is taken too); default: 24 h ago.
    #[param(value_type = Option<i64>)]
    since: Option<String>,
    /// Unix ms (an RFC 3339 time is taken too); default: none.
    #[param(value_type = Option<i64>)]
    until: Option<String>,
    /// `jsonl` (default) or `csv`.
    #[param(value_type = Option<CdrFormat>, inline)]
    format: Option<String>,
    /// At most this many (default 10,000).
    #[param(maximum = 100_000)]
    limit: Option<u32>,
}

/// How `GET /cdrs` writes the records.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
enum CdrFormat {
    /// One JSON object per line.
    Jsonl,
    /// CSV with a header line.
    Csv,
}

/// Call detail records of the legs that started in `[since, until)`, oldest first (admin).
#[utoipa::path(get, path = "/cdrs", tag = "operations", security(("admin" = [])),
    params(CdrQuery), responses(
    (status = 200, description = "One JSON object per line, or CSV with a header",
        content((String = "application/jsonl"), (String = "text/csv"))),
    (status = 400, description = "A bad time, format or limit", body = ApiError),
    (status = 401, description = "No admin token"),
    (status = 503, description = "The store did not answer", body = ApiError)))]
async fn cdrs(
    State(s): AppState,
    headers: HeaderMap,
    q: Result<Query<CdrQuery>, QueryRejection>,
) -> Response {
    if let Some(refusal) = s.admin.refusal(&headers) {
        return refusal;
    }
    let q = match super::query(q) {
        Ok(q) => q,
        Err(refusal) => return *refusal,
    };
    let now = crate::clock::unix_ms();
    let bound = |v: &Option<String>, default: i64| match v {
        Some(text) => cdr::parse_time(text),
        None => Ok(default),
    };
    let (since, until) = match (bound(&q.since, now - 86_400_000), bound(&q.until, i64::MAX)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let csv = match q.format.as_deref() {
        None | Some("jsonl") | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            let e = format!("format {other}: use jsonl or csv");
            return error(StatusCode::BAD_REQUEST, &e);
        }
    };
    let limit = q.limit.unwrap_or(10_000) as usize;
    if limit > cdr::MAX_ROWS {
        let e = format!("limit {limit}: at most {}", cdr::MAX_ROWS);
        return error(StatusCode::BAD_REQUEST, &e);
    }
    let limit = limit.max(1);
    let query = cdr::Query {
        since,
        until,
        limit,
    };
    let records = match s.cdrs.read(query).await {
        Ok(r) => r,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, &e),
    };
    let body = cdr::render(&records, csv);
    let content_type = match csv {
        true => "text/csv; charset=utf-8",
        false => "application/jsonl",
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}
