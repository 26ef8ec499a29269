//! What an SMS provider posts back: a query or form string read as pairs, then as a delivery
//! receipt and as an inbound message by each provider's parser (Kannel, Twilio, the HTTP
//! template), its Twilio signature checked, and the provider's submit response classified.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sms_gateway::provider::{self, kannel, template, twilio};

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(data).into_owned().collect();
    let _ = kannel::receipt(&pairs);
    let _ = kannel::inbound(&pairs);
    let _ = twilio::receipt(&pairs);
    let _ = twilio::inbound(&pairs);
    let _ = template::receipt(&pairs);
    let _ = template::inbound(&pairs);
    let url = "https://ivrd.example.com/sms/twilio/status";
    let signature = twilio::signature("token", url, &pairs);
    assert!(twilio::signature_valid("token", url, &pairs, &signature));
    let status = data.first().map_or(200, |&b| 100 + u16::from(b) * 2);
    let _ = provider::classify_status(status, &String::from_utf8_lossy(data));
});
