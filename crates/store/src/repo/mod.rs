//! The farm database: one SQLite file holding every store, behind repository types so
//! that no SQL leaks out of this module (and another backend can be added later).

mod bindings;
mod certs;
pub use certs::Tx;
mod requests;
mod schema;

use std::cell::OnceCell;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::{Error, Result};
use crate::secret::MasterKey;

pub use bindings::{BindingRef, Scope, SettingsRow, WebAppRow};
pub use certs::{AuditEntry, CertFilter, CertRecord, NewCert, os_user};
pub(crate) use requests::NewRequest;
pub use requests::RequestRecord;

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// AAD of the value that proves a master key belongs to this farm.
const KEY_CHECK_AAD: &[u8] = b"mailcert:master-key-check";

/// An open farm database, with its master key loaded on first need.
pub struct Farm {
    conn: Connection,
    db_path: PathBuf,
    key_path: PathBuf,
    master: OnceCell<MasterKey>,
    actor: Option<String>,
}

impl std::fmt::Debug for Farm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Farm")
            .field("db_path", &self.db_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

/// What [`Farm::init`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitOutcome {
    /// A new database and master key were created.
    Created,
    /// The farm already existed; nothing was changed.
    AlreadyExists,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

impl Farm {
    /// The master key file used when none is configured: `<db path>.key`.
    pub fn default_key_path(db_path: &Path) -> PathBuf {
        let mut s = db_path.as_os_str().to_owned();
        s.push(".key");
        PathBuf::from(s)
    }

    /// Creates the database (mode 0600, schema applied) and the master key (mode 0600).
    /// On an existing farm it changes nothing and says so.
    pub fn init(db_path: &Path, key_path: &Path) -> Result<InitOutcome> {
        if db_path.exists() {
            // Open to check it is ours and up to date, but never touch the key.
            let farm = Farm::open(db_path, key_path)?;
            if !key_path.exists() {
                return Err(Error::MasterKey {
                    path: key_path.to_path_buf(),
                    problem: "the farm exists but its master key file is missing; restore it from backup (a new key could not open the existing secrets)".into(),
                });
            }
            farm.master_key()?;
            return Ok(InitOutcome::AlreadyExists);
        }
        if key_path.exists() {
            return Err(Error::MasterKey {
                path: key_path.to_path_buf(),
                problem: "a master key file exists but no database beside it; move it away or point MAILCERT_MASTER_KEY_FILE elsewhere".into(),
            });
        }
        if let Some(dir) = db_path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io_err(dir))?;
        }
        // Create the file with 0600 before SQLite opens it, so it is never world-readable;
        // SQLite gives the -wal and -shm files the same mode.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(db_path)
            .map_err(io_err(db_path))?;
        let result = (|| {
            let master = MasterKey::create(key_path)?;
            let mut conn = Connection::open(db_path)?;
            configure(&conn)?;
            migrate(&mut conn, db_path)?;
            let check = master.seal(b"mailcert", KEY_CHECK_AAD)?;
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('master_key_check', ?1)",
                [check],
            )?;
            Ok(())
        })();
        if let Err(e) = result {
            // Leave nothing half-made behind.
            let _ = std::fs::remove_file(db_path);
            let _ = std::fs::remove_file(key_path);
            return Err(e);
        }
        Ok(InitOutcome::Created)
    }

    /// Opens an existing farm, bringing its schema up to date.
    pub fn open(db_path: &Path, key_path: &Path) -> Result<Farm> {
        if !db_path.exists() {
            return Err(Error::NoFarm {
                path: db_path.to_path_buf(),
            });
        }
        let mut conn = Connection::open_with_flags(
            db_path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        migrate(&mut conn, db_path)?;
        Ok(Farm {
            conn,
            db_path: db_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            master: OnceCell::new(),
            actor: None,
        })
    }

    /// Records audit lines as `actor` instead of the operating-system user (the web page
    /// names the signed-in administrator and the account it runs as).
    pub fn set_actor(&mut self, actor: impl Into<String>) {
        self.actor = Some(actor.into());
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// The master key, loaded and checked against this farm on first use.
    pub fn master_key(&self) -> Result<&MasterKey> {
        if let Some(k) = self.master.get() {
            return Ok(k);
        }
        let key = MasterKey::load(&self.key_path)?;
        // A farm without its key check is damaged (exit 1), not "not found".
        let check: Vec<u8> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'master_key_check'",
                [],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })?
            .ok_or_else(|| Error::MasterKey {
                path: self.key_path.clone(),
                problem: "the farm database has no master key check (it is damaged)".into(),
            })?;
        key.open(&check, KEY_CHECK_AAD, "the master key check")
            .map_err(|_| Error::MasterKey {
                path: self.key_path.clone(),
                problem: "this is not the master key of this farm (it does not open the farm's key check)".into(),
            })?;
        Ok(self.master.get_or_init(|| key))
    }

    /// Runs `f` in one write transaction (taken at once, so that concurrent writers
    /// queue instead of failing); it commits only if `f` succeeds.
    pub fn write<T, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&certs::Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| E::from(e.into()))?;
        let value = f(&certs::Tx::new(&tx, self.actor.as_deref()))?;
        tx.commit().map_err(|e| E::from(e.into()))?;
        Ok(value)
    }

    /// Like [`write`](Farm::write), with the master key at hand inside the transaction
    /// (loaded and checked first when `need_key`), so that a secret can be sealed with
    /// associated data that depends on what the transaction reads.
    pub fn write_with_key<T, E: From<Error>>(
        &mut self,
        need_key: bool,
        f: impl FnOnce(&certs::Tx<'_>, Option<&MasterKey>) -> Result<T, E>,
    ) -> Result<T, E> {
        if need_key {
            self.master_key().map_err(E::from)?;
        }
        let key = self.master.get();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| E::from(e.into()))?;
        let value = f(&certs::Tx::new(&tx, self.actor.as_deref()), key)?;
        tx.commit().map_err(|e| E::from(e.into()))?;
        Ok(value)
    }

    /// Runs `f` over a consistent read snapshot.
    pub fn read<T, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&certs::Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| E::from(e.into()))?;
        let value = f(&certs::Tx::new(&tx, self.actor.as_deref()))?;
        tx.finish().map_err(|e| E::from(e.into()))?;
        Ok(value)
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let known = schema::MIGRATIONS.len() as i64;
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > known {
        return Err(Error::SchemaTooNew {
            path: path.to_path_buf(),
            found: current,
            known,
        });
    }
    if current == known {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    // Another process may have migrated while we waited for the lock.
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in schema::MIGRATIONS
        .iter()
        .enumerate()
        .skip(current.max(0) as usize)
    {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}
