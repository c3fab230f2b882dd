//! Starting Central Administration: checks (TLS beyond loopback, a farm that opens),
//! binding the address, and serving until told to stop.
//!
//! Each connection is served by hyper's HTTP/1.1 server with a header-read timeout, so a
//! client that opens a connection and sends nothing, or drips its request headers a byte
//! at a time, or leaves a kept-alive connection idle, loses it after
//! [`ServeConfig::header_read_timeout`]; under HTTPS the handshake has its own limit
//! first. The client's address reaches the handlers as axum's `ConnectInfo`.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper_util::rt::{TokioIo, TokioTimer};
use mailcert_store::Farm;
use tokio::net::TcpListener;

use crate::auth::Throttle;
use crate::csrf::CsrfKey;
use crate::error::AdminError;
use crate::session::SessionStore;
use crate::state::AppState;
use crate::tester::MailTester;
use crate::tls::{TlsListener, TlsSource, server_config};

/// Where Central Administration listens unless told otherwise: loopback port 8080.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// How long a client has, by default, to send a request's headers: from the moment its
/// connection is accepted (after the TLS handshake under HTTPS), or from the end of the
/// previous response on a kept-alive connection.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an HTTPS client has, by default, to complete the TLS handshake.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How to run Central Administration.
#[derive(Clone)]
pub struct ServeConfig {
    /// The farm database.
    pub db_path: mailcert_store::FarmDb,
    /// The farm's master key file.
    pub key_path: PathBuf,
    /// The address to listen on ([`DEFAULT_LISTEN`] by default). Anything but a loopback
    /// address needs [`ServeConfig::tls`].
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate; required beyond loopback.
    pub tls: Option<TlsSource>,
    /// Runs "Test connection" and "Send a test e-mail" (the sender, plugged in by the
    /// CLI); without it the buttons say testing is not available.
    pub tester: Option<Arc<dyn MailTester>>,
    /// A fixed farm clock in Unix seconds (the CLI passes `MAILCERT_NOW`); `None` uses
    /// the system clock.
    pub fixed_now: Option<i64>,
    /// How long a client has to send a request's headers before its connection is
    /// closed ([`DEFAULT_HEADER_READ_TIMEOUT`] by default); see the module's notes.
    pub header_read_timeout: Duration,
    /// How long an HTTPS client has to complete the TLS handshake before its connection
    /// is closed ([`DEFAULT_TLS_HANDSHAKE_TIMEOUT`] by default).
    pub tls_handshake_timeout: Duration,
    /// This server's relay spool (the queue of `mailcert relay` and `mailcert sendmail`),
    /// shown on the Queue page and in the warnings of the Outgoing E-Mail Settings pages.
    /// `None` (the default): the Queue page says no spool is configured. A spool file
    /// that does not exist yet is an empty queue; the page never creates it.
    pub spool: Option<PathBuf>,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("db_path", &self.db_path)
            .field("key_path", &self.key_path)
            .field("listen", &self.listen)
            .field("tls", &self.tls)
            .field("tester", &self.tester.as_ref().map(|_| "<plugged in>"))
            .field("fixed_now", &self.fixed_now)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("tls_handshake_timeout", &self.tls_handshake_timeout)
            .field("spool", &self.spool)
            .finish()
    }
}

impl ServeConfig {
    /// Defaults for the farm at `db_path` with master key `key_path`: loopback port
    /// 8080, plain HTTP, no tester, the system clock, the default timeouts, no spool.
    pub fn new(
        db_path: impl Into<mailcert_store::FarmDb>,
        key_path: impl Into<PathBuf>,
    ) -> ServeConfig {
        ServeConfig {
            db_path: db_path.into(),
            key_path: key_path.into(),
            listen: DEFAULT_LISTEN,
            tls: None,
            tester: None,
            fixed_now: None,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            tls_handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            spool: None,
        }
    }
}

enum Listening {
    Plain(TcpListener),
    Tls(TlsListener),
}

/// A bound, not yet serving, Central Administration: its address and the warnings to
/// show before [`Bound::run`] starts serving.
pub struct Bound {
    local_addr: SocketAddr,
    https: bool,
    warnings: Vec<String>,
    listening: Listening,
    router: Router,
    header_read_timeout: Duration,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("local_addr", &self.local_addr)
            .field("https", &self.https)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

impl Bound {
    /// The address actually bound (the port chosen when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether it serves HTTPS.
    pub fn https(&self) -> bool {
        self.https
    }

    /// The address to open in a browser, e.g. `http://127.0.0.1:8080/`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}/",
            if self.https { "https" } else { "http" },
            self.local_addr
        )
    }

    /// What the caller should tell the operator loudly (listening beyond loopback, no
    /// administrator password set, a doubtful HTTPS certificate). Never a secret.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run(self) -> Result<(), AdminError> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AdminError> {
        let timeout = self.header_read_timeout;
        match self.listening {
            Listening::Plain(l) => serve_connections(l, self.router, timeout, shutdown).await,
            Listening::Tls(l) => serve_connections(l, self.router, timeout, shutdown).await,
        }
        Ok(())
    }
}

/// Accepts connections from `listener` until `shutdown` completes and serves each on a
/// task of its own (HTTP/1.1, the header-read timeout, the peer's address as
/// `ConnectInfo`); then lets the requests in flight finish and closes idle connections.
async fn serve_connections<L>(
    mut listener: L,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    L: Listener<Addr = SocketAddr>,
{
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // The listener retries failed accepts itself (after a pause, for running out
        // of file descriptors and the like), so an accept only ever yields a connection.
        let (io, peer) = tokio::select! {
            conn = listener.accept() => conn,
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let service = hyper::service::service_fn(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                let mut router = router.clone();
                tower_service::Service::call(&mut router, req)
            },
        );
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .serve_connection(TokioIo::new(io), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // A connection that failed (reset, timed out, bad request) concerns only
            // its client; the server goes on.
            let _ = conn.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Checks the configuration, opens the farm once (so that a missing farm or master key
/// is reported now, not on the first request), loads the HTTPS certificate and binds the
/// address. Beyond a loopback address it refuses to start without TLS.
pub async fn bind(cfg: ServeConfig) -> Result<Bound, AdminError> {
    let loopback = cfg.listen.ip().is_loopback();
    if !loopback && cfg.tls.is_none() {
        return Err(AdminError::TlsRequired { listen: cfg.listen });
    }
    let now = cfg
        .fixed_now
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp());
    let mut warnings = Vec::new();
    {
        let db = cfg.db_path.clone();
        let key = cfg.key_path.clone();
        let password_set = tokio::task::spawn_blocking(move || {
            let mut farm = Farm::open(&db, &key)?;
            farm.master_key()?;
            crate::password::password_is_set(&mut farm)
        })
        .await
        .map_err(|e| AdminError::Runtime(std::io::Error::other(e)))??;
        if !password_set {
            warnings.push(
                "no administrator password is set: run `mailcert admin set-password` before signing in"
                    .into(),
            );
        }
    }
    let tls = match &cfg.tls {
        Some(source) => {
            let (config, w) = server_config(source, &cfg.db_path, &cfg.key_path, now)?;
            warnings.extend(w);
            Some(config)
        }
        None => None,
    };
    let tcp = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| AdminError::Listen {
            listen: cfg.listen,
            source,
        })?;
    let local_addr = tcp.local_addr().map_err(|source| AdminError::Listen {
        listen: cfg.listen,
        source,
    })?;
    if !loopback {
        warnings.insert(
            0,
            format!(
                "Central Administration is listening on {local_addr}, reachable from other machines (HTTPS only): anyone who can reach it can try the administrator password"
            ),
        );
    }
    let https = tls.is_some();
    let state = Arc::new(AppState {
        db_path: cfg.db_path,
        key_path: cfg.key_path,
        spool_path: cfg.spool,
        sessions: SessionStore::default(),
        csrf: CsrfKey::generate()
            .map_err(|_| AdminError::Tls("the system random source failed".into()))?,
        https,
        tester: cfg.tester,
        fixed_now: cfg.fixed_now,
        throttle: Throttle::default(),
        port: local_addr.port(),
        loopback,
        cookie_name: crate::state::session_cookie_name(https, local_addr.port()),
    });
    let listening = match tls {
        Some(config) => Listening::Tls(
            TlsListener::new(tcp, config, cfg.tls_handshake_timeout).map_err(|source| {
                AdminError::Listen {
                    listen: local_addr,
                    source,
                }
            })?,
        ),
        None => Listening::Plain(tcp),
    };
    Ok(Bound {
        local_addr,
        https,
        warnings,
        listening,
        router: crate::app::router(state),
        header_read_timeout: cfg.header_read_timeout,
    })
}

/// Binds and serves until Ctrl-C or SIGTERM.
pub async fn serve(cfg: ServeConfig) -> Result<(), AdminError> {
    bind(cfg).await?.run().await
}

/// [`serve`] on a runtime of its own, for a synchronous caller such as the CLI;
/// `on_ready` is called once the address is bound (to print the URL and the warnings).
pub fn serve_blocking(cfg: ServeConfig, on_ready: impl FnOnce(&Bound)) -> Result<(), AdminError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(AdminError::Runtime)?;
    rt.block_on(async move {
        let bound = bind(cfg).await?;
        on_ready(&bound);
        bound.run().await
    })
}
