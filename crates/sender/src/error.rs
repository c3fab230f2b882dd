//! The sender's error type: which step failed, and the server's reply or the TLS
//! reason where there is one.

use std::io;

use crate::reply::RecipientReply;
use crate::reply::Reply;

/// Why a connection or a delivery failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The options are unsafe or malformed (credentials without TLS, say); nothing
    /// was sent.
    #[error("invalid connection options: {reason}")]
    InvalidOptions {
        /// What is wrong.
        reason: String,
    },
    /// The TCP connection could not be made (or the name not resolved).
    #[error("cannot connect to {addr}: {}", describe_connect(source))]
    Connect {
        /// `host:port` as given (and the address tried, when resolved).
        addr: String,
        /// The underlying failure.
        source: io::Error,
    },
    /// The server's greeting was not 220.
    #[error("the server refused the connection: {reply}")]
    Greeting {
        /// The greeting.
        reply: Reply,
    },
    /// EHLO was refused.
    #[error("the server refused EHLO: {reply}")]
    Ehlo {
        /// The server's reply.
        reply: Reply,
    },
    /// The server does not offer STARTTLS but the settings demand it; nothing was
    /// sent in plain text.
    #[error("the server does not offer STARTTLS; refusing to continue without TLS")]
    StartTlsNotOffered,
    /// The server refused the STARTTLS command.
    #[error("the server refused STARTTLS: {reply}")]
    StartTlsRefused {
        /// The server's reply.
        reply: Reply,
    },
    /// The server's certificate is not acceptable.
    #[error("the server's certificate is not trusted: {reason}")]
    ServerCertificate {
        /// Why, in plain words (untrusted issuer, wrong name, expired, ...).
        reason: String,
    },
    /// The server refused the client certificate that was presented (it aborted the
    /// handshake with an alert such as `unknown_ca` or `bad_certificate`).
    #[error(
        "the server rejected the client certificate (TLS alert {alert}); check that it chains to a CA the relay trusts, is within its validity period and allows clientAuth"
    )]
    ClientCertificateRejected {
        /// The TLS alert received, e.g. `unknown_ca`.
        alert: String,
    },
    /// The server demands a client certificate and none was configured (or none
    /// could sign with the algorithms the server accepts).
    #[error("the server requires a client certificate but none was presented (TLS alert {alert})")]
    ClientCertificateRequiredButNone {
        /// The TLS alert received, e.g. `certificate_required`.
        alert: String,
    },
    /// Another TLS failure (no common protocol version or cipher suite, a bad
    /// record, ...).
    #[error("TLS failure: {reason}")]
    Tls {
        /// What rustls reported.
        reason: String,
    },
    /// Credentials are configured but the server offers no AUTH mechanism we use
    /// (PLAIN or LOGIN).
    #[error("the server offers no usable AUTH mechanism (offered: {})", if offered.is_empty() { "none".to_owned() } else { offered.join(" ") })]
    AuthNotOffered {
        /// The mechanisms the server offered.
        offered: Vec<String>,
    },
    /// The server refused the credentials.
    #[error("authentication failed: {reply}")]
    AuthFailed {
        /// The server's reply.
        reply: Reply,
    },
    /// An envelope address holds characters that cannot go into an SMTP command.
    #[error("invalid {step} address {address:?}")]
    InvalidAddress {
        /// `mail` (sender) or `rcpt` (recipient).
        step: &'static str,
        /// The address.
        address: String,
    },
    /// The message exceeds the size the server announced with SIZE.
    #[error("the message ({size} bytes) exceeds the server's limit of {limit} bytes")]
    MessageTooLarge {
        /// The message size.
        size: usize,
        /// The server's limit.
        limit: usize,
    },
    /// MAIL FROM was refused.
    #[error("the server refused the sender: {reply}")]
    SenderRefused {
        /// The server's reply.
        reply: Reply,
    },
    /// The envelope has no recipient.
    #[error("no recipients given")]
    NoRecipients,
    /// Every RCPT TO was refused; the transaction was reset.
    #[error("the server refused every recipient: {}", replies.iter().map(|r| format!("<{}> {}", r.address, r.reply)).collect::<Vec<_>>().join("; "))]
    AllRecipientsRefused {
        /// Each recipient with the server's reply.
        replies: Vec<RecipientReply>,
    },
    /// DATA, or the message after it, was refused.
    #[error("the server refused the message: {reply}")]
    MessageRefused {
        /// The server's reply.
        reply: Reply,
    },
    /// The server broke the protocol (a malformed or oversized reply, an unexpected
    /// code, data after the STARTTLS reply) or the session is no longer usable.
    #[error("SMTP protocol error during {step}: {detail}")]
    Protocol {
        /// The step concerned.
        step: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// The server did not answer in time.
    #[error("timed out during {step}")]
    Timeout {
        /// The step concerned.
        step: &'static str,
    },
    /// The connection failed or was closed by the server.
    #[error("connection failure during {step}: {}", describe_io(source))]
    Io {
        /// The step concerned.
        step: &'static str,
        /// The underlying failure.
        source: io::Error,
    },
}

impl SendError {
    /// The step that failed: `options`, `connect`, `ehlo`, `starttls`, `tls`, `auth`,
    /// `mail`, `rcpt`, `data` or `quit`.
    pub fn step(&self) -> &'static str {
        match self {
            SendError::InvalidOptions { .. } => "options",
            SendError::Connect { .. } | SendError::Greeting { .. } => "connect",
            SendError::Ehlo { .. } => "ehlo",
            SendError::StartTlsNotOffered | SendError::StartTlsRefused { .. } => "starttls",
            SendError::ServerCertificate { .. }
            | SendError::ClientCertificateRejected { .. }
            | SendError::ClientCertificateRequiredButNone { .. }
            | SendError::Tls { .. } => "tls",
            SendError::AuthNotOffered { .. } | SendError::AuthFailed { .. } => "auth",
            SendError::MessageTooLarge { .. } | SendError::SenderRefused { .. } => "mail",
            SendError::NoRecipients | SendError::AllRecipientsRefused { .. } => "rcpt",
            SendError::MessageRefused { .. } => "data",
            SendError::InvalidAddress { step, .. }
            | SendError::Protocol { step, .. }
            | SendError::Timeout { step }
            | SendError::Io { step, .. } => step,
        }
    }

    /// The server's reply, for the variants that carry one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            SendError::Greeting { reply }
            | SendError::Ehlo { reply }
            | SendError::StartTlsRefused { reply }
            | SendError::AuthFailed { reply }
            | SendError::SenderRefused { reply }
            | SendError::MessageRefused { reply } => Some(reply),
            _ => None,
        }
    }

    /// Whether retrying later may help: a 4xx reply, a timeout or a dropped
    /// connection. Certificate, authentication and 5xx failures are permanent.
    pub fn is_transient(&self) -> bool {
        match self {
            SendError::Connect { .. } | SendError::Timeout { .. } | SendError::Io { .. } => true,
            SendError::AllRecipientsRefused { replies } => {
                replies.iter().all(|r| r.reply.is_transient())
            }
            other => other.reply().is_some_and(Reply::is_transient),
        }
    }
}

fn describe_connect(source: &io::Error) -> String {
    match source.kind() {
        io::ErrorKind::ConnectionRefused => {
            "connection refused (nothing listens on that port)".to_owned()
        }
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            "timed out (no answer; a firewall may drop the traffic)".to_owned()
        }
        _ => source.to_string(),
    }
}

fn describe_io(source: &io::Error) -> String {
    match source.kind() {
        io::ErrorKind::UnexpectedEof => "the server closed the connection".to_owned(),
        io::ErrorKind::ConnectionReset => "the server reset the connection".to_owned(),
        io::ErrorKind::BrokenPipe => "the server closed the connection while we wrote".to_owned(),
        _ => source.to_string(),
    }
}
