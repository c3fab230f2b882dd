//! The relay's durable intake, printed as figures (run with
//! `cargo build --release -p mailcert && cargo bench -p mailcert-tests --bench relay`):
//! Postfix's own load generator, `smtp-source -s 4 -m 1000 -d`, feeds `mailcert relay`
//! (each message committed and synced before its 250), and the same feeds a private
//! Postfix on a plain port (its own intake; Postfix syncs each queue file too), in one run.
//! The relay delivers to another private Postfix with its client certificate meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mailcert_tests::postfix::{Postfix, PostfixConfig};
use mailcert_tests::{TestFarm, binary};

const MESSAGES: usize = 1_000;
const SESSIONS: usize = 4;
const APP: &str = "https://bench.contoso.com";
const SMTP_SOURCE: &str = "/usr/sbin/smtp-source";

/// Runs smtp-source against `port`; returns the wall time.
fn smtp_source(port: u16, rcpt: &str) -> Duration {
    let t = Instant::now();
    let out = Command::new(SMTP_SOURCE)
        .args([
            "-s",
            &SESSIONS.to_string(),
            "-m",
            &MESSAGES.to_string(),
            "-d",
            "-f",
            "bench@contoso.com",
            "-t",
            rcpt,
            "-M",
            "bench.localhost",
            &format!("127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "smtp-source failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn rate(d: Duration) -> f64 {
    MESSAGES as f64 / d.as_secs_f64()
}

fn main() {
    if !std::path::Path::new(SMTP_SOURCE).is_file() {
        println!("relay intake: skipped ({SMTP_SOURCE} is missing: apt-get install postfix)");
        return;
    }
    if let Some(why) = Postfix::unavailable_reason() {
        println!("relay intake: skipped ({why})");
        return;
    }
    // Postfix's own intake: a plain port that takes mail for its domain from loopback.
    let intake = Postfix::start(
        PostfixConfig::new()
            .require_client_cert(false)
            .main_cf("smtpd_tls_security_level", "may")
            .main_cf("smtpd_tls_ask_ccert", "no")
            .main_cf(
                "smtpd_relay_restrictions",
                "permit_mynetworks, reject_unauth_destination",
            ),
    )
    .unwrap();
    // The relay's upstream: demands the client chain.
    let upstream = Postfix::start(PostfixConfig::new()).unwrap();
    let f = TestFarm::new();
    f.ok(&["cert", "import", "root-ca.cer"]);
    f.ok(&["cert", "import", "intermediate-ca.pem"]);
    f.ok(&[
        "cert",
        "import",
        "openssl3-p256.pfx",
        "--password-file",
        "password.txt",
        "--friendly-name",
        "bench",
    ]);
    f.ok(&["webapp", "add", APP]);
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--smtp-server",
        "localhost",
        "--port",
        &upstream.starttls_port().to_string(),
        "--from",
        "bench@contoso.com",
        "--certificate",
        "name:bench",
    ]);
    let spool = f.dir.path().join("spool.db");
    let mut relay = Command::new(binary())
        .args(["relay", "--listen", "127.0.0.1:0", "--webapp", APP])
        .env("MAILCERT_DB", f.db())
        .env("MAILCERT_SPOOL", &spool)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(relay.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .split("listening on 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("relay did not start: {line}"));

    let intake_rcpt = format!("rcpt@{}", intake.domains()[0]);
    let upstream_rcpt = format!("rcpt@{}", upstream.domains()[0]);
    // Warm both once (untimed), then best of two each, alternating.
    smtp_source(intake.starttls_port(), &intake_rcpt);
    smtp_source(port, &upstream_rcpt);
    let mut postfix_best = Duration::MAX;
    let mut relay_best = Duration::MAX;
    let mut delivered_intake = MESSAGES;
    let mut delivered_upstream = MESSAGES;
    for _ in 0..2 {
        intake.wait_for_delivered(delivered_intake, Duration::from_secs(300));
        upstream.wait_for_delivered(delivered_upstream, Duration::from_secs(300));
        postfix_best = postfix_best.min(smtp_source(intake.starttls_port(), &intake_rcpt));
        delivered_intake += MESSAGES;
        intake.wait_for_delivered(delivered_intake, Duration::from_secs(300));
        relay_best = relay_best.min(smtp_source(port, &upstream_rcpt));
        delivered_upstream += MESSAGES;
    }
    let got = upstream.wait_for_delivered(delivered_upstream, Duration::from_secs(300));
    let _ = Command::new("kill")
        .args(["-TERM", &relay.id().to_string()])
        .status();
    let _ = relay.wait();
    println!("Durable intake, smtp-source -s {SESSIONS} -m {MESSAGES} -d (best of 2, same run):");
    println!(
        "  Postfix 3.7 intake (plain port, queue files synced): {:>7.1} msg/s",
        rate(postfix_best)
    );
    println!(
        "  mailcert relay intake (spool synced before each 250): {:>7.1} msg/s",
        rate(relay_best)
    );
    println!(
        "  -> relay / Postfix: {:.2}x",
        rate(relay_best) / rate(postfix_best)
    );
    println!(
        "  the relay delivered {got} of {delivered_upstream} messages to the upstream Postfix with its client certificate"
    );
}
