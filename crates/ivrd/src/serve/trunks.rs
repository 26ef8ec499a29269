//! Registrations and keepalives with the configured trunks: each trunk with `register` or
//! `keepalive_s` is handed to the endpoint once at start; its state changes are logged there
//! and published here as `ivrd_trunk_up{trunk}`.

use std::time::{Duration, Instant};

use sip_ua::{Credentials, Transport, TrunkEvent, TrunkId, TrunkRegistration};
use tracing::warn;

use super::Daemon;
use super::config::Trunk;

impl Daemon {
    /// Starts registering with (and keeping alive) every trunk that asks for it.
    pub(super) fn start_trunks(&mut self, now: Instant) {
        let wanted: Vec<(String, Trunk)> = self
            .config
            .trunks
            .iter()
            .filter(|(_, t)| t.register || t.keepalive_s.is_some())
            .map(|(name, t)| (name.clone(), t.clone()))
            .collect();
        for (name, t) in wanted {
            let credentials = credentials(&name, &t).unwrap_or_else(|e| {
                warn!(trunk = %name, error = %e, "registering without credentials");
                None
            });
            let host = t.domain.clone().unwrap_or_else(|| t.proxy.to_string());
            let user = t.username.clone().unwrap_or_else(|| "ivrd".into());
            let spec = TrunkRegistration {
                name: name.clone(),
                registrar: format!("sip:{host}"),
                aor: format!("sip:{user}@{host}"),
                contact_user: user,
                flow: self.flow(Transport::Udp, t.proxy),
                credentials,
                expires: Duration::from_secs(t.register_expires_s),
                register: t.register,
                keepalive: t.keepalive_s.map(Duration::from_secs),
            };
            let id = self.sip.add_trunk(now, spec);
            metrics::gauge!("ivrd_trunk_up", "trunk" => name.clone()).set(0.0);
            self.trunk_names.insert(id, name);
        }
    }

    /// A trunk went up or down (registrations and failures are logged by the endpoint).
    pub(super) fn trunk_event(&mut self, id: TrunkId, event: TrunkEvent) {
        let Some(name) = self.trunk_names.get(&id) else {
            return;
        };
        let up = match event {
            TrunkEvent::Up => 1.0,
            TrunkEvent::Down => 0.0,
            TrunkEvent::Registered { .. } | TrunkEvent::RegisterFailed { .. } => return,
        };
        metrics::gauge!("ivrd_trunk_up", "trunk" => name.clone()).set(up);
    }
}

/// A trunk's digest credentials: its username and the password from its environment variable.
pub(super) fn credentials(name: &str, t: &Trunk) -> Result<Option<Credentials>, String> {
    match (&t.username, &t.password_env) {
        (Some(username), Some(var)) => Ok(Some(Credentials {
            username: username.clone(),
            password: std::env::var(var).map_err(|_| format!("trunk {name}: {var} is not set"))?,
        })),
        _ => Ok(None),
    }
}
