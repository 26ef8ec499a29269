//! The core's outputs carried out: SIP commands into the endpoint, media orders to the
//! workers (with an RTP port bound for each leg that starts media), and effects (HTTP, data
//! lookups, coupons, the SMS outbox, consent) whose results go back into the core.

use call_control::{Effect, Input as CoreInput, MediaOrder, Output as CoreOutput};
use flow_engine::{HttpMethod, HttpOutcome, Input as FlowInput, Playable};
use media::PlayItem;
use sip_ua::CallId;
use sms_gateway::NewMessage;
use tracing::{info, warn};

use super::Daemon;
use super::media_worker::MediaCommand;
use crate::clock;

/// Largest HTTP response body a flow reads.
const MAX_HTTP_BODY: usize = 1 << 20;

impl Daemon {
    /// Carries out one output of the core.
    pub(super) fn carry_out(&mut self, output: CoreOutput) {
        let now = clock::now();
        match output {
            CoreOutput::Sip(call, command) => {
                if let Err(e) = self.sip.handle_command(now, call, command) {
                    tracing::debug!(%call, error = %e, "SIP command refused");
                    self.core.handle_input(now, CoreInput::CommandFailed(call));
                }
            }
            CoreOutput::Media { home, order } => self.media_order(home, order),
            CoreOutput::Place {
                attempt,
                home,
                target,
                trunk,
                caller_id,
                media,
                session,
            } => {
                let place = super::legs::Place {
                    home,
                    target: &target,
                    trunk: trunk.as_deref(),
                    caller_id: &caller_id,
                    media,
                    session,
                };
                let leg = self.place(now, place);
                self.core
                    .handle_input(now, CoreInput::Placed { attempt, leg });
            }
            CoreOutput::Effect(call, effect) => self.effect(call, effect),
            CoreOutput::Pushed { id, result } => self.pushed(&id, result),
            CoreOutput::PushEnded(outcome) => self.push_ended(outcome),
            CoreOutput::QueueEvent(e) => {
                info!(queue = %e.queue, call_id = %e.call_id, event = ?e.kind, "queue event");
                crate::meters::queue_event(&e);
                self.tickets.event(e, clock::unix_ms());
            }
            CoreOutput::Ticket(change) => self.ticket(change),
            CoreOutput::Register(id, answer) => {
                self.sip.answer_register(clock::now(), id, &answer);
            }
            CoreOutput::Record(record) => self.call_record(record),
            other => warn!(output = ?other, "call-control output not handled"),
        }
    }

    fn media_order(&mut self, home: CallId, order: MediaOrder) {
        let command = match order {
            MediaOrder::Start { leg, config } => {
                let port = self.start_media(home, leg, config);
                self.core
                    .handle_input(clock::now(), CoreInput::MediaStarted { leg, port });
                return;
            }
            MediaOrder::Play {
                leg,
                language,
                items,
                barge_in,
                tag,
            } => {
                crate::meters::prompt_play();
                MediaCommand::Play {
                    call: leg,
                    items: self.playlist(leg, &language, &items),
                    barge_in,
                    tag,
                }
            }
            MediaOrder::Stop(call) => MediaCommand::Stop { call },
            MediaOrder::InfoDigit(call, key) => MediaCommand::InfoDigit { call, key },
            MediaOrder::Update(call, negotiated) => MediaCommand::Update { call, negotiated },
            MediaOrder::Bridge(a, b) => MediaCommand::Bridge { a, b },
            MediaOrder::Unbridge(a, b) => MediaCommand::Unbridge { a, b },
            MediaOrder::End(call) => {
                self.media_quality.insert(call, None);
                if let Some(port) = self.leg_ports.remove(&call) {
                    self.ports.release(port);
                }
                MediaCommand::End { call }
            }
            other => {
                warn!(order = ?other, "media order not handled");
                return;
            }
        };
        self.media.send_home(home, command);
    }

    /// Binds an RTP port for `leg` and starts its media on `home`'s worker.
    fn start_media(
        &mut self,
        home: CallId,
        leg: CallId,
        config: media::CallMediaConfig,
    ) -> Option<u16> {
        let (port, sockets) = self.ports.allocate()?;
        self.leg_ports.insert(leg, port);
        let sip_call_id = self.sip.sip_call_id(leg).unwrap_or_default().to_string();
        self.media.send_home(
            home,
            MediaCommand::Start {
                call: leg,
                sip_call_id,
                sockets,
                config,
            },
        );
        Some(port)
    }

    fn effect(&mut self, call: CallId, effect: Effect) {
        let call_id = self.sip.sip_call_id(call).unwrap_or_default().to_string();
        let replies = self.replies.clone();
        match effect {
            Effect::Lookup { id, source, key } => {
                let record = self.data.lookup(&source, &key);
                info!(%call_id, %source, %key, found = record.is_some(), "lookup");
                let input = FlowInput::LookupResult { id, record };
                self.core
                    .handle_input(clock::now(), CoreInput::Effect(call, input));
            }
            Effect::Http {
                id,
                method,
                url,
                body,
                timeout,
            } => {
                let client = self.http.clone();
                tokio::spawn(async move {
                    let request = match method {
                        HttpMethod::Post => client
                            .post(&url)
                            .header("content-type", "application/json")
                            .body(body.unwrap_or_default()),
                        _ => client.get(&url),
                    };
                    let outcome = match request.timeout(timeout).send().await {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            match response.bytes().await {
                                Ok(b) if b.len() <= MAX_HTTP_BODY => HttpOutcome::Response {
                                    status,
                                    body: String::from_utf8_lossy(&b).into_owned(),
                                },
                                Ok(_) => HttpOutcome::Failed("response body over 1 MiB".into()),
                                Err(e) if e.is_timeout() => HttpOutcome::TimedOut,
                                Err(e) => HttpOutcome::Failed(e.to_string()),
                            }
                        }
                        Err(e) if e.is_timeout() => HttpOutcome::TimedOut,
                        Err(e) => HttpOutcome::Failed(e.to_string()),
                    };
                    let _ = replies.send((call, FlowInput::HttpResult { id, outcome }));
                });
            }
            Effect::IssueCoupon {
                id,
                campaign,
                valid_days,
            } => {
                let sms = self.sms.clone();
                tokio::spawn(async move {
                    let serial = match sms
                        .issue_coupon(call_id.clone(), campaign.clone(), valid_days)
                        .await
                    {
                        Ok(serial) => {
                            info!(%call_id, %campaign, valid_days, %serial, "coupon issued");
                            Some(serial)
                        }
                        Err(e) => {
                            warn!(%call_id, %campaign, error = %e, "coupon not issued");
                            None
                        }
                    };
                    let _ = replies.send((call, FlowInput::CouponIssued { id, serial }));
                });
            }
            Effect::SendSms(request) => {
                let sms = self.sms.clone();
                let message = NewMessage {
                    key: request.idempotency_key.clone(),
                    to: request.to.clone(),
                    text: request.text.clone(),
                    call_id: Some(call_id.clone()),
                    purpose: request.purpose.clone(),
                    coupon: request.coupon.clone(),
                };
                tokio::spawn(async move {
                    let outcome = sms
                        .enqueue(message)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string());
                    match &outcome {
                        Ok(()) => {
                            info!(%call_id, to = %request.to, purpose = %request.purpose, key = %request.idempotency_key, "sms queued")
                        }
                        Err(e) => {
                            warn!(%call_id, to = %request.to, purpose = %request.purpose, error = %e, "sms refused")
                        }
                    }
                    let input = FlowInput::SmsResult {
                        id: request.id,
                        outcome,
                    };
                    let _ = replies.send((call, input));
                });
            }
            Effect::RecordConsent {
                id,
                number,
                purpose,
                answer,
            } => {
                let sms = self.sms.clone();
                let request = crate::sms::ConsentRequest {
                    call_id: call_id.clone(),
                    number: number.clone(),
                    purpose: purpose.clone(),
                    answer,
                };
                tokio::spawn(async move {
                    let outcome = sms.record_consent(request).await;
                    match &outcome {
                        Ok(()) => info!(%call_id, %number, %purpose, ?answer, "consent recorded"),
                        Err(e) => {
                            warn!(%call_id, %number, %purpose, error = %e, "consent not recorded")
                        }
                    }
                    let _ = replies.send((call, FlowInput::ConsentResult { id, outcome }));
                });
            }
            other => warn!(%call_id, effect = ?other, "effect not handled"),
        }
    }

    /// Resolves prompt names in a language; a missing prompt (checked at start, so only if a
    /// file vanished) becomes 200 ms of silence.
    fn playlist(&self, leg: CallId, language: &str, items: &[Playable]) -> Vec<PlayItem> {
        let set = self.prompts.get(language);
        items
            .iter()
            .map(|item| match item {
                Playable::Prompt(name) => {
                    match set.and_then(|s| s.get(name)) {
                        Some(p) => PlayItem::Prompt(p),
                        None => {
                            let call_id = self.sip.sip_call_id(leg).unwrap_or_default();
                            warn!(%call_id, %language, prompt = %name, "prompt not found; silence instead");
                            PlayItem::Silence(200)
                        }
                    }
                }
                Playable::Silence(ms) => PlayItem::Silence(*ms),
            })
            .collect()
    }
}
