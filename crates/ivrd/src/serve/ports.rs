//! The RTP port range: an even port for RTP and the odd one above it for RTCP (RFC 3550 §11),
//! each call's pair drawn at random from the free ones, so that a stranger cannot guess the
//! next call's port from the last. A released port cools down behind
//! the last [`COOLING`] releases before it can be drawn again (late packets of the old call
//! would land in the new one).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};

/// How many released ports wait before they are free again.
const COOLING: usize = 64;

/// A call's two sockets.
pub(crate) struct RtpSockets {
    pub(crate) rtp: UdpSocket,
    pub(crate) rtcp: UdpSocket,
}

pub(crate) struct PortPool {
    ip: IpAddr,
    free: Vec<u16>,
    cooling: VecDeque<u16>,
    rng: u64,
}

impl PortPool {
    pub(crate) fn new(ip: IpAddr, min: u16, max: u16, seed: u64) -> Self {
        let first = min + min % 2;
        Self {
            ip,
            free: (first..max).step_by(2).collect(),
            cooling: VecDeque::new(),
            rng: seed | 1,
        }
    }

    /// Bound RTP and RTCP sockets on a random free pair; pairs in use by someone else are
    /// skipped (and left to cool).
    pub(crate) fn allocate(&mut self) -> Option<(u16, RtpSockets)> {
        for _ in 0..self.free.len() + self.cooling.len() {
            if self.free.is_empty() {
                self.free.push(self.cooling.pop_front()?);
            }
            let i = (self.next_random() % self.free.len() as u64) as usize;
            let port = self.free.swap_remove(i);
            let bind = |port: u16| UdpSocket::bind(SocketAddr::new(self.ip, port));
            match (bind(port), bind(port + 1)) {
                (Ok(rtp), Ok(rtcp)) => return Some((port, RtpSockets { rtp, rtcp })),
                _ => self.release(port),
            }
        }
        None
    }

    pub(crate) fn release(&mut self, port: u16) {
        self.cooling.push_back(port);
        if self.cooling.len() > COOLING
            && let Some(cooled) = self.cooling.pop_front()
        {
            self.free.push(cooled);
        }
    }

    /// xorshift64*.
    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ports were handed out in order from `port_min`, so the next call's port was the last
    /// one plus two: anyone who had one call knew where the next caller's media would be.
    #[test]
    fn ports_are_even_unpredictable_and_cool_before_reuse() {
        let mut pool = PortPool::new([127, 0, 0, 1].into(), 41_001, 41_400, 7);
        let mut drawn = Vec::new();
        let mut sockets = Vec::new();
        for _ in 0..10 {
            let (port, socket) = pool.allocate().expect("port");
            assert_eq!(port % 2, 0);
            assert_eq!(socket.rtcp.local_addr().expect("bound").port(), port + 1);
            drawn.push(port);
            sockets.push(socket);
        }
        let in_order = drawn.windows(2).filter(|w| w[1] == w[0] + 2).count();
        assert!(in_order < 3, "consecutive ports: {drawn:?}");
        drop(sockets);
        let released = drawn[0];
        pool.release(released);
        for _ in 0..COOLING - 1 {
            let (port, _socket) = pool.allocate().expect("port");
            assert_ne!(port, released, "a released port cools down first");
            pool.release(port);
        }
    }
}
