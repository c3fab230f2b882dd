//! Outgoing e-mail settings: the fields of SharePoint's "Outgoing E-Mail Settings" page,
//! the change a user asks for (what is left out keeps its value), and the rules that
//! decide whether the result may be stored.

use crate::rules::Rule;
use std::fmt;

use zeroize::Zeroizing;

use crate::error::{Error, Field, Violation};

pub use mailcert_store::Encryption;

/// The settings of one level (farm or web application), as stored. The password is
/// never held here: only whether one is set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SmtpSettings {
    /// SMTP server host name or IP literal.
    pub smtp_server: String,
    /// TCP port.
    pub port: u16,
    /// Encryption.
    pub encryption: Encryption,
    /// From address.
    pub from_address: Option<String>,
    /// Reply-To address.
    pub reply_to: Option<String>,
    /// Character set of bodies the tool builds.
    pub charset: String,
    /// HELO name; `None` means the host's name.
    pub helo: Option<String>,
    /// SMTP user name, when credentials are set.
    pub smtp_user: Option<String>,
    /// Whether an SMTP password is stored.
    pub has_password: bool,
    /// SHA-1 thumbprint of the bound client certificate.
    pub certificate: Option<String>,
    /// The Exchange Online connector's `TlsSenderCertificateName`: the bound
    /// certificate's DNS name must match it.
    pub tls_sender_name: Option<String>,
}

/// New SMTP credentials; the password is wiped when dropped and never printed.
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Password.
    pub password: Zeroizing<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What `smtp set` asks to change. `None` keeps the current value (as Set-SPWebApplication
/// does); the inner `Option` of a clearable field clears it.
#[derive(Debug, Default)]
pub struct SettingsChange {
    /// New server.
    pub smtp_server: Option<String>,
    /// New port.
    pub port: Option<u16>,
    /// New encryption.
    pub encryption: Option<Encryption>,
    /// New certificate reference, or `Some(None)` to unbind.
    pub certificate: Option<Option<String>>,
    /// New From address (empty clears).
    pub from_address: Option<String>,
    /// New Reply-To address (empty clears).
    pub reply_to: Option<String>,
    /// New character set.
    pub charset: Option<String>,
    /// New HELO name (empty returns to the host's name).
    pub helo: Option<String>,
    /// New credentials, or `Some(None)` to drop them.
    pub credentials: Option<Option<Credentials>>,
    /// New connector certificate name (empty clears).
    pub tls_sender_name: Option<String>,
    /// Change the settings of this one server only (SharePoint's
    /// `-NotProvisionGlobally`); made from the level's settings for every server the
    /// first time.
    pub server: Option<String>,
}

/// Character sets offered (SharePoint's list, by IANA name).
pub const CHARSETS: &[&str] = &[
    "utf-8",
    "us-ascii",
    "iso-8859-1",
    "iso-8859-2",
    "iso-8859-3",
    "iso-8859-4",
    "iso-8859-5",
    "iso-8859-6",
    "iso-8859-7",
    "iso-8859-8",
    "iso-8859-9",
    "iso-8859-13",
    "iso-8859-15",
    "windows-1250",
    "windows-1251",
    "windows-1252",
    "windows-1253",
    "windows-1254",
    "windows-1255",
    "windows-1256",
    "windows-1257",
    "windows-1258",
    "koi8-r",
    "koi8-u",
    "shift_jis",
    "euc-jp",
    "iso-2022-jp",
    "gb2312",
    "gb18030",
    "big5",
    "euc-kr",
    "ks_c_5601-1987",
];

/// Whether `s` is a host name (RFC 1123 labels) or an IP literal (IPv6 optionally in brackets).
pub fn valid_host(s: &str) -> bool {
    let inner = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if inner.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    if s.is_empty() || s.len() > 253 {
        return false;
    }
    let name = s.strip_suffix('.').unwrap_or(s);
    let labels: Vec<&str> = name.split('.').collect();
    // An all-numeric dotted name that is not an IP is a typo, not a host.
    if labels.iter().all(|l| l.chars().all(|c| c.is_ascii_digit())) {
        return false;
    }
    labels.iter().all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

/// Parses a mailbox address (`user@example.com` or `Name <user@example.com>`).
pub fn parse_mailbox(s: &str) -> Result<lettre::message::Mailbox, String> {
    s.trim()
        .parse::<lettre::message::Mailbox>()
        .map_err(|_| {
            format!(
                "'{s}' is not an e-mail address: give one such as sharepoint@contoso.com or \"SharePoint <sharepoint@contoso.com>\""
            )
        })
}

/// Settings that passed every rule. The only way to make one is [`validate`], so
/// nothing unchecked reaches the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedSmtpSettings(SmtpSettings);

impl ValidatedSmtpSettings {
    /// The checked settings.
    pub fn get(&self) -> &SmtpSettings {
        &self.0
    }
}

/// What the certificate rule needs to know about the certificate to be bound.
#[derive(Debug, Clone)]
pub struct CertificateCheck {
    /// How it is described in messages.
    pub described: String,
    /// Its failed eligibility rules now (empty: eligible).
    pub reasons: Vec<String>,
}

/// Applies every binding rule to candidate settings; all broken rules are reported at once.
pub fn validate(
    s: SmtpSettings,
    cert: Option<&CertificateCheck>,
) -> Result<ValidatedSmtpSettings, Error> {
    let mut v = Vec::new();
    let mut push = |field, rule, message: String| {
        v.push(Violation {
            field,
            rule,
            message,
        })
    };
    if s.smtp_server.trim().is_empty() {
        push(
            Field::Server,
            Rule::Server.name(),
            "an SMTP server is required".into(),
        );
    } else if !valid_host(&s.smtp_server) {
        push(
            Field::Server,
            Rule::Server.name(),
            format!("'{}' is not a host name or IP address", s.smtp_server),
        );
    }
    if s.port == 0 {
        push(
            Field::Port,
            Rule::Port.name(),
            crate::rules::port_message().into(),
        );
    }
    for (field, value) in [
        (Field::From, &s.from_address),
        (Field::ReplyTo, &s.reply_to),
    ] {
        if let Some(a) = value
            && let Err(e) = parse_mailbox(a)
        {
            push(field, Rule::Address.name(), e);
        }
    }
    if !CHARSETS.contains(&s.charset.as_str()) {
        push(
            Field::Charset,
            Rule::Charset.name(),
            format!(
                "'{}' is not a supported character set (e.g. utf-8, iso-8859-1, windows-1252)",
                s.charset
            ),
        );
    }
    if let Some(h) = &s.helo
        && (!valid_host(h) || h.starts_with('['))
    {
        push(
            Field::Helo,
            Rule::Helo.name(),
            format!("'{h}' is not a valid HELO host name"),
        );
    }
    if let Some(u) = &s.smtp_user {
        if u.trim().is_empty() {
            push(
                Field::Credentials,
                Rule::Credentials.name(),
                "the SMTP user name is empty".into(),
            );
        }
        if !s.has_password {
            push(
                Field::Credentials,
                Rule::Credentials.name(),
                "an SMTP user needs a password".into(),
            );
        }
        if s.encryption == Encryption::None {
            push(
                Field::Credentials,
                Rule::CredentialsNeedTls.name(),
                "SMTP credentials need encryption (starttls or tls): a password never travels in clear".into(),
            );
        }
    }
    if let Some(n) = &s.tls_sender_name {
        let bare = n.strip_prefix("*.").unwrap_or(n);
        if bare.is_empty()
            || bare.contains('*')
            || !valid_host(bare)
            || bare.parse::<std::net::IpAddr>().is_ok()
        {
            push(
                Field::TlsSenderName,
                Rule::TlsSenderName.name(),
                format!(
                    "'{n}' is not a certificate name such as mail.contoso.com or *.contoso.com"
                ),
            );
        }
    }
    if s.certificate.is_some() && s.encryption == Encryption::None {
        push(
            Field::Certificate,
            Rule::CertificateNeedsTls.name(),
            "a client certificate needs encryption (starttls or tls); it is presented in the TLS handshake".into(),
        );
    }
    if let Some(c) = cert
        && !c.reasons.is_empty()
    {
        push(
            Field::Certificate,
            Rule::CertificateEligible.name(),
            format!(
                "certificate {} is not eligible for SMTP client authentication: {}",
                c.described,
                c.reasons.join("; ")
            ),
        );
    }
    if v.is_empty() {
        Ok(ValidatedSmtpSettings(s))
    } else {
        Err(Error::Invalid(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> SmtpSettings {
        SmtpSettings {
            smtp_server: "relay.contoso.com".into(),
            port: 25,
            encryption: Encryption::StartTls,
            from_address: Some("sharepoint@contoso.com".into()),
            reply_to: None,
            charset: "utf-8".into(),
            helo: None,
            smtp_user: None,
            has_password: false,
            certificate: None,
            tls_sender_name: None,
        }
    }

    fn rules(s: SmtpSettings, c: Option<&CertificateCheck>) -> Vec<&'static str> {
        match validate(s, c) {
            Ok(_) => vec![],
            Err(e) => e.violations().iter().map(|v| v.rule).collect(),
        }
    }

    #[test]
    fn hosts() {
        for ok in [
            "relay",
            "relay.contoso.com",
            "127.0.0.1",
            "::1",
            "[::1]",
            "mx-1.example.org.",
        ] {
            assert!(valid_host(ok), "{ok}");
        }
        for bad in [
            "",
            "relay..com",
            "-relay",
            "relay-.com",
            "re lay",
            "1.2.3",
            "a/b",
            &"a".repeat(64),
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
    }

    #[test]
    fn each_rule_pass_and_fail() {
        assert!(rules(base(), None).is_empty());
        let mut s = base();
        s.smtp_server = "bad host".into();
        assert_eq!(rules(s, None), ["server"]);
        let mut s = base();
        s.port = 0;
        assert_eq!(rules(s, None), ["port"]);
        let mut s = base();
        s.from_address = Some("not an address".into());
        s.reply_to = Some("also@".into());
        assert_eq!(rules(s, None), ["address", "address"]);
        let mut s = base();
        s.reply_to = Some("Help Desk <help@contoso.com>".into());
        assert!(rules(s, None).is_empty());
        let mut s = base();
        s.charset = "klingon".into();
        assert_eq!(rules(s, None), ["charset"]);
        let mut s = base();
        s.helo = Some("bad helo".into());
        assert_eq!(rules(s, None), ["helo"]);
        let mut s = base();
        s.encryption = Encryption::None;
        s.certificate = Some("AB".into());
        assert_eq!(rules(s, None), ["certificate-needs-tls"]);
        let mut s = base();
        s.encryption = Encryption::None;
        s.smtp_user = Some("svc".into());
        s.has_password = true;
        assert_eq!(rules(s, None), ["credentials-need-tls"]);
        let mut s = base();
        s.smtp_user = Some("svc".into());
        assert_eq!(rules(s, None), ["credentials"]);
        let mut s = base();
        s.certificate = Some("AB".into());
        let c = CertificateCheck {
            described: "AB (x)".into(),
            reasons: vec!["validity: expired".into()],
        };
        assert_eq!(rules(s, Some(&c)), ["certificate-eligible"]);
    }
}
