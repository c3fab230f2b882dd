//! What every request shares: where the farm is, the sessions, the CSRF key, the clock,
//! and the test hook. The farm itself is opened per request on a blocking thread
//! (a SQLite connection is not shared between threads).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use mailcert_store::Farm;

use crate::auth::Throttle;
use crate::csrf::CsrfKey;
use crate::pages::PageError;
use crate::session::{Flash, SessionId, SessionStore};
use crate::tester::MailTester;

/// Shared by all handlers.
pub(crate) struct AppState {
    /// The farm database.
    pub(crate) db_path: PathBuf,
    /// Its master key file.
    pub(crate) key_path: PathBuf,
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
}

/// The state as handlers receive it.
pub(crate) type Shared = Arc<AppState>;

impl AppState {
    /// The farm's notion of now, Unix seconds.
    pub(crate) fn now(&self) -> i64 {
        self.fixed_now
            .unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp())
    }

    /// The session cookie's name: `__Host-` prefixed under HTTPS, so that the browser
    /// insists on Secure, Path=/ and no Domain.
    pub(crate) fn cookie_name(&self) -> &'static str {
        if self.https {
            "__Host-mailcert-session"
        } else {
            "mailcert-session"
        }
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

/// Opens the farm on a blocking thread and runs `f` with it and the farm clock.
pub(crate) async fn with_farm<T, F>(state: &Shared, f: F) -> Result<T, PageError>
where
    T: Send + 'static,
    F: FnOnce(&mut Farm, i64) -> Result<T, PageError> + Send + 'static,
{
    let db = state.db_path.clone();
    let key = state.key_path.clone();
    let now = state.now();
    tokio::task::spawn_blocking(move || {
        let mut farm = Farm::open(&db, &key)?;
        farm.set_actor(format!(
            "{} (Central Administration)",
            mailcert_store::os_user()
        ));
        f(&mut farm, now)
    })
    .await
    .map_err(|e| PageError::Internal(format!("the request's worker thread failed: {e}")))?
}
