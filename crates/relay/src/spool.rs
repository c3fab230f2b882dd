//! The spool: this server's durable queue, one SQLite file (never the shared farm
//! database), mode 0600, in WAL mode with `synchronous=FULL`, so a committed message
//! survives a crash or power loss.
//!
//! A message is inserted once, when accepted; it leaves only when every recipient was
//! accepted upstream or refused for good. A worker claims a message with a lease (an
//! owner and an expiry) before delivering it, so that a relay and `mailcert queue run`
//! on the same spool never deliver one message twice; the lease of a process that died
//! is void at once.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::error::{RelayError, Result};
use crate::lease::Owner;

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for its first attempt.
    Queued,
    /// A temporary failure; the next attempt is scheduled.
    Deferred,
    /// Refused for good, or out of time; kept for the operator, never retried.
    Failed,
}

impl State {
    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Deferred => "deferred",
            State::Failed => "failed",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "deferred" => State::Deferred,
            "failed" => State::Failed,
            _ => State::Queued,
        }
    }
}

/// A message as accepted, before it is spooled.
#[derive(Clone)]
pub struct NewMessage {
    /// The web application whose settings deliver it (`None`: the farm's).
    pub webapp: Option<String>,
    /// The envelope sender (empty for a delivery status notification).
    pub mail_from: String,
    /// The envelope recipients.
    pub recipients: Vec<String>,
    /// The message, CRLF line endings, not dot-stuffed.
    pub data: Vec<u8>,
    /// Whether this is a delivery status notification made here (never answered by
    /// another one).
    pub is_dsn: bool,
}

impl std::fmt::Debug for NewMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMessage")
            .field("webapp", &self.webapp)
            .field("mail_from", &self.mail_from)
            .field("recipients", &self.recipients)
            .field("size", &self.data.len())
            .finish_non_exhaustive()
    }
}

/// One spooled message, without its data.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The queue id.
    pub id: String,
    /// Where it stands.
    pub state: State,
    /// The web application whose settings deliver it (`None`: the farm's).
    pub webapp: Option<String>,
    /// The envelope sender.
    pub from: String,
    /// The recipients still to deliver.
    pub recipients: Vec<String>,
    /// Size in bytes.
    pub size: u64,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (Unix seconds).
    pub next_attempt: i64,
    /// The last reply or error from upstream.
    pub last_reply: Option<String>,
    /// When it was accepted (Unix seconds).
    pub queued_at: i64,
    /// Whether it is a delivery status notification made here.
    pub is_dsn: bool,
}

/// A claimed message with its data, ready to deliver.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// What the listing shows.
    pub entry: Entry,
    /// The message.
    pub data: Vec<u8>,
}

/// How long a claim holds when its owner is alive but silent: past this, another
/// worker may take the message (the owner is presumed stuck).
pub(crate) const LEASE: Duration = Duration::from_secs(15 * 60);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('queued', 'deferred', 'failed')),
    webapp TEXT,
    mail_from TEXT NOT NULL,
    recipients TEXT NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    last_reply TEXT,
    queued_at INTEGER NOT NULL,
    is_dsn INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until INTEGER
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (state, next_attempt);
";

/// An open spool.
pub struct Spool {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool").field("path", &self.path).finish()
    }
}

fn io_error(path: &Path, source: std::io::Error) -> RelayError {
    RelayError::Spool {
        path: path.to_path_buf(),
        problem: source.to_string(),
    }
}

/// A new queue id: 16 random hex digits.
fn new_id() -> Result<String> {
    let mut bytes = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| RelayError::Internal("the system's random source failed".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02X}")).collect())
}

impl Spool {
    /// Opens (creating, mode 0600, with its folder 0700) the spool at `path`. Every
    /// commit is synced to disk (`synchronous=FULL`).
    pub fn open(path: &Path) -> Result<Spool> {
        Spool::open_with(path, true)
    }

    /// Opens the spool for delivery workers: their commits (removals, retries) survive
    /// a killed process but are synced lazily (`synchronous=NORMAL` in WAL mode). A power
    /// loss can then undo a removal, which means a message delivered twice, never one
    /// lost; in exchange the window in which a kill can cause a duplicate is a few
    /// microseconds instead of a disk sync.
    pub fn open_for_delivery(path: &Path) -> Result<Spool> {
        Spool::open_with(path, false)
    }

    fn open_with(path: &Path, full_sync: bool) -> Result<Spool> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| io_error(path, e))?;
        }
        if !path.exists() {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error(path, e)),
            }
        }
        let conn = Connection::open(path).map_err(|e| RelayError::Spool {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(
            None,
            "synchronous",
            if full_sync { "FULL" } else { "NORMAL" },
        )?;
        conn.execute_batch(SCHEMA)?;
        Ok(Spool {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The spool's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Commits `messages` in one transaction (one sync for all of them) and returns
    /// their ids, in order.
    pub fn insert(&mut self, messages: &[NewMessage], now: i64) -> Result<Vec<String>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ids = Vec::with_capacity(messages.len());
        for m in messages {
            ids.push(insert_in(&tx, m, now)?);
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Claims up to `limit` messages that are due now for `owner`: not failed, due,
    /// and not held by a live lease. Leases of owners that are no longer running are
    /// void at once.
    pub fn claim(&mut self, owner: &Owner, limit: usize, now: i64) -> Result<Vec<Claimed>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let holders: Vec<String> = {
            let mut stmt = tx.prepare_cached(
                "SELECT DISTINCT lease_owner FROM messages
                 WHERE lease_owner IS NOT NULL AND lease_until >= ?1",
            )?;
            stmt.query_map([now], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        for h in holders {
            if h != owner.as_str() && !Owner::is_alive(&h) {
                tx.execute(
                    "UPDATE messages SET lease_owner = NULL, lease_until = NULL
                     WHERE lease_owner = ?1",
                    [&h],
                )?;
            }
        }
        let ids: Vec<String> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id FROM messages
                 WHERE state != 'failed' AND next_attempt <= ?1
                   AND (lease_owner IS NULL OR lease_until < ?1)
                 ORDER BY next_attempt, queued_at LIMIT ?2",
            )?;
            stmt.query_map(params![now, limit as i64], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            tx.execute(
                "UPDATE messages SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1",
                params![id, owner.as_str(), now + LEASE.as_secs() as i64],
            )?;
            if let Some(c) = Self::load(&tx, &id)? {
                claimed.push(c);
            }
        }
        tx.commit()?;
        Ok(claimed)
    }

    fn load(conn: &Connection, id: &str) -> Result<Option<Claimed>> {
        let row = conn
            .query_row(
                &format!("SELECT {ENTRY_COLUMNS}, data FROM messages WHERE id = ?1"),
                [id],
                |r| Ok((entry_from_row(r)?, r.get::<_, Vec<u8>>(11)?)),
            )
            .optional()?;
        match row {
            None => Ok(None),
            Some((entry, data)) => Ok(Some(Claimed {
                entry: entry?,
                data,
            })),
        }
    }

    /// Every recipient was delivered (or refused for good): the message leaves, and the
    /// notification of any permanent failure is queued in the same transaction, so it
    /// is neither lost nor sent twice.
    pub fn remove(&mut self, id: &str, notification: Option<&NewMessage>, now: i64) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM messages WHERE id = ?1", [id])?;
        if let Some(n) = notification {
            insert_in(&tx, n, now)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A temporary failure: keeps the `pending` recipients, schedules the next attempt
    /// and releases the claim (with the notification of recipients refused for good).
    pub fn defer(
        &mut self,
        id: &str,
        pending: &[String],
        next_attempt: i64,
        reply: &str,
        notification: Option<&NewMessage>,
        now: i64,
    ) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE messages SET state = 'deferred', recipients = ?2, attempts = attempts + 1,
                 next_attempt = ?3, last_reply = ?4, lease_owner = NULL, lease_until = NULL
             WHERE id = ?1",
            params![id, to_json(pending)?, next_attempt, reply],
        )?;
        if let Some(n) = notification {
            insert_in(&tx, n, now)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Refused for good (or out of time): kept as `failed` with the recipients that
    /// failed, never retried, with its notification queued in the same transaction.
    pub fn fail(
        &mut self,
        id: &str,
        failed: &[String],
        reply: &str,
        notification: Option<&NewMessage>,
        now: i64,
    ) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE messages SET state = 'failed', recipients = ?2, attempts = attempts + 1,
                 last_reply = ?3, lease_owner = NULL, lease_until = NULL
             WHERE id = ?1",
            params![id, to_json(failed)?, reply],
        )?;
        if let Some(n) = notification {
            insert_in(&tx, n, now)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Gives a claimed message back untouched (shutting down before its attempt).
    pub fn release(&mut self, id: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE messages SET lease_owner = NULL, lease_until = NULL WHERE id = ?1",
            [id],
        )?;
        Ok(())
    }

    /// Every message, oldest first, without data.
    pub fn list(&mut self) -> Result<Vec<Entry>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM messages ORDER BY queued_at, id"
        ))?;
        let rows = stmt
            .query_map([], entry_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().collect()
    }

    /// One message, with its data.
    pub fn get(&mut self, id: &str) -> Result<Option<Claimed>> {
        Self::load(&self.conn, &id.to_ascii_uppercase())
    }

    /// Makes every deferred message due now; returns how many.
    pub fn flush(&mut self, now: i64) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE messages SET next_attempt = ?1 WHERE state = 'deferred' AND next_attempt > ?1",
            [now],
        )?)
    }

    /// Makes the messages named due now (failed ones are queued again); returns how
    /// many existed. The relay's workers, or the next `queue run`, pick them up.
    pub fn retry(&mut self, ids: &[String], now: i64) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut n = 0;
        for id in ids {
            n += tx.execute(
                "UPDATE messages SET next_attempt = ?2,
                     state = CASE state WHEN 'failed' THEN 'deferred' ELSE state END
                 WHERE id = ?1",
                params![id.to_ascii_uppercase(), now],
            )?;
        }
        tx.commit()?;
        Ok(n)
    }

    /// Deletes the messages named; returns how many existed.
    pub fn delete(&mut self, ids: &[String]) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut n = 0;
        for id in ids {
            n += tx.execute(
                "DELETE FROM messages WHERE id = ?1",
                [id.to_ascii_uppercase()],
            )?;
        }
        tx.commit()?;
        Ok(n)
    }

    /// Deletes every failed message (`failed_only`) or every message.
    pub fn delete_all(&mut self, failed_only: bool) -> Result<usize> {
        Ok(if failed_only {
            self.conn
                .execute("DELETE FROM messages WHERE state = 'failed'", [])?
        } else {
            self.conn.execute("DELETE FROM messages", [])?
        })
    }

    /// How many messages are in each state, and when the oldest not-failed one was
    /// accepted.
    pub fn depth(&mut self) -> Result<Depth> {
        let mut d = Depth::default();
        let mut stmt = self.conn.prepare_cached(
            "SELECT state, COUNT(*), MIN(queued_at) FROM messages GROUP BY state",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (state, count, oldest) = row?;
            let count = u64::try_from(count).unwrap_or(0);
            match State::parse(&state) {
                State::Queued => d.queued = count,
                State::Deferred => d.deferred = count,
                State::Failed => d.failed = count,
            }
            if State::parse(&state) != State::Failed {
                d.oldest_queued_at = Some(d.oldest_queued_at.map_or(oldest, |o| o.min(oldest)));
            }
        }
        Ok(d)
    }
}

/// Messages per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Depth {
    /// Waiting for a first attempt.
    pub queued: u64,
    /// Waiting for a retry.
    pub deferred: u64,
    /// Failed for good.
    pub failed: u64,
    /// When the oldest message not yet failed was accepted.
    pub oldest_queued_at: Option<i64>,
}

fn to_json(list: &[String]) -> Result<String> {
    serde_json::to_string(list).map_err(|e| RelayError::Internal(e.to_string()))
}

/// Inserts one message inside `tx`; returns its new id.
fn insert_in(tx: &Connection, m: &NewMessage, now: i64) -> Result<String> {
    let id = new_id()?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO messages (id, state, webapp, mail_from, recipients, size, data,
             next_attempt, queued_at, is_dsn)
         VALUES (?1, 'queued', ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
    )?;
    stmt.execute(params![
        id,
        m.webapp,
        m.mail_from,
        to_json(&m.recipients)?,
        m.data.len() as i64,
        m.data,
        now,
        m.is_dsn,
    ])?;
    Ok(id)
}

const ENTRY_COLUMNS: &str = "id, state, webapp, mail_from, recipients, size, attempts, \
                             next_attempt, last_reply, queued_at, is_dsn";

fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Entry>> {
    let recipients: String = r.get(4)?;
    let recipients = match serde_json::from_str(&recipients) {
        Ok(v) => v,
        Err(e) => return Ok(Err(RelayError::Internal(format!("spool recipients: {e}")))),
    };
    Ok(Ok(Entry {
        id: r.get(0)?,
        state: State::parse(&r.get::<_, String>(1)?),
        webapp: r.get(2)?,
        from: r.get(3)?,
        recipients,
        size: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
        attempts: u32::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
        next_attempt: r.get(7)?,
        last_reply: r.get(8)?,
        queued_at: r.get(9)?,
        is_dsn: r.get(10)?,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn message(to: &str) -> NewMessage {
        NewMessage {
            webapp: None,
            mail_from: "app@example.org".into(),
            recipients: vec![to.into()],
            data: b"Subject: x\r\n\r\nhi\r\n".to_vec(),
            is_dsn: false,
        }
    }

    #[test]
    fn a_claim_is_exclusive_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.db");
        let mut a = Spool::open(&path).unwrap();
        let mut b = Spool::open(&path).unwrap();
        let ids = a
            .insert(&[message("x@example.org"), message("y@example.org")], 100)
            .unwrap();
        assert_eq!(ids.len(), 2);
        let me = Owner::current();
        let first = a.claim(&me, 1, 100).unwrap();
        assert_eq!(first.len(), 1);
        // Another worker (the same live process here) sees only the unclaimed one.
        let other = Owner::named(&me, "other");
        let second = b.claim(&other, 10, 100).unwrap();
        assert_eq!(second.len(), 1);
        assert_ne!(first[0].entry.id, second[0].entry.id);
        assert!(b.claim(&other, 10, 100).unwrap().is_empty());
        a.defer(
            &first[0].entry.id,
            &["x@example.org".into()],
            200,
            "451 later",
            None,
            100,
        )
        .unwrap();
        assert!(b.claim(&other, 10, 150).unwrap().is_empty(), "not due yet");
        assert_eq!(b.claim(&other, 10, 200).unwrap().len(), 1);
        let mode = std::fs::metadata(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn the_lease_of_a_dead_process_is_void() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.db");
        let mut s = Spool::open(&path).unwrap();
        s.insert(&[message("x@example.org")], 100).unwrap();
        let dead = Owner::parse_for_test("pid:999999999:1:w0");
        assert_eq!(s.claim(&dead, 10, 100).unwrap().len(), 1);
        let me = Owner::current();
        assert_eq!(
            s.claim(&me, 10, 101).unwrap().len(),
            1,
            "dead owner's lease voided"
        );
    }
}
