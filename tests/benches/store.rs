//! Store benchmarks, printed as figures (run with `cargo bench -p mailcert-tests --bench store`):
//! - importing a directory of 1,000 PEM certificates with keys in one `mailcert cert import`;
//! - `mailcert --json cert list --eligible` on farms of 10,000 / 50,000 / 100,000
//!   certificates, to show the time and memory grow no worse than linearly.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use mailcert_store::{Farm, FarmDb};
use mailcert_tests::binary;
use mailcert_tests::bulk::BenchCa;

/// Peak resident memory (VmHWM) of a running process, in KiB, while /proc shows it.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs mailcert; returns seconds, bytes printed and peak RSS in KiB (sampled).
fn mailcert(db: &Path, args: &[&str]) -> (f64, usize, u64) {
    use std::io::Read;
    let start = Instant::now();
    let mut child = Command::new(binary())
        .args(args)
        .env("MAILCERT_DB", db)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut n = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(k) = stdout.read(&mut buf) {
            if k == 0 {
                break;
            }
            n += k;
        }
        n
    });
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Some(k) = vm_hwm_kib(pid) {
            peak = peak.max(k);
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let status = child.wait().unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert!(status.success(), "mailcert {args:?} failed");
    (secs, reader.join().unwrap(), peak)
}

fn bench_import(dir: &Path) {
    let certs = dir.join("pem");
    std::fs::create_dir_all(&certs).unwrap();
    let ca = BenchCa::new().unwrap();
    for i in 0..1_000 {
        let key = rcgen::KeyPair::generate().unwrap();
        let c = ca.leaf(&key, i).unwrap();
        let pem = format!("{}{}", c.pem(), key.serialize_pem());
        std::fs::write(certs.join(format!("c{i:04}.pem")), pem).unwrap();
    }
    let db = dir.join("import.db");
    Command::new(binary())
        .args(["init", "-q"])
        .env("MAILCERT_DB", &db)
        .status()
        .unwrap();
    let mut files: Vec<String> = std::fs::read_dir(&certs)
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut args = vec!["-q", "cert", "import"];
    args.extend(files.iter().map(String::as_str));
    let (secs, _, rss) = mailcert(&db, &args);
    println!(
        "import 1,000 PEM files with keys (one command): {secs:.2} s, {:.0} files/s, peak RSS {:.1} MiB",
        1_000.0 / secs,
        rss as f64 / 1024.0
    );
}

fn bench_list(dir: &Path) {
    let db = dir.join("list.db");
    Command::new(binary())
        .args(["init", "-q"])
        .env("MAILCERT_DB", &db)
        .status()
        .unwrap();
    let ca = BenchCa::new().unwrap();
    let mut have = 0;
    for size in [10_000usize, 50_000, 100_000] {
        let t = Instant::now();
        ca.populate(
            &FarmDb::File(db.clone()),
            &Farm::default_key_path(&db),
            have,
            size,
        )
        .unwrap();
        have = size;
        eprintln!(
            "  (populated to {size} in {:.1} s)",
            t.elapsed().as_secs_f64()
        );
        // Warm the page cache once, then take the best of three.
        mailcert(&db, &["--json", "cert", "list", "--eligible"]);
        let mut best = f64::MAX;
        let mut bytes = 0;
        let mut rss = 0;
        for _ in 0..3 {
            let (s, b, r) = mailcert(&db, &["--json", "cert", "list", "--eligible"]);
            best = best.min(s);
            bytes = b;
            rss = rss.max(r);
        }
        println!(
            "cert list --eligible --json, farm of {size:>6}: {:.3} s, {} printed, {:.1} MiB output, {:.2} µs per certificate, peak RSS {:.1} MiB",
            best,
            size - size / 10,
            bytes as f64 / 1_048_576.0,
            best * 1e6 / size as f64,
            rss as f64 / 1024.0
        );
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would too: only run when benchmarking.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    bench_import(dir.path());
    bench_list(dir.path());
}
