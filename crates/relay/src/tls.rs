//! The relay's STARTTLS server configuration, from a certificate of the farm.

use std::sync::Arc;

use mailcert_store::ServerIdentity;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::{RelayError, Result};

/// A rustls server configuration (ring; TLS 1.2 and 1.3) presenting `identity`.
pub fn server_config(identity: &ServerIdentity) -> Result<Arc<rustls::ServerConfig>> {
    let chain = identity
        .chain
        .iter()
        .cloned()
        .map(CertificateDer::from)
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key.to_vec()));
    let refuse = |e: rustls::Error| RelayError::Rejected {
        rule: "server-certificate",
        message: format!("{}: cannot serve TLS with it: {e}", identity.described),
    };
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(refuse)?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(refuse)?;
    Ok(Arc::new(config))
}
