//! What a waiting caller hears and presses: music on hold looped, the position and estimated
//! wait (and a periodic announcement) at their intervals and never closer than the minimum gap,
//! keys heard at all times (an announcement never swallows them), and the longest wait.

use std::time::{Duration, Instant};

use flow_engine::QueueOutcome;
use sip_ua::CallId;
use tracing::info;

use super::config::OVERFLOW_KEEP_KEY;
use super::{AgentStatus, Playing, QueueEventKind, Waiting};
use crate::{Switch, Timer};

impl Switch {
    /// Music on hold, from the start.
    pub(crate) fn play_music(&mut self, caller: CallId) {
        let tag = self.queues.tag();
        let Some(w) = self.queues.callers.get_mut(&caller) else {
            return;
        };
        let config = &self.queues.configs[w.queue];
        let music = config
            .sounds(&w.language)
            .map(|s| s.music.clone())
            .unwrap_or_default();
        w.playing = (tag, Playing::Music);
        let order = super::prompts(caller, &w.language, music, false, tag);
        self.media_order(caller, order);
    }

    /// A queue playlist ended: the music loops; after an announcement or "SMS sent" the
    /// music resumes; after the SMS offer the caller has a while to answer.
    pub(crate) fn queue_played(&mut self, now: Instant, caller: CallId, tag: u64) {
        let Some(w) = self.queues.callers.get(&caller) else {
            return;
        };
        match w.playing {
            (t, _) if t != tag => {}
            (_, Playing::Offer) => self.offer_played(now, caller),
            (_, Playing::Overflow) => self.keep_waiting(caller),
            _ => self.play_music(caller),
        }
    }

    /// A key while waiting: the exit or callback key leaves the line (if the flow has that
    /// branch); any other key is ignored and the music goes on.
    pub(crate) fn queue_digit(&mut self, now: Instant, caller: CallId, key: char) {
        let Some(w) = self.queues.callers.get(&caller) else {
            return;
        };
        let config = &self.queues.configs[w.queue];
        let outcome = match Some(key) {
            k if k == config.exit_key && w.exit_key => QueueOutcome::ExitKey,
            k if k == config.callback_key && w.callback => {
                if self.keep_place_for_callback(now, caller) {
                    return;
                }
                QueueOutcome::Callback
            }
            _ if self.offer_open(caller) => return self.offer_answered(caller, key),
            Some(OVERFLOW_KEEP_KEY) if w.playing.1 == Playing::Overflow => {
                return self.keep_waiting(caller);
            }
            _ => return,
        };
        self.leave_queue(now, caller, outcome);
    }

    /// The longest wait passed.
    pub(crate) fn queue_timed_out(&mut self, now: Instant, caller: CallId) {
        self.leave_queue(now, caller, QueueOutcome::Timeout);
    }

    /// Time to announce the position and wait (not closer than the minimum gap to the last).
    pub(crate) fn announce(&mut self, now: Instant, caller: CallId) {
        let Some(position) = self.position(caller) else {
            return;
        };
        let ewt = self.estimated_wait(caller);
        let tag = self.queues.tag();
        let Some(w) = self.queues.callers.get_mut(&caller) else {
            return;
        };
        let config = &self.queues.configs[w.queue];
        let (every, gap) = (config.announce_every, config.min_gap);
        if let Some(last) = w.last_announce
            && now < last + gap
        {
            self.timers.set(Timer::Announce(caller), Some(last + gap));
            return;
        }
        let Some(sounds) = config.sounds(&w.language) else {
            return;
        };
        let mut items: Vec<String> = Vec::new();
        let say = |n: u64| flow_engine::say_number(&w.language, n).unwrap_or_default();
        if !sounds.position.is_empty() {
            items.extend(sounds.position.iter().cloned());
            items.extend(say(position as u64));
        }
        if config.announce_wait && !sounds.wait.is_empty() {
            let minutes = ewt.as_secs().div_ceil(60).max(1);
            items.extend(sounds.wait.iter().cloned());
            items.extend(say(minutes));
            items.extend(sounds.minutes.iter().cloned());
        }
        if let Some(every) = every {
            self.timers.set(Timer::Announce(caller), Some(now + every));
        }
        // An open SMS offer or the overflow options are not talked over: the announcement
        // waits for the next interval.
        let open = w.asking();
        if open {
            return;
        }
        w.last_announce = Some(now);
        // The offer comes with the announcement, at its interval, while it may be made.
        if !open && self.offer_sms(caller, items.clone()) {
            return;
        }
        if items.is_empty() {
            return;
        }
        let Some(w) = self.queues.callers.get_mut(&caller) else {
            return;
        };
        w.playing = (tag, Playing::Announcement);
        let order = super::prompts(caller, &w.language, items, false, tag);
        self.media_order(caller, order);
    }

    /// The periodic announcement (not during the SMS offer, nor closer than the minimum gap to
    /// the last announcement: then it waits for the gap).
    pub(crate) fn periodic(&mut self, now: Instant, caller: CallId) {
        let tag = self.queues.tag();
        let Some(w) = self.queues.callers.get_mut(&caller) else {
            return;
        };
        let config = &self.queues.configs[w.queue];
        let (Some(every), gap) = (config.periodic_every, config.min_gap) else {
            return;
        };
        let busy = w.asking();
        if let Some(last) = w.last_announce.filter(|last| now < *last + gap) {
            self.timers.set(Timer::Periodic(caller), Some(last + gap));
            return;
        }
        self.timers.set(Timer::Periodic(caller), Some(now + every));
        let items = config
            .sounds(&w.language)
            .map(|s| s.periodic.clone())
            .unwrap_or_default();
        if busy || items.is_empty() {
            return;
        }
        w.last_announce = Some(now);
        w.playing = (tag, Playing::Announcement);
        let order = super::prompts(caller, &w.language, items, false, tag);
        self.media_order(caller, order);
    }

    /// Over capacity (callers per available agent, or the estimated wait, above the queue's
    /// limit) and the caller may take a callback: the overflow options play. False if not.
    pub(crate) fn offer_overflow(&mut self, caller: CallId) -> bool {
        let ewt = self.estimated_wait(caller);
        let tag = self.queues.tag();
        let q = &self.queues;
        let Some(w) = q.callers.get(&caller) else {
            return false;
        };
        let config = &q.configs[w.queue];
        let Some(limit) = config.overflow.filter(|_| w.callback) else {
            return false;
        };
        let waiting = q.lines[w.queue].waiting.len() as f64;
        let available = q
            .agents
            .iter()
            .filter(|a| a.status == AgentStatus::Available && a.logged_in_for(&config.name))
            .count() as f64;
        let crowded = limit.per_agent.is_some_and(|p| waiting > p * available);
        let slow = limit.ewt.is_some_and(|e| ewt > e);
        let Some(sounds) = config.sounds(&w.language).filter(|_| crowded || slow) else {
            return false;
        };
        let position = self.position(caller).unwrap_or(1);
        let items = sounds.overflow.clone();
        let Some(w) = self.queues.callers.get_mut(&caller) else {
            return false;
        };
        info!(%caller, position, ewt_s = ewt.as_secs(), "over capacity: overflow options");
        w.playing = (tag, Playing::Overflow);
        let order = super::prompts(caller, &w.language, items, true, tag);
        self.media_order(caller, order);
        self.queue_event(caller, QueueEventKind::Overflow { position, ewt });
        true
    }

    /// After the overflow options (1, or no key): waiting on, with the SMS offer if it may be
    /// made, else the music.
    fn keep_waiting(&mut self, caller: CallId) {
        if !self.offer_sms(caller, Vec::new()) {
            self.play_music(caller);
        }
    }

    /// The caller's place in line, from 1.
    pub(crate) fn position(&self, caller: CallId) -> Option<usize> {
        let w = self.queues.callers.get(&caller)?;
        let line = &self.queues.lines[w.queue].waiting;
        line.iter().position(|c| *c == caller).map(|i| i + 1)
    }

    /// The estimated wait: callers ahead (and this one) times the smoothed handle time, spread
    /// over the agents logged in (the default handle time before any call was handled).
    pub(crate) fn estimated_wait(&self, caller: CallId) -> Duration {
        let Some(w) = self.queues.callers.get(&caller) else {
            return Duration::ZERO;
        };
        let config = &self.queues.configs[w.queue];
        let position = self.position(caller).unwrap_or(1) as f64;
        let handle = self.queues.lines[w.queue]
            .handle
            .unwrap_or(config.default_handle.as_secs_f64());
        let agents = self
            .queues
            .agents
            .iter()
            .filter(|a| a.logged_in_for(&config.name))
            .count()
            .max(1) as f64;
        Duration::from_secs_f64(position * handle / agents)
    }
}

impl Waiting {
    /// An SMS offer or the overflow options are open: announcements wait.
    fn asking(&self) -> bool {
        matches!(self.playing.1, Playing::Offer | Playing::Overflow) || self.sms.listening
    }
}
