//! The answering side of SIP for ivrd: a sans-IO [`Endpoint`] that takes datagrams (or framed
//! stream messages) and `now`, and gives back transmits, call events and its next deadline.
//!
//! Messages are parsed with rsipstack's `sip` module (the maintained rsip lineage: compact and
//! folded headers parse); transactions, dialogs and SDP offer/answer are ours, so that every
//! timer runs on the caller's clock and tests jump time. No rsipstack or ezk type is public.
//!
//! # Drain contract
//! After every [`Endpoint::handle_input`] or [`Endpoint::handle_command`], drain
//! [`Endpoint::poll_output`] until `None`, then sleep until [`Endpoint::poll_timeout`] and feed
//! [`Input::Timeout`].
//!
//! ```
//! use std::time::Instant;
//! use sip_ua::{Endpoint, Flow, Input, Output, SipConfig, Transport};
//!
//! let mut sip = Endpoint::new(SipConfig::default());
//! let flow = Flow {
//!     transport: Transport::Udp,
//!     remote: "127.0.0.1:5070".parse().unwrap(),
//!     local: "127.0.0.1:5060".parse().unwrap(),
//! };
//! let options = "OPTIONS sip:ivr@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
//!     From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:ivr@127.0.0.1>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\n\
//!     Content-Length: 0\r\n\r\n";
//! sip.handle_input(Instant::now(), Input::Datagram { flow, data: options.as_bytes() });
//! let Some(Output::Transmit(t)) = sip.poll_output() else { panic!() };
//! assert!(t.data.starts_with(b"SIP/2.0 200 OK"));
//! ```
//!
//! # Where requests go
//! Responses go back on the flow the request came in on (with `rport`/`received` stamped,
//! RFC 3581). Our in-dialog requests (BYE, REFER) also go on the INVITE's flow, to the caller's
//! Contact as Request-URI: the connection-reuse behaviour trunks behind NAT expect.
//!
//! # What is refused
//! Every message of RFC 4475 (§3.1–3.4) is a test in `tests/rfc4475/`. A request that does not
//! parse, repeats a single-value header, has an empty parameter or an unterminated quote in
//! Via/From/To/Contact, a CSeq method other than its own, a Request-URI in `<>` or with
//! headers, or a Content-Length beyond the datagram gets 400 with a Warning naming the
//! problem (505 for a SIP version other than 2.0, 416 for a scheme other than sip/sips/tel),
//! or is dropped when no response can be addressed. Then, as a UAS (RFC 3261 §8.2): methods we
//! know but do not serve get 405 with Allow, unknown ones 501; any `Require` 420 with
//! `Unsupported`; an INVITE body other than SDP 415; an INVITE whose `Accept` rules SDP out 406;
//! an SDP with no usable audio, or none of [`SipConfig::codecs`], 488 with a `Warning`
//! (305 or 399), before anything rings. Bytes after Content-Length in a datagram are
//! discarded; without Content-Length a datagram's body runs to its end. A message over the
//! stream framer's size limit gets 513.
//!
//! # Admission
//! A new INVITE is first checked against [`Admission`]: calls in setup in all and per source,
//! and a per-source rate. One over a limit gets a stateless `503` with `Retry-After`: no call
//! is created and no event is emitted. Repeated refusals and malformed messages are logged once
//! per reason per 10 s with a count ([`LogLimiter`]).
//!
//! # Late offer
//! An INVITE without SDP arrives with [`IncomingCall::offer`] `None`. Answer it with
//! [`Command::AnswerWithOffer`]: our offer goes in the 2xx, and the caller's answer in the ACK
//! becomes [`Event::MediaUpdated`]. An ACK without a usable answer ends the call with BYE
//! ([`EndReason::NoUsableAnswer`]).

mod admission;
mod build;
mod call;
mod digest;
mod dtmf_info;
mod endpoint;
mod error;
mod fallback;
mod framing;
mod log_limit;
mod message;
mod registrar;
pub mod sdp;
mod session_timer;
mod sources;
mod trunk;

use std::net::SocketAddr;
use std::time::Duration;

pub use admission::Admission;
pub use dtmf_info::InfoDigit;
pub use endpoint::{Endpoint, EndpointStats};
pub use error::SipError;
pub use framing::{Framed, StreamFramer};
pub use log_limit::LogLimiter;
pub use registrar::{
    Contacts, DigestCredentials, RegisterAnswer, RegisterId, Registration, issue_nonce, nonce_stamp,
};
pub use sdp::{AudioCodec, LocalMedia, MediaOffer, Negotiated, Sdes, SdesKey};
pub use session_timer::SessionTimers;
pub use sources::SourceNet;
pub use trunk::{TrunkEvent, TrunkId, TrunkRegistration};

/// Transport of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Datagrams: requests and 2xx are retransmitted on T1 doubling to T2.
    Udp,
    /// A stream connection: nothing is retransmitted.
    Tcp,
    /// A TLS connection (RFC 3261 §26.2; `sips:` URIs): a stream, as TCP.
    Tls,
}

impl Transport {
    /// Its name in Via (`SIP/2.0/UDP`).
    pub fn via_name(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
        }
    }

    /// The `transport=` URI parameter our Contact needs on it (none for UDP, the default).
    pub fn uri_param(self) -> &'static str {
        match self {
            Self::Udp => "",
            Self::Tcp => ";transport=tcp",
            Self::Tls => ";transport=tls",
        }
    }
}

/// Where a message came from or goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    /// UDP or TCP.
    pub transport: Transport,
    /// The peer's address.
    pub remote: SocketAddr,
    /// Our address on this flow (what Contact and Via advertise).
    pub local: SocketAddr,
}

/// Bytes to send on a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where.
    pub flow: Flow,
    /// A whole SIP message.
    pub data: Vec<u8>,
}

/// Timers and identity (RFC 3261 §17 and Table 4).
#[derive(Clone, Debug)]
pub struct SipConfig {
    /// Round-trip estimate: first retransmission interval.
    pub t1: Duration,
    /// Largest retransmission interval.
    pub t2: Duration,
    /// Server and User-Agent header value.
    pub user_agent: String,
    /// Seed for tags and branches; give each process a different one.
    pub seed: u64,
    /// Codecs we can use, in order of preference: an offer with none of them is refused (488)
    /// before the application hears of it, and a late offer lists them.
    pub codecs: Vec<AudioCodec>,
    /// Limits on new INVITEs.
    pub admission: Admission,
    /// Serve REGISTER (hand each to the application as [`Output::Register`]); else 405.
    pub registrar: bool,
    /// Session timers (RFC 4028): the interval we ask for and the least we accept.
    pub session_timers: SessionTimers,
}

impl Default for SipConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            user_agent: concat!("ivrd/", env!("CARGO_PKG_VERSION")).to_string(),
            seed: 0,
            codecs: vec![AudioCodec::Pcmu, AudioCodec::Pcma],
            admission: Admission::default(),
            registrar: false,
            session_timers: SessionTimers::default(),
        }
    }
}

/// An input to the endpoint.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// One datagram, or one message cut from a stream by [`StreamFramer`].
    Datagram {
        /// Where it came from.
        flow: Flow,
        /// The bytes.
        data: &'a [u8],
    },
    /// The stream framer refused a message over its size limit; `head` is what it kept of the
    /// header section (answered 513 when it names enough to address a response).
    Oversized {
        /// Where it came from.
        flow: Flow,
        /// The start of the message.
        head: &'a [u8],
    },
    /// A deadline from [`Endpoint::poll_timeout`] has passed.
    Timeout,
}

/// Opaque handle of a call inside one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(u64);

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "call-{}", self.0)
    }
}

/// What the application decides for a call.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Command {
    /// Send 180 Ringing.
    Ring,
    /// Send 183 Session Progress with our SDP answer: early media (prompts before answering).
    /// A later `Answer` repeats the same SDP.
    Progress {
        /// Our RTP address and SDP ids.
        local: LocalMedia,
        /// What [`MediaOffer::negotiate`] chose.
        negotiated: Negotiated,
    },
    /// Send a key press by SIP INFO (`application/dtmf-relay`), e.g. towards a transfer target.
    SendDigit {
        /// `0`–`9`, `*`, `#`, `A`–`D`.
        digit: char,
        /// Duration in ms.
        duration_ms: u32,
    },
    /// Answer a late-offer INVITE (no SDP): 200 OK with our offer; the caller's answer comes
    /// in the ACK as [`Event::MediaUpdated`].
    AnswerWithOffer {
        /// Our RTP address and SDP ids.
        local: LocalMedia,
        /// Telephone-event payload type to offer (101 is customary).
        telephone_event: u8,
    },
    /// Send 200 OK with our SDP answer.
    Answer {
        /// Our RTP address and SDP ids.
        local: LocalMedia,
        /// What [`MediaOffer::negotiate`] chose.
        negotiated: Negotiated,
    },
    /// Refuse an unanswered call with a 3xx–6xx status (e.g. 486, 488, 503).
    Reject {
        /// The status.
        status: u16,
    },
    /// Refuse an unanswered call with 401 and a digest challenge (its answer comes as a new
    /// INVITE with [`IncomingCall::credentials`]).
    Challenge {
        /// The realm.
        realm: String,
        /// A fresh nonce ([`issue_nonce`]).
        nonce: String,
        /// The nonce answered was too old.
        stale: bool,
    },
    /// End the call: BYE if answered, 480 if not.
    HangUp,
    /// Blind transfer with REFER (RFC 3515); the result arrives as events.
    Transfer {
        /// A SIP URI, e.g. `sip:sales@pbx.example.com`.
        target: String,
    },
}

/// A call we place ([`Endpoint::dial`]): our INVITE carries our offer; the answer arrives as
/// [`Event::Answered`].
#[derive(Clone, Debug)]
pub struct Dial {
    /// The Request-URI, e.g. `sip:agent@192.0.2.20` or `sip:+15551234567@trunk.example`.
    pub target: String,
    /// Our From URI (the caller ID presented), e.g. `sip:+15550001111@ivrd.example`.
    pub from: String,
    /// Where the INVITE goes (the target's host, or the trunk's outbound proxy), over which
    /// transport, and our address on that flow.
    pub flow: Flow,
    /// Route headers to send it with (an outbound proxy as `<sip:proxy;lr>`), in order.
    pub route: Vec<String>,
    /// Our RTP address and SDP ids for the offer.
    pub local: LocalMedia,
    /// Telephone-event payload type to offer.
    pub telephone_event: u8,
    /// Answers for a 401 or 407 challenge.
    pub credentials: Option<Credentials>,
}

/// A digest username and password (RFC 7616; MD5 or SHA-256).
#[derive(Clone, Debug)]
pub struct Credentials {
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A new call.
#[derive(Clone, Debug)]
pub struct IncomingCall {
    /// The caller's user part (ANI), e.g. `+15551234567`; empty if anonymous.
    pub caller: String,
    /// The caller's From URI.
    pub caller_uri: String,
    /// The dialled number (Request-URI user part, else To's).
    pub callee: String,
    /// The Request-URI.
    pub callee_uri: String,
    /// The SIP Call-ID, for logs.
    pub sip_call_id: String,
    /// The flow the INVITE came on (its `local` is the address to advertise in SDP).
    pub flow: Flow,
    /// The parsed SDP offer; `None` for a late offer (answer with
    /// [`Command::AnswerWithOffer`]).
    pub offer: Option<MediaOffer>,
    /// Every header, canonical names, in order.
    pub headers: Vec<(String, String)>,
    /// From outside [`Admission::allow`] (only with [`SipConfig::registrar`]; otherwise such
    /// an INVITE gets 403): authenticate it by [`IncomingCall::credentials`] and
    /// [`Command::Challenge`], or refuse it.
    pub unlisted: bool,
    /// An unlisted caller's `Authorization` (answering an earlier [`Command::Challenge`]).
    pub credentials: Option<DigestCredentials>,
}

/// How a transfer ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferOutcome {
    /// The transferee reached the target (NOTIFY sipfrag 2xx).
    Succeeded,
    /// REFER refused, or the target failed, with this status.
    Failed(u16),
    /// No final answer to REFER in 64·T1.
    TimedOut,
}

/// Why a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The caller sent BYE.
    CallerHungUp,
    /// The caller sent CANCEL before we answered.
    Cancelled,
    /// We hung up (BYE, or 480 before answering).
    HungUp,
    /// We rejected it with this status (also 488 for an offer we cannot use).
    Rejected(u16),
    /// Our 2xx was never acknowledged (64·T1); we sent BYE.
    AckTimeout,
    /// Late offer: the ACK brought no answer we can use; we sent BYE. Or a call we placed was
    /// answered without an answer we can use; we sent ACK and BYE.
    NoUsableAnswer,
    /// A call we placed was refused with this final status (486 busy, 404, 503 …).
    Refused(u16),
    /// A call we placed got no final response (Timer B, 64·T1).
    NoResponse,
    /// The session timer ran out (RFC 4028 §10): the peer stopped refreshing, or our refresh
    /// was not answered in time or was answered 481/408; we sent BYE.
    SessionExpired,
    /// A reliable provisional response was never acknowledged by PRACK (RFC 3262 §3,
    /// 64·T1); we refused the INVITE with 500.
    NoPrack,
}

/// Something that happened to a call.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A new INVITE; answer, ring or reject it.
    Incoming(Box<IncomingCall>),
    /// A call we placed is ringing (180, or 183 without SDP) or has early media (183 with an
    /// answer).
    Progress(Option<Negotiated>),
    /// A call we placed was answered (2xx, ACKed); its media.
    Answered(Negotiated),
    /// The ACK for our 2xx arrived.
    Acked,
    /// A key press sent by SIP INFO.
    Dtmf(InfoDigit),
    /// The media changed: a re-INVITE (hold, new address; already answered), or the answer
    /// to our late offer arrived in the ACK.
    MediaUpdated(Negotiated),
    /// The REFER was accepted (202); the result follows.
    TransferAccepted,
    /// The transfer's result.
    TransferResult(TransferOutcome),
    /// The call is over; its handle is no longer valid.
    Ended(EndReason),
}

/// What the endpoint asks of its driver.
#[derive(Clone, Debug)]
pub enum Output {
    /// Send these bytes.
    Transmit(Transmit),
    /// Tell the application.
    Event(CallId, Event),
    /// A REGISTER for the application to decide on (only with [`SipConfig::registrar`]);
    /// answer it with [`Endpoint::answer_register`].
    Register(Registration),
    /// A trunk registration's state changed ([`Endpoint::add_trunk`]).
    Trunk(TrunkId, TrunkEvent),
}
