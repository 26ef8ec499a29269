//! A stream of datagrams on a call's RTP and RTCP ports (after a mode byte, each datagram as
//! `how, length (2 octets, big-endian), octets`; `how` says from where, to which port, when
//! and whether a tick follows): RTP, RFC 4733 events,
//! muxed or separate RTCP, all read by the parsers and by a call's media as the worker feeds
//! them, with ticks between. Nothing panics; what is not from the peer is not heard.
#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use media::rfc4733::EventDecoder;
use media::rtcp::{self, NtpTime};
use media::srtp::{MasterKey, SrtpContext};
use media::{AcceptFrom, CallMedia, CallMediaConfig, Law, RtcpMode, SrtpKeys};

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let peer = addr("192.0.2.1:4000");
    let accept_from = match mode % 3 {
        0 => AcceptFrom::Sdp,
        1 => AcceptFrom::SdpHost,
        _ => AcceptFrom::FirstSource,
    };
    let mut call = CallMedia::new(CallMediaConfig {
        remote: Some(peer),
        accept_from,
        law: if mode & 4 == 0 { Law::Ulaw } else { Law::Alaw },
        audio_payload_type: if mode & 4 == 0 { 0 } else { 8 },
        telephone_event: Some(101),
        ssrc: 7,
        first_sequence: 1,
        first_timestamp: 0,
        send_silence: true,
        inactivity_ticks: 50,
        reorder_window: 3,
        // SRTP with mode bit 16: what arrives must then pass its tag first.
        srtp: (mode & 16 != 0).then_some(SrtpKeys {
            ours: MasterKey([1; 30]),
            theirs: MasterKey([2; 30]),
        }),
        rtcp: if mode & 8 == 0 {
            RtcpMode::Mux
        } else {
            RtcpMode::Separate(addr("192.0.2.1:4001"))
        },
    });
    let mut events = EventDecoder::new();
    let mut peer_tx = SrtpContext::new(&MasterKey([2; 30]));
    let mut out = Vec::new();
    let mut ms = 0u64;
    let mut rest = data;
    while let [how, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (datagram, next) = tail.split_at(len);
        rest = next;
        let how = *how;
        let _ = media::rtp::parse(datagram);
        let _ = rtcp::parse(datagram);
        let mut plain = Vec::new();
        let mut srtp = SrtpContext::new(&MasterKey([2; 30]));
        let _ = srtp.unprotect(datagram, &mut plain);
        let _ = srtp.unprotect_rtcp(datagram, &mut plain);
        if let Ok((h, payload)) = media::rtp::parse(datagram) {
            let _ = events.handle_packet(h.timestamp, h.marker, payload);
        }
        let from = match how & 3 {
            0 => peer,
            1 => addr("192.0.2.1:4001"),
            2 => addr("192.0.2.1:4100"),
            _ => addr("198.51.100.9:4000"),
        };
        ms += u64::from(how >> 3);
        let at = Duration::from_millis(1_796_000_000_000 + ms);
        // With how bit 0x40 on an SRTP call, the datagram goes out protected with the peer's
        // key, as the peer would send it: authentic packets reach what follows the checks.
        let mut sealed = datagram.to_vec();
        let datagram = match (mode & 16 != 0, how & 0x40 != 0) {
            (true, true) => {
                let protected = match rtcp::is_rtcp(datagram) {
                    true => peer_tx.protect_rtcp(&mut sealed),
                    false => peer_tx.protect(&mut sealed),
                };
                if protected.is_ok() {
                    &sealed[..]
                } else {
                    datagram
                }
            }
            _ => datagram,
        };
        let rtcp_port = how & 4 != 0;
        if rtcp_port || (call.rtcp_muxed() && rtcp::is_rtcp(datagram)) {
            let _ = call.handle_rtcp(from, datagram, NtpTime::from_unix(at));
        } else {
            call.handle_rtp_at(from, datagram, Some(at));
        }
        if how & 0x80 != 0 {
            let _ = call.handle_tick(&mut out);
            let _ = call.poll_rtcp(NtpTime::from_unix(at), &mut out);
            while call.poll_event().is_some() {}
        }
    }
    for i in 0..300u64 {
        let _ = call.handle_tick(&mut out);
        let at = Duration::from_millis(1_796_000_000_000 + ms + i * 20);
        let _ = call.poll_rtcp(NtpTime::from_unix(at), &mut out);
        while call.poll_event().is_some() {}
    }
    let _ = call.rtcp_quality();
    let _ = call.stats();
});
