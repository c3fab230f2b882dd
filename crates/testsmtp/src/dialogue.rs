//! The SMTP dialogue on one connection: commands parsed with `smtp-proto`, replies
//! batched while pipelined commands are waiting, STARTTLS upgrade, AUTH, DATA.

use std::io::{self, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;

use base64::prelude::{BASE64_STANDARD, Engine as _};
use rustls::ServerConfig;
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN, MAIL_BODY_8BITMIME, MailFrom, Request};

use crate::config::{Config, Mode};
use crate::conn::{self, Conn, Line};
use crate::record::ReceivedMessage;
use crate::server::Shared;
use crate::tls;

/// A command line may be this long (RFC 5321 asks for 512; be lenient).
const COMMAND_LINE_CAP: usize = 4096;
/// A line of message data may be this long before it is taken in pieces.
const DATA_LINE_CAP: usize = 1024 * 1024;
/// At most this many recipients per transaction.
const MAX_RECIPIENTS: usize = 1000;

/// What every connection of one server shares.
pub(crate) struct Context {
    pub(crate) config: Config,
    pub(crate) tls_config: Option<Arc<ServerConfig>>,
}

/// What the dialogue asks its driver to do next.
enum Next {
    Close,
    StartTls,
}

struct Transaction {
    from: String,
    size: Option<usize>,
    eight_bit: bool,
    recipients: Vec<String>,
}

struct Session<'a> {
    shared: &'a Shared,
    ctx: &'a Context,
    id: u64,
    out: Vec<u8>,
    tls: bool,
    client_chain: Vec<Vec<u8>>,
    greeted: bool,
    auth_user: Option<String>,
    transaction: Option<Transaction>,
    queued: u64,
}

/// Serves one accepted connection until QUIT, EOF, an I/O error or shutdown.
pub(crate) fn run(shared: &Shared, ctx: &Context, id: u64, tcp: TcpStream) {
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(ctx.config.idle_timeout));
    let _ = tcp.set_write_timeout(Some(ctx.config.idle_timeout));
    let mut session = Session {
        shared,
        ctx,
        id,
        out: Vec::with_capacity(512),
        tls: false,
        client_chain: Vec::new(),
        greeted: false,
        auth_user: None,
        transaction: None,
        queued: 0,
    };
    let conn = match (&ctx.config.mode, &ctx.tls_config) {
        (Mode::ImplicitTls, Some(tls_config)) => match session.handshake(tls_config, tcp) {
            Some(conn) => conn,
            None => return,
        },
        _ => Conn::Plain(tcp),
    };
    let mut reader = BufReader::new(conn);
    session.reply(
        220,
        &format!("{} ESMTP mailcert-testsmtp", ctx.config.hostname),
    );
    loop {
        match session.serve(&mut reader) {
            Ok(Next::Close) | Err(_) => {
                let _ = session.flush(&mut reader);
                return;
            }
            Ok(Next::StartTls) => {
                let discarded = reader.buffer().len();
                let Conn::Plain(tcp) = reader.into_inner() else {
                    return;
                };
                if discarded > 0 {
                    shared.update_connection(id, |c| c.discarded_after_starttls += discarded);
                }
                let Some(tls_config) = &ctx.tls_config else {
                    return;
                };
                match session.handshake(tls_config, tcp) {
                    Some(conn) => reader = BufReader::new(conn),
                    None => return,
                }
            }
        }
    }
}

impl Session<'_> {
    /// Runs the server side of a TLS handshake, recording its outcome.
    fn handshake(&mut self, tls_config: &Arc<ServerConfig>, tcp: TcpStream) -> Option<Conn> {
        match tls::accept(tls_config.clone(), tcp) {
            Ok((stream, negotiated)) => {
                self.tls = true;
                self.client_chain = negotiated.client_chain.clone();
                self.greeted = false;
                self.auth_user = None;
                self.transaction = None;
                self.shared.update_connection(self.id, |c| {
                    c.tls = true;
                    c.tls_version = negotiated.version;
                    c.client_chain = negotiated.client_chain;
                });
                Some(Conn::Tls(Box::new(stream)))
            }
            Err(reason) => {
                self.shared
                    .update_connection(self.id, |c| c.tls_error = Some(reason));
                None
            }
        }
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
            conn.write_all(&self.out)?;
            conn.flush()?;
            self.out.clear();
        }
        Ok(())
    }

    /// Reads one command line, flushing pending replies first unless more pipelined
    /// input is already buffered.
    fn read_command(
        &mut self,
        reader: &mut BufReader<Conn>,
        line: &mut Vec<u8>,
    ) -> io::Result<Option<bool>> {
        if reader.buffer().is_empty() {
            self.flush(reader)?;
        }
        match conn::read_line(reader, line, COMMAND_LINE_CAP)? {
            Line::Full => Ok(Some(true)),
            Line::TooLong => {
                conn::skip_line(reader)?;
                Ok(Some(false))
            }
            Line::Eof => Ok(None),
        }
    }

    fn serve(&mut self, reader: &mut BufReader<Conn>) -> io::Result<Next> {
        let mut line = Vec::with_capacity(256);
        loop {
            match self.read_command(reader, &mut line)? {
                None => return Ok(Next::Close),
                Some(false) => {
                    self.record("?");
                    self.reply(500, "5.5.2 Line too long");
                    continue;
                }
                Some(true) => {}
            }
            let request = match Request::parse(&mut line.iter()) {
                Ok(request) => request,
                Err(e) => {
                    self.record("?");
                    self.reply_parse_error(&e);
                    continue;
                }
            };
            self.record(request.name());
            match request {
                Request::Ehlo { host } => self.ehlo(&host),
                Request::Helo { host } => {
                    self.greeted = true;
                    self.transaction = None;
                    let text = format!("{} greets {host}", self.ctx.config.hostname);
                    self.reply(250, &text);
                }
                Request::StartTls => {
                    if self.ctx.config.mode != Mode::StartTls {
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
                    self.auth(reader, mechanism, &initial)?;
                }
                Request::Mail { from } => self.mail(&from),
                Request::Rcpt { to } => self.rcpt(&to.address),
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
                Request::Quit => {
                    self.reply(221, "2.0.0 Bye");
                    return Ok(Next::Close);
                }
                _ => self.reply(502, "5.5.1 Command not implemented"),
            }
        }
    }

    fn record(&self, verb: &str) {
        let verb = verb.to_owned();
        self.shared
            .update_connection(self.id, |c| c.commands.push(verb));
    }

    fn reply_parse_error(&mut self, error: &smtp_proto::Error) {
        use smtp_proto::Error as E;
        match error {
            E::UnknownCommand => self.reply(500, "5.5.1 Command unrecognized"),
            E::InvalidSenderAddress => self.reply(501, "5.1.7 Bad sender address syntax"),
            E::InvalidRecipientAddress => {
                self.reply(501, "5.1.3 Bad recipient address syntax");
            }
            E::SyntaxError { syntax } => self.reply(501, &format!("5.5.4 Syntax: {syntax}")),
            E::InvalidParameter { param } => {
                self.reply(501, &format!("5.5.4 Invalid parameter {param}"));
            }
            E::UnsupportedParameter { param } => {
                self.reply(555, &format!("5.5.4 Unsupported parameter {param}"));
            }
            E::ResponseTooLong => self.reply(500, "5.5.2 Line too long"),
            _ => self.reply(500, "5.5.2 Syntax error"),
        }
    }

    fn ehlo(&mut self, host: &str) {
        self.greeted = true;
        self.transaction = None;
        let config = &self.ctx.config;
        let mut lines = vec![format!("{} greets {host}", config.hostname)];
        if config.pipelining {
            lines.push("PIPELINING".to_owned());
        }
        lines.extend([
            "8BITMIME".to_owned(),
            format!("SIZE {}", config.max_message_size),
            "ENHANCEDSTATUSCODES".to_owned(),
        ]);
        if config.mode == Mode::StartTls && !self.tls {
            lines.push("STARTTLS".to_owned());
        }
        if config.auth.is_some() && self.tls && !config.auth_mechanisms.is_empty() {
            lines.push(format!("AUTH {}", config.auth_mechanisms.join(" ")));
        }
        self.reply_lines(250, &lines);
    }

    fn auth(
        &mut self,
        reader: &mut BufReader<Conn>,
        mechanism: u64,
        initial: &str,
    ) -> io::Result<()> {
        let Some(expected) = self.ctx.config.auth.clone() else {
            self.reply(502, "5.5.1 AUTH not available");
            return Ok(());
        };
        if self.tls
            && let Some((code, text)) = self.answer("AUTH")
        {
            self.reply(code, &text);
            return Ok(());
        }
        if !self.tls {
            self.reply(
                538,
                "5.7.11 Encryption required for requested authentication mechanism",
            );
            return Ok(());
        }
        if self.auth_user.is_some() {
            self.reply(503, "5.5.1 Already authenticated");
            return Ok(());
        }
        if self.transaction.is_some() {
            self.reply(503, "5.5.1 AUTH not allowed during a mail transaction");
            return Ok(());
        }
        let offered = |name: &str| self.ctx.config.auth_mechanisms.iter().any(|m| m == name);
        let credentials = if mechanism == AUTH_PLAIN && offered("PLAIN") {
            let response = match initial {
                "" => self.challenge(reader, "")?,
                "=" => Some(Vec::new()),
                text => decode(text),
            };
            response.and_then(|r| parse_plain(&r))
        } else if mechanism == AUTH_LOGIN && offered("LOGIN") {
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
            return Ok(());
        };
        match credentials {
            Some((user, password))
                if user == expected.user.as_bytes() && password == expected.password.as_bytes() =>
            {
                self.auth_user = Some(expected.user);
                self.reply(235, "2.7.0 Authentication successful");
            }
            Some(_) => self.reply(535, "5.7.8 Authentication credentials invalid"),
            None => self.reply(501, "5.5.2 Cannot decode authentication response"),
        }
        Ok(())
    }

    /// Sends a `334` challenge and reads the client's base64 answer; `None` when it is
    /// not base64 or the client cancelled with `*`.
    fn challenge(
        &mut self,
        reader: &mut BufReader<Conn>,
        prompt: &str,
    ) -> io::Result<Option<Vec<u8>>> {
        self.reply(334, prompt);
        let mut line = Vec::new();
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

    /// The configured answer to `command`, if the test set one.
    fn answer(&self, command: &str) -> Option<(u16, String)> {
        self.ctx
            .config
            .answers
            .iter()
            .find(|(c, _, _)| c == command)
            .map(|(_, code, text)| (*code, text.clone()))
    }

    fn mail(&mut self, from: &MailFrom<std::borrow::Cow<'_, str>>) {
        let config = &self.ctx.config;
        if self.greeted
            && let Some((code, text)) = self.answer("MAIL")
        {
            self.reply(code, &text);
            return;
        }
        if !self.greeted {
            self.reply(503, "5.5.1 Send EHLO first");
        } else if config.require_tls && !self.tls {
            self.reply(530, "5.7.0 Must issue a STARTTLS command first");
        } else if config.auth.is_some() && self.auth_user.is_none() {
            self.reply(530, "5.7.0 Authentication required");
        } else if self.transaction.is_some() {
            self.reply(503, "5.5.1 Nested MAIL command");
        } else if from.size > config.max_message_size {
            self.reply(552, "5.3.4 Message size exceeds fixed limit");
        } else {
            self.transaction = Some(Transaction {
                from: from.address.to_string(),
                size: (from.size > 0).then_some(from.size),
                eight_bit: from.flags & MAIL_BODY_8BITMIME != 0,
                recipients: Vec::new(),
            });
            self.reply(250, "2.1.0 Ok");
        }
    }

    fn rcpt(&mut self, address: &str) {
        let rejected = self
            .ctx
            .config
            .reject_recipients
            .iter()
            .any(|r| r.eq_ignore_ascii_case(address));
        if self.transaction.is_some()
            && let Some((code, text)) = self.answer("RCPT")
        {
            self.reply(code, &text);
            return;
        }
        let Some(transaction) = self.transaction.as_mut() else {
            self.reply(503, "5.5.1 Need MAIL command");
            return;
        };
        if rejected {
            self.reply(
                550,
                &format!("5.1.1 <{address}>: Recipient address rejected"),
            );
        } else if transaction.recipients.len() >= MAX_RECIPIENTS {
            self.reply(452, "4.5.3 Too many recipients");
        } else {
            transaction.recipients.push(address.to_owned());
            self.reply(250, "2.1.5 Ok");
        }
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
        let max = self.ctx.config.max_message_size;
        let mut data = Vec::new();
        let mut too_big = false;
        let mut line = Vec::with_capacity(1024);
        let mut at_line_start = true;
        loop {
            let kind = conn::read_line(reader, &mut line, DATA_LINE_CAP)?;
            if matches!(kind, Line::Eof) {
                return Ok(Some(Next::Close));
            }
            if at_line_start && (line == b".\r\n" || line == b".\n") {
                break;
            }
            let content = match line.split_first() {
                Some((b'.', rest)) if at_line_start => rest,
                _ => &line[..],
            };
            if data.len() + content.len() <= max {
                data.extend_from_slice(content);
            } else {
                too_big = true;
            }
            at_line_start = matches!(kind, Line::Full);
        }
        if too_big {
            self.reply(552, "5.3.4 Message size exceeds fixed limit");
            return Ok(None);
        }
        if let Some((code, text)) = self.answer("DATA") {
            self.reply(code, &text);
            return Ok(None);
        }
        self.queued += 1;
        let queue_id = format!("T{}M{}", self.id, self.queued);
        self.shared.push_message(ReceivedMessage {
            connection_id: self.id,
            mail_from: transaction.from,
            recipients: transaction.recipients,
            data,
            client_chain: self.client_chain.clone(),
            tls: self.tls,
            auth_user: self.auth_user.clone(),
            size_param: transaction.size,
            body_8bitmime: transaction.eight_bit,
        });
        self.reply(250, &format!("2.0.0 Ok: queued as {queue_id}"));
        Ok(None)
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    BASE64_STANDARD.decode(text.trim()).ok()
}

/// Splits a SASL PLAIN message (`authzid NUL authcid NUL passwd`).
fn parse_plain(message: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut parts = message.split(|&b| b == 0);
    let _authzid = parts.next()?;
    let user = parts.next()?.to_vec();
    let password = parts.next()?.to_vec();
    if parts.next().is_some() {
        return None;
    }
    Some((user, password))
}

#[cfg(test)]
mod tests {
    use super::parse_plain;

    #[test]
    fn plain_message_splits_into_user_and_password() {
        assert_eq!(
            parse_plain(b"\0alice\0secret"),
            Some((b"alice".to_vec(), b"secret".to_vec()))
        );
        assert_eq!(parse_plain(b"alice\0secret"), None);
        assert_eq!(parse_plain(b"a\0b\0c\0d"), None);
    }
}
