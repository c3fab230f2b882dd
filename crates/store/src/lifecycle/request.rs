//! Certificate requests (New-SPCertificate, Renew-SPCertificate): a new key made here and
//! sealed in the farm at once, a PKCS#10 request for a CA to sign, and the pairing of the
//! signed certificate with that key when it is imported.

use std::net::IpAddr;
use std::path::Path;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, PublicKeyData, SanType, SignatureAlgorithm,
};
use rustls_pki_types::PrivatePkcs8KeyDer;
use x509_parser::prelude::*;
use zeroize::Zeroizing;

use super::settings::{
    CertificateSettings, Curve, Hash, KeyAlgorithm, RSA_KEY_SIZES, country_code, settings_in,
    subject_field,
};
use crate::error::{Error, Result};
use crate::key::PrivateKey;
use crate::model::{KeyType, StoreName};
use crate::repo::{CertRecord, Farm, NewRequest, RequestRecord, Tx};

/// What a new request asks for; a field left `None` takes the farm's default.
#[derive(Debug, Clone, Default)]
pub struct RequestSpec {
    /// The subject's common name (CN).
    pub common_name: String,
    /// DNS names and IP addresses for the Subject Alternative Name extension.
    pub alternative_names: Vec<String>,
    /// Organization (O).
    pub organization: Option<String>,
    /// Organizational unit (OU).
    pub organizational_unit: Option<String>,
    /// Locality (L).
    pub locality: Option<String>,
    /// State or province (ST).
    pub state: Option<String>,
    /// Country (C).
    pub country: Option<String>,
    /// Key algorithm.
    pub key_algorithm: Option<KeyAlgorithm>,
    /// RSA key size.
    pub key_size: Option<u32>,
    /// ECC curve.
    pub curve: Option<Curve>,
    /// Signature hash.
    pub hash: Option<Hash>,
    /// Friendly name the certificate gets when it arrives.
    pub friendly_name: Option<String>,
    /// Whether the key may be exported once the certificate arrives.
    pub exportable: bool,
}

fn rejected(message: String) -> Error {
    Error::Rejected {
        rule: "certificate-request",
        message,
    }
}

fn rcgen_err(what: &str) -> impl FnOnce(rcgen::Error) -> Error + '_ {
    move |e| Error::Internal(format!("{what}: {e}"))
}

/// The key a request is made with, its type and the algorithm it signs the CSR with.
struct RequestKey {
    pair: KeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
    key_type: KeyType,
}

/// The signature algorithm for a key type and hash; ECDSA keys sign with their curve's
/// hash (the only pairs ring offers).
fn algorithm(
    key_type: &KeyType,
    hash: Hash,
    hash_given: bool,
) -> Result<&'static SignatureAlgorithm> {
    let ec = |curve: &str, own: Hash, alg: &'static SignatureAlgorithm| {
        if hash_given && hash != own {
            Err(rejected(format!(
                "an ECDSA {curve} request is signed with {}; hash {} is not available for it",
                own.as_str(),
                hash.as_str()
            )))
        } else {
            Ok(alg)
        }
    };
    match key_type {
        KeyType::Rsa(_) => Ok(match hash {
            Hash::Sha256 => &rcgen::PKCS_RSA_SHA256,
            Hash::Sha384 => &rcgen::PKCS_RSA_SHA384,
            Hash::Sha512 => &rcgen::PKCS_RSA_SHA512,
        }),
        KeyType::EcP256 => ec("P-256", Hash::Sha256, &rcgen::PKCS_ECDSA_P256_SHA256),
        KeyType::EcP384 => ec("P-384", Hash::Sha384, &rcgen::PKCS_ECDSA_P384_SHA384),
        KeyType::Ed25519 => Ok(&rcgen::PKCS_ED25519),
        other => Err(rejected(format!(
            "a request cannot be made with a {other} key"
        ))),
    }
}

/// Makes a new key: RSA with the `rsa` crate (rcgen on ring cannot generate RSA), ECDSA
/// with ring through rcgen.
fn generate(key_type: KeyType, hash: Hash, hash_given: bool) -> Result<RequestKey> {
    let alg = algorithm(&key_type, hash, hash_given)?;
    let pkcs8: Zeroizing<Vec<u8>> = match key_type {
        KeyType::Rsa(bits) => {
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits as usize)
                .map_err(|e| Error::Internal(format!("RSA key generation: {e}")))?;
            let doc = key
                .to_pkcs8_der()
                .map_err(|e| Error::Internal(format!("RSA key encoding: {e}")))?;
            Zeroizing::new(doc.as_bytes().to_vec())
        }
        _ => {
            let pair = KeyPair::generate_for(alg).map_err(rcgen_err("key generation"))?;
            Zeroizing::new(pair.serialize_der())
        }
    };
    from_pkcs8(pkcs8, key_type, alg)
}

fn from_pkcs8(
    pkcs8: Zeroizing<Vec<u8>>,
    key_type: KeyType,
    alg: &'static SignatureAlgorithm,
) -> Result<RequestKey> {
    let pair = KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(&pkcs8[..]), alg)
        .map_err(rcgen_err("loading the new key"))?;
    Ok(RequestKey {
        pair,
        pkcs8,
        key_type,
    })
}

/// Whether `s` is a DNS name a CA can put in a certificate (an optional leading `*.`).
fn dns_name(s: &str) -> bool {
    let s = s.strip_prefix("*.").unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Turns the names asked for into SAN entries: IP literals as IP addresses, the rest as
/// DNS names (checked). The CN is added first when it is a fully qualified DNS name and
/// not listed, since CAs and relays match on the SAN.
fn alternative_names(cn: &str, names: &[String]) -> Result<(Vec<SanType>, Vec<String>)> {
    let mut texts: Vec<String> = Vec::new();
    let cn = cn.trim().to_ascii_lowercase();
    if cn.contains('.') && dns_name(&cn) && cn.parse::<IpAddr>().is_err() {
        texts.push(cn);
    }
    for n in names {
        let n = n.trim().trim_end_matches('.').to_ascii_lowercase();
        if n.is_empty() {
            continue;
        }
        if !texts.contains(&n) {
            texts.push(n);
        }
    }
    let mut sans = Vec::new();
    let mut shown = Vec::new();
    for t in texts {
        if let Ok(ip) = t.parse::<IpAddr>() {
            sans.push(SanType::IpAddress(ip));
            shown.push(format!("IP:{ip}"));
        } else if dns_name(&t) {
            let ia5 = t
                .as_str()
                .try_into()
                .map_err(|_| rejected(format!("alternative name '{t}' is not ASCII")))?;
            sans.push(SanType::DnsName(ia5));
            shown.push(format!("DNS:{t}"));
        } else {
            return Err(rejected(format!(
                "alternative name '{t}' is neither a DNS name (letters, digits, hyphens, dots; an optional leading *.) nor an IP address"
            )));
        }
    }
    Ok((sans, shown))
}

/// Builds and signs the CSR, seals the key and stores the request, all in one
/// transaction with its audit line.
#[allow(clippy::too_many_arguments)]
fn store_request(
    farm: &mut Farm,
    key: RequestKey,
    dn: DistinguishedName,
    common_name: String,
    sans: (Vec<SanType>, Vec<String>),
    hash: &str,
    friendly_name: Option<String>,
    exportable: bool,
    renews: Option<&CertRecord>,
    now: i64,
) -> Result<RequestRecord> {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.subject_alt_names = sans.0;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let csr = params
        .serialize_request(&key.pair)
        .map_err(rcgen_err("building the certificate request"))?;
    let csr_pem = csr.pem().map_err(rcgen_err("encoding the request"))?;
    let subject = match X509CertificationRequest::from_der(csr.der()) {
        Ok((_, req)) => req.certification_request_info.subject.to_string(),
        Err(e) => return Err(Error::Internal(format!("reading back the request: {e}"))),
    };
    let spki = key.pair.subject_public_key_info();
    let key_id = crate::facts::hex_upper(
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &spki).as_ref(),
    );
    let record = RequestRecord {
        key_id: key_id.clone(),
        common_name,
        subject,
        alternative_names: sans.1,
        key_type: key.key_type.to_string(),
        hash: hash.to_string(),
        friendly_name,
        exportable,
        renews: renews.map(|c| c.facts.thumbprint_sha1.clone()),
        spki,
        csr_pem,
        created: now,
    };
    let sealed = farm
        .master_key()?
        .seal(&key.pkcs8, &request_key_aad(&key_id))?;
    farm.write(|tx| {
        if tx.request(&key_id)?.is_some() {
            return Err(rejected(format!(
                "a pending request with key {key_id} exists already; remove it first"
            )));
        }
        // Checked again here, in the writing transaction: two renewals at once leave one.
        if let Some(old) = renews
            && let Some(p) = tx.pending_renewal(&old.facts.thumbprint_sha1)?
        {
            return Err(Error::Rejected {
                rule: "renewal-pending",
                message: format!(
                    "a renewal of {} is pending already (request {})",
                    old.facts.describe(),
                    p.key_id
                ),
            });
        }
        tx.insert_request(&NewRequest {
            record: &record,
            sealed_key: &sealed,
        })?;
        let detail = match renews {
            Some(c) => format!(
                "renewal request for {} ({}), key {key_id}",
                c.facts.describe(),
                record.key_type
            ),
            None => format!(
                "request {} ({}), key {key_id}",
                record.subject, record.key_type
            ),
        };
        tx.audit(now, "request", &record.subject, &detail)?;
        Ok(record)
    })
}

/// Additional data that binds a request's sealed key to the request.
fn request_key_aad(key_id: &str) -> Vec<u8> {
    format!("mailcert:request-key:{key_id}").into_bytes()
}

/// Makes a new key pair (sealed in the farm at once; it is never written in clear) and a
/// PKCS#10 request for it with the subject and names asked for, the rest from the farm's
/// certificate settings. The request asks for Client Authentication and
/// digitalSignature. Returns the stored request, CSR included.
pub fn new_request(farm: &mut Farm, spec: &RequestSpec, now: i64) -> Result<RequestRecord> {
    let defaults: CertificateSettings = farm.read(settings_in)?;
    let cn = subject_field("common name", &spec.common_name)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn.clone());
    let pick = |given: &Option<String>, default: &Option<String>| {
        given
            .as_ref()
            .or(default.as_ref())
            .filter(|v| !v.trim().is_empty())
            .cloned()
    };
    for (ty, what, given, default) in [
        (
            DnType::OrganizationalUnitName,
            "organizational unit",
            &spec.organizational_unit,
            &defaults.organizational_unit,
        ),
        (
            DnType::OrganizationName,
            "organization",
            &spec.organization,
            &defaults.organization,
        ),
        (
            DnType::LocalityName,
            "locality",
            &spec.locality,
            &defaults.locality,
        ),
        (
            DnType::StateOrProvinceName,
            "state",
            &spec.state,
            &defaults.state,
        ),
    ] {
        if let Some(v) = pick(given, default) {
            dn.push(ty, subject_field(what, &v)?);
        }
    }
    if let Some(c) = pick(&spec.country, &defaults.country) {
        dn.push(DnType::CountryName, country_code(&c)?);
    }
    let algorithm = spec.key_algorithm.unwrap_or(defaults.key_algorithm);
    let key_type = match algorithm {
        KeyAlgorithm::Rsa => {
            let bits = spec.key_size.unwrap_or(defaults.key_size);
            if !RSA_KEY_SIZES.contains(&bits) {
                return Err(rejected(format!(
                    "RSA key size {bits} is not one of 2048, 3072, 4096"
                )));
            }
            KeyType::Rsa(bits)
        }
        KeyAlgorithm::Ecc => {
            if spec.key_size.is_some() {
                return Err(rejected(
                    "a key size is for RSA; an ECC key's size is its curve".into(),
                ));
            }
            match spec.curve.unwrap_or(defaults.elliptic_curve) {
                Curve::P256 => KeyType::EcP256,
                Curve::P384 => KeyType::EcP384,
            }
        }
    };
    let hash = spec.hash.unwrap_or(defaults.hash);
    let sans = alternative_names(&cn, &spec.alternative_names)?;
    let key = generate(key_type.clone(), hash, spec.hash.is_some())?;
    let hash_name = match key_type {
        KeyType::EcP256 => "sha256",
        KeyType::EcP384 => "sha384",
        _ => hash.as_str(),
    };
    let friendly = spec
        .friendly_name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    store_request(
        farm,
        key,
        dn,
        cn,
        sans,
        hash_name,
        friendly,
        spec.exportable,
        None,
        now,
    )
}

/// The subject of a certificate as rcgen's distinguished name, attribute by attribute.
fn subject_of(path: &Path, der: &[u8]) -> Result<(DistinguishedName, Vec<SanType>, Vec<String>)> {
    let cert = crate::facts::parse_der(path, der)?;
    let mut dn = DistinguishedName::new();
    for attr in cert.subject().iter_attributes() {
        let Some(arcs) = attr.attr_type().iter() else {
            continue;
        };
        let arcs: Vec<u64> = arcs.collect();
        let value = attr
            .as_str()
            .map_err(|_| rejected("the subject has an attribute that is not text".into()))?;
        dn.push(DnType::from_oid(&arcs), value.to_string());
    }
    let mut sans = Vec::new();
    let mut shown = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for n in &ext.value.general_names {
            match n {
                GeneralName::DNSName(d) => {
                    if let Ok(ia5) = (*d).try_into() {
                        sans.push(SanType::DnsName(ia5));
                        shown.push(format!("DNS:{d}"));
                    }
                }
                GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*b).ok().map(IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        sans.push(SanType::IpAddress(ip));
                        shown.push(format!("IP:{ip}"));
                    }
                }
                GeneralName::RFC822Name(m) => {
                    if let Ok(ia5) = (*m).try_into() {
                        sans.push(SanType::Rfc822Name(ia5));
                        shown.push(format!("email:{m}"));
                    }
                }
                GeneralName::URI(u) => {
                    if let Ok(ia5) = (*u).try_into() {
                        sans.push(SanType::URI(ia5));
                        shown.push(format!("URI:{u}"));
                    }
                }
                _ => {}
            }
        }
    }
    Ok((dn, sans, shown))
}

/// Makes a renewal request for `reference` (Renew-SPCertificate): its subject and
/// alternative names, a new key of the same kind (or its own key with `same_key`), its
/// friendly name and exportability. Importing the signed certificate later moves the
/// old one's bindings to it. Only an End Entity certificate is renewed, and only one
/// renewal of a certificate is pending at a time.
pub fn renew(
    farm: &mut Farm,
    reference: &str,
    same_key: bool,
    now: i64,
) -> Result<(CertRecord, RequestRecord)> {
    let (old, der, sealed, pending, defaults) = farm.read(|tx| {
        let c = tx.resolve(reference)?;
        let der = tx.der(c.id)?;
        let sealed = tx.sealed_key(c.id)?;
        let pending = tx.pending_renewal(&c.facts.thumbprint_sha1)?;
        Ok::<_, Error>((c, der, sealed, pending, settings_in(tx)?))
    })?;
    if old.store != StoreName::EndEntity {
        return Err(Error::Rejected {
            rule: "renew",
            message: format!(
                "{} is in the {} store; only End Entity certificates are renewed here",
                old.facts.describe(),
                old.store.display_name()
            ),
        });
    }
    if let Some(p) = pending {
        return Err(Error::Rejected {
            rule: "renewal-pending",
            message: format!(
                "a renewal of {} is pending already (request {}, made {}); import its signed certificate, or remove it with `mailcert cert request remove {}`",
                old.facts.describe(),
                p.key_id,
                crate::eligibility::rfc3339(p.created),
                p.key_id
            ),
        });
    }
    let path = Path::new("(stored certificate)");
    let (dn, sans, shown) = subject_of(path, &der)?;
    let key = if same_key {
        let Some(sealed) = sealed else {
            return Err(Error::Rejected {
                rule: "renew",
                message: format!(
                    "{} has no private key in the farm, so the renewal cannot keep the same key",
                    old.facts.describe()
                ),
            });
        };
        let pkcs8 = crate::export::open_private_key(farm, &old, &sealed)?;
        let alg = algorithm(&old.facts.key_type, defaults.hash, false)?;
        from_pkcs8(pkcs8.into_pkcs8(), old.facts.key_type.clone(), alg)?
    } else {
        let key_type = match &old.facts.key_type {
            KeyType::Rsa(bits) if RSA_KEY_SIZES.contains(bits) => KeyType::Rsa(*bits),
            KeyType::Rsa(bits) if *bits > 4096 => KeyType::Rsa(4096),
            KeyType::EcP256 => KeyType::EcP256,
            KeyType::EcP384 => KeyType::EcP384,
            _ => match defaults.key_algorithm {
                KeyAlgorithm::Rsa => KeyType::Rsa(defaults.key_size),
                KeyAlgorithm::Ecc => match defaults.elliptic_curve {
                    Curve::P256 => KeyType::EcP256,
                    Curve::P384 => KeyType::EcP384,
                },
            },
        };
        generate(key_type, defaults.hash, false)?
    };
    let hash_name = match key.key_type {
        KeyType::EcP256 => "sha256",
        KeyType::EcP384 => "sha384",
        KeyType::Ed25519 => "sha512",
        _ => defaults.hash.as_str(),
    };
    let cn = old
        .facts
        .subject_cn
        .clone()
        .unwrap_or_else(|| old.facts.subject.clone());
    let friendly = old.friendly_name.clone();
    let exportable = old.exportable;
    let record = store_request(
        farm,
        key,
        dn,
        cn,
        (sans, shown),
        hash_name,
        friendly,
        exportable,
        Some(&old),
        now,
    )?;
    Ok((old, record))
}

/// Every pending request, oldest first.
pub fn requests(farm: &mut Farm) -> Result<Vec<RequestRecord>> {
    farm.read(|tx| tx.requests())
}

/// Finds one request by its key id or a unique prefix of at least 8 hex digits.
pub(crate) fn resolve_request(tx: &Tx<'_>, reference: &str) -> Result<RequestRecord> {
    let r: String = reference
        .trim()
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_uppercase();
    if r.len() < 8 || !r.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::BadReference {
            reference: reference.to_string(),
        });
    }
    let matches: Vec<RequestRecord> = tx
        .requests()?
        .into_iter()
        .filter(|q| q.key_id.starts_with(&r))
        .collect();
    match matches.len() {
        0 => Err(Error::NotFound {
            reference: format!("request {reference}"),
        }),
        1 => matches.into_iter().next().ok_or_else(|| Error::NotFound {
            reference: format!("request {reference}"),
        }),
        _ => Err(Error::Ambiguous {
            reference: reference.to_string(),
            candidates: matches
                .iter()
                .map(|m| format!("{} ({})", m.key_id, m.common_name))
                .collect(),
        }),
    }
}

/// One pending request by key id (or a unique prefix of at least 8 hex digits).
pub fn request(farm: &mut Farm, reference: &str) -> Result<RequestRecord> {
    farm.read(|tx| resolve_request(tx, reference))
}

/// Removes a pending request and its sealed key, audited.
pub fn remove_request(farm: &mut Farm, reference: &str, now: i64) -> Result<RequestRecord> {
    farm.write(|tx| {
        let r = resolve_request(tx, reference)?;
        tx.delete_request(&r.key_id)?;
        tx.audit(
            now,
            "request-remove",
            &r.subject,
            &format!("pending request {} removed with its key", r.key_id),
        )?;
        Ok(r)
    })
}

/// A pending request whose key belongs to a certificate being imported, with that key
/// unsealed and checked against the certificate.
pub(crate) struct Pairing {
    pub(crate) request: RequestRecord,
    pub(crate) key: PrivateKey,
}

/// Looks for the pending request whose public key is the certificate's: the key id is the
/// SHA-1 of the certificate's SubjectPublicKeyInfo. The key is unsealed and checked
/// against the certificate before it is used.
pub(crate) fn pairing_for(farm: &mut Farm, path: &Path, leaf: &[u8]) -> Result<Option<Pairing>> {
    let cert = crate::facts::parse_der(path, leaf)?;
    let key_id = crate::facts::hex_upper(
        ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            cert.public_key().raw,
        )
        .as_ref(),
    );
    let found = farm.read(|tx| {
        Ok::<_, Error>(match tx.request(&key_id)? {
            Some(r) => tx.request_sealed_key(&key_id)?.map(|s| (r, s)),
            None => None,
        })
    })?;
    let Some((request, sealed)) = found else {
        return Ok(None);
    };
    let pkcs8 = farm.master_key()?.open(
        &sealed,
        &request_key_aad(&key_id),
        "a request's private key",
    )?;
    let key = PrivateKey::from_pkcs8(pkcs8);
    crate::key::check_matches(path, &key, leaf)?;
    Ok(Some(Pairing { request, key }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_are_checked() {
        assert!(dns_name("mail.contoso.com"));
        assert!(dns_name("*.contoso.com"));
        assert!(dns_name("relay"));
        assert!(!dns_name("bad_name.com"));
        assert!(!dns_name("-x.com"));
        assert!(!dns_name("a..b"));
        assert!(!dns_name(""));
    }

    #[test]
    fn fqdn_common_name_leads_the_alternative_names() {
        let (sans, shown) = alternative_names(
            "Relay.Contoso.com",
            &["relay.contoso.com".into(), "10.0.0.5".into(), "mx".into()],
        )
        .unwrap_or_default();
        assert_eq!(
            shown,
            vec!["DNS:relay.contoso.com", "IP:10.0.0.5", "DNS:mx"]
        );
        assert_eq!(sans.len(), 3);
        assert!(alternative_names("x", &["not a name".into()]).is_err());
    }

    #[test]
    fn ecdsa_hash_must_match_the_curve() {
        assert!(algorithm(&KeyType::EcP256, Hash::Sha384, true).is_err());
        assert!(algorithm(&KeyType::EcP256, Hash::Sha384, false).is_ok());
        assert!(algorithm(&KeyType::Rsa(2048), Hash::Sha512, true).is_ok());
    }
}
