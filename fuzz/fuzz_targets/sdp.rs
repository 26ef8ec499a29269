//! An SDP offer (or answer) read, negotiated and answered: the parse either gives a usable
//! stream or an error for a 488, and the answer we write from it reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_ua::sdp::{answer_offer, offer};
use sip_ua::{AudioCodec, LocalMedia, MediaOffer};

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = MediaOffer::parse(data) else {
        return;
    };
    let local = LocalMedia {
        rtp: "192.0.2.10:20000".parse().expect("addr"),
        session_id: 1,
        version: 2,
    };
    let _ = parsed.accept_answer(&[AudioCodec::Pcmu, AudioCodec::Pcma]);
    let Ok(mut negotiated) = parsed.negotiate(&[AudioCodec::Pcma, AudioCodec::Pcmu]) else {
        return;
    };
    let ours = [0x5a; 30];
    if let Some(sdes) = &mut negotiated.srtp {
        sdes.ours = Some(ours);
    }
    let answer = answer_offer(data, &local, &negotiated);
    let back = MediaOffer::parse(answer.as_bytes()).expect("our answer reads back");
    assert_eq!(back.remote, local.rtp);
    assert_eq!(back.codecs, [negotiated.codec]);
    assert_eq!(back.rtcp_mux, negotiated.rtcp_mux);
    let srtp = negotiated.srtp.is_some();
    assert_eq!(
        back.sdes.map(|s| s.theirs),
        srtp.then_some(ours),
        "our key reads back"
    );
    let o = offer(&local, &[AudioCodec::Pcmu], 101);
    assert!(MediaOffer::parse(o.as_bytes()).is_ok());
});
