//! Where a farm lives: a SQLite file, or a PostgreSQL database named by a
//! `postgres://` / `postgresql://` URL. Parsing the URL here, once, keeps its password
//! out of every message: a [`FarmDb`] shows itself without it.

use std::fmt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Where a farm's database is.
#[derive(Clone)]
pub enum FarmDb {
    /// A SQLite file (the default backend).
    File(PathBuf),
    /// A PostgreSQL database shared by the farm's servers.
    Postgres(PgTarget),
}

impl fmt::Debug for FarmDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FarmDb({self})")
    }
}

impl fmt::Display for FarmDb {
    /// The path, or the URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FarmDb::File(p) => write!(f, "{}", p.display()),
            FarmDb::Postgres(t) => f.write_str(&t.shown),
        }
    }
}

impl From<&Path> for FarmDb {
    fn from(p: &Path) -> Self {
        FarmDb::File(p.to_path_buf())
    }
}
impl From<PathBuf> for FarmDb {
    fn from(p: PathBuf) -> Self {
        FarmDb::File(p)
    }
}
impl From<&PathBuf> for FarmDb {
    fn from(p: &PathBuf) -> Self {
        FarmDb::File(p.clone())
    }
}
impl From<&FarmDb> for FarmDb {
    fn from(d: &FarmDb) -> Self {
        d.clone()
    }
}

/// How the connection to PostgreSQL is protected (libpq's `sslmode` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS (only for a Unix socket, or when asked for by name).
    Disable,
    /// TLS, with the server's certificate chain verified but not its name.
    Require,
    /// Like `require` (libpq's verify-ca).
    VerifyCa,
    /// TLS, with the chain and the host name verified (the default over TCP).
    VerifyFull,
}

/// Where the PostgreSQL server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgHost {
    /// A host name or IP address, over TCP.
    Tcp(String),
    /// The folder of a Unix socket.
    Socket(PathBuf),
}

/// A PostgreSQL farm database, parsed from its URL.
#[derive(Clone)]
pub struct PgTarget {
    /// The URL as shown: never with a password.
    pub(crate) shown: String,
    /// The login role.
    pub user: String,
    /// Where the server is.
    pub host: PgHost,
    /// Its port.
    pub port: u16,
    /// The database.
    pub dbname: String,
    /// TLS.
    pub sslmode: SslMode,
    /// The CA certificates (PEM) that verify the server, else the platform's.
    pub sslrootcert: Option<PathBuf>,
    /// A password written inside the URL (refused on the command line; the CLI checks).
    pub(crate) url_password: Option<Zeroizing<String>>,
}

impl PgTarget {
    /// Whether the URL carried a password.
    pub fn has_password_in_url(&self) -> bool {
        self.url_password.is_some()
    }
}

fn bad(problem: impl Into<String>) -> Error {
    Error::BadDatabaseUrl {
        problem: problem.into(),
    }
}

/// Percent-decoding as libpq does it (a `+` stays a `+`).
fn decode(s: &str) -> Result<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| bad("a part of the URL is not valid UTF-8 once percent-decoded"))
}

impl FarmDb {
    /// Reads `--db` / `$MAILCERT_DB`: a `postgres://` or `postgresql://` URL selects
    /// PostgreSQL, anything else is a SQLite file path.
    pub fn parse(text: &std::ffi::OsStr) -> Result<FarmDb> {
        let Some(s) = text.to_str() else {
            return Ok(FarmDb::File(PathBuf::from(text)));
        };
        if !(s.starts_with("postgres://") || s.starts_with("postgresql://")) {
            return Ok(FarmDb::File(PathBuf::from(text)));
        }
        let url = url::Url::parse(s).map_err(|e| bad(format!("not a valid URL: {e}")))?;
        let url_password = url
            .password()
            .map(|p| decode(p).map(Zeroizing::new))
            .transpose()?;
        let mut user = decode(url.username())?;
        let mut host = match url.host_str() {
            Some(h) if !h.is_empty() => {
                let h = h.trim_start_matches('[').trim_end_matches(']');
                let h = decode(h)?;
                if h.starts_with('/') {
                    PgHost::Socket(PathBuf::from(h))
                } else {
                    PgHost::Tcp(h)
                }
            }
            _ => PgHost::Socket(PathBuf::from("/var/run/postgresql")),
        };
        let mut port = url.port().unwrap_or(5432);
        let mut dbname = decode(url.path().trim_start_matches('/'))?;
        let mut sslmode = None;
        let mut sslrootcert = None;
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "sslmode" => {
                    sslmode = Some(match v.as_ref() {
                        "disable" => SslMode::Disable,
                        "require" => SslMode::Require,
                        "verify-ca" => SslMode::VerifyCa,
                        "verify-full" => SslMode::VerifyFull,
                        other => {
                            return Err(bad(format!(
                                "sslmode={other} is not supported: use disable, require, verify-ca or verify-full (TLS is never optional)"
                            )));
                        }
                    })
                }
                "sslrootcert" => sslrootcert = Some(PathBuf::from(v.as_ref())),
                "host" => {
                    host = if v.starts_with('/') {
                        PgHost::Socket(PathBuf::from(v.as_ref()))
                    } else {
                        PgHost::Tcp(v.into_owned())
                    }
                }
                "port" => {
                    port = v
                        .parse()
                        .map_err(|_| bad(format!("port={v} is not a port number")))?
                }
                "user" => user = v.into_owned(),
                "dbname" => dbname = v.into_owned(),
                "password" => {
                    return Err(bad(
                        "a password does not belong in the URL: put it in ~/.pgpass ($PGPASSFILE) or in the file $MAILCERT_DB_PASSWORD_FILE names",
                    ));
                }
                other => {
                    return Err(bad(format!(
                        "the URL parameter '{other}' is not understood (known: sslmode, sslrootcert, host, port, user, dbname)"
                    )));
                }
            }
        }
        if user.is_empty() {
            user = std::env::var("PGUSER")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(super::os_user);
        }
        if dbname.is_empty() {
            dbname = user.clone();
        }
        let sslmode = sslmode.unwrap_or(match host {
            PgHost::Socket(_) => SslMode::Disable,
            PgHost::Tcp(_) => SslMode::VerifyFull,
        });
        let shown = {
            let mut u = url.clone();
            let _ = u.set_password(None);
            u.to_string()
        };
        Ok(FarmDb::Postgres(PgTarget {
            shown,
            user,
            host,
            port,
            dbname,
            sslmode,
            sslrootcert,
            url_password,
        }))
    }

    /// The master key file used when none is configured: `<db path>.key` beside a SQLite
    /// file; `None` for PostgreSQL, whose key is a per-server setting.
    pub fn default_key_path(&self) -> Option<PathBuf> {
        match self {
            FarmDb::File(p) => Some(super::Farm::default_key_path(p)),
            FarmDb::Postgres(_) => None,
        }
    }

    /// Whether this is a PostgreSQL farm.
    pub fn is_postgres(&self) -> bool {
        matches!(self, FarmDb::Postgres(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(s: &str) -> PgTarget {
        match FarmDb::parse(std::ffi::OsStr::new(s)) {
            Ok(FarmDb::Postgres(t)) => t,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn urls_and_paths() {
        let t = pg("postgres://farm@db.example:6543/mailcert?sslmode=require");
        assert_eq!(t.user, "farm");
        assert_eq!(t.host, PgHost::Tcp("db.example".into()));
        assert_eq!(t.port, 6543);
        assert_eq!(t.dbname, "mailcert");
        assert_eq!(t.sslmode, SslMode::Require);
        let t = pg("postgresql://farm@127.0.0.1/m");
        assert_eq!(t.sslmode, SslMode::VerifyFull);
        let t = pg("postgres:///m?host=/run/postgresql&user=farm");
        assert_eq!(t.user, "farm");
        assert_eq!(t.host, PgHost::Socket("/run/postgresql".into()));
        assert_eq!(t.sslmode, SslMode::Disable);
        assert!(matches!(
            FarmDb::parse(std::ffi::OsStr::new("/var/lib/mailcert/farm.db")),
            Ok(FarmDb::File(_))
        ));
    }

    #[test]
    fn a_password_is_never_shown() {
        let d = FarmDb::parse(std::ffi::OsStr::new("postgres://farm:s3cret-pw@h/m"))
            .unwrap_or_else(|e| panic!("{e}"));
        let FarmDb::Postgres(t) = &d else {
            panic!("not postgres")
        };
        assert!(t.has_password_in_url());
        assert!(!d.to_string().contains("s3cret"));
        assert!(!format!("{d:?}").contains("s3cret"));
        let e = FarmDb::parse(std::ffi::OsStr::new("postgres://farm@h/m?password=s3cret"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("pgpass") && !e.contains("s3cret"), "{e}");
        assert!(FarmDb::parse(std::ffi::OsStr::new("postgres://h/m?sslmode=prefer")).is_err());
    }
}
