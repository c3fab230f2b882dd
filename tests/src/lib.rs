//! Helpers for the end-to-end tests in `tests/tests/`: a throw-away farm in a temporary
//! directory and a way to run the real `mailcert` binary against it.
//!
//! The binary is built from this tree into the test's own target directory and profile
//! before the first use (a no-op when `cargo build --workspace` ran first, as the README's
//! test command does), so a test never drives a stale `mailcert`.

pub mod bulk;
pub mod postfix;
pub mod postgres;
pub mod relay;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `mailcert` binary of this tree, built (once per test process) into the target
/// directory and profile of the running test, so that a test never drives a stale binary.
pub fn binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    match BUILT.get_or_init(build_binary) {
        Ok(p) => p.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// Runs `cargo build -p mailcert` for the running test's profile and target directory
/// (a no-op when it is up to date) and returns the binary's path.
fn build_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    // target/<profile>/deps/<test> -> target/<profile> and target
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("{} is not in target/<profile>/deps", exe.display()))?;
    let target_dir = profile_dir
        .parent()
        .ok_or_else(|| format!("{} has no target directory", profile_dir.display()))?;
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_string(),
        Some(other) => other.to_string(),
        None => return Err(format!("{}: no profile name", profile_dir.display())),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(&cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "mailcert",
            "--bin",
            "mailcert",
            "--profile",
        ])
        .arg(&profile)
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(&workspace)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {}: {e}", Path::new(&cargo).display()))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build -p mailcert failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let bin = profile_dir.join("mailcert");
    if !bin.is_file() {
        return Err(format!("{} is missing after cargo build", bin.display()));
    }
    Ok(bin)
}

/// Reports that a test cannot run because an outside tool is missing. Where
/// `MAILCERT_REQUIRE_EXTERNAL=1` (CI sets it) that is a failure; elsewhere the test
/// says why and returns, so that a developer without Postfix or Chromium can still run
/// the rest.
pub fn external_missing(why: &str) {
    if std::env::var_os("MAILCERT_REQUIRE_EXTERNAL").is_some_and(|v| v == "1") {
        panic!("MAILCERT_REQUIRE_EXTERNAL=1 and a tool this test needs is missing: {why}");
    }
    println!("skipped: {why}");
}

/// The repository's fixtures/files directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
        .join("files")
}

/// A fixture file by name.
pub fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// The SHA-1 thumbprint (upper-case hex) of a fixture certificate, from expected.json.
pub fn sha1_of(name: &str) -> String {
    expected()[name]["sha1"]
        .as_str()
        .unwrap_or_else(|| panic!("{name} is not in fixtures/files/expected.json"))
        .to_string()
}

/// The expected facts of the fixture certificates (fixtures/files/expected.json).
pub fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture("expected.json")).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// What one run of the binary produced.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// What a finished process produced.
    pub fn from_output(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Standard output parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// A farm in a temporary directory, removed when dropped.
pub struct TestFarm {
    /// The temporary directory holding the farm.
    pub dir: tempfile::TempDir,
    /// For a farm in PostgreSQL: its URL and this server's name.
    postgres: Option<(String, String)>,
}

impl TestFarm {
    /// A directory with no farm yet.
    pub fn empty() -> TestFarm {
        TestFarm {
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
            postgres: None,
        }
    }

    /// One server of a farm in PostgreSQL database `url` (not initialised here): its
    /// commands run with `MAILCERT_DB=url`, `MAILCERT_SERVER=server`, the master key at
    /// [`TestFarm::key_file`] and the database password in a 0600 file named by
    /// `MAILCERT_DB_PASSWORD_FILE`.
    pub fn on_postgres(url: &str, password: &str, server: &str) -> TestFarm {
        use std::os::unix::fs::OpenOptionsExt;
        let f = TestFarm {
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
            postgres: Some((url.to_string(), server.to_string())),
        };
        let mut pw = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(f.password_file())
            .unwrap_or_else(|e| panic!("password file: {e}"));
        std::io::Write::write_all(&mut pw, format!("{password}\n").as_bytes())
            .unwrap_or_else(|e| panic!("password file: {e}"));
        f
    }

    /// The database password file of a PostgreSQL farm.
    pub fn password_file(&self) -> PathBuf {
        self.dir.path().join("db-password")
    }

    /// A farm after `mailcert init`.
    pub fn new() -> TestFarm {
        let f = TestFarm::empty();
        let r = f.run(&["init"]);
        assert_eq!(r.code, 0, "init failed: {r:?}");
        f
    }

    /// The database path.
    pub fn db(&self) -> PathBuf {
        self.dir.path().join("farm.db")
    }

    /// The master key path.
    pub fn key_file(&self) -> PathBuf {
        match self.postgres {
            None => self.dir.path().join("farm.db.key"),
            Some(_) => self.dir.path().join("farm.key"),
        }
    }

    /// A command for the binary with this farm's database, run in the fixtures directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(binary());
        c.args(args).current_dir(fixtures()).stdin(Stdio::null());
        match &self.postgres {
            None => {
                c.env("MAILCERT_DB", self.db())
                    .env_remove("MAILCERT_MASTER_KEY_FILE");
            }
            Some((url, server)) => {
                c.env("MAILCERT_DB", url)
                    .env("MAILCERT_SERVER", server)
                    .env("MAILCERT_MASTER_KEY_FILE", self.key_file())
                    .env("MAILCERT_DB_PASSWORD_FILE", self.password_file());
            }
        }
        c
    }

    /// Runs the binary with `args`.
    pub fn run(&self, args: &[&str]) -> Run {
        let o = self
            .command(args)
            .output()
            .unwrap_or_else(|e| panic!("running mailcert: {e}"));
        Run::from_output(o)
    }

    /// Runs the binary with `stdin` as standard input.
    pub fn run_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running mailcert: {e}"));
        if let Some(mut s) = child.stdin.take() {
            let _ = s.write_all(stdin);
        }
        Run::from_output(
            child
                .wait_with_output()
                .unwrap_or_else(|e| panic!("waiting for mailcert: {e}")),
        )
    }

    /// Runs `args` and asserts success.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(r.code, 0, "mailcert {args:?} failed: {r:?}");
        r
    }

    /// `cert list --json` as a vector.
    pub fn list(&self, extra: &[&str]) -> Vec<serde_json::Value> {
        let mut args = vec!["--json", "cert", "list"];
        args.extend_from_slice(extra);
        match self.ok(&args).json() {
            serde_json::Value::Array(v) => v,
            other => panic!("cert list --json is not an array: {other}"),
        }
    }

    /// Bytes of the database file and its WAL, for searching for secrets.
    pub fn database_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.db().into_os_string();
            p.push(suffix);
            if let Ok(b) = std::fs::read(PathBuf::from(p)) {
                all.extend(b);
            }
        }
        all
    }
}

impl Default for TestFarm {
    fn default() -> Self {
        TestFarm::new()
    }
}

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
