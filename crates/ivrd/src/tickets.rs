//! Tickets and the queue journal on disk (tables `tickets`, `queue_events` and
//! `ticket_deliveries` of the daemon's SQLite file). One thread owns the connection and applies
//! the core's ticket changes in order. A ticket's SMS replies are the inbound messages from its
//! caller's number while its call was live (from joining the queue to the call's end), read
//! from the SMS store's `inbound` table when the ticket is read.
//!
//! A ticket offered to an agent (or an abandoned one with SMS data) is queued for the webhook
//! in `ticket_deliveries`, durable across restarts; [`TicketLog::due`] hands out what is due.

use std::path::Path;
use std::sync::mpsc;

use call_control::{QueueEvent, TicketChange};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::oneshot;
use tracing::warn;
use utoipa::ToSchema;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY, call_id TEXT NOT NULL, queue TEXT NOT NULL, caller TEXT NOT NULL,
    language TEXT NOT NULL, path TEXT NOT NULL, predicted_ms INTEGER NOT NULL,
    opened_ms INTEGER NOT NULL, consent TEXT, sms_text TEXT, agent TEXT, outcome TEXT,
    waited_ms INTEGER, closed_ms INTEGER, ended_ms INTEGER);
CREATE INDEX IF NOT EXISTS tickets_queue ON tickets(queue, opened_ms);
CREATE TABLE IF NOT EXISTS queue_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, call_id TEXT NOT NULL,
    event TEXT NOT NULL, at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS queue_events_queue ON queue_events(queue, at_ms);
CREATE TABLE IF NOT EXISTS ticket_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ticket TEXT NOT NULL, body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL, status INTEGER,
    delivered_ms INTEGER);
";

/// Seconds to wait after each failed delivery; then it is given up.
const BACKOFF_S: [i64; 6] = [1, 5, 30, 120, 600, 3600];

/// A webhook delivery that is due.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub(crate) id: i64,
    pub(crate) body: String,
}

type Reply<T> = oneshot::Sender<Result<T, String>>;

/// A queued call's ticket, as the API, the agent's page and the webhook show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Ticket {
    /// Its id.
    id: String,
    /// The call's API id (its SIP Call-ID).
    call_id: String,
    /// The queue.
    queue: String,
    /// The caller's number.
    caller: String,
    /// The caller's language.
    language: String,
    /// The IVR path that led to the queue (`flow/node:outcome@ms`).
    path: Vec<String>,
    /// The wait predicted when the call joined.
    predicted_wait_ms: i64,
    /// When the call joined, ms since the Unix epoch.
    opened_ms: i64,
    /// The wait-time SMS consent: `allowed`, `denied`, `no_response`, …; none if not asked.
    wait_time_sms: Option<String>,
    /// The wait-time SMS sent.
    sms_sent: Option<String>,
    /// The agent who took it.
    agent: Option<String>,
    /// `bridged`, `abandoned`, …; none while waiting.
    outcome: Option<String>,
    /// How long the call waited.
    waited_ms: Option<i64>,
    /// When it left the queue.
    closed_ms: Option<i64>,
    /// When the call ended.
    ended_ms: Option<i64>,
    /// SMS/MMS from the caller's number while the call was live.
    sms_replies: Vec<SmsReply>,
}

/// An SMS or MMS reply on a ticket.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct SmsReply {
    /// Its text.
    text: String,
    /// Media URLs (MMS).
    media: Vec<String>,
    /// When it came, ms since the Unix epoch.
    at_ms: i64,
}

/// Tickets, oldest first (at most 1,000).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Tickets {
    tickets: Vec<Ticket>,
}

/// A queue's journal, in order (at most 10,000 events).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Journal {
    /// The queue.
    queue: String,
    /// Its events.
    events: Vec<JournalEvent>,
}

/// One event of a queue's journal; the fields beside `event` are those it has.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub(crate) struct JournalEvent {
    /// `enter`, `connect`, `abandon`, `exit`, `ring_no_answer`, `agent_busy`,
    /// `agent_rejected`, `complete`, `wait_sms`, `callback_requested`, `overflow`, `priority`.
    event: String,
    /// The call.
    #[serde(default)]
    call_id: String,
    /// When, ms since the Unix epoch.
    #[serde(default)]
    at_ms: i64,
    /// The caller's place in line (1 is next).
    #[serde(skip_serializing_if = "Option::is_none")]
    position: Option<u64>,
    /// The agent concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<String>,
    /// How long the caller had waited.
    #[serde(skip_serializing_if = "Option::is_none")]
    waited_ms: Option<u64>,
    /// How the call left (`exit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<String>,
    /// The agent phone's SIP status (`agent_rejected`).
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    /// How long the agent talked (`complete`).
    #[serde(skip_serializing_if = "Option::is_none")]
    talked_ms: Option<u64>,
    /// The wait-time SMS step (`wait_sms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<String>,
    /// The estimated wait (`overflow`).
    #[serde(skip_serializing_if = "Option::is_none")]
    ewt_ms: Option<u64>,
    /// The caller's new priority (`priority`).
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<i32>,
}

/// A queue's figures since the store began.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueueStats {
    /// The queue.
    queue: String,
    /// Calls that joined it.
    calls: i64,
    /// Calls bridged to an agent.
    bridged: i64,
    /// Calls abandoned while waiting.
    abandoned: i64,
    /// Their mean wait.
    mean_wait_ms: Option<i64>,
    /// Mean absolute error of the predicted wait, over bridged calls.
    ewt_mean_absolute_error_ms: Option<i64>,
}

enum Op {
    Change(TicketChange, i64, bool),
    Event(QueueEvent, i64),
    Get(String, i64, Reply<Option<Ticket>>),
    List(Option<String>, i64, Reply<Tickets>),
    Journal(String, i64, Reply<Journal>),
    Stats(String, Reply<QueueStats>),
    Due(i64, Reply<Vec<Delivery>>),
    Delivered(i64, Option<u16>, bool, i64),
}

/// The handle; cheap to clone.
#[derive(Clone)]
pub(crate) struct TicketLog {
    ops: mpsc::Sender<Op>,
}

impl TicketLog {
    /// Opens (or creates) the tables in the SQLite file at `path`.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        let db = Connection::open(path)
            .map_err(|e| anyhow::anyhow!("ticket store {}: {e}", path.display()))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(SCHEMA)?;
        let (ops, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("tickets".into())
            .spawn(move || run(&db, &rx))?;
        Ok(Self { ops })
    }

    fn send(&self, op: Op) {
        if self.ops.send(op).is_err() {
            warn!("ticket store thread has stopped");
        }
    }

    async fn ask<T>(&self, op: impl FnOnce(Reply<T>) -> Op) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        self.send(op(tx));
        rx.await
            .map_err(|_| "ticket store unavailable".to_string())?
    }

    /// Applies a change; `webhook`: queue the deliveries it calls for.
    pub(crate) fn change(&self, change: TicketChange, now_ms: i64, webhook: bool) {
        self.send(Op::Change(change, now_ms, webhook));
    }

    pub(crate) fn event(&self, event: QueueEvent, now_ms: i64) {
        self.send(Op::Event(event, now_ms));
    }

    pub(crate) async fn get(&self, id: String, now_ms: i64) -> Result<Option<Ticket>, String> {
        self.ask(|r| Op::Get(id, now_ms, r)).await
    }

    pub(crate) async fn list(&self, queue: Option<String>, since: i64) -> Result<Tickets, String> {
        self.ask(|r| Op::List(queue, since, r)).await
    }

    pub(crate) async fn journal(&self, queue: String, since_ms: i64) -> Result<Journal, String> {
        self.ask(|r| Op::Journal(queue, since_ms, r)).await
    }

    pub(crate) async fn stats(&self, queue: String) -> Result<QueueStats, String> {
        self.ask(|r| Op::Stats(queue, r)).await
    }

    /// Deliveries due at `now_ms`.
    pub(crate) async fn due(&self, now_ms: i64) -> Result<Vec<Delivery>, String> {
        self.ask(|r| Op::Due(now_ms, r)).await
    }

    /// A delivery's attempt: its HTTP status (`None`: no answer), and whether it landed.
    pub(crate) fn delivered(&self, id: i64, status: Option<u16>, ok: bool, now_ms: i64) {
        self.send(Op::Delivered(id, status, ok, now_ms));
    }
}

fn run(db: &Connection, ops: &mpsc::Receiver<Op>) {
    while let Ok(op) = ops.recv() {
        let result = match op {
            Op::Change(change, now, webhook) => apply(db, change, now, webhook),
            Op::Event(e, now) => db
                .execute(
                    "INSERT INTO queue_events (queue, call_id, event, at_ms) VALUES (?1, ?2, ?3, ?4)",
                    params![e.queue, e.call_id, event_json(&e), now],
                )
                .map(drop),
            Op::Get(id, now, reply) => {
                let _ = reply.send(ticket(db, &id, now).map_err(|e| e.to_string()));
                Ok(())
            }
            Op::List(queue, since, reply) => {
                let _ = reply.send(list(db, queue.as_deref(), since).map_err(|e| e.to_string()));
                Ok(())
            }
            Op::Journal(queue, since, reply) => {
                let _ = reply.send(journal(db, &queue, since).map_err(|e| e.to_string()));
                Ok(())
            }
            Op::Stats(queue, reply) => {
                let _ = reply.send(stats(db, &queue).map_err(|e| e.to_string()));
                Ok(())
            }
            Op::Due(now, reply) => {
                let _ = reply.send(due(db, now).map_err(|e| e.to_string()));
                Ok(())
            }
            Op::Delivered(id, status, ok, now) => delivered(db, id, status, ok, now),
        };
        if let Err(e) = result {
            warn!(error = %e, "ticket store write failed");
        }
    }
}

fn apply(db: &Connection, change: TicketChange, now: i64, webhook: bool) -> rusqlite::Result<()> {
    let deliver = |db: &Connection, id: &str, event: &str, agent: Option<&str>| {
        if !webhook {
            return Ok(());
        }
        let Some(ticket) = ticket(db, id, now)? else {
            return Ok(());
        };
        let mut body = serde_json::to_value(ticket).unwrap_or_default();
        body["event"] = json!(event);
        body["offered_to"] = json!(agent);
        db.execute(
            "INSERT INTO ticket_deliveries (ticket, body, next_ms) VALUES (?1, ?2, ?3)",
            params![id, body.to_string(), now],
        )
        .map(drop)
    };
    match change {
        TicketChange::Opened(t) => db
            .execute(
                "INSERT OR IGNORE INTO tickets (id, call_id, queue, caller, language, path, \
                 predicted_ms, opened_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    t.id,
                    t.call_id,
                    t.queue,
                    t.caller,
                    t.language,
                    json!(t.path).to_string(),
                    t.predicted_wait.as_millis() as i64,
                    now
                ],
            )
            .map(drop),
        TicketChange::Consent { id, status } => db
            .execute(
                "UPDATE tickets SET consent = ?2 WHERE id = ?1",
                params![id, status],
            )
            .map(drop),
        TicketChange::SmsSent { id, text } => db
            .execute(
                "UPDATE tickets SET sms_text = ?2 WHERE id = ?1",
                params![id, text],
            )
            .map(drop),
        TicketChange::Offered { id, agent } => deliver(db, &id, "offered", Some(&agent)),
        TicketChange::Closed {
            id,
            outcome,
            waited,
            agent,
            deliver: now_too,
        } => {
            db.execute(
                "UPDATE tickets SET outcome = ?2, waited_ms = ?3, agent = ?4, closed_ms = ?5 \
                 WHERE id = ?1",
                params![id, outcome, waited.as_millis() as i64, agent, now],
            )?;
            match now_too {
                true => deliver(db, &id, outcome, None),
                false => Ok(()),
            }
        }
        TicketChange::Ended { id } => db
            .execute(
                "UPDATE tickets SET ended_ms = ?2 WHERE id = ?1",
                params![id, now],
            )
            .map(drop),
        other => {
            warn!(change = ?other, "ticket change not stored");
            Ok(())
        }
    }
}

fn event_json(e: &QueueEvent) -> String {
    use call_control::QueueEventKind as K;
    let ms = |d: &std::time::Duration| Some(d.as_millis() as u64);
    let named = |event: &str| JournalEvent {
        event: event.to_string(),
        ..JournalEvent::default()
    };
    let event = match &e.kind {
        K::Enter { position } => JournalEvent {
            position: Some(*position as u64),
            ..named("enter")
        },
        K::Connect { agent, waited } => JournalEvent {
            agent: Some(agent.clone()),
            waited_ms: ms(waited),
            ..named("connect")
        },
        K::Abandon { waited } => JournalEvent {
            waited_ms: ms(waited),
            ..named("abandon")
        },
        K::Exit { outcome, waited } => JournalEvent {
            outcome: Some(outcome.to_string()),
            waited_ms: ms(waited),
            ..named("exit")
        },
        K::RingNoAnswer { agent } => JournalEvent {
            agent: Some(agent.clone()),
            ..named("ring_no_answer")
        },
        K::AgentBusy { agent } => JournalEvent {
            agent: Some(agent.clone()),
            ..named("agent_busy")
        },
        K::AgentRejected { agent, status } => JournalEvent {
            agent: Some(agent.clone()),
            status: Some(*status),
            ..named("agent_rejected")
        },
        K::Complete { agent, talked } => JournalEvent {
            agent: Some(agent.clone()),
            talked_ms: ms(talked),
            ..named("complete")
        },
        K::WaitSms(w) => JournalEvent {
            step: Some(wait_sms_step(*w).to_string()),
            ..named("wait_sms")
        },
        K::CallbackRequested { position } => JournalEvent {
            position: Some(*position as u64),
            ..named("callback_requested")
        },
        K::Overflow { position, ewt } => JournalEvent {
            position: Some(*position as u64),
            ewt_ms: ms(ewt),
            ..named("overflow")
        },
        K::Priority { priority, position } => JournalEvent {
            priority: Some(*priority),
            position: Some(*position as u64),
            ..named("priority")
        },
        other => named(&format!("{other:?}")),
    };
    serde_json::to_string(&event).unwrap_or_default()
}

fn wait_sms_step(step: call_control::WaitSmsEvent) -> &'static str {
    use call_control::WaitSmsEvent as W;
    match step {
        W::Offered => "offered",
        W::Allowed => "allowed",
        W::Denied => "denied",
        W::NoResponse => "no_response",
        W::WrongSelection => "wrong_selection",
        W::Sent => "sent",
    }
}

/// A ticket with its SMS replies (from its caller's number while its call was live).
fn ticket(db: &Connection, id: &str, now: i64) -> rusqlite::Result<Option<Ticket>> {
    let row = db
        .query_row(
            "SELECT id, call_id, queue, caller, language, path, predicted_ms, opened_ms, consent, \
             sms_text, agent, outcome, waited_ms, closed_ms, ended_ms FROM tickets WHERE id = ?1",
            [id],
            |r| {
                let path: String = r.get(5)?;
                Ok(Ticket {
                    id: r.get(0)?,
                    call_id: r.get(1)?,
                    queue: r.get(2)?,
                    caller: r.get(3)?,
                    language: r.get(4)?,
                    path: serde_json::from_str(&path).unwrap_or_default(),
                    predicted_wait_ms: r.get(6)?,
                    opened_ms: r.get(7)?,
                    wait_time_sms: r.get(8)?,
                    sms_sent: r.get(9)?,
                    agent: r.get(10)?,
                    outcome: r.get(11)?,
                    waited_ms: r.get(12)?,
                    closed_ms: r.get(13)?,
                    ended_ms: r.get(14)?,
                    sms_replies: Vec::new(),
                })
            },
        )
        .optional()?;
    let Some(mut ticket) = row else {
        return Ok(None);
    };
    let inbound = db.prepare(
        "SELECT body, media, at_ms FROM inbound WHERE sender = ?1 AND at_ms >= ?2 AND at_ms <= ?3 \
         ORDER BY at_ms, id",
    );
    // The inbound table is the SMS store's; before it exists there are no replies.
    if let Ok(mut stmt) = inbound {
        let until = ticket.ended_ms.unwrap_or(now);
        let rows = stmt.query_map(params![ticket.caller, ticket.opened_ms, until], |r| {
            let media: String = r.get(1)?;
            Ok(SmsReply {
                text: r.get(0)?,
                media: serde_json::from_str(&media).unwrap_or_default(),
                at_ms: r.get(2)?,
            })
        })?;
        for row in rows {
            ticket.sms_replies.push(row?);
        }
    }
    Ok(Some(ticket))
}

fn list(db: &Connection, queue: Option<&str>, since: i64) -> rusqlite::Result<Tickets> {
    let mut stmt = db.prepare(
        "SELECT id FROM tickets WHERE (?1 IS NULL OR queue = ?1) AND opened_ms >= ?2 \
         ORDER BY opened_ms LIMIT 1000",
    )?;
    let ids: Vec<String> = stmt
        .query_map(params![queue, since], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut tickets = Vec::new();
    for id in ids {
        if let Some(t) = ticket(db, &id, i64::MAX)? {
            tickets.push(t);
        }
    }
    Ok(Tickets { tickets })
}

fn journal(db: &Connection, queue: &str, since: i64) -> rusqlite::Result<Journal> {
    let mut stmt = db.prepare(
        "SELECT call_id, event, at_ms FROM queue_events WHERE queue = ?1 AND at_ms >= ?2 \
         ORDER BY id LIMIT 10000",
    )?;
    let events = stmt
        .query_map(params![queue, since], |r| {
            let event: String = r.get(1)?;
            let mut e: JournalEvent = serde_json::from_str(&event).unwrap_or_default();
            e.call_id = r.get(0)?;
            e.at_ms = r.get(2)?;
            Ok(e)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let queue = queue.to_string();
    Ok(Journal { queue, events })
}

/// Calls by outcome, mean wait, and how far the predicted wait was from the actual one (mean
/// absolute error over bridged calls).
fn stats(db: &Connection, queue: &str) -> rusqlite::Result<QueueStats> {
    let (calls, bridged, abandoned, mean_wait, mae): (i64, i64, i64, Option<f64>, Option<f64>) = db
        .query_row(
            "SELECT COUNT(*), \
             COALESCE(SUM(outcome = 'bridged'), 0), COALESCE(SUM(outcome = 'abandoned'), 0), \
             AVG(waited_ms), \
             AVG(CASE WHEN outcome = 'bridged' THEN ABS(predicted_ms - waited_ms) END) \
             FROM tickets WHERE queue = ?1",
            [queue],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
    Ok(QueueStats {
        queue: queue.to_string(),
        calls,
        bridged,
        abandoned,
        mean_wait_ms: mean_wait.map(|m| m.round() as i64),
        ewt_mean_absolute_error_ms: mae.map(|m| m.round() as i64),
    })
}

fn due(db: &Connection, now: i64) -> rusqlite::Result<Vec<Delivery>> {
    let mut stmt = db.prepare(
        "SELECT id, body FROM ticket_deliveries WHERE delivered_ms IS NULL AND next_ms <= ?1 \
         AND attempts < ?2 ORDER BY id LIMIT 50",
    )?;
    stmt.query_map(params![now, BACKOFF_S.len() as i64 + 1], |r| {
        Ok(Delivery {
            id: r.get(0)?,
            body: r.get(1)?,
        })
    })?
    .collect()
}

fn delivered(
    db: &Connection,
    id: i64,
    status: Option<u16>,
    ok: bool,
    now: i64,
) -> rusqlite::Result<()> {
    let attempts: i64 = db.query_row(
        "SELECT attempts FROM ticket_deliveries WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?;
    let backoff = BACKOFF_S
        .get(attempts as usize)
        .copied()
        .unwrap_or(i64::MAX / 2_000);
    db.execute(
        "UPDATE ticket_deliveries SET attempts = attempts + 1, status = ?2, \
         delivered_ms = CASE WHEN ?3 THEN ?4 END, next_ms = ?4 + ?5 WHERE id = ?1",
        params![id, status, ok, now, backoff * 1000],
    )
    .map(drop)
}
