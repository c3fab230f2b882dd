//! mailcert-relay: the local relay that applications hand their mail to.
//!
//! Applications speak SMTP to it (or pipe to `mailcert sendmail`); each accepted
//! message is committed to a durable spool (SQLite, synced to disk before the 250 reply
//! to DATA) and then delivered upstream through a web application's (or the farm's)
//! outgoing e-mail settings, presenting the bound client certificate. Temporary failures
//! are retried with backoff; permanent ones end in a delivery status notification.

mod commit;
mod config;
mod dsn;
mod error;
mod forward;
mod lease;
mod metrics;
mod server;
mod smtp;
mod spool;
mod tls;

pub use config::{
    AuthConfig, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_QUEUE_LIFETIME, RelayConfig, Retry,
    system_clock,
};
pub use error::{RelayError, Result};
pub use forward::{ForwardConfig, RunReport, Verdict, Worker, verdict};
pub use lease::Owner;
pub use metrics::Metrics;
/// The TLS library of the relay's STARTTLS configuration.
pub use rustls;
pub use server::run;
pub use spool::{Depth, Entry, NewMessage, Spool, State};
pub use tls::server_config;
