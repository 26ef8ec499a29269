//! One outbound message as the outbox tracks and the store persists it.

use serde::{Deserialize, Serialize};

use crate::text::Encoding;

/// Our id of a message, unique for the life of the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageId(pub u64);

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a message is between enqueue and its end. Every change is persisted before the
/// outbox acts on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// Persisted, waiting for its (next) submission at `next_attempt_ms`.
    Queued {
        /// When to submit.
        next_attempt_ms: u64,
    },
    /// Handed to the provider; no answer yet. A message found here after a restart may or may
    /// not have reached the provider.
    Submitting {
        /// Since when.
        since_ms: u64,
    },
    /// The provider took it.
    Accepted {
        /// The provider's id for it, where it gives one.
        provider_id: Option<String>,
    },
    /// The handset has it (a delivery receipt said so).
    Delivered,
    /// It will not arrive: the provider refused it for good, or a receipt said undeliverable.
    Failed {
        /// Why.
        reason: String,
    },
    /// Every attempt failed; kept for an operator to look at (dead letter).
    Dead {
        /// The last failure.
        reason: String,
    },
}

impl State {
    /// Every state's [`State::name`], in the order a message goes through them.
    pub const NAMES: [&'static str; 6] = [
        "queued",
        "submitting",
        "accepted",
        "delivered",
        "failed",
        "dead",
    ];

    /// Whether the message is at its end (nothing more will happen to it).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Delivered | Self::Failed { .. } | Self::Dead { .. }
        )
    }

    /// A short name for logs and the store.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Queued { .. } => "queued",
            Self::Submitting { .. } => "submitting",
            Self::Accepted { .. } => "accepted",
            Self::Delivered => "delivered",
            Self::Failed { .. } => "failed",
            Self::Dead { .. } => "dead",
        }
    }
}

/// A message and everything known about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Our id.
    pub id: MessageId,
    /// Call id + flow node + purpose: the same logical message is enqueued once.
    pub key: String,
    /// Recipient, E.164.
    pub to: String,
    /// Body.
    pub text: String,
    /// How it goes over the air.
    pub encoding: Encoding,
    /// How many SMS it takes.
    pub segments: u32,
    /// The call it came from, if any.
    pub call_id: Option<String>,
    /// What it is for (`chat_link`, `coupon`, `balance`, …).
    pub purpose: String,
    /// The coupon serial it carries, if any.
    pub coupon: Option<String>,
    /// Submissions made so far.
    pub attempts: u32,
    /// Set when it may have reached the provider twice (a submission whose outcome was lost
    /// to a crash or a timeout was repeated): at most twice, and flagged.
    pub maybe_duplicate: bool,
    /// Where it is.
    pub state: State,
    /// When it was enqueued.
    pub created_ms: u64,
    /// When its state last changed.
    pub updated_ms: u64,
}
