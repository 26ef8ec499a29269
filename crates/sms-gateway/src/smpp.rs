//! SMPP 3.4 (the SMPP Developers Forum specification, issue 1.2): the PDU codec, what a
//! `deliver_sm` means, and a sans-IO transceiver session. The daemon owns the TCP socket.

mod config;
pub mod deliver;
pub mod pdu;
mod session;
mod submit;

pub use config::SmppConfig;
pub use deliver::Delivery;
pub use session::{DeliverToken, Output, Session};
