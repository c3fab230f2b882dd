//! SMTP replies and their bounded reading.
//!
//! The bytes come from the network: no slice index is taken on them without a check.
#![deny(clippy::indexing_slicing)]

use std::fmt;
use std::io::{self, BufRead, Read};

/// The longest reply line accepted, terminator included.
pub const MAX_REPLY_LINE: usize = 4096;
/// The most lines accepted in one multi-line reply.
pub const MAX_REPLY_LINES: usize = 100;

/// A server reply: its three-digit code and the text of each line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply code, e.g. 250.
    pub code: u16,
    /// The text after the code on each line, without the separator and CRLF.
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx: the command succeeded.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx: the server waits for more (354 after DATA, 334 during AUTH).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 4xx: a temporary failure, worth retrying later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// The enhanced status code (RFC 3463) at the start of the first line, e.g.
    /// `5.7.1`, if the server gave one.
    pub fn enhanced_code(&self) -> Option<&str> {
        let first = self.lines.first()?;
        let code = first.split(' ').next()?;
        let mut parts = code.split('.');
        let class = parts.next()?;
        let well_formed = matches!(class, "2" | "4" | "5")
            && parts
                .by_ref()
                .take(2)
                .filter(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
                .count()
                == 2
            && parts.next().is_none();
        well_formed.then_some(code)
    }

    /// All lines joined with a space.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        for (i, line) in self.lines.iter().enumerate() {
            if i == 0 {
                write!(f, " {line}")?;
            } else {
                write!(f, " / {line}")?;
            }
        }
        Ok(())
    }
}

/// A recipient and the server's reply to its RCPT TO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientReply {
    /// The recipient address.
    pub address: String,
    /// The server's reply.
    pub reply: Reply,
}

/// Why a reply could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The transport failed (including TLS alerts and timeouts).
    Io(io::Error),
    /// The server closed the connection before a complete reply.
    Closed,
    /// The bytes received are not an SMTP reply, or exceed the bounds.
    Malformed(String),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// Reads one (possibly multi-line) reply, at most [`MAX_REPLY_LINES`] lines of at most
/// [`MAX_REPLY_LINE`] bytes each.
pub(crate) fn read_reply<R: BufRead>(reader: &mut R) -> Result<Reply, ReadError> {
    let mut code = None;
    let mut lines = Vec::new();
    let mut buf = Vec::with_capacity(128);
    loop {
        if lines.len() >= MAX_REPLY_LINES {
            return Err(ReadError::Malformed(format!(
                "reply longer than {MAX_REPLY_LINES} lines"
            )));
        }
        buf.clear();
        let limit = MAX_REPLY_LINE as u64;
        let n = reader.by_ref().take(limit).read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        if buf.last() != Some(&b'\n') {
            if n >= MAX_REPLY_LINE {
                return Err(ReadError::Malformed(format!(
                    "reply line longer than {MAX_REPLY_LINE} bytes"
                )));
            }
            return Err(ReadError::Closed);
        }
        let line = trim_crlf(&buf);
        let (line_code, last, text) = parse_line(line)?;
        match code {
            None => code = Some(line_code),
            Some(c) if c != line_code => {
                return Err(ReadError::Malformed(format!(
                    "reply lines carry different codes ({c} and {line_code})"
                )));
            }
            Some(_) => {}
        }
        lines.push(text);
        if last {
            return Ok(Reply {
                code: line_code,
                lines,
            });
        }
    }
}

/// Reads replies from `bytes` one after another, as a pipelining client does, until the
/// input ends or a reply cannot be read; returns the replies and why reading stopped.
/// For the fuzz target (`fuzz/fuzz_targets/smtp_reply.rs`), not for applications.
#[doc(hidden)]
pub fn read_replies_for_fuzzing(bytes: &[u8]) -> (Vec<Reply>, String) {
    let mut reader = io::BufReader::new(bytes);
    let mut replies = Vec::new();
    loop {
        match read_reply(&mut reader) {
            Ok(reply) => replies.push(reply),
            Err(ReadError::Closed) => return (replies, "closed".into()),
            Err(ReadError::Malformed(why)) => return (replies, format!("malformed: {why}")),
            Err(ReadError::Io(e)) => return (replies, format!("i/o: {e}")),
        }
    }
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Splits `250-text` / `250 text` / `250` into code, is-last and text.
fn parse_line(line: &[u8]) -> Result<(u16, bool, String), ReadError> {
    let malformed = || {
        ReadError::Malformed(format!(
            "not an SMTP reply line: {:?}",
            String::from_utf8_lossy(line.get(..80).unwrap_or(line))
        ))
    };
    let (digits, rest) = match line {
        [a @ b'2'..=b'5', b, c, rest @ ..] if b.is_ascii_digit() && c.is_ascii_digit() => {
            ([*a, *b, *c], rest)
        }
        _ => return Err(malformed()),
    };
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    let (last, text) = match rest {
        [] => (true, &[][..]),
        [b' ', text @ ..] => (true, text),
        [b'-', text @ ..] => (false, text),
        _ => return Err(malformed()),
    };
    Ok((code, last, String::from_utf8_lossy(text).into_owned()))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // a test that indexes past the end fails, as it should
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Reply, ReadError> {
        read_reply(&mut io::BufReader::new(bytes))
    }

    #[test]
    fn reads_multi_line_reply() {
        let reply = read(b"250-mx.example greets you\r\n250-PIPELINING\r\n250 SIZE 100\r\n")
            .expect("reply");
        assert_eq!(reply.code, 250);
        assert_eq!(
            reply.lines,
            ["mx.example greets you", "PIPELINING", "SIZE 100"]
        );
        assert_eq!(
            reply.to_string(),
            "250 mx.example greets you / PIPELINING / SIZE 100"
        );
    }

    #[test]
    fn reads_bare_code_and_enhanced_code() {
        assert_eq!(read(b"250\r\n").expect("reply").lines, [""]);
        let reply = read(b"550 5.1.1 <x@y>: Recipient address rejected\r\n").expect("reply");
        assert_eq!(reply.enhanced_code(), Some("5.1.1"));
        assert_eq!(read(b"250 Ok\r\n").expect("reply").enhanced_code(), None);
    }

    #[test]
    fn rejects_garbage_mixed_codes_and_oversize() {
        assert!(matches!(read(b"hello\r\n"), Err(ReadError::Malformed(_))));
        assert!(matches!(
            read(b"250-a\r\n251 b\r\n"),
            Err(ReadError::Malformed(_))
        ));
        let long = [b"250 ".as_slice(), &[b'x'; MAX_REPLY_LINE], b"\r\n"].concat();
        assert!(matches!(read(&long), Err(ReadError::Malformed(_))));
        let many = "250-x\r\n".repeat(MAX_REPLY_LINES + 1);
        assert!(matches!(
            read(many.as_bytes()),
            Err(ReadError::Malformed(_))
        ));
    }

    #[test]
    fn the_fuzzing_entry_reads_pipelined_replies_and_says_why_it_stopped() {
        let (replies, end) = read_replies_for_fuzzing(b"250 a\r\n354-b\r\n354 c\r\nbad\r\n");
        assert_eq!(replies.len(), 2);
        assert_eq!(replies[1].lines, ["b", "c"]);
        assert!(
            end.starts_with("malformed: not an SMTP reply line"),
            "{end}"
        );
        let (replies, end) = read_replies_for_fuzzing(b"221 bye\r\n");
        assert_eq!((replies.len(), end.as_str()), (1, "closed"));
    }

    #[test]
    fn eof_is_closed() {
        assert!(matches!(read(b""), Err(ReadError::Closed)));
        assert!(matches!(read(b"250-partial\r\n"), Err(ReadError::Closed)));
        assert!(matches!(read(b"250 no newline"), Err(ReadError::Closed)));
    }
}
