//! Store benchmarks, printed as figures (run with `cargo bench -p mailcert-tests --bench store`):
//! - importing a directory of 1,000 PEM certificates with keys in one `mailcert cert import`;
//! - `mailcert --json cert list --eligible` on farms of 10,000 / 50,000 / 100,000
//!   certificates, to show the time and memory grow no worse than linearly.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use mailcert_store::{Farm, NewCert, StoreName, cert_facts};
use mailcert_tests::binary;

fn issuer() -> (rcgen::Issuer<'static, rcgen::KeyPair>, rcgen::KeyPair) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "bench CA");
    let _ca = p.clone().self_signed(&ca_key).unwrap();
    let spare = rcgen::KeyPair::generate().unwrap();
    (rcgen::Issuer::new(p, ca_key), spare)
}

fn leaf(
    issuer: &rcgen::Issuer<'_, rcgen::KeyPair>,
    key: &rcgen::KeyPair,
    i: usize,
) -> rcgen::Certificate {
    let mut p = rcgen::CertificateParams::new(vec![format!("client{i}.bench.test")]).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, format!("client{i}.bench.test"));
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    p.not_before = rcgen::date_time_ymd(2025, 1, 1);
    p.not_after = rcgen::date_time_ymd(2045, 1, 1);
    p.serial_number = Some(rcgen::SerialNumber::from(
        (i as u64 + 1).to_be_bytes().to_vec(),
    ));
    p.signed_by(key, issuer).unwrap()
}

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
    let (issuer, _) = issuer();
    for i in 0..1_000 {
        let key = rcgen::KeyPair::generate().unwrap();
        let c = leaf(&issuer, &key, i);
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

fn populate(
    db: &Path,
    from: usize,
    to: usize,
    issuer: &rcgen::Issuer<'_, rcgen::KeyPair>,
    key: &rcgen::KeyPair,
) {
    let mut farm = Farm::open(db, &Farm::default_key_path(db)).unwrap();
    let sealed = farm
        .master_key()
        .unwrap()
        .seal(b"bench key", b"bench")
        .unwrap();
    let batch = 5_000;
    let mut i = from;
    while i < to {
        let end = (i + batch).min(to);
        let ders: Vec<Vec<u8>> = (i..end)
            .map(|n| leaf(issuer, key, n).der().to_vec())
            .collect();
        farm.write(|tx| {
            for (k, der) in ders.iter().enumerate() {
                let facts = cert_facts(Path::new("bench"), der)?;
                let id = tx.insert(&NewCert {
                    facts: &facts,
                    der,
                    // One in ten is kept out of End Entity, so --eligible filters.
                    store: if (i + k).is_multiple_of(10) {
                        StoreName::Pending
                    } else {
                        StoreName::EndEntity
                    },
                    friendly_name: None,
                    now: 0,
                })?;
                tx.set_private_key(id, &sealed, false)?;
            }
            Ok::<_, mailcert_store::Error>(())
        })
        .unwrap();
        i = end;
    }
}

fn bench_list(dir: &Path) {
    let db = dir.join("list.db");
    Command::new(binary())
        .args(["init", "-q"])
        .env("MAILCERT_DB", &db)
        .status()
        .unwrap();
    let (issuer, key) = issuer();
    let mut have = 0;
    for size in [10_000usize, 50_000, 100_000] {
        let t = Instant::now();
        populate(&db, have, size, &issuer, &key);
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
