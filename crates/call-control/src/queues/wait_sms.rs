//! The wait-time SMS offer, as contact centres configure it: offered on joining and again at
//! the announcement interval, only while the estimated wait is inside the queue's window, at
//! most `max_offers` times. `1` allows it (consent recorded, the SMS to the caller's number
//! through the outbox, "SMS sent", the caller stays in line); `2` denies it (never asked
//! again); another key is a wrong selection (and the offer again); no key in time is
//! `no_response` (back to the music, offered again while the limit allows).

use std::time::Instant;

use flow_engine::{ConsentAnswer, RequestId, SmsRequest};
use sip_ua::CallId;
use tracing::info;

use super::{Playing, QUEUE_TAG, QueueEventKind, TicketChange, WaitSmsEvent};
use crate::{Effect, Output, Switch, Timer};

/// Where a caller's offer stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Offer {
    pub(crate) status: Status,
    /// Times it was offered.
    pub(crate) offers: u32,
    /// Waiting for a key after the prompt.
    pub(crate) listening: bool,
}

/// The caller's answer so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Status {
    #[default]
    Unasked,
    NoResponse,
    Allowed,
    Denied,
}

impl Switch {
    /// Offers the wait-time SMS now if the caller may be asked; `before` plays first (an
    /// announcement). False if not offered.
    pub(crate) fn offer_sms(&mut self, caller: CallId, before: Vec<String>) -> bool {
        let ewt = self.estimated_wait(caller);
        let tag = self.queues.tag();
        let Some(w) = self.queues.callers.get_mut(&caller) else {
            return false;
        };
        let config = &self.queues.configs[w.queue];
        let Some(ws) = config.wait_sms else {
            return false;
        };
        let askable = matches!(w.sms.status, Status::Unasked | Status::NoResponse)
            && w.sms.offers < ws.max_offers
            && (ws.ewt_min..=ws.ewt_max).contains(&ewt)
            && !w.ani.is_empty()
            && w.ani != "anonymous";
        let Some(sounds) = config.sounds(&w.language).filter(|_| askable) else {
            return false;
        };
        w.sms.offers += 1;
        w.sms.listening = false;
        w.playing = (tag, Playing::Offer);
        let items = before.into_iter().chain(sounds.sms_consent.iter().cloned());
        let order = super::prompts(caller, &w.language, items, true, tag);
        info!(%caller, offers = w.sms.offers, ewt_s = ewt.as_secs(), "wait-time SMS offered");
        self.media_order(caller, order);
        self.queue_event(caller, QueueEventKind::WaitSms(WaitSmsEvent::Offered));
        true
    }

    /// The offer's prompt ended: listen for the answer.
    pub(crate) fn offer_played(&mut self, now: Instant, caller: CallId) {
        let Some(w) = self.queues.callers.get_mut(&caller) else {
            return;
        };
        let Some(ws) = self.queues.configs[w.queue].wait_sms else {
            return;
        };
        w.sms.listening = true;
        self.timers
            .set(Timer::SmsAnswer(caller), Some(now + ws.answer_timeout));
    }

    /// Whether the caller's keys answer the offer now.
    pub(crate) fn offer_open(&self, caller: CallId) -> bool {
        self.queues
            .callers
            .get(&caller)
            .is_some_and(|w| w.playing.1 == Playing::Offer || w.sms.listening)
    }

    /// A key while the offer is open.
    pub(crate) fn offer_answered(&mut self, caller: CallId, key: char) {
        self.timers.set(Timer::SmsAnswer(caller), None);
        let Some(w) = self.queues.callers.get_mut(&caller) else {
            return;
        };
        w.sms.listening = false;
        match key {
            '1' => {
                w.sms.status = Status::Allowed;
                self.consent(caller, ConsentAnswer::Granted, WaitSmsEvent::Allowed);
                self.send_wait_sms(caller);
                self.play_sent(caller);
            }
            '2' => {
                w.sms.status = Status::Denied;
                self.consent(caller, ConsentAnswer::Declined, WaitSmsEvent::Denied);
                self.play_music(caller);
            }
            _ => {
                // "Wrong selection", and the offer again (not counted as another offer).
                let tag = self.queues.tag();
                let Some(w) = self.queues.callers.get_mut(&caller) else {
                    return;
                };
                let config = &self.queues.configs[w.queue];
                let Some(sounds) = config.sounds(&w.language) else {
                    return;
                };
                let items = sounds.wrong_selection.iter().chain(&sounds.sms_consent);
                let order = super::prompts(caller, &w.language, items.cloned(), true, tag);
                w.playing = (tag, Playing::Offer);
                self.media_order(caller, order);
                self.queue_event(
                    caller,
                    QueueEventKind::WaitSms(WaitSmsEvent::WrongSelection),
                );
            }
        }
    }

    /// No key in time after the offer.
    pub(crate) fn offer_unanswered(&mut self, caller: CallId) {
        let Some(w) = self.queues.callers.get_mut(&caller) else {
            return;
        };
        if !w.sms.listening {
            return;
        }
        w.sms.listening = false;
        w.sms.status = Status::NoResponse;
        self.consent(caller, ConsentAnswer::NoResponse, WaitSmsEvent::NoResponse);
        self.play_music(caller);
    }

    fn consent(&mut self, caller: CallId, answer: ConsentAnswer, event: WaitSmsEvent) {
        let Some(w) = self.queues.callers.get(&caller) else {
            return;
        };
        let effect = Effect::RecordConsent {
            id: RequestId(QUEUE_TAG | self.queues.next_tag),
            number: w.ani.clone(),
            purpose: "wait_time_sms".into(),
            answer,
        };
        info!(%caller, ?answer, "wait-time SMS consent");
        let status = match answer {
            ConsentAnswer::Granted => "allowed",
            ConsentAnswer::NoResponse => "no_response",
            _ => "denied",
        };
        let id = w.ticket.clone();
        self.out.push_back(Output::Effect(caller, effect));
        self.ticket(TicketChange::Consent { id, status });
        self.queue_event(caller, QueueEventKind::WaitSms(event));
    }

    fn send_wait_sms(&mut self, caller: CallId) {
        let ewt = self.estimated_wait(caller);
        let id = RequestId(self.queues.tag());
        let Some(w) = self.queues.callers.get(&caller) else {
            return;
        };
        let config = &self.queues.configs[w.queue];
        let Some(sounds) = config.sounds(&w.language) else {
            return;
        };
        let call_id = self
            .calls
            .get(&caller)
            .map(|c| c.sip_call_id.clone())
            .unwrap_or_default();
        let minutes = ewt.as_secs().div_ceil(60).max(1);
        let text = sounds
            .sms_text
            .replace("{queue}", &config.name)
            .replace("{ewt_minutes}", &minutes.to_string());
        let ticket = TicketChange::SmsSent {
            id: w.ticket.clone(),
            text: text.clone(),
        };
        let request = SmsRequest {
            id,
            to: w.ani.clone(),
            text,
            purpose: "wait_time_sms".into(),
            idempotency_key: format!("{call_id}:queue/{}:wait_time_sms", config.name),
            coupon: None,
        };
        self.out
            .push_back(Output::Effect(caller, Effect::SendSms(request)));
        self.ticket(ticket);
        self.queue_event(caller, QueueEventKind::WaitSms(WaitSmsEvent::Sent));
    }

    fn play_sent(&mut self, caller: CallId) {
        let tag = self.queues.tag();
        let Some(w) = self.queues.callers.get_mut(&caller) else {
            return;
        };
        let sent = self.queues.configs[w.queue]
            .sounds(&w.language)
            .map(|s| s.sms_sent.clone())
            .unwrap_or_default();
        w.playing = (tag, Playing::Sent);
        let order = super::prompts(caller, &w.language, sent, false, tag);
        self.media_order(caller, order);
    }
}
