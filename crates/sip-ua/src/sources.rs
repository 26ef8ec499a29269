//! Who may call: source networks (`192.0.2.0/24`, `2001:db8::/32`, or one address) that new
//! INVITEs are admitted from. An INVITE from anywhere else gets a stateless `403` before any
//! limit, call or log line per message is spent on it (refusals are logged once per 10 s).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::SipError;

/// A source network: an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceNet {
    addr: IpAddr,
    prefix: u8,
}

impl SourceNet {
    /// Whether `ip` is in this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// One address.
    pub fn host(ip: IpAddr) -> Self {
        let prefix = if ip.is_ipv4() { 32 } else { 128 };
        Self { addr: ip, prefix }
    }

    /// Loopback only (`127.0.0.0/8` and `::1`): the default, so that SIPp on the same host
    /// works out of the box and nothing else does until it is listed.
    pub fn loopback() -> Vec<Self> {
        vec![
            Self {
                addr: IpAddr::from([127, 0, 0, 0]),
                prefix: 8,
            },
            Self {
                addr: IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
                prefix: 128,
            },
        ]
    }
}

impl FromStr for SourceNet {
    type Err = SipError;

    /// `a.b.c.d`, `a.b.c.d/len`, an IPv6 address with or without `/len`.
    fn from_str(s: &str) -> Result<Self, SipError> {
        let bad = |why: &str| SipError::BadNetwork(format!("{s:?}: {why}"));
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad("not an IP address"))?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| bad(&format!("the prefix length is 0 to {max}")))?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for SourceNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> SourceNet {
        s.parse().expect(s)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect(s)
    }

    #[test]
    fn networks_parse_and_contain() {
        assert!(net("192.0.2.0/24").contains(ip("192.0.2.200")));
        assert!(!net("192.0.2.0/24").contains(ip("192.0.3.1")));
        assert!(net("198.51.100.7").contains(ip("198.51.100.7")));
        assert!(!net("198.51.100.7").contains(ip("198.51.100.8")));
        assert!(net("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(net("2001:db8::/32").contains(ip("2001:db8:1::5")));
        assert!(!net("2001:db8::/32").contains(ip("192.0.2.1")));
        assert!(net("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
        assert!(
            SourceNet::loopback()
                .iter()
                .any(|n| n.contains(ip("127.0.0.3")))
        );
        assert!(SourceNet::loopback().iter().any(|n| n.contains(ip("::1"))));
        assert_eq!(net("10.1.2.3/8").to_string(), "10.1.2.3/8");
        for bad in [
            "",
            "10.0.0/8",
            "10.0.0.0/33",
            "::/129",
            "host.example",
            "1.2.3.4/x",
        ] {
            assert!(bad.parse::<SourceNet>().is_err(), "{bad}");
        }
    }
}
