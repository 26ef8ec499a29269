//! SDP offer/answer for one audio stream (RFC 3264), G.711 only, telephone-event at whatever
//! payload type the offer uses. Offers are parsed with ezk-sdp-types; answers are written here.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytesstr::BytesStr;
use ezk_sdp_types::{MediaType, SessionDescription, SrtpSuite, TaggedAddress, TransportProtocol};

use crate::SipError;

/// A G.711 codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// µ-law, static payload type 0.
    Pcmu,
    /// A-law, static payload type 8.
    Pcma,
}

impl AudioCodec {
    /// The static RTP payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            Self::Pcmu => 0,
            Self::Pcma => 8,
        }
    }
    fn encoding(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
        }
    }
}

/// Media direction (RFC 3264 §6.1), from the offerer's point of view in an offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Direction {
    /// Both ways.
    #[default]
    SendRecv,
    /// The side that wrote it only sends (e.g. puts the other on hold).
    SendOnly,
    /// The side that wrote it only receives.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// The answer's direction for an offer with this one.
    pub fn answer(self) -> Self {
        match self {
            Self::SendRecv => Self::SendRecv,
            Self::SendOnly => Self::RecvOnly,
            Self::RecvOnly => Self::SendOnly,
            Self::Inactive => Self::Inactive,
        }
    }
    /// Whether the side that wrote this direction will receive our media.
    pub fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }
    fn attribute(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }
}

/// An SDES master key and salt (RFC 4568 `inline:`, 30 octets for the one suite we use).
pub type SdesKey = [u8; 30];

/// SRTP agreed by SDES (RFC 4568): `AES_CM_128_HMAC_SHA1_80`, one key each way, no MKI.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sdes {
    /// The crypto attribute's tag (our answer repeats it).
    pub tag: u32,
    /// The peer's key: what it sends is protected with it.
    pub theirs: SdesKey,
    /// Ours, set by the answerer before answering (call control draws it).
    pub ours: Option<SdesKey>,
}

impl std::fmt::Debug for Sdes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sdes {{ tag: {}, keys: … }}", self.tag)
    }
}

/// The usable parts of a remote offer's first audio stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaOffer {
    /// Where the peer wants RTP.
    pub remote: SocketAddr,
    /// G.711 codecs offered, in the offer's order of preference.
    pub codecs: Vec<AudioCodec>,
    /// Payload type of telephone-event/8000, if offered.
    pub telephone_event: Option<u8>,
    /// The offerer's direction.
    pub direction: Direction,
    /// `a=ptime`, if given.
    pub ptime_ms: Option<u32>,
    /// Where the peer wants RTCP: its `a=rtcp` (RFC 3605), else the RTP port + 1.
    pub rtcp: SocketAddr,
    /// It offered (or, in an answer, accepted) RTCP on the RTP port (RFC 5761 `a=rtcp-mux`).
    pub rtcp_mux: bool,
    /// The stream is `RTP/SAVP`: SRTP, keyed by `sdes`.
    pub secure: bool,
    /// Its first `AES_CM_128_HMAC_SHA1_80` key without MKI (only read on `RTP/SAVP`).
    pub sdes: Option<Sdes>,
}

/// What was agreed for a call's audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// Where to send RTP.
    pub remote: SocketAddr,
    /// The codec both ends use.
    pub codec: AudioCodec,
    /// telephone-event payload type (the offer's), if both ends do RFC 4733.
    pub telephone_event: Option<u8>,
    /// Our direction, as written in the answer.
    pub direction: Direction,
    /// Where the peer's RTCP goes when not muxed: its `a=rtcp`, else the RTP port + 1.
    pub rtcp: SocketAddr,
    /// RTCP shares the RTP port (RFC 5761); our answer says `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// SRTP (RFC 3711) keyed by SDES; our answer is `RTP/SAVP` with our key.
    pub srtp: Option<Sdes>,
}

impl MediaOffer {
    /// Parses an SDP body. Errors are `NotAcceptable` (the caller answers 488).
    pub fn parse(body: &[u8]) -> Result<Self, SipError> {
        let sdp = read_sdp(body)?;
        let audio = sdp
            .media_descriptions
            .iter()
            .find(|m| m.media.media_type == MediaType::Audio && m.media.port != 0)
            .ok_or_else(|| SipError::NotAcceptable("no audio stream".into()))?;
        let secure = match audio.media.proto {
            TransportProtocol::RtpAvp => false,
            TransportProtocol::RtpSavp => true,
            _ => {
                return Err(SipError::NotAcceptable(
                    "audio is neither RTP/AVP nor RTP/SAVP (AVPF and DTLS-SRTP are not supported)"
                        .into(),
                ));
            }
        };
        let sdes = audio.crypto.iter().find_map(|c| {
            let [key] = &c.keys[..] else { return None };
            let theirs = BASE64.decode(key.key_and_salt.as_bytes()).ok()?;
            // Session parameters (UNENCRYPTED_SRTP, KDR, FEC_ORDER …) we do not do: an answerer
            // must not accept what it does not support (RFC 4568 §6.3).
            let plain = c.params.is_empty() && key.mki.is_none();
            (c.suite == SrtpSuite::AES_CM_128_HMAC_SHA1_80 && plain).then_some(())?;
            Some(Sdes {
                tag: c.tag,
                theirs: theirs.try_into().ok()?,
                ours: None,
            })
        });
        let connection = audio
            .connection
            .as_ref()
            .or(sdp.connection.as_ref())
            .ok_or_else(|| SipError::NotAcceptable("no c= line".into()))?;
        let ip: IpAddr = match &connection.address {
            TaggedAddress::IP4(ip) => (*ip).into(),
            TaggedAddress::IP6(ip) => (*ip).into(),
            other => {
                return Err(SipError::NotAcceptable(format!(
                    "c= address {other:?} is not an IP literal"
                )));
            }
        };
        let mut codecs = Vec::new();
        let mut telephone_event = None;
        for &pt in &audio.media.fmts {
            let map = audio.rtpmap.iter().find(|m| m.payload == pt);
            let name = map.map(|m| m.encoding.to_ascii_lowercase());
            let rate = map.map_or(8000, |m| m.clock_rate);
            match (pt, name.as_deref(), rate) {
                (0, None, _) | (_, Some("pcmu"), 8000) => codecs.push(AudioCodec::Pcmu),
                (8, None, _) | (_, Some("pcma"), 8000) => codecs.push(AudioCodec::Pcma),
                (_, Some("telephone-event"), 8000) if telephone_event.is_none() => {
                    telephone_event = Some(pt);
                }
                _ => {}
            }
        }
        let direction = match (audio.direction, sdp.direction) {
            // RFC 3264 §8.4: `c=0.0.0.0` is the RFC 2543 way of holding (send me nothing).
            (ezk_sdp_types::Direction::SendRecv, ezk_sdp_types::Direction::SendRecv)
                if ip.is_unspecified() =>
            {
                ezk_sdp_types::Direction::SendOnly
            }
            (ezk_sdp_types::Direction::SendRecv, session) => session,
            (media, _) => media,
        };
        let ptime_ms = audio
            .attributes
            .iter()
            .chain(&sdp.attributes)
            .find(|a| a.name.eq_ignore_ascii_case("ptime"))
            .and_then(|a| a.value.as_ref())
            .and_then(|v| v.trim().parse().ok());
        let rtcp = match &audio.rtcp {
            Some(r) => {
                let ip = match &r.address {
                    Some(TaggedAddress::IP4(ip)) => (*ip).into(),
                    Some(TaggedAddress::IP6(ip)) => (*ip).into(),
                    _ => ip,
                };
                SocketAddr::new(ip, r.port)
            }
            None => SocketAddr::new(ip, audio.media.port.wrapping_add(1)),
        };
        Ok(Self {
            remote: SocketAddr::new(ip, audio.media.port),
            rtcp,
            rtcp_mux: audio.rtcp_mux,
            secure,
            sdes: sdes.filter(|_| secure),
            codecs,
            telephone_event,
            direction: match direction {
                ezk_sdp_types::Direction::SendRecv => Direction::SendRecv,
                ezk_sdp_types::Direction::SendOnly => Direction::SendOnly,
                ezk_sdp_types::Direction::RecvOnly => Direction::RecvOnly,
                ezk_sdp_types::Direction::Inactive => Direction::Inactive,
            },
            ptime_ms,
        })
    }

    /// What an answer to our own offer (late offer: our SDP in the 2xx, theirs in the ACK)
    /// agreed: the answer's first codec that we offered, its telephone-event payload type, and
    /// our direction as the answer implies it.
    pub fn accept_answer(&self, offered: &[AudioCodec]) -> Result<Negotiated, SipError> {
        let codec = self
            .codecs
            .iter()
            .copied()
            .find(|c| offered.contains(c))
            .ok_or_else(|| SipError::NotAcceptable("the answer has none of our codecs".into()))?;
        Ok(Negotiated {
            remote: self.remote,
            codec,
            telephone_event: self.telephone_event,
            direction: self.direction.answer(),
            rtcp: self.rtcp,
            rtcp_mux: self.rtcp_mux,
            srtp: self.srtp()?,
        })
    }

    /// SRTP as offered: none for RTP/AVP; for RTP/SAVP, a key we can use or an error (488).
    fn srtp(&self) -> Result<Option<Sdes>, SipError> {
        match (self.secure, self.sdes) {
            (false, _) => Ok(None),
            (true, Some(sdes)) => Ok(Some(sdes)),
            (true, None) => Err(SipError::NotAcceptable(
                "RTP/SAVP without an AES_CM_128_HMAC_SHA1_80 inline key (no MKI)".into(),
            )),
        }
    }

    /// Picks the first codec of `preference` that the offer has.
    pub fn negotiate(&self, preference: &[AudioCodec]) -> Result<Negotiated, SipError> {
        let codec = preference
            .iter()
            .copied()
            .find(|c| self.codecs.contains(c))
            .ok_or_else(|| SipError::NotAcceptable("no common codec (PCMU/PCMA)".into()))?;
        Ok(Negotiated {
            remote: self.remote,
            codec,
            telephone_event: self.telephone_event,
            direction: self.direction.answer(),
            rtcp: self.rtcp,
            rtcp_mux: self.rtcp_mux,
            srtp: self.srtp()?,
        })
    }
}

/// Our side of the session: the address RTP is received on and the SDP origin's ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalMedia {
    /// Our RTP address (what goes in `c=` and `m=`).
    pub rtp: SocketAddr,
    /// `o=` session id.
    pub session_id: u64,
    /// `o=` session version; bumped on every new answer in the session.
    pub version: u64,
}

/// An SDP body read by ezk-sdp-types, the one reading of it that both the offer's use and our
/// answer's m-lines follow.
fn read_sdp(body: &[u8]) -> Result<SessionDescription, SipError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| SipError::NotAcceptable("SDP is not UTF-8".into()))?;
    if huge_crypto_lifetime(text) {
        return Err(SipError::NotAcceptable(
            "SDP: an a=crypto key lifetime of 2^32 or more".into(),
        ));
    }
    // A malformed attribute of a stream we refuse anyway (RFC 4475's `a=rtpmap:31 LPC` has no
    // clock rate) must not cost the call: retry without those attributes.
    SessionDescription::parse(&BytesStr::from(text))
        .or_else(|e| {
            SessionDescription::parse(&BytesStr::from(without_foreign_attributes(text)))
                .map_err(|_| e)
        })
        .map_err(|e| SipError::NotAcceptable(format!("SDP: {}", printable(&e.to_string()))))
}

/// Whether an `a=crypto` line has a `|2^N` key lifetime with N ≥ 32 (ezk-sdp-types computes
/// 2^N in a u32, which overflows: a panic in a debug build, found by fuzzing).
fn huge_crypto_lifetime(text: &str) -> bool {
    text.lines()
        .filter(|l| l.trim_start().starts_with("a=crypto"))
        .flat_map(|l| l.split("|2^").skip(1))
        .any(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.len() > 2 || digits.parse::<u32>().is_ok_and(|n| n >= 32)
        })
}

/// A parser's error as one line without key material: its first line, cut before any
/// `inline:` (an SDES key), for logs and the 488's Warning header.
fn printable(error: &str) -> String {
    let first = error.lines().next().unwrap_or_default();
    let first = first.split("inline:").next().unwrap_or_default();
    first
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}

/// The offer's text with the `a=` lines of every media section except audio ones removed.
fn without_foreign_attributes(text: &str) -> String {
    let mut foreign = false;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if let Some(m) = line.strip_prefix("m=") {
            foreign = !m.starts_with("audio ");
        } else if foreign && line.starts_with("a=") {
            continue;
        }
        out.push_str(line);
    }
    out
}

/// Writes the answer to `offer` (its raw SDP) for `negotiated`: RFC 3264 §6 wants one m-line
/// per offered m-line, in order, so the audio stream we take is answered in place and every
/// other stream (video, a second audio) is refused with port 0. The m-lines are the ones the
/// offer's parse saw (a malformed `m=audio049217` line once went back as `m=audio049217 0 0
/// 12`, which our own parser then read as audio of protocol `0`: found by fuzzing).
pub fn answer_offer(offer: &[u8], local: &LocalMedia, negotiated: &Negotiated) -> String {
    let full = answer(local, negotiated);
    let Ok(sdp) = read_sdp(offer) else {
        return full;
    };
    let streams = &sdp.media_descriptions;
    let taken = streams
        .iter()
        .position(|m| m.media.media_type == MediaType::Audio && m.media.port != 0);
    let (Some(taken), Some(at)) = (taken, full.find("m=audio")) else {
        return full;
    };
    let (session, audio) = full.split_at(at);
    let mut out = session.to_string();
    for (i, m) in streams.iter().enumerate() {
        if i == taken {
            out.push_str(audio);
        } else {
            let fmt = m.media.fmts.first().copied().unwrap_or(0);
            let _ = write!(
                out,
                "m={} 0 {} {fmt}\r\n",
                m.media.media_type, m.media.proto
            );
        }
    }
    out
}

/// Writes our offer (late offer: an INVITE without SDP gets it in the 2xx, RFC 3261 §13.2.1):
/// `codecs` in order of preference, telephone-event at `telephone_event`, ptime 20, sendrecv.
pub fn offer(local: &LocalMedia, codecs: &[AudioCodec], telephone_event: u8) -> String {
    offer_srtp(local, codecs, telephone_event, None)
}

/// [`offer`], as `RTP/SAVP` with our SDES key (tag 1) when `key` is given: a re-offer in a
/// call that is SRTP (a re-INVITE without SDP, our session refresh) keeps it so.
pub fn offer_srtp(
    local: &LocalMedia,
    codecs: &[AudioCodec],
    telephone_event: u8,
    key: Option<SdesKey>,
) -> String {
    let (net, ip) = match local.rtp.ip() {
        IpAddr::V4(ip) => ("IP4", ip.to_string()),
        IpAddr::V6(ip) => ("IP6", ip.to_string()),
    };
    let mut fmts = String::new();
    let mut maps = String::new();
    for codec in codecs {
        let pt = codec.payload_type();
        let _ = write!(fmts, "{pt} ");
        let _ = write!(maps, "a=rtpmap:{pt} {}/8000\r\n", codec.encoding());
    }
    let (profile, crypto) = match key {
        Some(key) => (
            "RTP/SAVP",
            format!(
                "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
                BASE64.encode(key)
            ),
        ),
        None => ("RTP/AVP", String::new()),
    };
    format!(
        "v=0\r\no=ivrd {} {} IN {net} {ip}\r\ns=ivrd\r\nc=IN {net} {ip}\r\nt=0 0\r\n\
         m=audio {} {profile} {fmts}{telephone_event}\r\n{maps}\
         a=rtpmap:{telephone_event} telephone-event/8000\r\na=fmtp:{telephone_event} 0-15\r\n\
         a=ptime:20\r\na=rtcp-mux\r\na=sendrecv\r\n{crypto}",
        local.session_id,
        local.version,
        local.rtp.port(),
    )
}

/// The SRTP of an answer to our re-offer, held to the call's: SRTP stays SRTP (the peer's
/// key may change, ours stays), RTP stays RTP; a switch either way is an error.
pub(crate) fn keep_srtp(
    current: Option<Sdes>,
    answered: Option<Sdes>,
) -> Result<Option<Sdes>, SipError> {
    match (current, answered) {
        (None, None) => Ok(None),
        (Some(ours), Some(new)) => Ok(Some(Sdes {
            ours: ours.ours,
            ..new
        })),
        _ => Err(SipError::NotAcceptable(
            "a re-offer may not switch between RTP and SRTP".into(),
        )),
    }
}

/// Writes an answer with only our audio stream (RFC 3264 §6: our codec, the offer's
/// telephone-event payload type, ptime 20). Use [`answer_offer`] when the offer is at hand.
pub fn answer(local: &LocalMedia, negotiated: &Negotiated) -> String {
    let (net, ip) = match local.rtp.ip() {
        IpAddr::V4(ip) => ("IP4", ip.to_string()),
        IpAddr::V6(ip) => ("IP6", ip.to_string()),
    };
    let codec = negotiated.codec;
    let mut fmts = codec.payload_type().to_string();
    if let Some(te) = negotiated.telephone_event {
        let _ = write!(fmts, " {te}");
    }
    let mut sdp = String::with_capacity(256);
    let profile = match negotiated.srtp {
        Some(_) => "RTP/SAVP",
        None => "RTP/AVP",
    };
    let _ = write!(
        sdp,
        "v=0\r\no=ivrd {} {} IN {net} {ip}\r\ns=ivrd\r\nc=IN {net} {ip}\r\nt=0 0\r\n\
         m=audio {} {profile} {fmts}\r\na=rtpmap:{} {}/8000\r\n",
        local.session_id,
        local.version,
        local.rtp.port(),
        codec.payload_type(),
        codec.encoding(),
    );
    if let Some(te) = negotiated.telephone_event {
        let _ = write!(
            sdp,
            "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-15\r\n"
        );
    }
    let _ = write!(
        sdp,
        "a=ptime:20\r\n{}a={}\r\n",
        if negotiated.rtcp_mux {
            "a=rtcp-mux\r\n"
        } else {
            ""
        },
        negotiated.direction.attribute()
    );
    if let Some(Sdes {
        tag,
        ours: Some(key),
        ..
    }) = negotiated.srtp
    {
        let _ = write!(
            sdp,
            "a=crypto:{tag} AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
            BASE64.encode(key)
        );
    }
    sdp
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIPP_OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
        c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 0 96\r\n\
        a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:96 telephone-event/8000\r\n\
        a=fmtp:96 0-15\r\na=ptime:20\r\n";

    /// RTCP goes to the RTP port + 1 unless `a=rtcp` (RFC 3605) says otherwise; `a=rtcp-mux`
    /// (RFC 5761) is answered in kind. baresip offers both.
    #[test]
    fn rtcp_port_and_mux_are_read_and_mux_is_answered() {
        let plain = MediaOffer::parse(SIPP_OFFER.as_bytes()).expect("valid offer");
        assert_eq!(plain.rtcp, "127.0.0.1:6001".parse().expect("addr"));
        assert!(!plain.rtcp_mux);
        let local = LocalMedia {
            rtp: "127.0.0.1:20000".parse().expect("addr"),
            session_id: 7,
            version: 1,
        };
        let n = plain.negotiate(&[AudioCodec::Pcmu]).expect("common");
        assert!(!answer(&local, &n).contains("rtcp-mux"));
        let baresip = SIPP_OFFER.replace(
            "a=ptime:20\r\n",
            "a=ptime:20\r\na=rtcp:6011 IN IP4 127.0.0.9\r\na=rtcp-mux\r\n",
        );
        let offer = MediaOffer::parse(baresip.as_bytes()).expect("valid offer");
        assert_eq!(offer.rtcp, "127.0.0.9:6011".parse().expect("addr"));
        assert!(offer.rtcp_mux);
        let n = offer.negotiate(&[AudioCodec::Pcmu]).expect("common");
        assert!(n.rtcp_mux);
        assert!(answer(&local, &n).contains("a=rtcp-mux\r\n"));
        assert!(offer_sdp_has_mux(&local));
    }

    /// RFC 4568 §5.1's style of offer (baresip's): RTP/SAVP with crypto lines; the first
    /// `AES_CM_128_HMAC_SHA1_80` without MKI is taken, and the answer repeats its tag with our
    /// key. RTP/SAVP without one, and AVPF or DTLS-SRTP, are refused (488).
    #[test]
    fn sdes_keys_are_read_and_answered() {
        let key = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
        let savp = SIPP_OFFER.replace("RTP/AVP", "RTP/SAVP").replace(
            "a=ptime:20\r\n",
            &format!(
                "a=ptime:20\r\na=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:{key}\r\n\
                 a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^20|1:4\r\n\
                 a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n"
            ),
        );
        let offer = MediaOffer::parse(savp.as_bytes()).expect("valid offer");
        assert!(offer.secure);
        let sdes = offer.sdes.expect("a usable key");
        assert_eq!(sdes.tag, 3, "the first _80 without MKI");
        assert_eq!(BASE64.encode(sdes.theirs), key);
        let mut n = offer.negotiate(&[AudioCodec::Pcmu]).expect("common");
        let ours = [7u8; 30];
        n.srtp.as_mut().expect("SRTP").ours = Some(ours);
        let local = LocalMedia {
            rtp: "127.0.0.1:20000".parse().expect("addr"),
            session_id: 7,
            version: 1,
        };
        let text = answer_offer(savp.as_bytes(), &local, &n);
        assert!(text.contains("m=audio 20000 RTP/SAVP 0 96\r\n"), "{text}");
        let line = format!(
            "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
            BASE64.encode(ours)
        );
        assert!(text.contains(&line), "{text}");
        assert!(!format!("{n:?}").contains(key), "keys stay out of logs");
        // Our answer reads back as SRTP with our key.
        let back = MediaOffer::parse(text.as_bytes()).expect("our answer");
        assert_eq!(back.sdes.map(|s| s.theirs), Some(ours));

        let keyless = SIPP_OFFER.replace("RTP/AVP", "RTP/SAVP");
        let offer = MediaOffer::parse(keyless.as_bytes()).expect("parses");
        assert!(offer.negotiate(&[AudioCodec::Pcmu]).is_err());
        for proto in ["RTP/SAVPF", "UDP/TLS/RTP/SAVP"] {
            let other = SIPP_OFFER.replace("RTP/AVP", proto);
            assert!(MediaOffer::parse(other.as_bytes()).is_err(), "{proto}");
        }
        // Session parameters or a lifetime past 2^31 are not for us; keys stay out of errors.
        let unencrypted = savp.replace(
            &format!("a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n"),
            &format!("a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{key} UNENCRYPTED_SRTP\r\n"),
        );
        let offer = MediaOffer::parse(unencrypted.as_bytes()).expect("parses");
        assert!(offer.sdes.is_none());
        let huge = savp.replace("|2^20|", "|2^40|");
        let e = MediaOffer::parse(huge.as_bytes()).expect_err("refused");
        assert!(!e.to_string().contains(key), "{e}");
        let broken = savp.replace(
            &format!("inline:{key}\r\n"),
            &format!("inline:{key}|x|\r\n"),
        );
        if let Err(e) = MediaOffer::parse(broken.as_bytes()) {
            assert!(!e.to_string().contains(key), "{e}");
        }
        // Plain RTP with a crypto line is plain RTP.
        let avp = savp.replace("RTP/SAVP", "RTP/AVP");
        let plain = MediaOffer::parse(avp.as_bytes()).expect("parses");
        assert_eq!(plain.negotiate(&[AudioCodec::Pcmu]).expect("ok").srtp, None);
    }

    /// Found by the `sdp` fuzz target (CI, 2026-12-03): an m-line without a space after its
    /// media (`m=audio049217`), which ezk-sdp-types reads as audio on 49217. The answer's
    /// refused m-lines were cut from the text by whitespace, so that line went back as
    /// `m=audio049217 0 0 12`, audio "on protocol 0", and our answer did not read back.
    #[test]
    fn the_answer_to_a_run_together_m_line_reads_back() {
        let offer = "v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 142.0.2.5\r\nt=3149328700 0\r\nm=audio049217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:3IP4 142.0.2.5\r\nt=3149328700 0\r\nm=audio 49217 RTP/AVP 0 12\r\n1 LPC\r\n";
        let parsed = MediaOffer::parse(offer.as_bytes()).expect("ezk reads it");
        let n = parsed.negotiate(&[AudioCodec::Pcmu]).expect("PCMU");
        let local = LocalMedia {
            rtp: "192.0.2.10:20000".parse().expect("addr"),
            session_id: 1,
            version: 2,
        };
        let answer = answer_offer(offer.as_bytes(), &local, &n);
        let back = MediaOffer::parse(answer.as_bytes()).expect("our answer reads back");
        assert_eq!(back.remote, local.rtp);
        assert_eq!(answer.matches("m=").count(), 3, "{answer}");
    }

    fn offer_sdp_has_mux(local: &LocalMedia) -> bool {
        offer(local, &[AudioCodec::Pcmu], 101).contains("a=rtcp-mux\r\n")
    }

    #[test]
    fn telephone_event_at_the_offered_payload_type() {
        let offer = MediaOffer::parse(SIPP_OFFER.as_bytes()).expect("valid offer");
        assert_eq!(offer.remote, "127.0.0.1:6000".parse().expect("addr"));
        assert_eq!(offer.codecs, [AudioCodec::Pcma, AudioCodec::Pcmu]);
        assert_eq!(offer.telephone_event, Some(96));
        assert_eq!(offer.ptime_ms, Some(20));
        let n = offer
            .negotiate(&[AudioCodec::Pcmu, AudioCodec::Pcma])
            .expect("common");
        assert_eq!(n.codec, AudioCodec::Pcmu);
        let local = LocalMedia {
            rtp: "127.0.0.1:20000".parse().expect("addr"),
            session_id: 7,
            version: 1,
        };
        let text = answer(&local, &n);
        assert!(text.contains("m=audio 20000 RTP/AVP 0 96\r\n"), "{text}");
        assert!(text.contains("a=rtpmap:96 telephone-event/8000\r\n"));
        let back = MediaOffer::parse(text.as_bytes()).expect("our answer parses");
        assert_eq!(back.telephone_event, Some(96));
    }

    /// RFC 2543 phones hold with `c=0.0.0.0` and no direction attribute; we answered
    /// `sendrecv` and kept sending to 0.0.0.0 until the RTP timeout ended the call.
    #[test]
    fn hold_with_a_zero_address_is_sendonly() {
        let held = SIPP_OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
        let offer = MediaOffer::parse(held.as_bytes()).expect("valid offer");
        assert_eq!(offer.direction, Direction::SendOnly);
        let n = offer.negotiate(&[AudioCodec::Pcmu]).expect("codec");
        assert_eq!(n.direction, Direction::RecvOnly, "we send nothing");
    }

    #[test]
    fn hold_and_no_codec() {
        let held = SIPP_OFFER.replace("a=ptime:20\r\n", "a=sendonly\r\n");
        let offer = MediaOffer::parse(held.as_bytes()).expect("valid offer");
        assert_eq!(offer.direction, Direction::SendOnly);
        assert_eq!(
            offer
                .negotiate(&[AudioCodec::Pcmu])
                .expect("common")
                .direction,
            Direction::RecvOnly
        );
        let g729 = SIPP_OFFER.replace("RTP/AVP 8 0 96", "RTP/AVP 18").replace(
            "a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n",
            "a=rtpmap:18 G729/8000\r\n",
        );
        let offer = MediaOffer::parse(g729.as_bytes()).expect("parses");
        assert!(matches!(
            offer.negotiate(&[AudioCodec::Pcmu, AudioCodec::Pcma]),
            Err(SipError::NotAcceptable(_))
        ));
        assert!(MediaOffer::parse(b"garbage").is_err());
    }

    #[test]
    fn our_offer_and_their_answer() {
        let local = LocalMedia {
            rtp: "127.0.0.1:20000".parse().expect("addr"),
            session_id: 7,
            version: 1,
        };
        let ours = offer(&local, &[AudioCodec::Pcmu, AudioCodec::Pcma], 101);
        assert!(ours.contains("m=audio 20000 RTP/AVP 0 8 101\r\n"), "{ours}");
        let parsed = MediaOffer::parse(ours.as_bytes()).expect("our offer parses");
        assert_eq!(parsed.codecs, [AudioCodec::Pcmu, AudioCodec::Pcma]);
        assert_eq!(parsed.telephone_event, Some(101));
        // The answer picks PCMA and is recvonly: it holds us, so we only send.
        let answer = SIPP_OFFER
            .replace("RTP/AVP 8 0 96", "RTP/AVP 8 96")
            .replace("a=ptime:20\r\n", "a=recvonly\r\n");
        let n = MediaOffer::parse(answer.as_bytes())
            .expect("answer")
            .accept_answer(&[AudioCodec::Pcmu, AudioCodec::Pcma])
            .expect("a codec we offered");
        assert_eq!((n.codec, n.telephone_event), (AudioCodec::Pcma, Some(96)));
        assert_eq!(n.direction, Direction::SendOnly);
        assert!(
            MediaOffer::parse(answer.as_bytes())
                .expect("answer")
                .accept_answer(&[AudioCodec::Pcmu])
                .is_err()
        );
    }

    #[test]
    fn other_streams_are_refused_in_place() {
        // A video line first, with an attribute our parser refuses (no clock rate).
        let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
            m=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\nm=audio 49217 RTP/AVP 0 12\r\n\
            m=audio 0 RTP/AVP 8\r\n";
        let parsed = MediaOffer::parse(offer.as_bytes()).expect("lenient parse");
        assert_eq!(parsed.remote, "192.0.2.1:49217".parse().expect("addr"));
        let n = parsed.negotiate(&[AudioCodec::Pcmu]).expect("common");
        let local = LocalMedia {
            rtp: "192.0.2.10:20000".parse().expect("addr"),
            session_id: 1,
            version: 1,
        };
        let text = answer_offer(offer.as_bytes(), &local, &n);
        let m_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("m=")).collect();
        assert_eq!(
            m_lines,
            [
                "m=video 0 RTP/AVP 31",
                "m=audio 20000 RTP/AVP 0",
                "m=audio 0 RTP/AVP 8"
            ]
        );
        assert!(text.contains("a=rtpmap:0 PCMU/8000"));
    }
}
