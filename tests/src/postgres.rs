//! A private PostgreSQL cluster on 127.0.0.1 for end-to-end tests.
//!
//! [`Postgres::start`] runs `initdb` into a fresh temporary directory, writes TLS files, a
//! `pg_hba.conf` and its settings, starts the server with `pg_ctl -w start` and creates a
//! login role [`Postgres::user`] with a random password. Dropping the handle runs
//! `pg_ctl stop -m immediate` and removes the directory. Nothing else is touched: no
//! systemd, no `pg_ctlcluster`, never the package's own cluster.
//!
//! The cluster, as configured:
//!
//! * it listens on 127.0.0.1 only, on a free port ([`Postgres::port`]; picked by binding
//!   127.0.0.1:0, with fresh ports tried again when the server finds it taken), and on a
//!   Unix socket in its own directory ([`Postgres::socket_dir`]);
//! * TLS is on, with a server certificate for `localhost` and 127.0.0.1 issued by a CA made
//!   for this instance ([`Postgres::ca_pem`]), so `sslmode=verify-full` can be tested with
//!   either host name;
//! * `pg_hba.conf`: `local all all trust` (the superuser `postgres`, used by
//!   [`Postgres::psql`] and [`Postgres::dump`]), and `scram-sha-256` over TCP from
//!   127.0.0.1 with or without TLS (`hostssl` and `hostnossl` lines);
//! * durability is off (`fsync`, `synchronous_commit`, `full_page_writes`; `initdb
//!   --no-sync`): a crash loses nothing a test needs, and start-up takes well under a second;
//! * `log_connections = on`; the server log is [`Postgres::log`] (its tail is printed when a
//!   test panics with the handle alive).
//!
//! Every instance has its own directory, port and socket, so tests run them in parallel.
//!
//! The programs (`initdb`, `pg_ctl`, `pg_dump`, `psql`) are those of one installation:
//! `initdb` is looked for on `PATH` first, then in the newest `/usr/lib/postgresql/*/bin`
//! (Debian's packages put it there, not on `PATH`); the other programs are taken from the
//! directory `initdb` really lives in (symbolic links resolved), so that `pg_dump` is never
//! older than the server and Debian's `pg_wrapper` in `/usr/bin` is not used. As root the
//! server programs and the superuser's `psql`/`pg_dump` run as the `postgres` OS user
//! (`runuser -u postgres --`; `initdb` refuses root); any other user runs them as itself.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The login role every instance creates (see [`Postgres::user`]).
pub const USER: &str = "mailcert";
/// The superuser `initdb` creates; [`Postgres::psql`] and [`Postgres::dump`] connect as it.
pub const SUPERUSER: &str = "postgres";
/// The OS user the server runs as when the tests run as root.
const OS_USER: &str = "postgres";
/// Where Debian's packages put each version's programs.
const DEBIAN_BIN_GLOB_PARENT: &str = "/usr/lib/postgresql";

/// How long `initdb` may take.
const INITDB_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `pg_ctl start` / `stop` may take (what `pg_ctl -t` is given, plus a margin).
const PG_CTL_WAIT_SECS: u64 = 30;
/// How long `psql` and `pg_dump` may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server may take to accept connections once `pg_ctl -w start` returned.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the wait helpers look again.
const POLL: Duration = Duration::from_millis(20);
/// Attempts with fresh ports when a chosen port was taken in the meantime.
const START_ATTEMPTS: usize = 3;
/// Length of the generated password (alphanumeric).
const PASSWORD_LEN: usize = 24;

/// A running private PostgreSQL cluster, stopped and removed when dropped.
pub struct Postgres {
    dir: tempfile::TempDir,
    tools: Tools,
    /// The `postgres` OS user's uid and gid when running as root (commands then go
    /// through `runuser`); `None` when the current user runs everything itself.
    owner: Option<(u32, u32)>,
    data_dir: PathBuf,
    run_dir: PathBuf,
    ca_pem: PathBuf,
    port: u16,
    password: String,
}

/// The programs of one PostgreSQL installation.
#[derive(Debug, Clone)]
struct Tools {
    bin_dir: PathBuf,
    initdb: PathBuf,
    pg_ctl: PathBuf,
    pg_dump: PathBuf,
    psql: PathBuf,
    /// `runuser`, when running as root.
    runuser: Option<PathBuf>,
}

impl Postgres {
    /// Why no cluster can be started here (programs missing, running as root without a
    /// `postgres` OS user or `runuser`), or `None` when [`Postgres::start`] can run.
    pub fn unavailable_reason() -> Option<String> {
        find_tools().err()
    }

    /// Creates, configures and starts a new cluster, waits until it accepts connections
    /// over its socket and on its TCP port, and creates the login role [`Postgres::user`].
    pub fn start() -> Result<Postgres, String> {
        let tools = find_tools()?;
        let owner = if euid()? == 0 {
            Some(os_user_ids()?)
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("mailcert-pg-")
            .tempdir()
            .map_err(|e| format!("creating the cluster's temporary directory: {e}"))?;
        let root = dir.path().to_path_buf();
        if !root
            .to_string_lossy()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
        {
            return Err(format!(
                "cluster directory {} has characters postgresql.conf cannot hold; \
                 set TMPDIR to a plain path",
                root.display()
            ));
        }
        // The postgres OS user must reach the data and run folders.
        set_mode(&root, 0o755)?;
        let mut pg = Postgres {
            data_dir: root.join("data"),
            run_dir: root.join("run"),
            ca_pem: root.join("run").join("ca.pem"),
            dir,
            tools,
            owner,
            port: 0,
            password: random_alphanumeric(PASSWORD_LEN)?,
        };
        pg.prepare()?;
        let base_conf = fs::read_to_string(pg.data_dir.join("postgresql.conf"))
            .map_err(|e| format!("reading the postgresql.conf initdb wrote: {e}"))?;

        let mut attempt = 1;
        loop {
            pg.port = free_port()?;
            pg.write_file(
                &pg.data_dir.join("postgresql.conf"),
                &format!("{base_conf}\n{}", pg.settings()),
                0o600,
            )?;
            let log_before = pg.log().len();
            match pg.pg_ctl_start().and_then(|()| pg.wait_ready()) {
                Ok(()) => break,
                Err(e) => {
                    let port_taken = pg
                        .log()
                        .get(log_before..)
                        .is_some_and(|l| l.contains("could not bind"));
                    if let Err(stop) = pg.stop() {
                        return Err(format!("{e}\nthen stopping the cluster: {stop}"));
                    }
                    if !port_taken || attempt == START_ATTEMPTS {
                        return Err(e);
                    }
                }
            }
            attempt += 1;
        }
        pg.psql(
            "postgres",
            &format!(
                "CREATE ROLE {USER} LOGIN PASSWORD '{}'",
                // Alphanumeric, so nothing to escape.
                pg.password
            ),
        )?;
        Ok(pg)
    }

    /// The login role created at start (`mailcert`): no superuser, owner of the
    /// databases [`Postgres::create_database`] creates.
    pub fn user(&self) -> &str {
        USER
    }

    /// The login role's password: random, 24 alphanumeric characters.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The TCP port the cluster listens on (on 127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the cluster's Unix socket (`.s.PGSQL.<port>`), for `host=`.
    pub fn socket_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The PEM file of the CA that issued the server certificate (for `sslrootcert=`, with
    /// `sslmode=verify-full` and `host=127.0.0.1` or `host=localhost`).
    pub fn ca_pem(&self) -> &Path {
        &self.ca_pem
    }

    /// A program of the installation the cluster runs from (`psql`, `pg_dump`,
    /// `pg_restore`, …), for tests that act as a client themselves.
    pub fn program(&self, name: &str) -> PathBuf {
        self.tools.bin_dir.join(name)
    }

    /// The temporary directory holding the cluster (data, socket, TLS files, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Creates database `name` owned by [`Postgres::user`] and returns its URL,
    /// `postgres://mailcert@127.0.0.1:PORT/NAME` (without the password; see
    /// [`Postgres::write_pgpass`] and [`Postgres::password`]).
    pub fn create_database(&self, name: &str) -> Result<String, String> {
        if name.is_empty() || name.contains('\0') {
            return Err(format!("bad database name {name:?}"));
        }
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {} OWNER {USER}", quote_ident(name)),
        )?;
        Ok(format!(
            "postgres://{USER}@127.0.0.1:{}/{}",
            self.port,
            percent_encode(name)
        ))
    }

    /// Writes a password file (`~/.pgpass` format, for `PGPASSFILE` or `passfile=`) with
    /// mode 0600 and the lines `127.0.0.1:PORT:*:mailcert:PASSWORD` and
    /// `localhost:PORT:*:mailcert:PASSWORD` (libpq matches the host as given).
    pub fn write_pgpass(&self, path: &Path) -> Result<(), String> {
        let text = format!(
            "127.0.0.1:{port}:*:{USER}:{pw}\nlocalhost:{port}:*:{USER}:{pw}\n",
            port = self.port,
            pw = self.password
        );
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("creating {}: {e}", path.display()))?;
        // The mode given above applies only to a new file.
        set_mode(path, 0o600)?;
        f.write_all(text.as_bytes())
            .map_err(|e| format!("writing {}: {e}", path.display()))
    }

    /// Runs `sql` in database `db` as the superuser over the Unix socket
    /// (`psql -X -A -t -v ON_ERROR_STOP=1`) and returns what it printed on standard output
    /// (unaligned, tuples only; commands other than queries print their tag, e.g.
    /// `CREATE TABLE`). Fails with psql's standard error when psql fails.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let port = self.port.to_string();
        let mut cmd = self.command(&self.tools.psql);
        cmd.args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.run_dir)
            .args(["-p", &port, "-U", SUPERUSER, "-d", db, "-c", sql]);
        let out = run_bounded(&mut cmd, CLIENT_TIMEOUT)?;
        if !out.success {
            return Err(format!(
                "psql -d {db} -c {sql:?} failed: {}",
                out.stderr.trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `pg_dump` of database `db` (plain SQL format), run as the superuser over the Unix
    /// socket.
    pub fn dump(&self, db: &str) -> Result<Vec<u8>, String> {
        let port = self.port.to_string();
        let mut cmd = self.command(&self.tools.pg_dump);
        cmd.args(["--format=plain", "-h"])
            .arg(&self.run_dir)
            .args(["-p", &port, "-U", SUPERUSER, "-d", db]);
        let out = run_bounded(&mut cmd, CLIENT_TIMEOUT)?;
        if !out.success {
            return Err(format!("pg_dump -d {db} failed: {}", out.stderr.trim()));
        }
        Ok(out.stdout)
    }

    /// The server log so far (empty if it cannot be read).
    pub fn log(&self) -> String {
        fs::read(self.log_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Stops the server now (`pg_ctl stop -m immediate`, then a KILL for a postmaster that
    /// survived it); also done on drop. The directory stays until the handle is dropped.
    pub fn stop(&mut self) -> Result<(), String> {
        let pid_file = self.data_dir.join("postmaster.pid");
        let Some(pid) = postmaster_pid(&pid_file).filter(|pid| self.postmaster_alive(*pid)) else {
            return Ok(());
        };
        let mut problems = Vec::new();
        let wait = PG_CTL_WAIT_SECS.to_string();
        let mut cmd = self.command(&self.tools.pg_ctl);
        cmd.arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "immediate", "-w", "-t", &wait, "stop"]);
        match run_bounded(&mut cmd, Duration::from_secs(PG_CTL_WAIT_SECS + 10)) {
            Ok(out) if out.success => {}
            Ok(out) => problems.push(format!("pg_ctl stop failed: {}", out.stderr.trim())),
            Err(e) => problems.push(e),
        }
        if self.postmaster_alive(pid) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.postmaster_alive(pid) && Instant::now() < deadline {
                std::thread::sleep(POLL);
            }
            if self.postmaster_alive(pid) {
                problems.push(format!("postmaster {pid} survived KILL"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// Creates the data and run folders (owned by the server's user), runs `initdb`, and
    /// writes the TLS files and `pg_hba.conf`.
    fn prepare(&self) -> Result<(), String> {
        for (p, mode) in [(&self.data_dir, 0o700), (&self.run_dir, 0o755)] {
            fs::create_dir(p).map_err(|e| format!("creating {}: {e}", p.display()))?;
            set_mode(p, mode)?;
            self.chown(p)?;
        }
        let mut cmd = self.command(&self.tools.initdb);
        cmd.arg("-D").arg(&self.data_dir).args([
            "-U",
            SUPERUSER,
            "-A",
            "scram-sha-256",
            "--auth-local=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        let out = run_bounded(&mut cmd, INITDB_TIMEOUT)?;
        if !out.success {
            return Err(format!(
                "initdb failed: {}\n{}",
                out.stderr.trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            ));
        }

        let tls = make_tls()?;
        self.write_file(&self.ca_pem, &tls.ca_pem, 0o644)?;
        self.write_file(&self.run_dir.join("server.crt"), &tls.server_pem, 0o644)?;
        self.write_file(&self.run_dir.join("server.key"), &tls.server_key, 0o600)?;
        self.write_file(
            &self.data_dir.join("pg_hba.conf"),
            "# Private test cluster written by mailcert-tests (tests/src/postgres.rs).\n\
             # TYPE    DATABASE USER ADDRESS      METHOD\n\
             local     all      all               trust\n\
             hostssl   all      all  127.0.0.1/32 scram-sha-256\n\
             hostnossl all      all  127.0.0.1/32 scram-sha-256\n",
            0o600,
        )?;
        self.write_file(&self.log_path(), "", 0o644)?;
        Ok(())
    }

    /// The settings appended to initdb's postgresql.conf (later lines win).
    fn settings(&self) -> String {
        let run = self.run_dir.display();
        format!(
            "# Private test cluster written by mailcert-tests (tests/src/postgres.rs).\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{run}'\n\
             ssl = on\n\
             ssl_cert_file = '{run}/server.crt'\n\
             ssl_key_file = '{run}/server.key'\n\
             password_encryption = 'scram-sha-256'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             shared_buffers = 32MB\n\
             log_connections = on\n\
             log_line_prefix = '%m [%p] %q%u@%d '\n",
            port = self.port,
        )
    }

    /// `pg_ctl -w start`, logging to the run folder.
    fn pg_ctl_start(&self) -> Result<(), String> {
        let wait = PG_CTL_WAIT_SECS.to_string();
        let mut cmd = self.command(&self.tools.pg_ctl);
        cmd.arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(self.log_path())
            .args(["-w", "-t", &wait, "start"]);
        let out = run_bounded(&mut cmd, Duration::from_secs(PG_CTL_WAIT_SECS + 10))?;
        if out.success {
            return Ok(());
        }
        Err(format!(
            "pg_ctl start (port {}) failed: {}\n{}\nserver log:\n{}",
            self.port,
            out.stderr.trim(),
            String::from_utf8_lossy(&out.stdout).trim(),
            self.log().trim()
        ))
    }

    /// Waits until the TCP port listens and the superuser can run a query over the socket.
    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let last = match listening(self.port) {
                Ok(true) => match self.psql("postgres", "SELECT 1") {
                    Ok(out) if out.trim() == "1" => return Ok(()),
                    Ok(out) => format!("SELECT 1 printed {out:?}"),
                    Err(e) => e,
                },
                Ok(false) => format!("port {} is not listening", self.port),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "cluster {} not ready {READY_TIMEOUT:?} after pg_ctl start: {last}\n\
                     server log:\n{}",
                    self.dir().display(),
                    self.log().trim()
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// A command for `program`, run as the `postgres` OS user when we are root, in the
    /// cluster's directory, without the caller's `PG*` variables.
    fn command(&self, program: &Path) -> Command {
        let mut cmd = match (&self.owner, &self.tools.runuser) {
            (Some(_), Some(runuser)) => {
                let mut c = Command::new(runuser);
                c.args(["-u", OS_USER, "--"]).arg(program);
                c
            }
            _ => Command::new(program),
        };
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PG") {
                cmd.env_remove(k);
            }
        }
        cmd.env("LC_ALL", "C").current_dir(self.dir.path());
        cmd
    }

    /// Writes a file owned by the server's user.
    fn write_file(&self, path: &Path, text: &str, mode: u32) -> Result<(), String> {
        fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        set_mode(path, mode)?;
        self.chown(path)
    }

    /// Hands `path` to the `postgres` OS user (when running as root).
    fn chown(&self, path: &Path) -> Result<(), String> {
        match self.owner {
            Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| format!("chown {OS_USER} {}: {e}", path.display())),
            None => Ok(()),
        }
    }

    fn log_path(&self) -> PathBuf {
        self.run_dir.join("server.log")
    }

    /// Whether `pid` is still a live (non-zombie) postmaster of this cluster's data folder.
    fn postmaster_alive(&self, pid: u32) -> bool {
        let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
            return false;
        };
        let data = self.data_dir.to_string_lossy();
        String::from_utf8_lossy(&cmdline).contains(data.as_ref())
            && !fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            })
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines.len().saturating_sub(80);
            eprintln!(
                "--- server log of postgres cluster {} (port {}), last {} lines ---\n{}\n\
                 --- end of server log ---",
                self.dir().display(),
                self.port,
                lines.len() - tail,
                lines[tail..].join("\n")
            );
        }
        if let Err(e) = self.stop() {
            eprintln!(
                "stopping postgres cluster {}: {e}\nserver log:\n{}",
                self.dir().display(),
                self.log().trim()
            );
        }
    }
}

/// Finds the programs (see the module documentation) and, as root, `runuser` and the
/// `postgres` OS user.
fn find_tools() -> Result<Tools, String> {
    let initdb = match on_path("initdb") {
        Some(p) => p,
        None => newest_debian_initdb().ok_or_else(|| {
            format!(
                "PostgreSQL's initdb is neither on PATH nor in {DEBIAN_BIN_GLOB_PARENT}/*/bin \
                 (Debian: apt-get install postgresql)"
            )
        })?,
    };
    let initdb =
        fs::canonicalize(&initdb).map_err(|e| format!("resolving {}: {e}", initdb.display()))?;
    let bin_dir = initdb
        .parent()
        .ok_or_else(|| format!("{} has no folder", initdb.display()))?
        .to_path_buf();
    let sibling = |name: &str| -> Result<PathBuf, String> {
        let p = bin_dir.join(name);
        if is_executable(&p) {
            Ok(p)
        } else {
            Err(format!(
                "{} is missing next to {} (PostgreSQL's server and client programs \
                 must come from one installation)",
                p.display(),
                initdb.display()
            ))
        }
    };
    let pg_ctl = sibling("pg_ctl")?;
    let pg_dump = sibling("pg_dump")?;
    let psql = sibling("psql")?;
    sibling("postgres")?;
    let runuser = if euid()? == 0 {
        os_user_ids().map_err(|e| format!("running as root, and initdb refuses root: {e}"))?;
        Some(
            on_path("runuser")
                .or_else(|| {
                    ["/usr/sbin/runuser", "/sbin/runuser"]
                        .iter()
                        .map(PathBuf::from)
                        .find(|p| is_executable(p))
                })
                .ok_or("running as root, and runuser (util-linux) is missing")?,
        )
    } else {
        None
    };
    Ok(Tools {
        bin_dir,
        initdb,
        pg_ctl,
        pg_dump,
        psql,
        runuser,
    })
}

/// `name` in the first `PATH` folder that has it as an executable file.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

/// `/usr/lib/postgresql/<newest version>/bin/initdb`, if any version has it.
fn newest_debian_initdb() -> Option<PathBuf> {
    let entries = fs::read_dir(DEBIAN_BIN_GLOB_PARENT).ok()?;
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version: Vec<u32> = e
                .file_name()
                .to_str()?
                .split('.')
                .map(|n| n.parse::<u32>())
                .collect::<Result<_, _>>()
                .ok()?;
            let initdb = e.path().join("bin").join("initdb");
            is_executable(&initdb).then_some((version, initdb))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, p)| p)
}

fn is_executable(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The effective uid (from /proc/self/status, else `id -u`).
fn euid() -> Result<u32, String> {
    if let Ok(status) = fs::read_to_string("/proc/self/status")
        && let Some(euid) = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
    {
        return Ok(euid);
    }
    let out = run_bounded(Command::new("id").arg("-u"), Duration::from_secs(10))?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    text.parse()
        .map_err(|e| format!("`id -u` printed {text:?}: {e}"))
}

/// The `postgres` OS user's uid and gid.
fn os_user_ids() -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let out = run_bounded(
            Command::new("id").args([flag, OS_USER]),
            Duration::from_secs(10),
        )?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.success {
            return Err(format!("no {OS_USER} OS user: {}", out.stderr.trim()));
        }
        text.parse()
            .map_err(|e| format!("`id {flag} {OS_USER}` printed {text:?}: {e}"))
    };
    Ok((id("-u")?, id("-g")?))
}

/// The postmaster's pid from `postmaster.pid` (its first line), if the file is there.
fn postmaster_pid(pid_file: &Path) -> Option<u32> {
    fs::read_to_string(pid_file)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// A free port on 127.0.0.1 (bound, then released for the server).
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding 127.0.0.1:0: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// Whether something listens on 127.0.0.1:`port` (from /proc/net/tcp; a plain connect
/// where that file is missing).
fn listening(port: u16) -> Result<bool, String> {
    match fs::read_to_string("/proc/net/tcp") {
        Ok(table) => {
            let local = format!("0100007F:{port:04X}");
            Ok(table.lines().skip(1).any(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                cols.get(1) == Some(&local.as_str()) && cols.get(3) == Some(&"0A")
            }))
        }
        Err(_) => Ok(TcpStream::connect(("127.0.0.1", port)).is_ok()),
    }
}

/// `len` random characters from `[A-Za-z0-9]` (from /dev/urandom, without modulo bias).
fn random_alphanumeric(len: usize) -> Result<String, String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut urandom =
        fs::File::open("/dev/urandom").map_err(|e| format!("opening /dev/urandom: {e}"))?;
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut buf = [0u8; 64];
        urandom
            .read_exact(&mut buf)
            .map_err(|e| format!("reading /dev/urandom: {e}"))?;
        // 248 = 4 * 62: bytes at or above it would favour the first letters.
        for b in buf.iter().filter(|b| **b < 248) {
            if out.len() < len {
                out.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}

/// An SQL identifier in double quotes.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `s` with everything but unreserved URL characters percent-encoded.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The PEM files of one instance's TLS set-up.
struct TlsFiles {
    ca_pem: String,
    server_pem: String,
    server_key: String,
}

/// A CA and a server certificate for `localhost` and 127.0.0.1 issued by it.
fn make_tls() -> Result<TlsFiles, String> {
    fn err(what: &'static str) -> impl Fn(rcgen::Error) -> String {
        move |e| format!("rcgen, {what}: {e}")
    }
    let ca_key = rcgen::KeyPair::generate().map_err(err("CA key"))?;
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err("CA"))?;
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    // A name of its own: with one name for every instance's CA, OpenSSL would take another
    // instance's CA for the issuer and fail on the signature ("EVP lib") instead of
    // reporting an unknown issuer.
    ca.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("mailcert test PostgreSQL CA {}", random_alphanumeric(8)?),
    );
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca.self_signed(&ca_key).map_err(err("CA certificate"))?;
    let issuer = rcgen::Issuer::new(ca, ca_key);

    let server_key = rcgen::KeyPair::generate().map_err(err("server key"))?;
    let mut server =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .map_err(err("server"))?;
    server
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    server.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server
        .signed_by(&server_key, &issuer)
        .map_err(err("server certificate"))?;
    Ok(TlsFiles {
        ca_pem: ca_cert.pem(),
        server_pem: server_cert.pem(),
        server_key: server_key.serialize_pem(),
    })
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {mode:o} {}: {e}", path.display()))
}

/// What a bounded command printed and whether it succeeded.
struct CommandOutput {
    success: bool,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs `cmd` with stdin closed and stdout and stderr going to temporary files (not
/// pipes: `pg_ctl start` leaves a server behind), killing it after `timeout`.
fn run_bounded(cmd: &mut Command, timeout: Duration) -> Result<CommandOutput, String> {
    let what = format!("{cmd:?}");
    let file = || {
        tempfile::tempfile().map_err(|e| format!("temporary file for the output of {what}: {e}"))
    };
    let (mut out, mut err) = (file()?, file()?);
    let (out_w, err_w) = (
        out.try_clone().map_err(|e| e.to_string())?,
        err.try_clone().map_err(|e| e.to_string())?,
    );
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out_w)
        .stderr(err_w)
        .spawn()
        .map_err(|e| format!("running {what}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} did not finish within {timeout:?}"));
            }
            Err(e) => return Err(format!("waiting for {what}: {e}")),
        }
    };
    let read_all = |f: &mut fs::File| -> Result<Vec<u8>, String> {
        use std::io::Seek;
        let mut buf = Vec::new();
        f.rewind()
            .and_then(|_| f.read_to_end(&mut buf))
            .map_err(|e| format!("reading the output of {what}: {e}"))?;
        Ok(buf)
    };
    let stdout = read_all(&mut out)?;
    let stderr = String::from_utf8_lossy(&read_all(&mut err)?).into_owned();
    Ok(CommandOutput {
        success: status.success(),
        stdout,
        stderr,
    })
}
