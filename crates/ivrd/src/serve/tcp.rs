//! SIP over TCP: one reader and one writer task per connection (not per message or call). The
//! reader cuts messages with `StreamFramer` and hands them to the SIP loop; a framing error
//! closes the connection.

use std::collections::HashMap;
use std::net::SocketAddr;

use sip_ua::StreamFramer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tracing::{info, warn};

pub(crate) enum TcpEvent {
    Opened {
        remote: SocketAddr,
        writer: UnboundedSender<Vec<u8>>,
    },
    Message {
        remote: SocketAddr,
        data: Vec<u8>,
    },
    Closed {
        remote: SocketAddr,
    },
}

/// Writers of open connections, by peer address.
pub(crate) struct TcpConnections {
    writers: HashMap<SocketAddr, UnboundedSender<Vec<u8>>>,
}

impl TcpConnections {
    pub(crate) async fn listen(
        addr: SocketAddr,
        events: UnboundedSender<TcpEvent>,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("SIP TCP {addr}: {e}"))?;
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, remote)) => {
                        let _ = stream.set_nodelay(true);
                        let (mut read, mut write) = stream.into_split();
                        let (tx, mut rx) = unbounded_channel::<Vec<u8>>();
                        if events
                            .send(TcpEvent::Opened { remote, writer: tx })
                            .is_err()
                        {
                            return;
                        }
                        tokio::spawn(async move {
                            while let Some(data) = rx.recv().await {
                                if write.write_all(&data).await.is_err() {
                                    break;
                                }
                            }
                        });
                        let events = events.clone();
                        tokio::spawn(async move {
                            let mut framer = StreamFramer::new();
                            let mut buf = vec![0u8; 16_384];
                            'read: loop {
                                let n = match read.read(&mut buf).await {
                                    Ok(0) | Err(_) => break,
                                    Ok(n) => n,
                                };
                                framer.handle_bytes(&buf[..n]);
                                loop {
                                    match framer.poll_message() {
                                        Ok(Some(data)) => {
                                            let _ = events.send(TcpEvent::Message { remote, data });
                                        }
                                        Ok(None) => break,
                                        Err(e) => {
                                            warn!(%remote, error = %e, "closing SIP TCP connection");
                                            break 'read;
                                        }
                                    }
                                }
                            }
                            let _ = events.send(TcpEvent::Closed { remote });
                        });
                    }
                    Err(e) => warn!(error = %e, "SIP TCP accept failed"),
                }
            }
        });
        Ok(Self {
            writers: HashMap::new(),
        })
    }

    pub(crate) fn handle_event(&mut self, event: TcpEvent) {
        match event {
            TcpEvent::Opened { remote, writer } => {
                info!(%remote, "SIP TCP connection opened");
                self.writers.insert(remote, writer);
            }
            TcpEvent::Closed { remote } => {
                info!(%remote, "SIP TCP connection closed");
                self.writers.remove(&remote);
            }
            TcpEvent::Message { .. } => {}
        }
    }

    pub(crate) fn send(&mut self, remote: SocketAddr, data: Vec<u8>) {
        match self.writers.get(&remote) {
            Some(w) if w.send(data).is_ok() => {}
            _ => warn!(%remote, "no open TCP connection to send on; message dropped"),
        }
    }
}
