//! The `queue` node: the queue must exist in the catalog; its branches are nodes of the flow.

use super::Compiler;
use crate::error::Problem;
use crate::graph::QueueNode;
use crate::raw;

impl Compiler<'_> {
    pub(super) fn queue(&mut self, q: &raw::Queue) -> QueueNode {
        if !self.catalog.queues.contains(&q.queue) {
            let mut known: Vec<&str> = self.catalog.queues.iter().map(String::as_str).collect();
            known.sort_unstable();
            let known = match known.is_empty() {
                true => "none are configured".to_string(),
                false => format!("queues: {}", known.join(", ")),
            };
            self.error(
                "queue",
                Problem::Invalid(format!("no queue named `{}` ({known})", q.queue)),
            );
        }
        QueueNode {
            queue: q.queue.clone(),
            priority: q.priority,
            after: q.after.as_ref().map(|a| self.target("after", a)),
            timeout: self.target("timeout", &q.timeout),
            full: self.target("full", &q.full),
            no_agents: self.target("no_agents", &q.no_agents),
            exit_key: q.exit_key.as_ref().map(|a| self.target("exit_key", a)),
            callback: q.callback.as_ref().map(|a| self.target("callback", a)),
        }
    }
}
