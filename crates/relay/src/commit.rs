//! Group commit: one writer thread owns the spool's inserts. Sessions hand it their
//! accepted messages and wait; it commits every message that arrived while the previous
//! sync ran in one transaction (one fsync for all of them) and then answers each
//! session, which only then replies 250. Durability costs one sync per batch, not per
//! message, so intake grows with the number of sessions.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::error::{RelayError, Result};
use crate::spool::{NewMessage, Spool};

/// Most messages in one transaction.
const MAX_BATCH: usize = 512;

/// Wakes the forwarder when there is new mail (or when it should stop).
#[derive(Debug, Default)]
pub(crate) struct Wake {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Wake {
    /// Signals everyone waiting.
    pub(crate) fn notify(&self) {
        let mut g = self
            .generation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *g = g.wrapping_add(1);
        self.changed.notify_all();
    }

    /// The current generation, to wait for a change from.
    pub(crate) fn generation(&self) -> u64 {
        *self
            .generation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until the generation differs from `seen` or `timeout` passes.
    pub(crate) fn wait(&self, seen: u64, timeout: Duration) {
        let g = self
            .generation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = self
            .changed
            .wait_timeout_while(g, timeout, |g| *g == seen)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
    }
}

struct Request {
    message: NewMessage,
    done: mpsc::SyncSender<Result<String, String>>,
}

/// The handle sessions commit through.
#[derive(Clone)]
pub(crate) struct Committer {
    requests: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Committer")
    }
}

impl Committer {
    /// Opens the spool for writing and starts the writer thread. It ends when every
    /// `Committer` clone is dropped.
    pub(crate) fn start(
        spool: &Path,
        wake: Arc<Wake>,
        clock: fn() -> i64,
    ) -> Result<(Committer, std::thread::JoinHandle<()>)> {
        let mut spool = Spool::open(spool)?;
        let (tx, rx) = mpsc::channel::<Request>();
        let handle = std::thread::Builder::new()
            .name("mailcert-spool-writer".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(r) => batch.push(r),
                            Err(_) => break,
                        }
                    }
                    let (messages, waiting): (Vec<NewMessage>, Vec<_>) =
                        batch.into_iter().map(|r| (r.message, r.done)).unzip();
                    match spool.insert(&messages, clock()) {
                        Ok(ids) => {
                            for (done, id) in waiting.into_iter().zip(ids) {
                                let _ = done.send(Ok(id));
                            }
                        }
                        Err(e) => {
                            let text = e.to_string();
                            for done in waiting {
                                let _ = done.send(Err(text.clone()));
                            }
                        }
                    }
                    wake.notify();
                }
            })
            .map_err(|e| RelayError::Io {
                what: "starting the spool writer".into(),
                source: e,
            })?;
        Ok((Committer { requests: tx }, handle))
    }

    /// Commits `message` and returns its queue id once it is synced to disk.
    pub(crate) fn commit(&self, message: NewMessage) -> Result<String, String> {
        let (done, wait) = mpsc::sync_channel(1);
        self.requests
            .send(Request { message, done })
            .map_err(|_| "the spool writer has stopped".to_string())?;
        wait.recv()
            .map_err(|_| "the spool writer has stopped".to_string())?
    }
}
