//! Two calls' media keyed by SDES, back to back (no sockets): with the right keys, a DTMF
//! tone played on one side is heard as a digit on the other (so the audio decrypts), an
//! RFC 4733 key press too, and RTCP flows; with a wrong key nothing is heard, no digit, no
//! report, and every packet is counted as refused.

use std::net::SocketAddr;
use std::time::Duration;

use media::rtcp::{self, NtpTime};
use media::srtp::MasterKey;
use media::{
    AcceptFrom, CallMedia, CallMediaConfig, Law, MediaEvent, PlayItem, RtcpMode, SrtpKeys, Tone,
};

const PHONE: &str = "192.0.2.1:4000";
const IVRD: &str = "192.0.2.2:5000";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

fn side(ssrc: u32, remote: &str, ours: u8, theirs: u8) -> CallMedia {
    CallMedia::new(CallMediaConfig {
        remote: Some(addr(remote)),
        accept_from: AcceptFrom::Sdp,
        law: Law::Ulaw,
        audio_payload_type: 0,
        telephone_event: Some(101),
        ssrc,
        first_sequence: 65_000,
        first_timestamp: 0,
        send_silence: true,
        inactivity_ticks: 0,
        reorder_window: 3,
        rtcp: RtcpMode::Mux,
        srtp: Some(SrtpKeys {
            ours: MasterKey([ours; 30]),
            theirs: MasterKey([theirs; 30]),
        }),
    })
}

/// The phone plays the DTMF tone for 5 (770 + 1336 Hz), then presses 9 by RFC 4733; ivrd
/// listens for `seconds`. Returns ivrd's digits and the phone's RTCP reports ivrd read.
fn call(ivrd_hears_with: u8) -> (Vec<char>, CallMedia) {
    let mut phone = side(1, IVRD, 0x11, 0x22);
    let mut ivrd = side(2, PHONE, 0x22, ivrd_hears_with);
    let five = Tone {
        hz: [770.0, 1336.0],
        level_dbm0: -10.0,
        on_ms: 0,
        off_ms: 0,
    };
    phone.play(vec![PlayItem::Tone(five, 100)], false);
    let mut packet = Vec::new();
    let mut digits = Vec::new();
    for tick in 0..500u64 {
        if tick == 100 {
            assert!(phone.send_digit('9'));
        }
        if phone.handle_tick(&mut packet).is_some() {
            assert!(!rtcp::is_rtcp(&packet));
            ivrd.handle_rtp(addr(PHONE), &packet);
        }
        let wall = NtpTime::from_unix(Duration::from_millis(1_796_000_000_000 + tick * 20));
        if phone.poll_rtcp(wall, &mut packet).is_some() {
            ivrd.handle_rtcp(addr(PHONE), &packet, wall);
        }
        let _ = ivrd.handle_tick(&mut packet);
        while let Some(e) = ivrd.poll_event() {
            if let MediaEvent::Digit { key, .. } = e {
                digits.push(key);
            }
        }
    }
    (digits, ivrd)
}

#[test]
fn with_the_right_keys_tones_presses_and_reports_get_through() {
    let (digits, ivrd) = call(0x11);
    assert_eq!(
        digits,
        ['5', '9'],
        "the in-band tone, then the RFC 4733 press"
    );
    assert_eq!(ivrd.srtp_refused(), (0, 0));
    assert!(ivrd.stats().delivered > 400, "{:?}", ivrd.stats());
    assert!(ivrd.rtcp_quality().received >= 1);
}

#[test]
fn with_a_wrong_key_nothing_is_heard() {
    let (digits, ivrd) = call(0x33);
    assert!(digits.is_empty(), "{digits:?}");
    assert_eq!(ivrd.stats().delivered, 0);
    assert_eq!(ivrd.rtcp_quality().received, 0);
    let (rtp, rtcp) = ivrd.srtp_refused();
    assert!(rtp > 490 && rtcp >= 1, "{rtp} {rtcp}");
}
