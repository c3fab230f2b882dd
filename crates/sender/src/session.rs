//! An SMTP client session: connect, STARTTLS or implicit TLS with the client
//! certificate, EHLO, AUTH, then any number of transactions on the one connection.

use std::io::{self, BufReader, Write};
use std::mem;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::prelude::{BASE64_STANDARD, Engine as _};
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use rustls_pki_types::ServerName;
use zeroize::Zeroizing;

use crate::client_cert::RecordingResolver;
use crate::data;
use crate::ehlo::Extensions;
use crate::envelope::{Delivery, Envelope};
use crate::error::SendError;
use crate::identity::Credentials;
use crate::options::{ConnectOptions, Security};
use crate::reply::{ReadError, RecipientReply, Reply, read_reply};
use crate::report::{self, HandshakeReport};
use crate::tls_failure;
use crate::transcript::Tracer;
use crate::transport::{DeadlineStream, Transport};
use crate::trust;

/// What the TLS handshake needs, prepared before any network traffic.
struct TlsSetup {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    resolver: Arc<RecordingResolver>,
    thumbprint: Option<String>,
}

/// An open SMTP session, ready for [`send`](Session::send).
///
/// Dropping a session closes the connection without QUIT; call
/// [`quit`](Session::quit) to end it politely.
pub struct Session {
    stream: BufReader<Transport>,
    report: HandshakeReport,
    extensions: Extensions,
    resolver: Option<Arc<RecordingResolver>>,
    /// An I/O, TLS or protocol failure (or a 421) left the connection unusable.
    broken: bool,
    /// A failed transaction may have left server state that RSET must clear.
    needs_reset: bool,
    /// The most any one step may take (`ConnectOptions::timeout`).
    timeout: Duration,
    /// Where the dialogue goes for `-v`, if anywhere.
    tracer: Tracer,
}

/// RFC 5321 (4.5.3.2) timeouts, the ceiling of each step's deadline: a longer
/// `--timeout` never makes a step wait longer than the RFC lets a client wait.
mod ceiling {
    use std::time::Duration;

    /// The greeting, and the commands RFC 5321 gives no timeout of their own.
    pub(super) const COMMAND: Duration = Duration::from_secs(5 * 60);
    /// The reply to DATA (the 354).
    pub(super) const DATA_INITIATION: Duration = Duration::from_secs(2 * 60);
    /// Each block of the message written.
    pub(super) const DATA_BLOCK: Duration = Duration::from_secs(3 * 60);
    /// The reply after the final dot.
    pub(super) const DATA_TERMINATION: Duration = Duration::from_secs(10 * 60);
}

/// How much of the message is written under one deadline: RFC 5321's "data block".
const DATA_BLOCK_BYTES: usize = 64 * 1024;

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("report", &self.report)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Connects, reads the greeting, says EHLO, secures the connection as
    /// `options.security` demands (presenting the client identity if the server asks
    /// for one), says EHLO again and authenticates if credentials are given.
    ///
    /// With [`Security::StartTls`] a server that does not offer STARTTLS is an error
    /// ([`SendError::StartTlsNotOffered`]); nothing but EHLO and QUIT is sent in
    /// plain text. The server certificate is always verified.
    pub fn connect(options: &ConnectOptions) -> Result<Session, SendError> {
        options.validate()?;
        let tls = match options.security {
            Security::None => None,
            Security::StartTls | Security::ImplicitTls => Some(tls_setup(options)?),
        };
        // One deadline covers the name lookup, the TCP connect and the greeting.
        let connect_deadline = Instant::now() + options.timeout.min(ceiling::COMMAND);
        let tcp = connect_tcp(options, connect_deadline)?;
        let tracer = Tracer::new(options.transcript.clone());
        if let Ok(peer) = tcp.peer_addr() {
            tracer.connected(peer);
        }
        if let Err(source) = tcp.set_nodelay(true) {
            return Err(SendError::Io {
                step: "connect",
                source,
            });
        }
        let mut session = Session {
            stream: BufReader::new(Transport::Plain(DeadlineStream::new(tcp, connect_deadline))),
            report: HandshakeReport::default(),
            extensions: Extensions::default(),
            resolver: tls.as_ref().map(|t| t.resolver.clone()),
            broken: false,
            needs_reset: false,
            timeout: options.timeout,
            tracer,
        };
        if let (Security::ImplicitTls, Some(tls)) = (options.security, &tls) {
            session.handshake(tls)?;
            session.arm(ceiling::COMMAND);
        }
        let greeting = session.read("connect")?;
        if greeting.code != 220 {
            return Err(SendError::Greeting { reply: greeting });
        }
        session.report.greeting = greeting.to_string();
        session.ehlo(&options.helo)?;
        if let (Security::StartTls, Some(tls)) = (options.security, &tls) {
            if !session.extensions.has("STARTTLS") {
                session.quit_quietly();
                return Err(SendError::StartTlsNotOffered);
            }
            let reply = session.command("starttls", "STARTTLS")?;
            if reply.code != 220 {
                session.quit_quietly();
                return Err(SendError::StartTlsRefused { reply });
            }
            session.handshake(tls)?;
            session.ehlo(&options.helo)?;
        }
        if let Some(credentials) = &options.credentials {
            session.authenticate(credentials)?;
        }
        Ok(session)
    }

    /// What was learnt while connecting.
    pub fn report(&self) -> &HandshakeReport {
        &self.report
    }

    /// Whether the connection can still be used (no I/O or protocol failure, no 421).
    pub fn is_usable(&self) -> bool {
        !self.broken
    }

    /// Sends one message: MAIL FROM (with SIZE and BODY=8BITMIME where announced),
    /// RCPT TO for each recipient, DATA. Commands are pipelined when the server
    /// announces PIPELINING.
    ///
    /// The message is sent with CRLF line endings and dot-stuffing applied. Some
    /// recipients refused is still a [`Delivery`] (see `refused`); all refused is
    /// [`SendError::AllRecipientsRefused`], after RSET. The session stays usable after
    /// a refusal, so the next `send` reuses the connection.
    pub fn send(&mut self, envelope: &Envelope, message: &[u8]) -> Result<Delivery, SendError> {
        if self.broken {
            return Err(SendError::Protocol {
                step: "mail",
                detail: "the session failed earlier and cannot be reused; connect again".to_owned(),
            });
        }
        envelope.validate()?;
        let encoded = data::encode(message);
        if let Some(limit) = self.extensions.size_limit()
            && encoded.size > limit
        {
            return Err(SendError::MessageTooLarge {
                size: encoded.size,
                limit,
            });
        }
        if self.needs_reset {
            let reply = self.command("mail", "RSET")?;
            if !reply.is_positive() {
                self.broken = true;
                return Err(SendError::Protocol {
                    step: "mail",
                    detail: format!("RSET refused: {reply}"),
                });
            }
            self.needs_reset = false;
        }
        let mut mail = format!("MAIL FROM:<{}>", envelope.from);
        if self.extensions.has("SIZE") {
            mail.push_str(&format!(" SIZE={}", encoded.size));
        }
        if encoded.eight_bit && self.extensions.has("8BITMIME") {
            mail.push_str(" BODY=8BITMIME");
        }
        if self.extensions.has("PIPELINING") {
            self.transaction_pipelined(envelope, &mail, &encoded.bytes)
        } else {
            self.transaction_stepwise(envelope, &mail, &encoded.bytes)
        }
    }

    /// Sends NOOP and returns the reply (a cheap liveness check).
    pub fn noop(&mut self) -> Result<Reply, SendError> {
        self.command("noop", "NOOP")
    }

    /// Ends the session: QUIT, then TLS close_notify, then the socket is closed.
    pub fn quit(mut self) -> Result<(), SendError> {
        if self.broken {
            return Ok(());
        }
        self.command("quit", "QUIT")?;
        // The server may close as soon as it has said 221; a failed close_notify
        // then changes nothing.
        let _ = self.stream.get_mut().close_notify();
        Ok(())
    }

    fn transaction_pipelined(
        &mut self,
        envelope: &Envelope,
        mail: &str,
        payload: &[u8],
    ) -> Result<Delivery, SendError> {
        let mut batch = String::with_capacity(64 + envelope.to.len() * 48);
        batch.push_str(mail);
        batch.push_str("\r\n");
        for to in &envelope.to {
            batch.push_str(&format!("RCPT TO:<{to}>\r\n"));
        }
        batch.push_str("DATA\r\n");
        self.arm(ceiling::COMMAND);
        self.tracer.sent_batch(&batch);
        self.write("mail", batch.as_bytes())?;

        let mail_reply = self.read("mail")?;
        if mail_reply.code == 421 {
            // The server is closing: the other replies will never come.
            return Err(SendError::SenderRefused { reply: mail_reply });
        }
        let (accepted, refused) = self.read_recipient_replies(envelope)?;
        if self.broken {
            return Err(closing_during_rcpt(&accepted, refused));
        }
        self.arm(ceiling::DATA_INITIATION);
        let data_reply = self.read("data")?;
        if mail_reply.is_positive() && !accepted.is_empty() && data_reply.code == 354 {
            return self.finish_data(accepted, refused, payload);
        }
        if data_reply.code == 354 {
            // The server wants data we will not send: end it empty (RFC 2920 3.1).
            self.arm(ceiling::DATA_TERMINATION);
            self.tracer.sent("data", ".");
            self.write("data", b".\r\n")?;
            self.read("data")?;
        }
        self.reset_after_failure();
        Err(if !mail_reply.is_positive() {
            SendError::SenderRefused { reply: mail_reply }
        } else if accepted.is_empty() {
            SendError::AllRecipientsRefused { replies: refused }
        } else {
            SendError::MessageRefused { reply: data_reply }
        })
    }

    fn transaction_stepwise(
        &mut self,
        envelope: &Envelope,
        mail: &str,
        payload: &[u8],
    ) -> Result<Delivery, SendError> {
        let mail_reply = self.command("mail", mail)?;
        if !mail_reply.is_positive() {
            self.reset_after_failure();
            return Err(SendError::SenderRefused { reply: mail_reply });
        }
        let mut accepted = Vec::new();
        let mut refused = Vec::new();
        for to in &envelope.to {
            let reply = self.command("rcpt", &format!("RCPT TO:<{to}>"))?;
            let entry = RecipientReply {
                address: to.clone(),
                reply,
            };
            if entry.reply.is_positive() {
                accepted.push(entry);
            } else {
                refused.push(entry);
            }
            if self.broken {
                return Err(closing_during_rcpt(&accepted, refused));
            }
        }
        if accepted.is_empty() {
            self.reset_after_failure();
            return Err(SendError::AllRecipientsRefused { replies: refused });
        }
        let data_reply = self.command("data", "DATA")?;
        if data_reply.code != 354 {
            self.reset_after_failure();
            return Err(SendError::MessageRefused { reply: data_reply });
        }
        self.finish_data(accepted, refused, payload)
    }

    fn read_recipient_replies(
        &mut self,
        envelope: &Envelope,
    ) -> Result<(Vec<RecipientReply>, Vec<RecipientReply>), SendError> {
        let mut accepted = Vec::new();
        let mut refused = Vec::new();
        for to in &envelope.to {
            self.arm(ceiling::COMMAND);
            let entry = RecipientReply {
                address: to.clone(),
                reply: self.read("rcpt")?,
            };
            let closing = entry.reply.code == 421;
            if entry.reply.is_positive() {
                accepted.push(entry);
            } else {
                refused.push(entry);
            }
            if closing {
                break;
            }
        }
        Ok((accepted, refused))
    }

    fn finish_data(
        &mut self,
        accepted: Vec<RecipientReply>,
        refused: Vec<RecipientReply>,
        payload: &[u8],
    ) -> Result<Delivery, SendError> {
        self.tracer.sent_message(payload.len());
        for block in payload.chunks(DATA_BLOCK_BYTES) {
            self.arm(ceiling::DATA_BLOCK);
            self.write_unflushed("data", block)?;
        }
        self.arm(ceiling::DATA_TERMINATION);
        self.flush("data")?;
        let reply = self.read("data")?;
        if !reply.is_positive() {
            return Err(SendError::MessageRefused { reply });
        }
        Ok(Delivery {
            accepted,
            refused,
            reply,
        })
    }

    /// Sends RSET after a refused transaction; if that fails the next `send` tries
    /// again (or reports the broken connection).
    fn reset_after_failure(&mut self) {
        self.needs_reset = true;
        if self.broken {
            return;
        }
        if let Ok(reply) = self.command("mail", "RSET")
            && reply.is_positive()
        {
            self.needs_reset = false;
        }
    }

    fn ehlo(&mut self, helo: &str) -> Result<(), SendError> {
        let reply = self.command("ehlo", &format!("EHLO {helo}"))?;
        if reply.code != 250 {
            return Err(SendError::Ehlo { reply });
        }
        self.extensions = Extensions::from_reply(&reply);
        self.report.extensions = self.extensions.lines();
        Ok(())
    }

    fn authenticate(&mut self, credentials: &Credentials) -> Result<(), SendError> {
        let offered = self.extensions.auth_mechanisms();
        let reply = if offered.iter().any(|m| m == "PLAIN") {
            self.report.auth_mechanism = Some("PLAIN".to_owned());
            let mut message = Zeroizing::new(Vec::with_capacity(
                credentials.user.len() * 2 + credentials.password.len() + 2,
            ));
            message.push(0);
            message.extend_from_slice(credentials.user.as_bytes());
            message.push(0);
            message.extend_from_slice(credentials.password.as_bytes());
            let mut line = Zeroizing::new(String::from("AUTH PLAIN "));
            BASE64_STANDARD.encode_string(message.as_slice(), &mut line);
            self.command("auth", &line)?
        } else if offered.iter().any(|m| m == "LOGIN") {
            self.report.auth_mechanism = Some("LOGIN".to_owned());
            let reply = self.command("auth", "AUTH LOGIN")?;
            if reply.code != 334 {
                return Err(SendError::AuthFailed { reply });
            }
            let user = Zeroizing::new(BASE64_STANDARD.encode(credentials.user.as_bytes()));
            let reply = self.command("auth", &user)?;
            if reply.code != 334 {
                return Err(SendError::AuthFailed { reply });
            }
            let password = Zeroizing::new(BASE64_STANDARD.encode(credentials.password.as_bytes()));
            self.command("auth", &password)?
        } else {
            return Err(SendError::AuthNotOffered { offered });
        };
        if reply.code != 235 {
            return Err(SendError::AuthFailed { reply });
        }
        Ok(())
    }

    /// Runs the TLS handshake over the plain TCP stream.
    fn handshake(&mut self, tls: &TlsSetup) -> Result<(), SendError> {
        self.arm(ceiling::COMMAND);
        let plain = mem::replace(&mut self.stream, BufReader::new(Transport::Detached));
        if !plain.buffer().is_empty() {
            // Bytes that arrived in plain text after the STARTTLS reply must not be
            // taken as if they came over TLS (CVE-2011-0411 style injection).
            self.broken = true;
            return Err(SendError::Protocol {
                step: "starttls",
                detail: "the server sent data after its STARTTLS reply, before the TLS handshake"
                    .to_owned(),
            });
        }
        let Transport::Plain(mut tcp) = plain.into_inner() else {
            self.broken = true;
            return Err(SendError::Protocol {
                step: "tls",
                detail: "TLS is already active".to_owned(),
            });
        };
        let mut conn =
            ClientConnection::new(tls.config.clone(), tls.server_name.clone()).map_err(|e| {
                SendError::Tls {
                    reason: e.to_string(),
                }
            })?;
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut tcp) {
                return Err(self.io_failure("tls", e));
            }
        }
        report::record_tls(
            &mut self.report,
            &conn,
            &tls.resolver,
            tls.thumbprint.as_deref(),
        );
        self.stream = BufReader::new(Transport::Tls(Box::new(StreamOwned::new(conn, tcp))));
        self.tracer.tls(&self.report);
        Ok(())
    }

    fn quit_quietly(&mut self) {
        let _ = self.command("quit", "QUIT");
        self.broken = true;
    }

    /// Starts a step: what it reads and writes must be done within the session's
    /// timeout, and never later than the step's RFC 5321 ceiling.
    fn arm(&mut self, ceiling: Duration) {
        let deadline = Instant::now() + self.timeout.min(ceiling);
        self.stream.get_mut().set_deadline(deadline);
    }

    fn command(&mut self, step: &'static str, line: &str) -> Result<Reply, SendError> {
        self.arm(ceiling::COMMAND);
        let mut bytes = Zeroizing::new(Vec::with_capacity(line.len() + 2));
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.tracer.sent(step, line);
        self.write(step, &bytes)?;
        self.read(step)
    }

    fn write(&mut self, step: &'static str, bytes: &[u8]) -> Result<(), SendError> {
        self.write_unflushed(step, bytes)?;
        self.flush(step)
    }

    fn flush(&mut self, step: &'static str) -> Result<(), SendError> {
        let result = self.stream.get_mut().flush();
        self.write_result(step, result)
    }

    fn write_unflushed(&mut self, step: &'static str, bytes: &[u8]) -> Result<(), SendError> {
        let result = self.stream.get_mut().write_all(bytes);
        self.write_result(step, result)
    }

    fn write_result(
        &mut self,
        step: &'static str,
        result: io::Result<()>,
    ) -> Result<(), SendError> {
        if let Err(error) = result {
            // A server that refuses our certificate under TLS 1.3 sends its alert
            // after our handshake is done; if it closed before our write, the alert
            // may still be waiting to be read, and it says more than "broken pipe".
            let error = match self.stream.get_mut().pending_tls_error() {
                Some(tls_error) => tls_error,
                None => error,
            };
            return Err(self.io_failure(step, error));
        }
        Ok(())
    }

    fn read(&mut self, step: &'static str) -> Result<Reply, SendError> {
        match read_reply(&mut self.stream) {
            Ok(reply) => {
                self.tracer.received(&reply);
                if reply.code == 421 {
                    // The server is closing the connection.
                    self.broken = true;
                }
                Ok(reply)
            }
            Err(ReadError::Io(e)) => Err(self.io_failure(step, e)),
            Err(ReadError::Closed) => Err(self.io_failure(
                step,
                io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"),
            )),
            Err(ReadError::Malformed(detail)) => {
                self.broken = true;
                Err(SendError::Protocol { step, detail })
            }
        }
    }

    /// Marks the session broken and classifies an I/O failure (TLS alerts included).
    fn io_failure(&mut self, step: &'static str, error: io::Error) -> SendError {
        self.broken = true;
        if let Some(tls_error) = tls_failure::rustls_error(&error) {
            let fallback = RecordingResolver::new(None);
            let resolver = self.resolver.as_deref().unwrap_or(&fallback);
            return tls_failure::classify(tls_error, resolver);
        }
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => SendError::Timeout { step },
            _ => SendError::Io {
                step,
                source: error,
            },
        }
    }
}

/// The error for a server that answered a RCPT with 421 (closing the connection).
fn closing_during_rcpt(accepted: &[RecipientReply], mut refused: Vec<RecipientReply>) -> SendError {
    if accepted.is_empty() {
        return SendError::AllRecipientsRefused { replies: refused };
    }
    match refused.pop() {
        Some(last) => SendError::MessageRefused { reply: last.reply },
        None => SendError::Protocol {
            step: "rcpt",
            detail: "the server closed the connection".to_owned(),
        },
    }
}

fn tls_setup(options: &ConnectOptions) -> Result<TlsSetup, SendError> {
    let server_name = ServerName::try_from(options.bare_host().to_owned()).map_err(|_| {
        SendError::InvalidOptions {
            reason: format!(
                "{:?} is neither a valid host name nor an IP address",
                options.host
            ),
        }
    })?;
    let resolver = Arc::new(RecordingResolver::new(
        options.identity.as_ref().map(|i| i.certified_key()),
    ));
    let config = trust::client_config(
        options.use_platform_roots,
        &options.extra_roots,
        resolver.clone(),
    )?;
    Ok(TlsSetup {
        config,
        server_name,
        resolver,
        thumbprint: options.identity.as_ref().map(|i| i.thumbprint().to_owned()),
    })
}

/// Resolves `host:port`, giving up at `deadline` (the system resolver has no timeout
/// of its own, so it runs on a thread that is left behind if it hangs).
fn resolve(host: &str, port: u16, deadline: Instant) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    // RFC 6761: localhost is always the loopback address; no lookup (and no thread) needed.
    if host.eq_ignore_ascii_case("localhost") || host.eq_ignore_ascii_case("localhost.") {
        return Ok(vec![
            SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port)),
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
        ]);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let name = host.to_owned();
    std::thread::Builder::new()
        .name("mailcert-resolve".into())
        .spawn(move || {
            let _ = tx.send(
                (name.as_str(), port)
                    .to_socket_addrs()
                    .map(Iterator::collect),
            );
        })?;
    let left = deadline.saturating_duration_since(Instant::now());
    match rx.recv_timeout(left) {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the name lookup did not answer in time",
        )),
    }
}

fn connect_tcp(options: &ConnectOptions, deadline: Instant) -> Result<TcpStream, SendError> {
    let target = format!("{}:{}", options.host, options.port);
    let addrs = resolve(options.bare_host(), options.port, deadline).map_err(|source| {
        if source.kind() == io::ErrorKind::TimedOut {
            SendError::Timeout { step: "connect" }
        } else {
            SendError::Connect {
                addr: target.clone(),
                source,
            }
        }
    })?;
    let mut last_error = None;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(SendError::Timeout { step: "connect" });
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = Some((addr, e)),
        }
    }
    Err(match last_error {
        Some((addr, source)) => SendError::Connect {
            addr: if addr.to_string() == target {
                target
            } else {
                format!("{target} ({addr})")
            },
            source,
        },
        None => SendError::Connect {
            addr: target,
            source: io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address"),
        },
    })
}
