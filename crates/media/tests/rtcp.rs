//! Two calls' media back to back over a simulated network (a jumped clock, no sockets): each
//! sends RTP every 20 ms and RTCP every few seconds, the wire delays every datagram 40 ms and
//! drops some of one direction's RTP. Each side's RTCP then gives the 80 ms round trip, and the
//! loss the other side reported of its stream, on RTP + 1 and muxed on the RTP port alike.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use media::rtcp::{self, NtpTime};
use media::{AcceptFrom, CallMedia, CallMediaConfig, Law, RtcpMode};

const A_RTP: &str = "192.0.2.1:4000";
const B_RTP: &str = "192.0.2.2:5000";
/// One way.
const DELAY_MS: u64 = 40;
/// Wall clock at the start of the simulation (any day will do).
const EPOCH_MS: u64 = 1_796_000_000_000;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

fn rtcp_port(rtp: SocketAddr) -> SocketAddr {
    SocketAddr::new(rtp.ip(), rtp.port() + 1)
}

fn side(ssrc: u32, remote: SocketAddr, mux: bool) -> CallMedia {
    CallMedia::new(CallMediaConfig {
        remote: Some(remote),
        accept_from: AcceptFrom::Sdp,
        law: Law::Ulaw,
        audio_payload_type: 0,
        telephone_event: Some(101),
        ssrc,
        first_sequence: 1000,
        first_timestamp: 0,
        send_silence: true,
        inactivity_ticks: 0,
        reorder_window: 3,
        rtcp: match mux {
            true => RtcpMode::Mux,
            false => RtcpMode::Separate(rtcp_port(remote)),
        },
        srtp: None,
    })
}

fn wall(ms: u64) -> NtpTime {
    NtpTime::from_unix(Duration::from_millis(EPOCH_MS + ms))
}

/// A datagram on the wire: when it lands, where, from where, and whether it went to the RTCP
/// port.
struct InFlight {
    at_ms: u64,
    to_b: bool,
    from: SocketAddr,
    rtcp_port: bool,
    data: Vec<u8>,
}

/// Runs both sides for `seconds`, dropping every `drop_every`-th RTP packet from A to B.
fn run(mux: bool, seconds: u64, drop_every: u64) -> (CallMedia, CallMedia, u64) {
    let (a_addr, b_addr) = (addr(A_RTP), addr(B_RTP));
    let mut a = side(0xaaaa, b_addr, mux);
    let mut b = side(0xbbbb, a_addr, mux);
    let mut wire: VecDeque<InFlight> = VecDeque::new();
    let mut packet = Vec::new();
    let mut dropped = 0;
    let mut a_rtp_sent = 0u64;
    for tick in 0..seconds * 50 {
        let now_ms = tick * 20;
        while wire.front().is_some_and(|d| d.at_ms <= now_ms) {
            let Some(d) = wire.pop_front() else { break };
            let arrival = wall(d.at_ms);
            let to = if d.to_b { &mut b } else { &mut a };
            if d.rtcp_port || (to.rtcp_muxed() && rtcp::is_rtcp(&d.data)) {
                assert!(to.handle_rtcp(d.from, &d.data, arrival), "a report is read");
            } else {
                to.handle_rtp_at(d.from, &d.data, Some(Duration::from_millis(d.at_ms)));
            }
        }
        for (to_b, from) in [(true, a_addr), (false, b_addr)] {
            let me = if to_b { &mut a } else { &mut b };
            if me.handle_tick(&mut packet).is_some() {
                let lost = to_b && {
                    a_rtp_sent += 1;
                    a_rtp_sent.is_multiple_of(drop_every)
                };
                dropped += u64::from(lost);
                if !lost {
                    wire.push_back(InFlight {
                        at_ms: now_ms + DELAY_MS,
                        to_b,
                        from,
                        rtcp_port: false,
                        data: packet.clone(),
                    });
                }
            }
            if me.poll_rtcp(wall(now_ms), &mut packet).is_some() {
                wire.push_back(InFlight {
                    at_ms: now_ms + DELAY_MS,
                    to_b,
                    from: if mux { from } else { rtcp_port(from) },
                    rtcp_port: !mux,
                    data: packet.clone(),
                });
            }
        }
    }
    (a, b, dropped)
}

fn assert_round_trip(side: &CallMedia, name: &str) {
    let q = side.rtcp_quality();
    let rtt = q
        .rtt
        .unwrap_or_else(|| panic!("{name}: no round trip in {q:?}"));
    assert!(
        rtt.abs_diff(Duration::from_millis(2 * DELAY_MS)) < Duration::from_millis(1),
        "{name}: {rtt:?}"
    );
    assert!(q.max_rtt >= q.rtt);
}

#[test]
fn reports_on_their_own_port_give_the_round_trip_and_the_loss() {
    let (a, b, dropped) = run(false, 60, 25);
    assert_round_trip(&a, "A");
    assert_round_trip(&b, "B");
    let (qa, qb) = (a.rtcp_quality(), b.rtcp_quality());
    // Reports every 2.5–7.5 s: about a dozen in a minute, each one read by the other side.
    assert!((7..=20).contains(&qa.sent), "{qa:?}");
    assert_eq!(qb.received, qa.sent.min(qb.received));
    assert!(
        qb.received + 1 >= qa.sent,
        "at most one in flight: {qa:?} {qb:?}"
    );
    // B lost 1 in 25 of A's stream; its last report (up to 7.5 s old) says nearly so much.
    let reported = i64::from(qa.peer_lost.expect("B reported on A's stream"));
    let dropped = i64::from(u32::try_from(dropped).expect("small"));
    assert!(
        reported <= dropped && reported >= dropped - 20,
        "reported {reported}, dropped {dropped}"
    );
    let lost = i64::try_from(b.stats().lost).expect("small");
    assert!(
        lost <= dropped && lost + 1 >= dropped,
        "{lost} of {dropped}"
    );
    assert_eq!(qb.peer_lost, Some(0), "nothing lost from B to A");
}

#[test]
fn muxed_reports_are_told_apart_from_rtp_on_one_port() {
    let (a, b, _) = run(true, 30, 1_000_000);
    assert_round_trip(&a, "A");
    assert_round_trip(&b, "B");
    // Not one report was taken for RTP.
    assert_eq!(a.stats().invalid + b.stats().invalid, 0);
    assert_eq!(a.rtcp_quality().peer_lost, Some(0));
}

#[test]
fn reports_from_another_host_or_garbage_are_dropped() {
    let mut a = side(1, addr(B_RTP), false);
    let mut b = side(2, addr(A_RTP), false);
    let mut packet = Vec::new();
    for tick in 0..500 {
        let _ = b.handle_tick(&mut packet);
        if b.poll_rtcp(wall(tick * 20), &mut packet).is_some() {
            break;
        }
    }
    assert!(rtcp::is_rtcp(&packet), "B reported within 10 s");
    let stranger = addr("198.51.100.7:5001");
    assert!(!a.handle_rtcp(stranger, &packet, wall(0)));
    assert!(!a.handle_rtcp(rtcp_port(addr(B_RTP)), &packet[..7], wall(0)));
    assert_eq!(a.rtcp_quality().received, 0);
    assert!(a.handle_rtcp(rtcp_port(addr(B_RTP)), &packet, wall(0)));
    assert_eq!(a.rtcp_quality().received, 1);
    // With RTCP off, nothing is read or sent.
    let mut off = CallMedia::new(CallMediaConfig {
        rtcp: RtcpMode::Off,
        ..config_of(addr(B_RTP))
    });
    assert!(!off.handle_rtcp(rtcp_port(addr(B_RTP)), &packet, wall(0)));
    for tick in 0..500 {
        let _ = off.handle_tick(&mut packet);
        assert!(off.poll_rtcp(wall(tick * 20), &mut packet).is_none());
    }
}

fn config_of(remote: SocketAddr) -> CallMediaConfig {
    CallMediaConfig {
        remote: Some(remote),
        accept_from: AcceptFrom::Sdp,
        law: Law::Ulaw,
        audio_payload_type: 0,
        telephone_event: None,
        ssrc: 3,
        first_sequence: 0,
        first_timestamp: 0,
        send_silence: true,
        inactivity_ticks: 0,
        reorder_window: 3,
        rtcp: RtcpMode::Off,
        srtp: None,
    }
}
