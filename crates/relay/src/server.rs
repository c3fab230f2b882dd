//! The running relay: listeners for applications, the spool writer, the delivery
//! workers and the metrics endpoint, and an orderly stop on SIGTERM.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::commit::{Committer, Wake};
use crate::config::{AuthConfig, RelayConfig};
use crate::error::{RelayError, Result};
use crate::forward::{self, ForwardConfig};
use crate::metrics::{self, Metrics, Sources};

/// What every client session shares.
pub(crate) struct Shared {
    pub(crate) hostname: String,
    pub(crate) auth: Option<AuthConfig>,
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    pub(crate) max_message_size: usize,
    pub(crate) command_timeout: Duration,
    pub(crate) webapp: Option<String>,
    pub(crate) committer: Committer,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) stopping: Arc<AtomicBool>,
    pub(crate) sessions: AtomicUsize,
    max_sessions: usize,
}

/// How long a stop waits for client sessions to end.
const STOP_GRACE: Duration = Duration::from_secs(30);

fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied && addr.port() < 1024 {
            " (a port below 1024 needs root or CAP_NET_BIND_SERVICE; see docs/relay.md)"
        } else if e.kind() == std::io::ErrorKind::AddrInUse {
            " (another program listens there: another relay, or an MTA such as Postfix)"
        } else {
            ""
        };
        RelayError::Io {
            what: format!("listening on {addr}{hint}"),
            source: e,
        }
    })
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut tcp) = stream else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let peer = match tcp.peer_addr() {
            Ok(p) => p,
            Err(_) => continue,
        };
        if shared.sessions.fetch_add(1, Ordering::SeqCst) >= shared.max_sessions {
            shared.sessions.fetch_sub(1, Ordering::SeqCst);
            use std::io::Write;
            let _ = tcp.set_write_timeout(Some(Duration::from_secs(5)));
            let _ = tcp.write_all(b"421 4.7.0 Too many connections; try again later\r\n");
            continue;
        }
        if crate::smtp::session::spawn(shared.clone(), tcp, peer).is_err() {
            shared.sessions.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Runs the relay until `stopping` is set (SIGTERM in the CLI); then it stops accepting,
/// lets the sessions and deliveries in progress finish, and returns. `ready` hears the
/// addresses actually bound (port 0 picks one), once everything runs.
pub fn run(
    mut config: RelayConfig,
    stopping: Arc<AtomicBool>,
    ready: impl FnOnce(&[SocketAddr]),
) -> Result<()> {
    config.validate()?;
    let listeners = config
        .listen
        .iter()
        .map(|a| bind(*a))
        .collect::<Result<Vec<_>>>()?;
    let bound: Vec<SocketAddr> = listeners
        .iter()
        .map(|l| {
            l.local_addr().map_err(|e| RelayError::Io {
                what: "reading the listening address".into(),
                source: e,
            })
        })
        .collect::<Result<_>>()?;
    let wake = Arc::new(Wake::default());
    let metrics = Arc::new(Metrics::default());
    let (committer, writer) = Committer::start(&config.spool, wake.clone(), config.clock)?;
    let forward_config = ForwardConfig {
        spool: config.spool.clone(),
        farm: (config.farm_db.clone(), config.farm_key.clone()),
        hostname: config.hostname.clone(),
        timeout: config.upstream_timeout,
        retry: config.retry,
        max_queue_lifetime: config.max_queue_lifetime,
        idle_upstream: config.idle_upstream,
        server: config.server.clone(),
        clock: config.clock,
    };
    let workers = forward::start_workers(
        &forward_config,
        config.connections,
        &metrics,
        &wake,
        &stopping,
    )?;
    let metrics_thread = match config.metrics {
        Some(addr) => Some(metrics::serve(
            addr,
            metrics.clone(),
            Sources {
                spool: config.spool.clone(),
                farm: (config.farm_db.clone(), config.farm_key.clone()),
                clock: config.clock,
            },
            stopping.clone(),
        )?),
        None => None,
    };
    let shared = Arc::new(Shared {
        hostname: config.hostname.clone(),
        auth: config.auth.take(),
        tls: config.tls.clone(),
        max_message_size: config.max_message_size,
        command_timeout: config.command_timeout,
        webapp: match &config.target {
            mailcert_binding::Target::Farm => None,
            mailcert_binding::Target::WebApp(u) => Some(u.to_string()),
        },
        committer,
        metrics,
        stopping: stopping.clone(),
        sessions: AtomicUsize::new(0),
        max_sessions: config.max_sessions,
    });
    let mut accepters = Vec::new();
    for l in listeners {
        let shared = shared.clone();
        accepters.push(
            std::thread::Builder::new()
                .name("mailcert-relay-accept".into())
                .spawn(move || accept_loop(l, shared))
                .map_err(|e| RelayError::Io {
                    what: "starting a listener".into(),
                    source: e,
                })?,
        );
    }
    ready(&bound);
    while !stopping.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Stop accepting: wake each blocked accept with a connection of our own.
    for addr in &bound {
        let _ = TcpStream::connect_timeout(addr, Duration::from_secs(1));
    }
    for a in accepters {
        let _ = a.join();
    }
    let until = Instant::now() + STOP_GRACE;
    while shared.sessions.load(Ordering::SeqCst) > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    wake.notify();
    for w in workers {
        let _ = w.join();
    }
    if let Some(m) = metrics_thread {
        let _ = m.join();
    }
    drop(shared);
    let _ = writer.join();
    Ok(())
}
