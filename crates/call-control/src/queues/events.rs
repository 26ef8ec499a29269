//! The queue journal: what happened to each caller in each queue, as `queue_log`-style events
//! the driver stores.

use std::time::Duration;

use sip_ua::CallId;

use crate::{Output, Switch};

/// One event of the queue journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueEvent {
    /// The queue.
    pub queue: String,
    /// The caller's call (its API id: the SIP Call-ID).
    pub call_id: String,
    /// What happened.
    pub kind: QueueEventKind,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueEventKind {
    /// Joined the line at this position.
    Enter {
        /// From 1.
        position: usize,
    },
    /// Bridged to an agent after waiting this long.
    Connect {
        /// The agent.
        agent: String,
        /// The wait.
        waited: Duration,
    },
    /// Hung up while waiting.
    Abandon {
        /// The wait.
        waited: Duration,
    },
    /// Left by a way out (`timeout`, `full`, `no_agents`, `exit_key`, `callback`).
    Exit {
        /// Which.
        outcome: &'static str,
        /// The wait.
        waited: Duration,
    },
    /// An agent let it ring out.
    RingNoAnswer {
        /// The agent.
        agent: String,
    },
    /// An agent was busy (486, 600).
    AgentBusy {
        /// The agent.
        agent: String,
    },
    /// An agent refused it with this status (603 Decline, 480 …).
    AgentRejected {
        /// The agent.
        agent: String,
        /// The final status.
        status: u16,
    },
    /// Over capacity on joining: the overflow options played.
    Overflow {
        /// The caller's place, from 1.
        position: usize,
        /// The estimated wait then.
        ewt: Duration,
    },
    /// The caller's priority was changed while waiting.
    Priority {
        /// The new priority (higher first).
        priority: i32,
        /// The caller's place after it, from 1.
        position: usize,
    },
    /// The bridged call ended.
    Complete {
        /// The agent.
        agent: String,
        /// How long they talked.
        talked: Duration,
    },
    /// The wait-time SMS offer.
    WaitSms(WaitSmsEvent),
    /// The caller asked to be called back; their place is kept.
    CallbackRequested {
        /// Their place, from 1.
        position: usize,
    },
}

/// The wait-time SMS offer's steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitSmsEvent {
    /// The consent prompt played.
    Offered,
    /// 1: allowed.
    Allowed,
    /// 2: denied (never asked again).
    Denied,
    /// No key in time.
    NoResponse,
    /// Another key: "wrong selection", and the offer again.
    WrongSelection,
    /// The SMS went to the outbox.
    Sent,
}

impl Switch {
    /// An event of a waiting caller's queue.
    pub(crate) fn queue_event(&mut self, caller: CallId, kind: QueueEventKind) {
        if let Some(queue) = self.queues.callers.get(&caller).map(|w| w.queue) {
            self.queue_event_in(queue, caller, kind);
        }
    }

    /// An event of queue `queue` (by index) for `caller`.
    pub(crate) fn queue_event_in(&mut self, queue: usize, caller: CallId, kind: QueueEventKind) {
        let call_id = match self.queues.callers.get(&caller) {
            Some(w) => w.call_id.clone(),
            None => self
                .calls
                .get(&caller)
                .map(|c| c.sip_call_id.clone())
                .unwrap_or_default(),
        };
        self.queue_event_for(queue, call_id, kind);
    }

    /// An event of queue `queue` (by index) for the call `call_id` (its SIP Call-ID).
    pub(crate) fn queue_event_for(&mut self, queue: usize, call_id: String, kind: QueueEventKind) {
        let Some(config) = self.queues.configs.get(queue) else {
            return;
        };
        self.out.push_back(Output::QueueEvent(QueueEvent {
            queue: config.name.clone(),
            call_id,
            kind,
        }));
    }
}
