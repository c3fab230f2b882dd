//! Throughput of the sender against the loopback test server (STARTTLS, client
//! certificate required, P-256 identity with its intermediate):
//!
//! 1. 1,000 small messages over one reused session (messages per second);
//! 2. 100 fresh connect + send + quit cycles (connections per second).
//!
//! Run with `cargo bench -p mailcert-sender --bench throughput`. Each phase stops
//! early if it runs past its time budget, so the whole run stays well under a minute.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mailcert_sender::{ClientIdentity, ConnectOptions, Envelope, Security, Session};
use mailcert_testsmtp::{ClientAuth, Config, TestServer, pem};

const MESSAGES: usize = 1_000;
const CONNECTIONS: usize = 100;
const PHASE_BUDGET: Duration = Duration::from_secs(25);
const MESSAGE: &[u8] = b"From: bench@example.org\r\nTo: sink@example.org\r\nSubject: bench\r\n\r\nA small message body.\r\n";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/files")
        .join(name)
}

fn chain(leaf: &str) -> Vec<rustls_pki_types::CertificateDer<'static>> {
    let mut chain = pem::load_certs(fixture(&format!("{leaf}.pem"))).unwrap();
    chain.extend(pem::load_certs(fixture("intermediate-ca.pem")).unwrap());
    chain
}

fn main() {
    let root = pem::load_certs(fixture("root-ca.pem")).unwrap();
    let server = TestServer::start(
        Config::starttls(
            chain("localhost-server"),
            pem::load_key(fixture("localhost-server.key")).unwrap(),
        )
        .client_auth(ClientAuth::Required(root.clone())),
    )
    .unwrap();

    let mut options = ConnectOptions::new("127.0.0.1", server.port());
    options.security = Security::StartTls;
    options.helo = "bench.test".to_owned();
    options.use_platform_roots = false;
    options.extra_roots = root;
    options.timeout = Duration::from_secs(10);
    options.identity = Some(
        ClientIdentity::new(
            chain("client-p256"),
            pem::load_key(fixture("client-p256.key")).unwrap(),
        )
        .unwrap(),
    );
    let envelope = Envelope::new("bench@example.org", ["sink@example.org"]);

    // Phase 1: one session, many messages.
    let mut session = Session::connect(&options).unwrap();
    let version = session.report().tls_version.clone().unwrap_or_default();
    let started = Instant::now();
    let mut sent = 0;
    while sent < MESSAGES && started.elapsed() < PHASE_BUDGET {
        session.send(&envelope, MESSAGE).unwrap();
        sent += 1;
    }
    let elapsed = started.elapsed();
    session.quit().unwrap();
    println!(
        "reused session ({version}): {sent} messages in {:.3} s = {:.0} messages/s ({:.1} µs each)",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64(),
        elapsed.as_micros() as f64 / sent as f64,
    );

    // Phase 2: a fresh connection (TCP + EHLO + STARTTLS + TLS with client
    // certificate + EHLO) per message.
    let started = Instant::now();
    let mut cycles = 0;
    while cycles < CONNECTIONS && started.elapsed() < PHASE_BUDGET {
        let mut session = Session::connect(&options).unwrap();
        session.send(&envelope, MESSAGE).unwrap();
        session.quit().unwrap();
        cycles += 1;
    }
    let elapsed = started.elapsed();
    println!(
        "fresh connections: {cycles} connect+send+quit cycles in {:.3} s = {:.1} connections/s ({:.2} ms each)",
        elapsed.as_secs_f64(),
        cycles as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / cycles as f64,
    );

    let received = server.wait_for_messages(sent + cycles, Duration::from_secs(10));
    assert_eq!(
        received.len(),
        sent + cycles,
        "every message reached the server"
    );
    assert!(received.iter().all(|m| m.client_chain.len() == 2));
    println!(
        "server: {} messages on {} connections, all with the 2-certificate client chain",
        received.len(),
        server.connections()
    );
}
