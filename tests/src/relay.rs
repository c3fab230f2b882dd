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
