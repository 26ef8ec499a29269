//! Call detail records on disk (the `cdrs` table of the daemon's SQLite file): one row per leg,
//! written when it ends, as a JSON document with its start and end indexed. The SMS a call
//! sent are not copied in: they are the `messages` rows with its Call-ID, read with the record.
//!
//! Read by `GET /cdrs?since=&until=` and `ivrd cdr export`, as JSON lines or CSV.

use std::path::Path;
use std::sync::mpsc;

use call_control::CallRecord;
use rusqlite::{Connection, params};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tracing::warn;

use crate::serve::Quality;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cdrs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, kind TEXT NOT NULL,
    start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cdrs_start ON cdrs(start_ms);
CREATE TABLE IF NOT EXISTS funnel_daily (
    day TEXT NOT NULL, stage TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (day, stage));
";

/// The deflection funnel's stages a call's path can show, with the outcome that marks each.
const FUNNEL: [(&str, &str); 5] = [
    ("offered", "event deflection_offered"),
    ("accepted", "event deflection_accepted"),
    ("declined", "event deflection_declined"),
    ("timed_out", "event deflection_timed_out"),
    ("sms_accepted", "sms_accepted"),
];

/// The most rows one read returns.
pub(crate) const MAX_ROWS: usize = 100_000;

/// The CSV columns, in order.
const COLUMNS: [&str; 25] = [
    "id",
    "sip_call_id",
    "kind",
    "direction",
    "parent",
    "from",
    "to",
    "trunk",
    "flow",
    "start",
    "start_ms",
    "answer_ms",
    "end_ms",
    "ring_ms",
    "duration_ms",
    "talk_ms",
    "disposition",
    "detail",
    "ended_by",
    "path",
    "digits",
    "sms",
    "rtp_lost",
    "jitter_ms",
    "rtt_ms",
];

enum Op {
    Write(Row),
    /// One more at a funnel stage that no call's path shows (a chat the chat platform began).
    Stage(String, &'static str),
    Read(Query, oneshot::Sender<Result<Vec<Value>, String>>),
    Summary(i64, oneshot::Sender<Result<Summary, String>>),
}

struct Row {
    id: String,
    kind: String,
    start: i64,
    end: i64,
    record: String,
    /// The funnel stages its path reached, and the UTC day they count for.
    funnel: Vec<&'static str>,
    day: String,
}

/// What the dashboard shows of the records: inbound calls started in each of the last 60
/// minutes (oldest first), and today's funnel (UTC) by stage.
#[derive(Clone, Debug, Default)]
pub(crate) struct Summary {
    pub(crate) per_minute: Vec<u64>,
    pub(crate) funnel: Vec<(String, u64)>,
}

/// Which records: started in `[since, until)`, at most `limit`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Query {
    pub(crate) since: i64,
    pub(crate) until: i64,
    pub(crate) limit: usize,
}

/// The handle; cheap to clone.
#[derive(Clone)]
pub(crate) struct CdrLog {
    ops: mpsc::Sender<Op>,
}

impl CdrLog {
    /// Opens (or creates) the table in the SQLite file at `path`.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        let db = open(path)?;
        let (ops, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("cdrs".into())
            .spawn(move || run(&db, &rx))?;
        Ok(Self { ops })
    }

    /// Stores a leg's record, with its SIP Call-ID and media quality (and counts its funnel
    /// stages for the day it ended).
    pub(crate) fn write(&self, r: &CallRecord, sip_call_id: &str, quality: Option<&Quality>) {
        let document = document(r, sip_call_id, quality);
        let end = r.start_unix_ms + r.ended_after.as_millis() as i64;
        let row = Row {
            id: document["id"].as_str().unwrap_or_default().to_string(),
            kind: r.kind.name().to_string(),
            start: r.start_unix_ms,
            end,
            record: document.to_string(),
            funnel: funnel(r),
            day: day_of(end),
        };
        if self.ops.send(Op::Write(row)).is_err() {
            warn!("CDR thread has stopped");
        }
    }

    /// Counts a funnel stage for the day of `at_ms`.
    pub(crate) fn stage(&self, at_ms: i64, stage: &'static str) {
        if self.ops.send(Op::Stage(day_of(at_ms), stage)).is_err() {
            warn!("CDR thread has stopped");
        }
    }

    /// The dashboard's figures at `now_ms`.
    pub(crate) async fn summary(&self, now_ms: i64) -> Result<Summary, String> {
        self.ask(|tx| Op::Summary(now_ms, tx)).await
    }

    pub(crate) async fn read(&self, query: Query) -> Result<Vec<Value>, String> {
        self.ask(|tx| Op::Read(query, tx)).await
    }

    /// Sends the thread a question carrying its answer channel; the answer.
    async fn ask<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Op,
    ) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        let gone = || "CDR store unavailable".to_string();
        self.ops.send(op(tx)).map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }
}

fn open(path: &Path) -> anyhow::Result<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    }
    let db =
        Connection::open(path).map_err(|e| anyhow::anyhow!("CDR store {}: {e}", path.display()))?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.busy_timeout(std::time::Duration::from_secs(5))?;
    db.execute_batch(SCHEMA)?;
    Ok(db)
}

fn run(db: &Connection, ops: &mpsc::Receiver<Op>) {
    while let Ok(op) = ops.recv() {
        match op {
            Op::Write(row) => {
                if let Err(e) = write(db, &row) {
                    warn!(call_id = %row.id, error = %e, "CDR write failed");
                }
            }
            Op::Stage(day, stage) => {
                if let Err(e) = count_stage(db, &day, stage) {
                    warn!(error = %e, "funnel count failed");
                }
            }
            Op::Read(query, reply) => {
                let _ = reply.send(read(db, query).map_err(|e| e.to_string()));
            }
            Op::Summary(now, reply) => {
                let _ = reply.send(summary(db, now).map_err(|e| e.to_string()));
            }
        }
    }
}

fn write(db: &Connection, row: &Row) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO cdrs (id, kind, start_ms, end_ms, record) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![row.id, row.kind, row.start, row.end, row.record],
    )?;
    for stage in &row.funnel {
        count_stage(db, &row.day, stage)?;
    }
    Ok(())
}

fn count_stage(db: &Connection, day: &str, stage: &str) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO funnel_daily (day, stage, n) VALUES (?1, ?2, 1) \
         ON CONFLICT(day, stage) DO UPDATE SET n = n + 1",
        params![day, stage],
    )
    .map(drop)
}

/// The UTC date of a Unix time, `YYYY-MM-DD`.
fn day_of(unix_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(unix_ms)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
        .unwrap_or_default()
}

fn summary(db: &Connection, now: i64) -> rusqlite::Result<Summary> {
    let minute = now / 60_000;
    let mut per_minute = vec![0u64; 60];
    let mut stmt = db.prepare_cached(
        "SELECT start_ms / 60000, count(*) FROM cdrs WHERE kind = 'inbound' AND start_ms >= ?1 \
         GROUP BY 1",
    )?;
    let rows = stmt.query_map([(minute - 59) * 60_000], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    })?;
    for row in rows {
        let (m, n) = row?;
        if let Some(slot) = usize::try_from(m - (minute - 59))
            .ok()
            .and_then(|i| per_minute.get_mut(i))
        {
            *slot = n as u64;
        }
    }
    let mut stmt = db.prepare_cached("SELECT stage, n FROM funnel_daily WHERE day = ?1")?;
    let funnel = stmt
        .query_map([day_of(now)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Summary { per_minute, funnel })
}

/// The records started in the query's window, oldest first, each with the ids of the SMS its
/// call sent.
pub(crate) fn read(db: &Connection, q: Query) -> rusqlite::Result<Vec<Value>> {
    let with_sms: bool = db.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages')",
        [],
        |r| r.get(0),
    )?;
    let sql = match with_sms {
        true => {
            "SELECT c.record, (SELECT group_concat(m.id, ' ') FROM messages m WHERE m.call_id = c.id) \
             FROM cdrs c WHERE c.start_ms >= ?1 AND c.start_ms < ?2 ORDER BY c.start_ms, c.seq LIMIT ?3"
        }
        false => {
            "SELECT c.record, NULL FROM cdrs c WHERE c.start_ms >= ?1 AND c.start_ms < ?2 \
             ORDER BY c.start_ms, c.seq LIMIT ?3"
        }
    };
    let mut stmt = db.prepare(sql)?;
    let limit = q.limit.min(MAX_ROWS) as i64;
    let rows = stmt.query_map(params![q.since, q.until, limit], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (record, sms) = row?;
        let Ok(mut value) = serde_json::from_str::<Value>(&record) else {
            continue;
        };
        let ids: Vec<Value> = sms
            .unwrap_or_default()
            .split_whitespace()
            .map(|s| Value::String(s.to_string()))
            .collect();
        value["sms"] = Value::Array(ids);
        out.push(value);
    }
    Ok(out)
}

/// The deflection funnel's stages a call reached (an SMS counts only in a call that was
/// offered the deflection).
pub(crate) fn funnel(r: &CallRecord) -> Vec<&'static str> {
    let reached = |marker: &str| r.path.iter().any(|s| s.outcome == marker);
    if !reached(FUNNEL[0].1) {
        return Vec::new();
    }
    FUNNEL
        .iter()
        .filter(|(_, marker)| reached(marker))
        .map(|(stage, _)| *stage)
        .collect()
}

/// A leg's record as stored: the core's record, its SIP Call-ID and its media quality.
fn document(r: &CallRecord, sip_call_id: &str, quality: Option<&Quality>) -> Value {
    let end_ms = r.start_unix_ms + r.ended_after.as_millis() as i64;
    let answer_ms = r
        .answered_after
        .map(|a| r.start_unix_ms + a.as_millis() as i64);
    let start = jiff::Timestamp::from_millisecond(r.start_unix_ms)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let rtp = quality.map(|q| {
        let s = q.stats;
        json!({
            "received": s.delivered + s.late + s.duplicate,
            "lost": s.lost,
            "late": s.late,
            "duplicate": s.duplicate,
            "invalid": s.invalid + s.foreign,
            "jitter_ms": q.jitter.as_secs_f64() * 1000.0,
            "max_jitter_ms": q.max_jitter.as_secs_f64() * 1000.0,
            "rtcp": rtcp(&q.rtcp),
        })
    });
    let id = match r.id.is_empty() {
        true => sip_call_id,
        false => r.id.as_str(),
    };
    json!({
        "id": id,
        "sip_call_id": sip_call_id,
        "kind": r.kind.name(),
        "direction": r.kind.direction(),
        "parent": r.parent,
        "from": r.from,
        "to": r.to,
        "trunk": r.trunk,
        "flow": r.flow,
        "start": start,
        "start_ms": r.start_unix_ms,
        "answer_ms": answer_ms,
        "end_ms": end_ms,
        "ring_ms": r.answered_after.unwrap_or(r.ended_after).as_millis() as u64,
        "duration_ms": r.ended_after.as_millis() as u64,
        "talk_ms": r.talk_time().as_millis() as u64,
        "disposition": r.disposition.name(),
        "detail": r.disposition.detail(),
        "ended_by": if r.ended_by_remote { "remote" } else { "ivrd" },
        "path": r.path.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "digits": r.entries.iter().map(|e| json!({"node": e.node, "digits": e.digits})).collect::<Vec<_>>(),
        "rtp": rtp,
        "funnel": funnel(r),
    })
}

/// What a leg's RTCP said: the last and largest round trip, and the peer's report of our
/// stream (packets lost, jitter at 8 kHz), with the reports exchanged.
fn rtcp(q: &media::RtcpQuality) -> Value {
    let ms = |d: Option<std::time::Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
    json!({
        "rtt_ms": ms(q.rtt),
        "max_rtt_ms": ms(q.max_rtt),
        "peer_lost": q.peer_lost,
        "peer_jitter_ms": q.peer_jitter.map(|j| f64::from(j) / 8.0),
        "reports_received": q.received,
        "reports_sent": q.sent,
    })
}

/// The CSV header line.
fn csv_header() -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(COLUMNS);
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// One record as a CSV line (lists joined by spaces, digits as `node=keys`).
fn csv_line(v: &Value) -> String {
    let text = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let list = |v: &Value| {
        v.as_array()
            .map(|a| a.iter().map(text).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let digits = v["digits"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| format!("{}={}", text(&d["node"]), text(&d["digits"])))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let fields: Vec<String> = COLUMNS
        .iter()
        .map(|c| match *c {
            "path" | "sms" => list(&v[*c]),
            "digits" => digits.clone(),
            "rtp_lost" => text(&v["rtp"]["lost"]),
            "jitter_ms" => text(&v["rtp"]["jitter_ms"]),
            "rtt_ms" => text(&v["rtp"]["rtcp"]["rtt_ms"]),
            other => text(&v[other]),
        })
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(&fields);
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A time bound: Unix milliseconds or an RFC 3339 timestamp.
pub(crate) fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|e| format!("{s}: not Unix milliseconds or an RFC 3339 time ({e})"))
}

/// `ivrd cdr export`: the records in the SQLite file at `store`, to stdout.
pub(crate) fn export(store: &Path, since: i64, until: i64, csv: bool) -> anyhow::Result<()> {
    if !store.exists() {
        anyhow::bail!(
            "{}: no such store (start `ivrd serve` first, or give --store)",
            store.display()
        );
    }
    let db = open(store)?;
    let records = read(
        &db,
        Query {
            since,
            until,
            limit: MAX_ROWS,
        },
    )?;
    use std::io::Write;
    std::io::stdout().write_all(render(&records, csv).as_bytes())?;
    Ok(())
}

/// Records as JSON lines, or as CSV with its header.
pub(crate) fn render(records: &[Value], csv: bool) -> String {
    let mut out = String::new();
    if csv {
        out.push_str(&csv_header());
    }
    for r in records {
        match csv {
            true => out.push_str(&csv_line(r)),
            false => {
                out.push_str(&r.to_string());
                out.push('\n');
            }
        }
    }
    out
}
