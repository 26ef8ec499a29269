//! Reading RTP with the kernel's receive timestamp (`SO_TIMESTAMPNS`): the media worker drains
//! each socket once per 20 ms tick, so the time a packet is read says nothing of when it
//! arrived; the jitter (RFC 3550) needs the time it arrived.

use std::io::IoSliceMut;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrLike, SockaddrStorage, recvmsg, setsockopt, sockopt,
};
use nix::sys::time::TimeSpec;

/// Asks the kernel to stamp every datagram `socket` receives; false if it would not.
pub(super) fn stamp_arrivals(socket: &UdpSocket) -> bool {
    setsockopt(socket, sockopt::ReceiveTimestampns, &true).is_ok()
}

/// One datagram: its length, its source, and when it arrived (since the Unix epoch), if the
/// kernel said.
pub(super) fn recv_stamped(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr, Option<Duration>)> {
    let mut space = nix::cmsg_space!(TimeSpec);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .map_err(std::io::Error::from)?;
    let mut arrival = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmTimestampns(t) = c {
                arrival = Some(Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32));
            }
        }
    }
    let from = msg.address.as_ref().and_then(socket_addr).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "datagram without a source")
    })?;
    Ok((msg.bytes, from, arrival))
}

fn socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    let v6 = a.as_sockaddr_in6()?;
    let _ = v6.family();
    Some(SocketAddr::V6((*v6).into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_comes_with_its_source_and_the_kernels_timestamp() {
        let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        assert!(stamp_arrivals(&rx));
        let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        tx.send_to(b"hello", rx.local_addr().expect("addr"))
            .expect("send");
        let mut buf = [0u8; 64];
        let (n, from, arrival) = recv_stamped(&rx, &mut buf).expect("receive");
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(from, tx.local_addr().expect("addr"));
        assert!(arrival.is_some_and(|a| a > Duration::from_secs(1_600_000_000)));
    }
}
