//! PEM files: certificates, keys in every common form, and PKCS#7 bundles, in any order
//! and with any text (such as OpenSSL's "Bag Attributes") around them.

use std::path::Path;

use zeroize::Zeroizing;

use super::Contents;
use crate::error::{Error, Result};
use crate::key::RawKey;

const BEGIN: &[u8] = b"-----BEGIN ";

/// Whether the bytes hold PEM armour.
pub(super) fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(BEGIN.len()).any(|w| w == BEGIN)
}

/// One armoured section: its label and the text from BEGIN through END.
struct Section<'a> {
    label: String,
    text: &'a [u8],
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn sections<'a>(path: &Path, bytes: &'a [u8]) -> Result<Vec<Section<'a>>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(start) = find(bytes, BEGIN, pos) {
        let label_start = start + BEGIN.len();
        let label_end = find(bytes, b"-----", label_start)
            .ok_or_else(|| Error::bad_file(path, "a PEM BEGIN line is not closed by -----"))?;
        let label_bytes = bytes
            .get(label_start..label_end)
            .ok_or_else(|| Error::bad_file(path, "a PEM BEGIN line is malformed"))?;
        let label = String::from_utf8_lossy(label_bytes).into_owned();
        let end_marker = format!("-----END {label}-----");
        let end = find(bytes, end_marker.as_bytes(), label_end).ok_or_else(|| {
            Error::bad_file(
                path,
                format!("the PEM section \"{label}\" has no END line (truncated file?)"),
            )
        })?;
        let stop = end + end_marker.len();
        let text = bytes.get(start..stop).ok_or_else(|| {
            Error::bad_file(path, format!("the PEM section \"{label}\" is malformed"))
        })?;
        out.push(Section { label, text });
        pos = stop;
    }
    Ok(out)
}

/// Parses every section of a PEM file.
pub(super) fn parse(path: &Path, bytes: &[u8], password: Option<&str>) -> Result<Contents> {
    let mut contents = Contents {
        certs: Vec::new(),
        keys: Vec::new(),
        friendly_name: None,
    };
    let secs = sections(path, bytes)?;
    for (n, sec) in secs.iter().enumerate() {
        let label = sec.label.as_str();
        let is_key = label.ends_with("PRIVATE KEY");
        if is_key && super::openssl_legacy::has_proc_type(sec.text) {
            let key = super::openssl_legacy::parse(path, label, n + 1, sec.text)?;
            contents.keys.push(RawKey::LegacyEncrypted(key));
            continue;
        }
        let decode = || -> Result<Vec<u8>> {
            let (_, der) = der::pem::decode_vec(sec.text).map_err(|e| {
                Error::bad_file(
                    path,
                    format!(
                        "PEM section {} (\"{label}\") is not valid base64 PEM: {e}",
                        n + 1
                    ),
                )
            })?;
            if der.is_empty() {
                return Err(Error::bad_file(
                    path,
                    format!("PEM section {} (\"{label}\") is empty", n + 1),
                ));
            }
            Ok(der)
        };
        match label {
            "CERTIFICATE" | "X509 CERTIFICATE" => {
                let der = decode()?;
                crate::facts::parse_der(path, &der).map_err(|e| match e {
                    Error::BadFile { problem, .. } => Error::bad_file(
                        path,
                        format!("PEM section {} (certificate): {problem}", n + 1),
                    ),
                    other => other,
                })?;
                contents.certs.push(der);
            }
            "TRUSTED CERTIFICATE" => {
                // OpenSSL's form: the certificate followed by trust settings.
                let der = decode()?;
                let cert = first_element(&der).ok_or_else(|| {
                    Error::bad_file(
                        path,
                        format!(
                            "PEM section {} (\"{label}\") is not a certificate: its DER is truncated or malformed",
                            n + 1
                        ),
                    )
                })?;
                crate::facts::parse_der(path, cert)?;
                contents.certs.push(cert.to_vec());
            }
            "PRIVATE KEY" => contents.keys.push(RawKey::Pkcs8(Zeroizing::new(decode()?))),
            "ENCRYPTED PRIVATE KEY" => contents.keys.push(RawKey::EncryptedPkcs8(decode()?)),
            "RSA PRIVATE KEY" => contents.keys.push(RawKey::Pkcs1(Zeroizing::new(decode()?))),
            "EC PRIVATE KEY" => contents.keys.push(RawKey::Sec1(Zeroizing::new(decode()?))),
            "PKCS7" | "PKCS #7 SIGNED DATA" | "CMS" => {
                let der = decode()?;
                contents
                    .certs
                    .extend(super::pkcs7::certificates(path, &der)?);
            }
            "PKCS12" => {
                let der = decode()?;
                let inner = super::pkcs12::parse(path, &der, password)?;
                contents.certs.extend(inner.certs);
                contents.keys.extend(inner.keys);
                contents.friendly_name = inner.friendly_name;
            }
            "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => {
                return Err(Error::bad_file(
                    path,
                    "is a certificate signing request (CSR), not a certificate; import the certificate the CA issued for it",
                ));
            }
            "DSA PRIVATE KEY" | "OPENSSH PRIVATE KEY" => {
                return Err(Error::bad_file(
                    path,
                    format!(
                        "holds a \"{label}\", which mailcert does not read; convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt`"
                    ),
                ));
            }
            // Parameters and public keys say nothing mailcert needs.
            _ => {}
        }
    }
    if contents.certs.is_empty() && contents.keys.is_empty() {
        let labels: Vec<&str> = secs.iter().map(|s| s.label.as_str()).collect();
        return Err(Error::bad_file(
            path,
            if labels.is_empty() {
                "holds no complete PEM section".to_string()
            } else {
                format!(
                    "holds no certificate or private key (PEM sections found: {})",
                    labels.join(", ")
                )
            },
        ));
    }
    Ok(contents)
}

/// The first DER element (header plus body) of `der`, or `None` when `der` does not hold
/// all the bytes its header claims.
fn first_element(der: &[u8]) -> Option<&[u8]> {
    use der::{Decode, Reader};
    let mut r = der::SliceReader::new(der).ok()?;
    let header = der::Header::decode(&mut r).ok()?;
    r.read_slice(header.length()).ok()?;
    let end = usize::try_from(r.position()).ok()?;
    der.get(..end)
}
