//! Rebuilding the outbox from the store after a start or a crash.

use super::Outbox;
use crate::E164;
use crate::message::{Message, State};

impl Outbox {
    /// Loads what the store holds: messages of the retention window (all states, for
    /// idempotency and caps) and the opted-out numbers. A message found `Submitting` may have
    /// reached the provider: it is submitted again and flagged `maybe_duplicate`, unless the
    /// provider recognises repeats; one found so a second time is not sent a third time.
    pub fn restore(&mut self, now_ms: u64, messages: Vec<Message>, opted_out: &[E164]) {
        for number in opted_out {
            self.guard.set_opted_out(number, true);
        }
        for mut m in messages {
            self.next_id = self.next_id.max(m.id.0 + 1);
            if let Ok(to) = E164::parse(&m.to, self.config.home) {
                self.guard.count(&to, m.created_ms);
            }
            self.keys.insert(m.key.clone(), m.id);
            let id = m.id;
            let state = m.state.clone();
            let was_flagged = m.maybe_duplicate;
            if matches!(state, State::Submitting { .. }) && !self.config.provider_dedupes {
                m.maybe_duplicate = true;
            }
            self.messages.insert(id, m);
            match state {
                State::Queued { next_attempt_ms } => {
                    self.due.insert((next_attempt_ms, id));
                }
                State::Submitting { .. } if was_flagged && !self.config.provider_dedupes => {
                    let reason = "outcome unknown twice (crashes during submission), not sent a \
                                  third time"
                        .to_string();
                    self.transition(now_ms, id, State::Dead { reason });
                }
                State::Submitting { .. } => {
                    self.transition(
                        now_ms,
                        id,
                        State::Queued {
                            next_attempt_ms: now_ms,
                        },
                    );
                }
                s if s.is_final() => self.finished.push_back((now_ms, id)),
                _ => {}
            }
        }
        self.pump(now_ms);
    }
}
