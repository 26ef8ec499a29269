//! Single-channel streaming detector.

use std::collections::VecDeque;

use crate::classify::{Amplitudes, classify, powers_and_amplitudes};
use crate::config::{DetectorConfig, Limits};
use crate::echo::{
    ENERGY_BLOCKS, EchoOrHarmonics, EchoReference, ReceivedEnergy, mark_pressed, pressed_slots,
};
use crate::harmonic::{MAX_WINDOW, WINDOW_BLOCKS, Window};
use crate::simd::{Kernel, Vectorised};
use crate::spectrum::{BlockSpectrum, Coefficients, MAX_BLOCK};
use crate::tracker::Tracker;
use crate::vector::F32x16;
use crate::{Digit, Event, SampleRate, SampleTime};

/// A digit found by [`DtmfDetector::decode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigitSpan {
    /// The key.
    pub digit: Digit,
    /// Estimated tone onset.
    pub onset: SampleTime,
    /// Estimated end of the tone.
    pub end: SampleTime,
}

/// Detects DTMF in one audio stream. Feed samples with [`handle_samples`](Self::handle_samples)
/// in pieces of any size, then drain [`poll_event`](Self::poll_event).
///
/// Events lag the audio by the three confirming blocks (about 30 ms after the onset); their
/// times are the estimated tone onset and end, in samples from the first sample fed.
#[derive(Clone, Debug)]
pub struct DtmfDetector {
    coeffs: Coefficients,
    kernel: Kernel,
    limits: Limits,
    window: Window,
    /// The last three blocks for the harmonic veto: block `k` in slot `k % 3`.
    history: [i16; MAX_WINDOW],
    tracker: Tracker,
    /// The last block's bin amplitudes.
    previous: Amplitudes,
    pending: [i16; MAX_BLOCK],
    pending_len: usize,
    /// Samples consumed into whole blocks so far.
    position: u64,
    spectrum: BlockSpectrum,
    events: VecDeque<Event>,
    /// What was played on this call, once [`handle_reference`](Self::handle_reference) is used.
    echo: Option<EchoReference>,
    /// AC energy of the last blocks, block `k` in slot `k % ENERGY_BLOCKS`, for the echo rule.
    energies: Energies,
}

/// A single channel's received block energies.
#[derive(Clone, Debug)]
struct Energies([f32; ENERGY_BLOCKS]);

impl ReceivedEnergy for &Energies {
    fn energy(&self, block: u64) -> f32 {
        self.0[(block % ENERGY_BLOCKS as u64) as usize]
    }
}

impl DtmfDetector {
    /// A detector with `config`'s thresholds.
    pub fn new(config: &DetectorConfig) -> Self {
        let coeffs = Coefficients::new(config.rate);
        Self {
            window: Window::new(&coeffs),
            history: [0; MAX_WINDOW],
            coeffs,
            kernel: Kernel::detect(),
            limits: Limits::new(config),
            tracker: Tracker::default(),
            previous: Amplitudes::default(),
            pending: [0; MAX_BLOCK],
            pending_len: 0,
            position: 0,
            spectrum: BlockSpectrum::default(),
            events: VecDeque::with_capacity(4),
            echo: None,
            energies: Energies([0.0; ENERGY_BLOCKS]),
        }
    }

    /// A detector with default thresholds at `rate`.
    pub fn with_rate(rate: SampleRate) -> Self {
        Self::new(&DetectorConfig::at_rate(rate))
    }

    /// The sample rate this detector expects.
    pub fn rate(&self) -> SampleRate {
        self.coeffs.rate
    }

    /// Stream time of the next sample to be fed.
    pub fn now(&self) -> SampleTime {
        SampleTime(self.position + self.pending_len as u64)
    }

    /// Feeds samples. Any length, including zero.
    pub fn handle_samples(&mut self, mut pcm: &[i16]) {
        let n = self.coeffs.block_len;
        if self.pending_len > 0 {
            let take = (n - self.pending_len).min(pcm.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&pcm[..take]);
            self.pending_len += take;
            pcm = &pcm[take..];
            if self.pending_len < n {
                return;
            }
            let block = self.pending;
            self.process_block(&block[..n]);
            self.pending_len = 0;
        }
        let mut blocks = pcm.chunks_exact(n);
        for block in &mut blocks {
            self.process_block(block);
        }
        let rest = blocks.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    /// Feeds what the media server played on this call (before encoding), for the echo rule:
    /// a run whose two tones the played audio held as strongly, less the echo loss the line
    /// has shown, at one delay of up to 250 ms, is taken as the line's echo of the prompt and
    /// not reported (see `echo.rs`). Feed each
    /// played frame just before or just after the received frame of the same interval; an
    /// interval with nothing played may be skipped (it counts as silence).
    pub fn handle_reference(&mut self, played: &[i16]) {
        let now = self.now().0;
        let echo = self
            .echo
            .get_or_insert_with(|| EchoReference::new(&self.coeffs, &self.window));
        echo.align(now, played.len() as u64);
        echo.feed(played);
    }

    /// Ends the stream: analyses the last partial block (padded with silence) and releases a
    /// digit still held. The detector can be reused afterwards as a fresh stream continuing the
    /// same time line.
    pub fn finish(&mut self) {
        if self.pending_len > 0 {
            let n = self.coeffs.block_len;
            let mut block = self.pending;
            block[self.pending_len..n].fill(0);
            self.process_block(&block[..n]);
            self.pending_len = 0;
        }
        self.tracker
            .finish(self.coeffs.block_len as u64, &mut self.events);
        self.tracker = Tracker::default();
    }

    /// Decodes a whole recording, fed in 20 ms frames as a media path would, and returns every
    /// digit with its onset and end.
    pub fn decode(config: &DetectorConfig, pcm: &[i16]) -> Vec<DigitSpan> {
        Self::decode_with_reference(config, pcm, &[])
    }

    /// As [`decode`](Self::decode), with `reference` (what was played, on the same time line)
    /// fed to [`handle_reference`](Self::handle_reference) frame by frame before the audio.
    /// An empty reference feeds nothing.
    pub fn decode_with_reference(
        config: &DetectorConfig,
        pcm: &[i16],
        reference: &[i16],
    ) -> Vec<DigitSpan> {
        let mut detector = Self::new(config);
        let mut found = Vec::new();
        let frame = config.rate.block_len() * 2;
        for (k, piece) in pcm.chunks(frame).enumerate() {
            if !reference.is_empty() {
                let played = reference.get(k * frame..).unwrap_or(&[]);
                detector.handle_reference(&played[..played.len().min(piece.len())]);
            }
            detector.handle_samples(piece);
            detector.collect_released(&mut found);
        }
        detector.finish();
        detector.collect_released(&mut found);
        found
    }

    fn collect_released(&mut self, found: &mut Vec<DigitSpan>) {
        while let Some(event) = self.poll_event() {
            if let Event::Released { digit, onset, end } = event {
                found.push(DigitSpan { digit, onset, end });
            }
        }
    }

    /// The next event, oldest first.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn process_block(&mut self, block: &[i16]) {
        crate::simd::run(self.kernel, ProcessBlock(self, block));
    }

    /// One block, compiled for the detector's kernel (see [`crate::simd`]).
    #[inline(always)]
    fn process_block_with<V: F32x16>(&mut self, block: &[i16]) {
        let n = block.len();
        let index = self.position / n as u64;
        let slot = (index % WINDOW_BLOCKS as u64) as usize;
        self.history[slot * n..(slot + 1) * n].copy_from_slice(block);
        crate::dft::analyse_with::<V>(
            &self.coeffs.dft,
            block,
            self.limits.min_block_energy,
            &mut self.spectrum,
        );
        let echo = self.echo.is_some();
        if echo {
            self.energies.0[(index % ENERGY_BLOCKS as u64) as usize] = self.spectrum.energy;
        }
        let (re, im) = self.spectrum.bins();
        let (power, amps) = powers_and_amplitudes(&re, &im);
        let spectrum = &self.spectrum;
        let candidate = classify(
            &power,
            spectrum.energy,
            &self.coeffs,
            &self.limits,
            self.tracker.held(),
            |f| spectrum.segments(f),
        );
        let history = &self.history[..self.window.len()];
        let fill = |buf: &mut [i16]| oldest_first(history, slot, n, buf);
        let veto = EchoOrHarmonics::new(
            self.kernel,
            &self.coeffs,
            &self.window,
            self.echo.as_ref(),
            self.position + n as u64,
            &self.energies,
            fill,
        );
        self.tracker.handle_block(
            &self.coeffs,
            &self.limits,
            self.position,
            candidate,
            &amps,
            &self.previous,
            veto,
            &mut self.events,
        );
        if echo && self.tracker.held().is_some() {
            for slot in pressed_slots(index) {
                self.energies.0[slot] = mark_pressed(self.energies.0[slot]);
            }
        }
        self.previous = amps;
        self.position += n as u64;
    }
}

/// [`DtmfDetector::process_block_with`] as a [`Vectorised`] body.
struct ProcessBlock<'a>(&'a mut DtmfDetector, &'a [i16]);

impl Vectorised for ProcessBlock<'_> {
    type Output = ();
    #[inline(always)]
    fn run<V: F32x16>(self) {
        self.0.process_block_with::<V>(self.1);
    }
}

/// The veto window's samples, oldest first: the history slots after block `slot`'s, wrapping
/// round to it.
fn oldest_first(history: &[i16], slot: usize, n: usize, buf: &mut [i16]) {
    let (newest, oldest) = history.split_at((slot + 1) * n);
    let (first, second) = buf.split_at_mut(oldest.len());
    first.copy_from_slice(oldest);
    second.copy_from_slice(newest);
}
