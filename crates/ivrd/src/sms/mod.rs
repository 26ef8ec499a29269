//! The SMS subsystem of `ivrd serve`: the sans-IO outbox of `sms-gateway` driven by one task,
//! the store on its own thread, the provider's HTTP as tasks, and the HTTP endpoints for
//! receipts, inbound messages and coupon redemption.
//!
//! The task carries out the outbox's outputs strictly in order and waits for every store
//! write, so a message is on disk before it is submitted, and a flow hears "accepted" only
//! once its message is on disk.

pub(crate) mod config;
mod provider;
mod smpp;
pub(crate) mod store;

use std::collections::HashMap;
use std::time::Duration;

use sms_gateway::coupon::{self, Coupon};
use sms_gateway::provider::Receipt;
use sms_gateway::{
    Country, E164, Enqueued, GuardConfig, Inbound, Keyword, MessageId, NewMessage, Outbox,
    OutboxConfig, Output, RetryPolicy, SubmitResult,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use crate::clock;
use config::SmsConfig;
use flow_engine::ConsentAnswer;
pub(crate) use provider::Configured;
use store::{Consent, Sqlite, StoreThread, StoredInbound};

enum Command {
    Enqueue(NewMessage, oneshot::Sender<Result<Enqueued, String>>),
    Submitted(MessageId, SubmitResult),
    Receipt(Receipt, oneshot::Sender<Result<(), String>>),
    Inbound(Inbound, oneshot::Sender<Result<Option<Keyword>, String>>),
    Consent(ConsentRequest, oneshot::Sender<Result<(), String>>),
    /// The outbox's messages by state.
    Counts(oneshot::Sender<Result<Vec<(&'static str, usize)>, String>>),
    /// An operator's retry of a dead (or failed) message; false if it is not one in memory.
    Retry(MessageId, oneshot::Sender<Result<bool, String>>),
    /// A coupon drawn for a call: written with the first write of the SMS that carries its
    /// serial, in one transaction, or never.
    HoldCoupon(Coupon),
}

/// How long a drawn coupon waits for its SMS before it is forgotten (never issued).
const COUPON_HOLD_MS: u64 = 3_600_000;

/// A caller's consent answer from a flow.
pub(crate) struct ConsentRequest {
    pub(crate) call_id: String,
    pub(crate) number: String,
    pub(crate) purpose: String,
    pub(crate) answer: ConsentAnswer,
}

/// A handle on the SMS subsystem; cheap to clone.
#[derive(Clone)]
pub(crate) struct Sms {
    commands: mpsc::UnboundedSender<Command>,
    pub(crate) store: StoreThread,
    pub(crate) provider: Configured,
}

/// Why a message was not taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NotTaken {
    /// The outbox refused it: not a number, too long, opted out, over a rate, quiet hours.
    #[error("{0}")]
    Refused(String),
    /// The outbox is not running.
    #[error("{0}")]
    Unavailable(&'static str),
}

impl Sms {
    /// Opens the store, restores the outbox from it and starts the task (on the current
    /// tokio runtime).
    pub(crate) async fn start(
        config: &SmsConfig,
        client: reqwest::Client,
        cdrs: crate::cdr::CdrLog,
    ) -> anyhow::Result<Self> {
        let provider = Configured::from_config(config)?;
        let home = Country::by_iso(&config.country).ok_or_else(|| {
            anyhow::anyhow!("sms.country {:?} is not one we know", config.country)
        })?;
        if provider.name() != "file" && config.allowed_prefixes.iter().any(|p| p == "+") {
            warn!(
                "sms.allowed_prefixes allows every country with a paid provider: restrict it (SMS pumping)"
            );
        }
        let store = StoreThread::start(Box::new(Sqlite::open(&config.store)?))?;
        let outbox_config = OutboxConfig {
            home,
            guard: GuardConfig {
                allowed_prefixes: config.allowed_prefixes.clone(),
                per_recipient_per_hour: config.per_recipient_per_hour,
                per_recipient_per_day: config.per_recipient_per_day,
            },
            retry: RetryPolicy {
                max_attempts: config.max_attempts,
                base_ms: config.retry_base_ms,
                max_ms: config.retry_max_ms,
            },
            max_segments: config.max_segments,
            provider_dedupes: provider.dedupes(),
            ..OutboxConfig::default()
        };
        let now = now_ms();
        let since = now.saturating_sub(outbox_config.retention_ms);
        let messages = store.call(move |s| s.load_messages(since)).await?;
        let opted_out = store.call(|s| s.opted_out()).await?;
        let mut outbox = Outbox::new(outbox_config, clock::secure_random());
        info!(
            provider = provider.name(),
            store = %config.store.display(),
            restored = messages.len(),
            opted_out = opted_out.len(),
            "SMS outbox ready"
        );
        outbox.restore(now, messages, &opted_out);
        let (commands, rx) = mpsc::unbounded_channel();
        let sms = Self {
            commands,
            store,
            provider,
        };
        let worker = Worker {
            coupons: HashMap::new(),
            outbox,
            home,
            sms: sms.clone(),
            client,
            callback: config.callback_base.clone(),
            cdrs,
        };
        tokio::spawn(worker.run(rx));
        if let Configured::Smpp(link) = &sms.provider {
            link.start(sms.clone());
        }
        Ok(sms)
    }

    /// Sends the worker a command carrying an answer channel and waits for the answer.
    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Command,
    ) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(command(tx))
            .map_err(|_| "SMS outbox is not running".to_string())?;
        rx.await
            .unwrap_or_else(|_| Err("SMS outbox stopped".to_string()))
    }

    /// The outbox's messages in memory, by state.
    pub(crate) async fn by_state(&self) -> Result<Vec<(&'static str, usize)>, String> {
        self.ask(Command::Counts).await
    }

    /// Retries a dead letter; `Ok(false)` if it is not dead or failed, or no longer in memory.
    pub(crate) async fn retry(&self, id: MessageId) -> Result<bool, String> {
        self.ask(|tx| Command::Retry(id, tx)).await
    }

    /// Enqueues; answers once the message is on disk (or refused).
    pub(crate) async fn enqueue(&self, message: NewMessage) -> Result<Enqueued, NotTaken> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Enqueue(message, tx))
            .map_err(|_| NotTaken::Unavailable("SMS outbox is not running"))?;
        match rx.await {
            Ok(taken) => taken.map_err(NotTaken::Refused),
            Err(_) => Err(NotTaken::Unavailable("SMS outbox stopped")),
        }
    }

    /// Hands over a receipt; answers once it is stored (a gateway whose receipt we could
    /// not store hears an error and sends it again).
    pub(crate) async fn receipt(&self, receipt: Receipt) -> Result<(), String> {
        self.ask(|tx| Command::Receipt(receipt, tx)).await
    }

    /// Hands over an inbound message; answers with the keyword it was, once stored.
    pub(crate) async fn inbound(&self, message: Inbound) -> Result<Option<Keyword>, String> {
        self.ask(|tx| Command::Inbound(message, tx)).await
    }

    /// Records a consent answer (an opt-out or opt-in also changes the opt-out list); answers
    /// once both are on disk.
    pub(crate) async fn record_consent(&self, request: ConsentRequest) -> Result<(), String> {
        self.ask(|tx| Command::Consent(request, tx)).await
    }

    /// Draws a coupon: a fresh random serial for the call, campaign and expiry. It is issued
    /// (stored) only with the SMS that carries it, in the same transaction: a crash between
    /// the two can no longer leave a coupon issued and never sent.
    pub(crate) async fn issue_coupon(
        &self,
        call_id: String,
        campaign: String,
        valid_days: u32,
    ) -> anyhow::Result<String> {
        let now = now_ms();
        for _ in 0..4 {
            let c = Coupon {
                serial: coupon::serial(clock::secure_random()),
                campaign: campaign.clone(),
                call_id: call_id.clone(),
                issued_ms: now,
                expires_ms: now + u64::from(valid_days) * 86_400_000,
                redeemed: None,
            };
            let serial = c.serial.clone();
            let taken = serial.clone();
            if !self.store.call(move |s| s.coupon_exists(&taken)).await? {
                self.commands
                    .send(Command::HoldCoupon(c))
                    .map_err(|_| anyhow::anyhow!("SMS outbox is not running"))?;
                return Ok(serial);
            }
        }
        anyhow::bail!("no unused serial in four draws")
    }
}

/// An answer held back until the outputs of its input are written.
enum Reply {
    Enqueue(
        oneshot::Sender<Result<Enqueued, String>>,
        Result<Enqueued, String>,
    ),
    Inbound(
        oneshot::Sender<Result<Option<Keyword>, String>>,
        Option<Keyword>,
    ),
    Retry(oneshot::Sender<Result<bool, String>>, bool),
    /// The consent record is written after the opt-out change (if any) is.
    Consent(
        oneshot::Sender<Result<(), String>>,
        Result<Consent, String>,
        StoreThread,
    ),
}

impl Reply {
    /// Sends the answer; a failed write turns an acceptance into an error.
    fn send(self, written: Result<&(), String>) {
        match self {
            Self::Enqueue(tx, result) => {
                let _ = tx.send(result.and_then(|e| {
                    written
                        .map(|_| e)
                        .map_err(|w| format!("SMS store write failed: {w}"))
                }));
            }
            Self::Inbound(tx, keyword) => {
                let _ = tx.send(
                    written
                        .map(|_| keyword)
                        .map_err(|w| format!("SMS store write failed: {w}")),
                );
            }
            Self::Retry(tx, retried) => {
                let _ = tx.send(
                    written
                        .map(|_| retried)
                        .map_err(|w| format!("SMS store write failed: {w}")),
                );
            }
            Self::Consent(tx, consent, store) => {
                let consent = match (written, consent) {
                    (Ok(_), Ok(c)) => c,
                    (Err(w), _) => {
                        let _ = tx.send(Err(format!("SMS store write failed: {w}")));
                        return;
                    }
                    (_, Err(e)) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                tokio::spawn(async move {
                    let stored = store
                        .call(move |s| s.save_consent(&consent))
                        .await
                        .map_err(|e| format!("SMS store write failed: {e}"));
                    let _ = tx.send(stored);
                });
            }
        }
    }
}

struct Worker {
    outbox: Outbox,
    /// Coupons drawn and waiting for their SMS, by serial.
    coupons: HashMap<String, Coupon>,
    /// National numbers are this country's.
    home: Country,
    sms: Sms,
    client: reqwest::Client,
    callback: String,
    /// Where a delivered chat link counts in the day's deflection funnel.
    cdrs: crate::cdr::CdrLog,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        // What the restore asked for (resubmissions) goes out before anything else.
        let mut drained = self.drain().await;
        let mut gauges = tokio::time::interval(Duration::from_secs(1));
        while drained.is_ok() {
            let wake = self
                .outbox
                .poll_timeout()
                .map(|at| Duration::from_millis(at.saturating_sub(now_ms())));
            let mut replies = Vec::new();
            tokio::select! {
                command = rx.recv() => {
                    let Some(command) = command else { return };
                    self.handle(command, &mut replies);
                }
                _ = sleep(wake) => self.outbox.handle_timeout(now_ms()),
                _ = gauges.tick() => crate::meters::sms_outbox(&self.outbox.by_state()),
            }
            drained = self.drain().await;
            // Answers go out only now, after the writes: "accepted" means "on disk".
            for reply in replies {
                reply.send(drained.as_ref().map_err(ToString::to_string));
            }
        }
        if let Err(e) = drained {
            error!(error = %e, "SMS store write failed: the outbox stops taking messages");
        }
    }

    fn handle(&mut self, command: Command, replies: &mut Vec<Reply>) {
        let now = now_ms();
        match command {
            Command::HoldCoupon(coupon) => {
                self.coupons
                    .retain(|_, c| now.saturating_sub(c.issued_ms) < COUPON_HOLD_MS);
                self.coupons.insert(coupon.serial.clone(), coupon);
            }
            Command::Enqueue(message, reply) => {
                let key = message.key.clone();
                let result = self.outbox.enqueue(now, message);
                crate::meters::sms_enqueued(&result);
                let result = result.map_err(|e| e.to_string());
                match &result {
                    Ok(Enqueued::New(id)) => info!(%key, %id, "sms enqueued"),
                    Ok(Enqueued::Existing(id)) => info!(%key, %id, "sms already enqueued"),
                    Err(e) => warn!(%key, error = %e, "sms refused"),
                }
                replies.push(Reply::Enqueue(reply, result));
            }
            Command::Submitted(id, result) => {
                crate::meters::sms_submitted(self.sms.provider.name(), &result);
                match &result {
                    SubmitResult::Accepted { .. } => info!(%id, "sms accepted by the provider"),
                    other => warn!(%id, result = ?other, "sms not accepted"),
                }
                self.outbox.handle_submit_result(now, id, result);
            }
            Command::Receipt(receipt, reply) => {
                info!(id = %receipt.id, status = ?receipt.status, "sms receipt");
                let purpose = self.outbox.message(receipt.id).map(|m| m.purpose.as_str());
                if crate::meters::sms_receipt(&receipt.status, purpose) {
                    self.cdrs.stage(now as i64, "sms_delivered");
                }
                let (id, raw) = (receipt.id, receipt.raw.clone());
                if let Err(e) = self.outbox.handle_receipt(now, receipt.id, receipt.status) {
                    warn!(%id, error = %e, "receipt for a message not in memory; stored raw");
                }
                let store = self.sms.store.clone();
                tokio::spawn(async move {
                    let stored = store
                        .call(move |s| s.save_receipt(Some(id), &raw, now))
                        .await
                        .map_err(|e| e.to_string());
                    if let Err(e) = &stored {
                        error!(error = %e, "receipt not stored");
                    }
                    let _ = reply.send(stored);
                });
            }
            Command::Counts(reply) => {
                let _ = reply.send(Ok(self.outbox.by_state().into_iter().collect()));
            }
            Command::Retry(id, reply) => {
                let retried = self.outbox.retry(now, id);
                info!(%id, retried, "sms retry asked for");
                replies.push(Reply::Retry(reply, retried));
            }
            Command::Inbound(message, reply) => {
                let keyword = self.outbox.handle_inbound(now, message);
                replies.push(Reply::Inbound(reply, keyword));
            }
            Command::Consent(c, reply) => {
                let source = format!("flow:{}", c.call_id);
                let number = match c.answer {
                    ConsentAnswer::OptOut | ConsentAnswer::OptIn => {
                        let out = c.answer == ConsentAnswer::OptOut;
                        self.outbox.opt_out(now, &c.number, out, &source)
                    }
                    ConsentAnswer::Granted
                    | ConsentAnswer::Declined
                    | ConsentAnswer::NoResponse => E164::parse(&c.number, self.home),
                };
                // Asked and not answered is on record too, told apart by its source.
                let source = match c.answer {
                    ConsentAnswer::NoResponse => "no_response",
                    _ => "dtmf",
                };
                let consent = number.map_err(|e| e.to_string()).map(|n| Consent {
                    number: n.to_string(),
                    purpose: c.purpose,
                    granted: matches!(c.answer, ConsentAnswer::Granted | ConsentAnswer::OptIn),
                    call_id: Some(c.call_id),
                    source: source.into(),
                    at_ms: now,
                });
                replies.push(Reply::Consent(reply, consent, self.sms.store.clone()));
            }
        }
    }

    /// Carries out the outbox's outputs in order, waiting for each store write.
    async fn drain(&mut self) -> anyhow::Result<()> {
        while let Some(output) = self.outbox.poll_output() {
            match output {
                Output::Persist(m) => {
                    let coupon = m.coupon.as_ref().and_then(|c| self.coupons.remove(c));
                    self.sms
                        .store
                        .call(move |s| s.save_message(&m, coupon.as_ref()))
                        .await?;
                }
                Output::Submit(sub) => {
                    let (provider, client, callback) = (
                        self.sms.provider.clone(),
                        self.client.clone(),
                        self.callback.clone(),
                    );
                    let commands = self.sms.commands.clone();
                    let id = sub.id;
                    info!(%id, to = %sub.to, attempt = sub.attempt, "sms submit");
                    tokio::spawn(async move {
                        let result = provider.submit(&client, sub, &callback).await;
                        let _ = commands.send(Command::Submitted(id, result));
                    });
                }
                Output::OptOut {
                    number,
                    opted_out,
                    source,
                    at_ms,
                } => {
                    info!(%number, opted_out, %source, "sms opt-out");
                    crate::meters::sms_opt_out(opted_out);
                    self.sms
                        .store
                        .call(move |s| s.save_opt_out(&number, opted_out, &source, at_ms))
                        .await?;
                }
                Output::Inbound {
                    message,
                    from,
                    keyword,
                    at_ms,
                } => {
                    let stored = StoredInbound {
                        sender: from.map_or(message.from.clone(), |f| f.to_string()),
                        recipient: message.to,
                        body: message.text,
                        media: message.media,
                        keyword: keyword.map(|k| format!("{k:?}")),
                        call_id: None,
                        at_ms,
                    };
                    let stored = self.sms.store.call(move |s| s.save_inbound(stored)).await?;
                    info!(from = %stored.sender, call_id = ?stored.call_id, "sms inbound stored");
                }
            }
        }
        Ok(())
    }
}

/// Wall clock in unix milliseconds, as the outbox counts time.
pub(crate) fn now_ms() -> u64 {
    clock::unix_ms().max(0) as u64
}

async fn sleep(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
