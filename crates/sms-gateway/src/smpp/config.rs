//! What an SMPP link needs to know: account, sender, window, timers, message id bases.

use crate::SmsError;

/// Account and timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmppConfig {
    /// system_id (at most 15 characters).
    pub system_id: String,
    /// password (at most 8).
    pub password: String,
    /// system_type, often empty.
    pub system_type: String,
    /// Our sender: E.164 digits (with or without `+`) or an alphanumeric name.
    pub source: String,
    /// Most `submit_sm` waiting for their answers.
    pub window: usize,
    /// Quiet time before an `enquire_link`.
    pub enquire_link_ms: u64,
    /// How long any answer may take before the link counts as dead.
    pub response_timeout_ms: u64,
    /// First and longest wait before reconnecting.
    pub reconnect_min_ms: u64,
    /// See `reconnect_min_ms`.
    pub reconnect_max_ms: u64,
    /// How long a message waits for a bound link before it is reported back as retryable.
    pub hold_ms: u64,
    /// The number bases of SMSC message ids, as Kannel's `msg-id-type`, for receipts whose id is in the text only: `None` compares the
    /// ids of submit_sm_resp and of receipts as strings; `Some(bits)` reads both as numbers,
    /// bit 0 set meaning submit_sm_resp ids are hex, bit 1 set meaning receipt ids are hex
    /// (otherwise decimal). Some SMSCs answer in hex and quote the id in decimal.
    pub msg_id_type: Option<u8>,
}

impl Default for SmppConfig {
    fn default() -> Self {
        Self {
            system_id: String::new(),
            password: String::new(),
            system_type: String::new(),
            source: String::new(),
            window: 10,
            enquire_link_ms: 30_000,
            response_timeout_ms: 10_000,
            reconnect_min_ms: 1_000,
            reconnect_max_ms: 60_000,
            hold_ms: 30_000,
            msg_id_type: None,
        }
    }
}

impl SmppConfig {
    /// The key under which a submit_sm_resp id is remembered.
    pub(super) fn resp_key(&self, id: &str) -> String {
        self.key(id, 1)
    }

    /// The key a receipt's id is looked up by.
    pub(super) fn receipt_key(&self, id: &str) -> String {
        self.key(id, 2)
    }

    fn key(&self, id: &str, bit: u8) -> String {
        let radix = match self.msg_id_type {
            None => return id.to_string(),
            Some(bits) if bits & bit != 0 => 16,
            Some(_) => 10,
        };
        u64::from_str_radix(id.trim(), radix).map_or_else(|_| id.to_string(), |n| n.to_string())
    }

    /// Checks the lengths SMPP 3.4 §4.1.5 allows.
    pub fn validate(&self) -> Result<(), SmsError> {
        let bad = |what: &str| Err(SmsError::Smpp(what.to_string()));
        if self.system_id.is_empty() || self.system_id.len() > 15 {
            return bad("system_id must be 1 to 15 characters");
        }
        if self.password.len() > 8 {
            return bad("password may have at most 8 characters");
        }
        if self.system_type.len() > 12 {
            return bad("system_type may have at most 12 characters");
        }
        if self.source.is_empty() || self.source.len() > 20 || self.window == 0 {
            return bad("source must be 1 to 20 characters and the window at least 1");
        }
        Ok(())
    }
}
