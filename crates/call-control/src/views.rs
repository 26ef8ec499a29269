//! What the API shows of live calls: each call, its state and flow, and the legs placed for it.

use sip_ua::CallId;

use crate::Switch;
use crate::dialing::Session;

/// A live call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallView {
    /// Its API id: the SIP Call-ID of an inbound call, a push call's id.
    pub id: String,
    /// Its leg.
    pub leg: CallId,
    /// `inbound` or `push`.
    pub direction: &'static str,
    /// `ringing`, `answering`, `calling`, `up`, `refused`.
    pub state: &'static str,
    /// The flow it runs.
    pub flow: String,
    /// Where its flow is: `flow/node` (the node it runs or waits in).
    pub node: String,
    /// When it began, in milliseconds since the Unix epoch.
    pub start_unix_ms: i64,
    /// Legs placed for its dial node, or the one it is bridged to.
    pub legs: Vec<LegView>,
}

/// A leg placed for a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegView {
    /// The leg, once placed.
    pub leg: Option<CallId>,
    /// Its target.
    pub target: String,
    /// `placing`, `calling`, `ringing`, `bridged`, `over`.
    pub state: &'static str,
}

impl Switch {
    /// Every live call, ordered by API id.
    pub fn call_views(&self) -> Vec<CallView> {
        let mut views: Vec<CallView> = self
            .calls
            .iter()
            .map(|(leg, c)| {
                let legs = match self.sessions.get(leg) {
                    Some(Session::Dialing(d)) => d.views().collect(),
                    Some(Session::Bridged { callee, target, .. }) => vec![LegView {
                        leg: Some(*callee),
                        target: target.clone(),
                        state: "bridged",
                    }],
                    None => Vec::new(),
                };
                CallView {
                    id: c.sip_call_id.clone(),
                    leg: *leg,
                    direction: if c.push.is_some() { "push" } else { "inbound" },
                    state: c.state(),
                    flow: c.flow_name.clone(),
                    node: c.flow.position(),
                    start_unix_ms: self.records.start_unix_ms(*leg).unwrap_or_default(),
                    legs,
                }
            })
            .collect();
        views.sort_by(|a, b| a.id.cmp(&b.id));
        views
    }
}

/// An agent, as the API shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentView {
    /// Their name.
    pub name: String,
    /// `logged_out`, `available`, `on_break`: what they chose.
    pub status: &'static str,
    /// `idle`, `ringing`, `on_call`, `wrap_up`: what they are doing.
    pub state: &'static str,
    /// Where they are rung now (registered or configured), if anywhere.
    pub contact: Option<String>,
    /// They are registered with ivrd.
    pub registered: bool,
    /// Calls taken since ivrd started.
    pub calls: u32,
}

impl Switch {
    /// Every configured agent, in configuration order.
    pub fn agent_views(&self) -> Vec<AgentView> {
        self.queues.agent_views()
    }

    /// Each queue's name and how many callers wait in its line now.
    pub fn queue_waiting(&self) -> Vec<(&str, usize)> {
        self.queues.waiting()
    }
}
