//! The calls API's commands carried into the core, and push calls' answers and outcomes carried
//! back out: the API's reply, the record and outcome in the push-call log, and the status POST
//! to the request's `status_url` (three tries, 1 s and 4 s apart).

use std::time::Duration;

use call_control::{Input as CoreInput, PushOutcome, PushRefusal, PushRequest};
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::Daemon;
use crate::clock;
use crate::http::calls::{ApiCommand, PushOrder};

/// A push call the API placed: its order, and the API's reply until the core answers.
pub(super) struct PushMeta {
    order: PushOrder,
    reply: Option<oneshot::Sender<Result<(), PushRefusal>>>,
}

impl Daemon {
    pub(super) fn api(&mut self, command: ApiCommand) {
        let now = clock::now();
        match command {
            ApiCommand::Push(order, reply) => {
                let request = PushRequest {
                    id: order.id.clone(),
                    to: order.to.clone(),
                    flow: order.flow.clone(),
                    vars: order.vars.clone(),
                    caller_id: order.caller_id.clone(),
                    trunk: order.trunk.clone(),
                    ring_timeout: Duration::from_secs(order.ring_timeout_s),
                    unix_ms: clock::unix_ms(),
                };
                let meta = PushMeta {
                    order,
                    reply: Some(reply),
                };
                self.pushes.insert(request.id.clone(), meta);
                self.core.handle_input(now, CoreInput::Push(request));
            }
            ApiCommand::List(reply) => {
                let _ = reply.send(self.core.call_views());
            }
            ApiCommand::AgentStatus(agent, status, reply) => {
                let known = self.core.has_agent(&agent);
                if known {
                    let input = CoreInput::AgentStatus { agent, status };
                    self.core.handle_input(now, input);
                }
                let _ = reply.send(known);
            }
            ApiCommand::Agents(reply) => {
                let _ = reply.send(self.core.agent_views());
            }
            ApiCommand::Priority(id, priority, reply) => {
                let queued = self.core.is_queued(&id);
                if queued {
                    let input = CoreInput::QueuePriority { call: id, priority };
                    self.core.handle_input(now, input);
                }
                let _ = reply.send(queued);
            }
            ApiCommand::Publish(reply) => {
                self.publish();
                let _ = reply.send(());
            }
            ApiCommand::Dashboard(reply) => {
                let live = crate::http::Live {
                    calls: self.core.call_views(),
                    queues: (self.core.queue_waiting().into_iter())
                        .map(|(q, n)| (q.to_string(), n))
                        .collect(),
                    agents: self.core.agent_views(),
                };
                let _ = reply.send(live);
            }
            ApiCommand::Ready(reply) => {
                let flows = self.core.flows().names();
                let flows = flows.into_iter().map(String::from).collect();
                let _ = reply.send(crate::http::Readiness { flows });
            }
            ApiCommand::ReloadFlows(reply) => {
                let _ = reply.send(self.reload_flows());
            }
            ApiCommand::HangUp(id, reply) => {
                let live = self.core.has_call(&id);
                if live {
                    self.core.handle_input(now, CoreInput::HangUpCall(id));
                }
                let _ = reply.send(live);
            }
        }
    }

    /// `POST /flows/reload`: the flow directory loaded and checked as at start (with the
    /// prompts and data sources it uses), then swapped in for new calls. Anything wrong
    /// changes nothing. Queues and the daemon's own config are not reloaded.
    fn reload_flows(&mut self) -> Result<Vec<String>, Vec<String>> {
        let started = clock::now();
        let dir = self.config.flows.dir.clone();
        let loaded = crate::flows::load(&self.config, &dir, true)?;
        let mut prompts = std::collections::HashMap::new();
        for (lang, dir) in
            crate::flows::language_dirs(&self.config.media.prompts).map_err(|e| vec![e])?
        {
            let set = super::prompts::Prompts::load(&dir).map_err(|e| vec![format!("{e:#}")])?;
            prompts.insert(lang, set);
        }
        let names: Vec<String> = loaded.flows.names().into_iter().map(String::from).collect();
        self.prompts = prompts;
        self.data = loaded.data;
        let flows = std::sync::Arc::new(loaded.flows);
        self.core
            .handle_input(clock::now(), CoreInput::Flows(flows));
        let ms = clock::now().saturating_duration_since(started).as_millis() as u64;
        info!(flows = ?names, ms, "flows reloaded");
        Ok(names)
    }

    /// The core's answer to a push: the API hears it; a placed one is logged.
    pub(super) fn pushed(&mut self, id: &str, result: Result<(), PushRefusal>) {
        let Some(meta) = self.pushes.get_mut(id) else {
            return;
        };
        if result.is_ok() {
            self.push_log.record(meta.order.clone(), clock::unix_ms());
        }
        if let Some(reply) = meta.reply.take() {
            let _ = reply.send(result.clone());
        }
        if result.is_err() {
            self.pushes.remove(id);
        }
    }

    /// A push call is over: its outcome is stored and posted to its `status_url`.
    pub(super) fn push_ended(&mut self, outcome: PushOutcome) {
        self.push_log.finish(outcome.clone(), clock::unix_ms());
        let Some(meta) = self.pushes.remove(&outcome.id) else {
            return;
        };
        let Some(url) = meta.order.status_url else {
            return;
        };
        let reason = match &outcome.result {
            call_control::PushResult::Failed(r) => Some(r.clone()),
            _ => None,
        };
        let body = serde_json::json!({
            "id": outcome.id,
            "to": meta.order.to,
            "flow": meta.order.flow,
            "result": outcome.result.name(),
            "reason": reason,
            "ringing_ms": outcome.ringing.as_millis() as u64,
            "talking_ms": outcome.talking.as_millis() as u64,
            "disposition": outcome.disposition,
        });
        let (client, log, id) = (self.http.clone(), self.push_log.clone(), outcome.id);
        tokio::spawn(async move {
            for (attempt, pause) in [(1, 1), (2, 4), (3, 0)] {
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                let status = sent.as_ref().ok().map(|r| r.status().as_u16());
                log.posted(id.clone(), status);
                match sent {
                    Ok(r) if r.status().is_success() => {
                        info!(push = %id, %url, status = r.status().as_u16(), "push status posted");
                        return;
                    }
                    Ok(r) => {
                        warn!(push = %id, %url, attempt, status = r.status().as_u16(), "push status refused")
                    }
                    Err(e) => {
                        warn!(push = %id, %url, attempt, error = %e, "push status not posted")
                    }
                }
                tokio::time::sleep(Duration::from_secs(pause)).await;
            }
        });
    }
}

impl Daemon {
    /// A ticket change: stored (with the webhook delivery it calls for); a ticket offered to an
    /// agent goes to their page too.
    pub(super) fn ticket(&mut self, change: call_control::TicketChange) {
        let offered = match &change {
            call_control::TicketChange::Offered { id, agent } => Some((id.clone(), agent.clone())),
            _ => None,
        };
        let webhook = self.config.tickets.webhook_url.is_some();
        self.tickets.change(change, clock::unix_ms(), webhook);
        if let Some((id, agent)) = offered {
            let (tickets, events) = (self.tickets.clone(), self.agent_events.clone());
            tokio::spawn(async move {
                if let Ok(Some(ticket)) = tickets.get(id, clock::unix_ms()).await {
                    let json = serde_json::to_string(&ticket).unwrap_or_default();
                    let _ = events.send((agent, json));
                }
            });
        }
    }
}
