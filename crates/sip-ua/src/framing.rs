//! SIP over a byte stream (TCP, TLS): messages are cut by the blank line and Content-Length
//! (RFC 3261 §18.3). Keep-alive CRLFs between messages are skipped.

use crate::SipError;

/// Largest header section accepted before the stream is declared broken.
const MAX_HEADERS: usize = 64 * 1024;
/// Largest body accepted.
const MAX_BODY: usize = 64 * 1024;

/// Accumulates stream bytes and yields whole messages.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
}

impl StreamFramer {
    /// An empty framer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole message, `Ok(None)` if more bytes are needed. An error means the stream
    /// cannot be resynchronised: close the connection.
    pub fn poll_message(&mut self) -> Result<Option<Vec<u8>>, SipError> {
        let skip = self
            .buf
            .iter()
            .take_while(|b| **b == b'\r' || **b == b'\n')
            .count();
        self.buf.drain(..skip);
        let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            if self.buf.len() > MAX_HEADERS {
                return Err(SipError::Malformed("header section too long".into()));
            }
            return Ok(None);
        };
        let head = String::from_utf8_lossy(&self.buf[..end]);
        let mut length = 0usize;
        for line in head.split("\r\n").skip(1) {
            if let Some((name, value)) = line.split_once(':') {
                let name = name.trim();
                if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l") {
                    length = value.trim().parse().map_err(|_| {
                        SipError::Malformed(format!("bad Content-Length {:?}", value.trim()))
                    })?;
                }
            }
        }
        if length > MAX_BODY {
            return Err(SipError::Malformed(format!("body of {length} bytes")));
        }
        let total = end + 4 + length;
        if self.buf.len() < total {
            return Ok(None);
        }
        let message = self.buf[..total].to_vec();
        self.buf.drain(..total);
        Ok(Some(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_waits() {
        let one = b"OPTIONS sip:a SIP/2.0\r\nl: 3\r\n\r\nabc";
        let mut f = StreamFramer::new();
        f.handle_bytes(b"\r\n\r\n");
        f.handle_bytes(&one[..10]);
        assert_eq!(f.poll_message(), Ok(None));
        f.handle_bytes(&one[10..]);
        f.handle_bytes(&one[..]);
        assert_eq!(f.poll_message(), Ok(Some(one.to_vec())));
        assert_eq!(f.poll_message(), Ok(Some(one.to_vec())));
        assert_eq!(f.poll_message(), Ok(None));
        f.handle_bytes(b"X\r\nContent-Length: nope\r\n\r\n");
        assert!(f.poll_message().is_err());
    }
}
