//! A client's connection: plain TCP or TLS over it, every read and write bounded by the
//! current step's deadline, and line reading with a cap.

use std::io::{self, BufRead, Read, Write};
use std::time::Instant;

use mailcert_sender::DeadlineStream;
use rustls::{ServerConnection, StreamOwned};

/// A client connection, before or after STARTTLS.
pub(crate) enum Conn {
    Plain(DeadlineStream),
    Tls(Box<StreamOwned<ServerConnection, DeadlineStream>>),
}

impl Conn {
    /// Sets the deadline of the step that starts now.
    pub(crate) fn set_deadline(&mut self, deadline: Instant) {
        match self {
            Conn::Plain(s) => s.set_deadline(deadline),
            Conn::Tls(s) => s.sock.set_deadline(deadline),
        }
    }
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

/// What [`read_line`] found.
pub(crate) enum Line {
    /// A complete line, terminator included.
    Full,
    /// The cap was reached before a line feed.
    TooLong,
    /// The client closed the connection (possibly mid-line).
    Eof,
}

/// Reads one line of at most `cap` bytes into `buf` (cleared first).
pub(crate) fn read_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Line> {
    buf.clear();
    let n = reader
        .by_ref()
        .take(u64::try_from(cap).unwrap_or(u64::MAX))
        .read_until(b'\n', buf)?;
    Ok(if buf.last() == Some(&b'\n') {
        Line::Full
    } else if n < cap {
        Line::Eof
    } else {
        Line::TooLong
    })
}
