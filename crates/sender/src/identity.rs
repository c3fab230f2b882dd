//! The client identity (certificate chain and private key) and SMTP credentials.

use std::fmt;
use std::sync::Arc;

use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::{Zeroize, Zeroizing};

use crate::report::sha1_hex;

/// Why a [`ClientIdentity`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The chain holds no certificate.
    #[error("the client certificate chain is empty")]
    EmptyChain,
    /// The key is not one ring can sign TLS handshakes with.
    #[error("unsupported or malformed private key: {0}")]
    UnsupportedKey(String),
    /// The key does not belong to the leaf certificate.
    #[error("the private key does not match the client certificate's public key")]
    KeyMismatch,
    /// The PEM input holds no certificate or no key, or is malformed.
    #[error("PEM input: {0}")]
    Pem(String),
}

/// The certificate chain and private key presented to the relay.
///
/// The key is parsed into ring's signing key at construction and the DER bytes are
/// zeroized at once; what remains lives inside rustls's `CertifiedKey`. `Debug` shows
/// the leaf's thumbprint, never the key.
#[derive(Clone)]
pub struct ClientIdentity {
    certified: Arc<CertifiedKey>,
    thumbprint: String,
}

impl ClientIdentity {
    /// Builds an identity from a chain (leaf first, then intermediates; the root is
    /// not needed) and the leaf's private key (PKCS#8; PKCS#1 and SEC1 as ring allows).
    ///
    /// Checks that the key can sign and belongs to the leaf. The key's bytes are
    /// zeroized before this returns, whatever the outcome.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        mut key: PrivateKeyDer<'static>,
    ) -> Result<Self, IdentityError> {
        let signer = rustls::crypto::ring::sign::any_supported_type(&key);
        key.zeroize();
        let signer = signer.map_err(|e| IdentityError::UnsupportedKey(e.to_string()))?;
        let leaf = chain.first().ok_or(IdentityError::EmptyChain)?;
        let thumbprint = sha1_hex(leaf.as_ref());
        let certified = CertifiedKey::new(chain, signer);
        match certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(rustls::Error::InconsistentKeys(_)) => return Err(IdentityError::KeyMismatch),
            Err(e) => return Err(IdentityError::UnsupportedKey(e.to_string())),
        }
        Ok(ClientIdentity {
            certified: Arc::new(certified),
            thumbprint,
        })
    }

    /// Builds an identity from PEM text: every certificate in `chain_pem` (leaf
    /// first) and the first private key in `key_pem`.
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, IdentityError> {
        let chain = CertificateDer::pem_slice_iter(chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| IdentityError::Pem(e.to_string()))?;
        if chain.is_empty() {
            return Err(IdentityError::Pem("no CERTIFICATE section".to_owned()));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| IdentityError::Pem(e.to_string()))?;
        ClientIdentity::new(chain, key)
    }

    /// The chain presented, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.certified.cert
    }

    /// SHA-1 thumbprint of the leaf, upper-case hex without separators (as Windows
    /// shows it).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    pub(crate) fn certified_key(&self) -> Arc<CertifiedKey> {
        self.certified.clone()
    }
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("leaf_sha1", &self.thumbprint)
            .field("chain_len", &self.certified.cert.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

/// SMTP AUTH credentials. The password is zeroized on drop and never printed.
#[derive(Clone)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: Zeroizing<String>,
}

impl Credentials {
    /// Credentials from a user name and a password.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            user: user.into(),
            password: Zeroizing::new(password.into()),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}
