//! Trust anchors and the rustls client configuration (ring provider, webpki
//! verification of the server; there is no way to turn verification off).

use std::sync::{Arc, OnceLock};

use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;

use crate::error::SendError;

/// The operating system's trust anchors, loaded once per process. Loading problems
/// leave whatever could be read (possibly nothing).
fn platform_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        let mut store = RootCertStore::empty();
        store.add_parsable_certificates(loaded.certs);
        store
    })
}

/// Builds the client configuration for one connection.
pub(crate) fn client_config(
    use_platform_roots: bool,
    extra_roots: &[CertificateDer<'static>],
    resolver: Arc<dyn ResolvesClientCert>,
) -> Result<Arc<ClientConfig>, SendError> {
    let mut roots = if use_platform_roots {
        platform_roots().clone()
    } else {
        RootCertStore::empty()
    };
    roots.add_parsable_certificates(extra_roots.iter().cloned());
    if roots.is_empty() {
        return Err(SendError::ServerCertificate {
            reason: "no trust anchors: the platform roots are disabled or unreadable and no root certificate was given".to_owned(),
        });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| SendError::Tls {
            reason: format!("cannot build the server certificate verifier: {e}"),
        })?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SendError::Tls {
            reason: e.to_string(),
        })?
        .with_webpki_verifier(verifier)
        .with_client_cert_resolver(resolver);
    Ok(Arc::new(config))
}
