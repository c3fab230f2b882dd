//! The byte stream under the SMTP dialogue: plain TCP, or TLS over it, with a deadline
//! for the current step.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rustls::{ClientConnection, StreamOwned};

/// A TCP stream whose reads and writes fail once the step's deadline has passed.
///
/// A per-read timeout alone lets a peer that drips one byte a second hold a step for
/// ever; here every read and write may only wait for what is left of the deadline. The
/// relay's listener uses it for its clients too.
#[derive(Debug)]
pub struct DeadlineStream {
    tcp: TcpStream,
    deadline: Instant,
    /// The last call was a read that returned data: another read now means the peer may
    /// be waiting for our acknowledgement of it (see [`ack_now`]).
    read_last: bool,
}

impl DeadlineStream {
    /// Wraps `tcp`, with a first deadline.
    pub fn new(tcp: TcpStream, deadline: Instant) -> Self {
        DeadlineStream {
            tcp,
            deadline,
            read_last: false,
        }
    }

    /// Sets the deadline for what is read and written from now on.
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    /// The TCP stream underneath.
    pub fn get_ref(&self) -> &TcpStream {
        &self.tcp
    }

    /// The time left, or a timeout error once it is gone.
    fn remaining(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the step's deadline has passed",
            ));
        }
        Ok(left)
    }
}

impl Read for DeadlineStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.remaining()?;
        self.tcp.set_read_timeout(Some(left))?;
        if self.read_last {
            ack_now(&self.tcp);
        }
        let n = self.tcp.read(buf)?;
        self.read_last = n > 0;
        Ok(n)
    }
}

/// Acknowledges what was read so far at once, before waiting for more of it.
///
/// A server that writes two small segments in a row without `TCP_NODELAY` (Postfix's
/// smtpd after the TLS 1.3 handshake: its session tickets, then the EHLO reply) holds
/// the second one back by Nagle's algorithm until the first is acknowledged, and Linux
/// delays that acknowledgement by 40 ms while the client has nothing to send: 40 ms of
/// every connection spent idle on both sides. Setting `TCP_QUICKACK` sends the pending
/// acknowledgement now. It is done only when a read follows a read: after a write the
/// acknowledgement already rode on the data, and a pipelined session pays nothing.
/// Failing to set it costs only time.
fn ack_now(tcp: &TcpStream) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let _ = socket2::SockRef::from(tcp).set_tcp_quickack(true);
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = tcp;
}

impl Write for DeadlineStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.remaining()?;
        self.tcp.set_write_timeout(Some(left))?;
        self.read_last = false;
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// A connection to the relay, before or after TLS.
pub(crate) enum Transport {
    Plain(DeadlineStream),
    Tls(Box<StreamOwned<ClientConnection, DeadlineStream>>),
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
    /// Sets the deadline for everything read and written until the next call.
    pub(crate) fn set_deadline(&mut self, deadline: Instant) {
        match self {
            Transport::Plain(s) => s.deadline = deadline,
            Transport::Tls(s) => s.sock.deadline = deadline,
            Transport::Detached => {}
        }
    }

    /// After a failed write on TLS, reads briefly to see whether the server sent a
    /// fatal alert before closing; returns that error if so.
    pub(crate) fn pending_tls_error(&mut self) -> Option<io::Error> {
        let Transport::Tls(s) = self else {
            return None;
        };
        let previous = s.sock.deadline;
        s.sock.deadline = Instant::now() + Duration::from_millis(250);
        let mut byte = [0u8; 1];
        let result = s.read(&mut byte);
        s.sock.deadline = previous;
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
