//! The embedded SMS "provider" until the SMS gateway lands: each message a flow sends is
//! appended to a JSON-lines file, once per idempotency key for the life of the process.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use flow_engine::SmsRequest;

pub(crate) struct SmsFile {
    path: PathBuf,
    sent: HashSet<String>,
}

impl SmsFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            sent: HashSet::new(),
        }
    }

    /// Appends the message; a repeated idempotency key is accepted without a second line.
    pub(crate) fn append(
        &mut self,
        call_id: &str,
        sms: &SmsRequest,
        unix_ms: i64,
    ) -> Result<(), String> {
        if sms.to.trim().is_empty() {
            return Err("no recipient".into());
        }
        if self.sent.contains(&sms.idempotency_key) {
            return Ok(());
        }
        let line = serde_json::json!({
            "id": sms.idempotency_key,
            "call_id": call_id,
            "to": sms.to,
            "text": sms.text,
            "purpose": sms.purpose,
            "coupon": sms.coupon,
            "at_unix_ms": unix_ms,
        });
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        writeln!(file, "{line}").map_err(|e| format!("{}: {e}", self.path.display()))?;
        self.sent.insert(sms.idempotency_key.clone());
        Ok(())
    }
}
