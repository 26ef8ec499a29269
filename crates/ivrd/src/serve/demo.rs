//! The built-in call behaviour until the flow engine lands: ring briefly, answer, play the
//! welcome prompt, read back each key pressed, hang up on `#` (after "goodbye") or after an idle
//! timeout. A plain state machine: events and `now` in, actions out.

use std::time::{Duration, Instant};

use media::{MediaEvent, PlayItem};

/// Where a demo call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// 180 sent; answer at this time.
    Ringing { answer_at: Instant },
    /// Answered; hang up at `idle_at` unless a key comes.
    Listening { idle_at: Instant },
    /// Saying goodbye; hang up when it has played.
    Closing,
    /// Hang-up sent.
    Done,
}

/// What the demo asks for.
#[derive(Debug, PartialEq)]
pub(crate) enum Action {
    Answer,
    Play {
        prompts: Vec<String>,
        barge_in: bool,
    },
    HangUp,
}

#[derive(Debug)]
pub(crate) struct DemoCall {
    pub(crate) step: Step,
    idle: Duration,
    pub(crate) digits: String,
}

impl DemoCall {
    pub(crate) fn new(now: Instant, answer_after: Duration, idle: Duration) -> Self {
        Self {
            step: Step::Ringing {
                answer_at: now + answer_after,
            },
            idle,
            digits: String::new(),
        }
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self.step {
            Step::Ringing { answer_at } => Some(answer_at),
            Step::Listening { idle_at } => Some(idle_at),
            Step::Closing | Step::Done => None,
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        match self.step {
            Step::Ringing { answer_at } if now >= answer_at => {
                self.step = Step::Listening {
                    idle_at: now + self.idle,
                };
                vec![
                    Action::Answer,
                    Action::Play {
                        prompts: vec!["welcome".into()],
                        barge_in: true,
                    },
                ]
            }
            Step::Listening { idle_at } if now >= idle_at => {
                self.step = Step::Done;
                vec![Action::HangUp]
            }
            _ => Vec::new(),
        }
    }

    pub(crate) fn handle_media(&mut self, now: Instant, event: MediaEvent) -> Vec<Action> {
        match (self.step, event) {
            (Step::Listening { .. }, MediaEvent::Digit { key: '#', .. }) => {
                self.digits.push('#');
                self.step = Step::Closing;
                vec![Action::Play {
                    prompts: vec!["goodbye".into()],
                    barge_in: false,
                }]
            }
            (Step::Listening { .. }, MediaEvent::Digit { key, .. }) => {
                self.digits.push(key);
                self.step = Step::Listening {
                    idle_at: now + self.idle,
                };
                vec![Action::Play {
                    prompts: vec![prompt_for(key)],
                    barge_in: true,
                }]
            }
            (Step::Closing, MediaEvent::PlaybackFinished) | (_, MediaEvent::Inactive) => {
                if self.step == Step::Done {
                    return Vec::new();
                }
                self.step = Step::Done;
                vec![Action::HangUp]
            }
            _ => Vec::new(),
        }
    }
}

fn prompt_for(key: char) -> String {
    match key {
        '*' => "digit-star".into(),
        '#' => "digit-pound".into(),
        k => format!("digit-{k}"),
    }
}

/// Turns prompt names into a playlist; unknown names become 200 ms of silence (logged by the
/// caller) so that a missing file never stalls a call.
pub(crate) fn playlist(
    prompts: &super::prompts::Prompts,
    names: &[String],
) -> (Vec<PlayItem>, Vec<String>) {
    let mut missing = Vec::new();
    let items = names
        .iter()
        .map(|n| match prompts.get(n) {
            Some(p) => PlayItem::Prompt(p),
            None => {
                missing.push(n.clone());
                PlayItem::Silence(200)
            }
        })
        .collect();
    (items, missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use media::DigitSource;

    #[allow(clippy::disallowed_methods)] // the test's epoch; time is jumped from here
    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn answers_reads_back_and_says_goodbye() {
        let t = t0();
        let idle = Duration::from_secs(30);
        let mut c = DemoCall::new(t, Duration::from_millis(200), idle);
        assert!(c.handle_timeout(t).is_empty());
        assert_eq!(
            c.handle_timeout(t + Duration::from_millis(200))[0],
            Action::Answer
        );
        let key = |k| MediaEvent::Digit {
            key: k,
            source: DigitSource::Rfc4733,
        };
        let a = c.handle_media(t + Duration::from_secs(1), key('5'));
        assert_eq!(
            a,
            [Action::Play {
                prompts: vec!["digit-5".into()],
                barge_in: true
            }]
        );
        assert_eq!(c.deadline(), Some(t + Duration::from_secs(31)));
        c.handle_media(t + Duration::from_secs(2), key('#'));
        assert_eq!(c.step, Step::Closing);
        assert_eq!(
            c.handle_media(t + Duration::from_secs(3), MediaEvent::PlaybackFinished),
            [Action::HangUp]
        );
        assert_eq!(c.digits, "5#");
    }

    #[test]
    fn idle_callers_are_hung_up() {
        let t = t0();
        let mut c = DemoCall::new(t, Duration::ZERO, Duration::from_secs(30));
        c.handle_timeout(t);
        assert!(c.handle_timeout(t + Duration::from_secs(29)).is_empty());
        assert_eq!(
            c.handle_timeout(t + Duration::from_secs(30)),
            [Action::HangUp]
        );
    }
}
