//! The connection under the SMTP dialogue: plain TCP or TLS over it, with bounded
//! line reading.

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;

use rustls::{ServerConnection, StreamOwned};

/// A client connection, before or after TLS.
pub(crate) enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// One line read with [`read_line`].
pub(crate) enum Line {
    /// A complete line, terminator included.
    Full,
    /// The cap was reached before a line feed; the bytes read so far are in the buffer.
    TooLong,
    /// The peer closed the connection (possibly mid-line).
    Eof,
}

/// Reads one line of at most `cap` bytes into `buf` (cleared first).
pub(crate) fn read_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Line> {
    buf.clear();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX);
    let n = reader.by_ref().take(limit).read_until(b'\n', buf)?;
    if buf.last() == Some(&b'\n') {
        Ok(Line::Full)
    } else if n == 0 || n < cap {
        Ok(Line::Eof)
    } else {
        Ok(Line::TooLong)
    }
}

/// Skips input up to and including the next line feed (after a [`Line::TooLong`]).
pub(crate) fn skip_line<R: BufRead>(reader: &mut R) -> io::Result<()> {
    loop {
        let (consumed, done) = {
            let available = reader.fill_buf()?;
            if available.is_empty() {
                return Ok(());
            }
            match available.iter().position(|&b| b == b'\n') {
                Some(pos) => (pos + 1, true),
                None => (available.len(), false),
            }
        };
        reader.consume(consumed);
        if done {
            return Ok(());
        }
    }
}
