//! Delivery upstream: workers claim due messages from the spool, deliver them through
//! the effective settings of their web application (re-read for every batch, so a change
//! of settings, certificate or binding applies without a restart), reuse one upstream
//! session per worker while the settings stay the same, and settle each message per
//! recipient: accepted ones leave, temporary failures wait for a retry, permanent ones
//! end in a delivery status notification.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mailcert_binding::{Target, WebAppUrl};
use mailcert_sender::{ConnectOptions, Envelope, RecipientReply, SendError, Session};

use crate::commit::Wake;
use crate::config::Retry;
use crate::dsn::{self, Failure};
use crate::error::Result;
use crate::lease::Owner;
use crate::metrics::Metrics;
use crate::spool::{Claimed, Spool};

/// Messages one worker claims at a time.
const BATCH: usize = 16;

/// What every worker needs.
#[derive(Debug, Clone)]
pub struct ForwardConfig {
    /// The spool.
    pub spool: PathBuf,
    /// The farm database and master key.
    pub farm: (mailcert_store::FarmDb, PathBuf),
    /// The name used in notifications.
    pub hostname: String,
    /// The sender's per-step deadline.
    pub timeout: Duration,
    /// Backoff between attempts.
    pub retry: Retry,
    /// How long a message may stay queued.
    pub max_queue_lifetime: Duration,
    /// An upstream session idle this long is closed.
    pub idle_upstream: Duration,
    /// The farm server whose own settings apply (`--server`); `None`: this server
    /// (`$MAILCERT_SERVER`, else the host name).
    pub server: Option<String>,
    /// The clock.
    pub clock: fn() -> i64,
}

/// What one pass over the queue did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RunReport {
    /// Messages whose every recipient was settled (delivered, or refused for good).
    pub delivered: u64,
    /// Messages deferred for a retry.
    pub deferred: u64,
    /// Messages that failed for good.
    pub failed: u64,
}

/// How a failed attempt counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Try again later (connection, TLS, timeout, 4xx, settings that cannot send now).
    Temporary,
    /// The upstream refused for good (5xx to MAIL, RCPT or DATA).
    Permanent,
}

/// Whether a failure is for good: only the upstream's 5xx to the transaction itself
/// (MAIL, RCPT, DATA) is; everything else (connection, TLS, AUTH, 4xx) may heal.
pub fn verdict(e: &SendError) -> Verdict {
    let permanent = match e {
        SendError::SenderRefused { reply } | SendError::MessageRefused { reply } => {
            reply.code >= 500
        }
        SendError::AllRecipientsRefused { replies } => replies.iter().all(|r| r.reply.code >= 500),
        SendError::MessageTooLarge { .. } => true,
        _ => false,
    };
    if permanent {
        Verdict::Permanent
    } else {
        Verdict::Temporary
    }
}

/// The settings' identity: a new one means a new upstream session.
fn fingerprint(o: &ConnectOptions) -> String {
    use ring::digest::{SHA256, digest};
    let mut roots = Vec::new();
    for r in &o.extra_roots {
        roots.extend_from_slice(digest(&SHA256, r.as_ref()).as_ref());
    }
    let password = o
        .credentials
        .as_ref()
        .map(|c| digest(&SHA256, c.password.as_bytes()));
    format!(
        "{}|{}|{:?}|{}|{:?}|{:?}|{:?}|{:?}",
        o.host,
        o.port,
        o.security,
        o.helo,
        o.identity.as_ref().map(|i| i.thumbprint().to_owned()),
        o.credentials.as_ref().map(|c| c.user.clone()),
        password.as_ref().map(|d| d.as_ref().to_vec()),
        digest(&SHA256, &roots).as_ref()
    )
}

/// One worker: its spool and farm handles and its upstream session.
pub struct Worker {
    config: ForwardConfig,
    owner: Owner,
    spool: Spool,
    farm: mailcert_store::Farm,
    metrics: Arc<Metrics>,
    session: Option<(String, Session, Instant)>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker named `name` within this process.
    pub fn new(config: ForwardConfig, name: &str, metrics: Arc<Metrics>) -> Result<Worker> {
        let spool = Spool::open_for_delivery(&config.spool)?;
        let mut farm = mailcert_store::Farm::open(&config.farm.0, &config.farm.1)?;
        if let Some(name) = &config.server {
            farm.set_server(name.clone());
        }
        Ok(Worker {
            owner: Owner::named(&Owner::current(), name),
            spool,
            farm,
            metrics,
            session: None,
            config,
        })
    }

    /// Runs until `stopping`: delivers what is due, then waits for new mail or the next
    /// retry.
    pub(crate) fn run(&mut self, wake: &Wake, stopping: &AtomicBool) {
        while !stopping.load(Ordering::SeqCst) {
            let seen = wake.generation();
            match self.pass(stopping) {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(_) => {
                    // The spool or farm failed for a moment (locked, disk full): wait and retry.
                }
            }
            self.close_if_idle();
            wake.wait(seen, Duration::from_millis(500));
        }
        self.close();
    }

    /// Delivers every message due now, until none is left; for `queue run`.
    pub fn run_once(&mut self, stopping: &AtomicBool) -> Result<RunReport> {
        let mut total = RunReport::default();
        while self.pass_counting(stopping, &mut total)? > 0 && !stopping.load(Ordering::SeqCst) {}
        self.close();
        Ok(total)
    }

    fn pass(&mut self, stopping: &AtomicBool) -> Result<usize> {
        let mut report = RunReport::default();
        self.pass_counting(stopping, &mut report)
    }

    /// Claims one batch and delivers it; returns how many messages it claimed.
    fn pass_counting(&mut self, stopping: &AtomicBool, report: &mut RunReport) -> Result<usize> {
        let now = (self.config.clock)();
        let claimed = self.spool.claim(&self.owner, BATCH, now)?;
        let n = claimed.len();
        let mut rest = claimed.into_iter();
        while let Some(first) = rest.next() {
            if stopping.load(Ordering::SeqCst) {
                self.spool.release(&first.entry.id)?;
                for m in rest.by_ref() {
                    self.spool.release(&m.entry.id)?;
                }
                break;
            }
            self.deliver(first, report)?;
        }
        Ok(n)
    }

    fn close_if_idle(&mut self) {
        if self
            .session
            .as_ref()
            .is_some_and(|(_, _, used)| used.elapsed() >= self.config.idle_upstream)
        {
            self.close();
        }
    }

    fn close(&mut self) {
        if let Some((_, s, _)) = self.session.take() {
            let _ = s.quit();
        }
    }

    /// The options for `webapp`'s settings now, or the reason they cannot send.
    fn options(&mut self, webapp: Option<&str>) -> std::result::Result<ConnectOptions, String> {
        let target = match webapp {
            None => Target::Farm,
            Some(url) => Target::WebApp(WebAppUrl::parse(url).map_err(|e| e.to_string())?),
        };
        let now = (self.config.clock)();
        let plan =
            mailcert_binding::plan(&mut self.farm, &target, now).map_err(|e| e.to_string())?;
        mailcert_sender::connect_options(&plan, self.config.timeout)
            .map_err(|e| format!("the bound certificate cannot be used: {e}"))
    }

    /// A usable session for `options`, reusing the current one when the settings match.
    fn session_for(
        &mut self,
        options: &ConnectOptions,
    ) -> std::result::Result<&mut Session, SendError> {
        let fp = fingerprint(options);
        let reuse = self
            .session
            .as_ref()
            .is_some_and(|(f, s, _)| *f == fp && s.is_usable());
        if !reuse {
            self.close();
            match Session::connect(options) {
                Ok(s) => self.session = Some((fp, s, Instant::now())),
                Err(e) => {
                    self.metrics.upstream_connection_failures.inc();
                    return Err(e);
                }
            }
        }
        match self.session.as_mut() {
            Some((_, s, used)) => {
                *used = Instant::now();
                Ok(s)
            }
            None => Err(SendError::Protocol {
                step: "connect",
                detail: "no session".into(),
            }),
        }
    }

    /// One attempt at one message, settled in the spool.
    fn deliver(&mut self, m: Claimed, report: &mut RunReport) -> Result<()> {
        let now = (self.config.clock)();
        let e = &m.entry;
        let lifetime = i64::try_from(self.config.max_queue_lifetime.as_secs()).unwrap_or(i64::MAX);
        if now.saturating_sub(e.queued_at) > lifetime {
            let why = format!(
                "the message could not be delivered within the queue lifetime ({} hours); last reply: {}",
                lifetime / 3600,
                e.last_reply.as_deref().unwrap_or("(none)")
            );
            let failures: Vec<Failure> = e
                .recipients
                .iter()
                .map(|r| Failure {
                    recipient: r.clone(),
                    reply: why.clone(),
                    status: "4.4.7".into(),
                })
                .collect();
            let n = dsn::notification(e, &m.data, &failures, &self.config.hostname, now);
            self.spool
                .fail(&e.id, &e.recipients, &why, n.as_ref(), now)?;
            self.metrics.failed.inc();
            report.failed += 1;
            return Ok(());
        }
        let options = match self.options(e.webapp.as_deref()) {
            Ok(o) => o,
            Err(why) => return self.defer(&m, &e.recipients, &why, Vec::new(), report),
        };
        let envelope = Envelope::new(e.from.clone(), e.recipients.clone());
        let result = match self.session_for(&options) {
            Ok(session) => session.send(&envelope, &m.data),
            Err(err) => Err(err),
        };
        if self
            .session
            .as_ref()
            .is_some_and(|(_, s, _)| !s.is_usable())
        {
            self.session = None;
        }
        match result {
            Ok(delivery) => {
                let (permanent, temporary) = split(&delivery.refused);
                if temporary.is_empty() {
                    let n = dsn::notification(e, &m.data, &permanent, &self.config.hostname, now);
                    self.spool.remove(&e.id, n.as_ref(), now)?;
                    self.metrics.delivered.inc();
                    report.delivered += 1;
                    Ok(())
                } else {
                    let pending: Vec<String> =
                        temporary.iter().map(|r| r.address.clone()).collect();
                    let why = temporary
                        .first()
                        .map(|r| r.reply.to_string())
                        .unwrap_or_default();
                    self.defer(&m, &pending, &why, permanent, report)
                }
            }
            Err(SendError::AllRecipientsRefused { replies }) => {
                let (permanent, temporary) = split(&replies);
                if temporary.is_empty() {
                    let why = permanent
                        .first()
                        .map(|f| f.reply.clone())
                        .unwrap_or_default();
                    self.fail(&m, &permanent, &why, report)
                } else {
                    let pending: Vec<String> =
                        temporary.iter().map(|r| r.address.clone()).collect();
                    let why = temporary
                        .first()
                        .map(|r| r.reply.to_string())
                        .unwrap_or_default();
                    self.defer(&m, &pending, &why, permanent, report)
                }
            }
            Err(err) => {
                let why = format!("{} (at {})", err, err.step());
                match verdict(&err) {
                    Verdict::Permanent => {
                        let reply = err.reply().map_or_else(|| why.clone(), ToString::to_string);
                        let failures: Vec<Failure> = e
                            .recipients
                            .iter()
                            .map(|r| Failure {
                                recipient: r.clone(),
                                reply: reply.clone(),
                                status: dsn::status_of(&reply),
                            })
                            .collect();
                        self.fail(&m, &failures, &why, report)
                    }
                    Verdict::Temporary => self.defer(&m, &e.recipients, &why, Vec::new(), report),
                }
            }
        }
    }

    fn defer(
        &mut self,
        m: &Claimed,
        pending: &[String],
        why: &str,
        permanent: Vec<Failure>,
        report: &mut RunReport,
    ) -> Result<()> {
        let now = (self.config.clock)();
        let wait = self.config.retry.after(m.entry.attempts.saturating_add(1));
        let next = now.saturating_add(i64::try_from(wait.as_secs()).unwrap_or(i64::MAX));
        let n = dsn::notification(&m.entry, &m.data, &permanent, &self.config.hostname, now);
        self.spool
            .defer(&m.entry.id, pending, next, why, n.as_ref(), now)?;
        self.metrics.deferred.inc();
        report.deferred += 1;
        Ok(())
    }

    fn fail(
        &mut self,
        m: &Claimed,
        failures: &[Failure],
        why: &str,
        report: &mut RunReport,
    ) -> Result<()> {
        let now = (self.config.clock)();
        let failed: Vec<String> = failures.iter().map(|f| f.recipient.clone()).collect();
        let n = dsn::notification(&m.entry, &m.data, failures, &self.config.hostname, now);
        self.spool
            .fail(&m.entry.id, &failed, why, n.as_ref(), now)?;
        self.metrics.failed.inc();
        report.failed += 1;
        Ok(())
    }
}

/// Splits refused recipients into those refused for good (as failures for the
/// notification) and those to try again.
fn split(refused: &[RecipientReply]) -> (Vec<Failure>, Vec<RecipientReply>) {
    let mut permanent = Vec::new();
    let mut temporary = Vec::new();
    for r in refused {
        if r.reply.code >= 500 {
            let reply = r.reply.to_string();
            permanent.push(Failure {
                recipient: r.address.clone(),
                status: dsn::status_of(&reply),
                reply,
            });
        } else {
            temporary.push(r.clone());
        }
    }
    (permanent, temporary)
}

/// Starts `n` workers on their own threads.
pub(crate) fn start_workers(
    config: &ForwardConfig,
    n: usize,
    metrics: &Arc<Metrics>,
    wake: &Arc<Wake>,
    stopping: &Arc<AtomicBool>,
) -> Result<Vec<std::thread::JoinHandle<()>>> {
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let mut worker = Worker::new(config.clone(), &format!("w{i}"), metrics.clone())?;
        let wake = wake.clone();
        let stopping = stopping.clone();
        let handle = std::thread::Builder::new()
            .name(format!("mailcert-forward-{i}"))
            .spawn(move || worker.run(&wake, &stopping))
            .map_err(|e| crate::error::RelayError::Io {
                what: "starting a delivery worker".into(),
                source: e,
            })?;
        handles.push(handle);
    }
    Ok(handles)
}
