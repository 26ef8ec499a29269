//! What the application asks of a trunk registration ([`crate::Endpoint::add_trunk`]) and what
//! it hears back ([`crate::Output::Trunk`]).

use std::time::Duration;

use crate::{Credentials, Flow};

/// Handle of a trunk registration inside one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrunkId(pub(crate) u64);

/// A trunk we register with and/or keep alive with OPTIONS.
#[derive(Clone, Debug)]
pub struct TrunkRegistration {
    /// Its name in the configuration (for the logs).
    pub name: String,
    /// The REGISTER's (and OPTIONS') Request-URI, e.g. `sip:trunk.example.net`.
    pub registrar: String,
    /// The address of record registered, e.g. `sip:+15550001111@trunk.example.net` (From, To).
    pub aor: String,
    /// The user part of our Contact: what the trunk puts in the Request-URI of calls to us.
    pub contact_user: String,
    /// Where the requests go, and our address on that flow (the Contact's host).
    pub flow: Flow,
    /// Answers for a 401 or 407 challenge.
    pub credentials: Option<Credentials>,
    /// The binding's lifetime asked for (the registrar may grant less, or ask for more by 423).
    pub expires: Duration,
    /// Whether to REGISTER at all (false: OPTIONS keepalives only).
    pub register: bool,
    /// Send OPTIONS this often (none: no keepalives).
    pub keepalive: Option<Duration>,
}

/// A change in a trunk's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrunkEvent {
    /// The registrar accepted our binding for this long; it is refreshed before it runs out.
    Registered {
        /// As granted.
        expires: Duration,
    },
    /// A REGISTER failed (`status` 0: no answer within 64·T1; 401/407: a challenge we have no
    /// credentials for, or a second one in a row); the next try is in `retry_in`.
    RegisterFailed {
        /// The final status, or 0.
        status: u16,
        /// Until the next REGISTER.
        retry_in: Duration,
    },
    /// Registered (where we register) and answering OPTIONS (where we send them).
    Up,
    /// A registration failed or an OPTIONS went unanswered.
    Down,
}
