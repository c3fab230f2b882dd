//! The settings form read without I/O: the values as typed, the certificate picked by
//! search, and the change they make (pure, unit-tested).

use super::*;

/// The form's values as shown (from the stored settings or from what was typed). Never
/// holds the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Values {
    pub(super) smtp_server: String,
    pub(super) port: String,
    pub(super) from_address: String,
    pub(super) reply_to: String,
    pub(super) charset: String,
    pub(super) helo: String,
    pub(super) authenticated: bool,
    pub(super) smtp_user: String,
    pub(super) encryption: String,
    pub(super) use_certificate: bool,
    pub(super) certificate: String,
    /// What was typed into the certificate search box (offered with more than
    /// [`SEARCH_ABOVE`] certificates); when filled it decides over the drop-down.
    pub(super) certificate_find: String,
    pub(super) tls_sender_name: String,
}

impl Values {
    pub(super) fn blank() -> Values {
        Values {
            smtp_server: String::new(),
            port: String::new(),
            from_address: String::new(),
            reply_to: String::new(),
            charset: "utf-8".into(),
            helo: String::new(),
            authenticated: false,
            smtp_user: String::new(),
            encryption: Encryption::StartTls.as_str().into(),
            use_certificate: false,
            certificate: String::new(),
            certificate_find: String::new(),
            tls_sender_name: String::new(),
        }
    }

    pub(super) fn from_settings(s: &SmtpSettings) -> Values {
        Values {
            smtp_server: s.smtp_server.clone(),
            port: s.port.to_string(),
            from_address: s.from_address.clone().unwrap_or_default(),
            reply_to: s.reply_to.clone().unwrap_or_default(),
            charset: s.charset.clone(),
            helo: s.helo.clone().unwrap_or_default(),
            authenticated: s.smtp_user.is_some(),
            smtp_user: s.smtp_user.clone().unwrap_or_default(),
            encryption: s.encryption.as_str().into(),
            use_certificate: s.certificate.is_some(),
            certificate: s.certificate.clone().unwrap_or_default(),
            certificate_find: String::new(),
            tls_sender_name: s.tls_sender_name.clone().unwrap_or_default(),
        }
    }

    pub(super) fn from_form(d: &FormData) -> Values {
        Values {
            smtp_server: d.get("smtp_server").to_string(),
            port: d.get("port").to_string(),
            from_address: d.get("from_address").to_string(),
            reply_to: d.get("reply_to").to_string(),
            charset: d.get("charset").to_string(),
            helo: d.get("helo").to_string(),
            authenticated: d.get("auth") == "authenticated",
            smtp_user: d.get("smtp_user").to_string(),
            encryption: d.get("encryption").to_string(),
            use_certificate: d.get("use_certificate") == "yes",
            certificate: d.get("certificate").trim().to_string(),
            certificate_find: d.get("certificate_find").trim().to_string(),
            tls_sender_name: d.get("tls_sender_name").trim().to_string(),
        }
    }
}

/// With more certificates than this in the drop-down, a search box with suggestions
/// (a `<datalist>`, no script) is offered above it.
pub(super) const SEARCH_ABOVE: usize = 10;

/// The thumbprint of the one certificate among `options` that `typed` names: its
/// drop-down text or thumbprint exactly, else the only one whose text or thumbprint
/// contains it (any case). Why none is chosen otherwise.
pub(super) fn find_certificate(options: &[CertRecord], typed: &str) -> Result<String, String> {
    let needle = typed.trim().to_lowercase();
    let hex: String = needle
        .chars()
        .filter(|c| !matches!(c, ':' | ' '))
        .collect::<String>()
        .to_ascii_uppercase();
    let sha1 = |c: &CertRecord| c.facts.thumbprint_sha1.clone();
    if let Some(c) = options
        .iter()
        .find(|c| option_text(c).to_lowercase() == needle || c.facts.thumbprint_sha1 == hex)
    {
        return Ok(sha1(c));
    }
    let hits: Vec<&CertRecord> = options
        .iter()
        .filter(|c| {
            option_text(c).to_lowercase().contains(&needle)
                || (!hex.is_empty() && c.facts.thumbprint_sha1.contains(&hex))
        })
        .collect();
    match hits.as_slice() {
        [one] => Ok(sha1(one)),
        [] => Err(format!(
            "no eligible certificate matches “{}”: choose one from the list",
            typed.trim()
        )),
        many => Err(format!(
            "“{}” matches {} certificates: type more of its name, or empty the search box and choose from the list",
            typed.trim(),
            many.len()
        )),
    }
}

/// What is stored at exactly the page's level (not inherited from the farm).
#[derive(Debug, Default)]
pub(super) struct Stored {
    pub(super) smtp_user: Option<String>,
    pub(super) has_password: bool,
    pub(super) certificate: Option<String>,
}

/// Turns the form into the change `mailcert_binding::set` applies. Problems that are
/// about the form itself (a port that is not a number, no certificate chosen, a user
/// without a password) are reported here; every settings rule is the binding crate's.
pub(super) fn build_change(
    v: &Values,
    password: Zeroizing<String>,
    stored: &Stored,
) -> (SettingsChange, Vec<(Field, String)>) {
    let mut errors = Vec::new();
    let port = match v.port.trim() {
        "" => None,
        // The binding crate's port rule, as the CLI applies it.
        p => match mailcert_binding::parse_port(p) {
            Ok(n) => Some(n),
            Err(e) => {
                for v in e.violations() {
                    errors.push((Field::Port, v.message.clone()));
                }
                None
            }
        },
    };
    let encryption = match Encryption::from_str(&v.encryption) {
        Ok(e) => Some(e),
        Err(_) => {
            errors.push((
                Field::Encryption,
                "choose whether to use TLS connection encryption".into(),
            ));
            None
        }
    };
    let certificate = if !v.use_certificate {
        Some(None)
    } else if !v.certificate.is_empty() {
        Some(Some(v.certificate.clone()))
    } else if stored.certificate.is_some() {
        // Keep the bound one; the binding rules re-check it.
        None
    } else {
        errors.push((
            Field::Certificate,
            "choose a client certificate, or answer No to “Use client certificate authentication”"
                .into(),
        ));
        None
    };
    let user = v.smtp_user.trim().to_string();
    let credentials = if !v.authenticated {
        Some(None)
    } else if !password.is_empty() {
        Some(Some(Credentials { user, password }))
    } else if stored.has_password && stored.smtp_user.as_deref() == Some(user.as_str()) {
        // Empty password field: keep the stored one.
        None
    } else if stored.has_password {
        errors.push((
            Field::Credentials,
            "enter the password again to change the user name".into(),
        ));
        None
    } else {
        errors.push((
            Field::Credentials,
            "enter the SMTP password for this user".into(),
        ));
        None
    };
    let change = SettingsChange {
        smtp_server: Some(v.smtp_server.clone()),
        port,
        encryption,
        certificate,
        from_address: Some(v.from_address.clone()),
        reply_to: Some(v.reply_to.clone()),
        charset: Some(v.charset.clone()),
        helo: Some(v.helo.clone()),
        credentials,
        tls_sender_name: Some(v.tls_sender_name.clone()),
        server: None,
    };
    (change, errors)
}

pub(super) fn target_value(target: &Target) -> String {
    match target {
        Target::Farm => "farm".into(),
        Target::WebApp(u) => u.to_string(),
    }
}

pub(super) fn parse_target(s: &str) -> Result<Target, PageError> {
    if s == "farm" {
        Ok(Target::Farm)
    } else {
        WebAppUrl::parse(s)
            .map(Target::WebApp)
            .map_err(|e| PageError::NotFound(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailcert_store::{CertFacts, KeyType};

    fn cert(cn: Option<&str>, friendly: Option<&str>, not_after: i64) -> CertRecord {
        CertRecord {
            id: 1,
            facts: CertFacts {
                thumbprint_sha1: "AB".repeat(20),
                thumbprint_sha256: "CD".repeat(32),
                subject: "O=mailcert tests, CN=relay.test".into(),
                issuer: "CN=ca".into(),
                subject_cn: cn.map(str::to_string),
                sans: vec![],
                serial: "01".into(),
                not_before: 0,
                not_after,
                key_type: KeyType::EcP256,
                eku: None,
                key_usage: None,
                is_ca: false,
                self_signed: false,
            },
            store: mailcert_store::StoreName::EndEntity,
            friendly_name: friendly.map(str::to_string),
            has_private_key: true,
            exportable: false,
            imported_at: 0,
        }
    }

    #[test]
    fn option_text_format() {
        // 2045-01-01T00:00:00Z
        let t = 2_366_841_600;
        assert_eq!(
            option_text(&cert(Some("client-rsa.test"), Some("Client RSA"), t)),
            "client-rsa.test (Client RSA) [Expiration: 2045-01-01]"
        );
        assert_eq!(
            option_text(&cert(None, None, t)),
            "O=mailcert tests, CN=relay.test (no friendly name) [Expiration: 2045-01-01]"
        );
    }

    fn values() -> Values {
        Values {
            smtp_server: "relay.test".into(),
            port: "25".into(),
            from_address: "a@b.test".into(),
            reply_to: String::new(),
            charset: "utf-8".into(),
            helo: String::new(),
            authenticated: false,
            smtp_user: String::new(),
            encryption: "starttls".into(),
            use_certificate: true,
            certificate: "AB".repeat(20),
            certificate_find: String::new(),
            tls_sender_name: String::new(),
        }
    }

    fn pw(s: &str) -> Zeroizing<String> {
        Zeroizing::new(s.to_string())
    }

    #[test]
    fn form_to_change() {
        let (c, e) = build_change(&values(), pw(""), &Stored::default());
        assert!(e.is_empty());
        assert_eq!(c.port, Some(25));
        assert_eq!(c.encryption, Some(Encryption::StartTls));
        assert_eq!(c.certificate, Some(Some("AB".repeat(20))));
        assert!(matches!(c.credentials, Some(None)));

        let mut v = values();
        v.port = "seventy".into();
        v.use_certificate = false;
        let (c, e) = build_change(&v, pw(""), &Stored::default());
        assert_eq!(e[0].0, Field::Port);
        assert_eq!(c.certificate, Some(None));

        let mut v = values();
        v.port = String::new();
        v.certificate = String::new();
        let (c, e) = build_change(&v, pw(""), &Stored::default());
        assert_eq!(c.port, None);
        assert_eq!(e[0].0, Field::Certificate);
        // A bound certificate is kept when the placeholder is chosen.
        let stored = Stored {
            certificate: Some("EF".repeat(20)),
            ..Stored::default()
        };
        let (c, e) = build_change(&v, pw(""), &stored);
        assert!(e.is_empty());
        assert_eq!(c.certificate, None);
    }

    #[test]
    fn credentials_from_the_form() {
        let mut v = values();
        v.authenticated = true;
        v.smtp_user = " svc ".into();
        let (c, e) = build_change(&v, pw("s3cret"), &Stored::default());
        assert!(e.is_empty());
        match c.credentials {
            Some(Some(cr)) => {
                assert_eq!(cr.user, "svc");
                assert_eq!(cr.password.as_str(), "s3cret");
            }
            other => panic!("{other:?}"),
        }
        // No password typed and none stored.
        let (_, e) = build_change(&v, pw(""), &Stored::default());
        assert_eq!(e[0].0, Field::Credentials);
        // No password typed, one stored for the same user: keep it.
        let stored = Stored {
            smtp_user: Some("svc".into()),
            has_password: true,
            certificate: None,
        };
        let (c, e) = build_change(&v, pw(""), &stored);
        assert!(e.is_empty());
        assert!(c.credentials.is_none());
        // Another user needs the password again.
        v.smtp_user = "other".into();
        let (_, e) = build_change(&v, pw(""), &stored);
        assert_eq!(e[0].0, Field::Credentials);
    }

    #[test]
    fn typed_certificates_are_found() {
        let mut a = cert(Some("alpha.test"), Some("Alpha"), 2_366_841_600);
        a.facts.thumbprint_sha1 = "AA".repeat(20);
        let mut b = cert(Some("alpha-two.test"), Some("Beta"), 2_366_841_600);
        b.facts.thumbprint_sha1 = "BB".repeat(20);
        let opts = [a, b];
        assert_eq!(find_certificate(&opts, "beta"), Ok("BB".repeat(20)));
        assert_eq!(
            find_certificate(&opts, "alpha.test (Alpha) [Expiration: 2045-01-01]"),
            Ok("AA".repeat(20))
        );
        assert_eq!(find_certificate(&opts, "aa:aa"), Ok("AA".repeat(20)));
        assert!(find_certificate(&opts, "alpha").is_err_and(|e| e.contains("matches 2")));
        assert!(find_certificate(&opts, "gamma").is_err_and(|e| e.contains("no eligible")));
    }

    #[test]
    fn values_round_trip_through_the_form() {
        let v = values();
        let d = FormData::from_pairs(vec![
            ("smtp_server".into(), v.smtp_server.clone()),
            ("port".into(), v.port.clone()),
            ("from_address".into(), v.from_address.clone()),
            ("reply_to".into(), String::new()),
            ("charset".into(), "utf-8".into()),
            ("helo".into(), String::new()),
            ("auth".into(), "anonymous".into()),
            ("smtp_user".into(), String::new()),
            ("encryption".into(), "starttls".into()),
            ("use_certificate".into(), "yes".into()),
            ("certificate".into(), v.certificate.clone()),
            ("tls_sender_name".into(), String::new()),
        ]);
        assert_eq!(Values::from_form(&d), v);
    }
}
