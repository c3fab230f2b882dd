//! mailcert-admin: Central Administration, the web page for the farm's certificates and
//! outgoing e-mail settings, modelled on SharePoint's "Manage certificates" and
//! "Outgoing E-Mail Settings" pages.
//!
//! Server-rendered HTML forms that work without JavaScript. Every change goes through
//! the same library functions the `mailcert` CLI calls (mailcert-store, mailcert-binding),
//! so the rules are the same and nothing here writes SQL; the audit trail names the
//! client address each change came from. The Queue page shows this
//! server's relay spool ([`ServeConfig::spool`]; mailcert-relay's `Spool`) with Retry
//! and Delete, and the settings pages warn when mail sent with them is deferred or failed.
//!
//! Security: loopback-only plain HTTP by default, HTTPS required anywhere else; sign-in
//! with an administrator password stored as an Argon2id hash ([`set_password`]),
//! throttled per client address and in all, with at most two verifications at once;
//! random 256-bit session ids held in memory with idle and absolute expiry, ended when
//! the administrator password is set again; the session cookie is named after the port
//! (browsers share cookies between ports), HttpOnly, SameSite=Strict and Secure under
//! HTTPS; every form carries a CSRF token tied to the session and every POST checks it;
//! request bodies are limited to 1 MiB; request headers must arrive within
//! [`ServeConfig::header_read_timeout`] and a TLS handshake within
//! [`ServeConfig::tls_handshake_timeout`]; no secret ever appears in a page, a URL or a
//! log (the library does not log).
//!
//! ```no_run
//! # async fn run() -> Result<(), mailcert_admin::AdminError> {
//! let db = std::path::Path::new("/var/lib/mailcert/farm.db");
//! let cfg = mailcert_admin::ServeConfig::new(db, "/var/lib/mailcert/farm.db.key");
//! let bound = mailcert_admin::bind(cfg).await?;
//! for w in bound.warnings() {
//!     eprintln!("warning: {w}");
//! }
//! println!("Central Administration on {}", bound.url());
//! bound.run().await
//! # }
//! ```

mod app;
mod auth;
mod csrf;
mod error;
mod forms;
mod hex;
mod html;
mod pages;
mod password;
mod server;
mod session;
mod state;
mod tester;
mod tls;

pub use error::AdminError;
pub use password::{MIN_PASSWORD_CHARS, password_is_set, set_password};
pub use server::{
    Bound, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_LISTEN, DEFAULT_TLS_HANDSHAKE_TIMEOUT, ServeConfig,
    bind, serve, serve_blocking,
};
pub use tester::{MailTester, SenderTester, TestFailure};
pub use tls::TlsSource;
