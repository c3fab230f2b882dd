//! Sending many messages over several sessions at once: a relay's intake is per session,
//! so the rest of its ceiling needs more connections.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::envelope::Delivery;
use crate::error::SendError;
use crate::message::Outgoing;
use crate::options::ConnectOptions;
use crate::session::Session;

/// How often one message may go back to the queue after its session broke before the
/// server took it.
const MAX_REQUEUES: u32 = 3;
/// Reconnect attempts of the last session standing before the rest fail.
const MAX_RECONNECTS: u32 = 4;

/// Whether the message was certainly not taken: the session failed before the server
/// accepted it (a 421 or a closed connection before or at MAIL/RCPT, or a 421 instead of
/// the final 250). A failure after the final dot without a reply is not: the server may
/// have queued it, and a resend would duplicate it.
fn not_taken(e: &SendError) -> bool {
    if e.reply().is_some_and(|r| r.code == 421) {
        return true;
    }
    matches!(e.step(), "connect" | "ehlo" | "mail" | "rcpt")
        && matches!(
            e,
            SendError::Io { .. } | SendError::Timeout { .. } | SendError::Protocol { .. }
        )
}

/// Whether a connect failure says "too many connections" (421 or 452 at the greeting or
/// EHLO): the pool should shrink rather than retry.
fn too_many(e: &SendError) -> bool {
    matches!(e, SendError::Greeting { .. } | SendError::Ehlo { .. })
        && e.reply().is_some_and(|r| r.code == 421 || r.code == 452)
}

struct Shared<'a> {
    options: &'a ConnectOptions,
    messages: &'a [Outgoing],
    queue: Mutex<VecDeque<(usize, u32)>>,
    results: Mutex<Vec<Option<Result<Delivery, SendError>>>>,
    live: AtomicUsize,
}

impl Shared<'_> {
    fn take(&self) -> Option<(usize, u32)> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front()
    }

    fn put_back(&self, item: (usize, u32)) {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_front(item);
    }

    fn record(&self, i: usize, r: Result<Delivery, SendError>) {
        if let Some(slot) = self
            .results
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_mut(i)
        {
            *slot = Some(r);
        }
    }

    /// Fails every message still queued with `e` (the first) and "not attempted".
    fn fail_rest(&self, e: SendError) {
        let mut first = Some(e);
        while let Some((i, _)) = self.take() {
            let err = first.take().unwrap_or_else(|| SendError::Protocol {
                step: "connect",
                detail: "not attempted: no connection to the server could be opened".into(),
            });
            self.record(i, Err(err));
        }
    }

    fn worker(&self) {
        let mut session: Option<Session> = None;
        let mut reconnects = 0u32;
        loop {
            if session.as_ref().is_none_or(|s| !s.is_usable()) {
                if self
                    .queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .is_empty()
                {
                    break;
                }
                match Session::connect(self.options) {
                    Ok(s) => {
                        session = Some(s);
                        reconnects = 0;
                    }
                    Err(e) => {
                        // Another session is still delivering: leave the rest to it. Only
                        // one worker can see itself as the last one standing.
                        if self.live.fetch_sub(1, Ordering::SeqCst) > 1 {
                            return;
                        }
                        self.live.fetch_add(1, Ordering::SeqCst);
                        reconnects += 1;
                        if !(too_many(&e) || e.is_transient()) || reconnects > MAX_RECONNECTS {
                            self.fail_rest(e);
                            break;
                        }
                        // The last session: back off and try again (a 421 says "later").
                        std::thread::sleep(Duration::from_millis(100 << reconnects.min(5)));
                        continue;
                    }
                }
            }
            let Some((i, requeued)) = self.take() else {
                break;
            };
            let (Some(s), Some(m)) = (session.as_mut(), self.messages.get(i)) else {
                break;
            };
            let r = s.send(&m.envelope, &m.data);
            match r {
                Err(e) if !s.is_usable() && not_taken(&e) && requeued < MAX_REQUEUES => {
                    // The session broke before the server took it: another try elsewhere.
                    self.put_back((i, requeued + 1));
                }
                r => self.record(i, r),
            }
        }
        self.live.fetch_sub(1, Ordering::SeqCst);
        if let Some(s) = session {
            let _ = s.quit();
        }
    }
}

/// Sends every message over up to `connections` sessions at once, each opened when
/// needed, pipelined and reused. Returns one result per message, in input order.
///
/// A session that breaks leaves the others delivering; a message the server certainly
/// did not take is tried again on another session, one it may have taken never is. A
/// server that answers "too many connections" (421/452) makes the pool smaller instead
/// of being hammered; when no session can be opened at all, the messages left fail with
/// that error.
pub fn send_pooled(
    options: &ConnectOptions,
    messages: &[Outgoing],
    connections: usize,
) -> Vec<Result<Delivery, SendError>> {
    let n = connections.clamp(1, messages.len().max(1));
    if n == 1 {
        return crate::relay::send_all(options, messages);
    }
    let shared = Shared {
        options,
        messages,
        queue: Mutex::new((0..messages.len()).map(|i| (i, 0)).collect()),
        results: Mutex::new((0..messages.len()).map(|_| None).collect()),
        live: AtomicUsize::new(n),
    };
    std::thread::scope(|scope| {
        for _ in 0..n {
            scope.spawn(|| shared.worker());
        }
    });
    shared
        .results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(SendError::Protocol {
                    step: "connect",
                    detail: "not attempted: every session ended before this message".into(),
                })
            })
        })
        .collect()
}
