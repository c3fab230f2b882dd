//! The byte stream under the SMTP dialogue: plain TCP, or TLS over it.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use rustls::{ClientConnection, StreamOwned};

/// A connection to the relay, before or after TLS.
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    /// Placeholder while the TCP stream is being moved into TLS.
    Detached,
}

fn detached() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection detached")
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
            Transport::Detached => Err(detached()),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
            Transport::Detached => Err(detached()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
            Transport::Detached => Err(detached()),
        }
    }
}

impl Transport {
    /// After a failed write on TLS, reads briefly to see whether the server sent a
    /// fatal alert before closing; returns that error if so.
    pub(crate) fn pending_tls_error(&mut self) -> Option<io::Error> {
        let Transport::Tls(s) = self else {
            return None;
        };
        let previous = s.sock.read_timeout().ok().flatten();
        let _ = s.sock.set_read_timeout(Some(Duration::from_millis(250)));
        let mut byte = [0u8; 1];
        let result = s.read(&mut byte);
        let _ = s.sock.set_read_timeout(previous);
        match result {
            Err(e) if crate::tls_failure::rustls_error(&e).is_some() => Some(e),
            _ => None,
        }
    }

    /// Sends a TLS close_notify (no-op without TLS).
    pub(crate) fn close_notify(&mut self) -> io::Result<()> {
        if let Transport::Tls(s) = self {
            s.conn.send_close_notify();
            s.flush()?;
        }
        Ok(())
    }
}
