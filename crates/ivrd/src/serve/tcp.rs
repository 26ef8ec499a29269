//! SIP over TCP and TLS: one reader and one writer task per connection (not per message or
//! call). The reader cuts messages with `StreamFramer` and hands them to the SIP loop. A TLS
//! listener (rustls, `[sip.tls]`) is the same with a handshake first, which must end within the
//! message timeout; requests back to a peer go over its open connection.
//!
//! Limits ([`TcpLimits`], from `[sip.tcp]`): connections per source address and in all (a
//! connection over either is closed at once); a message timeout (a message begun must be
//! complete within `message`, against slow-header attacks; a new connection must bring its
//! first message as fast); an idle timeout once SIP has flowed (no byte for `idle`: long, as a
//! call's dialog may be silent for minutes). A message over the framer's size limit is answered
//! 513 by the endpoint, and its body skipped; a framing error closes the connection (after what
//! was already queued to it has been written).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sip_ua::{Framed, LogLimiter, StreamFramer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tracing::{info, warn};

use crate::clock;

pub(crate) enum TcpEvent {
    Opened {
        remote: SocketAddr,
        writer: UnboundedSender<Vec<u8>>,
    },
    Message {
        remote: SocketAddr,
        data: Vec<u8>,
    },
    /// A message over the size limit: the start of its header section, for a 513.
    Oversized {
        remote: SocketAddr,
        head: Vec<u8>,
    },
    Closed {
        remote: SocketAddr,
    },
}

/// `[sip.tcp]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TcpLimits {
    pub(crate) idle: Duration,
    pub(crate) message: Duration,
    pub(crate) per_source: usize,
    pub(crate) max_connections: usize,
}

/// Open connections by source address, shared by the accept loop and the readers (which give
/// their slot back when they end).
#[derive(Default)]
struct Counts {
    by_source: HashMap<IpAddr, usize>,
    total: usize,
}

/// Writers of open connections, by peer address.
pub(crate) struct TcpConnections {
    writers: HashMap<SocketAddr, UnboundedSender<Vec<u8>>>,
    /// "TCP" or "TLS", for the logs.
    name: &'static str,
    /// Where it listens (the port bound, when the config said 0).
    pub(crate) local: SocketAddr,
}

impl TcpConnections {
    /// Listens on `addr`; with `tls`, every connection is TLS.
    pub(crate) async fn listen(
        addr: SocketAddr,
        limits: TcpLimits,
        events: UnboundedSender<TcpEvent>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> anyhow::Result<Self> {
        let name = if tls.is_some() { "TLS" } else { "TCP" };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("SIP {name} {addr}: {e}"))?;
        let local = listener.local_addr()?;
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        // Failed handshakes (scanners, plain TCP on the TLS port) logged once per 10 s.
        let handshakes = Arc::new(Mutex::new(LogLimiter::default()));
        let counts = Arc::new(Mutex::new(Counts::default()));
        tokio::spawn(async move {
            let mut log = LogLimiter::default();
            loop {
                let (stream, remote) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        if let Some(skipped) = log.hit(clock::now(), "accept failed") {
                            warn!(error = %e, skipped, transport = name, "SIP accept failed");
                        }
                        continue;
                    }
                };
                if !take_slot(&counts, remote.ip(), limits) {
                    if let Some(skipped) = log.hit(clock::now(), "connection limit") {
                        warn!(%remote, skipped, transport = name, "SIP connection refused: over the connection limit");
                    }
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let (events, counts, acceptor) = (events.clone(), counts.clone(), acceptor.clone());
                let handshakes = handshakes.clone();
                tokio::spawn(async move {
                    let (tx, rx) = unbounded_channel::<Vec<u8>>();
                    match acceptor {
                        None => {
                            let _ = events.send(TcpEvent::Opened { remote, writer: tx });
                            serve_connection(stream, remote, limits, rx, &events).await;
                        }
                        Some(acceptor) => {
                            let handshake = acceptor.accept(stream);
                            match tokio::time::timeout(limits.message, handshake).await {
                                Ok(Ok(tls)) => {
                                    let _ = events.send(TcpEvent::Opened { remote, writer: tx });
                                    serve_connection(tls, remote, limits, rx, &events).await;
                                }
                                failed => {
                                    let why = match failed {
                                        Ok(Err(e)) => e.to_string(),
                                        _ => "not done in time".to_string(),
                                    };
                                    let skipped = handshakes
                                        .lock()
                                        .ok()
                                        .and_then(|mut l| l.hit(clock::now(), "handshake"));
                                    if let Some(skipped) = skipped {
                                        info!(%remote, error = %why, skipped, "TLS handshake failed");
                                    }
                                }
                            }
                        }
                    }
                    give_slot(&counts, remote.ip());
                    let _ = events.send(TcpEvent::Closed { remote });
                });
            }
        });
        Ok(Self {
            writers: HashMap::new(),
            name,
            local,
        })
    }

    pub(crate) fn handle_event(&mut self, event: TcpEvent) {
        match event {
            TcpEvent::Opened { remote, writer } => {
                info!(%remote, transport = self.name, "SIP connection opened");
                self.writers.insert(remote, writer);
            }
            TcpEvent::Closed { remote } => {
                if self.writers.remove(&remote).is_some() {
                    info!(%remote, transport = self.name, "SIP connection closed");
                }
            }
            TcpEvent::Message { .. } | TcpEvent::Oversized { .. } => {}
        }
    }

    pub(crate) fn send(&mut self, remote: SocketAddr, data: Vec<u8>) {
        match self.writers.get(&remote) {
            Some(w) if w.send(data).is_ok() => {}
            _ => {
                warn!(%remote, transport = self.name, "no open connection to send on; message dropped")
            }
        }
    }
}

fn take_slot(counts: &Mutex<Counts>, ip: IpAddr, limits: TcpLimits) -> bool {
    let Ok(mut c) = counts.lock() else {
        return false;
    };
    let mine = c.by_source.get(&ip).copied().unwrap_or(0);
    if c.total >= limits.max_connections || mine >= limits.per_source {
        return false;
    }
    c.total += 1;
    c.by_source.insert(ip, mine + 1);
    true
}

fn give_slot(counts: &Mutex<Counts>, ip: IpAddr) {
    let Ok(mut c) = counts.lock() else {
        return;
    };
    c.total = c.total.saturating_sub(1);
    if let Some(n) = c.by_source.get_mut(&ip) {
        *n -= 1;
        if *n == 0 {
            c.by_source.remove(&ip);
        }
    }
}

/// Reads and writes one connection until it closes, breaks or times out.
async fn serve_connection<S: AsyncRead + AsyncWrite + Send + 'static>(
    stream: S,
    remote: SocketAddr,
    limits: TcpLimits,
    mut outgoing: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    events: &UnboundedSender<TcpEvent>,
) {
    let (mut read, mut write) = tokio::io::split(stream);
    // The writer ends when the SIP loop drops its sender (on `Closed`), so that a reply queued
    // before the reader stopped, such as a 513, still goes out.
    tokio::spawn(async move {
        while let Some(data) = outgoing.recv().await {
            if write.write_all(&data).await.is_err() || write.flush().await.is_err() {
                break;
            }
        }
    });
    let mut framer = StreamFramer::new();
    let mut buf = vec![0u8; 16_384];
    // When the message now being read must be complete; a new connection's first message too.
    let mut message_deadline = Some(clock::now() + limits.message);
    'read: loop {
        let deadline = message_deadline.unwrap_or_else(|| clock::now() + limits.idle);
        let n = match tokio::time::timeout_at(deadline.into(), read.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => n,
            Err(_) => {
                let why = match message_deadline {
                    Some(_) => "message not complete in time",
                    None => "idle",
                };
                info!(%remote, why, "closing SIP stream connection");
                break;
            }
        };
        framer.handle_bytes(&buf[..n]);
        loop {
            let event = match framer.poll_message() {
                Ok(Some(Framed::Message(data))) => TcpEvent::Message { remote, data },
                Ok(Some(Framed::Oversized(head))) => TcpEvent::Oversized { remote, head },
                Ok(None) => break,
                Err(e) => {
                    warn!(%remote, error = %e, "closing SIP stream connection");
                    break 'read;
                }
            };
            // A whole message: the next one's clock starts when its first byte is here.
            message_deadline = None;
            let _ = events.send(event);
        }
        message_deadline = match framer.is_mid_message() {
            true => message_deadline.or_else(|| Some(clock::now() + limits.message)),
            false => None,
        };
    }
}
