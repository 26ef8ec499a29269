//! Fuzzing seeds from the tests: with `IVRD_FUZZ_SEEDS` set (as `fuzz/seed.sh` does), every SIP
//! message a test feeds an endpoint, and every one the endpoint sends, is also written to
//! `$IVRD_FUZZ_SEEDS/sip/`, named by its hash. Without it, nothing happens.

use std::hash::{DefaultHasher, Hash, Hasher};

/// Keeps `message` as a seed, if asked to.
pub(crate) fn keep(message: &[u8]) {
    let Some(dir) = std::env::var_os("IVRD_FUZZ_SEEDS") else {
        return;
    };
    let dir = std::path::Path::new(&dir).join("sip");
    let mut h = DefaultHasher::new();
    message.hash(&mut h);
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(format!("{:016x}", h.finish())), message);
}
