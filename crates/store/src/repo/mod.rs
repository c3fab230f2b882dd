//! The farm database, behind repository types so that no SQL leaks out of this module:
//! one SQLite file (the default), or a PostgreSQL database that several servers share.
//! The repository's statements are written once (see [`sql`]); each backend runs them in
//! its own transactions.

mod bindings;
mod certs;
pub use certs::Tx;
mod copy;
pub use copy::CopyReport;
mod location;
pub use location::{FarmDb, PgHost, PgTarget, SslMode};
mod postgres;
pub(crate) use postgres::describe as describe_pg;
mod requests;
mod schema;
mod servers;
pub use servers::ServerRow;
pub(crate) mod sql;

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
    backend: Backend,
    /// The farm's master key check, read when the farm was opened.
    key_check: Option<Vec<u8>>,
    db: FarmDb,
    key_path: PathBuf,
    master: OnceCell<MasterKey>,
    actor: Option<String>,
    server: Option<String>,
}

impl std::fmt::Debug for Farm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Farm")
            .field("db", &self.db)
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

/// How often a server's "last seen" is written at most (a read-only command should not
/// write every time).
const SEEN_EVERY: i64 = 60;

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

    /// Creates the farm: the SQLite file (mode 0600) or the PostgreSQL schema, and the
    /// master key (mode 0600), with `server` registered as the server that made it at
    /// `now` and the `init` audit line, in one transaction. On an existing farm it
    /// changes nothing and says so.
    pub fn init(
        db: impl Into<FarmDb>,
        key_path: &Path,
        server: &str,
        now: i64,
    ) -> Result<InitOutcome> {
        match db.into() {
            FarmDb::File(p) => Farm::init_file(&p, key_path, server, now),
            FarmDb::Postgres(t) => Farm::init_postgres(&t, key_path, server, now),
        }
    }

    /// Joins this server to an existing farm: checks that `key_path` is the farm's
    /// master key (a wrong key writes nothing) and registers the server as `server`.
    pub fn join(db: impl Into<FarmDb>, key_path: &Path, server: &str, now: i64) -> Result<()> {
        let mut farm = Farm::open(db, key_path)?;
        if !key_path.exists() {
            return Err(Error::MasterKey {
                path: key_path.to_path_buf(),
                problem: "to join a farm, copy the farm's master key file here first (from the server that ran `init`)".into(),
            });
        }
        farm.master_key()?;
        farm.write(|tx| {
            tx.register_server(server, now)?;
            tx.audit(now, "join", server, "")
        })
    }

    fn init_postgres(t: &PgTarget, key_path: &Path, server: &str, now: i64) -> Result<InitOutcome> {
        let mut conn = postgres::PgConn::connect(t)?;
        conn.migrate(&t.shown)?;
        if conn.meta("master_key_check")?.is_some() {
            let farm = Farm::from_postgres(conn, t, key_path)?;
            if !key_path.exists() {
                return Err(Error::MasterKey {
                    path: key_path.to_path_buf(),
                    problem: "the farm exists in this database but this server has no master key file; copy it from a server of the farm and run `init --join`".into(),
                });
            }
            farm.master_key()?;
            return Ok(InitOutcome::AlreadyExists);
        }
        if key_path.exists() {
            return Err(Error::MasterKey {
                path: key_path.to_path_buf(),
                problem: "a master key file exists but the database holds no farm; it may belong to another farm: move it away or point MAILCERT_MASTER_KEY_FILE elsewhere".into(),
            });
        }
        let master = MasterKey::create(key_path)?;
        let result = (|| {
            let check = master.seal(b"mailcert", KEY_CHECK_AAD)?;
            conn.transact(true, |db| {
                if certs::Tx::new(db, None, None).found_farm(check, server, now, &t.shown)? {
                    Ok(())
                } else {
                    Err(Error::MasterKey {
                        path: key_path.to_path_buf(),
                        problem: "another server created the farm at the same moment; run `init --join` with its master key".into(),
                    })
                }
            })
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(key_path);
            return Err(e);
        }
        Ok(InitOutcome::Created)
    }

    fn init_file(db_path: &Path, key_path: &Path, server: &str, now: i64) -> Result<InitOutcome> {
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
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let founded = {
                let mut exec = sql::SqliteExec(&tx);
                certs::Tx::new(&mut exec, None, None).found_farm(
                    check,
                    server,
                    now,
                    &db_path.display().to_string(),
                )?
            };
            if !founded {
                return Err(Error::Internal(format!(
                    "{}: the new farm file already held a master key check",
                    db_path.display()
                )));
            }
            tx.commit()?;
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
    pub fn open(db: impl Into<FarmDb>, key_path: &Path) -> Result<Farm> {
        match db.into() {
            FarmDb::File(p) => Farm::open_file(&p, key_path),
            FarmDb::Postgres(t) => {
                let mut conn = postgres::PgConn::connect(&t)?;
                conn.migrate(&t.shown)?;
                Farm::from_postgres(conn, &t, key_path)
            }
        }
    }

    /// Makes a new SQLite file, or takes an empty PostgreSQL database, with the farm's
    /// schema but no farm in it yet: the destination of [`copy_into`](Farm::copy_into),
    /// which brings the farm's own master key check. An existing file and a database
    /// that holds any table are refused before anything is written to them.
    fn create_empty(db: impl Into<FarmDb>, key_path: &Path) -> Result<Farm> {
        let db = db.into();
        let (backend, key_check) = match &db {
            FarmDb::File(path) => {
                if path.exists() {
                    return Err(Error::Rejected {
                        rule: "empty-destination",
                        message: format!(
                            "{} already exists; farm copy writes only into a new file",
                            path.display()
                        ),
                    });
                }
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(io_err(path))?;
                let made = true;
                let opened = (|| {
                    let mut conn = Connection::open(path)?;
                    configure(&conn)?;
                    migrate(&mut conn, path)?;
                    let check = read_key_check(&conn)?;
                    Ok::<_, Error>((conn, check))
                })();
                match opened {
                    Ok((conn, check)) => (Backend::Sqlite(conn), check),
                    Err(e) => {
                        if made {
                            let _ = std::fs::remove_file(path);
                        }
                        return Err(e);
                    }
                }
            }
            FarmDb::Postgres(t) => {
                let mut conn = postgres::PgConn::connect(t)?;
                // A new database, or one that holds only mailcert's schema with no farm in
                // it (an earlier copy that failed or was killed): `copy_to` then checks that
                // every table is empty. Anything else is another application's.
                if !conn.is_empty_database()? && !conn.holds_only_a_mailcert_schema()? {
                    return Err(Error::Rejected {
                        rule: "empty-destination",
                        message: format!(
                            "{db} already holds tables; farm copy writes only into a new, empty database"
                        ),
                    });
                }
                conn.migrate(&t.shown)?;
                let check = conn.meta("master_key_check")?;
                (Backend::Postgres(Box::new(conn)), check)
            }
        };
        if key_check.is_some() {
            return Err(Error::Rejected {
                rule: "empty-destination",
                message: format!(
                    "{db} already holds a farm; farm copy writes only into a new, empty database"
                ),
            });
        }
        Ok(Farm {
            backend,
            key_check,
            db,
            key_path: key_path.to_path_buf(),
            master: OnceCell::new(),
            actor: None,
            server: None,
        })
    }

    fn from_postgres(mut conn: postgres::PgConn, t: &PgTarget, key_path: &Path) -> Result<Farm> {
        let key_check = conn.meta("master_key_check")?;
        if key_check.is_none() {
            return Err(Error::NoFarm {
                path: PathBuf::from(&t.shown),
            });
        }
        Ok(Farm {
            backend: Backend::Postgres(Box::new(conn)),
            key_check,
            db: FarmDb::Postgres(t.clone()),
            key_path: key_path.to_path_buf(),
            master: OnceCell::new(),
            actor: None,
            server: Some(default_server_name()),
        })
    }

    fn open_file(db_path: &Path, key_path: &Path) -> Result<Farm> {
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
        let key_check = read_key_check(&conn)?;
        Ok(Farm {
            backend: Backend::Sqlite(conn),
            key_check,
            db: FarmDb::File(db_path.to_path_buf()),
            key_path: key_path.to_path_buf(),
            master: OnceCell::new(),
            actor: None,
            server: Some(default_server_name()),
        })
    }

    /// Records audit lines as `actor` instead of the operating-system user (the web page
    /// names the signed-in administrator and the account it runs as).
    pub fn set_actor(&mut self, actor: impl Into<String>) {
        self.actor = Some(actor.into());
    }

    /// Names the server this handle runs on: its own settings (made with
    /// `smtp set --server`) then apply instead of the level's settings for every server.
    pub fn set_server(&mut self, name: impl Into<String>) {
        self.server = Some(name.into());
    }

    /// Reads the settings every server uses, without any server's own settings (the
    /// web page edits those).
    pub fn without_server_settings(&mut self) {
        self.server = None;
    }

    /// Where the farm's database is.
    pub fn location(&self) -> &FarmDb {
        &self.db
    }

    /// Records that server `name` used the farm now, if it joined and was last seen over
    /// a minute ago (so that most commands only read). A farm made before servers were
    /// recorded (schema 4 and older) has none: the first server that uses it is taken in
    /// as its server, with a `join` audit line, so that its own settings
    /// (`smtp set --server`) work without a `init --join` first.
    pub fn check_in(&mut self, name: &str, now: i64) -> Result<()> {
        let seen = self.read(|tx| tx.server(name))?;
        match seen {
            Some(s) if now.saturating_sub(s.last_seen) >= SEEN_EVERY => {
                self.write(|tx| tx.register_server(name, now))?;
            }
            Some(_) => {}
            None => {
                if self.read(|tx| tx.has_servers())? {
                    return Ok(());
                }
                self.write(|tx| {
                    // Another process may have taken the farm in meanwhile.
                    if !tx.has_servers()? {
                        tx.register_server(name, now)?;
                        tx.audit(now, "join", name, "farm made before servers were recorded")?;
                    }
                    Ok::<_, Error>(())
                })?;
            }
        }
        Ok(())
    }

    /// The master key, loaded and checked against this farm on first use.
    pub fn master_key(&self) -> Result<&MasterKey> {
        if let Some(k) = self.master.get() {
            return Ok(k);
        }
        let key = MasterKey::load(&self.key_path)?;
        // A farm without its key check is damaged (exit 1), not "not found".
        let check = self.key_check.as_deref().ok_or_else(|| Error::MasterKey {
            path: self.key_path.clone(),
            problem: "the farm database has no master key check (it is damaged)".into(),
        })?;
        key.open(check, KEY_CHECK_AAD, "the master key check")
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
        self.transact(Mode::Write, |tx, _| f(tx))
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
        self.transact(Mode::Write, f)
    }

    /// Runs `f` over a consistent read snapshot.
    pub fn read<T, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&certs::Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.transact(Mode::Read, |tx, _| f(tx))
    }

    fn transact<T, E: From<Error>>(
        &mut self,
        mode: Mode,
        f: impl FnOnce(&certs::Tx<'_>, Option<&MasterKey>) -> Result<T, E>,
    ) -> Result<T, E> {
        let key = self.master.get();
        let actor = self.actor.as_deref();
        let server = self.server.as_deref();
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                let behavior = match mode {
                    Mode::Write => TransactionBehavior::Immediate,
                    Mode::Read => TransactionBehavior::Deferred,
                };
                let tx = conn
                    .transaction_with_behavior(behavior)
                    .map_err(|e| E::from(e.into()))?;
                let value = {
                    let mut exec = sql::SqliteExec(&tx);
                    f(&certs::Tx::new(&mut exec, actor, server), key)?
                };
                match mode {
                    Mode::Write => tx.commit(),
                    Mode::Read => tx.finish(),
                }
                .map_err(|e| E::from(e.into()))?;
                Ok(value)
            }
            Backend::Postgres(pg) => pg.transact(mode == Mode::Write, |db| {
                f(&certs::Tx::new(db, actor, server), key)
            }),
        }
    }
}

/// Whether a transaction writes (and so takes the farm's write lock at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Read,
    Write,
}

/// The database a farm lives in.
enum Backend {
    /// A SQLite file.
    Sqlite(Connection),
    /// A PostgreSQL database.
    Postgres(Box<postgres::PgConn>),
}

/// The name a server has in the farm unless told otherwise: `$MAILCERT_SERVER`, else the
/// host name.
pub fn default_server_name() -> String {
    std::env::var("MAILCERT_SERVER")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "localhost".into())
}

fn read_key_check(conn: &Connection) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'master_key_check'",
            [],
            |r| r.get(0),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            other => Err(other),
        })?)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A farm made by a mailcert of schema 4 (before servers and settings per server)
    /// opens with its rows intact after migrations 5 and 6, and the rebuilt settings
    /// table keeps its rules: one row per level and server, the cascade from its web
    /// application, and the indexes.
    #[test]
    fn a_schema_4_farm_upgrades_with_its_settings_intact() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("farm.db");
        {
            let mut conn = Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
            configure(&conn).unwrap_or_else(|e| panic!("{e}"));
            let tx = conn.transaction().unwrap_or_else(|e| panic!("{e}"));
            for (i, sql) in schema::MIGRATIONS.iter().take(4).enumerate() {
                tx.execute_batch(sql).unwrap_or_else(|e| panic!("{e}"));
                tx.pragma_update(None, "user_version", (i + 1) as i64)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            tx.execute_batch(
                "INSERT INTO meta (key, value) VALUES ('master_key_check', x'00');
                 INSERT INTO web_applications (id, url, name, created_at)
                     VALUES (7, 'https://intranet.test', 'Intranet', 1);
                 INSERT INTO smtp_settings (web_application_id, smtp_server, port, encryption,
                     charset, smtp_user, smtp_password, certificate_sha1, updated_at,
                     tls_sender_name)
                 VALUES (NULL, 'relay.test', 25, 'starttls', 'utf-8', 'app', x'0102',
                     'AB', 2, 'mail.test'),
                        (7, 'relay2.test', 587, 'tls', 'utf-8', NULL, NULL, NULL, 3, NULL);",
            )
            .unwrap_or_else(|e| panic!("{e}"));
            tx.commit().unwrap_or_else(|e| panic!("{e}"));
        }
        let key = dir.path().join("farm.db.key");
        let mut farm = Farm::open(&path, &key).unwrap_or_else(|e| panic!("{e}"));
        // The farm had no servers: the first one that checks in is taken in, once.
        farm.check_in("web1", 100).unwrap_or_else(|e| panic!("{e}"));
        farm.check_in("web2", 101).unwrap_or_else(|e| panic!("{e}"));
        let (servers, audit) = farm
            .read(|tx| Ok::<_, Error>((tx.servers()?, tx.audit_since(0)?)))
            .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["web1"]);
        assert_eq!(audit.len(), 1);
        assert_eq!(
            (audit[0].action.as_str(), audit[0].object.as_str()),
            ("join", "web1")
        );
        farm.without_server_settings();
        let (every, app) = farm
            .read(|tx| Ok::<_, Error>((tx.settings(Scope::Farm)?, tx.settings(Scope::WebApp(7))?)))
            .unwrap_or_else(|e| panic!("{e}"));
        let every = every.unwrap_or_else(|| panic!("the farm's settings were lost"));
        assert_eq!(every.smtp_server, "relay.test");
        assert_eq!(every.smtp_password_sealed.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(every.certificate_sha1.as_deref(), Some("AB"));
        assert_eq!(every.tls_sender_name.as_deref(), Some("mail.test"));
        assert_eq!(every.server, None);
        let app = app.unwrap_or_else(|| panic!("the application's settings were lost"));
        assert_eq!((app.port, app.encryption), (587, crate::Encryption::Tls));
        // One row per level and server: a second every-server row is refused, a
        // server's own row is not.
        let conn = Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let dup = conn.execute(
            "INSERT INTO smtp_settings (web_application_id, smtp_server, port, encryption,
                 charset, updated_at) VALUES (NULL, 'x.test', 25, 'none', 'utf-8', 4)",
            [],
        );
        assert!(dup.is_err(), "a second every-server farm row was accepted");
        conn.execute(
            "INSERT INTO smtp_settings (web_application_id, smtp_server, port, encryption,
                 charset, updated_at, server) VALUES (7, 'own.test', 25, 'none', 'utf-8', 4, 'mail2')",
            [],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        // The cascade from the web application survived the rebuild.
        conn.execute_batch("PRAGMA foreign_keys = ON; DELETE FROM web_applications WHERE id = 7")
            .unwrap_or_else(|e| panic!("{e}"));
        let left: i64 = conn
            .query_row(
                "SELECT count(*) FROM smtp_settings WHERE web_application_id = 7",
                [],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(left, 0);
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'smtp_settings' ORDER BY name")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            indexes,
            [
                "smtp_settings_certificate",
                "smtp_settings_scope",
                "smtp_settings_webapp"
            ]
        );
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(version, schema::MIGRATIONS.len() as i64);
    }
}
