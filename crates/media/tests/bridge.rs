//! Two calls' media bridged as the media worker joins them on its tick: a PCMU leg and a PCMA
//! leg, audio arriving in SIPp's bursty pairs, a key press on one leg sent on the other at its
//! own telephone-event payload type, and a prompt to one leg heard instead of the other side.

use std::net::SocketAddr;
use std::sync::Arc;

use media::rfc4733::{EventDecoder, encode_key};
use media::rtp::{self, FRAME, RtpSender};
use media::{AcceptFrom, CallMedia, CallMediaConfig, Law, MediaEvent, PlayItem, PromptFrames};

fn leg(peer: &str, law: Law, pt: u8, te: u8) -> CallMedia {
    CallMedia::new(CallMediaConfig {
        remote: Some(peer.parse().expect("addr")),
        accept_from: AcceptFrom::Sdp,
        law,
        audio_payload_type: pt,
        telephone_event: Some(te),
        ssrc: u32::from(pt) + 1,
        first_sequence: 1,
        first_timestamp: 0,
        send_silence: true,
        inactivity_ticks: 0,
        reorder_window: 3,
        rtcp: media::RtcpMode::Off,
        srtp: None,
    })
}

/// One worker tick for a bridge: each leg's heard frame goes to the other, then both tick.
fn tick(a: &mut CallMedia, b: &mut CallMedia) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let (from_a, from_b) = (a.take_heard(), b.take_heard());
    b.send_heard(from_a);
    a.send_heard(from_b);
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    let sa = a.handle_tick(&mut pa).map(|_| pa);
    let sb = b.handle_tick(&mut pb).map(|_| pb);
    (sa, sb)
}

/// 1 kHz at about −10 dBm0, 20 ms at a time from sample `n`.
fn tone(n: usize) -> Vec<i16> {
    (n..n + FRAME)
        .map(|i| (8000.0 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 8000.0).sin()) as i16)
        .collect()
}

fn rms(pcm: &[i16]) -> f64 {
    (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len() as f64).sqrt()
}

#[test]
fn pcmu_caller_is_heard_by_a_pcma_agent_through_the_jitter_buffer() {
    let caller: SocketAddr = "127.0.0.1:6000".parse().expect("addr");
    let mut a = leg("127.0.0.1:6000", Law::Ulaw, 0, 101);
    let mut b = leg("127.0.0.1:7000", Law::Alaw, 8, 96);
    a.bridge();
    b.bridge();
    let mut tx = RtpSender::new(0xca11, 100, 0);
    let mut heard = Vec::new();
    let mut packet = Vec::new();
    let mut seqs = Vec::new();
    for i in 0..100 {
        // SIPp's pacing: two packets every other tick.
        if i % 2 == 0 {
            for k in 0..2 {
                let pcm = tone((i + k) * FRAME);
                let mut payload = [0u8; FRAME];
                Law::Ulaw.encode_into(&pcm, &mut payload);
                tx.packet(0, false, &payload, None, &mut packet)
                    .expect("build");
                tx.advance(FRAME as u32);
                a.handle_rtp(caller, &packet);
            }
        }
        let (_, to_agent) = tick(&mut a, &mut b);
        let p = to_agent.expect("the agent's leg sends every tick");
        let (h, payload) = rtp::parse(&p).expect("rtp");
        assert_eq!(h.payload_type, 8, "PCMA to the agent");
        seqs.push(h.sequence);
        heard.extend(payload.iter().map(|&c| Law::Alaw.decode(c)));
    }
    assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
    // After the jitter buffer's first 40 ms, the tone arrives whole: no gaps from the bursts.
    let steady = &heard[10 * FRAME..];
    let level = rms(steady);
    assert!(
        (5300.0..6000.0).contains(&level),
        "RMS {level} (the tone's is 5657)"
    );
    let (overflow, underflow) = a.bridge_stats().expect("bridged");
    assert_eq!((overflow, underflow), (0, 0));
}

#[test]
fn a_key_on_one_leg_is_sent_on_the_other_at_its_payload_type() {
    let caller: SocketAddr = "127.0.0.1:6000".parse().expect("addr");
    let mut a = leg("127.0.0.1:6000", Law::Ulaw, 0, 101);
    let mut b = leg("127.0.0.1:7000", Law::Alaw, 8, 96);
    a.bridge();
    b.bridge();
    let mut tx = RtpSender::new(0xca11, 1, 0);
    let mut packet = Vec::new();
    for p in encode_key('5', 800, 10).expect("key") {
        tx.packet(101, false, &p.to_bytes(), Some(1600), &mut packet)
            .expect("build");
        a.handle_rtp(caller, &packet);
    }
    let mut relayed = false;
    while let Some(event) = a.poll_event() {
        if let MediaEvent::Digit { key, .. } = event {
            assert_eq!(key, '5', "the flow still hears the caller's keys");
            relayed = b.send_digit(key);
        }
    }
    assert!(relayed);
    let mut decoder = EventDecoder::new();
    let mut keys = Vec::new();
    for _ in 0..12 {
        let (_, to_agent) = tick(&mut a, &mut b);
        let p = to_agent.expect("a packet");
        let (h, payload) = rtp::parse(&p).expect("rtp");
        if h.payload_type == 96 {
            keys.extend(
                decoder
                    .handle_packet(h.timestamp, h.marker, payload)
                    .map(|d| d.key),
            );
        }
    }
    assert_eq!(keys, ['5']);
}

#[test]
fn a_prompt_to_one_leg_is_heard_instead_of_the_other_side() {
    let caller: SocketAddr = "127.0.0.1:6000".parse().expect("addr");
    let mut a = leg("127.0.0.1:6000", Law::Ulaw, 0, 101);
    let mut b = leg("127.0.0.1:7000", Law::Alaw, 8, 96);
    a.bridge();
    b.bridge();
    let prompt = Arc::new(PromptFrames::from_pcm(&vec![0i16; FRAME * 10]));
    b.play(vec![PlayItem::Prompt(prompt)], false);
    let mut tx = RtpSender::new(0xca11, 1, 0);
    let mut packet = Vec::new();
    let mut levels = Vec::new();
    for i in 0..20 {
        let mut payload = [0u8; FRAME];
        Law::Ulaw.encode_into(&tone(i * FRAME), &mut payload);
        tx.packet(0, false, &payload, None, &mut packet)
            .expect("build");
        tx.advance(FRAME as u32);
        a.handle_rtp(caller, &packet);
        let (_, to_agent) = tick(&mut a, &mut b);
        let p = to_agent.expect("a packet");
        let (_, payload) = rtp::parse(&p).expect("rtp");
        let pcm: Vec<i16> = payload.iter().map(|&c| Law::Alaw.decode(c)).collect();
        levels.push(rms(&pcm));
    }
    assert!(
        levels[..10].iter().all(|&l| l < 100.0),
        "the (silent) prompt: {levels:?}"
    );
    assert!(
        levels[12..].iter().all(|&l| l > 5000.0),
        "then the caller: {levels:?}"
    );
}
