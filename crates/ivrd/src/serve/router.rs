//! Flow outputs → media, SIP, HTTP, data lookups and the SMS outbox; answers that are known at
//! once (lookups, coupons, SMS acceptance) go straight back into the flow.

use std::collections::VecDeque;
use std::time::Instant;

use flow_engine::{HttpMethod, HttpOutcome, Input as FlowInput, Output as FlowOutput, Playable};
use media::PlayItem;
use sip_ua::{CallId, Command};
use sms_gateway::NewMessage;
use tracing::{info, warn};

use super::Daemon;
use super::media_worker::MediaCommand;
use crate::clock;

/// Largest HTTP response body a flow reads.
const MAX_HTTP_BODY: usize = 1 << 20;

impl Daemon {
    /// Feeds `input` to the call's flow and carries out what it asks, until it waits.
    pub(super) fn drive(&mut self, call: CallId, input: FlowInput) {
        let now = clock::now();
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let Some(c) = self.calls.get_mut(&call) else {
                return;
            };
            c.flow.handle_input(now, input);
            let outputs: Vec<FlowOutput> = std::iter::from_fn(|| c.flow.poll_output()).collect();
            for output in outputs {
                queue.extend(self.carry_out(now, call, output));
            }
        }
    }

    fn carry_out(&mut self, now: Instant, call: CallId, output: FlowOutput) -> Option<FlowInput> {
        let call_id = self
            .calls
            .get(&call)
            .map(|c| c.sip_call_id.clone())
            .unwrap_or_default();
        match output {
            FlowOutput::Play {
                id,
                language,
                items,
                barge_in,
            } => {
                let items = self.playlist(&call_id, &language, &items);
                info!(%call_id, %language, prompts = %items.1.join(","), barge_in, "play");
                self.media.send(MediaCommand::Play {
                    call,
                    items: items.0,
                    barge_in,
                    tag: id.0,
                });
                None
            }
            FlowOutput::StopPlayback => {
                self.media.send(MediaCommand::Stop { call });
                None
            }
            FlowOutput::Lookup { id, source, key } => {
                let record = self.data.lookup(&source, &key);
                info!(%call_id, %source, %key, found = record.is_some(), "lookup");
                Some(FlowInput::LookupResult { id, record })
            }
            FlowOutput::Http {
                id,
                method,
                url,
                body,
                timeout,
            } => {
                info!(%call_id, ?method, %url, "http request");
                let client = self.http.clone();
                let replies = self.replies.clone();
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
                None
            }
            FlowOutput::IssueCoupon {
                id,
                campaign,
                valid_days,
            } => {
                let (sms, replies) = (self.sms.clone(), self.replies.clone());
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
                None
            }
            FlowOutput::SendSms(request) => {
                let (sms, replies) = (self.sms.clone(), self.replies.clone());
                let message = NewMessage {
                    key: request.idempotency_key.clone(),
                    to: request.to.clone(),
                    text: request.text.clone(),
                    call_id: Some(call_id.clone()),
                    purpose: request.purpose.clone(),
                    coupon: request.coupon.clone(),
                };
                tokio::spawn(async move {
                    let outcome = sms.enqueue(message).await.map(|_| ());
                    match &outcome {
                        Ok(()) => {
                            info!(%call_id, to = %request.to, purpose = %request.purpose, key = %request.idempotency_key, "sms queued")
                        }
                        Err(e) => {
                            warn!(%call_id, to = %request.to, purpose = %request.purpose, error = %e, "sms refused")
                        }
                    }
                    let _ = replies.send((
                        call,
                        FlowInput::SmsResult {
                            id: request.id,
                            outcome,
                        },
                    ));
                });
                None
            }
            FlowOutput::RecordConsent {
                id,
                number,
                purpose,
                answer,
            } => {
                let (sms, replies) = (self.sms.clone(), self.replies.clone());
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
                None
            }
            FlowOutput::Dial {
                id,
                targets,
                trunk,
                mode,
                ring_timeout,
                caller_id,
            } => {
                info!(%call_id, targets = %targets.join(" "), ?mode, "dial");
                // None: the trunk's caller ID, else the caller's own (chosen per leg).
                let caller_id = caller_id.unwrap_or_default();
                let request = call_control::DialRequest {
                    caller: call,
                    request: id,
                    targets,
                    trunk,
                    mode,
                    ring_timeout,
                    caller_id,
                };
                self.switch(now, call_control::Input::Dial(request));
                None
            }
            FlowOutput::Transfer { id, target } => {
                info!(%call_id, %target, "transfer");
                if let Some(c) = self.calls.get_mut(&call) {
                    c.transfer = Some(id);
                }
                match self
                    .sip
                    .handle_command(now, call, Command::Transfer { target })
                {
                    Ok(()) => None,
                    Err(e) => {
                        warn!(%call_id, error = %e, "transfer failed");
                        Some(FlowInput::TransferResult { id, ok: false })
                    }
                }
            }
            FlowOutput::HangUp => {
                if let Err(e) = self.sip.handle_command(now, call, Command::HangUp) {
                    tracing::debug!(%call_id, error = %e, "hang-up: call already over");
                }
                None
            }
            FlowOutput::Event(e) => {
                info!(%call_id, event = %e.name, node = %e.node, fields = ?e.fields, "flow event");
                None
            }
            FlowOutput::Finished(summary) => {
                let path: Vec<String> = summary.trace.iter().map(ToString::to_string).collect();
                info!(%call_id, disposition = ?summary.disposition, path = %path.join(" "), "flow finished");
                None
            }
            other => {
                warn!(%call_id, output = ?other, "flow output not handled");
                None
            }
        }
    }

    /// Resolves prompt names in a language; a missing prompt (checked at start, so only if a
    /// file vanished) becomes 200 ms of silence.
    fn playlist(
        &self,
        call_id: &str,
        language: &str,
        items: &[Playable],
    ) -> (Vec<PlayItem>, Vec<String>) {
        let set = self.prompts.get(language);
        let mut names = Vec::new();
        let items = items
            .iter()
            .map(|item| match item {
                Playable::Prompt(name) => {
                    names.push(name.clone());
                    match set.and_then(|s| s.get(name)) {
                        Some(p) => PlayItem::Prompt(p),
                        None => {
                            warn!(%call_id, %language, prompt = %name, "prompt not found; silence instead");
                            PlayItem::Silence(200)
                        }
                    }
                }
                Playable::Silence(ms) => PlayItem::Silence(*ms),
            })
            .collect();
        (items, names)
    }
}
