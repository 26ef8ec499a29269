//! Each provider's exact request shape, reply classification and callback parsing.

use sms_gateway::provider::kannel::{self, Kannel};
use sms_gateway::provider::template::{self, BodyKind, Template};
use sms_gateway::provider::twilio::{self, Twilio};
use sms_gateway::provider::{HttpMethod, HttpReply, Provider};
use sms_gateway::text::Encoding;
use sms_gateway::{Country, E164, MessageId, ReceiptStatus, SmsError, Submission, SubmitResult};

fn sub(text: &str, encoding: Encoding) -> Submission {
    Submission {
        id: MessageId(42),
        key: "call-1:isp/balance:balance".into(),
        call_id: Some("call-1".into()),
        purpose: "balance".into(),
        to: E164::parse("+4915112345678", Country::by_iso("DE").expect("known")).expect("valid"),
        text: text.into(),
        encoding,
        segments: 1,
        attempt: 1,
    }
}

fn pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn reply(status: u16, body: &str) -> HttpReply {
    HttpReply {
        status,
        body: body.into(),
    }
}

#[test]
fn kannel_sendsms() {
    let k = Kannel {
        sendsms_url: "http://127.0.0.1:13013/cgi-bin/sendsms".into(),
        username: "ivrd".into(),
        password: "s e/cret".into(),
        from: "IVRD".into(),
    };
    let r = k.request(
        &sub("Баланс: 12 €", Encoding::Ucs2),
        "http://127.0.0.1:8088/",
    );
    assert_eq!(r.method, HttpMethod::Get);
    assert!(r.url.starts_with("http://127.0.0.1:13013/cgi-bin/sendsms?username=ivrd&password=s+e%2Fcret&from=IVRD&to=%2B4915112345678&text=%D0%91"), "{}", r.url);
    assert!(r.url.contains("&charset=UTF-8&coding=2&dlr-mask=31&dlr-url=http%3A%2F%2F127.0.0.1%3A8088%2Fsms%2Fkannel%2Fdlr%3Fid%3D42%26type%3D%25d"), "{}", r.url);
    assert_eq!(
        k.classify(&reply(202, "0: Accepted for delivery")),
        SubmitResult::Accepted { provider_id: None }
    );
    assert_eq!(
        k.classify(&reply(202, "3: Queued for later delivery")),
        SubmitResult::Accepted { provider_id: None }
    );
    assert!(matches!(
        k.classify(&reply(403, "Authorization failed for sendsms")),
        SubmitResult::Retryable {
            ambiguous: false,
            ..
        }
    ));
    assert!(matches!(
        k.classify(&reply(400, "Missing receiver number")),
        SubmitResult::Permanent { .. }
    ));
    assert!(matches!(
        k.classify(&reply(503, "")),
        SubmitResult::Retryable { .. }
    ));
    let dlr = kannel::receipt(&pairs("id=42&type=1&at=1700000000&reply=ACK")).expect("parses");
    assert_eq!(
        (dlr.id, dlr.status),
        (MessageId(42), ReceiptStatus::Delivered)
    );
    assert!(matches!(
        kannel::receipt(&pairs("id=42&type=16")).map(|r| r.status),
        Ok(ReceiptStatus::Failed(_))
    ));
    assert_eq!(
        kannel::receipt(&pairs("id=42&type=8")).map(|r| r.status),
        Ok(ReceiptStatus::InTransit)
    );
    for garbage in ["", "id=x&type=1", "id=42", "id=42&type=3"] {
        assert!(
            matches!(
                kannel::receipt(&pairs(garbage)),
                Err(SmsError::BadCallback(_))
            ),
            "{garbage}"
        );
    }
    let mo = kannel::inbound(&pairs("from=+4915112345678&to=12345&text=STOP")).expect("parses");
    assert_eq!(
        (mo.from.as_str(), mo.text.as_str()),
        ("+4915112345678", "STOP")
    );
    assert!(kannel::inbound(&pairs("to=1&text=x")).is_err());
}

#[test]
fn twilio_messages_api() {
    let t = Twilio {
        api_base: "https://api.twilio.com".into(),
        account_sid: "AC123".into(),
        auth_token: "tok".into(),
        from: "+15005550006".into(),
    };
    let r = t.request(&sub("Hi & bye", Encoding::Gsm7), "https://ivr.example");
    assert_eq!(r.method, HttpMethod::Post);
    assert_eq!(
        r.url,
        "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"
    );
    assert_eq!(r.basic_auth, Some(("AC123".into(), "tok".into())));
    let (ct, body) = r.body.expect("form");
    assert_eq!(ct, "application/x-www-form-urlencoded");
    assert_eq!(
        String::from_utf8(body).expect("utf-8"),
        "To=%2B4915112345678&From=%2B15005550006&Body=Hi+%26+bye&StatusCallback=https%3A%2F%2Fivr.example%2Fsms%2Ftwilio%2Fstatus%3Fid%3D42"
    );
    assert_eq!(
        t.classify(&reply(201, r#"{"sid":"SM1","status":"queued"}"#)),
        SubmitResult::Accepted {
            provider_id: Some("SM1".into())
        }
    );
    assert!(matches!(
        t.classify(&reply(400, r#"{"code":21211,"message":"invalid To"}"#)),
        SubmitResult::Permanent { .. }
    ));
    assert!(matches!(
        t.classify(&reply(429, r#"{"code":20429}"#)),
        SubmitResult::Retryable { .. }
    ));
    let status = twilio::receipt(&pairs(
        "id=42&MessageSid=SM1&MessageStatus=undelivered&ErrorCode=30003",
    ))
    .expect("parses");
    assert!(matches!(status.status, ReceiptStatus::Failed(_)));
    let mms = twilio::inbound(&pairs(
        "From=%2B4915112345678&To=%2B15005550006&Body=photo&NumMedia=1&MediaUrl0=https://m/1",
    ))
    .expect("parses");
    assert_eq!(mms.media, ["https://m/1"]);
    // Found by schemathesis against the documented callbacks: a count that is not one, and
    // an id no message can have (ids are SQLite rowids), are refused, not taken as 0 or kept.
    let bad_count = twilio::inbound(&pairs("From=%2B4915112345678&NumMedia=-1"));
    assert!(bad_count.is_err(), "NumMedia=-1 refused");
    let over = twilio::inbound(&pairs("From=%2B4915112345678&NumMedia=11"));
    assert!(over.is_err(), "more media than Twilio sends refused");
    let too_big = twilio::receipt(&pairs("id=9223372036854775808&MessageStatus=sent"));
    assert!(too_big.is_err(), "an id above i64::MAX refused");
    let biggest = twilio::receipt(&pairs("id=9223372036854775807&MessageStatus=sent"));
    assert!(biggest.is_ok(), "i64::MAX is an id");
}

#[test]
fn http_template() {
    let t = Template {
        url: "https://gw.example/send".into(),
        body: BodyKind::Json,
        fields: vec![
            ("to".into(), "{to_digits}".into()),
            ("content".into(), "{text}".into()),
            ("callback".into(), "{callback}".into()),
        ],
        headers: vec![("Authorization".into(), "Bearer k".into())],
        from: "IVRD".into(),
        id_pointer: Some("/messages/0/apiMessageId".into()),
    };
    let r = t.request(&sub("hi \"there\"", Encoding::Gsm7), "http://cb");
    let (ct, body) = r.body.expect("json");
    assert_eq!(ct, "application/json");
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(json["to"], "4915112345678");
    assert_eq!(json["content"], "hi \"there\"");
    assert_eq!(json["callback"], "http://cb/sms/http/dlr?id=42");
    assert_eq!(
        r.headers,
        [("Authorization".to_string(), "Bearer k".to_string())]
    );
    assert_eq!(
        t.classify(&reply(202, r#"{"messages":[{"apiMessageId":"abc"}]}"#)),
        SubmitResult::Accepted {
            provider_id: Some("abc".into())
        }
    );
    assert!(matches!(
        t.classify(&reply(422, "bad")),
        SubmitResult::Permanent { .. }
    ));
    assert_eq!(
        template::receipt(&pairs("id=42&status=delivered")).map(|r| r.status),
        Ok(ReceiptStatus::Delivered)
    );
}
