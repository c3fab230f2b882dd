//! The store's error type: what went wrong, with the file, certificate or rule it concerns.

use std::path::PathBuf;

/// What kind of failure an [`Error`] is, so that a front end can map it to an exit code
/// without matching every variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad input or environment: an unreadable or malformed file, a wrong password,
    /// a missing or wrong master key, a database failure.
    Input,
    /// A rule refused the request (a bound certificate removed without force, say).
    Rejected,
    /// The certificate or object named does not exist.
    NotFound,
    /// An ambiguous reference or a request that makes no sense as typed.
    Usage,
    /// A fault of mailcert's own (a broken invariant), not of the input.
    Internal,
}

/// Errors from parsing, checking and storing certificates.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// A file's contents could not be understood.
    #[error("{}: {problem}", path.display())]
    BadFile {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it, in words a person can act on.
        problem: String,
    },
    /// The password did not open a PKCS#12 file or an encrypted key.
    #[error("{}: wrong password (the file's integrity check failed)", path.display())]
    WrongPassword {
        /// The file concerned.
        path: PathBuf,
    },
    /// A password-protected file was given without a password.
    #[error("{}: the file is password-protected and no password was given", path.display())]
    PasswordRequired {
        /// The file concerned.
        path: PathBuf,
    },
    /// The private key does not belong to the certificate.
    #[error("{}: the private key does not match the certificate's public key ({subject})", path.display())]
    KeyMismatch {
        /// The file concerned.
        path: PathBuf,
        /// The certificate's subject.
        subject: String,
    },
    /// The master key file is missing, unreadable or of the wrong size.
    #[error("master key {}: {problem}", path.display())]
    MasterKey {
        /// The master key file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Encrypted data would not decrypt under the master key.
    #[error(
        "cannot decrypt {what}: the master key is not the one this farm was created with, or the data is damaged"
    )]
    Decrypt {
        /// What was being decrypted.
        what: String,
    },
    /// There is no farm database at the path.
    #[error("no farm database at {} (run `mailcert init` first)", path.display())]
    NoFarm {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The farm database was written by a newer mailcert.
    #[error("the farm database {} has schema version {found}; this mailcert knows up to {known}", path.display())]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// The schema version found.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// SQLite failed.
    #[error("farm database: {0}")]
    Database(rusqlite::Error),
    /// PostgreSQL failed.
    #[error("farm database: {}", crate::repo::describe_pg(.0))]
    Postgres(postgres::Error),
    /// The farm database could not be reached.
    #[error("cannot open the farm database {target}: {problem}")]
    Connect {
        /// The database, without any password.
        target: String,
        /// Why.
        problem: String,
    },
    /// A `postgres://` URL that cannot be used.
    #[error("the farm database URL: {problem}")]
    BadDatabaseUrl {
        /// What is wrong, never quoting a password.
        problem: String,
    },
    /// A farm copy did not compare equal to its source (and was not committed).
    #[error("the copy does not match the farm it was copied from ({what}); nothing was written")]
    CopyMismatch {
        /// What differed.
        what: String,
    },
    /// A column held a value of another kind than the schema says: a damaged database.
    #[error(
        "farm database: column {column} holds {found} where {expected} belongs (the database is damaged)"
    )]
    BadValue {
        /// The column's position in the query.
        column: usize,
        /// What the schema says it holds.
        expected: &'static str,
        /// What it held.
        found: &'static str,
    },
    /// A record looked up by its key is not there (removed meanwhile by another
    /// process, say): not found, not a database failure.
    #[error("the farm has no such record (it may have been removed meanwhile)")]
    RecordGone,
    /// No certificate matches the reference.
    #[error("no certificate matches '{reference}'")]
    NotFound {
        /// The reference as typed.
        reference: String,
    },
    /// A reference matches more than one certificate.
    #[error("'{reference}' matches {} certificates: {}", candidates.len(), candidates.join(", "))]
    Ambiguous {
        /// The reference as typed.
        reference: String,
        /// The matching certificates, described.
        candidates: Vec<String>,
    },
    /// A reference that is not a thumbprint, prefix or `name:` form.
    #[error(
        "'{reference}' is not a certificate reference: give a SHA-1 thumbprint, a prefix of at least 8 hex digits, a SHA-256 thumbprint, name:FRIENDLY-NAME or cn:COMMON-NAME"
    )]
    BadReference {
        /// The reference as typed.
        reference: String,
    },
    /// A rule refused the operation.
    #[error("{rule}: {message}")]
    Rejected {
        /// Short name of the rule.
        rule: &'static str,
        /// What failed, naming the objects concerned.
        message: String,
    },
    /// The private key cannot be exported because it was not imported as exportable.
    #[error(
        "certificate {thumbprint}: the private key was not imported as exportable, so it cannot be exported"
    )]
    NotExportable {
        /// The certificate's SHA-1 thumbprint.
        thumbprint: String,
    },
    /// An internal encoding step failed; this is a bug, not bad input.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Classifies the error for exit codes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } | Error::RecordGone => ErrorKind::NotFound,
            Error::Rejected { .. } | Error::NotExportable { .. } => ErrorKind::Rejected,
            Error::Ambiguous { .. } | Error::BadReference { .. } | Error::BadDatabaseUrl { .. } => {
                ErrorKind::Usage
            }
            Error::Internal(_) => ErrorKind::Internal,
            _ => ErrorKind::Input,
        }
    }

    pub(crate) fn bad_file(path: &std::path::Path, problem: impl Into<String>) -> Self {
        Error::BadFile {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
}

/// Every SQLite failure becomes an [`Error`] here and nowhere else: a query that
/// expected one row and found none is [`Error::RecordGone`] (not found), anything else
/// [`Error::Database`].
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => Error::RecordGone,
            other => Error::Database(other),
        }
    }
}

/// Every PostgreSQL failure becomes [`Error::Postgres`] here.
impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        Error::Postgres(e)
    }
}

/// Result alias for the store.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_failures_are_classified_once() {
        let gone = Error::from(rusqlite::Error::QueryReturnedNoRows);
        assert_eq!(gone.kind(), ErrorKind::NotFound);
        let db = Error::from(rusqlite::Error::InvalidQuery);
        assert!(matches!(db, Error::Database(_)));
        assert_eq!(db.kind(), ErrorKind::Input);
    }
}
