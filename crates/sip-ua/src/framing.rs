//! SIP over a byte stream (TCP, TLS): messages are cut by the blank line and Content-Length
//! (RFC 3261 §18.3). Keep-alive CRLFs between messages are skipped.

use crate::SipError;

/// Largest header section accepted before the stream is declared broken.
const MAX_HEADERS: usize = 64 * 1024;
/// Largest body accepted.
const MAX_BODY: usize = 64 * 1024;

/// What the framer cut from the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Framed {
    /// A whole message.
    Message(Vec<u8>),
    /// A message over the size limit: the start of its header section, for a 513 (feed it as
    /// [`Input::Oversized`](crate::Input::Oversized)). An oversized body is skipped and the
    /// stream goes on; an oversized header section leaves the stream unusable (the next poll
    /// is an error).
    Oversized(Vec<u8>),
}

/// Where the framer is in the stream.
#[derive(Debug, Default)]
enum State {
    /// Between or inside messages.
    #[default]
    Reading,
    /// Skipping this many bytes of an oversized body.
    Skipping(usize),
    /// A header section ran past the limit: the stream cannot be resynchronised.
    Lost,
}

/// Accumulates stream bytes and yields whole messages.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
    state: State,
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

    /// Whether part of a message has arrived and waits for the rest (a reader's cue to time the
    /// header read).
    pub fn is_mid_message(&self) -> bool {
        !self.buf.iter().all(|b| *b == b'\r' || *b == b'\n')
            || matches!(self.state, State::Skipping(_))
    }

    /// The next message, `Ok(None)` if more bytes are needed. An error means the stream cannot
    /// be resynchronised: close the connection.
    pub fn poll_message(&mut self) -> Result<Option<Framed>, SipError> {
        match self.state {
            State::Lost => return Err(SipError::TooLarge("header section too long".into())),
            State::Skipping(_) => {
                self.skip();
                if matches!(self.state, State::Skipping(_)) {
                    return Ok(None);
                }
            }
            State::Reading => {}
        }
        let skip = self
            .buf
            .iter()
            .take_while(|b| **b == b'\r' || **b == b'\n')
            .count();
        self.buf.drain(..skip);
        let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            if self.buf.len() > MAX_HEADERS {
                self.state = State::Lost;
                let head = self.buf[..MAX_HEADERS].to_vec();
                self.buf.clear();
                return Ok(Some(Framed::Oversized(head)));
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
            let head = self.buf[..end + 4].to_vec();
            self.buf.drain(..end + 4);
            self.state = State::Skipping(length);
            self.skip();
            return Ok(Some(Framed::Oversized(head)));
        }
        let total = end + 4 + length;
        if self.buf.len() < total {
            return Ok(None);
        }
        let message = self.buf[..total].to_vec();
        self.buf.drain(..total);
        Ok(Some(Framed::Message(message)))
    }

    /// Drops what has arrived of an oversized body.
    fn skip(&mut self) {
        let State::Skipping(left) = self.state else {
            return;
        };
        let n = left.min(self.buf.len());
        self.buf.drain(..n);
        self.state = match left - n {
            0 => State::Reading,
            left => State::Skipping(left),
        };
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
        assert_eq!(f.poll_message(), Ok(Some(Framed::Message(one.to_vec()))));
        assert_eq!(f.poll_message(), Ok(Some(Framed::Message(one.to_vec()))));
        assert_eq!(f.poll_message(), Ok(None));
        f.handle_bytes(b"X\r\nContent-Length: nope\r\n\r\n");
        assert!(f.poll_message().is_err());
    }

    /// A message over the limit used to close the connection without a word; now its head
    /// comes back for a 513, its body is skipped as it arrives, and the stream goes on.
    #[test]
    fn an_oversized_body_is_refused_and_skipped() {
        let head = format!(
            "MESSAGE sip:a SIP/2.0\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        let mut f = StreamFramer::new();
        f.handle_bytes(head.as_bytes());
        f.handle_bytes(&vec![b'x'; 1000]);
        assert_eq!(
            f.poll_message(),
            Ok(Some(Framed::Oversized(head.into_bytes())))
        );
        assert!(f.is_mid_message());
        f.handle_bytes(&vec![b'x'; MAX_BODY + 1 - 1000]);
        let next = b"OPTIONS sip:a SIP/2.0\r\nl: 0\r\n\r\n";
        f.handle_bytes(next);
        assert_eq!(f.poll_message(), Ok(Some(Framed::Message(next.to_vec()))));
        assert!(!f.is_mid_message());
        f.handle_bytes(&vec![b'y'; MAX_HEADERS + 1]);
        assert!(matches!(f.poll_message(), Ok(Some(Framed::Oversized(_)))));
        assert!(
            f.poll_message().is_err(),
            "an endless header section ends the stream"
        );
    }
}
