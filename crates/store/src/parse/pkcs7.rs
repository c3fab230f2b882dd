//! PKCS#7 / CMS "certs-only" files (.p7b, .p7c): the certificates they carry.

use std::path::Path;

use der::{Decode, Encode};

use crate::error::{Error, Result};

const OID_SIGNED_DATA: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");

/// The DER certificates inside a PKCS#7 SignedData, in the order stored (SET OF order,
/// not chain order).
pub(super) fn certificates(path: &Path, der: &[u8]) -> Result<Vec<Vec<u8>>> {
    let bad = |what: String| Error::bad_file(path, what);
    let ci = cms::content_info::ContentInfo::from_der(der)
        .map_err(|e| bad(format!("not a valid PKCS#7 file: {e}")))?;
    if ci.content_type != OID_SIGNED_DATA {
        return Err(bad(format!(
            "is PKCS#7 of type {}, not SignedData with certificates",
            ci.content_type
        )));
    }
    let sd: cms::signed_data::SignedData = ci
        .content
        .decode_as()
        .map_err(|e| bad(format!("PKCS#7 SignedData is malformed: {e}")))?;
    let mut out = Vec::new();
    if let Some(set) = sd.certificates {
        for choice in set.0.iter() {
            if let cms::cert::CertificateChoices::Certificate(c) = choice {
                out.push(
                    c.to_der()
                        .map_err(|e| Error::Internal(format!("re-encoding certificate: {e}")))?,
                );
            }
        }
    }
    if out.is_empty() {
        return Err(bad("the PKCS#7 file holds no certificate".into()));
    }
    Ok(out)
}
