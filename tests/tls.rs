//! SIP over TLS against a real `ivrd serve`, with a client of our own (rustls; SIPp here has no
//! TLS): it trusts only ivrd's self-signed certificate, sends OPTIONS and an SRTP INVITE to a
//! `sips:` URI, and presses `#` by SIP INFO; the demo flow's goodbye ends in ivrd's BYE, which
//! comes back over the same connection. Plain TCP on the TLS port fails its handshake and
//! harms nothing. A second call sends its key presses as SRTP itself: protected with another
//! key than the one it offered, nothing is heard; with its own, the key is. Real sockets on
//! 127.0.0.1, so this file reads the clock.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Ivrd;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn connect(port: u16, cert: &Path) -> Tls {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).expect("cert") {
        roots.add(c.expect("cert")).expect("a root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    rustls::StreamOwned::new(conn, tcp)
}

/// Reads one SIP message off the stream (head, then Content-Length octets of body).
fn read_message(tls: &mut Tls, pending: &mut Vec<u8>) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    let n = n.trim().to_ascii_lowercase();
                    (n == "content-length" || n == "l").then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if pending.len() >= end + 4 + length {
                let message: Vec<u8> = pending.drain(..end + 4 + length).collect();
                return String::from_utf8_lossy(&message).into_owned();
            }
        }
        assert!(Instant::now() < deadline, "no whole message: {pending:?}");
        let mut buf = [0u8; 4096];
        match tls.read(&mut buf) {
            Ok(0) => panic!("ivrd closed the TLS connection"),
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) => panic!("TLS read: {e}"),
        }
    }
}

/// The next message that is not a provisional response.
fn read_final(tls: &mut Tls, pending: &mut Vec<u8>) -> String {
    loop {
        let m = read_message(tls, pending);
        if !m.starts_with("SIP/2.0 1") {
            return m;
        }
    }
}

fn header<'a>(message: &'a str, name: &str) -> &'a str {
    message
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .unwrap_or_else(|| panic!("no {name} in {message}"))
}

#[test]
fn a_tls_client_calls_a_sips_uri_with_srtp_and_gets_ivrds_bye_on_its_connection() {
    let (ivrd, port, cert) = Ivrd::start_tls("client");
    // Not TLS at all: the handshake fails, the connection closes, ivrd goes on.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let _ = plain.write_all(b"OPTIONS sip:127.0.0.1 SIP/2.0\r\n\r\n");
    let mut sink = Vec::new();
    let _ = plain.read_to_end(&mut sink);
    common::wait_until("the failed handshake logged", 5, || {
        ivrd.log_text().contains("TLS handshake failed")
    });

    let mut tls = connect(port, &cert);
    let local = tls.sock.local_addr().expect("local");
    let mut pending = Vec::new();
    let via = format!("Via: SIP/2.0/TLS {local};branch=z9hG4bK-tls-1;rport");
    let options = format!(
        "OPTIONS sips:127.0.0.1:{port} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\n\
         From: <sips:client@127.0.0.1>;tag=c1\r\nTo: <sips:127.0.0.1:{port}>\r\n\
         Call-ID: tls-options-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    tls.write_all(options.as_bytes()).expect("OPTIONS");
    let ok = read_final(&mut tls, &mut pending);
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert!(header(&ok, "Via").starts_with("SIP/2.0/TLS"), "{ok}");

    let sdp = "v=0\r\no=client 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
        m=audio 9 RTP/SAVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n\
        a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
    let call_id = format!("tls-call-{}", std::process::id());
    let dialog = |to: &str| {
        format!(
            "From: <sips:client@127.0.0.1>;tag=c2\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
             Max-Forwards: 70\r\n"
        )
    };
    let invite = format!(
        "INVITE sips:999@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bK-tls-2\r\n\
         {}CSeq: 1 INVITE\r\nContact: <sips:client@{local}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        dialog(&format!("<sips:999@127.0.0.1:{port}>")),
        sdp.len()
    );
    tls.write_all(invite.as_bytes()).expect("INVITE");
    let answer = read_final(&mut tls, &mut pending);
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    assert!(
        answer.contains("m=audio ") && answer.contains(" RTP/SAVP "),
        "{answer}"
    );
    assert!(
        answer.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{answer}"
    );
    let contact = header(&answer, "Contact");
    assert!(contact.contains(";transport=tls"), "{contact}");
    assert!(
        contact.contains(&format!(":{port}")),
        "the TLS port: {contact}"
    );
    let to = header(&answer, "To").to_string();
    let target = contact.trim_start_matches('<').trim_end_matches('>');
    let ack = format!(
        "ACK {target} SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bK-tls-3\r\n{}\
         CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        dialog(&to)
    );
    tls.write_all(ack.as_bytes()).expect("ACK");
    let info_body = "Signal=#\r\nDuration=160\r\n";
    let info = format!(
        "INFO {target} SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bK-tls-4\r\n{}\
         CSeq: 2 INFO\r\nContent-Type: application/dtmf-relay\r\nContent-Length: {}\r\n\r\n{info_body}",
        dialog(&to),
        info_body.len()
    );
    tls.write_all(info.as_bytes()).expect("INFO");
    let ok = read_final(&mut tls, &mut pending);
    assert!(
        ok.starts_with("SIP/2.0 200") && ok.contains("CSeq: 2 INFO"),
        "{ok}"
    );
    // "#" is the demo's goodbye: its BYE comes over this connection.
    let bye = read_message(&mut tls, &mut pending);
    assert!(bye.starts_with("BYE "), "{bye}");
    assert!(header(&bye, "Via").starts_with("SIP/2.0/TLS"), "{bye}");
    let mut reply = String::from("SIP/2.0 200 OK\r\n");
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        reply.push_str(&format!("{name}: {}\r\n", header(&bye, name)));
    }
    reply.push_str("Content-Length: 0\r\n\r\n");
    tls.write_all(reply.as_bytes()).expect("200 to BYE");
    let ended = ivrd.media_ended(&call_id);
    assert!(ended.contains("srtp=true"), "{ended}");
    assert_eq!(ivrd.digits(&call_id), "#", "{}", ivrd.log_text());
}

/// RFC 4733 presses of `key` as SRTP from `from` to `to`, protected with `master`.
fn press(from: &UdpSocket, to: std::net::SocketAddr, key: char, master: [u8; 30], seq: u16) {
    let mut srtp = media::srtp::SrtpContext::new(&media::srtp::MasterKey(master));
    let mut sender = media::rtp::RtpSender::new(0x1234, seq, u32::from(seq) * 160);
    let start = sender.timestamp();
    let events = media::rfc4733::encode_key(key, 800, 10).expect("a key");
    for (i, event) in events.iter().enumerate() {
        let mut packet = Vec::new();
        sender
            .packet(101, i == 0, &event.to_bytes(), Some(start), &mut packet)
            .expect("packet");
        sender.advance(160);
        srtp.protect(&mut packet).expect("protect");
        from.send_to(&packet, to).expect("send");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn srtp_sent_with_another_key_than_offered_is_not_heard() {
    let (ivrd, port, cert) = Ivrd::start_tls("keys");
    let mut tls = connect(port, &cert);
    let local = tls.sock.local_addr().expect("local");
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("rtp socket");
    let rtp_port = rtp.local_addr().expect("addr").port();
    let (offered, other) = ([0x11u8; 30], [0x22u8; 30]);
    use base64::Engine as _;
    let inline = base64::engine::general_purpose::STANDARD.encode(offered);
    let sdp = format!(
        "v=0\r\no=client 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/SAVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{inline}\r\n"
    );
    let call_id = format!("tls-keys-{}", std::process::id());
    let head = |to: &str, cseq: &str| {
        format!(
            "Via: SIP/2.0/TLS {local};branch=z9hG4bK-{cseq}\r\nFrom: <sips:client@127.0.0.1>;tag=k1\r\n\
             To: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nMax-Forwards: 70\r\n"
        )
    };
    let invite = format!(
        "INVITE sips:999@127.0.0.1:{port} SIP/2.0\r\n{}Contact: <sips:client@{local}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        head(&format!("<sips:999@127.0.0.1:{port}>"), "1 INVITE"),
        sdp.len()
    );
    let mut pending = Vec::new();
    tls.write_all(invite.as_bytes()).expect("INVITE");
    let answer = read_final(&mut tls, &mut pending);
    assert!(
        answer.starts_with("SIP/2.0 200") && answer.contains("RTP/SAVP"),
        "{answer}"
    );
    let ivrd_rtp: u16 = answer
        .lines()
        .find_map(|l| l.strip_prefix("m=audio ")?.split(' ').next()?.parse().ok())
        .expect("ivrd's RTP port");
    let to = header(&answer, "To").to_string();
    let contact = header(&answer, "Contact");
    let target = contact
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string();
    let ack = format!(
        "ACK {target} SIP/2.0\r\n{}Content-Length: 0\r\n\r\n",
        head(&to, "1 ACK")
    );
    tls.write_all(ack.as_bytes()).expect("ACK");
    let to_ivrd = std::net::SocketAddr::from(([127, 0, 0, 1], ivrd_rtp));
    press(&rtp, to_ivrd, '5', other, 1000);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        ivrd.digits(&call_id),
        "",
        "a key heard through the wrong SRTP key"
    );
    press(&rtp, to_ivrd, '7', offered, 2000);
    common::wait_until("the 7 sent with the offered key", 5, || {
        ivrd.digits(&call_id) == "7"
    });
    let bye = format!(
        "BYE {target} SIP/2.0\r\n{}Content-Length: 0\r\n\r\n",
        head(&to, "2 BYE")
    );
    tls.write_all(bye.as_bytes()).expect("BYE");
    let ok = read_final(&mut tls, &mut pending);
    assert!(
        ok.starts_with("SIP/2.0 200") && ok.contains("CSeq: 2 BYE"),
        "{ok}"
    );
    let ended = ivrd.media_ended(&call_id);
    assert!(
        ended.contains("srtp=true") && !ended.contains("srtp_refused=0 "),
        "{ended}"
    );
}
