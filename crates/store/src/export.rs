//! Writing a stored certificate back out: PEM, DER, PKCS#7 and PKCS#12. The private key
//! leaves the farm only when it was imported as exportable.

use std::str::FromStr;

use der::{Decode, Encode};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::import::key_aad;
use crate::key::PrivateKey;
use crate::repo::{CertRecord, Farm};
use crate::secret::SealedKey;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// PEM certificates, plus the PKCS#8 key when exportable.
    Pem,
    /// The leaf certificate alone, DER.
    Der,
    /// PKCS#12 with the key and chain; needs an exportable key and a password.
    Pfx,
    /// PKCS#7 certs-only, DER.
    P7b,
}

impl FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "pem" => Ok(ExportFormat::Pem),
            "der" | "cer" => Ok(ExportFormat::Der),
            "pfx" | "p12" | "pkcs12" => Ok(ExportFormat::Pfx),
            "p7b" | "p7c" | "pkcs7" => Ok(ExportFormat::P7b),
            other => Err(format!(
                "'{other}' is not a format: use pem, der, pfx or p7b"
            )),
        }
    }
}

/// How a PKCS#12 file is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PfxEncryption {
    /// PBES2 with AES-256-CBC and an HMAC-SHA256 MAC (OpenSSL 3 and Windows 10+).
    #[default]
    Aes256,
    /// 3DES with a SHA-1 MAC, for old systems (Windows Server 2016 and before, Java 8).
    TripleDes,
}

/// What to export.
#[derive(Debug, Clone, Copy)]
pub struct ExportRequest<'a> {
    /// The format.
    pub format: ExportFormat,
    /// Add the issuers held in the farm (not for DER).
    pub include_chain: bool,
    /// Password for PKCS#12.
    pub password: Option<&'a str>,
    /// PKCS#12 encryption.
    pub pfx_encryption: PfxEncryption,
    /// For PEM: write the private key too when the certificate is exportable (`false`
    /// writes the certificates alone). PKCS#12 always carries the key; DER and P7B never.
    pub include_key: bool,
}

/// The exported bytes; wiped on drop since they may hold a key.
#[derive(Debug)]
pub struct Exported {
    /// File contents.
    pub bytes: Zeroizing<Vec<u8>>,
    /// Whether they carry the private key (write them 0600).
    pub carries_key: bool,
}

fn pem_block(label: &str, der: &[u8]) -> Result<String> {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der)
        .map_err(|e| Error::Internal(format!("PEM encoding: {e}")))
}

/// Exports `cert` (already resolved) in the requested form.
pub fn export(farm: &mut Farm, cert: &CertRecord, req: &ExportRequest<'_>) -> Result<Exported> {
    let (leaf_der, chain_der, sealed) = farm.read(|tx| {
        let leaf = tx.der(cert.id)?;
        let mut chain = Vec::new();
        if req.include_chain {
            for c in crate::chain::issuers(tx, cert, true)? {
                chain.push(tx.der(c.id)?);
            }
        }
        let sealed = tx.sealed_key(cert.id)?;
        Ok::<_, Error>((leaf, chain, sealed))
    })?;
    let key = |sealed: &Option<SealedKey>| -> Result<Option<Zeroizing<Vec<u8>>>> {
        match (cert.exportable, sealed) {
            (true, Some(s)) => Ok(Some(farm.master_key()?.open(
                &s.0,
                &key_aad(&cert.facts.thumbprint_sha1),
                &format!("the private key of {}", cert.facts.thumbprint_sha1),
            )?)),
            _ => Ok(None),
        }
    };
    match req.format {
        ExportFormat::Der => Ok(Exported {
            bytes: Zeroizing::new(leaf_der),
            carries_key: false,
        }),
        ExportFormat::Pem => {
            let mut out = String::new();
            for der in std::iter::once(&leaf_der).chain(chain_der.iter()) {
                out.push_str(&pem_block("CERTIFICATE", der)?);
            }
            let key = if req.include_key { key(&sealed)? } else { None };
            if let Some(k) = &key {
                let block = Zeroizing::new(pem_block("PRIVATE KEY", k)?);
                out.push_str(&block);
            }
            Ok(Exported {
                bytes: Zeroizing::new(out.into_bytes()),
                carries_key: key.is_some(),
            })
        }
        ExportFormat::P7b => Ok(Exported {
            bytes: Zeroizing::new(p7b(std::iter::once(&leaf_der).chain(chain_der.iter()))?),
            carries_key: false,
        }),
        ExportFormat::Pfx => {
            if sealed.is_none() {
                return Err(Error::Rejected {
                    rule: "private-key",
                    message: format!(
                        "certificate {} has no private key; a PFX needs one (export it as PEM, DER or P7B instead)",
                        cert.facts.thumbprint_sha1
                    ),
                });
            }
            let key = key(&sealed)?.ok_or_else(|| Error::NotExportable {
                thumbprint: cert.facts.thumbprint_sha1.clone(),
            })?;
            let password = req.password.ok_or_else(|| Error::Rejected {
                rule: "password",
                message: "a PFX export needs a password to protect the private key".into(),
            })?;
            let bytes = pfx(
                cert,
                &leaf_der,
                &chain_der,
                &key,
                password,
                req.pfx_encryption,
            )?;
            Ok(Exported {
                bytes: Zeroizing::new(bytes),
                carries_key: true,
            })
        }
    }
}

fn pfx(
    cert: &CertRecord,
    leaf: &[u8],
    chain: &[Vec<u8>],
    key: &[u8],
    password: &str,
    enc: PfxEncryption,
) -> Result<Vec<u8>> {
    use p12_keystore::{
        EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKeyChain,
    };
    let internal = |e: p12_keystore::error::Error| Error::Internal(format!("PKCS#12 writing: {e}"));
    let mut certs = vec![p12_keystore::Certificate::from_der(leaf).map_err(internal)?];
    for c in chain {
        certs.push(p12_keystore::Certificate::from_der(c).map_err(internal)?);
    }
    let pk = p12_keystore::PrivateKey::from_der(key).map_err(internal)?;
    let local_id: Vec<u8> = cert.facts.thumbprint_sha1.as_bytes().to_vec();
    let mut ks = KeyStore::new();
    ks.add_entry(
        cert.display_name(),
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(local_id, pk, certs)),
    );
    let writer = ks.writer(password);
    let writer = match enc {
        PfxEncryption::Aes256 => writer
            .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
            .mac_algorithm(MacAlgorithm::HmacSha256),
        PfxEncryption::TripleDes => writer
            .encryption_algorithm(EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
            .mac_algorithm(MacAlgorithm::HmacSha1)
            .encryption_iterations(2048)
            .mac_iterations(2048),
    };
    writer.write().map_err(internal)
}

/// A PKCS#7 certs-only SignedData holding the certificates.
fn p7b<'a>(certs: impl Iterator<Item = &'a Vec<u8>>) -> Result<Vec<u8>> {
    use cms::cert::CertificateChoices;
    use cms::content_info::{CmsVersion, ContentInfo};
    use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignedData, SignerInfos};
    let internal = |e: der::Error| Error::Internal(format!("PKCS#7 encoding: {e}"));
    let mut set = der::asn1::SetOfVec::new();
    for der in certs {
        let c = x509_cert::Certificate::from_der(der).map_err(internal)?;
        set.insert(CertificateChoices::Certificate(c))
            .map_err(internal)?;
    }
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: der::asn1::SetOfVec::new(),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1"),
            econtent: None,
        },
        certificates: Some(CertificateSet(set)),
        crls: None,
        signer_infos: SignerInfos(der::asn1::SetOfVec::new()),
    };
    let ci = ContentInfo {
        content_type: der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2"),
        content: der::Any::encode_from(&sd).map_err(internal)?,
    };
    ci.to_der().map_err(internal)
}

/// Opens the sealed private key of `cert` (for the sender, a renewal with the same key,
/// the relay's TLS identity): the only way from a [`SealedKey`] to a key, and only for
/// the certificate it was sealed for.
pub fn open_private_key(farm: &Farm, cert: &CertRecord, sealed: &SealedKey) -> Result<PrivateKey> {
    farm.master_key()?
        .open(
            &sealed.0,
            &key_aad(&cert.facts.thumbprint_sha1),
            &format!("the private key of {}", cert.facts.thumbprint_sha1),
        )
        .map(PrivateKey::from_pkcs8)
}
