//! The SMPP provider: one task owns the TCP connection to the SMSC and drives the sans-IO
//! session of `sms-gateway`. Submissions come in with a channel for their answer; receipts
//! and inbound messages go to the SMS subsystem and are acknowledged to the SMSC only once
//! stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sms_gateway::provider::Receipt;
use sms_gateway::smpp::{DeliverToken, Delivery, Output, Session, SmppConfig};
use sms_gateway::{MessageId, Submission, SubmitResult};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::config::{SmppSection, secret};
use super::{Sms, now_ms};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// An SMSC that stops reading must not stall the link task (and with it every timer).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

type Answer = oneshot::Sender<SubmitResult>;
type Submits = mpsc::UnboundedReceiver<(Submission, Answer)>;

/// The provider's handle: submissions go to the link task.
pub(crate) struct Link {
    submit: mpsc::UnboundedSender<(Submission, Answer)>,
    /// The task's half, until the SMS subsystem starts it.
    pending: Mutex<Option<(Task, Submits)>>,
}

struct Task {
    address: String,
    config: SmppConfig,
}

impl Link {
    pub(crate) fn from_config(c: &SmppSection) -> anyhow::Result<Arc<Self>> {
        let config = SmppConfig {
            system_id: c.system_id.clone(),
            password: secret(&c.password, c.password_env.as_ref())?,
            system_type: c.system_type.clone(),
            source: c.from.clone(),
            window: c.window,
            enquire_link_ms: c.enquire_link_s.max(1) * 1000,
            msg_id_type: c.msg_id_type,
            ..SmppConfig::default()
        };
        config
            .validate()
            .map_err(|e| anyhow::anyhow!("[sms.smpp]: {e}"))?;
        let (submit, rx) = mpsc::unbounded_channel();
        let task = Task {
            address: c.address.clone(),
            config,
        };
        Ok(Arc::new(Self {
            submit,
            pending: Mutex::new(Some((task, rx))),
        }))
    }

    /// Starts the link task (once).
    pub(crate) fn start(&self, sms: Sms) {
        let taken = match self.pending.lock() {
            Ok(mut p) => p.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some((task, rx)) = taken {
            tokio::spawn(task.run(rx, sms));
        }
    }

    pub(crate) async fn submit(&self, sub: Submission) -> SubmitResult {
        let (tx, rx) = oneshot::channel();
        if self.submit.send((sub, tx)).is_err() {
            return SubmitResult::Retryable {
                reason: "SMPP link task stopped".into(),
                ambiguous: false,
            };
        }
        rx.await.unwrap_or_else(|_| SubmitResult::Retryable {
            reason: "SMPP link task stopped".into(),
            ambiguous: true,
        })
    }
}

/// What the helper tasks report to the link task.
enum Event {
    Connected(TcpStream),
    ConnectFailed(String),
    Octets(u64, Vec<u8>),
    Closed(u64, String),
    Stored(DeliverToken, bool),
}

impl Task {
    async fn run(self, mut submits: Submits, sms: Sms) {
        let mut session = Session::new(self.config);
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let mut conn = Conn::default();
        let mut waiting: HashMap<MessageId, Answer> = HashMap::new();
        loop {
            while let Some(output) = session.poll_output() {
                match output {
                    Output::Connect => {
                        let (address, events) = (self.address.clone(), events_tx.clone());
                        tokio::spawn(async move {
                            let connect = TcpStream::connect(&address);
                            let event = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
                                Ok(Ok(stream)) => Event::Connected(stream),
                                Ok(Err(e)) => Event::ConnectFailed(format!("{address}: {e}")),
                                Err(_) => Event::ConnectFailed(format!("{address}: timed out")),
                            };
                            let _ = events.send(event);
                        });
                    }
                    Output::Transmit(octets) => {
                        let Some(w) = conn.writer.as_mut() else {
                            continue;
                        };
                        let written =
                            tokio::time::timeout(WRITE_TIMEOUT, w.write_all(&octets)).await;
                        let failure = match written {
                            Ok(Ok(())) => None,
                            Ok(Err(e)) => Some(e.to_string()),
                            Err(_) => Some("write timed out".to_string()),
                        };
                        if let Some(reason) = failure {
                            conn.close();
                            session.handle_disconnected(now_ms(), &reason);
                        }
                    }
                    Output::Close => conn.close(),
                    Output::Up { smsc } => info!(%smsc, "SMPP bound as transceiver"),
                    Output::Down { reason } => warn!(%reason, "SMPP link"),
                    Output::Submitted { id, result } => {
                        if let Some(answer) = waiting.remove(&id) {
                            let _ = answer.send(result);
                        }
                    }
                    Output::Delivered {
                        token,
                        delivery,
                        id,
                    } => {
                        let (sms, events) = (sms.clone(), events_tx.clone());
                        tokio::spawn(async move {
                            let stored = store_delivery(&sms, delivery, id).await;
                            let _ = events.send(Event::Stored(token, stored));
                        });
                    }
                }
            }
            let wake = session
                .poll_timeout()
                .map(|at| Duration::from_millis(at.saturating_sub(now_ms())));
            tokio::select! {
                submit = submits.recv() => {
                    let Some((sub, answer)) = submit else { return };
                    waiting.insert(sub.id, answer);
                    session.submit(now_ms(), &sub);
                }
                Some(event) = events.recv() => match event {
                    Event::Connected(stream) => {
                        conn.open(stream, events_tx.clone());
                        session.handle_connected(now_ms());
                    }
                    Event::ConnectFailed(reason) => session.handle_connect_failed(now_ms(), &reason),
                    Event::Octets(g, octets) if g == conn.generation => session.handle_input(now_ms(), &octets),
                    Event::Closed(g, reason) if g == conn.generation => {
                        conn.close();
                        session.handle_disconnected(now_ms(), &reason);
                    }
                    Event::Octets(..) | Event::Closed(..) => {}
                    Event::Stored(token, stored) => session.handle_delivered(token, stored),
                },
                _ = super::sleep(wake) => session.handle_timeout(now_ms()),
            }
        }
    }
}

/// The TCP connection: its write half here, its read half in a task that reports octets
/// tagged with the connection's generation (so a late read of a closed one is ignored).
#[derive(Default)]
struct Conn {
    writer: Option<OwnedWriteHalf>,
    reader: Option<tokio::task::JoinHandle<()>>,
    generation: u64,
}

impl Conn {
    fn open(&mut self, stream: TcpStream, events: mpsc::UnboundedSender<Event>) {
        self.close();
        let _ = stream.set_nodelay(true);
        let (mut reader, writer) = stream.into_split();
        self.writer = Some(writer);
        let this = self.generation;
        self.reader = Some(tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            let reason = loop {
                match reader.read(&mut buf).await {
                    Ok(0) => break "closed by the SMSC".to_string(),
                    Ok(n) => {
                        if events.send(Event::Octets(this, buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                    Err(e) => break e.to_string(),
                }
            };
            let _ = events.send(Event::Closed(this, reason));
        }));
    }

    /// Drops both halves, which closes the socket.
    fn close(&mut self) {
        self.writer = None;
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
        self.generation += 1;
    }
}

/// Hands a receipt or inbound message to the SMS subsystem; true once it is stored.
async fn store_delivery(sms: &Sms, delivery: Delivery, id: Option<MessageId>) -> bool {
    match delivery {
        Delivery::Receipt {
            smsc_id,
            status,
            raw,
            ..
        } => {
            let id = match id {
                Some(id) => Some(id),
                None => {
                    let key = smsc_id.clone();
                    match sms
                        .store
                        .call(move |s| s.message_by_provider_id(&key))
                        .await
                    {
                        Ok(id) => id,
                        Err(e) => {
                            warn!(error = %e, "SMPP receipt lookup failed");
                            return false;
                        }
                    }
                }
            };
            match id {
                Some(id) => sms.receipt(Receipt { id, status, raw }).await.is_ok(),
                None => {
                    warn!(%smsc_id, "SMPP receipt for no message of ours; stored raw");
                    let at = now_ms();
                    sms.store
                        .call(move |s| s.save_receipt(None, &raw, at))
                        .await
                        .is_ok()
                }
            }
        }
        Delivery::Inbound(message) => sms.inbound(message).await.is_ok(),
    }
}
