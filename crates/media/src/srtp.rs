//! SRTP and SRTCP (RFC 3711) with the `AES_CM_128_HMAC_SHA1_80` suite that SDES (RFC 4568)
//! negotiates: session keys derived from the master key and salt (§4.3, key derivation rate
//! 0), payloads encrypted in AES counter mode (§4.1.1), packets authenticated with an 80-bit
//! HMAC-SHA1 tag over the packet and the rollover counter (§4.2), the rollover counter of a
//! received stream estimated from its sequence numbers (§3.3.1, Appendix A), and replays
//! refused by a 64-packet window (§3.3.2). One [`SrtpContext`] per direction: ours protects
//! what we send with our key, the peer's unprotects what it sends with its own.

use aes::Aes128;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::MediaError;

/// Master key (16 octets) then master salt (14): what an SDES `inline:` key carries.
pub const MASTER_LEN: usize = 30;
/// The authentication tag's length (80 bits).
pub const TAG_LEN: usize = 10;
/// The replay window, packets (§3.3.2 asks at least 64).
const WINDOW: u64 = 64;
/// The SRTCP E flag: the packet is encrypted.
const SRTCP_E: u32 = 0x8000_0000;

/// A master key and salt.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MasterKey(pub [u8; MASTER_LEN]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

/// The keys one packet kind (SRTP or SRTCP) is protected with.
#[derive(Clone)]
struct SessionKeys {
    cipher: Aes128,
    salt: [u8; 14],
    auth: Hmac<Sha1>,
}

impl SessionKeys {
    /// §4.3.1 with r = 0: each key is the AES-CM keystream of the master key from
    /// (master salt XOR label << 48) << 16; labels 0–2 for SRTP, 3–5 for SRTCP.
    fn derive(master: &MasterKey, first_label: u8) -> Self {
        let (key, salt) = master.0.split_at(16);
        let prf = Aes128::new_from_slice(key).expect("16 octets");
        let derive = |label: u8, out: &mut [u8]| {
            let mut iv = [0u8; 16];
            iv[..14].copy_from_slice(salt);
            iv[7] ^= label;
            keystream(&prf, iv, out);
        };
        let mut cipher_key = [0u8; 16];
        let mut auth_key = [0u8; 20];
        let mut session_salt = [0u8; 14];
        derive(first_label, &mut cipher_key);
        derive(first_label + 1, &mut auth_key);
        derive(first_label + 2, &mut session_salt);
        Self {
            cipher: Aes128::new_from_slice(&cipher_key).expect("16 octets"),
            salt: session_salt,
            auth: <Hmac<Sha1> as KeyInit>::new_from_slice(&auth_key).expect("any length"),
        }
    }

    /// XORs `data` with the keystream for `ssrc` and packet index `index` (§4.1.1: IV =
    /// salt·2^16 XOR SSRC·2^64 XOR index·2^16).
    fn crypt(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= s;
        }
        apply_keystream(&self.cipher, iv, data);
    }

    /// The 80-bit tag of `parts` concatenated.
    fn tag(&self, parts: &[&[u8]]) -> [u8; TAG_LEN] {
        let mut mac = self.auth.clone();
        for part in parts {
            mac.update(part);
        }
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }
}

/// XORs `data` with the AES counter-mode keystream from `iv` (its last two octets the block
/// counter), block by block in place: no buffer per packet on the media path.
fn apply_keystream(cipher: &Aes128, iv: [u8; 16], data: &mut [u8]) {
    for (i, chunk) in data.chunks_mut(16).enumerate() {
        let mut block = iv;
        let counter = u16::from_be_bytes([iv[14], iv[15]]).wrapping_add(i as u16);
        block[14..].copy_from_slice(&counter.to_be_bytes());
        let mut block = aes::Block::from(block);
        cipher.encrypt_block(&mut block);
        for (d, k) in chunk.iter_mut().zip(block.iter()) {
            *d ^= k;
        }
    }
}

/// The keystream itself (key derivation, the RFC's vectors).
fn keystream(cipher: &Aes128, iv: [u8; 16], out: &mut [u8]) {
    out.fill(0);
    apply_keystream(cipher, iv, out);
}

/// Tags compared in constant time.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Which indices were seen, up to [`WINDOW`] behind the highest.
#[derive(Clone, Copy, Debug, Default)]
struct ReplayWindow {
    highest: Option<u64>,
    /// Bit i: `highest - i` was seen.
    seen: u64,
}

impl ReplayWindow {
    fn fresh(&self, index: u64) -> bool {
        match self.highest {
            None => true,
            Some(h) if index > h => true,
            Some(h) => h - index < WINDOW && self.seen & (1 << (h - index)) == 0,
        }
    }

    fn mark(&mut self, index: u64) {
        match self.highest {
            Some(h) if index <= h => self.seen |= 1 << (h - index),
            Some(h) => {
                let shift = index - h;
                self.seen = if shift >= WINDOW {
                    0
                } else {
                    self.seen << shift
                };
                self.seen |= 1;
                self.highest = Some(index);
            }
            None => {
                self.highest = Some(index);
                self.seen = 1;
            }
        }
    }
}

/// One direction's SRTP and SRTCP state.
#[derive(Clone)]
pub struct SrtpContext {
    rtp: SessionKeys,
    rtcp: SessionKeys,
    /// Sending: our stream's rollover counter and last sequence number.
    send: Stream,
    /// Sending: the next SRTCP index.
    srtcp_index: u32,
    /// Receiving: the state of each source heard under this key (§3.2.3: one cryptographic
    /// context per SSRC), the most recently started last; at most [`STREAMS`].
    received: Vec<Stream>,
}

/// Sources followed per receiving context (a peer restarting its stream, a conference
/// mixer's few); the oldest is forgotten past it.
const STREAMS: usize = 4;

/// One source's packet indices: the rollover counter and highest sequence number (sent, or
/// estimated from what was received, §3.3.1), and the replay windows.
#[derive(Clone, Copy, Debug, Default)]
struct Stream {
    ssrc: u32,
    roc: u32,
    last_seq: Option<u16>,
    replay: ReplayWindow,
    rtcp_replay: ReplayWindow,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpContext")
            .field("send", &self.send)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

fn bad(what: &str) -> MediaError {
    MediaError::BadSrtp(what.to_string())
}

/// The RTP header's length: fixed part, CSRCs, extension.
fn header_len(packet: &[u8]) -> Result<usize, MediaError> {
    if packet.len() < 12 || packet[0] >> 6 != 2 {
        return Err(bad("not RTP"));
    }
    let mut len = 12 + 4 * usize::from(packet[0] & 0x0f);
    if packet[0] & 0x10 != 0 {
        let ext = packet
            .get(len + 2..len + 4)
            .ok_or_else(|| bad("truncated extension"))?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    if len > packet.len() {
        return Err(bad("truncated header"));
    }
    Ok(len)
}

fn seq_ssrc(packet: &[u8]) -> (u16, u32) {
    (
        u16::from_be_bytes([packet[2], packet[3]]),
        u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
    )
}

impl SrtpContext {
    /// A context keyed by `master` (ours to protect, the peer's to unprotect).
    pub fn new(master: &MasterKey) -> Self {
        Self {
            rtp: SessionKeys::derive(master, 0),
            rtcp: SessionKeys::derive(master, 3),
            send: Stream::default(),
            srtcp_index: 0,
            received: Vec::new(),
        }
    }

    /// What is known of source `ssrc` (a fresh state for a new one).
    fn stream(&self, ssrc: u32) -> Stream {
        let known = self.received.iter().find(|s| s.ssrc == ssrc);
        known.copied().unwrap_or(Stream {
            ssrc,
            ..Stream::default()
        })
    }

    /// Keeps `stream`'s state after an authentic packet.
    fn keep(&mut self, stream: Stream) {
        match self.received.iter_mut().find(|s| s.ssrc == stream.ssrc) {
            Some(known) => *known = stream,
            None => {
                if self.received.len() == STREAMS {
                    self.received.remove(0);
                }
                self.received.push(stream);
            }
        }
    }

    /// Encrypts an RTP packet's payload in place and appends its tag.
    pub fn protect(&mut self, packet: &mut Vec<u8>) -> Result<(), MediaError> {
        let header = header_len(packet)?;
        let (seq, ssrc) = seq_ssrc(packet);
        self.send.ssrc = ssrc;
        if self
            .send
            .last_seq
            .is_some_and(|last| seq < last && last - seq > 0x8000)
        {
            self.send.roc = self.send.roc.wrapping_add(1);
        }
        self.send.last_seq = Some(seq);
        let roc = self.send.roc;
        let index = (u64::from(roc) << 16) | u64::from(seq);
        self.rtp.crypt(ssrc, index, &mut packet[header..]);
        let tag = self.rtp.tag(&[packet, &roc.to_be_bytes()]);
        packet.extend_from_slice(&tag);
        Ok(())
    }

    /// Checks an SRTP packet's tag and freshness, and writes the RTP packet into `out`.
    /// Errors (a wrong key, a replay, a truncated packet) change nothing.
    pub fn unprotect(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Result<(), MediaError> {
        if packet.len() < 12 + TAG_LEN {
            return Err(bad("shorter than a header and a tag"));
        }
        let (body, tag) = packet.split_at(packet.len() - TAG_LEN);
        let header = header_len(body)?;
        let (seq, ssrc) = seq_ssrc(body);
        let mut stream = self.stream(ssrc);
        let (roc, last) = (stream.roc, stream.last_seq);
        // §3.3.1: the rollover counter this sequence number most likely belongs to.
        let guess = match last {
            None => roc,
            Some(s_l) if s_l < 0x8000 && seq > s_l && seq - s_l > 0x8000 => roc.wrapping_sub(1),
            Some(s_l) if s_l >= 0x8000 && seq < s_l - 0x8000 => roc.wrapping_add(1),
            Some(_) => roc,
        };
        let index = (u64::from(guess) << 16) | u64::from(seq);
        if !stream.replay.fresh(index) {
            return Err(bad("replayed"));
        }
        if !same(&self.rtp.tag(&[body, &guess.to_be_bytes()]), tag) {
            return Err(bad("authentication failed"));
        }
        out.clear();
        out.extend_from_slice(body);
        self.rtp.crypt(ssrc, index, &mut out[header..]);
        stream.replay.mark(index);
        // §3.3.1: the counter moves on a wrap; the highest sequence number only forward.
        match last {
            Some(s_l) if guess == roc && seq <= s_l => {}
            Some(_) if guess == roc.wrapping_sub(1) => {}
            _ => (stream.roc, stream.last_seq) = (guess, Some(seq)),
        }
        self.keep(stream);
        Ok(())
    }

    /// Encrypts an RTCP compound packet in place (all after the first SSRC) and appends the
    /// E flag with its SRTCP index, then the tag (§3.4).
    pub fn protect_rtcp(&mut self, packet: &mut Vec<u8>) -> Result<(), MediaError> {
        if packet.len() < 8 {
            return Err(bad("RTCP shorter than its header"));
        }
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let index = self.srtcp_index & !SRTCP_E;
        self.srtcp_index = (index + 1) & !SRTCP_E;
        self.rtcp.crypt(ssrc, u64::from(index), &mut packet[8..]);
        packet.extend_from_slice(&(SRTCP_E | index).to_be_bytes());
        let tag = self.rtcp.tag(&[packet]);
        packet.extend_from_slice(&tag);
        Ok(())
    }

    /// Checks an SRTCP packet's tag and freshness and writes the RTCP packet into `out`.
    pub fn unprotect_rtcp(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Result<(), MediaError> {
        if packet.len() < 8 + 4 + TAG_LEN {
            return Err(bad("SRTCP shorter than a header, an index and a tag"));
        }
        let (signed, tag) = packet.split_at(packet.len() - TAG_LEN);
        let (body, e_index) = signed.split_at(signed.len() - 4);
        let e_index = u32::from_be_bytes([e_index[0], e_index[1], e_index[2], e_index[3]]);
        let index = u64::from(e_index & !SRTCP_E);
        let ssrc = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
        let mut stream = self.stream(ssrc);
        if !stream.rtcp_replay.fresh(index) {
            return Err(bad("replayed"));
        }
        if !same(&self.rtcp.tag(&[signed]), tag) {
            return Err(bad("authentication failed"));
        }
        out.clear();
        out.extend_from_slice(body);
        if e_index & SRTCP_E != 0 {
            self.rtcp.crypt(ssrc, index, &mut out[8..]);
        }
        stream.rtcp_replay.mark(index);
        self.keep(stream);
        Ok(())
    }
}

/// Draws SDES master keys: AES-128 in counter mode keyed by a secret seed (the daemon's, from
/// the operating system's CSPRNG), so one call's key says nothing of another's.
#[derive(Clone)]
pub struct KeyGenerator {
    cipher: Aes128,
    counter: u128,
}

impl std::fmt::Debug for KeyGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyGenerator(…)")
    }
}

impl KeyGenerator {
    /// A generator keyed by `seed` (keep it secret: the keys follow from it).
    pub fn new(seed: [u8; 16]) -> Self {
        Self {
            cipher: Aes128::new_from_slice(&seed).expect("16 octets"),
            counter: 0,
        }
    }

    /// The next key.
    pub fn next_key(&mut self) -> MasterKey {
        let mut out = [0u8; 32];
        for half in out.chunks_mut(16) {
            let mut block = aes::Block::from(self.counter.to_be_bytes());
            self.cipher.encrypt_block(&mut block);
            half.copy_from_slice(&block);
            self.counter = self.counter.wrapping_add(1);
        }
        let mut key = [0u8; MASTER_LEN];
        key.copy_from_slice(&out[..MASTER_LEN]);
        MasterKey(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// RFC 3711 Appendix B.3: the session keys of its master key and salt.
    #[test]
    fn key_derivation_matches_rfc_3711_b3() {
        let mut master = [0u8; MASTER_LEN];
        master[..16].copy_from_slice(&hex("E1F97A0D3E018BE0D64FA32C06DE4139"));
        master[16..].copy_from_slice(&hex("0EC675AD498AFEEBB6960B3AABE6"));
        let (key, salt) = master.split_at(16);
        let prf = Aes128::new_from_slice(key).expect("key");
        let at = |label: u8, len: usize| {
            let mut iv = [0u8; 16];
            iv[..14].copy_from_slice(salt);
            iv[7] ^= label;
            let mut out = vec![0u8; len];
            keystream(&prf, iv, &mut out);
            out
        };
        assert_eq!(at(0, 16), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        assert_eq!(at(2, 14), hex("30CBBC08863D8C85D49DB34A9AE1"));
        assert_eq!(at(1, 20), hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"));
    }

    /// RFC 3711 Appendix B.2: the AES-CM keystream of its session key and IV.
    #[test]
    fn counter_mode_matches_rfc_3711_b2() {
        let cipher = Aes128::new_from_slice(&hex("2B7E151628AED2A6ABF7158809CF4F3C")).expect("key");
        let iv: [u8; 16] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000")
            .try_into()
            .expect("16");
        let mut out = vec![0u8; 48];
        keystream(&cipher, iv, &mut out);
        assert_eq!(
            out,
            hex(
                "E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB \
                 41E95B3BB0A2E8DD477901E4FCA894C0"
            )
        );
    }

    /// libsrtp's reference packet (test/srtp_driver.c, `srtp_validate`): its plaintext and
    /// `AES_CM_128_HMAC_SHA1_80` ciphertext under the RFC 3711 B.3 master key.
    #[test]
    fn the_libsrtp_reference_packet() {
        let master: [u8; MASTER_LEN] =
            hex("E1F97A0D3E018BE0D64FA32C06DE4139 0EC675AD498AFEEBB6960B3AABE6")
                .try_into()
                .expect("30");
        let plain = hex("800F1234DECAFBADCAFEBABE ABABABABABABABABABABABABABABABAB");
        let cipher =
            hex("800F1234DECAFBADCAFEBABE 4E55DC4CE79978D88CA4D215949D2402 B78D6ACC99EA179B8DBB");
        let mut packet = plain.clone();
        SrtpContext::new(&MasterKey(master))
            .protect(&mut packet)
            .expect("protect");
        assert_eq!(packet, cipher);
        let mut out = Vec::new();
        SrtpContext::new(&MasterKey(master))
            .unprotect(&cipher, &mut out)
            .expect("unprotect");
        assert_eq!(out, plain);
    }

    fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 0x00];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&160u32.to_be_bytes());
        p.extend_from_slice(&0xdead_beefu32.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn key(fill: u8) -> MasterKey {
        MasterKey([fill; MASTER_LEN])
    }

    #[test]
    fn packets_round_trip_across_the_sequence_wrap_and_replays_are_refused() {
        let (mut tx, mut rx) = (SrtpContext::new(&key(7)), SrtpContext::new(&key(7)));
        let mut out = Vec::new();
        let mut sent = Vec::new();
        for i in 0..200u16 {
            let seq = 65_436u16.wrapping_add(i);
            let plain = rtp(seq, &[i as u8; 160]);
            let mut packet = plain.clone();
            tx.protect(&mut packet).expect("protect");
            assert_eq!(packet.len(), plain.len() + TAG_LEN);
            assert_ne!(packet[12..172], plain[12..], "the payload is encrypted");
            rx.unprotect(&packet, &mut out).expect("unprotect");
            assert_eq!(out, plain, "packet {i}");
            sent.push(packet);
        }
        assert_eq!((tx.send.roc, rx.received[0].roc), (1, 1));
        assert!(rx.unprotect(&sent[199], &mut out).is_err(), "a replay");
        assert!(
            rx.unprotect(&sent[180], &mut out).is_err(),
            "an older replay"
        );
        // Reordered but fresh: a packet held back arrives late, still inside the window.
        let (mut tx, mut rx) = (SrtpContext::new(&key(7)), SrtpContext::new(&key(7)));
        let mut packets: Vec<Vec<u8>> = (0..5u16)
            .map(|s| {
                let mut p = rtp(1000 + s, b"x");
                tx.protect(&mut p).expect("protect");
                p
            })
            .collect();
        packets.swap(1, 3);
        for p in &packets {
            rx.unprotect(p, &mut out).expect("in the window");
        }
    }

    /// A peer that used two sources under one key: replays of either are refused however
    /// they alternate (one context per SSRC, RFC 3711 §3.2.3).
    #[test]
    fn each_source_has_its_own_replay_window() {
        let (mut tx, mut rx) = (SrtpContext::new(&key(5)), SrtpContext::new(&key(5)));
        let mut out = Vec::new();
        let protect = |tx: &mut SrtpContext, ssrc: u32, seq: u16| {
            let mut p = rtp(seq, b"voice");
            p[8..12].copy_from_slice(&ssrc.to_be_bytes());
            tx.protect(&mut p).expect("protect");
            p
        };
        let a = protect(&mut tx, 0xa, 10);
        let mut tx_b = SrtpContext::new(&key(5));
        let b = protect(&mut tx_b, 0xb, 500);
        rx.unprotect(&a, &mut out).expect("a");
        rx.unprotect(&b, &mut out).expect("b");
        for _ in 0..3 {
            assert!(rx.unprotect(&a, &mut out).is_err(), "a replayed");
            assert!(rx.unprotect(&b, &mut out).is_err(), "b replayed");
        }
    }

    #[test]
    fn a_wrong_key_or_a_flipped_bit_is_refused() {
        let mut tx = SrtpContext::new(&key(1));
        let mut packet = rtp(5, &[0xff; 160]);
        tx.protect(&mut packet).expect("protect");
        let mut out = Vec::new();
        assert!(
            SrtpContext::new(&key(2))
                .unprotect(&packet, &mut out)
                .is_err()
        );
        let mut rx = SrtpContext::new(&key(1));
        for at in [1, 20, packet.len() - 1] {
            let mut bent = packet.clone();
            bent[at] ^= 0x10;
            assert!(rx.unprotect(&bent, &mut out).is_err(), "bit at {at}");
        }
        assert!(rx.unprotect(&packet[..15], &mut out).is_err());
        rx.unprotect(&packet, &mut out)
            .expect("the real one still passes");
    }

    #[test]
    fn rtcp_round_trips_encrypted_and_replays_are_refused() {
        let (mut tx, mut rx) = (SrtpContext::new(&key(3)), SrtpContext::new(&key(3)));
        let mut report = Vec::new();
        crate::rtcp::write(
            &crate::rtcp::Report {
                ssrc: 9,
                sender: None,
                blocks: &[crate::rtcp::ReportBlock::default()],
                cname: "ivrd-test",
            },
            &mut report,
        );
        let mut packet = report.clone();
        tx.protect_rtcp(&mut packet).expect("protect");
        assert!(
            crate::rtcp::is_rtcp(&packet),
            "the header stays readable for demuxing"
        );
        assert_eq!(packet.len(), report.len() + 4 + TAG_LEN);
        let mut out = Vec::new();
        rx.unprotect_rtcp(&packet, &mut out).expect("unprotect");
        assert_eq!(out, report);
        assert!(rx.unprotect_rtcp(&packet, &mut out).is_err(), "a replay");
        let mut second = report.clone();
        tx.protect_rtcp(&mut second).expect("protect");
        assert!(
            SrtpContext::new(&key(4))
                .unprotect_rtcp(&second, &mut out)
                .is_err()
        );
        rx.unprotect_rtcp(&second, &mut out)
            .expect("the next index");
    }
}
