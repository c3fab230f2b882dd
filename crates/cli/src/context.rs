//! Where the farm lives and opening it.

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use mailcert_store::{Farm, FarmDb};

use crate::{Exit, exit};

/// The system-wide farm folder the Debian package makes (0700, user `mailcert`).
const SYSTEM_FARM_DIR: &str = "/var/lib/mailcert";
/// The system-wide spool folder the Debian package makes.
const SYSTEM_SPOOL_DIR: &str = "/var/spool/mailcert";

/// Whether this process should use the package's system-wide paths: it runs as root
/// (or as the `mailcert` user, whose home is the farm folder) and the package made its
/// folders. Then root manages the farm the services use, not one under /root.
fn system_paths() -> bool {
    let uid = effective_uid();
    let home_is_farm = std::env::var_os("HOME").is_some_and(|h| h == SYSTEM_FARM_DIR);
    (uid == 0 || home_is_farm) && std::path::Path::new(SYSTEM_FARM_DIR).is_dir()
}

/// The effective user id, read from /proc (no unsafe libc call).
fn effective_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(u32::MAX)
}

/// The uid and gid of the package's `mailcert` user, from the password database.
fn service_user() -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        match f.as_slice() {
            ["mailcert", _, uid, gid, ..] => Some((uid.parse().ok()?, gid.parse().ok()?)),
            _ => None,
        }
    })
}

/// Root made these files in the package's system farm folder: give them to the
/// `mailcert` user, whom the services run as (the modes stay 0600). Elsewhere, or when
/// not root, nothing changes.
pub(crate) fn hand_to_service_user(files: &[&std::path::Path]) -> Result<()> {
    if effective_uid() != 0 {
        return Ok(());
    }
    let Some((uid, gid)) = service_user() else {
        return Ok(());
    };
    for f in files {
        if f.starts_with(SYSTEM_FARM_DIR) && f.exists() {
            std::os::unix::fs::chown(f, Some(uid), Some(gid)).map_err(|e| {
                anyhow!("{}: cannot give it to the mailcert user: {e}", f.display())
            })?;
        }
    }
    Ok(())
}

/// The farm database: `--db`, else `$MAILCERT_DB` (a path, or a `postgres://` URL),
/// else (installed from the package, as root) `/var/lib/mailcert/farm.db`, else
/// `$XDG_DATA_HOME/mailcert/farm.db` (`~/.local/share/mailcert/farm.db`). A password
/// inside a URL on the command line is refused: every user can read a process's
/// arguments.
pub(crate) fn db_path(flag: Option<PathBuf>) -> Result<FarmDb> {
    if let Some(p) = flag {
        let db = FarmDb::parse(p.as_os_str())?;
        if let FarmDb::Postgres(t) = &db
            && t.has_password_in_url()
        {
            return Err(Exit {
                code: exit::USAGE,
                message: format!(
                    "--db {db}: a password on the command line is readable by every user of this machine; put it in ~/.pgpass ($PGPASSFILE) or in a file named by $MAILCERT_DB_PASSWORD_FILE"
                ),
            }
            .into());
        }
        return Ok(db);
    }
    if let Some(p) = std::env::var_os("MAILCERT_DB").filter(|v| !v.is_empty()) {
        return Ok(FarmDb::parse(&p)?);
    }
    if system_paths() {
        return Ok(FarmDb::File(PathBuf::from(SYSTEM_FARM_DIR).join("farm.db")));
    }
    let data = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    anyhow!("cannot find the farm: give --db, or set MAILCERT_DB or HOME")
                })?;
            PathBuf::from(home).join(".local/share")
        }
    };
    Ok(FarmDb::File(data.join("mailcert").join("farm.db")))
}

/// This server's spool: `--spool`, else `$MAILCERT_SPOOL`, else (installed from the
/// package, as root) `/var/spool/mailcert/spool.db`, else
/// `$XDG_STATE_HOME/mailcert/spool.db` (`~/.local/state/mailcert/spool.db`).
pub(crate) fn spool_path(flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = flag {
        return Ok(p);
    }
    if let Some(p) = std::env::var_os("MAILCERT_SPOOL").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if system_paths() && std::path::Path::new(SYSTEM_SPOOL_DIR).is_dir() {
        return Ok(PathBuf::from(SYSTEM_SPOOL_DIR).join("spool.db"));
    }
    let state = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    anyhow!("cannot find the spool: give --spool, or set MAILCERT_SPOOL or HOME")
                })?;
            PathBuf::from(home).join(".local/state")
        }
    };
    Ok(state.join("mailcert").join("spool.db"))
}

/// The clock for long-running work: `MAILCERT_NOW` when set (checked at start with
/// [`now`]), else the system clock.
pub(crate) fn clock() -> i64 {
    now().unwrap_or_else(|_| mailcert_relay::system_clock())
}

/// The master key file: `$MAILCERT_MASTER_KEY_FILE`, else `<db path>.key` beside a
/// SQLite farm; for a PostgreSQL farm (whose database is elsewhere) the server's own
/// `/var/lib/mailcert/farm.key` (package, as root), else
/// `$XDG_CONFIG_HOME/mailcert/farm.key` (`~/.config/mailcert/farm.key`).
pub(crate) fn key_path(db: &FarmDb) -> PathBuf {
    if let Some(p) = std::env::var_os("MAILCERT_MASTER_KEY_FILE").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = db.default_key_path() {
        return p;
    }
    if system_paths() {
        return PathBuf::from(SYSTEM_FARM_DIR).join("farm.key");
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })
        .unwrap_or_else(|| PathBuf::from("."));
    config.join("mailcert").join("farm.key")
}

/// This server's name in the farm: `--server`, else `$MAILCERT_SERVER`, else the host
/// name.
pub(crate) fn server_name(flag: Option<&str>) -> String {
    match flag {
        Some(name) => name.to_string(),
        None => mailcert_store::default_server_name(),
    }
}

/// Opens the farm named on the command line, noting that this server used it.
pub(crate) fn open(g: &crate::commands::Globals) -> Result<Farm> {
    let db = db_path(g.db.clone())?;
    let key = key_path(&db);
    let mut farm = Farm::open(db, &key)?;
    // Only this server itself checks in: --server NAME acts as NAME without touching
    // NAME's "last seen".
    farm.check_in(&mailcert_store::default_server_name(), now()?)?;
    farm.set_server(server_name(g.server.as_deref()));
    Ok(farm)
}

/// Now, in Unix seconds. `MAILCERT_NOW` (RFC 3339) overrides the clock, so that an
/// operator can ask "what will be eligible on that date?" and tests can age certificates.
/// A value that is not an RFC 3339 time is a usage error, never silently "now".
pub(crate) fn now() -> Result<i64> {
    match std::env::var_os("MAILCERT_NOW").filter(|v| !v.is_empty()) {
        None => Ok(time::OffsetDateTime::now_utc().unix_timestamp()),
        Some(v) => {
            let text = v.to_string_lossy();
            time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
                .map(|t| t.unix_timestamp())
                .map_err(|_| {
                    Exit {
                        code: exit::USAGE,
                        message: format!(
                            "MAILCERT_NOW='{text}' is not an RFC 3339 time such as 2027-01-01T00:00:00Z; unset it to use the clock"
                        ),
                    }
                    .into()
                })
        }
    }
}
