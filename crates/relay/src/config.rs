//! What a relay runs with, and the rules that keep it from being an open relay.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mailcert_binding::Target;
use zeroize::Zeroizing;

use crate::error::{RelayError, Result};

/// The one user applications authenticate as (AUTH PLAIN or LOGIN, over TLS only).
pub struct AuthConfig {
    /// The user name.
    pub user: String,
    /// The password, wiped when dropped.
    pub password: Zeroizing<String>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Default largest message accepted: 35 MiB (what Exchange Online takes by default).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 35 * 1024 * 1024;
/// Default time a message may stay queued before it fails: 5 days.
pub const DEFAULT_MAX_QUEUE_LIFETIME: Duration = Duration::from_secs(5 * 24 * 3600);

/// The backoff between attempts: doubling from `first` up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Wait after the first failure.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            first: Duration::from_secs(60),
            max: Duration::from_secs(3600),
        }
    }
}

impl Retry {
    /// The wait after the `attempts`-th failed attempt (1 for the first).
    pub fn after(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.first
            .saturating_mul(1u32 << doublings)
            .min(self.max)
            .max(self.first.min(self.max))
    }
}

/// Everything [`run`](crate::run) needs.
#[derive(Debug)]
pub struct RelayConfig {
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// Whose outgoing e-mail settings deliver the mail.
    pub target: Target,
    /// The name in the greeting, EHLO reply and Received headers.
    pub hostname: String,
    /// AUTH, when configured: then MAIL needs it.
    pub auth: Option<AuthConfig>,
    /// The STARTTLS server configuration (a certificate of the End Entity store).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Largest message accepted (SIZE); larger ones get 552 and are never spooled.
    pub max_message_size: usize,
    /// How long a message may stay queued before it fails.
    pub max_queue_lifetime: Duration,
    /// Upstream sessions at most (forwarder workers).
    pub connections: usize,
    /// Where to serve Prometheus metrics (loopback only).
    pub metrics: Option<SocketAddr>,
    /// The spool file.
    pub spool: PathBuf,
    /// The farm database.
    pub farm_db: mailcert_store::FarmDb,
    /// The farm's master key file.
    pub farm_key: PathBuf,
    /// How long a client may take for each command line (and each block of data).
    pub command_timeout: Duration,
    /// The sender's per-step deadline upstream.
    pub upstream_timeout: Duration,
    /// Backoff between attempts.
    pub retry: Retry,
    /// Client sessions at once; more get 421 at the greeting.
    pub max_sessions: usize,
    /// An upstream session idle this long is closed with QUIT.
    pub idle_upstream: Duration,
    /// The farm server whose own settings apply (`--server`); `None`: this server
    /// (`$MAILCERT_SERVER`, else the host name).
    pub server: Option<String>,
    /// The clock (Unix seconds); tests and `MAILCERT_NOW` replace it.
    pub clock: fn() -> i64,
}

/// Now, Unix seconds, from the system clock.
pub fn system_clock() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl RelayConfig {
    /// A configuration with the defaults: farm settings, 127.0.0.1:25, no AUTH.
    pub fn new(
        spool: PathBuf,
        farm_db: impl Into<mailcert_store::FarmDb>,
        farm_key: PathBuf,
    ) -> RelayConfig {
        RelayConfig {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 25))],
            target: Target::Farm,
            hostname: mailcert_binding::host_name(),
            auth: None,
            tls: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_queue_lifetime: DEFAULT_MAX_QUEUE_LIFETIME,
            connections: 4,
            metrics: None,
            spool,
            farm_db: farm_db.into(),
            farm_key,
            command_timeout: Duration::from_secs(300),
            upstream_timeout: Duration::from_secs(60),
            retry: Retry::default(),
            max_sessions: 200,
            idle_upstream: Duration::from_secs(5),
            server: None,
            clock: system_clock,
        }
    }

    /// The rules checked before anything listens: never an open relay.
    pub fn validate(&self) -> Result<()> {
        if self.listen.is_empty() {
            return Err(RelayError::Rejected {
                rule: "listen",
                message: "no address to listen on".into(),
            });
        }
        if self.auth.is_some() && self.tls.is_none() {
            return Err(RelayError::Rejected {
                rule: "auth-needs-tls",
                message: "AUTH is offered only after STARTTLS: an AUTH user needs a TLS certificate (one of the End Entity store)".into(),
            });
        }
        for addr in &self.listen {
            if !addr.ip().is_loopback() && (self.auth.is_none() || self.tls.is_none()) {
                return Err(RelayError::Rejected {
                    rule: "open-relay",
                    message: format!(
                        "listening on {addr} (off loopback) would make an open relay: configure an AUTH user and password and a TLS certificate, so that AUTH is required and offered only over STARTTLS"
                    ),
                });
            }
        }
        if let Some(m) = self.metrics
            && !m.ip().is_loopback()
        {
            return Err(RelayError::Rejected {
                rule: "metrics-loopback",
                message: format!("metrics on {m}: metrics are served on loopback only"),
            });
        }
        if self.connections == 0 {
            return Err(RelayError::Rejected {
                rule: "connections",
                message: "the number of upstream connections must be at least 1".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_minute_to_an_hour() {
        let r = Retry::default();
        let mins: Vec<u64> = (1..=8).map(|n| r.after(n).as_secs() / 60).collect();
        assert_eq!(mins, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(r.after(u32::MAX).as_secs(), 3600);
    }
}
