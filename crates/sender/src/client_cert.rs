//! Presenting the client certificate: a rustls resolver that hands over the full
//! chain and records whether (and how) the server asked for a certificate.

use std::sync::{Arc, Mutex, PoisonError};

use rustls::SignatureScheme;
use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;

/// What the server's CertificateRequest said, and what we answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Request {
    /// The CA names the server hinted at (DER distinguished names).
    pub(crate) hints: Vec<Vec<u8>>,
    /// The signature schemes the server accepts.
    pub(crate) schemes: Vec<SignatureScheme>,
    /// Whether our chain was sent (a key was configured and can sign with one of
    /// `schemes`).
    pub(crate) sent: bool,
}

/// Resolver used for every TLS connection, with or without an identity.
#[derive(Debug)]
pub(crate) struct RecordingResolver {
    key: Option<Arc<CertifiedKey>>,
    request: Mutex<Option<Request>>,
}

impl RecordingResolver {
    pub(crate) fn new(key: Option<Arc<CertifiedKey>>) -> Self {
        RecordingResolver {
            key,
            request: Mutex::new(None),
        }
    }

    /// The server's request, if it sent one.
    pub(crate) fn request(&self) -> Option<Request> {
        self.request
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ResolvesClientCert for RecordingResolver {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let key = self
            .key
            .as_ref()
            .filter(|key| key.key.choose_scheme(sigschemes).is_some());
        *self.request.lock().unwrap_or_else(PoisonError::into_inner) = Some(Request {
            hints: root_hint_subjects.iter().map(|h| h.to_vec()).collect(),
            schemes: sigschemes.to_vec(),
            sent: key.is_some(),
        });
        key.cloned()
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}
