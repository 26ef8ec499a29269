//! The RTP port range: even ports, handed out round-robin so that a port just released is not
//! reused at once (late packets of the old call would land in the new one).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};

pub(crate) struct PortPool {
    ip: IpAddr,
    free: VecDeque<u16>,
}

impl PortPool {
    pub(crate) fn new(ip: IpAddr, min: u16, max: u16) -> Self {
        let first = min + min % 2;
        Self {
            ip,
            free: (first..=max).step_by(2).collect(),
        }
    }

    /// A bound socket on the next free port; ports in use by someone else are skipped.
    pub(crate) fn allocate(&mut self) -> Option<(u16, UdpSocket)> {
        for _ in 0..self.free.len() {
            let port = self.free.pop_front()?;
            match UdpSocket::bind(SocketAddr::new(self.ip, port)) {
                Ok(socket) => return Some((port, socket)),
                Err(_) => self.free.push_back(port),
            }
        }
        None
    }

    pub(crate) fn release(&mut self, port: u16) {
        self.free.push_back(port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_ports_round_robin() {
        let mut pool = PortPool::new([127, 0, 0, 1].into(), 41_001, 41_006);
        let (a, _sa) = pool.allocate().expect("port");
        let (b, _sb) = pool.allocate().expect("port");
        assert_eq!((a % 2, b % 2), (0, 0));
        assert_ne!(a, b);
        pool.release(a);
        let (c, _sc) = pool.allocate().expect("port");
        assert_ne!(c, a, "a released port goes to the back");
    }
}
