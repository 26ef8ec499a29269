//! An SMPP 3.4 ESME bound as transceiver, sans-IO: the driver opens and closes the TCP
//! connection when told, feeds received octets and `now`, writes what [`Output::Transmit`]
//! gives, and calls [`Session::handle_timeout`] at [`Session::poll_timeout`].
//!
//! The session binds, keeps a window of outstanding `submit_sm`, sends `enquire_link` when
//! the link has been quiet, closes a link that stops answering and reconnects with a backoff.
//! A message waits through a short outage; one that could not be sent within
//! `hold_ms`, or whose answer was lost with the link, is reported to the outbox as retryable
//! (ambiguous when the SMSC may have taken it), and the outbox decides what happens next.
//! Deliveries (receipts and inbound messages) are acknowledged only when the driver says
//! they are stored ([`Session::handle_delivered`]), so the SMSC redelivers anything we lost.

use std::collections::{HashMap, VecDeque};

use super::config::SmppConfig;
use super::deliver::{self, Delivery};
use super::pdu::{self, Address, Body, Decoded, Pdu, ShortMessage, status};
use super::submit;
use crate::MessageId;
use crate::outbox::{Submission, SubmitResult};

/// Names one deliver_sm until the driver says it is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliverToken {
    link: u64,
    seq: u32,
}

/// What the driver must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Open a TCP connection; report with `handle_connected` or `handle_connect_failed`.
    Connect,
    /// Write these octets.
    Transmit(Vec<u8>),
    /// Close the connection (no `handle_disconnected` needed).
    Close,
    /// Bound.
    Up {
        /// The SMSC's system_id.
        smsc: String,
    },
    /// The link is down; the next attempt comes by itself.
    Down {
        /// Why.
        reason: String,
    },
    /// The SMSC's answer to a submission (for the outbox). An accepted message's
    /// `provider_id` holds the SMSC ids of its parts, space-separated, in the form receipts
    /// are matched by.
    Submitted {
        /// Our message.
        id: MessageId,
        /// The answer.
        result: SubmitResult,
    },
    /// A receipt or inbound message: store it, then call `handle_delivered`.
    Delivered {
        /// For `handle_delivered`.
        token: DeliverToken,
        /// What came.
        delivery: Delivery,
        /// For a receipt: our message, when this session submitted it within the hour
        /// (otherwise look the receipt's `smsc_id` up among the stored `provider_id`s).
        id: Option<MessageId>,
    },
}

#[derive(Debug)]
enum Link {
    /// No connection; try again at `retry_at`.
    Down { retry_at: u64 },
    /// Waiting for the driver's connect.
    Connecting,
    /// bind_transceiver sent.
    Binding { seq: u32, deadline: u64 },
    /// Bound; `enquire` is an outstanding enquire_link.
    Bound {
        last_rx: u64,
        enquire: Option<(u32, u64)>,
    },
}

/// A submission cut into its submit_sm bodies.
#[derive(Debug)]
struct Pending {
    id: MessageId,
    parts: Vec<ShortMessage>,
    queued_at: u64,
}

/// Answers so far of one message's parts.
#[derive(Debug)]
struct Answers {
    ids: Vec<Option<String>>,
    waiting: usize,
    failure: Option<SubmitResult>,
}

/// Receipts are matched to messages submitted within this long.
const RECENT_MS: u64 = 3_600_000;

/// The session.
#[derive(Debug)]
pub struct Session {
    config: SmppConfig,
    source: Address,
    link: Link,
    /// Counts connections, so a late acknowledgement cannot reach a newer link.
    generation: u64,
    failures: u32,
    next_seq: u32,
    rx: Vec<u8>,
    queue: VecDeque<Pending>,
    /// seq → (message, part, deadline).
    outstanding: HashMap<u32, (MessageId, usize, u64)>,
    answers: HashMap<MessageId, Answers>,
    /// SMSC id → (our id, when), for receipts.
    recent: HashMap<String, (MessageId, u64)>,
    out: VecDeque<Output>,
}

impl Session {
    /// A session that connects at once.
    pub fn new(config: SmppConfig) -> Self {
        let digits = config.source.trim_start_matches('+');
        let source = if digits.bytes().all(|b| b.is_ascii_digit()) {
            Address {
                ton: 1,
                npi: 1,
                addr: digits.to_string(),
            }
        } else {
            Address {
                ton: 5,
                npi: 0,
                addr: config.source.clone(),
            }
        };
        Self {
            config,
            source,
            link: Link::Connecting,
            generation: 0,
            failures: 0,
            next_seq: 0,
            rx: Vec::new(),
            queue: VecDeque::new(),
            outstanding: HashMap::new(),
            answers: HashMap::new(),
            recent: HashMap::new(),
            out: VecDeque::from([Output::Connect]),
        }
    }

    /// Whether the link is bound.
    pub fn is_bound(&self) -> bool {
        matches!(self.link, Link::Bound { .. })
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Queues a submission; its answer comes as [`Output::Submitted`].
    pub fn submit(&mut self, now: u64, sub: &Submission) {
        let parts = submit::parts(&self.source, sub);
        self.queue.push_back(Pending {
            id: sub.id,
            parts,
            queued_at: now,
        });
        self.pump(now);
    }

    /// The driver connected.
    pub fn handle_connected(&mut self, now: u64) {
        if !matches!(self.link, Link::Connecting) {
            return;
        }
        self.generation += 1;
        self.rx.clear();
        let seq = self.send(Body::BindTransceiver {
            system_id: self.config.system_id.clone(),
            password: self.config.password.clone(),
            system_type: self.config.system_type.clone(),
        });
        self.link = Link::Binding {
            seq,
            deadline: now + self.config.response_timeout_ms,
        };
    }

    /// The driver could not connect.
    pub fn handle_connect_failed(&mut self, now: u64, reason: &str) {
        if matches!(self.link, Link::Connecting) {
            self.down(now, format!("connect failed: {reason}"), false);
        }
    }

    /// The peer closed the connection or it broke.
    pub fn handle_disconnected(&mut self, now: u64, reason: &str) {
        if !matches!(self.link, Link::Down { .. } | Link::Connecting) {
            self.down(now, format!("connection lost: {reason}"), false);
        }
    }

    /// Octets from the connection.
    pub fn handle_input(&mut self, now: u64, octets: &[u8]) {
        if matches!(self.link, Link::Down { .. } | Link::Connecting) {
            return;
        }
        self.rx.extend_from_slice(octets);
        loop {
            match pdu::decode(&self.rx) {
                Ok(None) => break,
                Ok(Some((decoded, used))) => {
                    self.rx.drain(..used);
                    if let Link::Bound { last_rx, .. } = &mut self.link {
                        *last_rx = now;
                    }
                    self.handle_pdu(now, decoded);
                    if matches!(self.link, Link::Down { .. }) {
                        break;
                    }
                }
                Err(e) => {
                    self.down(now, e.to_string(), true);
                    break;
                }
            }
        }
    }

    /// The driver stored (or could not store) a delivery.
    pub fn handle_delivered(&mut self, token: DeliverToken, stored: bool) {
        let live = matches!(self.link, Link::Bound { .. } | Link::Binding { .. });
        if live && token.link == self.generation {
            // 0x64 ESME_RX_T_APPN: a temporary error, the SMSC tries again later.
            let status = if stored { status::OK } else { 0x64 };
            self.respond(token.seq, status, Body::DeliverSmResp);
        }
    }

    fn handle_pdu(&mut self, now: u64, decoded: Decoded) {
        let pdu = match decoded {
            Decoded::Pdu(pdu) => pdu,
            Decoded::Bad {
                command_id,
                seq,
                reason,
            } => {
                if command_id & pdu::id::RESP == 0 {
                    self.respond(seq, status::INVCMDLEN, Body::GenericNack);
                } else if let Some((id, part, _)) = self.outstanding.remove(&seq) {
                    let result = SubmitResult::Retryable {
                        reason: format!("unreadable submit_sm_resp: {reason}"),
                        ambiguous: true,
                    };
                    self.answer(now, id, part, Err(result));
                }
                return;
            }
        };
        match (pdu.body, &self.link) {
            (Body::BindTransceiverResp { system_id }, Link::Binding { seq, .. })
                if pdu.seq == *seq =>
            {
                if pdu.status == status::OK {
                    self.failures = 0;
                    self.link = Link::Bound {
                        last_rx: now,
                        enquire: None,
                    };
                    self.out.push_back(Output::Up { smsc: system_id });
                    self.pump(now);
                } else {
                    let reason = format!("bind refused with status {:#x}", pdu.status);
                    self.down(now, reason, true);
                }
            }
            (Body::SubmitSmResp { message_id }, _) => {
                let Some((id, part, _)) = self.outstanding.remove(&pdu.seq) else {
                    return;
                };
                let answer = match pdu.status {
                    status::OK => Ok(message_id),
                    s => Err(submit::classify(s)),
                };
                self.answer(now, id, part, answer);
                self.pump(now);
            }
            (Body::GenericNack, _) => {
                if let Some((id, part, _)) = self.outstanding.remove(&pdu.seq) {
                    let result = SubmitResult::Retryable {
                        reason: format!("generic_nack {:#x}", pdu.status),
                        ambiguous: false,
                    };
                    self.answer(now, id, part, Err(result));
                }
            }
            (Body::EnquireLinkResp, Link::Bound { enquire, last_rx })
                if enquire.is_some_and(|(seq, _)| seq == pdu.seq) =>
            {
                let last_rx = *last_rx;
                self.link = Link::Bound {
                    last_rx,
                    enquire: None,
                };
            }
            (Body::EnquireLink, _) => self.respond(pdu.seq, status::OK, Body::EnquireLinkResp),
            (Body::Unbind, _) => {
                self.respond(pdu.seq, status::OK, Body::UnbindResp);
                self.down(now, "the SMSC unbound".into(), true);
            }
            (Body::DeliverSm(sm), Link::Bound { .. }) => match deliver::read(&sm) {
                Ok(mut delivery) => {
                    let id = match &mut delivery {
                        Delivery::Receipt {
                            smsc_id,
                            id_from_tlv,
                            ..
                        } => {
                            *smsc_id = match id_from_tlv {
                                true => self.config.resp_key(smsc_id),
                                false => self.config.receipt_key(smsc_id),
                            };
                            self.recent.get(smsc_id.as_str()).map(|(id, _)| *id)
                        }
                        Delivery::Inbound(_) => None,
                    };
                    let token = DeliverToken {
                        link: self.generation,
                        seq: pdu.seq,
                    };
                    self.out.push_back(Output::Delivered {
                        token,
                        delivery,
                        id,
                    });
                }
                Err(reason) => {
                    // Acknowledged, or the SMSC would send it for ever; the reason is logged.
                    self.respond(pdu.seq, status::OK, Body::DeliverSmResp);
                    self.out.push_back(Output::Down {
                        reason: format!("deliver_sm ignored: {reason}"),
                    });
                }
            },
            (Body::DeliverSm(_), _) => {
                self.respond(pdu.seq, status::INVBNDSTS, Body::DeliverSmResp)
            }
            (Body::Other { command_id }, _) if command_id & pdu::id::RESP == 0 => {
                self.respond(pdu.seq, status::INVCMDID, Body::GenericNack)
            }
            // Stray responses and requests an SMSC does not send to an ESME are dropped.
            _ => {}
        }
    }

    /// Records one part's answer; reports the message when every part has answered.
    fn answer(
        &mut self,
        now: u64,
        id: MessageId,
        part: usize,
        answer: Result<String, SubmitResult>,
    ) {
        let Some(a) = self.answers.get_mut(&id) else {
            return;
        };
        a.waiting -= 1;
        match answer {
            Ok(smsc_id) => a.ids[part] = Some(smsc_id),
            Err(result) => {
                // A permanent refusal outweighs a retryable one.
                if !matches!(a.failure, Some(SubmitResult::Permanent { .. })) {
                    a.failure = Some(result);
                }
            }
        }
        if a.waiting > 0 {
            return;
        }
        let Some(a) = self.answers.remove(&id) else {
            return;
        };
        let taken: Vec<String> = a
            .ids
            .into_iter()
            .flatten()
            .map(|smsc_id| self.config.resp_key(&smsc_id))
            .collect();
        for smsc_id in &taken {
            self.recent.insert(smsc_id.clone(), (id, now));
        }
        let result = match a.failure {
            None => SubmitResult::Accepted {
                provider_id: Some(taken.join(" ")),
            },
            Some(SubmitResult::Retryable { reason, ambiguous }) => SubmitResult::Retryable {
                // Resending would repeat the parts the SMSC took.
                ambiguous: ambiguous || !taken.is_empty(),
                reason,
            },
            Some(other) => other,
        };
        self.out.push_back(Output::Submitted { id, result });
    }

    /// Sends queued messages while the window has room.
    fn pump(&mut self, now: u64) {
        if !self.is_bound() {
            return;
        }
        while self.outstanding.len() < self.config.window {
            let Some(p) = self.queue.pop_front() else {
                return;
            };
            self.answers.insert(
                p.id,
                Answers {
                    ids: vec![None; p.parts.len()],
                    waiting: p.parts.len(),
                    failure: None,
                },
            );
            for (i, sm) in p.parts.into_iter().enumerate() {
                let seq = self.send(Body::SubmitSm(sm));
                let deadline = now + self.config.response_timeout_ms;
                self.outstanding.insert(seq, (p.id, i, deadline));
            }
        }
    }

    /// Acts on the deadlines that have passed.
    pub fn handle_timeout(&mut self, now: u64) {
        self.recent.retain(|_, (_, at)| now < *at + RECENT_MS);
        while self
            .queue
            .front()
            .is_some_and(|p| now >= p.queued_at + self.config.hold_ms)
        {
            if let Some(p) = self.queue.pop_front() {
                let result = SubmitResult::Retryable {
                    reason: "no bound SMPP link".into(),
                    ambiguous: false,
                };
                self.out.push_back(Output::Submitted { id: p.id, result });
            }
        }
        match self.link {
            Link::Down { retry_at } if now >= retry_at => {
                self.link = Link::Connecting;
                self.out.push_back(Output::Connect);
            }
            Link::Binding { deadline, .. } if now >= deadline => {
                self.down(now, "no bind_transceiver_resp".into(), true);
            }
            Link::Bound {
                enquire: Some((_, deadline)),
                ..
            } if now >= deadline => {
                self.down(now, "no enquire_link_resp".into(), true);
            }
            Link::Bound {
                last_rx,
                enquire: None,
            } if now >= last_rx + self.config.enquire_link_ms => {
                let seq = self.send(Body::EnquireLink);
                self.link = Link::Bound {
                    last_rx,
                    enquire: Some((seq, now + self.config.response_timeout_ms)),
                };
            }
            _ => {}
        }
        if self.outstanding.values().any(|(_, _, d)| now >= *d) {
            self.down(now, "no submit_sm_resp in time".into(), true);
        }
    }

    /// When to call [`Self::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<u64> {
        let link = match self.link {
            Link::Down { retry_at } => Some(retry_at),
            Link::Connecting => None,
            Link::Binding { deadline, .. } => Some(deadline),
            Link::Bound {
                enquire: Some((_, deadline)),
                ..
            } => Some(deadline),
            Link::Bound { last_rx, .. } => Some(last_rx + self.config.enquire_link_ms),
        };
        let hold = self
            .queue
            .front()
            .map(|p| p.queued_at + self.config.hold_ms);
        let answer = self.outstanding.values().map(|(_, _, d)| *d).min();
        [link, hold, answer].into_iter().flatten().min()
    }

    /// Drops the link: what was waiting for an answer is reported, the rest waits for the
    /// next bind.
    fn down(&mut self, now: u64, reason: String, close: bool) {
        if close {
            self.out.push_back(Output::Close);
        }
        for (_, (id, part, _)) in std::mem::take(&mut self.outstanding) {
            let result = SubmitResult::Retryable {
                reason: format!("{reason} before submit_sm_resp"),
                ambiguous: true,
            };
            self.answer(now, id, part, Err(result));
        }
        self.failures += 1;
        let shift = self.failures.saturating_sub(1).min(16);
        let wait = (self.config.reconnect_min_ms << shift).min(self.config.reconnect_max_ms);
        self.link = Link::Down {
            retry_at: now + wait,
        };
        self.out.push_back(Output::Down { reason });
    }

    fn send(&mut self, body: Body) -> u32 {
        // Sequence numbers run 1..=0x7FFFFFFF (SMPP 3.4 §5.1.4).
        self.next_seq = self.next_seq % 0x7FFF_FFFF + 1;
        let pdu = Pdu {
            status: status::OK,
            seq: self.next_seq,
            body,
        };
        self.out.push_back(Output::Transmit(pdu.encode()));
        self.next_seq
    }

    fn respond(&mut self, seq: u32, status: u32, body: Body) {
        let pdu = Pdu { status, seq, body };
        self.out.push_back(Output::Transmit(pdu.encode()));
    }
}
