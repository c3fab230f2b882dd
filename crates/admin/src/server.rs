//! Starting Central Administration: checks (TLS beyond loopback, a farm that opens),
//! binding the address, and serving until told to stop.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
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

/// How to run Central Administration.
#[derive(Clone)]
pub struct ServeConfig {
    /// The farm database.
    pub db_path: PathBuf,
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
            .finish()
    }
}

impl ServeConfig {
    /// Defaults for the farm at `db_path` with master key `key_path`: loopback port
    /// 8080, plain HTTP, no tester, the system clock.
    pub fn new(db_path: impl Into<PathBuf>, key_path: impl Into<PathBuf>) -> ServeConfig {
        ServeConfig {
            db_path: db_path.into(),
            key_path: key_path.into(),
            listen: DEFAULT_LISTEN,
            tls: None,
            tester: None,
            fixed_now: None,
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
        let listen = self.local_addr;
        let failed = |source| AdminError::Listen { listen, source };
        match self.listening {
            Listening::Plain(l) => axum::serve(l, self.router)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(failed),
            Listening::Tls(l) => axum::serve(l, self.router)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(failed),
        }
    }
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
        sessions: SessionStore::default(),
        csrf: CsrfKey::generate()
            .map_err(|_| AdminError::Tls("the system random source failed".into()))?,
        https,
        tester: cfg.tester,
        fixed_now: cfg.fixed_now,
        throttle: Throttle::default(),
        port: local_addr.port(),
        loopback,
    });
    let listening =
        match tls {
            Some(config) => Listening::Tls(TlsListener::new(tcp, config).map_err(|source| {
                AdminError::Listen {
                    listen: local_addr,
                    source,
                }
            })?),
            None => Listening::Plain(tcp),
        };
    Ok(Bound {
        local_addr,
        https,
        warnings,
        listening,
        router: crate::app::router(state),
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
