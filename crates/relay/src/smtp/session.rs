//! The server side of one client's SMTP session: commands parsed with `smtp-proto`,
//! replies held back while pipelined commands wait, STARTTLS, AUTH, and DATA, which is
//! answered 250 only once the message is committed to the spool.

use std::io::{self, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use base64::prelude::{BASE64_STANDARD, Engine as _};
use mailcert_sender::DeadlineStream;
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN, Request};
use subtle::ConstantTimeEq;

use super::conn::{Conn, Line, read_line};
use crate::server::Shared;
use crate::spool::NewMessage;

/// A command line may be this long (RFC 5321 asks for 512; be lenient with parameters).
const COMMAND_LINE_CAP: usize = 4096;
/// Message data is read in pieces of at most this much.
const DATA_LINE_CAP: usize = 64 * 1024;
/// Recipients per transaction (RFC 5321 asks servers to take at least 100).
const MAX_RECIPIENTS: usize = 1000;
/// Commands per session.
const MAX_COMMANDS: u64 = 100_000;
/// Bad commands before the session is closed.
const MAX_ERRORS: u32 = 20;
/// Failed AUTH attempts before the session is closed.
const MAX_AUTH_FAILURES: u32 = 3;

enum Next {
    Close,
    StartTls,
}

struct Transaction {
    from: String,
    recipients: Vec<String>,
}

struct Session<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
    out: Vec<u8>,
    tls: bool,
    helo: Option<String>,
    authenticated: bool,
    transaction: Option<Transaction>,
    commands: u64,
    errors: u32,
    auth_failures: u32,
}

/// Serves one accepted client until QUIT, EOF, a limit, an I/O error or shutdown.
pub(crate) fn serve(shared: &Shared, tcp: TcpStream, peer: SocketAddr) {
    let _ = tcp.set_nodelay(true);
    let mut session = Session {
        shared,
        peer,
        out: Vec::with_capacity(512),
        tls: false,
        helo: None,
        authenticated: false,
        transaction: None,
        commands: 0,
        errors: 0,
        auth_failures: 0,
    };
    let deadline = Instant::now() + shared.command_timeout;
    let mut reader = BufReader::new(Conn::Plain(DeadlineStream::new(tcp, deadline)));
    session.reply(220, &format!("{} ESMTP mailcert relay", shared.hostname));
    loop {
        match session.dialogue(&mut reader) {
            Ok(Next::Close) | Err(_) => {
                let _ = session.flush(&mut reader);
                return;
            }
            Ok(Next::StartTls) => {
                if !reader.buffer().is_empty() {
                    // Commands sent in clear after STARTTLS, before the handshake: a
                    // client (or a man in the middle) trying to inject them.
                    return;
                }
                let Conn::Plain(tcp) = reader.into_inner() else {
                    return;
                };
                match session.handshake(tcp) {
                    Some(conn) => reader = BufReader::new(conn),
                    None => return,
                }
            }
        }
    }
}

impl Session<'_> {
    fn handshake(&mut self, mut tcp: DeadlineStream) -> Option<Conn> {
        let config = self.shared.tls.clone()?;
        let mut conn = rustls::ServerConnection::new(config).ok()?;
        tcp.set_deadline(Instant::now() + self.shared.command_timeout);
        while conn.is_handshaking() {
            if conn.complete_io(&mut tcp).is_err() {
                return None;
            }
        }
        self.tls = true;
        self.helo = None;
        self.authenticated = false;
        self.transaction = None;
        Some(Conn::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))))
    }

    fn reply(&mut self, code: u16, text: &str) {
        let _ = write!(self.out, "{code} {text}\r\n");
    }

    fn reply_lines(&mut self, code: u16, lines: &[String]) {
        let last = lines.len().saturating_sub(1);
        for (i, line) in lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            let _ = write!(self.out, "{code}{sep}{line}\r\n");
        }
    }

    fn flush(&mut self, reader: &mut BufReader<Conn>) -> io::Result<()> {
        if !self.out.is_empty() {
            let conn = reader.get_mut();
            conn.set_deadline(Instant::now() + self.shared.command_timeout);
            conn.write_all(&self.out)?;
            conn.flush()?;
            self.out.clear();
        }
        Ok(())
    }

    /// Reads one command line (flushing held replies first unless more pipelined input
    /// is waiting); `None` at EOF, `Some(false)` for a line over the cap.
    fn read_command(
        &mut self,
        reader: &mut BufReader<Conn>,
        line: &mut Vec<u8>,
    ) -> io::Result<Option<bool>> {
        if reader.buffer().is_empty() {
            self.flush(reader)?;
        }
        reader
            .get_mut()
            .set_deadline(Instant::now() + self.shared.command_timeout);
        match read_line(reader, line, COMMAND_LINE_CAP)? {
            Line::Full => Ok(Some(true)),
            Line::TooLong => {
                // Skip the rest of the line.
                let mut rest = Vec::new();
                loop {
                    match read_line(reader, &mut rest, COMMAND_LINE_CAP)? {
                        Line::Full => break,
                        Line::TooLong => continue,
                        Line::Eof => return Ok(None),
                    }
                }
                Ok(Some(false))
            }
            Line::Eof => Ok(None),
        }
    }

    /// Counts a bad command; true when the session must end.
    fn bad(&mut self, code: u16, text: &str) -> bool {
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            self.reply(421, "4.7.0 Too many errors; closing");
            return true;
        }
        self.reply(code, text);
        false
    }

    fn dialogue(&mut self, reader: &mut BufReader<Conn>) -> io::Result<Next> {
        let mut line = Vec::with_capacity(256);
        loop {
            match self.read_command(reader, &mut line)? {
                None => return Ok(Next::Close),
                Some(false) => {
                    if self.bad(500, "5.5.2 Line too long") {
                        return Ok(Next::Close);
                    }
                    continue;
                }
                Some(true) => {}
            }
            self.commands += 1;
            if self.commands > MAX_COMMANDS {
                self.reply(421, "4.7.0 Too many commands; closing");
                return Ok(Next::Close);
            }
            if self.shared.stopping.load(Ordering::SeqCst) {
                self.reply(421, "4.3.2 Shutting down; try again later");
                return Ok(Next::Close);
            }
            let request = match Request::parse(&mut line.iter()) {
                Ok(r) => r,
                Err(e) => {
                    let (code, text) = parse_error(&e);
                    if self.bad(code, &text) {
                        return Ok(Next::Close);
                    }
                    continue;
                }
            };
            match request {
                Request::Ehlo { host } => self.ehlo(&host),
                Request::Helo { host } => {
                    self.helo = Some(host.to_string());
                    self.transaction = None;
                    let text = format!("{} greets {host}", self.shared.hostname);
                    self.reply(250, &text);
                }
                Request::StartTls => {
                    if self.shared.tls.is_none() {
                        self.reply(502, "5.5.1 STARTTLS not available");
                    } else if self.tls {
                        self.reply(503, "5.5.1 TLS already active");
                    } else {
                        self.reply(220, "2.0.0 Ready to start TLS");
                        self.flush(reader)?;
                        return Ok(Next::StartTls);
                    }
                }
                Request::Auth {
                    mechanism,
                    initial_response,
                } => {
                    let initial = initial_response.into_owned();
                    if self.auth(reader, mechanism, &initial)? {
                        return Ok(Next::Close);
                    }
                }
                Request::Mail { from } => {
                    let size = from.size;
                    self.mail(from.address.as_ref(), size);
                }
                Request::Rcpt { to } => self.rcpt(to.address.as_ref()),
                Request::Data => {
                    if let Some(next) = self.data(reader)? {
                        return Ok(next);
                    }
                }
                Request::Rset => {
                    self.transaction = None;
                    self.reply(250, "2.0.0 Ok");
                }
                Request::Noop { .. } => self.reply(250, "2.0.0 Ok"),
                Request::Vrfy { .. } => self.reply(
                    252,
                    "2.5.0 Cannot verify; send the message and it will be tried",
                ),
                Request::Quit => {
                    self.reply(221, "2.0.0 Bye");
                    return Ok(Next::Close);
                }
                _ => {
                    if self.bad(502, "5.5.1 Command not implemented") {
                        return Ok(Next::Close);
                    }
                }
            }
        }
    }

    fn ehlo(&mut self, host: &str) {
        self.helo = Some(host.to_string());
        self.transaction = None;
        let mut lines = vec![
            format!("{} greets {host}", self.shared.hostname),
            "PIPELINING".to_owned(),
            format!("SIZE {}", self.shared.max_message_size),
            "8BITMIME".to_owned(),
            "ENHANCEDSTATUSCODES".to_owned(),
        ];
        if self.shared.tls.is_some() && !self.tls {
            lines.push("STARTTLS".to_owned());
        }
        if self.shared.auth.is_some() && self.tls {
            lines.push("AUTH PLAIN LOGIN".to_owned());
        }
        self.reply_lines(250, &lines);
    }

    /// Handles AUTH; true when the session must end (too many failures).
    fn auth(
        &mut self,
        reader: &mut BufReader<Conn>,
        mechanism: u64,
        initial: &str,
    ) -> io::Result<bool> {
        let Some(expected) = &self.shared.auth else {
            self.reply(502, "5.5.1 AUTH not available");
            return Ok(false);
        };
        if !self.tls {
            self.reply(
                538,
                "5.7.11 Encryption required for requested authentication mechanism",
            );
            return Ok(false);
        }
        if self.authenticated {
            self.reply(503, "5.5.1 Already authenticated");
            return Ok(false);
        }
        if self.transaction.is_some() {
            self.reply(503, "5.5.1 AUTH not allowed during a mail transaction");
            return Ok(false);
        }
        let credentials = if mechanism == AUTH_PLAIN {
            let response = match initial {
                "" => self.challenge(reader, "")?,
                "=" => Some(zeroize::Zeroizing::new(Vec::new())),
                text => decode(text),
            };
            response.and_then(|r| split_plain(&r))
        } else if mechanism == AUTH_LOGIN {
            let user = match initial {
                "" => self.challenge(reader, "VXNlcm5hbWU6")?,
                text => decode(text),
            };
            match user {
                Some(user) => self
                    .challenge(reader, "UGFzc3dvcmQ6")?
                    .map(|password| (user, password)),
                None => None,
            }
        } else {
            self.reply(504, "5.5.4 Unrecognized authentication type");
            return Ok(false);
        };
        match credentials {
            Some((user, password)) => {
                let user_ok = user.as_slice().ct_eq(expected.user.as_bytes());
                let password_ok = password.as_slice().ct_eq(expected.password.as_bytes());
                if bool::from(user_ok & password_ok) {
                    self.authenticated = true;
                    self.reply(235, "2.7.0 Authentication successful");
                    return Ok(false);
                }
                self.reply(535, "5.7.8 Authentication credentials invalid");
            }
            None => self.reply(501, "5.5.2 Cannot decode authentication response"),
        }
        self.auth_failures += 1;
        if self.auth_failures >= MAX_AUTH_FAILURES {
            self.reply(421, "4.7.0 Too many failed authentications; closing");
            return Ok(true);
        }
        Ok(false)
    }

    /// Sends a 334 challenge and reads the base64 answer; `None` when it is not base64
    /// or the client cancelled with `*`.
    fn challenge(
        &mut self,
        reader: &mut BufReader<Conn>,
        prompt: &str,
    ) -> io::Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
        self.reply(334, prompt);
        let mut line = zeroize::Zeroizing::new(Vec::new());
        match self.read_command(reader, &mut line)? {
            Some(true) => {}
            Some(false) | None => return Ok(None),
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text == "*" {
            return Ok(None);
        }
        Ok(decode(text))
    }

    fn mail(&mut self, from: &str, size: usize) {
        if self.helo.is_none() {
            self.reply(503, "5.5.1 Send EHLO first");
        } else if self.shared.auth.is_some() && !self.authenticated {
            self.reply(530, "5.7.0 Authentication required");
        } else if self.transaction.is_some() {
            self.reply(503, "5.5.1 Nested MAIL command");
        } else if size > self.shared.max_message_size {
            self.reply(
                552,
                &format!(
                    "5.3.4 Message size exceeds the limit of {} bytes",
                    self.shared.max_message_size
                ),
            );
        } else {
            self.transaction = Some(Transaction {
                from: from.to_owned(),
                recipients: Vec::new(),
            });
            self.reply(250, "2.1.0 Ok");
        }
    }

    fn rcpt(&mut self, address: &str) {
        let Some(transaction) = self.transaction.as_mut() else {
            self.reply(503, "5.5.1 Need MAIL command");
            return;
        };
        if address.is_empty() || !address.contains('@') {
            self.reply(501, "5.1.3 Bad recipient address syntax");
        } else if transaction.recipients.len() >= MAX_RECIPIENTS {
            self.reply(452, "4.5.3 Too many recipients");
        } else if transaction
            .recipients
            .iter()
            .any(|r| r.eq_ignore_ascii_case(address))
        {
            self.reply(250, "2.1.5 Ok (duplicate)");
        } else {
            transaction.recipients.push(address.to_owned());
            self.reply(250, "2.1.5 Ok");
        }
    }

    /// The trace header this relay adds (RFC 5321 4.4).
    fn received(&self) -> String {
        let with = match (self.tls, self.authenticated) {
            (true, true) => "ESMTPSA",
            (true, false) => "ESMTPS",
            _ => "ESMTP",
        };
        let date = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default();
        format!(
            "Received: from {} ([{}])\r\n\tby {} (mailcert relay) with {with};\r\n\t{date}\r\n",
            self.helo.as_deref().unwrap_or("unknown"),
            self.peer.ip(),
            self.shared.hostname
        )
    }

    /// Handles DATA; `Some(Close)` when the client vanished mid-message.
    fn data(&mut self, reader: &mut BufReader<Conn>) -> io::Result<Option<Next>> {
        let Some(transaction) = self.transaction.take_if(|t| !t.recipients.is_empty()) else {
            if self.transaction.is_some() {
                self.reply(554, "5.5.1 No valid recipients");
            } else {
                self.reply(503, "5.5.1 Need MAIL command");
            }
            return Ok(None);
        };
        self.reply(354, "End data with <CR><LF>.<CR><LF>");
        self.flush(reader)?;
        let max = self.shared.max_message_size;
        let mut data = self.received().into_bytes();
        let mut body_len = 0usize;
        let mut too_big = false;
        let mut line = Vec::with_capacity(1024);
        let mut at_line_start = true;
        loop {
            reader
                .get_mut()
                .set_deadline(Instant::now() + self.shared.command_timeout);
            let kind = read_line(reader, &mut line, DATA_LINE_CAP)?;
            if matches!(kind, Line::Eof) {
                return Ok(Some(Next::Close));
            }
            if at_line_start && (line == b".\r\n" || line == b".\n") {
                break;
            }
            let content = match line.split_first() {
                Some((b'.', rest)) if at_line_start => rest,
                _ => line.as_slice(),
            };
            if too_big {
                // Read to the end, keep nothing: an oversized message is never spooled.
            } else if body_len + content.len() <= max {
                data.extend_from_slice(content);
                body_len += content.len();
            } else {
                too_big = true;
                data = Vec::new();
            }
            at_line_start = matches!(kind, Line::Full);
        }
        if too_big {
            self.reply(
                552,
                &format!("5.3.4 Message size exceeds the limit of {max} bytes; not queued"),
            );
            return Ok(None);
        }
        let message = NewMessage {
            webapp: self.shared.webapp.clone(),
            mail_from: transaction.from,
            recipients: transaction.recipients,
            data,
            is_dsn: false,
        };
        // The reply waits for the commit: a 250 means the message is on disk.
        self.flush(reader)?;
        match self.shared.committer.commit(message) {
            Ok(id) => {
                self.shared.metrics.accepted.inc();
                self.reply(250, &format!("2.0.0 Ok: queued as {id}"));
            }
            Err(_) => self.reply(
                451,
                "4.3.0 The message could not be queued; try again later",
            ),
        }
        Ok(None)
    }
}

fn decode(text: &str) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    BASE64_STANDARD
        .decode(text.trim())
        .ok()
        .map(zeroize::Zeroizing::new)
}

type Pair = (zeroize::Zeroizing<Vec<u8>>, zeroize::Zeroizing<Vec<u8>>);

/// Splits a SASL PLAIN message (`authzid NUL authcid NUL passwd`).
fn split_plain(message: &[u8]) -> Option<Pair> {
    let mut parts = message.split(|&b| b == 0);
    let _authzid = parts.next()?;
    let user = zeroize::Zeroizing::new(parts.next()?.to_vec());
    let password = zeroize::Zeroizing::new(parts.next()?.to_vec());
    if parts.next().is_some() {
        return None;
    }
    Some((user, password))
}

fn parse_error(error: &smtp_proto::Error) -> (u16, String) {
    use smtp_proto::Error as E;
    match error {
        E::UnknownCommand => (500, "5.5.1 Command unrecognized".into()),
        E::InvalidSenderAddress => (501, "5.1.7 Bad sender address syntax".into()),
        E::InvalidRecipientAddress => (501, "5.1.3 Bad recipient address syntax".into()),
        E::SyntaxError { syntax } => (501, format!("5.5.4 Syntax: {syntax}")),
        E::InvalidParameter { param } => (501, format!("5.5.4 Invalid parameter {param}")),
        E::UnsupportedParameter { param } => (555, format!("5.5.4 Unsupported parameter {param}")),
        E::ResponseTooLong => (500, "5.5.2 Line too long".into()),
        _ => (500, "5.5.2 Syntax error".into()),
    }
}

/// Keeps an `Arc` of the shared state alive for a session thread.
pub(crate) fn spawn(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr) -> io::Result<()> {
    std::thread::Builder::new()
        .name("mailcert-relay-session".into())
        .spawn(move || {
            serve(&shared, tcp, peer);
            shared.sessions.fetch_sub(1, Ordering::SeqCst);
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::split_plain;

    #[test]
    fn plain_splits_into_user_and_password() {
        let (u, p) = split_plain(b"\0app\0secret").unwrap_or_default();
        assert_eq!((u.as_slice(), p.as_slice()), (&b"app"[..], &b"secret"[..]));
        assert!(split_plain(b"app\0secret").is_none());
        assert!(split_plain(b"a\0b\0c\0d").is_none());
    }
}
