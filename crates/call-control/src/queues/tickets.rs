//! Tickets: one per queued call, what the agent gets when the call is offered to them: the
//! caller, the queue, the IVR path and keys, the wait-time SMS consent and text, the predicted
//! and actual wait, the outcome and the agent. The core keeps none of it beyond the call: each
//! change goes out as [`Output::Ticket`] for the driver to store (and the SMS replies join it
//! there, by the caller's number while the ticket is open).

use std::time::Duration;

use sip_ua::CallId;

use crate::{Output, Switch};

/// A ticket as opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// Its id.
    pub id: String,
    /// The caller's call (SIP Call-ID).
    pub call_id: String,
    /// The queue.
    pub queue: String,
    /// The caller's number.
    pub caller: String,
    /// The caller's language.
    pub language: String,
    /// The IVR path so far (`flow/node:outcome@ms`, keys included).
    pub path: Vec<String>,
    /// The estimated wait on joining.
    pub predicted_wait: Duration,
}

/// A change to a ticket, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TicketChange {
    /// The caller joined a queue.
    Opened(Ticket),
    /// The wait-time SMS answer: `allowed`, `denied` or `no_response`.
    Consent {
        /// The ticket.
        id: String,
        /// The answer.
        status: &'static str,
    },
    /// The wait-time SMS went to the outbox with this text.
    SmsSent {
        /// The ticket.
        id: String,
        /// The text.
        text: String,
    },
    /// An agent's phone rings with this call: send them the ticket now.
    Offered {
        /// The ticket.
        id: String,
        /// The agent.
        agent: String,
    },
    /// The caller left the line: bridged, a way out, or abandoned.
    Closed {
        /// The ticket.
        id: String,
        /// `bridged`, `timeout`, `full`, `no_agents`, `exit_key`, `callback`, `abandoned`.
        outcome: &'static str,
        /// How long they waited.
        waited: Duration,
        /// Who took it.
        agent: Option<String>,
        /// Deliver it now, though no agent took it: an abandoned call with SMS data, in a
        /// queue whose `abandoned_tickets` is on.
        deliver: bool,
    },
    /// The caller's call ended (replies by SMS count until then).
    Ended {
        /// The ticket.
        id: String,
    },
}

impl Switch {
    /// A ticket id for a new queued call.
    pub(crate) fn ticket_id(&mut self) -> String {
        format!("tk-{:016x}", self.queues.random())
    }

    /// Opens `caller`'s ticket for the queue they just joined.
    pub(crate) fn open_ticket(&mut self, caller: CallId, id: &str) {
        let predicted_wait = self.estimated_wait(caller);
        let Some(w) = self.queues.callers.get(&caller) else {
            return;
        };
        let (call_id, path) = match self.calls.get(&caller) {
            Some(c) => (
                c.sip_call_id.clone(),
                c.flow.trace().iter().map(ToString::to_string).collect(),
            ),
            None => (String::new(), Vec::new()),
        };
        let ticket = Ticket {
            id: id.to_string(),
            call_id,
            queue: self.queues.configs[w.queue].name.clone(),
            caller: w.ani.clone(),
            language: w.language.clone(),
            path,
            predicted_wait,
        };
        self.out
            .push_back(Output::Ticket(TicketChange::Opened(ticket)));
    }

    /// A change to a waiting caller's ticket.
    pub(crate) fn ticket(&mut self, change: TicketChange) {
        self.out.push_back(Output::Ticket(change));
    }

    /// The caller's call ended: its last ticket stops collecting replies.
    pub(crate) fn call_tickets_end(&mut self, caller: CallId) {
        if let Some(id) = self.queues.tickets.remove(&caller) {
            self.ticket(TicketChange::Ended { id });
        }
    }
}
