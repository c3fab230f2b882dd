//! The loopback relay as the tests and benchmarks use it: `localhost-server` (with the
//! intermediate) as its certificate, demanding a client certificate that chains to the
//! test root, which is all it trusts, so a client must send its intermediate.

use mailcert_testsmtp::{ClientAuth, Config, TestServer, pem};

use crate::fixture;

fn certs(name: &str) -> Vec<rustls_pki_types::CertificateDer<'static>> {
    pem::load_certs(fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// The relay's configuration, for callers that add policies (AUTH, refused recipients).
/// STARTTLS mode also refuses MAIL before TLS, as Postfix's `encrypt` level does.
pub fn relay_config(implicit_tls: bool) -> Config {
    let mut chain = certs("localhost-server.pem");
    chain.extend(certs("intermediate-ca.pem"));
    let key = pem::load_key(fixture("localhost-server.key"))
        .unwrap_or_else(|e| panic!("fixture localhost-server.key: {e}"));
    let cfg = if implicit_tls {
        Config::implicit_tls(chain, key)
    } else {
        Config::starttls(chain, key).require_tls(true)
    };
    cfg.client_auth(ClientAuth::Required(certs("root-ca.pem")))
}

/// Starts a relay with [`relay_config`].
pub fn start(config: Config) -> TestServer {
    TestServer::start(config).unwrap_or_else(|e| panic!("starting the loopback relay: {e}"))
}

/// Every connection the server accepted before now, with each one ended.
///
/// A probe connection goes in behind any connection still waiting in the listen queue
/// (the server accepts in order), so once the probe shows up in the log, everything that
/// came before it is there too; then the wait is for every earlier connection to end.
/// This replaces "sleep, then assert that nothing happened" with a real condition.
pub fn settled(server: &TestServer) -> Vec<mailcert_testsmtp::ConnectionInfo> {
    let timeout = std::time::Duration::from_secs(10);
    let probe = std::net::TcpStream::connect(server.addr())
        .unwrap_or_else(|e| panic!("probe connection to the relay: {e}"));
    let local = probe
        .local_addr()
        .unwrap_or_else(|e| panic!("probe address: {e}"));
    let deadline = std::time::Instant::now() + timeout;
    while !server.connection_log().iter().any(|c| c.peer == local) {
        assert!(
            std::time::Instant::now() < deadline,
            "the relay did not accept the probe connection"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    drop(probe);
    let log = server.wait_for_idle(timeout);
    assert!(
        log.iter().all(|c| c.closed),
        "connections still open after {timeout:?}: {log:?}"
    );
    log.into_iter().filter(|c| c.peer != local).collect()
}
