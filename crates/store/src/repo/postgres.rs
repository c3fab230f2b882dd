//! PostgreSQL's side of the farm database: connecting (TLS with rustls on ring, or a Unix
//! socket; the password from a file, never from the command line), the schema's
//! migrations, and transactions. Every write transaction first takes one advisory lock,
//! so writers queue exactly as SQLite's `BEGIN IMMEDIATE` makes them queue on one
//! file: no change interleaves with another, and none can fail a serialization check.

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, IsolationLevel};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use zeroize::Zeroizing;

use super::location::{PgHost, PgTarget, SslMode};
use super::sql::{Dialect, Exec, Row, Value};
use crate::error::{Error, Result};

/// The advisory lock every write transaction of a farm takes first ("mailcert" in hex).
const WRITE_LOCK: i64 = 0x6d61_696c_6365_7274;
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// A connection idle longer than this is checked before it is used again.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(5);

/// A connection to a PostgreSQL farm database.
pub(crate) struct PgConn {
    client: Client,
    /// Where it goes, to connect again when the server closed it (a restart, a
    /// fail-over): long-lived holders such as the relay's workers then recover.
    target: PgTarget,
    /// When the connection last worked.
    last_used: Instant,
    /// The statements prepared on this connection.
    statements: StatementCache,
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let text = [
            Type::TEXT,
            Type::VARCHAR,
            Type::BPCHAR,
            Type::NAME,
            Type::UNKNOWN,
        ];
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT8 => i.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                _ => Err(format!("an integer where the statement wants {ty}").into()),
            },
            Value::Text(s) if text.contains(ty) => s.as_str().to_sql(ty, out),
            Value::Blob(b) if *ty == Type::BYTEA => b.as_slice().to_sql(ty, out),
            Value::Text(_) => Err(format!("text where the statement wants {ty}").into()),
            Value::Blob(_) => Err(format!("bytes where the statement wants {ty}").into()),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [
            Type::INT2,
            Type::INT4,
            Type::INT8,
            Type::BOOL,
            Type::TEXT,
            Type::VARCHAR,
            Type::BPCHAR,
            Type::NAME,
            Type::UNKNOWN,
            Type::BYTEA,
        ]
        .contains(ty)
    }

    to_sql_checked!();
}

fn column(row: &postgres::Row, i: usize) -> Result<Value> {
    let ty = row.columns()[i].type_().clone();
    let v = match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            row.try_get::<_, Option<String>>(i)?.map(Value::Text)
        }
        _ => {
            return Err(Error::BadValue {
                column: i,
                expected: "an integer, text or bytes",
                found: "another PostgreSQL type",
            });
        }
    };
    Ok(v.unwrap_or(Value::Null))
}

/// `?N` placeholders (the repository's one spelling) as PostgreSQL's `$N`.
fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// One transaction of a PostgreSQL farm.
struct PgExec<'t, 'c> {
    tx: &'t mut postgres::Transaction<'c>,
    statements: &'t mut StatementCache,
}

/// The statements this connection prepared, by their text: each is parsed by the server
/// once per connection, then only bound and executed (one round trip instead of two).
/// Prepared statements belong to the session, not to a transaction, so a rollback keeps
/// them; a new connection starts with an empty cache.
type StatementCache = std::collections::HashMap<String, postgres::Statement>;

impl PgExec<'_, '_> {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        let sql = placeholders(sql);
        if let Some(st) = self.statements.get(&sql) {
            return Ok(st.clone());
        }
        let st = self.tx.prepare(&sql)?;
        self.statements.insert(sql, st.clone());
        Ok(st)
    }
}

fn params(args: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

impl Exec for PgExec<'_, '_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<u64> {
        let st = self.statement(sql)?;
        Ok(self.tx.execute(&st, &params(args))?)
    }

    fn query(
        &mut self,
        sql: &str,
        args: &[Value],
        each: &mut dyn FnMut(Row) -> Result<()>,
    ) -> Result<()> {
        let st = self.statement(sql)?;
        let mut rows = self.tx.query_raw(&st, args.iter())?;
        while let Some(r) = postgres::fallible_iterator::FallibleIterator::next(&mut rows)? {
            let width = r.len();
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(column(&r, i)?);
            }
            each(Row(values))?;
        }
        Ok(())
    }
}

impl PgConn {
    /// Connects to the farm database.
    pub(crate) fn connect(target: &PgTarget) -> Result<PgConn> {
        let mut config = postgres::Config::new();
        config
            .user(&target.user)
            .dbname(&target.dbname)
            .port(target.port)
            .application_name("mailcert")
            .connect_timeout(CONNECT_TIMEOUT)
            // A session that waits on the write lock gives up after 30 s, as SQLite's
            // busy timeout does, and one left idle inside a transaction is ended by the
            // server, so that no stuck process holds the farm.
            .options("-c lock_timeout=30s -c idle_in_transaction_session_timeout=60s")
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(60));
        match &target.host {
            PgHost::Tcp(h) => config.host(h),
            PgHost::Socket(dir) => config.host_path(dir),
        };
        if let Some(pw) = password(target)? {
            config.password(pw.as_bytes());
        }
        let failed = |source: postgres::Error| Error::Connect {
            target: target.shown.clone(),
            problem: describe(&source),
        };
        let client = match (target.sslmode, &target.host) {
            (SslMode::Disable, _) | (_, PgHost::Socket(_)) => {
                config.ssl_mode(postgres::config::SslMode::Disable);
                config.connect(postgres::NoTls).map_err(failed)?
            }
            (mode, PgHost::Tcp(_)) => {
                config.ssl_mode(postgres::config::SslMode::Require);
                let tls = tls_config(target, mode == SslMode::VerifyFull)?;
                config
                    .connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
                    .map_err(failed)?
            }
        };
        Ok(PgConn {
            client,
            target: target.clone(),
            last_used: Instant::now(),
            statements: StatementCache::new(),
        })
    }

    /// Runs `f` in one transaction: a write takes the farm's write lock first; a read
    /// sees one snapshot. It commits only if `f` succeeds.
    pub(crate) fn transact<T, E: From<Error>>(
        &mut self,
        write: bool,
        f: impl FnOnce(&mut dyn Exec) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        // A connection idle for a while may have been closed by the server (a restart,
        // a fail-over, an idle timeout): check it, and connect again if so.
        if self.client.is_closed()
            || (self.last_used.elapsed() > CHECK_AFTER_IDLE
                && self.client.is_valid(CONNECT_TIMEOUT).is_err())
        {
            *self = PgConn::connect(&self.target).map_err(E::from)?;
        }
        self.last_used = Instant::now();
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(if write {
                IsolationLevel::ReadCommitted
            } else {
                IsolationLevel::RepeatableRead
            })
            .read_only(!write)
            .start()
            .map_err(|e| E::from(e.into()))?;
        if write {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                .map_err(|e| E::from(e.into()))?;
        }
        let value = f(&mut PgExec {
            tx: &mut tx,
            statements: &mut self.statements,
        })?;
        tx.commit().map_err(|e| E::from(e.into()))?;
        Ok(value)
    }

    /// Brings the schema up to date under the write lock; the schema version it found.
    pub(crate) fn migrate(&mut self, shown: &str) -> Result<()> {
        let known = super::schema::PG_MIGRATIONS.len() as i64;
        // Up to date (the usual case): no lock and no DDL, so a role without CREATE
        // rights opens the farm and nobody queues behind a writer just to open it.
        if let Some(v) = self.schema_version()? {
            if v > known {
                return Err(Error::SchemaTooNew {
                    path: PathBuf::from(shown),
                    found: v,
                    known,
                });
            }
            if v == known {
                return Ok(());
            }
        }
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS mailcert_schema (version BIGINT NOT NULL)")?;
        let current: i64 = match tx.query_opt("SELECT version FROM mailcert_schema", &[])? {
            Some(r) => r.try_get(0)?,
            None => {
                tx.execute("INSERT INTO mailcert_schema (version) VALUES (0)", &[])?;
                0
            }
        };
        if current > known {
            return Err(Error::SchemaTooNew {
                path: PathBuf::from(shown),
                found: current,
                known,
            });
        }
        for (i, sql) in super::schema::PG_MIGRATIONS
            .iter()
            .enumerate()
            .skip(current.max(0) as usize)
        {
            tx.batch_execute(sql)?;
            tx.execute(
                "UPDATE mailcert_schema SET version = $1",
                &[&((i + 1) as i64)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The schema version, or `None` in a database that has no mailcert schema.
    fn schema_version(&mut self) -> Result<Option<i64>> {
        let exists: Option<String> = self
            .client
            .query_one("SELECT to_regclass('mailcert_schema')::text", &[])?
            .try_get(0)?;
        if exists.is_none() {
            return Ok(None);
        }
        Ok(self
            .client
            .query_opt("SELECT version FROM mailcert_schema", &[])?
            .map(|r| r.try_get(0))
            .transpose()?)
    }

    /// Whether the database holds no table at all in its schema (a new database).
    pub(crate) fn is_empty_database(&mut self) -> Result<bool> {
        let n: i64 = self
            .client
            .query_one(
                "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()",
                &[],
            )?
            .try_get(0)?;
        Ok(n == 0)
    }

    /// Whether the database's tables are mailcert's schema and nothing else.
    pub(crate) fn holds_only_a_mailcert_schema(&mut self) -> Result<bool> {
        if self.schema_version()?.is_none() {
            return Ok(false);
        }
        // The schema's version table and the farm's tables (the list `farm copy` copies).
        let ours: Vec<&str> = std::iter::once("mailcert_schema")
            .chain(super::copy::TABLES.iter().map(|(t, _)| *t))
            .collect();
        let others: i64 = self
            .client
            .query_one(
                "SELECT count(*) FROM pg_catalog.pg_tables
                 WHERE schemaname = current_schema() AND NOT (tablename = ANY($1))",
                &[&ours],
            )?
            .try_get(0)?;
        Ok(others == 0)
    }

    /// A value from the farm's `meta` table, outside any caller's transaction.
    pub(crate) fn meta(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .client
            .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])?
            .map(|r| r.try_get(0))
            .transpose()?)
    }
}

/// A PostgreSQL failure in words: the server's message and SQLSTATE when it sent one.
pub(crate) fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The password: `$MAILCERT_DB_PASSWORD_FILE`, else a matching line of `$PGPASSFILE`
/// (`~/.pgpass`), else one written in the URL (the CLI refuses that on its command
/// line), else none (the server may trust the socket's peer).
fn password(t: &PgTarget) -> Result<Option<Zeroizing<String>>> {
    if let Some(file) = std::env::var_os("MAILCERT_DB_PASSWORD_FILE").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(file);
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let mut f = std::fs::File::open(&path).map_err(io)?;
        private_file(&path, &f, "the database password file")?;
        let mut text = Zeroizing::new(String::new());
        std::io::Read::read_to_string(&mut f, &mut text).map_err(io)?;
        let pw = text.trim_end_matches(['\r', '\n']);
        if pw.is_empty() {
            return Err(Error::BadFile {
                path,
                problem: "the database password file is empty".into(),
            });
        }
        return Ok(Some(Zeroizing::new(pw.to_string())));
    }
    if let Some(pw) = pgpass(t)? {
        return Ok(Some(pw));
    }
    Ok(t.url_password.clone())
}

/// Refuses a secret file (`file`, opened from `path`) that group or others can read.
fn private_file(path: &std::path::Path, file: &std::fs::File, what: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file
        .metadata()
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(Error::BadFile {
            path: path.to_path_buf(),
            problem: format!(
                "{what} has mode {:o}; it must not be readable by group or others (chmod 600)",
                mode & 0o777
            ),
        });
    }
    Ok(())
}

/// The `~/.pgpass` line for this target, as libpq reads it: `host:port:db:user:password`
/// with `*` wildcards and `\` escapes. A file that group or others can read is refused
/// with a clear error (libpq skips it with a warning; a library of ours cannot warn, and
/// silently skipping it would fail later as a confusing authentication error).
fn pgpass(t: &PgTarget) -> Result<Option<Zeroizing<String>>> {
    let path = match std::env::var_os("PGPASSFILE").filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(h) => PathBuf::from(h).join(".pgpass"),
            None => return Ok(None),
        },
    };
    let Ok(file) = std::fs::File::open(&path) else {
        return Ok(None);
    };
    private_file(&path, &file, "the password file")?;
    let host = match &t.host {
        PgHost::Tcp(h) => h.clone(),
        // libpq matches the default socket as "localhost", another one by its folder.
        PgHost::Socket(dir) if dir.as_path() == std::path::Path::new("/var/run/postgresql") => {
            "localhost".to_string()
        }
        PgHost::Socket(dir) => dir.display().to_string(),
    };
    let port = t.port.to_string();
    let wanted = [
        host.as_str(),
        port.as_str(),
        t.dbname.as_str(),
        t.user.as_str(),
    ];
    for line in std::io::BufReader::new(file).lines() {
        let line = Zeroizing::new(line.map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?);
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(&line);
        if fields.len() < 5 {
            continue;
        }
        let matches = wanted
            .iter()
            .zip(fields.iter())
            .all(|(want, field)| field.as_str() == "*" || field.as_str() == *want);
        if matches {
            return Ok(Some(fields[4].clone()));
        }
    }
    Ok(None)
}

fn split_pgpass(line: &str) -> Vec<Zeroizing<String>> {
    let mut fields = vec![Zeroizing::new(String::new())];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(n), Some(last)) = (chars.next(), fields.last_mut()) {
                    last.push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(Zeroizing::new(String::new())),
            c => {
                if let Some(last) = fields.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    fields
}

/// The trust anchors that verify the server: `sslrootcert`, else `$PGSSLROOTCERT`,
/// else `~/.postgresql/root.crt` when it exists, else the platform's store.
fn roots(t: &PgTarget) -> Result<(RootCertStore, bool)> {
    let file = t
        .sslrootcert
        .clone()
        .or_else(|| std::env::var_os("PGSSLROOTCERT").map(PathBuf::from))
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".postgresql/root.crt"))
                .filter(|p| p.is_file())
        });
    let mut store = RootCertStore::empty();
    match file {
        Some(path) if path.as_os_str() != "system" => {
            use rustls::pki_types::pem::PemObject;
            let certs = CertificateDer::pem_file_iter(&path)
                .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| Error::BadFile {
                    path: path.clone(),
                    problem: format!("cannot read the database's CA certificates: {e}"),
                })?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(Error::BadFile {
                    path,
                    problem: "holds no CA certificate to verify the database server".into(),
                });
            }
        }
        _ => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            return Ok((store, true));
        }
    }
    Ok((store, false))
}

fn tls_config(t: &PgTarget, check_name: bool) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (roots, platform) = roots(t)?;
    // Any public CA vouches for some name: without the name check, the platform's
    // store would let anyone with any public certificate in the middle (libpq refuses
    // this pairing too).
    if platform && !check_name {
        return Err(Error::BadDatabaseUrl {
            problem: "sslmode=require and verify-ca check the server's chain but not its name, which with the platform's CA store would accept any public certificate: give the database's CA with sslrootcert=FILE, or use sslmode=verify-full".into(),
        });
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::Internal(format!("database TLS verifier: {e}")))?;
    let verifier = Arc::new(ChainVerifier { webpki, check_name });
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("database TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// Verifies the server's chain always, and its name unless `sslmode=require`/`verify-ca`
/// said not to (libpq's meaning of those modes; the chain is never skipped).
#[derive(Debug)]
struct ChainVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    check_name: bool,
}

impl ServerCertVerifier for ChainVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars() {
        assert_eq!(
            placeholders("SELECT a FROM t WHERE b = ?1 AND c = ?12 AND d = '?'"),
            "SELECT a FROM t WHERE b = $1 AND c = $12 AND d = '?'"
        );
    }

    #[test]
    fn pgpass_fields_unescape() {
        let f = split_pgpass(r"db\:host:5432:*:farm:pa\:ss:word");
        let f: Vec<&str> = f.iter().map(|s| s.as_str()).collect();
        assert_eq!(f, ["db:host", "5432", "*", "farm", "pa:ss:word"]);
    }
}
