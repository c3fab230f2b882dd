//! What a connection needs: where to, how secured, as whom.

use std::time::Duration;

use rustls_pki_types::CertificateDer;

use crate::error::SendError;
use crate::identity::{ClientIdentity, Credentials};
use crate::transcript::Transcript;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain SMTP upgraded with STARTTLS. A server that does not offer STARTTLS is an
    /// error; there is never a fallback to plain text.
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    ImplicitTls,
    /// No encryption. Allowed only without credentials and without a client
    /// identity.
    None,
}

/// Everything [`Session::connect`](crate::Session::connect) needs.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The relay's host name or IP literal; the server certificate must match it.
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// How the connection is secured.
    pub security: Security,
    /// The name given with EHLO.
    pub helo: String,
    /// The client certificate chain and key to present when the server asks.
    pub identity: Option<ClientIdentity>,
    /// AUTH credentials (only ever sent over TLS).
    pub credentials: Option<Credentials>,
    /// Trust anchors added to the platform's (the farm's Root store).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Whether the operating system's trust anchors are used too.
    pub use_platform_roots: bool,
    /// Deadline of each SMTP step (name lookup, connect and greeting; TLS handshake;
    /// each command and its reply; each block of the message), however the server
    /// spreads its bytes; RFC 5321's timeouts are the ceiling.
    pub timeout: Duration,
    /// Receives the dialogue line by line (`-v`); credentials are never in it.
    pub transcript: Option<Transcript>,
}

impl ConnectOptions {
    /// Options for `host:port` with STARTTLS, platform roots, EHLO `localhost` and a
    /// 30-second timeout; adjust the public fields as needed.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ConnectOptions {
            host: host.into(),
            port,
            security: Security::StartTls,
            helo: "localhost".to_owned(),
            identity: None,
            credentials: None,
            extra_roots: Vec::new(),
            use_platform_roots: true,
            timeout: Duration::from_secs(30),
            transcript: None,
        }
    }

    /// The host without the brackets of an IPv6 literal.
    pub(crate) fn bare_host(&self) -> &str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
    }

    /// Rejects unsafe or malformed combinations before any network traffic.
    pub(crate) fn validate(&self) -> Result<(), SendError> {
        let invalid = |reason: &str| {
            Err(SendError::InvalidOptions {
                reason: reason.to_owned(),
            })
        };
        if self.security == Security::None && self.credentials.is_some() {
            return invalid(
                "SMTP credentials need TLS (STARTTLS or implicit TLS); a password never travels in clear",
            );
        }
        if self.security == Security::None && self.identity.is_some() {
            return invalid("a client certificate needs TLS (STARTTLS or implicit TLS)");
        }
        if self.bare_host().is_empty() {
            return invalid("the SMTP server name is empty");
        }
        if self.port == 0 {
            return invalid("port 0 is not a valid SMTP port");
        }
        if self.helo.is_empty()
            || self
                .helo
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return invalid("the EHLO name must be one word without spaces or control characters");
        }
        if self.timeout.is_zero() {
            return invalid("the timeout must be longer than zero");
        }
        if let Some(credentials) = &self.credentials
            && (credentials.user.contains('\0') || credentials.password.contains('\0'))
        {
            return invalid("SMTP user and password must not contain NUL characters");
        }
        Ok(())
    }
}
