//! Placing a leg the core asked for: the target's address (directly, or through a trunk's
//! proxy with its credentials), an RTP port and the leg's media on its home worker, and the
//! INVITE with our offer.

use std::net::SocketAddr;
use std::time::Instant;

use media::CallMediaConfig;
use sip_ua::{CallId, Dial, LocalMedia, Transport};
use tracing::info;

use super::{Daemon, TELEPHONE_EVENT};

/// What the core asked to place.
pub(super) struct Place<'a> {
    /// Whose media worker (a push call's: its own).
    pub(super) home: Option<CallId>,
    pub(super) target: &'a str,
    pub(super) trunk: Option<&'a str>,
    pub(super) caller_id: &'a str,
    pub(super) media: CallMediaConfig,
    pub(super) session: u64,
}

impl Daemon {
    /// Places one leg. Without a trunk the target is a `sip:` URI whose host is an IP address;
    /// through a trunk it may be an E.164 number, the INVITE goes to the trunk's proxy and its
    /// challenges are answered with the trunk's credentials.
    pub(super) fn place(&mut self, now: Instant, p: Place<'_>) -> Result<CallId, String> {
        let (target, remote, credentials) = match p.trunk {
            None => (p.target.to_string(), target_address(p.target)?, None),
            Some(name) => {
                let t = self
                    .config
                    .trunks
                    .get(name)
                    .ok_or_else(|| format!("no trunk named {name}"))?;
                let uri = match p.target.starts_with("sip:") || p.target.starts_with("sips:") {
                    true => p.target.to_string(),
                    false => {
                        let host = t.domain.clone().unwrap_or_else(|| t.proxy.to_string());
                        format!("sip:{}@{host}", p.target)
                    }
                };
                let credentials = super::trunks::credentials(name, t)?;
                (uri, t.proxy, credentials)
            }
        };
        let flow = self.flow(Transport::Udp, remote);
        let user: String = p
            .caller_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '+')
            .collect();
        let user = if user.is_empty() { "ivrd".into() } else { user };
        // The port is bound first (the offer names it); the media starts once the leg has an id.
        let Some((port, sockets)) = self.ports.allocate() else {
            return Err("RTP port range exhausted".into());
        };
        let dial = Dial {
            target: target.clone(),
            from: format!("sip:{user}@{}", flow.local.ip()),
            flow,
            route: Vec::new(),
            local: LocalMedia {
                rtp: SocketAddr::new(flow.local.ip(), port),
                session_id: p.session,
                version: 1,
            },
            telephone_event: TELEPHONE_EVENT,
            credentials,
        };
        let leg = match self.sip.dial(now, dial) {
            Ok(leg) => leg,
            Err(e) => {
                self.ports.release(port);
                return Err(e.to_string());
            }
        };
        let home = p.home.unwrap_or(leg);
        info!(caller = %home, %leg, %target, rtp_port = port, "placing a leg");
        self.leg_ports.insert(leg, port);
        let sip_call_id = self.sip.sip_call_id(leg).unwrap_or_default().to_string();
        self.leg_call_ids.insert(leg, sip_call_id.clone());
        self.media.send_home(
            home,
            super::media_worker::MediaCommand::Start {
                call: leg,
                sip_call_id,
                sockets,
                config: p.media,
            },
        );
        Ok(leg)
    }
}

/// The address of a `sip:` target whose host is an IP address (port 5060 by default).
fn target_address(target: &str) -> Result<SocketAddr, String> {
    let rest = target
        .strip_prefix("sip:")
        .ok_or_else(|| format!("{target}: not a sip: URI"))?;
    let host_port = rest.rsplit('@').next().unwrap_or(rest);
    let host_port = host_port.split([';', '?', '>']).next().unwrap_or(host_port);
    if let Ok(addr) = host_port.parse::<SocketAddr>() {
        return Ok(addr);
    }
    host_port
        .parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 5060))
        .map_err(|_| format!("{target}: the host is not an IP address (DNS and trunks come later)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_with_ip_hosts() {
        assert_eq!(
            target_address("sip:agent@127.0.0.1:5070;transport=udp"),
            Ok("127.0.0.1:5070".parse().expect("addr"))
        );
        assert_eq!(
            target_address("sip:192.0.2.1"),
            Ok("192.0.2.1:5060".parse().expect("addr"))
        );
        assert!(target_address("sip:agent@pbx.example").is_err());
        assert!(target_address("tel:+15551234567").is_err());
    }
}
