//! Push calls on disk (the `push_calls` table of the daemon's SQLite file): each request when it
//! is placed, its outcome when it ends, and whether its status was delivered. One thread owns
//! the connection and applies writes in the order they were sent, so an outcome never lands
//! before its request.

use std::path::Path;
use std::sync::mpsc;

use call_control::PushOutcome;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;
use tracing::warn;

use crate::http::calls::PushOrder;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS push_calls (
    id TEXT PRIMARY KEY, to_uri TEXT NOT NULL, flow TEXT NOT NULL, trunk TEXT,
    status_url TEXT, created_ms INTEGER NOT NULL,
    result TEXT, reason TEXT, ringing_ms INTEGER, talking_ms INTEGER, disposition TEXT,
    ended_ms INTEGER, status_code INTEGER, status_attempts INTEGER NOT NULL DEFAULT 0
);";

enum Op {
    Record(PushOrder, i64),
    Finish(PushOutcome, i64),
    Posted(String, Option<u16>),
    Get(String, oneshot::Sender<Result<Option<PushRecord>, String>>),
}

/// The handle; cheap to clone.
#[derive(Clone)]
pub(crate) struct PushLog {
    ops: mpsc::Sender<Op>,
}

impl PushLog {
    /// Opens (or creates) the table in the SQLite file at `path`.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        let db = Connection::open(path)
            .map_err(|e| anyhow::anyhow!("push-call log {}: {e}", path.display()))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(SCHEMA)?;
        let (ops, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("push-log".into())
            .spawn(move || run(&db, &rx))?;
        Ok(Self { ops })
    }

    fn send(&self, op: Op) {
        if self.ops.send(op).is_err() {
            warn!("push-call log thread has stopped");
        }
    }

    pub(crate) fn record(&self, order: PushOrder, now_ms: i64) {
        self.send(Op::Record(order, now_ms));
    }

    pub(crate) fn finish(&self, outcome: PushOutcome, now_ms: i64) {
        self.send(Op::Finish(outcome, now_ms));
    }

    /// The status POST's answer (`None`: no answer at all), counted as one more attempt.
    pub(crate) fn posted(&self, id: String, status: Option<u16>) {
        self.send(Op::Posted(id, status));
    }

    /// A push call's record.
    pub(crate) async fn get(&self, id: String) -> Result<Option<PushRecord>, String> {
        let (tx, rx) = oneshot::channel();
        self.send(Op::Get(id, tx));
        rx.await
            .map_err(|_| "push-call log unavailable".to_string())?
    }
}

fn run(db: &Connection, ops: &mpsc::Receiver<Op>) {
    while let Ok(op) = ops.recv() {
        let result = match op {
            Op::Record(o, now) => db
                .execute(
                    "INSERT OR IGNORE INTO push_calls (id, to_uri, flow, trunk, status_url, created_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![o.id, o.to, o.flow, o.trunk, o.status_url, now],
                )
                .map(drop),
            Op::Finish(o, now) => {
                let reason = match &o.result {
                    call_control::PushResult::Failed(r) => Some(r.clone()),
                    _ => None,
                };
                db.execute(
                    "UPDATE push_calls SET result = ?2, reason = ?3, ringing_ms = ?4, talking_ms = ?5, \
                     disposition = ?6, ended_ms = ?7 WHERE id = ?1",
                    params![
                        o.id,
                        o.result.name(),
                        reason,
                        o.ringing.as_millis() as i64,
                        o.talking.as_millis() as i64,
                        o.disposition,
                        now
                    ],
                )
                .map(drop)
            }
            Op::Posted(id, status) => db
                .execute(
                    "UPDATE push_calls SET status_code = ?2, status_attempts = status_attempts + 1 \
                     WHERE id = ?1",
                    params![id, status],
                )
                .map(drop),
            Op::Get(id, reply) => {
                let _ = reply.send(get(db, &id).map_err(|e| e.to_string()));
                Ok(())
            }
        };
        if let Err(e) = result {
            warn!(error = %e, "push-call log write failed");
        }
    }
}

/// A push call as stored: what was asked, and how it went.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct PushRecord {
    /// Its id.
    id: String,
    /// Whom it called.
    to: String,
    /// The flow it runs on answer.
    flow: String,
    /// The trunk it went through.
    trunk: Option<String>,
    /// When it was asked for, ms since the Unix epoch.
    created_ms: i64,
    /// `answered`, `busy`, `no_answer` or `failed`; none while it lasts.
    result: Option<String>,
    /// Why it failed.
    reason: Option<String>,
    /// How long it rang.
    ringing_ms: Option<i64>,
    /// How long it talked.
    talking_ms: Option<i64>,
    /// How it ended (the CDR's disposition).
    disposition: Option<String>,
    /// When it ended.
    ended_ms: Option<i64>,
    /// The status URL's answer to the outcome's POST.
    status_code: Option<u16>,
    /// POSTs made to the status URL.
    status_attempts: i64,
}

fn get(db: &Connection, id: &str) -> rusqlite::Result<Option<PushRecord>> {
    db.query_row(
        "SELECT id, to_uri, flow, trunk, created_ms, result, reason, ringing_ms, talking_ms, \
         disposition, ended_ms, status_code, status_attempts FROM push_calls WHERE id = ?1",
        [id],
        |r| {
            Ok(PushRecord {
                id: r.get(0)?,
                to: r.get(1)?,
                flow: r.get(2)?,
                trunk: r.get(3)?,
                created_ms: r.get(4)?,
                result: r.get(5)?,
                reason: r.get(6)?,
                ringing_ms: r.get(7)?,
                talking_ms: r.get(8)?,
                disposition: r.get(9)?,
                ended_ms: r.get(10)?,
                status_code: r.get(11)?,
                status_attempts: r.get(12)?,
            })
        },
    )
    .optional()
}
