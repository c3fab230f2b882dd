//! Helpers for the end-to-end tests in `tests/tests/`: a throw-away farm in a temporary
//! directory and a way to run the real `mailcert` binary against it.
//!
//! The binary is the one cargo built into the same target directory as the test
//! (`cargo build --workspace` before `cargo test`, as the README's test command does).

pub mod postfix;
pub mod relay;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `mailcert` binary next to the running test executable.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<test> -> target/<profile>/mailcert
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let bin = dir.join("mailcert");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace` before the tests",
        bin.display()
    );
    bin
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
}

impl TestFarm {
    /// A directory with no farm yet.
    pub fn empty() -> TestFarm {
        TestFarm {
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
        }
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
        self.dir.path().join("farm.db.key")
    }

    /// A command for the binary with this farm's database, run in the fixtures directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(binary());
        c.args(args)
            .env("MAILCERT_DB", self.db())
            .env_remove("MAILCERT_MASTER_KEY_FILE")
            .current_dir(fixtures())
            .stdin(Stdio::null());
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
