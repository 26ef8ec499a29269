//! The media worker's detection cost per call: 2,000 calls ticked every 20 ms, each call's
//! received frame to its own detector (as `media::CallMedia` does, with the played prompt fed
//! as the echo reference), or every call's frame and reference to one bank in lockstep
//! (interleaving included: the worker has to do it). Interleaved rounds; the worst and the median.

use std::time::Duration;

use dtmf_detector::{DtmfBank, DtmfDetector, SampleRate};
use ivrd_benches::time;

const RATE: SampleRate = SampleRate::Narrowband;
const FRAME: usize = 160;

/// Per call and tick, in µs, for a round of `ticks` ticks over `calls` calls.
fn per_call_tick(d: Duration, calls: usize, ticks: usize) -> f64 {
    d.as_secs_f64() * 1e6 / (calls * ticks) as f64
}

/// `received` and `played` give every call's audio (the same workload shifted per call).
pub(crate) fn worker(received: &[i16], played: &[i16], calls: usize, rounds: usize) {
    let ticks = 150; // 3 s of every call per round
    let span = ticks * FRAME;
    let planar = |src: &[i16]| -> Vec<Vec<i16>> {
        (0..calls)
            .map(|c| {
                src.iter()
                    .cycle()
                    .skip(c * 997)
                    .take(span)
                    .copied()
                    .collect()
            })
            .collect()
    };
    let (heard, prompt) = (planar(received), planar(played));
    println!(
        "== Media worker detection cost at {calls} calls, one core, {rounds} interleaved rounds \
         of {ticks} ticks (µs per call per 20 ms tick; worst and median)"
    );
    let (mut single, mut with_ref, mut bank) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        single.push(
            time(|| {
                let mut dets: Vec<_> = (0..calls).map(|_| DtmfDetector::with_rate(RATE)).collect();
                let mut n = 0;
                for t in 0..ticks {
                    for (d, h) in dets.iter_mut().zip(&heard) {
                        d.handle_samples(&h[t * FRAME..(t + 1) * FRAME]);
                        while d.poll_event().is_some() {
                            n += 1;
                        }
                    }
                }
                n
            })
            .1,
        );
        with_ref.push(
            time(|| {
                let mut dets: Vec<_> = (0..calls).map(|_| DtmfDetector::with_rate(RATE)).collect();
                let mut n = 0;
                for t in 0..ticks {
                    for ((d, h), p) in dets.iter_mut().zip(&heard).zip(&prompt) {
                        d.handle_reference(&p[t * FRAME..(t + 1) * FRAME]);
                        d.handle_samples(&h[t * FRAME..(t + 1) * FRAME]);
                        while d.poll_event().is_some() {
                            n += 1;
                        }
                    }
                }
                n
            })
            .1,
        );
        bank.push(
            time(|| {
                let mut b = DtmfBank::with_rate(RATE, calls);
                let mut tick = vec![0i16; FRAME * calls];
                let mut n = 0;
                for t in 0..ticks {
                    for (c, p) in prompt.iter().enumerate() {
                        b.handle_reference(c, &p[t * FRAME..(t + 1) * FRAME])
                            .expect("channel");
                    }
                    for (c, h) in heard.iter().enumerate() {
                        for (i, s) in h[t * FRAME..(t + 1) * FRAME].iter().enumerate() {
                            tick[i * calls + c] = *s;
                        }
                    }
                    b.handle_interleaved(&tick).expect("whole frames");
                    while b.poll_event().is_some() {
                        n += 1;
                    }
                }
                n
            })
            .1,
        );
    }
    let show = |name: &str, xs: &[Duration]| {
        let mut v: Vec<f64> = xs.iter().map(|d| per_call_tick(*d, calls, ticks)).collect();
        v.sort_by(f64::total_cmp);
        let (worst, median) = (v[v.len() - 1], v[v.len() / 2]);
        println!(
            "{name:<34} worst {worst:>6.2} µs  median {median:>6.2} µs  ({:.1} % of a core at {calls} calls, worst)",
            worst * calls as f64 / 20_000.0 * 100.0
        );
        worst
    };
    let a = show("one detector per call", &single);
    let b = show("one detector per call + echo ref", &with_ref);
    let c = show("one bank + echo ref (interleaving incl.)", &bank);
    println!(
        "per-call detectors / bank, worst rounds: {:.2}× with the echo reference on both \
         ({:.2}× against per-call detectors without it)\n",
        b / c,
        a / c
    );
}
