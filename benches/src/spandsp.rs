//! spandsp's `dtmf_rx` (the DTMF receiver FreeSWITCH uses), through its C API.
//!
//! Only this module uses `unsafe`: the FFI calls. The receiver state is owned by [`Spandsp`] and
//! freed on drop; the realtime callback writes into a `Vec` that [`Spandsp`] owns, boxed so its
//! address is stable.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void};

use dtmf_detector::Digit;
use dtmf_detector::testkit::Detection;

#[repr(C)]
struct DtmfRxState {
    _private: [u8; 0],
}

type DigitsRx = extern "C" fn(user: *mut c_void, digits: *const c_char, len: c_int);
type ToneReport = extern "C" fn(user: *mut c_void, code: c_int, level: c_int, delay: c_int);

unsafe extern "C" {
    fn dtmf_rx_init(
        s: *mut DtmfRxState,
        cb: Option<DigitsRx>,
        user: *mut c_void,
    ) -> *mut DtmfRxState;
    fn dtmf_rx_set_realtime_callback(
        s: *mut DtmfRxState,
        cb: Option<ToneReport>,
        user: *mut c_void,
    );
    fn dtmf_rx(s: *mut DtmfRxState, amp: *const i16, samples: c_int) -> c_int;
    fn dtmf_rx_get(s: *mut DtmfRxState, digits: *mut c_char, max: c_int) -> usize;
    fn dtmf_rx_free(s: *mut DtmfRxState) -> c_int;
}

/// Digit starts and ends reported by spandsp's realtime callback, stamped with the sample
/// position of the chunk during which the callback fired.
#[derive(Default)]
struct Log {
    position: u64,
    open: Option<(Digit, u64)>,
    done: Vec<(Digit, u64, u64)>,
}

extern "C" fn on_tone(user: *mut c_void, code: c_int, _level: c_int, _delay: c_int) {
    // SAFETY: `user` is the `Box<Log>` owned by the `Spandsp` that registered this callback,
    // alive for as long as the receiver, and only touched from inside `dtmf_rx` on this thread.
    let log = unsafe { &mut *user.cast::<Log>() };
    if let Some((digit, start)) = log.open.take() {
        log.done.push((digit, start, log.position));
    }
    let digit = u8::try_from(code)
        .ok()
        .filter(|c| *c != 0)
        .and_then(|c| Digit::from_char(char::from(c)));
    if let Some(d) = digit {
        log.open = Some((d, log.position));
    }
}

/// One spandsp DTMF receiver at 8 kHz with its default parameters.
pub struct Spandsp {
    state: *mut DtmfRxState,
    log: Box<Log>,
}

impl Spandsp {
    /// A receiver that records digit timing (for accuracy runs).
    pub fn with_timing() -> Self {
        let mut log = Box::<Log>::default();
        // SAFETY: a null state asks spandsp to allocate one; the callback's user pointer is the
        // boxed log, which outlives the state (freed in `drop` before the box).
        let state = unsafe { dtmf_rx_init(std::ptr::null_mut(), None, std::ptr::null_mut()) };
        assert!(!state.is_null(), "dtmf_rx_init failed");
        let user: *mut Log = &mut *log;
        // SAFETY: state is valid; see above for the user pointer.
        unsafe { dtmf_rx_set_realtime_callback(state, Some(on_tone), user.cast()) };
        Self { state, log }
    }

    /// A receiver without callbacks (for throughput runs: digits collect in spandsp's buffer).
    pub fn plain() -> Self {
        // SAFETY: as in `with_timing`, without callbacks.
        let state = unsafe { dtmf_rx_init(std::ptr::null_mut(), None, std::ptr::null_mut()) };
        assert!(!state.is_null(), "dtmf_rx_init failed");
        Self {
            state,
            log: Box::default(),
        }
    }

    /// Feeds samples.
    pub fn feed(&mut self, pcm: &[i16]) {
        let len = c_int::try_from(pcm.len()).expect("chunk fits in c_int");
        // SAFETY: state is valid; `pcm` is a live slice of `len` samples.
        unsafe { dtmf_rx(self.state, pcm.as_ptr(), len) };
        self.log.position += pcm.len() as u64;
    }

    /// Drains spandsp's digit buffer; returns how many digits it held.
    pub fn drain_digits(&mut self) -> usize {
        let mut buf = [0 as c_char; 129];
        // SAFETY: `buf` has room for 128 digits and the terminating NUL.
        unsafe { dtmf_rx_get(self.state, buf.as_mut_ptr(), 128) }
    }

    /// Runs a fresh timing receiver over `pcm` in 20 ms chunks; onsets are callback times.
    pub fn detect(pcm: &[i16]) -> Vec<Detection> {
        let mut rx = Self::with_timing();
        for chunk in pcm.chunks(160) {
            rx.feed(chunk);
        }
        rx.feed(&[0; 800]);
        let ms = |s: u64| s as f64 / 8.0;
        rx.log
            .done
            .iter()
            .map(|&(digit, start, end)| Detection {
                digit,
                onset_ms: Some(ms(start)),
                end_ms: Some(ms(end)),
            })
            .collect()
    }
}

impl Drop for Spandsp {
    fn drop(&mut self) {
        // SAFETY: state came from dtmf_rx_init and is freed once.
        unsafe { dtmf_rx_free(self.state) };
    }
}
