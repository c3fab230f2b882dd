//! Proves the private PostgreSQL harness (`mailcert_tests::postgres`) works, independently
//! of mailcert: the installation's own `psql` is the client over TCP, authenticating with
//! the role's password (scram-sha-256) and verifying the server against the instance's CA
//! with `sslmode=verify-full`.
//!
//! Where PostgreSQL cannot run, each test says so and passes, or fails under
//! `MAILCERT_REQUIRE_EXTERNAL=1` (as in CI).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use mailcert_tests::postgres::Postgres;

/// A started cluster, or `None` (after saying why) where PostgreSQL cannot run.
fn start_or_skip() -> Option<Postgres> {
    if let Some(why) = Postgres::unavailable_reason() {
        mailcert_tests::external_missing(&why);
        return None;
    }
    let started = Instant::now();
    let pg = Postgres::start().unwrap_or_else(|e| panic!("starting postgres: {e}"));
    println!(
        "cluster on port {} started in {:?}",
        pg.port(),
        started.elapsed()
    );
    Some(pg)
}

/// What the client `psql` printed, and whether it succeeded.
struct Client {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs the installation's `psql` as a client over TCP with connection string `conninfo`
/// and the password from `password` (`PGPASSWORD`) or else from `passfile`; the caller's
/// `PG*` variables and `~/.pgpass` are never used.
fn client(
    pg: &Postgres,
    conninfo: &str,
    password: Option<&str>,
    passfile: Option<&Path>,
) -> Client {
    let mut cmd = Command::new(pg.program("psql"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PG") {
            cmd.env_remove(k);
        }
    }
    cmd.args(["-X", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1"])
        .arg(conninfo)
        .args([
            "-c",
            "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
        ])
        .env("LC_ALL", "C")
        .env(
            "PGPASSFILE",
            passfile.unwrap_or(&pg.dir().join("no-such-pgpass")),
        )
        .stdin(Stdio::null());
    if let Some(pw) = password {
        cmd.env("PGPASSWORD", pw);
    }
    let out = cmd.output().unwrap();
    Client {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    }
}

#[test]
fn tls_password_login_and_dump() {
    let Some(pg) = start_or_skip() else {
        return;
    };
    let url = pg.create_database("harness_db").unwrap();
    assert_eq!(
        url,
        format!("postgres://mailcert@127.0.0.1:{}/harness_db", pg.port())
    );
    assert!(!url.contains(pg.password()));
    assert!(pg.password().len() >= 20);
    assert!(pg.password().chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(pg.user(), "mailcert");
    assert!(
        pg.socket_dir()
            .join(format!(".s.PGSQL.{}", pg.port()))
            .exists()
    );

    let conninfo = |host: &str, sslmode: &str| {
        format!(
            "host={host} port={} user=mailcert dbname=harness_db sslmode={sslmode} sslrootcert={}",
            pg.port(),
            pg.ca_pem().display()
        )
    };

    // TLS verified against the instance's CA, by IP address and by name.
    for host in ["127.0.0.1", "localhost"] {
        let c = client(
            &pg,
            &conninfo(host, "verify-full"),
            Some(pg.password()),
            None,
        );
        assert!(
            c.ok,
            "verify-full to {host} failed: {}\n{}",
            c.stderr,
            pg.log()
        );
        assert_eq!(c.stdout, "t", "host={host}: {}", c.stderr);
    }

    // Without TLS (the hostnossl line): still scram-sha-256, no TLS.
    let c = client(
        &pg,
        &conninfo("127.0.0.1", "disable"),
        Some(pg.password()),
        None,
    );
    assert!(c.ok, "sslmode=disable failed: {}", c.stderr);
    assert_eq!(c.stdout, "f");

    // A wrong password and no password at all are refused.
    let c = client(
        &pg,
        &conninfo("127.0.0.1", "verify-full"),
        Some("wrong-password"),
        None,
    );
    assert!(!c.ok, "a wrong password logged in: {}", c.stdout);
    assert!(
        c.stderr
            .contains("password authentication failed for user \"mailcert\""),
        "{}",
        c.stderr
    );
    let c = client(&pg, &conninfo("127.0.0.1", "verify-full"), None, None);
    assert!(!c.ok, "no password logged in: {}", c.stdout);

    // The password file serves both host names.
    let pgpass = pg.dir().join("pgpass");
    pg.write_pgpass(&pgpass).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&pgpass).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    for host in ["127.0.0.1", "localhost"] {
        let c = client(&pg, &conninfo(host, "verify-full"), None, Some(&pgpass));
        assert!(c.ok, "with the pgpass file to {host}: {}", c.stderr);
        assert_eq!(c.stdout, "t");
    }

    // A CA the server's certificate does not chain to is refused by verify-full.
    let other = Postgres::start().unwrap();
    let c = client(
        &pg,
        &format!(
            "host=127.0.0.1 port={} user=mailcert dbname=harness_db sslmode=verify-full sslrootcert={}",
            pg.port(),
            other.ca_pem().display()
        ),
        Some(pg.password()),
        None,
    );
    assert!(!c.ok, "verify-full accepted another instance's CA");
    assert!(
        c.stderr.contains("certificate verify failed"),
        "{}",
        c.stderr
    );
    drop(other);

    // The login role owns its database: it creates a table over TCP; the superuser's
    // psql and pg_dump see it.
    let c = Command::new(pg.program("psql"))
        .args(["-X", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1"])
        .arg(conninfo("127.0.0.1", "verify-full"))
        .args([
            "-c",
            "create table harness_probe (id int primary key, note text); \
             insert into harness_probe values (1, 'from the login role')",
        ])
        .env("PGPASSWORD", pg.password())
        .env("PGPASSFILE", pg.dir().join("no-such-pgpass"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    assert_eq!(
        pg.psql("harness_db", "select note from harness_probe where id = 1")
            .unwrap()
            .trim(),
        "from the login role"
    );
    assert_eq!(
        pg.psql(
            "harness_db",
            "select tableowner from pg_tables where tablename = 'harness_probe'"
        )
        .unwrap()
        .trim(),
        "mailcert"
    );
    let err = pg
        .psql("harness_db", "select * from no_such_table")
        .unwrap_err();
    assert!(err.contains("no_such_table"), "{err}");

    let dump = String::from_utf8(pg.dump("harness_db").unwrap()).unwrap();
    assert!(dump.contains("CREATE TABLE public.harness_probe"), "{dump}");
    assert!(dump.contains("from the login role"), "{dump}");

    // log_connections: PostgreSQL 15 logs "connection authorized: user=mailcert
    // database=harness_db application_name=psql SSL enabled (protocol=TLSv1.3, …)".
    let log = pg.log();
    assert!(
        log.lines().any(|l| {
            l.contains("connection authorized: user=mailcert database=harness_db")
                && l.contains(" SSL enabled (protocol=TLSv1.3")
        }),
        "{log}"
    );
}

#[test]
fn two_instances_at_once_have_their_own_ports_and_drop_closes_them() {
    if let Some(why) = Postgres::unavailable_reason() {
        mailcert_tests::external_missing(&why);
        return;
    }
    let started = Instant::now();
    let threads: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(Postgres::start))
        .collect();
    let instances: Vec<Postgres> = threads
        .into_iter()
        .map(|t| t.join().unwrap().unwrap())
        .collect();
    println!("two clusters started together in {:?}", started.elapsed());
    let (a, b) = (&instances[0], &instances[1]);
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());
    assert_ne!(a.password(), b.password());
    for pg in &instances {
        assert_eq!(pg.psql("postgres", "select 1").unwrap().trim(), "1");
        assert_eq!(
            pg.psql("postgres", "show port").unwrap().trim(),
            pg.port().to_string()
        );
        TcpStream::connect(("127.0.0.1", pg.port())).unwrap();
    }

    for pg in instances {
        let port = pg.port();
        let dir = pg.dir().to_path_buf();
        let stopped = Instant::now();
        drop(pg);
        println!(
            "cluster on port {port} stopped and removed in {:?}",
            stopped.elapsed()
        );
        let refused = TcpStream::connect(("127.0.0.1", port));
        assert!(refused.is_err(), "port {port} still open after drop");
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}
