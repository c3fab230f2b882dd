//! The certificate model: stores, key types and the facts kept about each certificate.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// One of the farm's certificate stores, as SharePoint has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum StoreName {
    /// Certificates with private keys that identify this farm (the only ones bindable).
    EndEntity,
    /// CA certificates that are not self-signed: the chain sent with a client certificate.
    Intermediate,
    /// Self-signed CA certificates: the farm's trust anchors.
    Root,
    /// Certificates waiting for something (a key, a decision) before use.
    Pending,
}

impl StoreName {
    /// Every store, in display order.
    pub const ALL: [StoreName; 4] = [
        StoreName::EndEntity,
        StoreName::Intermediate,
        StoreName::Root,
        StoreName::Pending,
    ];

    /// The name used on the command line, in JSON and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreName::EndEntity => "end-entity",
            StoreName::Intermediate => "intermediate",
            StoreName::Root => "root",
            StoreName::Pending => "pending",
        }
    }

    /// The name SharePoint shows for the store.
    pub fn display_name(self) -> &'static str {
        match self {
            StoreName::EndEntity => "End Entity",
            StoreName::Intermediate => "Intermediate",
            StoreName::Root => "Root",
            StoreName::Pending => "Pending",
        }
    }
}

impl fmt::Display for StoreName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not the name of a store.
#[derive(Debug, Clone, thiserror::Error)]
#[error("'{0}' is not a store: use end-entity, intermediate, root or pending")]
pub struct UnknownStore(pub String);

impl FromStr for StoreName {
    type Err = UnknownStore;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace(['_', ' '], "-").as_str() {
            "end-entity" | "endentity" | "my" | "personal" => Ok(StoreName::EndEntity),
            "intermediate" | "ca" => Ok(StoreName::Intermediate),
            "root" => Ok(StoreName::Root),
            "pending" => Ok(StoreName::Pending),
            _ => Err(UnknownStore(s.to_string())),
        }
    }
}

/// The algorithm and size of a certificate's public key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA with the modulus size in bits.
    Rsa(u32),
    /// ECDSA on NIST P-256.
    EcP256,
    /// ECDSA on NIST P-384.
    EcP384,
    /// ECDSA on another curve (named by OID).
    EcOther(String),
    /// Ed25519.
    Ed25519,
    /// DSA with the key size in bits.
    Dsa(u32),
    /// Anything else (named by algorithm OID).
    Other(String),
}

impl KeyType {
    /// Whether a key of this type can sign a TLS 1.2/1.3 handshake as a client.
    pub fn can_sign_tls(&self) -> bool {
        match self {
            KeyType::Rsa(bits) => *bits >= 2048,
            KeyType::EcP256 | KeyType::EcP384 | KeyType::Ed25519 => true,
            _ => false,
        }
    }

    /// The compact form used in the database and JSON (`RSA-2048`, `EC-P256`, `Ed25519`).
    pub fn label(&self) -> String {
        match self {
            KeyType::Rsa(bits) => format!("RSA-{bits}"),
            KeyType::EcP256 => "EC-P256".into(),
            KeyType::EcP384 => "EC-P384".into(),
            KeyType::EcOther(oid) => format!("EC-{oid}"),
            KeyType::Ed25519 => "Ed25519".into(),
            KeyType::Dsa(bits) => format!("DSA-{bits}"),
            KeyType::Other(oid) => format!("OTHER-{oid}"),
        }
    }

    /// Reads back what [`KeyType::label`] wrote.
    pub fn from_label(label: &str) -> KeyType {
        if let Some(bits) = label.strip_prefix("RSA-") {
            return KeyType::Rsa(bits.parse().unwrap_or(0));
        }
        if let Some(bits) = label.strip_prefix("DSA-") {
            return KeyType::Dsa(bits.parse().unwrap_or(0));
        }
        match label {
            "EC-P256" => KeyType::EcP256,
            "EC-P384" => KeyType::EcP384,
            "Ed25519" => KeyType::Ed25519,
            other => match other.strip_prefix("EC-") {
                Some(oid) => KeyType::EcOther(oid.to_string()),
                None => KeyType::Other(other.trim_start_matches("OTHER-").to_string()),
            },
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyType::Rsa(bits) => write!(f, "RSA {bits}"),
            KeyType::EcP256 => f.write_str("ECDSA P-256"),
            KeyType::EcP384 => f.write_str("ECDSA P-384"),
            KeyType::EcOther(oid) => write!(f, "ECDSA on curve {oid}"),
            KeyType::Ed25519 => f.write_str("Ed25519"),
            KeyType::Dsa(bits) => write!(f, "DSA {bits}"),
            KeyType::Other(oid) => write!(f, "key algorithm {oid}"),
        }
    }
}

/// OID of the clientAuth extended key usage.
pub const OID_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
/// OID of the serverAuth extended key usage.
pub const OID_SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
/// OID of anyExtendedKeyUsage.
pub const OID_ANY_EKU: &str = "2.5.29.37.0";

/// Everything mailcert keeps about a certificate that does not depend on the clock or on
/// where it is stored: computed once from the DER at import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// SHA-1 of the DER, upper-case hex (as Windows shows it).
    pub thumbprint_sha1: String,
    /// SHA-256 of the DER, upper-case hex.
    pub thumbprint_sha256: String,
    /// Subject distinguished name, RFC 4514 style.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// The subject's common name, when it has one.
    pub subject_cn: Option<String>,
    /// Subject alternative names (DNS, e-mail, IP, URI), as `type:value`.
    pub sans: Vec<String>,
    /// Serial number, upper-case hex.
    pub serial: String,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
    /// The public key's type.
    pub key_type: KeyType,
    /// Extended Key Usage OIDs, or `None` when the extension is absent.
    pub eku: Option<Vec<String>>,
    /// Key Usage bit names, or `None` when the extension is absent.
    pub key_usage: Option<Vec<String>>,
    /// Basic Constraints says CA.
    pub is_ca: bool,
    /// Subject equals issuer and the signature verifies with its own key.
    pub self_signed: bool,
}

impl CertFacts {
    /// Whether the EKU extension (if present) allows TLS client authentication.
    pub fn eku_allows_client_auth(&self) -> bool {
        match &self.eku {
            None => true,
            Some(oids) => oids.iter().any(|o| o == OID_CLIENT_AUTH),
        }
    }

    /// Whether the Key Usage extension (if present) allows digital signatures.
    pub fn key_usage_allows_signing(&self) -> bool {
        match &self.key_usage {
            None => true,
            Some(bits) => bits.iter().any(|b| b == "digitalSignature"),
        }
    }

    /// The store a chain certificate belongs in by its own nature.
    pub fn natural_store(&self) -> StoreName {
        if self.is_ca && self.self_signed {
            StoreName::Root
        } else if self.is_ca {
            StoreName::Intermediate
        } else {
            StoreName::EndEntity
        }
    }

    /// A one-line description for lists of candidates and messages.
    pub fn describe(&self) -> String {
        format!(
            "{} ({})",
            self.thumbprint_sha1,
            self.subject_cn.as_deref().unwrap_or(&self.subject)
        )
    }
}

/// A human name for an EKU OID, for messages.
pub fn eku_name(oid: &str) -> String {
    match oid {
        OID_SERVER_AUTH => "Server Authentication".into(),
        OID_CLIENT_AUTH => "Client Authentication".into(),
        "1.3.6.1.5.5.7.3.3" => "Code Signing".into(),
        "1.3.6.1.5.5.7.3.4" => "Secure Email".into(),
        "1.3.6.1.5.5.7.3.8" => "Time Stamping".into(),
        "1.3.6.1.5.5.7.3.9" => "OCSP Signing".into(),
        OID_ANY_EKU => "Any Purpose".into(),
        other => other.to_string(),
    }
}
