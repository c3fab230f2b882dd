//! The farm's certificate settings (Set-SPCertificateSettings): health thresholds and the
//! defaults of new certificate requests, and the notification contacts.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::repo::Farm;

/// Key algorithm of a new request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyAlgorithm {
    /// RSA (the most widely accepted; the default).
    Rsa,
    /// ECDSA on a NIST curve.
    Ecc,
}

impl KeyAlgorithm {
    /// The name on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa => "rsa",
            KeyAlgorithm::Ecc => "ecc",
        }
    }
}

/// Elliptic curve of an ECC request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Curve {
    /// NIST P-256 (signed with SHA-256).
    P256,
    /// NIST P-384 (signed with SHA-384).
    P384,
}

impl Curve {
    /// The name on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Curve::P256 => "p256",
            Curve::P384 => "p384",
        }
    }
}

/// Signature hash of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Hash {
    /// The name on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Hash::Sha256 => "sha256",
            Hash::Sha384 => "sha384",
            Hash::Sha512 => "sha512",
        }
    }
}

/// RSA key sizes a request may ask for.
pub const RSA_KEY_SIZES: [u32; 3] = [2048, 3072, 4096];

/// The farm's certificate settings. Thresholds are days; 0 turns that health rule off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CertificateSettings {
    /// `upcoming-expiration` fires when a bound certificate expires within this many days.
    pub attention_days: u32,
    /// `about-to-expire` fires when a bound certificate expires within this many days.
    pub warning_days: u32,
    /// `expired` fires for this many days after a bound certificate expired (afterwards
    /// `binding-broken` still reports it).
    pub error_days: u32,
    /// Default key algorithm of new requests.
    pub key_algorithm: KeyAlgorithm,
    /// Default RSA key size.
    pub key_size: u32,
    /// Default curve for ECC.
    pub elliptic_curve: Curve,
    /// Default signature hash.
    pub hash: Hash,
    /// Default subject organization (O).
    pub organization: Option<String>,
    /// Default subject organizational unit (OU).
    pub organizational_unit: Option<String>,
    /// Default subject locality (L).
    pub locality: Option<String>,
    /// Default subject state or province (ST).
    pub state: Option<String>,
    /// Default subject country (C, ISO 3166-1 alpha-2).
    pub country: Option<String>,
}

impl Default for CertificateSettings {
    fn default() -> Self {
        CertificateSettings {
            attention_days: 60,
            warning_days: 15,
            error_days: 15,
            key_algorithm: KeyAlgorithm::Rsa,
            key_size: 2048,
            elliptic_curve: Curve::P256,
            hash: Hash::Sha256,
            organization: None,
            organizational_unit: None,
            locality: None,
            state: None,
            country: None,
        }
    }
}

fn invalid(message: String) -> Error {
    Error::Rejected {
        rule: "certificate-settings",
        message,
    }
}

/// Checks an ISO 3166-1 alpha-2 country code (two ASCII letters), upper-cased.
pub(crate) fn country_code(c: &str) -> Result<String> {
    let c = c.trim();
    if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(c.to_ascii_uppercase())
    } else {
        Err(invalid(format!(
            "country '{c}' is not a two-letter ISO 3166-1 code (such as US, DE or NL)"
        )))
    }
}

/// Checks a subject field: not empty, no control characters, at most 64 characters (the
/// X.520 upper bound for O, OU, L, ST and CN).
pub(crate) fn subject_field(what: &str, v: &str) -> Result<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > 64 || v.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{what} '{v}' must be 1 to 64 characters without control characters"
        )));
    }
    Ok(v.to_string())
}

impl CertificateSettings {
    /// Checks the settings as a whole: the attention threshold is not below the warning
    /// threshold (unless either is off), the key size is one RSA allows here, and the
    /// subject defaults are well formed. Returns them normalised.
    pub fn validated(mut self) -> Result<CertificateSettings> {
        if self.attention_days != 0
            && self.warning_days != 0
            && self.attention_days < self.warning_days
        {
            return Err(invalid(format!(
                "the attention threshold ({} days) is below the warning threshold ({} days); attention comes first",
                self.attention_days, self.warning_days
            )));
        }
        for (name, d) in [
            ("attention", self.attention_days),
            ("warning", self.warning_days),
            ("error", self.error_days),
        ] {
            if d > 3650 {
                return Err(invalid(format!(
                    "the {name} threshold ({d} days) is over ten years"
                )));
            }
        }
        if !RSA_KEY_SIZES.contains(&self.key_size) {
            return Err(invalid(format!(
                "key size {} is not one of 2048, 3072, 4096",
                self.key_size
            )));
        }
        let fields = [
            ("organization", &mut self.organization),
            ("organizational unit", &mut self.organizational_unit),
            ("locality", &mut self.locality),
            ("state", &mut self.state),
        ];
        for (what, f) in fields {
            if let Some(v) = f.take() {
                *f = if v.trim().is_empty() {
                    None
                } else {
                    Some(subject_field(what, &v)?)
                };
            }
        }
        if let Some(c) = self.country.take() {
            self.country = if c.trim().is_empty() {
                None
            } else {
                Some(country_code(&c)?)
            };
        }
        Ok(self)
    }

    /// Every field as `name: value` pairs, for the audit trail's change list.
    fn fields(&self) -> Vec<(&'static str, String)> {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            ("attention-days", self.attention_days.to_string()),
            ("warning-days", self.warning_days.to_string()),
            ("error-days", self.error_days.to_string()),
            ("key-algorithm", self.key_algorithm.as_str().into()),
            ("key-size", self.key_size.to_string()),
            ("elliptic-curve", self.elliptic_curve.as_str().into()),
            ("hash", self.hash.as_str().into()),
            ("organization", o(&self.organization)),
            ("organizational-unit", o(&self.organizational_unit)),
            ("locality", o(&self.locality)),
            ("state", o(&self.state)),
            ("country", o(&self.country)),
        ]
    }
}

/// The farm's certificate settings (the defaults when never set).
pub fn certificate_settings(farm: &mut Farm) -> Result<CertificateSettings> {
    farm.read(settings_in)
}

impl crate::repo::Tx<'_> {
    /// The farm's certificate settings inside this transaction (defaults when never set).
    pub fn certificate_settings(&self) -> Result<CertificateSettings> {
        settings_in(self)
    }
}

pub(crate) fn settings_in(tx: &crate::repo::Tx<'_>) -> Result<CertificateSettings> {
    match tx.certificate_settings_text()? {
        None => Ok(CertificateSettings::default()),
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            Error::Internal(format!("stored certificate settings are unreadable: {e}"))
        }),
    }
}

/// Applies `change` to the current settings, validates the result and stores it with an
/// audit line naming each field that changed (old -> new). Returns the new settings and
/// the changed fields (empty: nothing was written).
pub fn update_certificate_settings(
    farm: &mut Farm,
    change: impl FnOnce(&mut CertificateSettings),
    now: i64,
) -> Result<(CertificateSettings, Vec<String>)> {
    farm.write(|tx| {
        let before = settings_in(tx)?;
        let mut after = before.clone();
        change(&mut after);
        let after = after.validated()?;
        let changed: Vec<String> = before
            .fields()
            .into_iter()
            .zip(after.fields())
            .filter(|(a, b)| a.1 != b.1)
            .map(|(a, b)| format!("{}: {:?} -> {:?}", a.0, a.1, b.1))
            .collect();
        if changed.is_empty() {
            return Ok((after, changed));
        }
        let text = serde_json::to_string(&after)
            .map_err(|e| Error::Internal(format!("encoding certificate settings: {e}")))?;
        tx.put_certificate_settings_text(&text, now)?;
        tx.audit(now, "settings", "certificate settings", &changed.join("; "))?;
        Ok((after, changed))
    })
}

/// The notification contacts, in the order they were added.
pub fn contacts(farm: &mut Farm) -> Result<Vec<String>> {
    farm.read(|tx| tx.contacts())
}

/// A change to the notification contacts.
#[derive(Debug, Clone)]
pub enum ContactChange {
    /// Add these (already validated) addresses.
    Add(Vec<String>),
    /// Remove these addresses.
    Remove(Vec<String>),
    /// Remove every contact.
    Clear,
}

/// Applies a change to the contacts in one transaction, audited; returns the addresses
/// actually added or removed. Removing an address that is not a contact is refused
/// (not found) and changes nothing.
pub fn change_contacts(farm: &mut Farm, change: ContactChange, now: i64) -> Result<Vec<String>> {
    farm.write(|tx| {
        let mut done = Vec::new();
        match change {
            ContactChange::Add(list) => {
                for a in list {
                    if tx.add_contact(&a, now)? {
                        tx.audit(now, "contact-add", &a, "notification contact added")?;
                        done.push(a);
                    }
                }
            }
            ContactChange::Remove(list) => {
                for a in list {
                    if !tx.remove_contact(&a)? {
                        return Err(Error::NotFound {
                            reference: format!("notification contact {a}"),
                        });
                    }
                    tx.audit(now, "contact-remove", &a, "notification contact removed")?;
                    done.push(a);
                }
            }
            ContactChange::Clear => {
                done = tx.contacts()?;
                tx.clear_contacts()?;
                for a in &done {
                    tx.audit(now, "contact-remove", a, "notification contacts cleared")?;
                }
            }
        }
        Ok(done)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_sharepoints() {
        let s = CertificateSettings::default();
        assert_eq!(
            (s.attention_days, s.warning_days, s.error_days),
            (60, 15, 15)
        );
        assert!(s.validated().is_ok());
    }

    #[test]
    fn attention_below_warning_is_refused_unless_off() {
        let s = CertificateSettings {
            attention_days: 10,
            ..Default::default()
        };
        let e = s
            .validated()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("below the warning threshold"), "{e}");
        let off = CertificateSettings {
            attention_days: 0,
            ..Default::default()
        };
        assert!(off.validated().is_ok());
    }

    #[test]
    fn country_and_key_size_are_checked() {
        let bad = CertificateSettings {
            country: Some("USA".into()),
            ..Default::default()
        };
        assert!(bad.validated().is_err());
        let ok = CertificateSettings {
            country: Some("nl".into()),
            ..Default::default()
        }
        .validated();
        assert_eq!(ok.ok().and_then(|s| s.country).as_deref(), Some("NL"));
        let size = CertificateSettings {
            key_size: 1024,
            ..Default::default()
        };
        assert!(size.validated().is_err());
    }

    #[test]
    fn old_stored_text_missing_fields_gets_defaults() {
        let s: CertificateSettings =
            serde_json::from_str(r#"{"attention_days": 30}"#).unwrap_or_default();
        assert_eq!(s.attention_days, 30);
        assert_eq!(s.warning_days, 15);
    }
}
