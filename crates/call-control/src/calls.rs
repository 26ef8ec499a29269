//! Inbound calls: ring, answer (codec, RTP port, late offer), the call's flow and what its
//! outputs become (media orders, SIP commands, effects, a dial), hold, and the end.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use flow_engine::{CallFlow, CallInfo, DropCause, Input as FlowInput, Output as FlowOutput};
use media::MediaEvent;
use sip_ua::sdp::Direction;
use sip_ua::{CallId, Command, EndReason, Event, IncomingCall, LocalMedia, MediaOffer, Negotiated};
use tracing::{error, info, warn};

use crate::dialing::DialRequest;
use crate::push::PushLeg;
use crate::{Effect, MediaOrder, Output, SrtpPolicy, Switch, Timer};

/// A call running a flow: inbound, or a push call we placed.
#[derive(Debug)]
pub(crate) struct Call {
    /// Its name in logs and the API: the SIP Call-ID (inbound) or the push id.
    pub(crate) sip_call_id: String,
    pub(crate) flow: CallFlow,
    pub(crate) flow_name: String,
    /// Our address on the call's SIP flow (what SDP advertises; inbound calls).
    local_ip: IpAddr,
    /// Where the caller called from (their From URI; a callback calls it).
    pub(crate) caller_uri: String,
    pub(crate) stage: Stage,
    /// Its media was started (and must be ended).
    pub(crate) media: bool,
    /// The flow's transfer request in flight.
    transfer: Option<flow_engine::RequestId>,
    /// A push call's own record.
    pub(crate) push: Option<PushLeg>,
    /// How its flow ended.
    pub(crate) disposition: Option<String>,
}

impl Call {
    /// A push call just placed (its media started with the INVITE).
    pub(crate) fn outbound(name: String, flow: CallFlow, flow_name: String, push: PushLeg) -> Self {
        Self {
            sip_call_id: name,
            flow,
            flow_name,
            local_ip: IpAddr::from([0, 0, 0, 0]),
            caller_uri: String::new(),
            stage: Stage::Calling,
            media: true,
            transfer: None,
            push: Some(push),
            disposition: None,
        }
    }

    /// Its state, in a word (for the API).
    pub(crate) fn state(&self) -> &'static str {
        match self.stage {
            Stage::Ringing(_) => "ringing",
            Stage::Opening { .. } | Stage::AwaitingAnswer => "answering",
            Stage::Refused => "refused",
            Stage::Calling => "calling",
            Stage::Up => "up",
        }
    }
}

/// Where a call is.
#[derive(Debug)]
pub(crate) enum Stage {
    /// A push call placed, not answered yet.
    Calling,
    /// Ringing until its answer timer; the caller's offer (`None`: a late offer).
    Ringing(Option<MediaOffer>),
    /// Waiting for its RTP port; then answered with this negotiation (`None`: our offer).
    Opening {
        negotiated: Option<Negotiated>,
        session: u64,
    },
    /// Late offer answered with ours: the flow starts when the ACK brings the answer.
    AwaitingAnswer,
    /// Refused (no codec, no port); its end is on the way.
    Refused,
    /// Answered; its flow runs.
    Up,
}

impl Switch {
    pub(crate) fn incoming(
        &mut self,
        now: Instant,
        call: CallId,
        incoming: IncomingCall,
        unix_ms: i64,
    ) {
        let c = &self.config;
        let name = c
            .routes
            .get(&incoming.callee)
            .unwrap_or(&c.default_flow)
            .clone();
        let head = crate::records::Pending {
            kind: crate::LegKind::Inbound,
            id: incoming.sip_call_id.clone(),
            parent: None,
            from: incoming.caller.clone(),
            to: incoming.callee.clone(),
            trunk: None,
            flow: Some(name.clone()),
        };
        self.records.open(now, call, head);
        if incoming.unlisted && !self.authenticate_invite(now, call, &incoming) {
            return;
        }
        let policy = self.srtp_policy(incoming.flow.remote.ip());
        let refusal = match (policy, incoming.offer.as_ref().map(|o| o.secure)) {
            (SrtpPolicy::Required, Some(false)) => Some("plain RTP offered where SRTP is required"),
            // Our own offers (a late offer's answer) are plain RTP.
            (SrtpPolicy::Required, None) => Some("no offer where SRTP is required"),
            (SrtpPolicy::Off, Some(true)) => Some("SRTP offered where it is off"),
            _ => None,
        };
        if let Some(why) = refusal {
            warn!(call_id = %incoming.sip_call_id, why, "media refused: 488");
            self.out
                .push_back(Output::Sip(call, Command::Reject { status: 488 }));
            return;
        }
        let c = &self.config;
        let Some(flow_id) = c.flows.find(&name) else {
            error!(call_id = %incoming.sip_call_id, flow = %name, "no such flow: 500");
            self.out
                .push_back(Output::Sip(call, Command::Reject { status: 500 }));
            return;
        };
        info!(call_id = %incoming.sip_call_id, caller = %incoming.caller, callee = %incoming.callee, flow = %name, "incoming call");
        let info = CallInfo {
            call_id: incoming.sip_call_id.clone(),
            ani: incoming.caller.clone(),
            dnis: incoming.callee.clone(),
            unix_ms,
            vars: c.vars.clone(),
        };
        let flow = CallFlow::new(now, c.flows.clone(), flow_id, info);
        let answer_at = now + c.answer_after;
        let flow_name = name.clone();
        self.names.insert(incoming.sip_call_id.clone(), call);
        self.calls.insert(
            call,
            Call {
                sip_call_id: incoming.sip_call_id,
                flow,
                flow_name,
                local_ip: incoming.flow.local.ip(),
                caller_uri: incoming.caller_uri.clone(),
                stage: Stage::Ringing(incoming.offer),
                media: false,
                transfer: None,
                push: None,
                disposition: None,
            },
        );
        self.out.push_back(Output::Sip(call, Command::Ring));
        self.timers.set(Timer::Answer(call), Some(answer_at));
    }

    /// The answer timer: choose the codec (488 if none), then ask for an RTP port.
    pub(crate) fn answer(&mut self, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Stage::Ringing(offer) = std::mem::replace(&mut c.stage, Stage::Refused) else {
            return;
        };
        let call_id = c.sip_call_id.clone();
        let negotiated = match offer.map(|o| o.negotiate(&self.config.codecs)) {
            None => None,
            Some(Ok(n)) => Some(n),
            Some(Err(e)) => {
                warn!(%call_id, error = %e, "no usable codec");
                self.out
                    .push_back(Output::Sip(call, Command::Reject { status: 488 }));
                return;
            }
        };
        let negotiated = negotiated.map(|mut n| {
            if let Some(sdes) = &mut n.srtp {
                sdes.ours = Some(self.srtp_keys.next_key().0);
            }
            n
        });
        let (config, session) = self.media_config(negotiated);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.stage = Stage::Opening {
            negotiated,
            session,
        };
        self.media_order(call, MediaOrder::Start { leg: call, config });
    }

    /// The SRTP policy of a call from `ip`: its trunk's (of several trunks there, the
    /// strictest: required, then off), else the default.
    fn srtp_policy(&self, ip: IpAddr) -> SrtpPolicy {
        let policies: Vec<SrtpPolicy> = (self.config.trunks.values())
            .filter(|t| t.sources.iter().any(|net| net.contains(ip)))
            .map(|t| t.srtp)
            .collect();
        [SrtpPolicy::Required, SrtpPolicy::Off, SrtpPolicy::Optional]
            .into_iter()
            .find(|p| policies.contains(p))
            .unwrap_or(self.config.media.srtp)
    }

    /// The answer to `MediaOrder::Start`: answer the call on that port, or refuse it (503).
    pub(crate) fn media_started(&mut self, now: Instant, leg: CallId, port: Option<u16>) {
        if self.placed.contains_key(&leg) {
            return;
        }
        let Some(c) = self.calls.get_mut(&leg) else {
            return;
        };
        let Stage::Opening {
            negotiated,
            session,
        } = c.stage
        else {
            return;
        };
        let Some(port) = port else {
            if let Some(skipped) = self.log.hit(now, "RTP ports exhausted") {
                error!(call_id = %c.sip_call_id, skipped, "RTP port range exhausted: 503");
            }
            c.stage = Stage::Refused;
            self.out
                .push_back(Output::Sip(leg, Command::Reject { status: 503 }));
            return;
        };
        c.media = true;
        let local = LocalMedia {
            rtp: SocketAddr::new(c.local_ip, port),
            session_id: session,
            version: 1,
        };
        let command = match negotiated {
            Some(negotiated) => {
                info!(call_id = %c.sip_call_id, codec = ?negotiated.codec, telephone_event = ?negotiated.telephone_event, rtp_port = port, "answering");
                c.stage = Stage::Up;
                Command::Answer { local, negotiated }
            }
            None => {
                info!(call_id = %c.sip_call_id, rtp_port = port, "answering a late offer with ours");
                c.stage = Stage::AwaitingAnswer;
                Command::AnswerWithOffer {
                    local,
                    telephone_event: self.config.telephone_event,
                }
            }
        };
        let up = matches!(c.stage, Stage::Up);
        self.records.answered(now, leg);
        self.out.push_back(Output::Sip(leg, command));
        if up {
            self.drive(now, leg, FlowInput::Answered);
        }
    }

    /// A SIP event of an inbound call.
    pub(crate) fn call_event(&mut self, now: Instant, call: CallId, event: Event) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        match event {
            Event::Progress(_) => self.push_progress(now, call, false),
            Event::Answered(negotiated) => {
                info!(call_id = %c.sip_call_id, remote = %negotiated.remote, codec = ?negotiated.codec, "push call answered");
                self.media_order(call, MediaOrder::Update(call, negotiated));
                self.push_progress(now, call, true);
            }
            Event::Dtmf(d) => self.media_order(call, MediaOrder::InfoDigit(call, d.digit)),
            Event::MediaUpdated(negotiated) => {
                info!(call_id = %c.sip_call_id, remote = %negotiated.remote, codec = ?negotiated.codec, direction = ?negotiated.direction, "media updated");
                let input = match c.stage {
                    Stage::AwaitingAnswer => {
                        c.stage = Stage::Up;
                        Some(FlowInput::Answered)
                    }
                    // The prompt waits on hold (media); so do the flow's listening deadlines.
                    Stage::Up => Some(match negotiated.direction {
                        Direction::SendRecv => FlowInput::Resumed,
                        _ => FlowInput::Held,
                    }),
                    _ => None,
                };
                self.media_order(call, MediaOrder::Update(call, negotiated));
                if let Some(input) = input {
                    self.drive(now, call, input);
                }
            }
            Event::Ended(reason) => self.call_ended(now, call, reason),
            Event::TransferResult(outcome) => {
                if let Some(id) = c.transfer.take() {
                    let ok = outcome == sip_ua::TransferOutcome::Succeeded;
                    self.drive(now, call, FlowInput::TransferResult { id, ok });
                }
            }
            Event::Acked | Event::TransferAccepted => {}
            Event::Incoming(_) => warn!(%call, "Incoming fed as Input::Sip; use Input::Incoming"),
            other => info!(%call, event = ?other, "call event"),
        }
    }

    fn call_ended(&mut self, now: Instant, call: CallId, reason: EndReason) {
        // A call whose flow never started (rejected, cancelled, a late offer without an
        // answer) has no flow to finish; a running one learns why it ended.
        let input = match reason {
            EndReason::CallerHungUp => Some(FlowInput::HungUp),
            EndReason::AckTimeout => Some(FlowInput::Dropped(DropCause::NoAck)),
            EndReason::SessionExpired => Some(FlowInput::Dropped(DropCause::SessionExpired)),
            _ => None,
        };
        let up = self
            .calls
            .get(&call)
            .is_some_and(|c| matches!(c.stage, Stage::Up));
        if let (true, Some(input)) = (up, input) {
            self.drive(now, call, input);
        }
        // Legs placed for it, or bridged to it, go too; so does its place in a queue.
        self.caller_ended(call);
        self.queue_caller_gone(now, call);
        self.call_tickets_end(call);
        let Some(c) = self.calls.remove(&call) else {
            return;
        };
        info!(call_id = %c.sip_call_id, ?reason, "call ended");
        if self.names.get(&c.sip_call_id) == Some(&call) {
            self.names.remove(&c.sip_call_id);
        }
        self.timers.set(Timer::Answer(call), None);
        self.timers.set(Timer::Flow(call), None);
        if c.media {
            self.media_order(call, MediaOrder::End(call));
        }
        if let Some(push) = c.push {
            self.push_ended(now, call, push, reason, c.disposition);
        }
    }

    pub(crate) fn command_failed(&mut self, now: Instant, call: CallId) {
        if let Some(id) = self.calls.get_mut(&call).and_then(|c| c.transfer.take()) {
            self.drive(now, call, FlowInput::TransferResult { id, ok: false });
        }
    }

    /// A media report of an inbound call.
    pub(crate) fn call_media(&mut self, now: Instant, call: CallId, event: MediaEvent, tag: u64) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let input = match event {
            MediaEvent::Digit { key, source } => {
                info!(call_id = %c.sip_call_id, key = %key, ?source, "digit");
                FlowInput::Digit(key)
            }
            MediaEvent::PlaybackFinished => {
                FlowInput::PlaybackFinished(flow_engine::RequestId(tag))
            }
            MediaEvent::Inactive => {
                warn!(call_id = %c.sip_call_id, "no RTP from the caller: hanging up");
                self.drive(now, call, FlowInput::Dropped(DropCause::NoMedia));
                self.out.push_back(Output::Sip(call, Command::HangUp));
                return;
            }
            _ => return,
        };
        self.drive(now, call, input);
    }

    /// Feeds `input` to the call's flow and carries out what it asks, until it waits. An input
    /// that arises while a flow's outputs are carried out (a dial refused at once) waits its
    /// turn, so every flow sees its inputs one at a time and in order.
    pub(crate) fn drive(&mut self, now: Instant, call: CallId, input: FlowInput) {
        self.pending_flow.push_back((call, input));
        if self.driving {
            return;
        }
        self.driving = true;
        while let Some((call, input)) = self.pending_flow.pop_front() {
            let Some(c) = self.calls.get_mut(&call) else {
                continue;
            };
            c.flow.handle_input(now, input);
            let outputs: Vec<FlowOutput> = std::iter::from_fn(|| c.flow.poll_output()).collect();
            let deadline = c.flow.poll_timeout();
            self.timers.set(Timer::Flow(call), deadline);
            for output in outputs {
                self.carry_out(now, call, output);
            }
        }
        self.driving = false;
    }

    fn carry_out(&mut self, now: Instant, call: CallId, output: FlowOutput) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let call_id = &c.sip_call_id;
        let effect = |e| Output::Effect(call, e);
        let out = match output {
            FlowOutput::Play {
                id,
                language,
                items,
                barge_in,
            } => {
                let names: Vec<&str> = items
                    .iter()
                    .filter_map(|i| match i {
                        flow_engine::Playable::Prompt(name) => Some(name.as_str()),
                        flow_engine::Playable::Silence(_) => None,
                    })
                    .collect();
                info!(%call_id, %language, prompts = %names.join(","), barge_in, "play");
                let order = MediaOrder::Play {
                    leg: call,
                    language,
                    items,
                    barge_in,
                    tag: id.0,
                };
                Output::Media { home: call, order }
            }
            FlowOutput::StopPlayback => Output::Media {
                home: call,
                order: MediaOrder::Stop(call),
            },
            FlowOutput::Lookup { id, source, key } => effect(Effect::Lookup { id, source, key }),
            FlowOutput::Http {
                id,
                method,
                url,
                body,
                timeout,
            } => {
                info!(%call_id, ?method, %url, "http request");
                effect(Effect::Http {
                    id,
                    method,
                    url,
                    body,
                    timeout,
                })
            }
            FlowOutput::IssueCoupon {
                id,
                campaign,
                valid_days,
            } => effect(Effect::IssueCoupon {
                id,
                campaign,
                valid_days,
            }),
            FlowOutput::SendSms(request) => effect(Effect::SendSms(request)),
            FlowOutput::RecordConsent {
                id,
                number,
                purpose,
                answer,
            } => effect(Effect::RecordConsent {
                id,
                number,
                purpose,
                answer,
            }),
            FlowOutput::Dial {
                id,
                targets,
                trunk,
                mode,
                ring_timeout,
                caller_id,
            } => {
                info!(%call_id, targets = %targets.join(" "), ?mode, "dial");
                let ani = c.flow.vars().get("ani").unwrap_or_default().to_string();
                let request = DialRequest {
                    caller: call,
                    request: id,
                    targets,
                    trunk,
                    mode,
                    ring_timeout,
                    caller_id,
                    ani,
                };
                self.dial(now, request);
                return;
            }
            FlowOutput::Enqueue {
                id,
                queue,
                priority,
                exit_key,
                callback,
            } => {
                let vars = c.flow.vars();
                let join = crate::queues::Join {
                    request: id,
                    queue,
                    priority,
                    exit_key,
                    callback,
                    language: vars.get("language").unwrap_or("en").to_string(),
                    ani: vars.get("ani").unwrap_or_default().to_string(),
                };
                self.enqueue(now, call, join);
                return;
            }
            FlowOutput::Transfer { id, target } => {
                info!(%call_id, %target, "transfer");
                c.transfer = Some(id);
                self.records.transferring(call, &target);
                Output::Sip(call, Command::Transfer { target })
            }
            FlowOutput::HangUp => Output::Sip(call, Command::HangUp),
            FlowOutput::Event(e) => {
                info!(%call_id, event = %e.name, node = %e.node, fields = ?e.fields, "flow event");
                return;
            }
            FlowOutput::Finished(summary) => {
                let path: Vec<String> = summary.trace.iter().map(ToString::to_string).collect();
                info!(%call_id, disposition = ?summary.disposition, path = %path.join(" "), "flow finished");
                c.disposition = Some(format!("{:?}", summary.disposition));
                self.records.flow_finished(call, &summary);
                return;
            }
            other => {
                warn!(%call_id, output = ?other, "flow output not handled");
                return;
            }
        };
        self.out.push_back(out);
    }
}
