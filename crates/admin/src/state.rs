//! What every request shares: where the farm is, the sessions, the CSRF key, the clock,
//! and the test hook. The farm itself is opened per request on a blocking thread
//! (a SQLite connection is not shared between threads).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use mailcert_relay::{RelayError, Spool};
use mailcert_store::Farm;

use crate::auth::Throttle;
use crate::csrf::CsrfKey;
use crate::error::PageError;
use crate::session::{Flash, SessionId, SessionStore};
use crate::tester::MailTester;

/// Shared by all handlers.
pub(crate) struct AppState {
    /// The farm database.
    pub(crate) db_path: mailcert_store::FarmDb,
    /// Its master key file.
    pub(crate) key_path: PathBuf,
    /// This server's relay spool, if one is configured.
    pub(crate) spool_path: Option<PathBuf>,
    /// Live sessions.
    pub(crate) sessions: SessionStore,
    /// Signs CSRF tokens.
    pub(crate) csrf: CsrfKey,
    /// Whether the server speaks HTTPS (cookies get `Secure` and the `__Host-` prefix).
    pub(crate) https: bool,
    /// The test hook, when the sender is plugged in.
    pub(crate) tester: Option<Arc<dyn MailTester>>,
    /// A fixed farm clock (Unix seconds), as `MAILCERT_NOW` gives the CLI.
    pub(crate) fixed_now: Option<i64>,
    /// Slows down password guessing.
    pub(crate) throttle: Throttle,
    /// The port listened on.
    pub(crate) port: u16,
    /// Whether it listens on a loopback address only (then only loopback host names
    /// are accepted in the Host header, against DNS rebinding).
    pub(crate) loopback: bool,
    /// The session cookie's name ([`session_cookie_name`]).
    pub(crate) cookie_name: String,
}

/// The session cookie's name for a server on `port`. Browsers keep cookies per host
/// name, not per port, so two servers on one host (two farms on 127.0.0.1:8080 and
/// :8081) would overwrite and read each other's cookie under one name: the port is part
/// of the name. Under HTTPS the `__Host-` prefix makes the browser insist on Secure,
/// Path=/ and no Domain.
pub(crate) fn session_cookie_name(https: bool, port: u16) -> String {
    if https {
        format!("__Host-mailcert_session_{port}")
    } else {
        format!("mailcert_session_{port}")
    }
}

/// The state as handlers receive it.
pub(crate) type Shared = Arc<AppState>;

impl AppState {
    /// The farm's notion of now, Unix seconds.
    pub(crate) fn now(&self) -> i64 {
        self.fixed_now
            .unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp())
    }

    /// The session cookie's name: per port, `__Host-` prefixed under HTTPS
    /// ([`session_cookie_name`]).
    pub(crate) fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// Queues a message for the session's next page.
    pub(crate) fn flash(&self, id: &SessionId, f: Flash) {
        self.sessions.flash(id, f);
    }

    /// Monotonic now, for sessions.
    pub(crate) fn instant(&self) -> Instant {
        Instant::now()
    }
}

tokio::task_local! {
    /// The address of the client whose request is being served, set around every
    /// request by [`crate::app`]'s `client_scope` middleware.
    static CLIENT: std::net::IpAddr;
}

/// Runs `fut` (a request) with `client` as the address [`with_farm`] records as the
/// actor's origin in the audit trail.
pub(crate) async fn with_client<F: std::future::Future>(
    client: Option<std::net::IpAddr>,
    fut: F,
) -> F::Output {
    match client {
        Some(ip) => CLIENT.scope(ip, fut).await,
        None => fut.await,
    }
}

/// Who the audit trail names for a change made through this server: the operating
/// system user running it and, when known, the client's address.
pub(crate) fn actor(client: Option<std::net::IpAddr>) -> String {
    let user = mailcert_store::os_user();
    match client {
        Some(ip) => format!("{user} (Central Administration, client {ip})"),
        None => format!("{user} (Central Administration)"),
    }
}

/// Opens the farm on a blocking thread and runs `f` with it and the farm clock. Changes
/// are recorded in the audit trail as made by [`actor`] with the current request's
/// client address.
pub(crate) async fn with_farm<T, F>(state: &Shared, f: F) -> Result<T, PageError>
where
    T: Send + 'static,
    F: FnOnce(&mut Farm, i64) -> Result<T, PageError> + Send + 'static,
{
    let db = state.db_path.clone();
    let key = state.key_path.clone();
    let now = state.now();
    let who = actor(CLIENT.try_with(|ip| *ip).ok());
    tokio::task::spawn_blocking(move || {
        let mut farm = Farm::open(&db, &key)?;
        farm.set_actor(who);
        f(&mut farm, now)
    })
    .await
    .map_err(|e| PageError::Internal(format!("the request's worker thread failed: {e}")))?
}

/// The spool as a request finds it.
#[derive(Debug)]
pub(crate) enum Spooled<T> {
    /// No spool is configured for this server.
    NotConfigured,
    /// The spool file does not exist (yet): an empty queue.
    Missing(PathBuf),
    /// The spool was open and the work done.
    Done(PathBuf, T),
}

/// Opens the spool at `path` if its file exists; `Ok(None)` when it does not, so that
/// looking at the queue never creates one.
pub(crate) fn open_existing_spool(path: &Path) -> Result<Option<Spool>, RelayError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Spool::open(path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RelayError::Spool {
            path: path.to_path_buf(),
            problem: e.to_string(),
        }),
    }
}

/// Opens this server's spool on a blocking thread, if it is configured and exists, and
/// runs `f` with it and the farm clock.
pub(crate) async fn with_spool<T, F>(state: &Shared, f: F) -> Result<Spooled<T>, PageError>
where
    T: Send + 'static,
    F: FnOnce(&mut Spool, i64) -> Result<T, RelayError> + Send + 'static,
{
    let Some(path) = state.spool_path.clone() else {
        return Ok(Spooled::NotConfigured);
    };
    let now = state.now();
    tokio::task::spawn_blocking(move || {
        let failed = |e: RelayError| PageError::Internal(format!("the queue: {e}"));
        match open_existing_spool(&path).map_err(failed)? {
            None => Ok(Spooled::Missing(path)),
            Some(mut spool) => {
                let t = f(&mut spool, now).map_err(failed)?;
                Ok(Spooled::Done(path, t))
            }
        }
    })
    .await
    .map_err(|e| PageError::Internal(format!("the request's worker thread failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::{actor, session_cookie_name};

    #[test]
    fn the_actor_names_the_client() {
        let ip = std::net::IpAddr::from([127, 0, 0, 1]);
        assert!(actor(Some(ip)).ends_with("(Central Administration, client 127.0.0.1)"));
        assert!(actor(None).ends_with("(Central Administration)"));
    }

    #[test]
    fn the_session_cookie_is_named_per_port() {
        assert_eq!(session_cookie_name(false, 8080), "mailcert_session_8080");
        assert_eq!(session_cookie_name(false, 8081), "mailcert_session_8081");
        assert_eq!(
            session_cookie_name(true, 8443),
            "__Host-mailcert_session_8443"
        );
    }
}
