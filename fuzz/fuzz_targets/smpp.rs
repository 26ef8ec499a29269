//! What an SMSC sends: octets decoded as a PDU stream (frames, then bodies; a deliver_sm's
//! receipt or message read), and the same octets, cut in two, to a bound session, whose
//! answers must decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sms_gateway::smpp::pdu::{self, Body, Decoded, Pdu};
use sms_gateway::smpp::{Output, Session, SmppConfig, deliver};

fn bound() -> Session {
    let mut s = Session::new(SmppConfig {
        system_id: "ivrd".into(),
        password: "secret".into(),
        source: "+4930123".into(),
        ..SmppConfig::default()
    });
    while s.poll_output().is_some() {}
    s.handle_connected(0);
    let mut bind_seq = 0;
    while let Some(o) = s.poll_output() {
        if let Output::Transmit(octets) = o
            && let Ok(Some((Decoded::Pdu(p), _))) = pdu::decode(&octets)
        {
            bind_seq = p.seq;
        }
    }
    let resp = Pdu {
        status: 0,
        seq: bind_seq,
        body: Body::BindTransceiverResp {
            system_id: "SMSC".into(),
        },
    };
    s.handle_input(0, &resp.encode());
    while s.poll_output().is_some() {}
    s
}

fuzz_target!(|data: &[u8]| {
    let mut at = 0;
    while let Ok(Some((decoded, used))) = pdu::decode(&data[at..]) {
        if let Decoded::Pdu(Pdu {
            body: Body::DeliverSm(sm),
            ..
        }) = &decoded
        {
            let _ = deliver::read(sm);
        }
        if used == 0 {
            break;
        }
        at += used;
        if at >= data.len() {
            break;
        }
    }
    let mut session = bound();
    let cut = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    for (now, part) in [(1, &data[..cut]), (2, &data[cut..])] {
        session.handle_input(now, part);
        while let Some(o) = session.poll_output() {
            if let Output::Transmit(octets) = o {
                let decoded = pdu::decode(&octets).expect("we send PDUs we can read");
                assert!(matches!(decoded, Some((Decoded::Pdu(_), n)) if n == octets.len()));
            }
        }
    }
    session.handle_timeout(120_000);
    while session.poll_output().is_some() {}
});
