//! Trust anchors and the rustls client configuration (ring provider, webpki
//! verification of the server; there is no way to turn verification off).

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

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

/// Verifies the server against the farm's roots first and reads the platform's roots
/// only when that fails. The answer is the one a verifier over both sets would give:
/// whatever verifies under the farm's roots alone verifies under both, and everything
/// else is judged by the verifier over both. It only saves reading and parsing the
/// system store (hundreds of files) in every process that sends to a relay whose CA
/// the farm holds, which is the common case.
#[derive(Debug)]
struct FarmFirst {
    farm: Option<Arc<WebPkiServerVerifier>>,
    extra: Vec<CertificateDer<'static>>,
    full: OnceLock<Result<Arc<WebPkiServerVerifier>, String>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

fn verifier(
    roots: RootCertStore,
    provider: &Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("cannot build the server certificate verifier: {e}"))
}

impl FarmFirst {
    /// The verifier over the platform's roots and the farm's.
    fn full(&self) -> Result<&Arc<WebPkiServerVerifier>, rustls::Error> {
        self.full
            .get_or_init(|| {
                let mut roots = platform_roots().clone();
                roots.add_parsable_certificates(self.extra.iter().cloned());
                if roots.is_empty() {
                    return Err("no trust anchors: the platform roots are unreadable and the farm holds no root certificate".into());
                }
                verifier(roots, &self.provider)
            })
            .as_ref()
            .map_err(|e| rustls::Error::General(e.clone()))
    }
}

impl ServerCertVerifier for FarmFirst {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(farm) = &self.farm
            && let Ok(ok) =
                farm.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            return Ok(ok);
        }
        self.full()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Builds the client configuration for one connection.
pub(crate) fn client_config(
    use_platform_roots: bool,
    extra_roots: &[CertificateDer<'static>],
    resolver: Arc<dyn ResolvesClientCert>,
) -> Result<Arc<ClientConfig>, SendError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls_err = |reason: String| SendError::Tls { reason };
    let mut farm_roots = RootCertStore::empty();
    farm_roots.add_parsable_certificates(extra_roots.iter().cloned());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(e.to_string()))?;
    let config = if use_platform_roots {
        let farm = if farm_roots.is_empty() {
            None
        } else {
            Some(verifier(farm_roots, &provider).map_err(tls_err)?)
        };
        // `dangerous()` is only the door for a verifier of our own: FarmFirst verifies
        // every server with webpki, as the default verifier would over both root sets.
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(FarmFirst {
                farm,
                extra: extra_roots.to_vec(),
                full: OnceLock::new(),
                provider: provider.clone(),
            }))
            .with_client_cert_resolver(resolver)
    } else {
        if farm_roots.is_empty() {
            return Err(SendError::ServerCertificate {
                reason: "no trust anchors: the platform roots are disabled or unreadable and no root certificate was given".to_owned(),
            });
        }
        builder
            .with_webpki_verifier(verifier(farm_roots, &provider).map_err(tls_err)?)
            .with_client_cert_resolver(resolver)
    };
    Ok(Arc::new(config))
}
