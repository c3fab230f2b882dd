//! Reading the facts mailcert keeps about a certificate out of its DER.

use std::path::Path;

use x509_parser::prelude::*;

use crate::error::{Error, Result};
use crate::model::{CertFacts, KeyType};

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_DSA: &str = "1.2.840.10040.4.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

/// Upper-case hex of bytes.
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

/// SHA-1 and SHA-256 thumbprints of a DER certificate, upper-case hex.
pub fn thumbprints(der: &[u8]) -> (String, String) {
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    let sha256 = ring::digest::digest(&ring::digest::SHA256, der);
    (hex_upper(sha1.as_ref()), hex_upper(sha256.as_ref()))
}

/// Parses a DER certificate strictly: the whole input must be one certificate.
pub(crate) fn parse_der<'a>(path: &Path, der: &'a [u8]) -> Result<X509Certificate<'a>> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(Error::bad_file(
            path,
            "trailing bytes after the DER certificate",
        )),
        Err(e) => Err(Error::bad_file(
            path,
            format!("not a valid X.509 certificate: {e}"),
        )),
    }
}

/// The facts of a DER certificate; `path` names the file in errors.
pub fn cert_facts(path: &Path, der: &[u8]) -> Result<CertFacts> {
    let cert = parse_der(path, der)?;
    let (thumbprint_sha1, thumbprint_sha256) = thumbprints(der);
    let bad =
        |what: &str, e: X509Error| Error::bad_file(path, format!("bad {what} extension: {e}"));

    let eku = cert
        .extended_key_usage()
        .map_err(|e| bad("Extended Key Usage", e))?
        .map(|ext| {
            let v = ext.value;
            let mut oids = Vec::new();
            let known = [
                (v.server_auth, crate::model::OID_SERVER_AUTH),
                (v.client_auth, crate::model::OID_CLIENT_AUTH),
                (v.code_signing, "1.3.6.1.5.5.7.3.3"),
                (v.email_protection, "1.3.6.1.5.5.7.3.4"),
                (v.time_stamping, "1.3.6.1.5.5.7.3.8"),
                (v.ocsp_signing, "1.3.6.1.5.5.7.3.9"),
                (v.any, crate::model::OID_ANY_EKU),
            ];
            for (set, oid) in known {
                if set {
                    oids.push(oid.to_string());
                }
            }
            oids.extend(v.other.iter().map(|o| o.to_id_string()));
            oids
        });
    let key_usage = cert
        .key_usage()
        .map_err(|e| bad("Key Usage", e))?
        .map(|ext| {
            let ku = ext.value;
            let names = [
                (ku.digital_signature(), "digitalSignature"),
                (ku.non_repudiation(), "nonRepudiation"),
                (ku.key_encipherment(), "keyEncipherment"),
                (ku.data_encipherment(), "dataEncipherment"),
                (ku.key_agreement(), "keyAgreement"),
                (ku.key_cert_sign(), "keyCertSign"),
                (ku.crl_sign(), "cRLSign"),
                (ku.encipher_only(), "encipherOnly"),
                (ku.decipher_only(), "decipherOnly"),
            ];
            names
                .iter()
                .filter(|(set, _)| *set)
                .map(|(_, n)| n.to_string())
                .collect::<Vec<_>>()
        });
    let sans = cert
        .subject_alternative_name()
        .map_err(|e| bad("Subject Alternative Name", e))?
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(format!("DNS:{d}")),
                    GeneralName::RFC822Name(m) => Some(format!("email:{m}")),
                    GeneralName::URI(u) => Some(format!("URI:{u}")),
                    GeneralName::IPAddress(ip) => ip_text(ip).map(|t| format!("IP:{t}")),
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let is_ca = cert
        .basic_constraints()
        .map_err(|e| bad("Basic Constraints", e))?
        .is_some_and(|bc| bc.value.ca);

    let subject_cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    let self_signed = cert.subject().as_raw() == cert.issuer().as_raw();

    Ok(CertFacts {
        thumbprint_sha1,
        thumbprint_sha256,
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        subject_cn,
        sans,
        serial: hex_upper(cert.raw_serial()),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        key_type: key_type(cert.public_key()),
        eku,
        key_usage,
        is_ca,
        self_signed,
    })
}

fn ip_text(raw: &[u8]) -> Option<String> {
    match raw.len() {
        4 => {
            let b: [u8; 4] = raw.try_into().ok()?;
            Some(std::net::Ipv4Addr::from(b).to_string())
        }
        16 => {
            let b: [u8; 16] = raw.try_into().ok()?;
            Some(std::net::Ipv6Addr::from(b).to_string())
        }
        _ => None,
    }
}

/// The key type named by a SubjectPublicKeyInfo.
fn key_type(spki: &SubjectPublicKeyInfo<'_>) -> KeyType {
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        OID_RSA => {
            let bits = match spki.parsed() {
                Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => rsa.key_size() as u32,
                _ => 0,
            };
            KeyType::Rsa(bits)
        }
        OID_EC => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            match curve.as_str() {
                OID_P256 => KeyType::EcP256,
                OID_P384 => KeyType::EcP384,
                _ => KeyType::EcOther(curve),
            }
        }
        OID_ED25519 => KeyType::Ed25519,
        OID_DSA => {
            // The key size of DSA is the size of the prime p in the parameters.
            let bits = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| dsa_p_bits(p.data))
                .unwrap_or(0);
            KeyType::Dsa(bits)
        }
        other => KeyType::Other(other.to_string()),
    }
}

/// Size in bits of the first INTEGER of a DSA parameters SEQUENCE (its content bytes given).
fn dsa_p_bits(params: &[u8]) -> Option<u32> {
    use der::{Decode, asn1::UintRef};
    let mut reader = der::SliceReader::new(params).ok()?;
    let p = <UintRef<'_> as Decode>::decode(&mut reader).ok()?;
    let bytes = p.as_bytes();
    let lead = bytes.first().map(|b| b.leading_zeros()).unwrap_or(8);
    Some((bytes.len() as u32) * 8 - lead)
}
