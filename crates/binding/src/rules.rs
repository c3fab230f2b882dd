//! Every rule that keeps a bad setting or binding out, in one place: the CLI, the web
//! page and the relay all get their refusals from here, named the same way.
//!
//! A rule's name (what `--json` and the web page show) is derived from its id, so the
//! two cannot drift apart; [`RULES`] lists them all for documentation and tests.

use crate::error::{Error, Field, Violation};

/// A binding or settings rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// A web application URL is an absolute http(s) URL.
    Url,
    /// An SMTP server is given, as a host name or IP literal.
    Server,
    /// The port is 1–65535.
    Port,
    /// From and Reply-To are mailbox addresses.
    Address,
    /// The character set is one the sender can encode.
    Charset,
    /// The HELO name is a host name.
    Helo,
    /// SMTP credentials are a non-empty user with a non-empty password, neither
    /// holding NUL (which would end the AUTH PLAIN fields early).
    Credentials,
    /// SMTP credentials need encryption: a password never travels in clear.
    CredentialsNeedTls,
    /// A client certificate needs encryption: it is presented in the TLS handshake.
    CertificateNeedsTls,
    /// The bound certificate is eligible for SMTP client authentication now.
    CertificateEligible,
    /// A stored SMTP password opens only for the server, port and user it was given
    /// for; moving any of them needs the password again.
    PasswordFollowsServer,
    /// The Exchange Online connector name is a certificate name that the bound
    /// certificate carries.
    TlsSenderName,
    /// Settings with a bound certificate are not dropped without force.
    Bound,
}

/// Every rule, in the order the documentation lists them.
pub const RULES: &[Rule] = &[
    Rule::Url,
    Rule::Server,
    Rule::Port,
    Rule::Address,
    Rule::Charset,
    Rule::Helo,
    Rule::Credentials,
    Rule::CredentialsNeedTls,
    Rule::CertificateNeedsTls,
    Rule::CertificateEligible,
    Rule::PasswordFollowsServer,
    Rule::TlsSenderName,
    Rule::Bound,
];

impl Rule {
    /// The rule's name: its id in kebab case.
    pub const fn name(self) -> &'static str {
        match self {
            Rule::Url => "url",
            Rule::Server => "server",
            Rule::Port => "port",
            Rule::Address => "address",
            Rule::Charset => "charset",
            Rule::Helo => "helo",
            Rule::Credentials => "credentials",
            Rule::CredentialsNeedTls => "credentials-need-tls",
            Rule::CertificateNeedsTls => "certificate-needs-tls",
            Rule::CertificateEligible => "certificate-eligible",
            Rule::PasswordFollowsServer => "password-follows-server",
            Rule::TlsSenderName => "tls-sender-name",
            Rule::Bound => "bound",
        }
    }

    /// The rule with this name.
    pub fn from_name(name: &str) -> Option<Rule> {
        RULES.iter().copied().find(|r| r.name() == name)
    }

    /// A broken instance of this rule on `field`.
    pub(crate) fn broken(self, field: Field, message: impl Into<String>) -> Violation {
        Violation {
            field,
            rule: self.name(),
            message: message.into(),
        }
    }

    /// The error for this rule broken alone.
    pub(crate) fn refuse(self, field: Field, message: impl Into<String>) -> Error {
        Error::Invalid(vec![self.broken(field, message)])
    }
}

/// The port given as a number of any size (the CLI's argument, the web form's field),
/// checked by [`Rule::Port`].
pub fn port_from(n: u64) -> Result<u16, Error> {
    u16::try_from(n)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| Rule::Port.refuse(Field::Port, port_message()))
}

/// The port as typed, checked by [`Rule::Port`].
pub fn parse_port(text: &str) -> Result<u16, Error> {
    match text.trim().parse::<u64>() {
        Ok(n) => port_from(n),
        Err(_) => Err(Rule::Port.refuse(
            Field::Port,
            format!("'{}' is not a port: {}", text.trim(), port_message()),
        )),
    }
}

pub(crate) fn port_message() -> &'static str {
    "the port must be between 1 and 65535"
}

/// The [`Rule::Credentials`] violations of a user and password about to be stored.
pub(crate) fn credential_violations(user: &str, password: &str) -> Vec<Violation> {
    let mut v = Vec::new();
    if user.trim().is_empty() {
        v.push(Rule::Credentials.broken(Field::Credentials, "the SMTP user name is empty"));
    }
    if password.is_empty() {
        v.push(Rule::Credentials.broken(Field::Credentials, "the SMTP password is empty"));
    }
    if user.contains('\0') || password.contains('\0') {
        v.push(Rule::Credentials.broken(
            Field::Credentials,
            "the SMTP user and password must not contain NUL characters",
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_one_distinct_kebab_case_name_that_finds_it_again() {
        let mut names = std::collections::HashSet::new();
        for r in RULES {
            let n = r.name();
            assert!(names.insert(n), "{n} twice");
            assert!(
                n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{n}"
            );
            // The name is the id's words, kebab-cased.
            let id = format!("{r:?}");
            let mut kebab = String::new();
            for (i, c) in id.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    kebab.push('-');
                }
                kebab.push(c.to_ascii_lowercase());
            }
            assert_eq!(kebab, n, "{r:?}");
            assert_eq!(Rule::from_name(n), Some(*r));
        }
        assert_eq!(Rule::from_name("no-such-rule"), None);
    }

    #[test]
    fn ports_are_checked_the_same_from_any_source() {
        assert_eq!(port_from(25).ok(), Some(25));
        assert_eq!(port_from(65535).ok(), Some(65535));
        for bad in [0, 65536, 1 << 40] {
            let e = port_from(bad).err().map(|e| e.violations()[0].rule);
            assert_eq!(e, Some("port"), "{bad}");
        }
        assert_eq!(parse_port(" 587 ").ok(), Some(587));
        for bad in ["", "x", "-1", "70000", "0"] {
            let e = parse_port(bad).err().map(|e| e.violations()[0].rule);
            assert_eq!(e, Some("port"), "{bad:?}");
        }
    }

    #[test]
    fn credentials_are_refused_empty_or_with_nul() {
        assert!(credential_violations("svc", "secret").is_empty());
        assert_eq!(credential_violations("svc", "").len(), 1);
        assert_eq!(credential_violations(" ", "x").len(), 1);
        assert_eq!(credential_violations("svc", "a\0b").len(), 1);
        assert!(
            credential_violations("svc", "")
                .iter()
                .all(|v| v.rule == Rule::Credentials.name())
        );
    }
}
