//! The Exchange Online inbound connector rule (`tls-sender-name`): a certificate-based
//! connector accepts mail only when a DNS name of the client certificate matches its
//! `TlsSenderCertificateName`. Pure functions over the stored facts.

use crate::model::CertFacts;

/// The DNS names Exchange compares: the Subject Alternative Name's DNS entries, or the
/// subject's common name when the certificate has no DNS name in a SAN.
pub fn dns_names(facts: &CertFacts) -> Vec<String> {
    let sans: Vec<String> = facts
        .sans
        .iter()
        .filter_map(|s| s.strip_prefix("DNS:"))
        .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    if !sans.is_empty() {
        return sans;
    }
    facts
        .subject_cn
        .iter()
        .map(|cn| cn.trim_end_matches('.').to_ascii_lowercase())
        .collect()
}

/// Whether the certificate name `cert_name` matches the connector's `wanted` name, as
/// Exchange matches them: equal ignoring case; a certificate name `*.contoso.com` covers
/// exactly one label in front of `contoso.com`; a connector name `*.contoso.com` is met by
/// that same wildcard or by a name one label deeper.
pub fn name_matches(cert_name: &str, wanted: &str) -> bool {
    let c = cert_name.trim_end_matches('.').to_ascii_lowercase();
    let w = wanted.trim().trim_end_matches('.').to_ascii_lowercase();
    if c.is_empty() || w.is_empty() {
        return false;
    }
    if c == w {
        return true;
    }
    let one_label_under = |name: &str, base: &str| {
        name.strip_suffix(base)
            .and_then(|front| front.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.contains('.') && label != "*")
    };
    if let Some(base) = c.strip_prefix("*.") {
        return one_label_under(&w, base);
    }
    if let Some(base) = w.strip_prefix("*.") {
        return one_label_under(&c, base);
    }
    false
}

/// The rule: `None` when a DNS name of the certificate matches `wanted`, else the
/// reason, naming what the certificate has.
pub fn check_tls_sender_name(facts: &CertFacts, wanted: &str) -> Option<String> {
    let names = dns_names(facts);
    if names.iter().any(|n| name_matches(n, wanted)) {
        return None;
    }
    Some(format!(
        "tls-sender-name: the certificate's DNS names ({}) do not match the connector's TlsSenderCertificateName '{}'; Exchange Online refuses the mail (550 5.7.64 TenantAttribution or 451 5.7.3)",
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        },
        wanted.trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KeyType;

    fn facts(cn: Option<&str>, sans: &[&str]) -> CertFacts {
        CertFacts {
            thumbprint_sha1: String::new(),
            thumbprint_sha256: String::new(),
            subject: String::new(),
            issuer: String::new(),
            subject_cn: cn.map(str::to_string),
            sans: sans.iter().map(|s| s.to_string()).collect(),
            serial: String::new(),
            not_before: 0,
            not_after: 0,
            key_type: KeyType::EcP256,
            eku: None,
            key_usage: None,
            is_ca: false,
            self_signed: false,
        }
    }

    #[test]
    fn san_names_count_and_the_cn_only_without_them() {
        let f = facts(
            Some("ignored.contoso.com"),
            &["DNS:mail.contoso.com", "IP:10.0.0.1"],
        );
        assert!(check_tls_sender_name(&f, "mail.contoso.com").is_none());
        assert!(check_tls_sender_name(&f, "MAIL.Contoso.com.").is_none());
        assert!(check_tls_sender_name(&f, "ignored.contoso.com").is_some());
        let cn_only = facts(Some("relay.contoso.com"), &["IP:10.0.0.1"]);
        assert!(check_tls_sender_name(&cn_only, "relay.contoso.com").is_none());
        let nothing = facts(None, &[]);
        let why = check_tls_sender_name(&nothing, "relay.contoso.com").unwrap_or_default();
        assert!(why.contains("(none)") || why.contains("none"), "{why}");
    }

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_matches("*.contoso.com", "mail.contoso.com"));
        assert!(!name_matches("*.contoso.com", "a.b.contoso.com"));
        assert!(!name_matches("*.contoso.com", "contoso.com"));
        assert!(name_matches("mail.contoso.com", "*.contoso.com"));
        assert!(name_matches("*.contoso.com", "*.contoso.com"));
        assert!(!name_matches("mail.fabrikam.com", "*.contoso.com"));
        assert!(!name_matches("evilcontoso.com", "*.contoso.com"));
        assert!(!name_matches("", "x"));
    }
}
