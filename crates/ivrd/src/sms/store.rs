//! The SMS store: outbox, receipts, opt-outs, inbound messages and coupons. One trait, so a
//! PostgreSQL store can follow; SQLite (bundled, WAL, synchronous=FULL: a write the outbox
//! waited for survives a crash or a power cut) is the embedded default under `var/`.
//!
//! Every store call runs on the store's own thread ([`StoreThread`]); async code awaits the
//! answer and never blocks the SIP loop.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use sms_gateway::coupon::{Coupon, Refusal, check_redeem};
use sms_gateway::{E164, Message, MessageId};
use tokio::sync::{mpsc, oneshot};

/// A stored inbound message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredInbound {
    pub(crate) sender: String,
    pub(crate) recipient: String,
    pub(crate) body: String,
    pub(crate) media: Vec<String>,
    pub(crate) keyword: Option<String>,
    /// The call it belongs to: the latest call that messaged the sender.
    pub(crate) call_id: Option<String>,
    pub(crate) at_ms: u64,
}

/// A caller's answer to a consent question ("may we text you?"), kept as evidence.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Consent {
    /// The number, E.164.
    pub(crate) number: String,
    /// What it is for, e.g. `wait_time_sms`.
    pub(crate) purpose: String,
    /// Yes or no.
    pub(crate) granted: bool,
    /// The call it was given in.
    pub(crate) call_id: Option<String>,
    /// How it was given: `dtmf` in a flow, `sms` keyword, `api`.
    pub(crate) source: String,
    /// When, ms since the Unix epoch.
    pub(crate) at_ms: u64,
}

/// Conversion figures of a coupon campaign.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct CampaignStats {
    /// Coupons issued.
    pub(crate) issued: u64,
    /// Sent by SMS.
    pub(crate) sent: u64,
    /// Delivered.
    pub(crate) delivered: u64,
    /// Redeemed.
    pub(crate) redeemed: u64,
}

/// What the SMS subsystem keeps.
pub(crate) trait Store: Send {
    /// Writes a message; `coupon` (its serial's record, on the message's first write) goes in
    /// the same transaction, so a coupon is never issued without its SMS. A serial that exists
    /// already fails the write.
    fn save_message(&mut self, m: &Message, coupon: Option<&Coupon>) -> anyhow::Result<()>;
    /// Messages created at or after `since_ms`, and every unfinished one.
    fn load_messages(&mut self, since_ms: u64) -> anyhow::Result<Vec<Message>>;
    /// The latest messages (in `state`, if given), newest first, at most `limit`.
    fn list_messages(&mut self, state: Option<&str>, limit: usize) -> anyhow::Result<Vec<Message>>;
    fn save_receipt(&mut self, id: Option<MessageId>, raw: &str, at_ms: u64) -> anyhow::Result<()>;
    /// The message a provider's id (one of an accepted message's `provider_id` words) names.
    fn message_by_provider_id(&mut self, provider_id: &str) -> anyhow::Result<Option<MessageId>>;
    fn save_consent(&mut self, c: &Consent) -> anyhow::Result<()>;
    /// A number's consent records, oldest first.
    fn consents(&mut self, number: &str) -> anyhow::Result<Vec<Consent>>;
    fn save_opt_out(&mut self, n: &E164, out: bool, source: &str, at_ms: u64)
    -> anyhow::Result<()>;
    fn opted_out(&mut self) -> anyhow::Result<Vec<E164>>;
    /// Stores an inbound message, matched to the latest call that messaged its sender.
    fn save_inbound(&mut self, m: StoredInbound) -> anyhow::Result<StoredInbound>;
    fn inbound_for_call(&mut self, call_id: &str) -> anyhow::Result<Vec<StoredInbound>>;
    /// Whether a coupon serial has been issued (the caller draws another).
    fn coupon_exists(&mut self, serial: &str) -> anyhow::Result<bool>;
    /// Redeems once, atomically.
    fn redeem(
        &mut self,
        serial: &str,
        merchant: &str,
        campaigns: &[String],
        now_ms: u64,
    ) -> anyhow::Result<Result<Coupon, Refusal>>;
    fn campaign_stats(&mut self, campaign: &str) -> anyhow::Result<CampaignStats>;
}

pub(crate) struct Sqlite {
    db: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, recipient TEXT NOT NULL,
    state TEXT NOT NULL, coupon TEXT, call_id TEXT,
    created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS messages_created ON messages(created_ms);
CREATE INDEX IF NOT EXISTS messages_recipient ON messages(recipient, created_ms);
CREATE TABLE IF NOT EXISTS receipts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, message_id INTEGER, raw TEXT NOT NULL,
    at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS opt_outs (
    number TEXT PRIMARY KEY, opted_out INTEGER NOT NULL, source TEXT NOT NULL,
    at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS inbound (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT NOT NULL, recipient TEXT NOT NULL,
    body TEXT NOT NULL, media TEXT NOT NULL, keyword TEXT, call_id TEXT, at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS inbound_call ON inbound(call_id);
CREATE TABLE IF NOT EXISTS provider_ids (
    provider_id TEXT PRIMARY KEY, message_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS consents (
    id INTEGER PRIMARY KEY AUTOINCREMENT, number TEXT NOT NULL, purpose TEXT NOT NULL,
    granted INTEGER NOT NULL, call_id TEXT, source TEXT NOT NULL, at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS consents_number ON consents(number, at_ms);
CREATE TABLE IF NOT EXISTS coupons (
    serial TEXT PRIMARY KEY, campaign TEXT NOT NULL, call_id TEXT NOT NULL,
    issued_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, redeemed_ms INTEGER, merchant TEXT);
";

impl Sqlite {
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        }
        let db = Connection::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(SCHEMA)?;
        Ok(Self { db })
    }
}

fn coupon_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Coupon> {
    let redeemed_ms: Option<i64> = row.get(5)?;
    let merchant: Option<String> = row.get(6)?;
    Ok(Coupon {
        serial: row.get(0)?,
        campaign: row.get(1)?,
        call_id: row.get(2)?,
        issued_ms: row.get::<_, i64>(3)? as u64,
        expires_ms: row.get::<_, i64>(4)? as u64,
        redeemed: redeemed_ms.map(|at| (at as u64, merchant.unwrap_or_default())),
    })
}

fn inbound_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredInbound> {
    let media: String = row.get(3)?;
    Ok(StoredInbound {
        sender: row.get(0)?,
        recipient: row.get(1)?,
        body: row.get(2)?,
        media: serde_json::from_str(&media).unwrap_or_default(),
        keyword: row.get(4)?,
        call_id: row.get(5)?,
        at_ms: row.get::<_, i64>(6)? as u64,
    })
}

impl Store for Sqlite {
    fn list_messages(&mut self, state: Option<&str>, limit: usize) -> anyhow::Result<Vec<Message>> {
        let mut stmt = self.db.prepare(
            "SELECT record FROM messages WHERE ?1 IS NULL OR state = ?1 \
             ORDER BY updated_ms DESC, id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![state, limit as i64], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row?)?);
        }
        Ok(out)
    }

    fn save_message(&mut self, m: &Message, coupon: Option<&Coupon>) -> anyhow::Result<()> {
        let record = serde_json::to_string(m)?;
        let tx = self.db.transaction()?;
        if let Some(c) = coupon
            && !insert_coupon(&tx, c)?
        {
            anyhow::bail!("coupon serial {} was issued before", c.serial);
        }
        tx.execute(
            "INSERT INTO messages (id, key, recipient, state, coupon, call_id, created_ms, updated_ms, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(id) DO UPDATE SET state = ?4, updated_ms = ?8, record = ?9",
            params![
                m.id.0 as i64, m.key, m.to, m.state.name(), m.coupon, m.call_id,
                m.created_ms as i64, m.updated_ms as i64, record
            ],
        )?;
        if let sms_gateway::State::Accepted {
            provider_id: Some(ids),
        } = &m.state
        {
            for id in ids.split_whitespace() {
                tx.execute(
                    "INSERT OR REPLACE INTO provider_ids (provider_id, message_id) VALUES (?1, ?2)",
                    params![id, m.id.0 as i64],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn message_by_provider_id(&mut self, provider_id: &str) -> anyhow::Result<Option<MessageId>> {
        let id: Option<i64> = self
            .db
            .query_row(
                "SELECT message_id FROM provider_ids WHERE provider_id = ?1",
                params![provider_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(id.map(|i| MessageId(i as u64)))
    }

    fn save_consent(&mut self, c: &Consent) -> anyhow::Result<()> {
        self.db.execute(
            "INSERT INTO consents (number, purpose, granted, call_id, source, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                c.number,
                c.purpose,
                c.granted,
                c.call_id,
                c.source,
                c.at_ms as i64
            ],
        )?;
        Ok(())
    }

    fn consents(&mut self, number: &str) -> anyhow::Result<Vec<Consent>> {
        let mut stmt = self.db.prepare(
            "SELECT number, purpose, granted, call_id, source, at_ms FROM consents
             WHERE number = ?1 ORDER BY at_ms, id",
        )?;
        let rows = stmt.query_map(params![number], |r| {
            Ok(Consent {
                number: r.get(0)?,
                purpose: r.get(1)?,
                granted: r.get(2)?,
                call_id: r.get(3)?,
                source: r.get(4)?,
                at_ms: r.get::<_, i64>(5)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn load_messages(&mut self, since_ms: u64) -> anyhow::Result<Vec<Message>> {
        let mut stmt = self.db.prepare(
            "SELECT record FROM messages WHERE created_ms >= ?1
             OR state IN ('queued', 'submitting', 'accepted') ORDER BY id",
        )?;
        let rows = stmt.query_map(params![since_ms as i64], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            let text = row?;
            match serde_json::from_str(&text) {
                Ok(m) => out.push(m),
                Err(e) => tracing::error!(error = %e, "unreadable outbox record skipped"),
            }
        }
        Ok(out)
    }

    fn save_receipt(&mut self, id: Option<MessageId>, raw: &str, at_ms: u64) -> anyhow::Result<()> {
        self.db.execute(
            "INSERT INTO receipts (message_id, raw, at_ms) VALUES (?1, ?2, ?3)",
            params![id.map(|i| i.0 as i64), raw, at_ms as i64],
        )?;
        Ok(())
    }

    fn save_opt_out(
        &mut self,
        n: &E164,
        out: bool,
        source: &str,
        at_ms: u64,
    ) -> anyhow::Result<()> {
        self.db.execute(
            "INSERT INTO opt_outs (number, opted_out, source, at_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(number) DO UPDATE SET opted_out = ?2, source = ?3, at_ms = ?4",
            params![n.as_str(), out, source, at_ms as i64],
        )?;
        Ok(())
    }

    fn opted_out(&mut self) -> anyhow::Result<Vec<E164>> {
        let mut stmt = self
            .db
            .prepare("SELECT number FROM opt_outs WHERE opted_out = 1")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            let number = row?;
            // Stored normalised; read back against any country (they carry their `+`).
            match E164::parse(&number, sms_gateway::Country::default()) {
                Ok(n) => out.push(n),
                Err(e) => tracing::error!(%number, error = %e, "unreadable opt-out skipped"),
            }
        }
        Ok(out)
    }

    fn save_inbound(&mut self, mut m: StoredInbound) -> anyhow::Result<StoredInbound> {
        m.call_id = self
            .db
            .query_row(
                "SELECT call_id FROM messages WHERE recipient = ?1 AND call_id IS NOT NULL
                 ORDER BY created_ms DESC LIMIT 1",
                params![m.sender],
                |r| r.get(0),
            )
            .optional()?;
        self.db.execute(
            "INSERT INTO inbound (sender, recipient, body, media, keyword, call_id, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                m.sender,
                m.recipient,
                m.body,
                serde_json::to_string(&m.media)?,
                m.keyword,
                m.call_id,
                m.at_ms as i64
            ],
        )?;
        Ok(m)
    }

    fn inbound_for_call(&mut self, call_id: &str) -> anyhow::Result<Vec<StoredInbound>> {
        let mut stmt = self.db.prepare(
            "SELECT sender, recipient, body, media, keyword, call_id, at_ms FROM inbound
             WHERE call_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![call_id], inbound_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn coupon_exists(&mut self, serial: &str) -> anyhow::Result<bool> {
        let n: i64 = self.db.query_row(
            "SELECT COUNT(*) FROM coupons WHERE serial = ?1",
            params![serial],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    fn redeem(
        &mut self,
        serial: &str,
        merchant: &str,
        campaigns: &[String],
        now_ms: u64,
    ) -> anyhow::Result<Result<Coupon, Refusal>> {
        let tx = self.db.transaction()?;
        let coupon = tx
            .query_row(
                "SELECT serial, campaign, call_id, issued_ms, expires_ms, redeemed_ms, merchant
                 FROM coupons WHERE serial = ?1",
                params![serial],
                coupon_row,
            )
            .optional()?;
        if let Err(refusal) = check_redeem(coupon.as_ref(), campaigns, now_ms) {
            return Ok(Err(refusal));
        }
        tx.execute(
            "UPDATE coupons SET redeemed_ms = ?2, merchant = ?3 WHERE serial = ?1 AND redeemed_ms IS NULL",
            params![serial, now_ms as i64, merchant],
        )?;
        tx.commit()?;
        let mut coupon = coupon.ok_or_else(|| anyhow::anyhow!("coupon vanished"))?;
        coupon.redeemed = Some((now_ms, merchant.to_string()));
        Ok(Ok(coupon))
    }

    fn campaign_stats(&mut self, campaign: &str) -> anyhow::Result<CampaignStats> {
        let stats = self.db.query_row(
            "SELECT COUNT(*),
                    COALESCE(SUM(m.state IN ('accepted', 'delivered')), 0),
                    COALESCE(SUM(m.state = 'delivered'), 0),
                    COALESCE(SUM(c.redeemed_ms IS NOT NULL), 0)
             FROM coupons c LEFT JOIN messages m ON m.coupon = c.serial
             WHERE c.campaign = ?1",
            params![campaign],
            |r| {
                Ok(CampaignStats {
                    issued: r.get::<_, i64>(0)? as u64,
                    sent: r.get::<_, i64>(1)? as u64,
                    delivered: r.get::<_, i64>(2)? as u64,
                    redeemed: r.get::<_, i64>(3)? as u64,
                })
            },
        )?;
        Ok(stats)
    }
}

type Job = Box<dyn FnOnce(&mut dyn Store) + Send>;

/// The store on its own thread; cheap to clone.
#[derive(Clone)]
pub(crate) struct StoreThread {
    jobs: mpsc::UnboundedSender<Job>,
}

impl StoreThread {
    pub(crate) fn start(mut store: Box<dyn Store>) -> anyhow::Result<Self> {
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name("sms-store".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    job(store.as_mut());
                }
            })?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the store thread and waits for its answer.
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Store) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move |s| {
                let _ = tx.send(f(s));
            }))
            .map_err(|_| anyhow::anyhow!("SMS store thread is gone"))?;
        rx.await
            .map_err(|_| anyhow::anyhow!("SMS store thread dropped the request"))?
    }
}

/// Inserts a coupon; false if the serial exists.
fn insert_coupon(db: &rusqlite::Connection, c: &Coupon) -> rusqlite::Result<bool> {
    let n = db.execute(
        "INSERT OR IGNORE INTO coupons (serial, campaign, call_id, issued_ms, expires_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            c.serial,
            c.campaign,
            c.call_id,
            c.issued_ms as i64,
            c.expires_ms as i64
        ],
    )?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coupon(serial: &str, expires_ms: u64) -> Coupon {
        Coupon {
            serial: serial.into(),
            campaign: "spring".into(),
            call_id: "c1".into(),
            issued_ms: 0,
            expires_ms,
            redeemed: None,
        }
    }

    /// The coupon row and its SMS used to be two writes: a crash between them left a coupon
    /// issued and never sent. Now the coupon is written with the message's first write, in one
    /// transaction; a serial already issued fails the whole write.
    #[test]
    fn a_coupon_is_written_with_its_sms_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("ivrd-store-tx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut db = Sqlite::open(&dir.join("t.sqlite")).expect("open");
        let message = |id: u64| Message {
            id: MessageId(id),
            key: format!("call-{id}/send_coupon/coupon"),
            to: "+15551234567".into(),
            text: "Your coupon code: A".into(),
            encoding: sms_gateway::text::Encoding::Gsm7,
            segments: 1,
            call_id: Some(format!("call-{id}")),
            purpose: "coupon".into(),
            coupon: Some("A".into()),
            attempts: 0,
            maybe_duplicate: false,
            state: sms_gateway::State::Queued { next_attempt_ms: 0 },
            created_ms: 0,
            updated_ms: 0,
        };
        assert!(
            !db.coupon_exists("A").expect("query"),
            "drawn is not issued"
        );
        db.save_message(&message(1), Some(&coupon("A", 1_000)))
            .expect("message and coupon");
        assert!(db.coupon_exists("A").expect("query"));
        assert!(
            db.save_message(&message(2), Some(&coupon("A", 1_000)))
                .is_err()
        );
        let messages = db.load_messages(0).expect("load");
        assert_eq!(messages.len(), 1, "the failed write left no message behind");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn coupons_redeem_once_and_expire() {
        let dir = std::env::temp_dir().join(format!("ivrd-store-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut db = Sqlite::open(&dir.join("t.sqlite")).expect("open");
        assert!(insert_coupon(&db.db, &coupon("A", 1_000)).expect("insert"));
        assert!(
            !insert_coupon(&db.db, &coupon("A", 1_000)).expect("insert"),
            "serials are unique"
        );
        assert!(insert_coupon(&db.db, &coupon("B", 1_000)).expect("insert"));
        assert!(db.redeem("A", "shop", &[], 10).expect("store").is_ok());
        assert!(matches!(
            db.redeem("A", "shop", &[], 11).expect("store"),
            Err(Refusal::AlreadyRedeemed { at_ms: 10, .. })
        ));
        assert!(matches!(
            db.redeem("B", "shop", &[], 1_000).expect("store"),
            Err(Refusal::Expired { .. })
        ));
        assert!(matches!(
            db.redeem("B", "shop", &["autumn".into()], 10)
                .expect("store"),
            Err(Refusal::WrongCampaign(_))
        ));
        assert_eq!(
            db.redeem("C", "shop", &[], 10).expect("store"),
            Err(Refusal::Unknown)
        );
        let stats = db.campaign_stats("spring").expect("stats");
        assert_eq!((stats.issued, stats.redeemed), (2, 1));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
