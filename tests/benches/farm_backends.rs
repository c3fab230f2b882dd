//! The farm database on its two backends, side by side in one run (issue #11); run with
//! `cargo bench -p mailcert-tests --bench farm_backends`. For SQLite (a file) and
//! PostgreSQL (a private cluster on 127.0.0.1, over TLS, tests/src/postgres.rs):
//! - `mailcert cert import` of one PEM file with its key, one process each time (mean of 20);
//! - importing 1,000 PEM files with keys in one `mailcert cert import`;
//! - `mailcert --json cert list --eligible` on farms of 10,000 and 50,000 certificates
//!   (best of three after a warm-up).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use mailcert_store::{Farm, FarmDb};
use mailcert_tests::binary;
use mailcert_tests::bulk::BenchCa;
use mailcert_tests::postgres::Postgres;

/// How the mailcert processes of one backend find their farm.
struct Backend {
    name: &'static str,
    env: Vec<(String, PathBuf)>,
    /// What the library opens (for PostgreSQL with the password in the URL: the bench
    /// process has no other way to hand it over).
    library: FarmDb,
    key: PathBuf,
}

impl Backend {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(binary());
        c.args(args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs mailcert; seconds and bytes printed.
    fn run(&self, args: &[&str]) -> (f64, usize) {
        let start = Instant::now();
        let out = self
            .command(args)
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        let secs = start.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "{} mailcert {args:?} failed",
            self.name
        );
        (secs, out.stdout.len())
    }
}

/// PEM files (certificate and key) numbered from `from`.
fn pem_files(dir: &Path, from: usize, n: usize) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    let ca = BenchCa::new().unwrap();
    (from..from + n)
        .map(|i| {
            let key = rcgen::KeyPair::generate().unwrap();
            let c = ca.leaf(&key, i).unwrap();
            let path = dir.join(format!("c{i:05}.pem"));
            std::fs::write(&path, format!("{}{}", c.pem(), key.serialize_pem())).unwrap();
            path.to_string_lossy().into_owned()
        })
        .collect()
}

fn bench(b: &Backend, work: &Path) {
    b.run(&["init", "-q"]);
    // One import per process.
    let singles = pem_files(&work.join(format!("{}-single", b.name)), 900_000, 20);
    let mut total = 0.0;
    for f in &singles {
        total += b.run(&["-q", "cert", "import", f]).0;
    }
    println!(
        "{:<10} cert import, one file per process: {:.1} ms mean of {}",
        b.name,
        total * 1e3 / singles.len() as f64,
        singles.len()
    );
    // 1,000 files in one process.
    let many = pem_files(&work.join(format!("{}-many", b.name)), 800_000, 1_000);
    let mut args = vec!["-q", "cert", "import"];
    args.extend(many.iter().map(String::as_str));
    let (secs, _) = b.run(&args);
    println!(
        "{:<10} cert import, 1,000 files in one process: {secs:.2} s, {:.0} files/s",
        b.name,
        1_000.0 / secs
    );
    let mut have = 0;
    for size in [10_000usize, 50_000] {
        let t = Instant::now();
        BenchCa::new()
            .unwrap()
            .populate(&b.library, &b.key, have, size)
            .unwrap();
        have = size;
        eprintln!(
            "  ({} populated to {size} in {:.1} s)",
            b.name,
            t.elapsed().as_secs_f64()
        );
        b.run(&["--json", "cert", "list", "--eligible"]);
        let mut best = f64::MAX;
        let mut bytes = 0;
        for _ in 0..3 {
            let (s, n) = b.run(&["--json", "cert", "list", "--eligible"]);
            best = best.min(s);
            bytes = n;
        }
        println!(
            "{:<10} cert list --eligible --json, farm of {:>6}: {best:.3} s, {:.2} µs per certificate, {:.1} MiB printed",
            b.name,
            size + 1_020,
            best * 1e6 / (size + 1_020) as f64,
            bytes as f64 / 1_048_576.0
        );
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would too: only run when benchmarking.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("farm.db");
    let sqlite = Backend {
        name: "sqlite",
        env: vec![("MAILCERT_DB".into(), db.clone())],
        library: FarmDb::File(db.clone()),
        key: Farm::default_key_path(&db),
    };
    bench(&sqlite, dir.path());

    if let Some(why) = Postgres::unavailable_reason() {
        println!("postgresql: not measured ({why})");
        return;
    }
    let pg = Postgres::start().unwrap();
    let url = format!(
        "{}?sslrootcert={}",
        pg.create_database("bench").unwrap(),
        pg.ca_pem().display()
    );
    let password_file = dir.path().join("db-password");
    std::fs::write(&password_file, pg.password()).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let key = dir.path().join("pg-farm.key");
    let with_password = url.replacen("mailcert@", &format!("mailcert:{}@", pg.password()), 1);
    let postgres = Backend {
        name: "postgresql",
        env: vec![
            ("MAILCERT_DB".into(), PathBuf::from(&url)),
            ("MAILCERT_MASTER_KEY_FILE".into(), key.clone()),
            ("MAILCERT_DB_PASSWORD_FILE".into(), password_file),
        ],
        library: FarmDb::parse(OsStr::new(&with_password)).unwrap(),
        key,
    };
    bench(&postgres, dir.path());
}
