//! Criterion benches: per-frame cost of the single detector and per-tick cost of the bank.
//!
//! `cargo bench -p ivrd-benches --bench dtmf`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dtmf_detector::testkit::{music, to_pcm};
use dtmf_detector::{DtmfBank, DtmfDetector, SampleRate};

fn dtmf(c: &mut Criterion) {
    let pcm = to_pcm(&music(SampleRate::Narrowband, 1.0, 3));
    let mut group = c.benchmark_group("dtmf");
    group.throughput(Throughput::Elements(160));
    let mut det = DtmfDetector::with_rate(SampleRate::Narrowband);
    let mut frames = pcm.chunks_exact(160).cycle();
    group.bench_function("single/20ms-frame", |b| {
        b.iter(|| {
            det.handle_samples(frames.next().expect("cycle never ends"));
            while det.poll_event().is_some() {}
        });
    });
    let channels = 64;
    let tick: Vec<i16> = (0..160 * channels).map(|i| pcm[i % pcm.len()]).collect();
    let mut bank = DtmfBank::with_rate(SampleRate::Narrowband, channels);
    group.throughput(Throughput::Elements((160 * channels) as u64));
    group.bench_function("bank64/20ms-tick", |b| {
        b.iter(|| {
            bank.handle_interleaved(&tick).expect("whole frames");
            while bank.poll_event().is_some() {}
        });
    });
    group.finish();
}

criterion_group!(benches, dtmf);
criterion_main!(benches);
