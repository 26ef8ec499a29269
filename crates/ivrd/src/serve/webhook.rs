//! The ticket webhook: every second, the deliveries due in the ticket store are POSTed to the
//! CRM with `X-Ivrd-Signature: sha256=<hex HMAC-SHA256 of the body>`; a 2xx marks one
//! delivered, anything else retries it with backoff (the store keeps them across restarts).

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tracing::{info, warn};

use crate::clock;
use crate::tickets::TicketLog;

/// `sha256=<hex>` of `body` under `secret`.
pub(crate) fn signature(secret: &str, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

pub(super) fn spawn(log: TicketLog, client: reqwest::Client, url: String, secret: String) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let due = match log.due(clock::unix_ms()).await {
                Ok(due) => due,
                Err(e) => {
                    warn!(error = %e, "ticket deliveries unavailable");
                    continue;
                }
            };
            for d in due {
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-ivrd-signature", signature(&secret, &d.body))
                    .body(d.body.clone())
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                let status = sent.as_ref().ok().map(|r| r.status().as_u16());
                let ok = status.is_some_and(|s| (200..300).contains(&s));
                match &sent {
                    Ok(_) if ok => info!(%url, delivery = d.id, "ticket delivered"),
                    Ok(r) => {
                        warn!(%url, delivery = d.id, status = r.status().as_u16(), "ticket refused")
                    }
                    Err(e) => warn!(%url, delivery = d.id, error = %e, "ticket not delivered"),
                }
                log.delivered(d.id, status, ok, clock::unix_ms());
            }
        }
    });
}

#[cfg(test)]
mod tests {
    /// RFC 4231 test case 2 (HMAC-SHA-256, key "Jefe").
    #[test]
    fn signatures_are_hmac_sha256_in_hex() {
        assert_eq!(
            super::signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
