//! Shared set-up for the sender's integration tests: fixtures, servers, options.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::time::Duration;

use mailcert_sender::{ClientIdentity, ConnectOptions, Security};
use mailcert_testsmtp::{ClientAuth, Config, TestServer, pem};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/files")
        .join(name)
}

pub fn certs(name: &str) -> Vec<CertificateDer<'static>> {
    pem::load_certs(fixture(name)).unwrap()
}

pub fn key(name: &str) -> PrivateKeyDer<'static> {
    pem::load_key(fixture(name)).unwrap()
}

/// The root CA, the only trust anchor the servers and the client know.
pub fn root() -> Vec<CertificateDer<'static>> {
    certs("root-ca.pem")
}

/// The chain of a leaf issued by the intermediate: leaf + intermediate.
pub fn chain_of(leaf: &str) -> Vec<CertificateDer<'static>> {
    let mut chain = certs(&format!("{leaf}.pem"));
    chain.extend(certs("intermediate-ca.pem"));
    chain
}

/// A client identity from the fixtures, with or without the intermediate.
pub fn identity(leaf: &str, with_intermediate: bool) -> ClientIdentity {
    let chain = if with_intermediate {
        chain_of(leaf)
    } else {
        certs(&format!("{leaf}.pem"))
    };
    ClientIdentity::new(chain, key(&format!("{leaf}.key"))).unwrap()
}

/// STARTTLS server with the localhost certificate (full chain).
pub fn starttls_config() -> Config {
    Config::starttls(chain_of("localhost-server"), key("localhost-server.key"))
}

/// Implicit-TLS server with the localhost certificate (full chain).
pub fn implicit_config() -> Config {
    Config::implicit_tls(chain_of("localhost-server"), key("localhost-server.key"))
}

/// A server demanding a client certificate that chains to the root CA alone.
pub fn requiring(config: Config) -> Config {
    config.client_auth(ClientAuth::Required(root()))
}

pub fn start(config: Config) -> TestServer {
    TestServer::start(config).unwrap()
}

/// Options for 127.0.0.1:<port> trusting only the test root.
pub fn options(server: &TestServer, security: Security) -> ConnectOptions {
    let mut options = ConnectOptions::new("127.0.0.1", server.port());
    options.security = security;
    options.helo = "client.test".to_owned();
    options.extra_roots = root();
    options.use_platform_roots = false;
    options.timeout = Duration::from_secs(10);
    options
}

pub const WAIT: Duration = Duration::from_secs(5);

pub const MESSAGE: &[u8] =
    b"From: app@example.org\r\nTo: user@example.org\r\nSubject: test\r\n\r\nHello.\r\n";
