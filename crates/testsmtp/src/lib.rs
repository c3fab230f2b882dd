//! mailcert-testsmtp: a loopback SMTP server for tests, benchmarks and the demo.
//!
//! [`TestServer`] listens on `127.0.0.1` (port chosen by the system unless given),
//! speaks enough ESMTP for a real client (EHLO, STARTTLS, AUTH PLAIN/LOGIN, MAIL,
//! RCPT, DATA, RSET, NOOP, QUIT, pipelining) and records what it received: every
//! message with its envelope, and per connection whether TLS was used and which
//! certificate chain the client presented.
//!
//! TLS is rustls on the ring provider. Client certificates are checked by rustls's
//! `WebPkiClientVerifier` against the roots in [`ClientAuth`], so a client that sends
//! only its leaf when the server trusts only the root CA is refused during the
//! handshake, as a real relay would.
//!
//! ```no_run
//! use mailcert_testsmtp::{ClientAuth, Config, TestServer, pem};
//!
//! # fn main() -> Result<(), mailcert_testsmtp::Error> {
//! let chain = pem::load_certs("fixtures/files/localhost-server.pem")?;
//! let key = pem::load_key("fixtures/files/localhost-server.key")?;
//! let roots = pem::load_certs("fixtures/files/root-ca.pem")?;
//! let server = TestServer::start(
//!     Config::starttls(chain, key).client_auth(ClientAuth::Required(roots)),
//! )?;
//! println!("listening on {}", server.addr());
//! # Ok(())
//! # }
//! ```

mod config;
mod conn;
mod dialogue;
mod error;
pub mod pem;
mod record;
mod server;
mod tls;

pub use config::{ClientAuth, Config, Mode, TlsVersions};
pub use error::Error;
pub use record::{ConnectionInfo, ReceivedMessage};
pub use server::TestServer;
