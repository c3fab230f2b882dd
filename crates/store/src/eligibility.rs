//! The rules that decide whether a certificate can authenticate mail to a relay that
//! demands a TLS client certificate. Pure functions of the stored facts and a clock, so
//! the CLI, the web page and the binding checks all judge alike.

use serde::Serialize;

use crate::model::{CertFacts, StoreName, eku_name};

/// Identifies one eligibility rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleId {
    /// In the End Entity store.
    Store,
    /// A private key was imported (and it matched the certificate at import).
    PrivateKey,
    /// Extended Key Usage, when present, includes clientAuth.
    ExtendedKeyUsage,
    /// Key Usage, when present, includes digitalSignature.
    KeyUsage,
    /// The current time lies within the validity period.
    Validity,
    /// The key type can sign a TLS handshake.
    KeyType,
}

/// A rule with its documentation.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The rule's identity.
    pub id: RuleId,
    /// Short name used in JSON and messages.
    pub name: &'static str,
    /// What the rule requires and why.
    pub doc: &'static str,
}

/// Every rule, in the order they are reported.
pub const RULES: [Rule; 6] = [
    Rule {
        id: RuleId::Store,
        name: "store",
        doc: "The certificate is in the End Entity store: only certificates that identify this farm can be bound.",
    },
    Rule {
        id: RuleId::PrivateKey,
        name: "private-key",
        doc: "Its private key was imported and matches the certificate's public key: without it no TLS handshake can prove possession.",
    },
    Rule {
        id: RuleId::ExtendedKeyUsage,
        name: "eku",
        doc: "If the Extended Key Usage extension is present it contains Client Authentication (1.3.6.1.5.5.7.3.2); anyExtendedKeyUsage alone does not count, since OpenSSL-based relays refuse it.",
    },
    Rule {
        id: RuleId::KeyUsage,
        name: "key-usage",
        doc: "If the Key Usage extension is present it contains digitalSignature, which a TLS client signature needs.",
    },
    Rule {
        id: RuleId::Validity,
        name: "validity",
        doc: "The current time lies between notBefore and notAfter; relays refuse expired and not-yet-valid certificates.",
    },
    Rule {
        id: RuleId::KeyType,
        name: "key-type",
        doc: "The key can sign a TLS handshake: RSA of at least 2048 bits, ECDSA P-256 or P-384, or Ed25519.",
    },
];

impl RuleId {
    /// The rule's short name.
    pub fn name(self) -> &'static str {
        match self {
            RuleId::Store => "store",
            RuleId::PrivateKey => "private-key",
            RuleId::ExtendedKeyUsage => "eku",
            RuleId::KeyUsage => "key-usage",
            RuleId::Validity => "validity",
            RuleId::KeyType => "key-type",
        }
    }
}

/// A failed rule: which one, and what was seen against what is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule that failed.
    pub rule: RuleId,
    /// What the certificate has.
    pub observed: String,
    /// What the rule requires.
    pub required: String,
}

impl Finding {
    /// The finding as one sentence for people.
    pub fn message(&self) -> String {
        format!(
            "{}: {}; required: {}",
            self.rule.name(),
            self.observed,
            self.required
        )
    }
}

/// What the rules look at: the certificate's facts, where it is stored, whether its key
/// is held, and the time of judgement (Unix seconds).
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The certificate's stored facts.
    pub facts: &'a CertFacts,
    /// Its store.
    pub store: StoreName,
    /// Whether its private key was imported.
    pub has_private_key: bool,
}

/// Whole days from `now` until `t`, rounded toward minus infinity: a certificate that
/// expired an hour ago has -1 days left. Lists, health rules and pages all count so.
pub fn days_until(t: i64, now: i64) -> i64 {
    (t - now).div_euclid(86_400)
}

/// The date part (YYYY-MM-DD, UTC) of Unix seconds, as lists and pages show expiry.
pub fn date(secs: i64) -> String {
    rfc3339(secs).chars().take(10).collect()
}

/// Formats Unix seconds as an RFC 3339 UTC time.
pub fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

/// Checks one rule; `None` when it passes.
pub fn check(rule: RuleId, s: &Subject<'_>, now: i64) -> Option<Finding> {
    let fail = |observed: String, required: &str| {
        Some(Finding {
            rule,
            observed,
            required: required.to_string(),
        })
    };
    let f = s.facts;
    match rule {
        RuleId::Store => (s.store != StoreName::EndEntity).then(|| Finding {
            rule,
            observed: format!("it is in the {} store", s.store.display_name()),
            required: "the End Entity store".into(),
        }),
        RuleId::PrivateKey => {
            if s.has_private_key {
                None
            } else {
                fail(
                    "no private key was imported".into(),
                    "the certificate's private key (import it from a PFX, or with its key file)",
                )
            }
        }
        RuleId::ExtendedKeyUsage => {
            if f.eku_allows_client_auth() {
                return None;
            }
            let names: Vec<String> = f.eku.iter().flatten().map(|o| eku_name(o)).collect();
            fail(
                format!("Extended Key Usage allows only {}", names.join(", ")),
                "Client Authentication (1.3.6.1.5.5.7.3.2), or no Extended Key Usage extension",
            )
        }
        RuleId::KeyUsage => {
            if f.key_usage_allows_signing() {
                return None;
            }
            let bits = f.key_usage.clone().unwrap_or_default();
            fail(
                format!("Key Usage allows only {}", bits.join(", ")),
                "digitalSignature, or no Key Usage extension",
            )
        }
        RuleId::Validity => {
            if now < f.not_before {
                fail(
                    format!("not valid before {}", rfc3339(f.not_before)),
                    "a certificate within its validity period",
                )
            } else if now > f.not_after {
                fail(
                    format!("expired on {}", rfc3339(f.not_after)),
                    "a certificate within its validity period",
                )
            } else {
                None
            }
        }
        RuleId::KeyType => {
            if f.key_type.can_sign_tls() {
                None
            } else {
                fail(
                    format!(
                        "{} cannot sign a TLS handshake here",
                        key_type_name(&f.key_type)
                    ),
                    "RSA >= 2048, ECDSA P-256/P-384 or Ed25519",
                )
            }
        }
    }
}

/// The key type as people name it: curves and algorithms by name where the OID is a
/// well-known one ("ECDSA P-521", "Ed448"), else as [`KeyType`] displays itself.
fn key_type_name(kt: &crate::model::KeyType) -> String {
    use crate::model::KeyType;
    let named = match kt {
        KeyType::EcOther(oid) => match oid.as_str() {
            "1.3.132.0.35" => Some("ECDSA P-521"),
            "1.3.132.0.10" => Some("ECDSA secp256k1"),
            "1.2.840.10045.3.1.1" => Some("ECDSA P-192"),
            "1.3.132.0.33" => Some("ECDSA P-224"),
            "1.3.36.3.3.2.8.1.1.7" => Some("ECDSA brainpoolP256r1"),
            "1.3.36.3.3.2.8.1.1.11" => Some("ECDSA brainpoolP384r1"),
            "1.3.36.3.3.2.8.1.1.13" => Some("ECDSA brainpoolP512r1"),
            _ => None,
        },
        KeyType::Other(oid) => match oid.as_str() {
            "1.3.101.113" => Some("Ed448"),
            "1.3.101.110" => Some("X25519 (a key-agreement key)"),
            "1.3.101.111" => Some("X448 (a key-agreement key)"),
            _ => None,
        },
        _ => None,
    };
    named.map_or_else(|| kt.to_string(), str::to_string)
}

/// Every failed rule, in [`RULES`] order; empty means eligible.
pub fn evaluate(s: &Subject<'_>, now: i64) -> Vec<Finding> {
    RULES.iter().filter_map(|r| check(r.id, s, now)).collect()
}

/// Whether the rules that depend on neither clock nor store pass (EKU, Key Usage, key
/// type). Stored at import so that listing eligible certificates is a query.
pub fn intrinsic_ok(facts: &CertFacts) -> bool {
    facts.eku_allows_client_auth()
        && facts.key_usage_allows_signing()
        && facts.key_type.can_sign_tls()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KeyType;

    fn facts() -> CertFacts {
        CertFacts {
            thumbprint_sha1: "AA".into(),
            thumbprint_sha256: "BB".into(),
            subject: "CN=x".into(),
            issuer: "CN=ca".into(),
            subject_cn: Some("x".into()),
            sans: vec![],
            serial: "01".into(),
            not_before: 1_000,
            not_after: 2_000,
            key_type: KeyType::EcP256,
            eku: Some(vec![crate::model::OID_CLIENT_AUTH.into()]),
            key_usage: Some(vec!["digitalSignature".into()]),
            is_ca: false,
            self_signed: false,
        }
    }

    fn rules_failing(f: &CertFacts, store: StoreName, key: bool, now: i64) -> Vec<RuleId> {
        let s = Subject {
            facts: f,
            store,
            has_private_key: key,
        };
        evaluate(&s, now).into_iter().map(|x| x.rule).collect()
    }

    #[test]
    fn a_good_certificate_passes_every_rule() {
        assert!(rules_failing(&facts(), StoreName::EndEntity, true, 1_500).is_empty());
    }

    #[test]
    fn each_rule_fails_on_its_own() {
        let f = facts();
        assert_eq!(
            rules_failing(&f, StoreName::Intermediate, true, 1_500),
            vec![RuleId::Store]
        );
        assert_eq!(
            rules_failing(&f, StoreName::EndEntity, false, 1_500),
            vec![RuleId::PrivateKey]
        );
        let mut g = f.clone();
        g.eku = Some(vec![crate::model::OID_SERVER_AUTH.into()]);
        assert_eq!(
            rules_failing(&g, StoreName::EndEntity, true, 1_500),
            vec![RuleId::ExtendedKeyUsage]
        );
        g.eku = Some(vec![crate::model::OID_ANY_EKU.into()]);
        assert_eq!(
            rules_failing(&g, StoreName::EndEntity, true, 1_500),
            vec![RuleId::ExtendedKeyUsage]
        );
        g.eku = None;
        assert!(rules_failing(&g, StoreName::EndEntity, true, 1_500).is_empty());
        let mut k = f.clone();
        k.key_usage = Some(vec!["keyEncipherment".into()]);
        assert_eq!(
            rules_failing(&k, StoreName::EndEntity, true, 1_500),
            vec![RuleId::KeyUsage]
        );
        k.key_usage = None;
        assert!(rules_failing(&k, StoreName::EndEntity, true, 1_500).is_empty());
        assert_eq!(
            rules_failing(&f, StoreName::EndEntity, true, 999),
            vec![RuleId::Validity]
        );
        assert_eq!(
            rules_failing(&f, StoreName::EndEntity, true, 2_001),
            vec![RuleId::Validity]
        );
        assert!(rules_failing(&f, StoreName::EndEntity, true, 2_000).is_empty());
        for (kt, ok) in [
            (KeyType::Rsa(1024), false),
            (KeyType::Rsa(2047), false),
            (KeyType::Rsa(2048), true),
            (KeyType::Rsa(4096), true),
            (KeyType::EcP384, true),
            (KeyType::Ed25519, true),
            (KeyType::Dsa(2048), false),
            (KeyType::EcOther("1.3.132.0.35".into()), false),
        ] {
            let mut t = f.clone();
            t.key_type = kt.clone();
            let failing = rules_failing(&t, StoreName::EndEntity, true, 1_500);
            assert_eq!(failing.is_empty(), ok, "{kt:?}");
        }
    }

    #[test]
    fn messages_name_what_was_seen() {
        let mut f = facts();
        f.eku = Some(vec![crate::model::OID_SERVER_AUTH.into()]);
        let s = Subject {
            facts: &f,
            store: StoreName::EndEntity,
            has_private_key: true,
        };
        let msgs: Vec<String> = evaluate(&s, 3_000).iter().map(Finding::message).collect();
        assert_eq!(msgs.len(), 2);
        assert!(msgs[0].contains("Server Authentication"), "{msgs:?}");
        assert!(
            msgs[1].contains("expired on 1970-01-01T00:33:20Z"),
            "{msgs:?}"
        );
    }

    #[test]
    fn key_type_findings_name_the_key_and_what_is_required() {
        let cases = [
            (
                KeyType::EcOther("1.3.132.0.35".into()),
                "key-type: ECDSA P-521 cannot sign a TLS handshake here; required: RSA >= 2048, ECDSA P-256/P-384 or Ed25519",
            ),
            (
                KeyType::Other("1.3.101.113".into()),
                "key-type: Ed448 cannot sign a TLS handshake here; required: RSA >= 2048, ECDSA P-256/P-384 or Ed25519",
            ),
            (
                KeyType::Rsa(1024),
                "key-type: RSA 1024 cannot sign a TLS handshake here; required: RSA >= 2048, ECDSA P-256/P-384 or Ed25519",
            ),
            (
                KeyType::EcOther("1.2.3.4".into()),
                "key-type: ECDSA on curve 1.2.3.4 cannot sign a TLS handshake here; required: RSA >= 2048, ECDSA P-256/P-384 or Ed25519",
            ),
        ];
        for (kt, want) in cases {
            let mut f = facts();
            f.key_type = kt;
            let s = Subject {
                facts: &f,
                store: StoreName::EndEntity,
                has_private_key: true,
            };
            let msgs: Vec<String> = evaluate(&s, 1_500).iter().map(Finding::message).collect();
            assert_eq!(msgs, [want]);
        }
    }

    #[test]
    fn rule_list_is_complete_with_unique_names_and_docs() {
        let mut names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
        for r in RULES {
            assert_eq!(r.name, r.id.name());
            assert!(r.doc.len() > 20);
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), RULES.len());
    }
}
