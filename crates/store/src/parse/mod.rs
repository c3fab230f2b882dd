//! Turning a file's bytes into a certificate bundle: a leaf, the chain that came with it,
//! and its private key when the file carried one.
//!
//! Formats are told apart by content, not by file name: PEM by its armour, DER by the
//! first element inside the outer SEQUENCE (PKCS#12 starts with version 3, PKCS#7 with an
//! OID, a certificate with a SEQUENCE, keys with small version numbers).
//!
//! Every byte read here comes from a file someone brought: no slice index is taken on it
//! without a check (`clippy::indexing_slicing` is denied for the whole module).
#![deny(clippy::indexing_slicing)]

mod der_kind;
mod openssl_legacy;
mod pem;
mod pkcs12;
mod pkcs7;

use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::key::{self, PrivateKey, RawKey};

pub(crate) use der_kind::DerKind;
pub(crate) use openssl_legacy::{Inner as LegacyInner, LegacyEncryptedKey};

/// Largest file mailcert will read as a certificate container.
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;

/// What one input file held: never empty (it always has a leaf).
#[derive(Debug)]
pub struct Bundle {
    /// DER of the certificate the file is about: the one its key belongs to, or the
    /// lowest certificate of the chain when there is no key.
    pub leaf: Vec<u8>,
    /// DER of the other certificates that came with it (CA certificates, usually).
    pub others: Vec<Vec<u8>>,
    /// The leaf's private key, already checked to match it.
    pub key: Option<PrivateKey>,
    /// A friendly name the file carried (a PKCS#12 alias), trimmed.
    pub friendly_name: Option<String>,
}

/// What a container held, before the leaf is chosen and the key matched.
pub(crate) struct Contents {
    pub(crate) certs: Vec<Vec<u8>>,
    pub(crate) keys: Vec<RawKey>,
    pub(crate) friendly_name: Option<String>,
}

/// An input file: its name (for messages) and bytes.
pub struct Input<'a> {
    /// The file's path, used in every error message.
    pub path: &'a Path,
    /// The file's contents.
    pub bytes: &'a [u8],
}

/// Parses a certificate file, with an optional separate key file, into a [`Bundle`].
///
/// `password` opens PKCS#12 files and encrypted keys; `None` tries an empty password
/// for PKCS#12 and reports [`Error::PasswordRequired`] when that fails.
pub fn parse_bundle(
    input: Input<'_>,
    key_file: Option<Input<'_>>,
    password: Option<&str>,
) -> Result<Bundle> {
    let mut contents = parse_contents(input.path, input.bytes, password)?;
    let mut key_path = input.path;
    if let Some(kf) = key_file {
        if !contents.keys.is_empty() {
            return Err(Error::bad_file(
                input.path,
                format!(
                    "carries its own private key, and the key file {} was given too; give one of them",
                    kf.path.display()
                ),
            ));
        }
        let kc = parse_contents(kf.path, kf.bytes, password)?;
        if kc.keys.is_empty() {
            return Err(Error::bad_file(kf.path, "holds no private key"));
        }
        contents.keys = kc.keys;
        key_path = kf.path;
    }
    if contents.certs.is_empty() {
        let problem = if contents.keys.is_empty() {
            "holds no certificate"
        } else {
            "holds a private key but no certificate (give the certificate file, with this file as its key)"
        };
        return Err(Error::bad_file(input.path, problem));
    }
    if contents.keys.len() > 1 {
        return Err(Error::bad_file(
            key_path,
            format!(
                "holds {} private keys; mailcert imports one certificate with its key per file",
                contents.keys.len()
            ),
        ));
    }
    let key = match contents.keys.pop() {
        Some(raw) => Some(key::normalize(key_path, raw, password)?),
        None => None,
    };
    dedup(&mut contents.certs);
    let leaf_index = match &key {
        Some(k) => find_key_owner(key_path, k, &contents.certs)?,
        None => lowest_certificate(input.path, &contents.certs)?,
    };
    if leaf_index >= contents.certs.len() {
        return Err(Error::Internal(format!(
            "leaf index {leaf_index} out of {} certificates",
            contents.certs.len()
        )));
    }
    let leaf = contents.certs.remove(leaf_index);
    Ok(Bundle {
        leaf,
        others: contents.certs,
        key,
        friendly_name: contents.friendly_name,
    })
}

fn dedup(certs: &mut Vec<Vec<u8>>) {
    let mut seen = std::collections::HashSet::new();
    certs.retain(|c| seen.insert(c.clone()));
}

/// Reads any supported container into its certificates and keys.
pub(crate) fn parse_contents(
    path: &Path,
    bytes: &[u8],
    password: Option<&str>,
) -> Result<Contents> {
    if bytes.is_empty() {
        return Err(Error::bad_file(path, "the file is empty"));
    }
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(Error::bad_file(
            path,
            format!(
                "the file is {} bytes; certificate files over {} bytes are refused",
                bytes.len(),
                MAX_INPUT_BYTES
            ),
        ));
    }
    if pem::looks_like_pem(bytes) {
        return pem::parse(path, bytes, password);
    }
    let kind = der_kind::classify(bytes).ok_or_else(|| {
        Error::bad_file(
            path,
            "not a certificate file: neither PEM nor DER (PFX/PKCS#12, PKCS#7, X.509 certificate or private key)",
        )
    })?;
    parse_der(path, bytes, kind, password)
}

pub(crate) fn parse_der(
    path: &Path,
    bytes: &[u8],
    kind: DerKind,
    password: Option<&str>,
) -> Result<Contents> {
    let only_key = |raw: RawKey| Contents {
        certs: vec![],
        keys: vec![raw],
        friendly_name: None,
    };
    match kind {
        DerKind::Pkcs12 => pkcs12::parse(path, bytes, password),
        DerKind::Pkcs7 => Ok(Contents {
            certs: pkcs7::certificates(path, bytes)?,
            keys: vec![],
            friendly_name: None,
        }),
        DerKind::Certificate => {
            crate::facts::parse_der(path, bytes)?;
            Ok(Contents {
                certs: vec![bytes.to_vec()],
                keys: vec![],
                friendly_name: None,
            })
        }
        DerKind::Pkcs8 => Ok(only_key(RawKey::Pkcs8(Zeroizing::new(bytes.to_vec())))),
        DerKind::EncryptedPkcs8 => Ok(only_key(RawKey::EncryptedPkcs8(bytes.to_vec()))),
        DerKind::Pkcs1 => Ok(only_key(RawKey::Pkcs1(Zeroizing::new(bytes.to_vec())))),
        DerKind::Sec1 => Ok(only_key(RawKey::Sec1(Zeroizing::new(bytes.to_vec())))),
        DerKind::IndefiniteBer => Err(Error::bad_file(
            path,
            "uses BER indefinite lengths (as Firefox/NSS exports PKCS#12), which cannot be read; re-export it with `openssl pkcs12 -in FILE -out new.pfx` (or from Windows)",
        )),
    }
}

/// Index of the certificate whose public key the private key belongs to.
fn find_key_owner(path: &Path, key: &PrivateKey, certs: &[Vec<u8>]) -> Result<usize> {
    let mut first_err = None;
    for (i, c) in certs.iter().enumerate() {
        match key::check_matches(path, key, c) {
            Ok(()) => return Ok(i),
            Err(e @ Error::KeyMismatch { .. }) => {
                first_err.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(first_err.unwrap_or_else(|| Error::bad_file(path, "holds no certificate")))
}

/// Index of the certificate that issued none of the others: the bottom of the chain.
/// When several qualify, the first in file order wins (PEM convention: leaf first).
fn lowest_certificate(path: &Path, certs: &[Vec<u8>]) -> Result<usize> {
    use x509_parser::prelude::*;
    let mut parsed = Vec::with_capacity(certs.len());
    for c in certs {
        parsed.push(crate::facts::parse_der(path, c)?);
    }
    let issues_another = |i: usize, cert: &X509Certificate<'_>| {
        parsed
            .iter()
            .enumerate()
            .any(|(j, other)| j != i && other.issuer().as_raw() == cert.subject().as_raw())
    };
    Ok(parsed
        .iter()
        .enumerate()
        .find(|(i, cert)| !issues_another(*i, cert))
        .map_or(0, |(i, _)| i))
}
