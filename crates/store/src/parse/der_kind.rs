//! Telling DER containers apart by their first elements.

use der::{Decode, Header, Reader, SliceReader, Tag};

/// The kinds of DER file mailcert reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DerKind {
    Pkcs12,
    Pkcs7,
    Certificate,
    Pkcs8,
    EncryptedPkcs8,
    Pkcs1,
    Sec1,
    /// BER with indefinite lengths (Firefox/NSS PKCS#12 exports).
    IndefiniteBer,
}

/// Classifies DER bytes, or `None` when they are not DER of a known shape.
pub(crate) fn classify(bytes: &[u8]) -> Option<DerKind> {
    if bytes.starts_with(&[0x30, 0x80]) {
        return Some(DerKind::IndefiniteBer);
    }
    let mut outer = SliceReader::new(bytes).ok()?;
    let header = Header::decode(&mut outer).ok()?;
    if header.tag() != Tag::Sequence {
        return None;
    }
    let body = outer.read_slice(header.length()).ok()?;
    let mut r = SliceReader::new(body).ok()?;
    match Tag::peek(&r).ok()? {
        Tag::Integer => {
            let version = der::asn1::UintRef::decode(&mut r).ok()?;
            let v = match version.as_bytes() {
                [] => 0,
                [b] => *b,
                _ => return None,
            };
            let next = Tag::peek(&r).ok()?;
            match (v, next) {
                (3, Tag::Sequence) => Some(DerKind::Pkcs12),
                (0 | 1, Tag::Sequence) => Some(DerKind::Pkcs8),
                (0, Tag::Integer) => Some(DerKind::Pkcs1),
                (1, Tag::OctetString) => Some(DerKind::Sec1),
                _ => None,
            }
        }
        Tag::ObjectIdentifier => Some(DerKind::Pkcs7),
        Tag::Sequence => {
            // A certificate (SEQUENCE tbs, SEQUENCE alg, BIT STRING) or an encrypted
            // PKCS#8 key (SEQUENCE alg, OCTET STRING).
            let first = Header::decode(&mut r).ok()?;
            r.read_slice(first.length()).ok()?;
            match Tag::peek(&r).ok()? {
                Tag::OctetString => Some(DerKind::EncryptedPkcs8),
                _ => Some(DerKind::Certificate),
            }
        }
        _ => None,
    }
}
