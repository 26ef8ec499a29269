//! Legs we place for a flow's `dial` node, driven by the call-control core: the core decides
//! (what to place, when to give up, what to bridge), this module carries it out (a port and
//! media for the leg on its caller's worker, the INVITE, the bridge) and feeds the core the
//! legs' SIP events.

use std::net::SocketAddr;
use std::time::Instant;

use call_control::{AttemptId, Input as SwitchInput, Output as SwitchOutput};
use media::{CallMediaConfig, MediaEvent};
use sip_ua::{CallId, Command, Dial, Event, LocalMedia, Transport};
use tracing::{info, warn};

use super::media_worker::{MediaCommand, law};
use super::{Daemon, TELEPHONE_EVENT};
use crate::clock;

/// A leg we placed: whose it is (its media lives on the caller's worker) and its RTP port.
pub(super) struct PlacedLeg {
    pub(super) caller: CallId,
    pub(super) sip_call_id: String,
    pub(super) rtp_port: u16,
    /// The trunk it went through (for the trunk's cap).
    pub(super) trunk: Option<String>,
}

impl Daemon {
    /// Feeds the core and carries out what it asks, until it waits.
    pub(super) fn switch(&mut self, now: Instant, input: SwitchInput) {
        self.switch.handle_input(now, input);
        while let Some(output) = self.switch.poll_output() {
            match output {
                SwitchOutput::Place {
                    attempt,
                    caller,
                    target,
                    trunk,
                    caller_id,
                } => {
                    let leg = self.place(now, attempt, caller, &target, trunk, &caller_id);
                    if let Err(reason) = &leg {
                        warn!(%caller, %target, %reason, "leg not placed");
                    }
                    self.switch
                        .handle_input(now, SwitchInput::Placed { attempt, leg });
                }
                SwitchOutput::HangUp(leg) => {
                    if let Err(e) = self.sip.handle_command(now, leg, Command::HangUp) {
                        tracing::debug!(%leg, error = %e, "hang-up: leg already over");
                    }
                }
                SwitchOutput::Bridge { caller, callee } => {
                    info!(%caller, %callee, "bridged");
                    self.media.send_home(
                        caller,
                        MediaCommand::Bridge {
                            a: caller,
                            b: callee,
                        },
                    );
                }
                SwitchOutput::Unbridge { caller, callee } => {
                    self.media.send_home(
                        caller,
                        MediaCommand::Unbridge {
                            a: caller,
                            b: callee,
                        },
                    );
                }
                SwitchOutput::Flow(caller, input) => self.drive(caller, input),
                other => warn!(output = ?other, "call-control output not handled"),
            }
        }
    }

    /// Places one leg: a port, its media on the caller's worker (no remote until the answer),
    /// and the INVITE with our offer. Without a trunk the target is a `sip:` URI whose host is
    /// an IP address; through a trunk it may be an E.164 number, the INVITE goes to the trunk's
    /// proxy and its challenges are answered with the trunk's credentials.
    fn place(
        &mut self,
        now: Instant,
        attempt: AttemptId,
        caller: CallId,
        target: &str,
        trunk: Option<String>,
        caller_id: &str,
    ) -> Result<CallId, String> {
        let (target, remote, credentials, trunk_caller_id) = match &trunk {
            None => (target.to_string(), target_address(target)?, None, None),
            Some(name) => {
                let t = self
                    .config
                    .trunks
                    .get(name)
                    .ok_or_else(|| format!("no trunk named {name}"))?;
                let busy = self
                    .placed
                    .values()
                    .filter(|p| p.trunk.as_deref() == Some(name))
                    .count();
                if busy >= t.max_calls {
                    return Err(format!("trunk {name} has {busy} calls, its cap"));
                }
                let uri = match target.starts_with("sip:") || target.starts_with("sips:") {
                    true => target.to_string(),
                    false => {
                        let host = t.domain.clone().unwrap_or_else(|| t.proxy.to_string());
                        format!("sip:{target}@{host}")
                    }
                };
                let credentials = match (&t.username, &t.password_env) {
                    (Some(username), Some(var)) => Some(sip_ua::Credentials {
                        username: username.clone(),
                        password: std::env::var(var)
                            .map_err(|_| format!("trunk {name}: {var} is not set"))?,
                    }),
                    _ => None,
                };
                (uri, t.proxy, credentials, t.caller_id.clone())
            }
        };
        let target = target.as_str();
        // The dial node's caller ID, else the trunk's, else the caller's own number.
        let ani = self
            .calls
            .get(&caller)
            .and_then(|c| c.flow.vars().get("ani"))
            .unwrap_or_default()
            .to_string();
        let caller_id = match (caller_id.is_empty(), trunk_caller_id) {
            (false, _) => caller_id.to_string(),
            (true, Some(id)) => id,
            (true, None) => ani,
        };
        let flow = self.flow(Transport::Udp, remote);
        let Some((port, socket)) = self.ports.allocate() else {
            return Err("RTP port range exhausted".into());
        };
        self.seed = self
            .seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let r = self.seed >> 16;
        let local = LocalMedia {
            rtp: SocketAddr::new(flow.local.ip(), port),
            session_id: r & 0xffff_ffff,
            version: 1,
        };
        let user: String = caller_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '+')
            .collect();
        let user = if user.is_empty() { "ivrd".into() } else { user };
        let dial = Dial {
            target: target.to_string(),
            from: format!("sip:{user}@{}", flow.local.ip()),
            flow,
            route: Vec::new(),
            local,
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
        let codec = self.codecs[0];
        let config = CallMediaConfig {
            remote: None,
            accept_from: self.config.rtp.accept_from.into(),
            law: law(codec),
            audio_payload_type: codec.payload_type(),
            telephone_event: Some(TELEPHONE_EVENT),
            ssrc: (r >> 8) as u32,
            first_sequence: r as u16,
            first_timestamp: (r >> 24) as u32,
            send_silence: self.config.rtp.send_silence,
            inactivity_ticks: (self.config.rtp.inactivity_s * 50) as u32,
            reorder_window: 3,
        };
        let sip_call_id = self.sip.sip_call_id(leg).unwrap_or_default().to_string();
        info!(%caller, %leg, %attempt, %target, rtp_port = port, "placing a leg");
        self.media.send_home(
            caller,
            MediaCommand::Start {
                call: leg,
                sip_call_id: sip_call_id.clone(),
                socket,
                config,
            },
        );
        self.placed.insert(
            leg,
            PlacedLeg {
                caller,
                sip_call_id,
                rtp_port: port,
                trunk,
            },
        );
        Ok(leg)
    }

    /// A SIP event of a leg we placed; false if `leg` is not one.
    pub(super) fn handle_leg_event(&mut self, leg: CallId, event: &Event) -> bool {
        let Some(p) = self.placed.get(&leg) else {
            return false;
        };
        let (caller, now) = (p.caller, clock::now());
        match event {
            Event::Answered(negotiated) | Event::MediaUpdated(negotiated) => {
                info!(%caller, %leg, remote = %negotiated.remote, codec = ?negotiated.codec, "leg media");
                self.media.send_home(
                    caller,
                    MediaCommand::Update {
                        call: leg,
                        negotiated: *negotiated,
                    },
                );
            }
            Event::Dtmf(d) => self.media.send_home(
                caller,
                MediaCommand::InfoDigit {
                    call: leg,
                    key: d.digit,
                },
            ),
            Event::Ended(reason) => {
                info!(%caller, %leg, ?reason, "leg ended");
                if let Some(p) = self.placed.remove(&leg) {
                    self.ports.release(p.rtp_port);
                    self.media
                        .send_home(caller, MediaCommand::End { call: leg });
                }
            }
            _ => {}
        }
        self.switch(now, SwitchInput::Sip(leg, event.clone()));
        true
    }

    /// A media report of a leg we placed (its digits are logged; the flow is the caller's).
    pub(super) fn handle_leg_media(&mut self, leg: CallId, event: MediaEvent) -> bool {
        let Some(p) = self.placed.get(&leg) else {
            return false;
        };
        match event {
            MediaEvent::Digit { key, source } => {
                info!(call_id = %p.sip_call_id, caller = %p.caller, key = %key, ?source, "digit from the far side");
            }
            MediaEvent::Inactive => {
                warn!(call_id = %p.sip_call_id, "no RTP on a placed leg: hanging up");
                let _ = self.sip.handle_command(clock::now(), leg, Command::HangUp);
            }
            _ => {}
        }
        true
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
