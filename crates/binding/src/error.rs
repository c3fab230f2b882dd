//! The binding crate's errors: a broken rule names its field, so the CLI and the web page
//! can show it beside what the user typed.

use mailcert_store::ErrorKind;

/// The settings field a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Field {
    /// The web application URL.
    Url,
    /// SMTP server.
    Server,
    /// Port.
    Port,
    /// Encryption.
    Encryption,
    /// From address.
    From,
    /// Reply-To address.
    ReplyTo,
    /// Character set.
    Charset,
    /// HELO name.
    Helo,
    /// SMTP credentials.
    Credentials,
    /// Client certificate.
    Certificate,
    /// The Exchange Online connector's certificate name.
    TlsSenderName,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// The field concerned.
    pub field: Field,
    /// The rule's short name.
    pub rule: &'static str,
    /// What is wrong, in words a person can act on.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.rule, self.message)
    }
}

/// Errors from web application and settings operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store or database failed, or refused.
    #[error(transparent)]
    Store(#[from] mailcert_store::Error),
    /// One or more rules refused the settings; nothing was changed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Violation>),
    /// `--server NAME` names no server that joined the farm.
    #[error("no server {name} has joined this farm")]
    NoServer {
        /// The name as given.
        name: String,
    },
    /// The web application does not exist.
    #[error("no web application {url}")]
    NoWebApp {
        /// The normalised URL.
        url: String,
    },
    /// There are no settings at that level yet.
    #[error("{scope} has no outgoing e-mail settings{hint}")]
    NoSettings {
        /// "the farm" or the web application URL.
        scope: String,
        /// What to do about it.
        hint: &'static str,
    },
}

impl Error {
    /// Classifies the error for exit codes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Store(e) => e.kind(),
            Error::Invalid(_) => ErrorKind::Rejected,
            Error::NoWebApp { .. } | Error::NoSettings { .. } | Error::NoServer { .. } => {
                ErrorKind::NotFound
            }
        }
    }

    /// The violations, when this is a rule refusal.
    pub fn violations(&self) -> &[Violation] {
        match self {
            Error::Invalid(v) => v,
            _ => &[],
        }
    }

    pub(crate) fn one(field: Field, rule: &'static str, message: impl Into<String>) -> Error {
        Error::Invalid(vec![Violation {
            field,
            rule,
            message: message.into(),
        }])
    }
}

/// Result alias for the binding crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
