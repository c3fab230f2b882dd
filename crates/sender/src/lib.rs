//! mailcert-sender: SMTP delivery presenting a client certificate chain.
//!
//! [`Session::connect`] opens a connection to a relay, secures it with STARTTLS or
//! implicit TLS (rustls on ring), presents the configured [`ClientIdentity`] — the
//! leaf *and* its intermediates, so a relay that trusts only the root CA accepts it —
//! verifies the server's certificate against the platform's roots plus the farm's
//! root store, authenticates if credentials are given, and then sends any number of
//! messages over the one connection.
//!
//! Safety rules built in: STARTTLS never falls back to plain text, credentials and
//! client certificates are refused without TLS, server verification cannot be turned
//! off, replies are read with bounded line length and line count, and every socket
//! step has a deadline (a server that drips bytes cannot stretch it).
//!
//! ```no_run
//! use mailcert_sender::{ConnectOptions, Envelope, Security, Session};
//!
//! # fn main() -> Result<(), mailcert_sender::SendError> {
//! let mut options = ConnectOptions::new("relay.example.org", 25);
//! options.security = Security::StartTls;
//! let mut session = Session::connect(&options)?;
//! println!("client certificate requested: {}", session.report().client_cert_requested);
//! let delivery = session.send(
//!     &Envelope::new("app@example.org", ["someone@example.org"]),
//!     b"Subject: hello\r\n\r\nHello.\r\n",
//! )?;
//! println!("{}", delivery.reply);
//! session.quit()?;
//! # Ok(())
//! # }
//! ```

mod client_cert;
mod data;
mod ehlo;
mod envelope;
mod error;
mod exchange;
mod identity;
mod message;
mod options;
mod pool;
mod relay;
mod reply;
mod report;
mod session;
mod tls_failure;
mod transcript;
mod transport;
mod trust;

pub use envelope::{Delivery, Envelope};
pub use error::SendError;
pub use exchange::{advice_for, exchange_advice};
pub use identity::{ClientIdentity, Credentials, IdentityError};
pub use message::{MessageError, Outgoing, RawOptions, compose, from_raw, message_id};
pub use options::{ConnectOptions, Security};
pub use pool::send_pooled;
pub use relay::{connect_options, helo_name, probe, report_lines, send_all};
pub use reply::read_replies_for_fuzzing;
pub use reply::{MAX_REPLY_LINE, MAX_REPLY_LINES, RecipientReply, Reply};
pub use report::{CertificateSummary, HandshakeReport};
pub use session::Session;
pub use transcript::{Transcript, TranscriptEvent, TranscriptLine};
pub use transport::DeadlineStream;
