//! DTMF carried in SIP INFO: `application/dtmf-relay` (`Signal=5`, `Duration=160`) and
//! `application/dtmf` (the bare key).

use crate::SipError;

/// A key press reported by SIP INFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InfoDigit {
    /// `0`–`9`, `*`, `#`, `A`–`D`.
    pub digit: char,
    /// Duration in ms, when given.
    pub duration_ms: Option<u32>,
}

/// Parses an INFO body. `Ok(None)`: no body (a keep-alive). An unknown content type or a body
/// without a key is an error (answered 415).
pub(crate) fn parse(content_type: &str, body: &[u8]) -> Result<Option<InfoDigit>, SipError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/dtmf-relay")
        && !media_type.eq_ignore_ascii_case("application/dtmf")
    {
        return Err(SipError::Malformed(format!(
            "INFO with unsupported content type {content_type:?}"
        )));
    }
    let text = String::from_utf8_lossy(body);
    let mut signal = None;
    let mut duration_ms = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once('=') {
            Some((key, value)) if key.trim().eq_ignore_ascii_case("signal") => {
                signal = Some(value.trim().to_string());
            }
            Some((key, value)) if key.trim().eq_ignore_ascii_case("duration") => {
                duration_ms = value.trim().parse().ok();
            }
            Some(_) => {}
            None if signal.is_none() => signal = Some(line.to_string()),
            None => {}
        }
    }
    let signal = signal.ok_or_else(|| SipError::Malformed("INFO without Signal".into()))?;
    let digit = match signal.as_str() {
        "10" => '*',
        "11" => '#',
        s if s.len() == 1 => s.chars().next().unwrap_or(' ').to_ascii_uppercase(),
        _ => ' ',
    };
    if !matches!(digit, '0'..='9' | '*' | '#' | 'A'..='D') {
        return Err(SipError::Malformed(format!(
            "INFO Signal {signal:?} is not a key"
        )));
    }
    Ok(Some(InfoDigit { digit, duration_ms }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let relay = parse("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n");
        assert_eq!(
            relay,
            Ok(Some(InfoDigit {
                digit: '5',
                duration_ms: Some(160)
            }))
        );
        assert_eq!(
            parse("application/dtmf", b"#"),
            Ok(Some(InfoDigit {
                digit: '#',
                duration_ms: None
            }))
        );
        assert_eq!(
            parse("application/dtmf-relay", b"Signal=11\r\n").map(|d| d.map(|d| d.digit)),
            Ok(Some('#'))
        );
        assert_eq!(parse("application/dtmf-relay", b""), Ok(None));
        assert!(parse("text/plain", b"5").is_err());
        assert!(parse("application/dtmf-relay", b"Signal=x\r\n").is_err());
    }
}
