//! The relay's errors: typed, with the context a person needs, never printed here.

use std::path::PathBuf;

/// A relay failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The spool file cannot be opened or created.
    #[error("spool {}: {problem}", path.display())]
    Spool {
        /// The spool file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The spool database refused an operation.
    #[error("spool: {0}")]
    Database(#[from] rusqlite::Error),
    /// A socket could not be opened.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The configuration breaks a rule (an open relay, AUTH without TLS, ...).
    #[error("{rule}: {message}")]
    Rejected {
        /// The rule's short name.
        rule: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// The farm refused (certificate, master key, database).
    #[error(transparent)]
    Farm(#[from] mailcert_store::Error),
    /// The settings refused.
    #[error(transparent)]
    Binding(#[from] mailcert_binding::Error),
    /// A fault of mailcert's own.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RelayError {
    /// The contract's kind of failure, for exit codes.
    pub fn kind(&self) -> mailcert_store::ErrorKind {
        match self {
            RelayError::Rejected { .. } => mailcert_store::ErrorKind::Rejected,
            RelayError::Farm(e) => e.kind(),
            RelayError::Binding(e) => e.kind(),
            RelayError::Internal(_) => mailcert_store::ErrorKind::Internal,
            _ => mailcert_store::ErrorKind::Input,
        }
    }
}

/// The relay's result type.
pub type Result<T, E = RelayError> = std::result::Result<T, E>;
