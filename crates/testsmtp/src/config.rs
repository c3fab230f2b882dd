//! What the test server offers and demands: TLS mode, client certificates, AUTH,
//! refusals.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// How TLS is used on the listening port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plain SMTP; STARTTLS is neither offered nor accepted.
    Plain,
    /// Plain SMTP that offers STARTTLS (submission on 587, relay on 25).
    StartTls,
    /// TLS from the first byte (SMTPS, port 465).
    ImplicitTls,
}

impl Mode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::StartTls => "starttls",
            Mode::ImplicitTls => "implicit-tls",
        }
    }
}

/// Whether the server asks the client for a certificate, and which roots it trusts
/// for it.
#[derive(Debug, Clone, Default)]
pub enum ClientAuth {
    /// No CertificateRequest is sent.
    #[default]
    None,
    /// A certificate is requested; a client without one is let in, a client with an
    /// untrusted one is refused.
    Optional(Vec<CertificateDer<'static>>),
    /// A certificate chaining to one of these roots is required.
    Required(Vec<CertificateDer<'static>>),
}

/// Which TLS versions the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersions {
    /// TLS 1.2 and 1.3.
    #[default]
    Both,
    /// TLS 1.2 only (client-certificate refusals then arrive during the handshake).
    Tls12Only,
    /// TLS 1.3 only (client-certificate refusals arrive after the client's Finished).
    Tls13Only,
}

/// The single user the server accepts for AUTH PLAIN / AUTH LOGIN.
#[derive(Clone)]
pub(crate) struct AuthUser {
    pub(crate) user: String,
    pub(crate) password: String,
}

impl fmt::Debug for AuthUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthUser")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Configuration of a [`TestServer`](crate::TestServer), built with the constructors
/// and `with`-style methods below.
pub struct Config {
    pub(crate) addr: SocketAddr,
    pub(crate) mode: Mode,
    pub(crate) hostname: String,
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: Option<PrivateKeyDer<'static>>,
    pub(crate) client_auth: ClientAuth,
    pub(crate) tls_versions: TlsVersions,
    pub(crate) require_tls: bool,
    pub(crate) auth: Option<AuthUser>,
    pub(crate) reject_recipients: Vec<String>,
    pub(crate) max_message_size: usize,
    pub(crate) idle_timeout: Duration,
    pub(crate) pipelining: bool,
    pub(crate) auth_mechanisms: Vec<String>,
    pub(crate) answers: Vec<(String, u16, String)>,
}

impl Config {
    /// A plain-SMTP server on `127.0.0.1` with a system-chosen port.
    pub fn plain() -> Self {
        Config {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            mode: Mode::Plain,
            hostname: "testsmtp.localhost".to_owned(),
            chain: Vec::new(),
            key: None,
            client_auth: ClientAuth::None,
            tls_versions: TlsVersions::Both,
            require_tls: false,
            auth: None,
            reject_recipients: Vec::new(),
            max_message_size: 10 * 1024 * 1024,
            idle_timeout: Duration::from_secs(30),
            pipelining: true,
            auth_mechanisms: vec!["PLAIN".to_owned(), "LOGIN".to_owned()],
            answers: Vec::new(),
        }
    }

    /// A server offering STARTTLS with this certificate chain (leaf first) and key.
    pub fn starttls(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        Config {
            mode: Mode::StartTls,
            chain,
            key: Some(key),
            ..Config::plain()
        }
    }

    /// A server speaking TLS from the first byte with this chain and key.
    pub fn implicit_tls(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        Config {
            mode: Mode::ImplicitTls,
            ..Config::starttls(chain, key)
        }
    }

    /// Listen on this address instead of `127.0.0.1:0`.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The name the server gives in its greeting and EHLO reply.
    pub fn hostname(mut self, hostname: impl Into<String>) -> Self {
        self.hostname = hostname.into();
        self
    }

    /// Ask for (or require) a client certificate.
    pub fn client_auth(mut self, client_auth: ClientAuth) -> Self {
        self.client_auth = client_auth;
        self
    }

    /// Restrict the TLS versions accepted.
    pub fn tls_versions(mut self, versions: TlsVersions) -> Self {
        self.tls_versions = versions;
        self
    }

    /// Refuse MAIL until TLS is up, answering `530 5.7.0 Must issue a STARTTLS command
    /// first` (Postfix's `smtpd_tls_security_level=encrypt`).
    pub fn require_tls(mut self, require: bool) -> Self {
        self.require_tls = require;
        self
    }

    /// Offer AUTH PLAIN and LOGIN (after TLS only) for this user, and require it
    /// before MAIL.
    pub fn auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Some(AuthUser {
            user: user.into(),
            password: password.into(),
        });
        self
    }

    /// Which AUTH mechanisms are announced and accepted (`PLAIN`, `LOGIN` or both;
    /// both by default). Others are answered with 504.
    pub fn auth_mechanisms(mut self, mechanisms: &[&str]) -> Self {
        self.auth_mechanisms = mechanisms.iter().map(|m| m.to_ascii_uppercase()).collect();
        self
    }

    /// Answer every `command` (`MAIL`, `RCPT`, `AUTH`, or `DATA` for the reply after
    /// the message) with exactly this reply, as a real server's refusal would read
    /// (`550`, `"5.7.64 TenantAttribution; Relay Access Denied"`). The command is
    /// refused; nothing is recorded.
    pub fn answer(mut self, command: &str, code: u16, text: impl Into<String>) -> Self {
        self.answers
            .push((command.to_ascii_uppercase(), code, text.into()));
        self
    }

    /// Answer RCPT TO for this address (compared case-insensitively) with 550.
    pub fn reject_recipient(mut self, address: impl Into<String>) -> Self {
        self.reject_recipients.push(address.into());
        self
    }

    /// The largest message accepted, advertised with SIZE (10 MiB by default).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// How long a connection may stay silent before the server drops it (30 s by
    /// default).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Whether PIPELINING is announced (it is by default). Pipelined commands are
    /// handled either way.
    pub fn pipelining(mut self, announce: bool) -> Self {
        self.pipelining = announce;
        self
    }

    /// The TLS mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }
}

impl Clone for Config {
    fn clone(&self) -> Self {
        Config {
            addr: self.addr,
            mode: self.mode,
            hostname: self.hostname.clone(),
            chain: self.chain.clone(),
            key: self.key.as_ref().map(PrivateKeyDer::clone_key),
            client_auth: self.client_auth.clone(),
            tls_versions: self.tls_versions,
            require_tls: self.require_tls,
            auth: self.auth.clone(),
            reject_recipients: self.reject_recipients.clone(),
            max_message_size: self.max_message_size,
            idle_timeout: self.idle_timeout,
            pipelining: self.pipelining,
            auth_mechanisms: self.auth_mechanisms.clone(),
            answers: self.answers.clone(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("mode", &self.mode)
            .field("hostname", &self.hostname)
            .field("chain_len", &self.chain.len())
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("client_auth", &self.client_auth)
            .field("tls_versions", &self.tls_versions)
            .field("require_tls", &self.require_tls)
            .field("auth", &self.auth)
            .field("reject_recipients", &self.reject_recipients)
            .field("max_message_size", &self.max_message_size)
            .field("idle_timeout", &self.idle_timeout)
            .field("pipelining", &self.pipelining)
            .field("auth_mechanisms", &self.auth_mechanisms)
            .finish()
    }
}
