//! The DATA payload: line endings normalised to CRLF, lines starting with `.`
//! dot-stuffed (RFC 5321 4.5.2), and the `.` terminator appended.

/// The encoded payload and whether it holds 8-bit bytes.
pub(crate) struct Encoded {
    /// Everything to write after the 354 reply, terminator included.
    pub(crate) bytes: Vec<u8>,
    /// The message size to announce with SIZE (the payload without the terminator).
    pub(crate) size: usize,
    /// Whether some byte has the high bit set (BODY=8BITMIME is then due).
    pub(crate) eight_bit: bool,
}

/// Encodes `message` for transmission after DATA.
pub(crate) fn encode(message: &[u8]) -> Encoded {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 8);
    let mut at_line_start = true;
    let mut eight_bit = false;
    let mut bytes = message.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        match b {
            b'\r' => {
                // CRLF, or a bare CR: both become CRLF.
                if bytes.peek() == Some(&b'\n') {
                    bytes.next();
                }
                out.extend_from_slice(b"\r\n");
                at_line_start = true;
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                at_line_start = true;
            }
            _ => {
                if at_line_start && b == b'.' {
                    out.push(b'.');
                }
                eight_bit |= b >= 0x80;
                out.push(b);
                at_line_start = false;
            }
        }
    }
    if !out.is_empty() && !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    let size = out.len();
    out.extend_from_slice(b".\r\n");
    Encoded {
        bytes: out,
        size,
        eight_bit,
    }
}

#[cfg(test)]
mod tests {
    use super::encode;

    fn enc(input: &[u8]) -> Vec<u8> {
        encode(input).bytes
    }

    #[test]
    fn normalises_line_endings() {
        assert_eq!(enc(b"a\nb\r\nc\rd"), b"a\r\nb\r\nc\r\nd\r\n.\r\n");
    }

    #[test]
    fn stuffs_leading_dots_only() {
        assert_eq!(enc(b".\n..x\na.b\n"), b"..\r\n...x\r\na.b\r\n.\r\n");
        assert_eq!(enc(b".hidden"), b"..hidden\r\n.\r\n");
    }

    #[test]
    fn empty_message_is_just_the_terminator() {
        assert_eq!(enc(b""), b".\r\n");
    }

    #[test]
    fn reports_eight_bit_and_size() {
        let e = encode("Grüße\n".as_bytes());
        assert!(e.eight_bit);
        assert_eq!(e.size, e.bytes.len() - 3);
        assert!(!encode(b"plain").eight_bit);
    }
}
