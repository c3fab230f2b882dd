//! Prometheus metrics (text exposition format, `prometheus-client`), served on loopback:
//! what the relay accepted, delivered, deferred and failed, the queue by state, the age
//! of the oldest queued message, upstream connection failures, and how long each bound
//! certificate has left.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::error::{RelayError, Result};
use crate::spool::Spool;

/// The relay's counters, shared by sessions and workers.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Messages accepted (250 to DATA).
    pub accepted: Counter,
    /// Messages delivered upstream (every recipient settled).
    pub delivered: Counter,
    /// Delivery attempts that ended in a temporary failure.
    pub deferred: Counter,
    /// Messages that failed for good.
    pub failed: Counter,
    /// Upstream connections that could not be opened (connect, TLS, greeting, AUTH).
    pub upstream_connection_failures: Counter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertLabel {
    thumbprint_sha1: String,
    bound_to: String,
}

/// Where the scrape-time figures come from.
#[derive(Debug, Clone)]
pub(crate) struct Sources {
    /// The spool.
    pub(crate) spool: PathBuf,
    /// The farm database and key.
    pub(crate) farm: (mailcert_store::FarmDb, PathBuf),
    /// The clock.
    pub(crate) clock: fn() -> i64,
}

/// Renders every metric as Prometheus text.
pub(crate) fn render(metrics: &Metrics, sources: &Sources) -> Result<String> {
    let mut registry = Registry::default();
    registry.register(
        "mailcert_relay_messages_accepted",
        "Messages accepted from applications",
        metrics.accepted.clone(),
    );
    registry.register(
        "mailcert_relay_messages_delivered",
        "Messages delivered upstream",
        metrics.delivered.clone(),
    );
    registry.register(
        "mailcert_relay_delivery_deferrals",
        "Delivery attempts that ended in a temporary failure",
        metrics.deferred.clone(),
    );
    registry.register(
        "mailcert_relay_messages_failed",
        "Messages that failed for good",
        metrics.failed.clone(),
    );
    registry.register(
        "mailcert_relay_upstream_connection_failures",
        "Upstream connections that could not be opened",
        metrics.upstream_connection_failures.clone(),
    );
    let now = (sources.clock)();
    let depth = Spool::open(&sources.spool)?.depth()?;
    let queue = Family::<StateLabel, Gauge>::default();
    for (state, n) in [
        ("queued", depth.queued),
        ("deferred", depth.deferred),
        ("failed", depth.failed),
    ] {
        queue
            .get_or_create(&StateLabel {
                state: state.into(),
            })
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
    registry.register(
        "mailcert_relay_queue_messages",
        "Messages in the spool by state",
        queue,
    );
    let oldest = Gauge::<i64>::default();
    oldest.set(depth.oldest_queued_at.map_or(0, |t| (now - t).max(0)));
    registry.register(
        "mailcert_relay_oldest_queued_age_seconds",
        "Age of the oldest message not yet delivered or failed (0 when none)",
        oldest,
    );
    let expiry = Family::<CertLabel, Gauge>::default();
    let mut farm = mailcert_store::Farm::open(&sources.farm.0, &sources.farm.1)?;
    let bound = farm.read(|tx| {
        let mut out = Vec::new();
        for b in tx.bindings(None)? {
            if let Some(c) = tx.by_sha1(&b.certificate_sha1)? {
                out.push((
                    b.label(),
                    c.facts.thumbprint_sha1.clone(),
                    c.facts.not_after,
                ));
            }
        }
        Ok::<_, mailcert_store::Error>(out)
    })?;
    for (label, sha1, not_after) in bound {
        expiry
            .get_or_create(&CertLabel {
                thumbprint_sha1: sha1,
                bound_to: label,
            })
            .set(not_after - now);
    }
    registry.register(
        "mailcert_bound_certificate_expiry_seconds",
        "Seconds until each bound client certificate expires (negative once expired)",
        expiry,
    );
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)
        .map_err(|e| RelayError::Internal(format!("encoding metrics: {e}")))?;
    Ok(text)
}

/// Serves `/metrics` on `addr` until `stopping` is set.
pub(crate) fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    sources: Sources,
    stopping: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>> {
    let server = tiny_http::Server::http(addr).map_err(|e| RelayError::Io {
        what: format!("metrics listener {addr}"),
        source: std::io::Error::other(e.to_string()),
    })?;
    std::thread::Builder::new()
        .name("mailcert-metrics".into())
        .spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                let request = match server.recv_timeout(Duration::from_millis(200)) {
                    Ok(Some(r)) => r,
                    Ok(None) => continue,
                    Err(_) => return,
                };
                let response = if request.url() == "/metrics" {
                    match render(&metrics, &sources) {
                        Ok(text) => {
                            let mut r = tiny_http::Response::from_string(text);
                            if let Ok(h) = tiny_http::Header::from_bytes(
                                &b"Content-Type"[..],
                                &b"text/plain; version=0.0.4; charset=utf-8"[..],
                            ) {
                                r = r.with_header(h);
                            }
                            r
                        }
                        Err(e) => tiny_http::Response::from_string(format!("error: {e}\n"))
                            .with_status_code(500),
                    }
                } else {
                    tiny_http::Response::from_string("not found; try /metrics\n")
                        .with_status_code(404)
                };
                let _ = request.respond(response);
            }
        })
        .map_err(|e| RelayError::Io {
            what: "starting the metrics thread".into(),
            source: e,
        })
}
