//! Agents: a **status** the agent chooses (logged out, available, on break) and a **state**
//! the switch keeps (idle, ringing, on a call, wrap-up), one per agent across all their queues;
//! and the strategies that pick who rings next.

use std::time::{Duration, Instant};

use sip_ua::CallId;

use super::config::{AgentConfig, QueueConfig, Strategy};

/// What the agent chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentStatus {
    /// Not taking calls.
    LoggedOut,
    /// Taking calls.
    Available,
    /// Logged in, not taking calls (also after `max_no_answer` rings in a row).
    OnBreak,
}

impl AgentStatus {
    const NAMES: [(&'static str, Self); 3] = [
        ("logged_out", Self::LoggedOut),
        ("available", Self::Available),
        ("on_break", Self::OnBreak),
    ];

    /// Its API name: `logged_out`, `available`, `on_break`.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("logged_out", |(n, _)| n)
    }

    /// The status an API name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
    }
}

/// What the agent is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AgentState {
    /// Free since then (`None`: not yet since ivrd started).
    Idle { since: Option<Instant> },
    /// Their phone rings for this caller on this leg; idle since then before it rang (kept
    /// when the switch itself cancels the ring).
    Ringing {
        caller: CallId,
        leg: CallId,
        idle_since: Option<Instant>,
    },
    /// Talking to this caller on this leg since then.
    OnCall {
        caller: CallId,
        leg: CallId,
        since: Instant,
    },
    /// After a call, until then.
    WrapUp { until: Instant },
}

/// One agent's live record.
#[derive(Clone, Debug)]
pub(crate) struct Agent {
    pub(crate) config: AgentConfig,
    pub(crate) status: AgentStatus,
    pub(crate) state: AgentState,
    /// Not to be rung before then (after a ring-out or a busy).
    pub(crate) not_before: Option<Instant>,
    /// Rings without an answer in a row.
    pub(crate) no_answer_run: u32,
    pub(crate) calls: u32,
    pub(crate) talk: Duration,
    /// Where they registered (ivrd as their registrar), if they did.
    pub(crate) binding: Option<super::registrar::Binding>,
}

impl Agent {
    pub(crate) fn new(config: AgentConfig) -> Self {
        let status = match config.logged_in {
            true => AgentStatus::Available,
            false => AgentStatus::LoggedOut,
        };
        Self {
            config,
            status,
            state: AgentState::Idle { since: None },
            not_before: None,
            no_answer_run: 0,
            calls: 0,
            talk: Duration::ZERO,
            binding: None,
        }
    }

    /// Where to ring them: what they registered, else their configured contact.
    pub(crate) fn contact(&self) -> Option<&str> {
        match &self.binding {
            Some(b) => Some(&b.contact),
            None => Some(self.config.contact.as_str()).filter(|c| !c.is_empty()),
        }
    }

    /// Their penalty in `queue`, if they serve it.
    pub(crate) fn penalty(&self, queue: &str) -> Option<u32> {
        self.config
            .queues
            .iter()
            .find(|(q, _)| q == queue)
            .map(|(_, p)| *p)
    }

    /// Logged in (available or on break) for `queue`.
    pub(crate) fn logged_in_for(&self, queue: &str) -> bool {
        self.status != AgentStatus::LoggedOut && self.penalty(queue).is_some()
    }

    /// Free to ring for `queue` now, at most `max_penalty` away: since when they are idle.
    pub(crate) fn free_for(
        &self,
        now: Instant,
        queue: &str,
        max_penalty: u32,
    ) -> Option<Option<Instant>> {
        let AgentState::Idle { since } = self.state else {
            return None;
        };
        let ok = self.status == AgentStatus::Available
            && self.contact().is_some()
            && self.penalty(queue).is_some_and(|p| p <= max_penalty)
            && self.not_before.is_none_or(|t| t <= now);
        ok.then_some(since)
    }
}

/// Picks the agents to ring for a caller of `queue`: all of `free` for ring-all, else one.
/// `free` holds (agent index, idle since), in configuration order; `last` is the queue's
/// round-robin memory, `rng` a random draw.
pub(crate) fn pick(
    queue: &QueueConfig,
    agents: &[Agent],
    free: &[(usize, Option<Instant>)],
    last: Option<usize>,
    rng: u64,
) -> Vec<usize> {
    if free.is_empty() {
        return Vec::new();
    }
    let one = match queue.strategy {
        Strategy::RingAll => return free.iter().map(|(i, _)| *i).collect(),
        Strategy::Linear => free[0].0,
        Strategy::LongestIdle => free
            .iter()
            .min_by_key(|(i, since)| (*since, *i))
            .map_or(free[0].0, |f| f.0),
        Strategy::RoundRobin => free
            .iter()
            .find(|(i, _)| last.is_none_or(|l| *i > l))
            .map_or(free[0].0, |f| f.0),
        Strategy::FewestCalls => free
            .iter()
            .min_by_key(|(i, _)| (agents[*i].calls, *i))
            .map_or(free[0].0, |f| f.0),
        Strategy::LeastTalkTime => free
            .iter()
            .min_by_key(|(i, _)| (agents[*i].talk, *i))
            .map_or(free[0].0, |f| f.0),
        Strategy::WeightedRandom => {
            let total: u64 = free
                .iter()
                .map(|(i, _)| u64::from(agents[*i].config.weight))
                .sum();
            let mut draw = rng % total.max(1);
            let mut chosen = free[0].0;
            for (i, _) in free {
                let w = u64::from(agents[*i].config.weight);
                if draw < w {
                    chosen = *i;
                    break;
                }
                draw -= w;
            }
            chosen
        }
    };
    vec![one]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queues::config::{QueueSet, load};

    fn set(strategy: &str) -> QueueSet {
        let agents: String = (1..=4)
            .map(|i| {
                format!(
                    "[agents.a{i}]\ncontact = \"sip:a{i}@192.0.2.{i}\"\nqueues = {{ q = 0 }}\nweight = {}\n",
                    if i == 3 { 97 } else { 1 }
                )
            })
            .collect();
        let text = format!(
            "[queues.q]\nstrategy = \"{strategy}\"\n[queues.q.languages.en]\nmusic = [\"m\"]\n{agents}"
        );
        load("q.toml", &text, &|_, _| true).expect("valid")
    }

    /// Agents 0-3 with calls and talk time; 1 and 3 free, 1 idle since t0+5 s, 3 since t0.
    fn pick_with(strategy: &str, last: Option<usize>, rng: u64) -> Vec<usize> {
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let set = set(strategy);
        let mut agents: Vec<Agent> = set.agents.iter().cloned().map(Agent::new).collect();
        agents[1].calls = 5;
        agents[1].talk = Duration::from_secs(10);
        agents[3].calls = 2;
        agents[3].talk = Duration::from_secs(900);
        let free = [(1, Some(t0 + Duration::from_secs(5))), (3, Some(t0))];
        pick(&set.queues[0], &agents, &free, last, rng)
    }

    #[test]
    fn each_strategy_picks_its_agent() {
        assert_eq!(pick_with("ring-all", None, 0), [1, 3]);
        assert_eq!(pick_with("linear", None, 0), [1]);
        assert_eq!(pick_with("longest-idle", None, 0), [3]);
        assert_eq!(pick_with("fewest-calls", None, 0), [3]);
        assert_eq!(pick_with("least-talk-time", None, 0), [1]);
        assert_eq!(pick_with("round-robin", None, 0), [1], "from the top");
        assert_eq!(
            pick_with("round-robin", Some(1), 0),
            [3],
            "after the last one rung"
        );
        assert_eq!(pick_with("round-robin", Some(3), 0), [1], "wraps around");
        // Weights 1 and 97: draws 0 → agent 1, 1..=97 → agent 3.
        assert_eq!(pick_with("weighted-random", None, 0), [1]);
        assert_eq!(pick_with("weighted-random", None, 1), [3]);
        assert_eq!(pick_with("weighted-random", None, 97), [3]);
        assert_eq!(pick_with("weighted-random", None, 98), [1]);
    }

    #[test]
    fn never_idle_counts_as_idle_longest() {
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let set = set("longest-idle");
        let agents: Vec<Agent> = set.agents.iter().cloned().map(Agent::new).collect();
        let free = [(0, Some(t0)), (2, None)];
        assert_eq!(pick(&set.queues[0], &agents, &free, None, 0), [2]);
    }
}
