//! Private keys: bringing every format to one PKCS#8 form, and checking that a key
//! belongs to a certificate.
#![deny(clippy::indexing_slicing)]

use std::fmt;
use std::path::Path;

use der::{Decode, Encode};
use pkcs8::{ObjectIdentifier, PrivateKeyInfoRef};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");

/// A private key in PKCS#8 DER, held in memory that is wiped when dropped.
/// It prints redacted and cannot be serialized or cloned by accident.
pub struct PrivateKey {
    pkcs8: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

impl PrivateKey {
    /// Wraps a PKCS#8 DER key already in the normal form (a request's generated key).
    pub(crate) fn from_pkcs8(pkcs8: Zeroizing<Vec<u8>>) -> PrivateKey {
        PrivateKey { pkcs8 }
    }

    /// The PKCS#8 DER, moved out (still wiped when dropped).
    pub(crate) fn into_pkcs8(self) -> Zeroizing<Vec<u8>> {
        self.pkcs8
    }

    /// The PKCS#8 DER. Named so that every use of the secret stands out in review.
    pub fn dangerously_expose_pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }
}

/// A private key as found in a file, before it is brought to PKCS#8.
pub(crate) enum RawKey {
    /// `PRIVATE KEY` or a PKCS#12 key bag.
    Pkcs8(Zeroizing<Vec<u8>>),
    /// `ENCRYPTED PRIVATE KEY`.
    EncryptedPkcs8(Vec<u8>),
    /// `RSA PRIVATE KEY`.
    Pkcs1(Zeroizing<Vec<u8>>),
    /// `EC PRIVATE KEY`.
    Sec1(Zeroizing<Vec<u8>>),
    /// `RSA PRIVATE KEY` or `EC PRIVATE KEY` with `Proc-Type: 4,ENCRYPTED` (old OpenSSL).
    LegacyEncrypted(crate::parse::LegacyEncryptedKey),
}

/// Brings a raw key to a PKCS#8 form that ring (and so rustls) accepts: PKCS#1 and SEC1
/// are wrapped, encrypted PKCS#8 decrypted, EC keys re-encoded with their public key.
pub(crate) fn normalize(path: &Path, raw: RawKey, password: Option<&str>) -> Result<PrivateKey> {
    let pkcs8 = match raw {
        RawKey::Pkcs8(der) => der,
        RawKey::EncryptedPkcs8(der) => decrypt_pkcs8(path, &der, password)?,
        RawKey::Pkcs1(der) => wrap_pkcs1(path, &der)?,
        RawKey::Sec1(der) => sec1_to_pkcs8(path, &der)?,
        RawKey::LegacyEncrypted(enc) => decrypt_legacy(path, &enc, password)?,
    };
    let info = PrivateKeyInfoRef::from_der(&pkcs8)
        .map_err(|e| Error::bad_file(path, format!("the private key is not valid PKCS#8: {e}")))?;
    let alg = info.algorithm.oid;
    if alg == OID_EC {
        let curve = info
            .algorithm
            .parameters
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        return Ok(PrivateKey {
            pkcs8: ec_to_pkcs8(path, &pkcs8, curve, EcForm::Pkcs8)?,
        });
    }
    if alg == OID_ED448 {
        // Kept as it came (PKCS#8 v1 or v2); a v2 public key that does not belong to the
        // private key is refused by the decoder.
        ed448_goldilocks::SigningKey::try_from(info.clone()).map_err(|e| {
            Error::bad_file(path, format!("the Ed448 private key is malformed: {e}"))
        })?;
    }
    if alg == OID_RSA {
        // Check that the RSA structure inside is sound now rather than at first use.
        pkcs1::RsaPrivateKey::<der::asn1::UintRef<'_>>::from_der(info.private_key.as_bytes())
            .map_err(|e| Error::bad_file(path, format!("the RSA private key is malformed: {e}")))?;
    }
    Ok(PrivateKey { pkcs8 })
}

/// Most PBKDF2 iterations accepted for an encrypted key: as p12-keystore allows for PFX
/// files (OpenSSL writes 2048, keytool 10,000, the strictest guidance 600,000).
const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;
/// Most memory scrypt may ask for (128 * r * N bytes), and its largest parallelism.
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
const MAX_SCRYPT_PARALLELISM: u16 = 16;

/// Refuses key-derivation parameters that ask for an absurd amount of work before any is
/// done: a file must not make the importer spin for hours or allocate a petabyte.
fn check_kdf_cost(path: &Path, scheme: &pkcs8::pkcs5::EncryptionScheme) -> Result<()> {
    use pkcs8::pkcs5::{EncryptionScheme, pbes2::Kdf};
    let EncryptionScheme::Pbes2(params) = scheme else {
        return Ok(());
    };
    let too_costly = |what: String| {
        Error::bad_file(
            path,
            format!(
                "the encrypted private key asks for {what}; re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
            ),
        )
    };
    match &params.kdf {
        Kdf::Pbkdf2(p) if p.iteration_count > MAX_PBKDF2_ITERATIONS => Err(too_costly(format!(
            "{} PBKDF2 iterations (at most {MAX_PBKDF2_ITERATIONS} are accepted)",
            p.iteration_count
        ))),
        Kdf::Scrypt(p) => {
            let memory = 128u64
                .checked_mul(p.cost_parameter)
                .and_then(|m| m.checked_mul(u64::from(p.block_size)));
            match memory {
                Some(m)
                    if m <= MAX_SCRYPT_MEMORY && p.parallelization <= MAX_SCRYPT_PARALLELISM =>
                {
                    Ok(())
                }
                _ => Err(too_costly(format!(
                    "scrypt with N={}, r={}, p={} (at most {} MiB and p={MAX_SCRYPT_PARALLELISM} are accepted)",
                    p.cost_parameter,
                    p.block_size,
                    p.parallelization,
                    MAX_SCRYPT_MEMORY >> 20
                ))),
            }
        }
        _ => Ok(()),
    }
}

fn decrypt_pkcs8(path: &Path, der: &[u8], password: Option<&str>) -> Result<Zeroizing<Vec<u8>>> {
    let password = password.ok_or_else(|| Error::PasswordRequired {
        path: path.to_path_buf(),
    })?;
    let enc = pkcs8::EncryptedPrivateKeyInfoRef::from_der(der).map_err(|e| {
        Error::bad_file(
            path,
            format!("the encrypted private key is malformed or uses an unsupported scheme (PBES1?): {e}; re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`"),
        )
    })?;
    check_kdf_cost(path, &enc.encryption_algorithm)?;
    let doc = enc
        .decrypt(password.as_bytes())
        .map_err(|_| Error::WrongPassword {
            path: path.to_path_buf(),
        })?;
    Ok(Zeroizing::new(doc.as_bytes().to_vec()))
}

/// Decrypts an old OpenSSL `Proc-Type: 4,ENCRYPTED` key and brings it to PKCS#8. Bad
/// padding, or plaintext that is not the key the label announced, is the wrong password:
/// that is what either looks like when the password is wrong.
fn decrypt_legacy(
    path: &Path,
    enc: &crate::parse::LegacyEncryptedKey,
    password: Option<&str>,
) -> Result<Zeroizing<Vec<u8>>> {
    use crate::parse::LegacyInner;
    let password = password.ok_or_else(|| Error::PasswordRequired {
        path: path.to_path_buf(),
    })?;
    let wrong = || Error::WrongPassword {
        path: path.to_path_buf(),
    };
    let plain = enc.decrypt(password).map_err(|_| wrong())?;
    match enc.inner {
        LegacyInner::Pkcs1 => {
            pkcs1::RsaPrivateKey::<der::asn1::UintRef<'_>>::from_der(&plain)
                .map_err(|_| wrong())?;
            wrap_pkcs1(path, &plain)
        }
        LegacyInner::Sec1 => {
            sec1::EcPrivateKey::from_der(&plain).map_err(|_| wrong())?;
            sec1_to_pkcs8(path, &plain)
        }
    }
}

fn wrap_pkcs1(path: &Path, der: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    pkcs1::RsaPrivateKey::<der::asn1::UintRef<'_>>::from_der(der)
        .map_err(|e| Error::bad_file(path, format!("the RSA private key is malformed: {e}")))?;
    let octets = der::asn1::OctetStringRef::new(der)
        .map_err(|e| Error::Internal(format!("PKCS#1 wrap: {e}")))?;
    let info = PrivateKeyInfoRef::new(
        pkcs8::spki::AlgorithmIdentifier {
            oid: OID_RSA,
            parameters: Some(der::asn1::AnyRef::NULL),
        },
        octets,
    );
    let out = info
        .to_der()
        .map_err(|e| Error::Internal(format!("PKCS#1 wrap: {e}")))?;
    Ok(Zeroizing::new(out))
}

fn sec1_to_pkcs8(path: &Path, der: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let ec = sec1::EcPrivateKey::from_der(der)
        .map_err(|e| Error::bad_file(path, format!("the EC private key is malformed: {e}")))?;
    let curve = ec.parameters.and_then(|p| p.named_curve());
    ec_to_pkcs8(path, der, curve, EcForm::Sec1)
}

/// How an EC private key arrived.
#[derive(Debug, Clone, Copy)]
enum EcForm {
    /// `EC PRIVATE KEY` (RFC 5915).
    Sec1,
    /// PKCS#8, possibly without its public key (Java keytool).
    Pkcs8,
}

/// Decodes a P-256, P-384 or P-521 key and re-encodes it as PKCS#8 carrying its public
/// key, the one EC form ring (and so rustls) accepts. (ring cannot sign with P-521: such
/// a key is stored, and its certificate is ineligible by key type.)
fn ec_to_pkcs8(
    path: &Path,
    der: &[u8],
    curve: Option<ObjectIdentifier>,
    form: EcForm,
) -> Result<Zeroizing<Vec<u8>>> {
    use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
    let malformed = |name: &str, e: String| {
        Error::bad_file(path, format!("the {name} private key is malformed: {e}"))
    };
    let encoded = match curve {
        Some(c) if c == OID_P256 => match form {
            EcForm::Sec1 => p256::SecretKey::from_sec1_der(der).map_err(|e| e.to_string()),
            EcForm::Pkcs8 => p256::SecretKey::from_pkcs8_der(der).map_err(|e| e.to_string()),
        }
        .map_err(|e| malformed("P-256", e))?
        .to_pkcs8_der(),
        Some(c) if c == OID_P384 => match form {
            EcForm::Sec1 => p384::SecretKey::from_sec1_der(der).map_err(|e| e.to_string()),
            EcForm::Pkcs8 => p384::SecretKey::from_pkcs8_der(der).map_err(|e| e.to_string()),
        }
        .map_err(|e| malformed("P-384", e))?
        .to_pkcs8_der(),
        Some(c) if c == OID_P521 => match form {
            EcForm::Sec1 => p521::SecretKey::from_sec1_der(der).map_err(|e| e.to_string()),
            EcForm::Pkcs8 => p521::SecretKey::from_pkcs8_der(der).map_err(|e| e.to_string()),
        }
        .map_err(|e| malformed("P-521", e))?
        .to_pkcs8_der(),
        Some(c) => {
            return Err(Error::bad_file(
                path,
                format!(
                    "the EC private key is on curve {c}, whose match with the certificate cannot be checked here (P-256, P-384 and P-521 can); import the certificate without its key"
                ),
            ));
        }
        None => {
            return Err(Error::bad_file(
                path,
                "the EC private key does not name its curve",
            ));
        }
    };
    encoded
        .map(|d| Zeroizing::new(d.as_bytes().to_vec()))
        .map_err(|e| Error::Internal(format!("EC key re-encoding: {e}")))
}

/// The public key that a private key implies, in the form the certificate carries it.
enum DerivedPublic {
    Rsa {
        modulus: Vec<u8>,
        exponent: Vec<u8>,
    },
    /// EC points (uncompressed and compressed) or the Ed25519 key.
    Points(Vec<Vec<u8>>),
    /// A key type whose public half cannot be derived here.
    Unsupported(String),
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

fn derive_public(path: &Path, key: &PrivateKey) -> Result<DerivedPublic> {
    use p256::pkcs8::DecodePrivateKey;
    let malformed = |what: &str, e: String| {
        Error::bad_file(path, format!("the {what} private key is malformed: {e}"))
    };
    let info =
        PrivateKeyInfoRef::from_der(&key.pkcs8).map_err(|e| malformed("PKCS#8", e.to_string()))?;
    let alg = info.algorithm.oid;
    if alg == OID_RSA {
        let rsa =
            pkcs1::RsaPrivateKey::<der::asn1::UintRef<'_>>::from_der(info.private_key.as_bytes())
                .map_err(|e| malformed("RSA", e.to_string()))?;
        return Ok(DerivedPublic::Rsa {
            modulus: strip_zeros(rsa.modulus.as_bytes()).to_vec(),
            exponent: strip_zeros(rsa.public_exponent.as_bytes()).to_vec(),
        });
    }
    if alg == OID_EC {
        if let Ok(k) = p256::SecretKey::from_pkcs8_der(&key.pkcs8) {
            let p = k.public_key();
            use p256::elliptic_curve::sec1::ToSec1Point;
            return Ok(DerivedPublic::Points(vec![
                p.to_sec1_point(false).as_bytes().to_vec(),
                p.to_sec1_point(true).as_bytes().to_vec(),
            ]));
        }
        if let Ok(k) = p384::SecretKey::from_pkcs8_der(&key.pkcs8) {
            let p = k.public_key();
            use p384::elliptic_curve::sec1::ToSec1Point;
            return Ok(DerivedPublic::Points(vec![
                p.to_sec1_point(false).as_bytes().to_vec(),
                p.to_sec1_point(true).as_bytes().to_vec(),
            ]));
        }
        if let Ok(k) = p521::SecretKey::from_pkcs8_der(&key.pkcs8) {
            let p = k.public_key();
            use p521::elliptic_curve::sec1::ToSec1Point;
            return Ok(DerivedPublic::Points(vec![
                p.to_sec1_point(false).as_bytes().to_vec(),
                p.to_sec1_point(true).as_bytes().to_vec(),
            ]));
        }
        return Ok(DerivedPublic::Unsupported("EC on this curve".into()));
    }
    if alg == OID_ED25519 {
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&key.pkcs8)
            .map_err(|e| malformed("Ed25519", e.to_string()))?;
        use ring::signature::KeyPair;
        return Ok(DerivedPublic::Points(vec![
            pair.public_key().as_ref().to_vec(),
        ]));
    }
    if alg == OID_ED448 {
        // RustCrypto's Ed448 derives the public key from the private one, so the match is
        // checked whether or not the PKCS#8 carries the public key (openssl's does not).
        let signing = ed448_goldilocks::SigningKey::try_from(info)
            .map_err(|e| malformed("Ed448", e.to_string()))?;
        return Ok(DerivedPublic::Points(vec![
            signing.verifying_key().to_bytes().to_vec(),
        ]));
    }
    Ok(DerivedPublic::Unsupported(format!("key algorithm {alg}")))
}

/// Checks that `key` is the private half of the certificate `cert_der`'s public key.
/// A mismatch is [`Error::KeyMismatch`]; a key type whose match cannot be checked is refused.
pub(crate) fn check_matches(path: &Path, key: &PrivateKey, cert_der: &[u8]) -> Result<()> {
    let cert = crate::facts::parse_der(path, cert_der)?;
    let spki = cert.public_key();
    let mismatch = || Error::KeyMismatch {
        path: path.to_path_buf(),
        subject: cert.subject().to_string(),
    };
    let matches = match derive_public(path, key)? {
        DerivedPublic::Rsa { modulus, exponent } => match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
                strip_zeros(rsa.modulus) == modulus.as_slice()
                    && strip_zeros(rsa.exponent) == exponent.as_slice()
            }
            _ => false,
        },
        DerivedPublic::Points(points) => {
            let bits: &[u8] = spki.subject_public_key.as_ref();
            points.iter().any(|p| p.as_slice() == bits)
        }
        DerivedPublic::Unsupported(what) => {
            return Err(Error::bad_file(
                path,
                format!(
                    "cannot check that a private key of type {what} matches its certificate; such keys cannot sign a TLS handshake here; import the certificate without its key"
                ),
            ));
        }
    };
    if matches { Ok(()) } else { Err(mismatch()) }
}
