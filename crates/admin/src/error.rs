//! The errors Central Administration reports to its caller (the CLI): what kept it from
//! starting or from setting the administrator password.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Errors from [`crate::set_password`], [`crate::bind`] and [`crate::serve`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The farm database or its master key failed.
    #[error(transparent)]
    Store(#[from] mailcert_store::Error),
    /// The administrator password is too short.
    #[error(
        "the administrator password has {chars} characters; use at least {min} (a passphrase of a few words is easiest)"
    )]
    PasswordTooShort {
        /// How many characters were given.
        chars: usize,
        /// The minimum.
        min: usize,
    },
    /// The stored administrator password hash could not be read or made.
    #[error("administrator password hash: {0}")]
    PasswordHash(String),
    /// Listening beyond loopback without TLS was asked for.
    #[error(
        "refusing to listen on {listen} without TLS: Central Administration serves plain HTTP only on a loopback address; give a certificate and key (PEM files) or a certificate from the farm's End Entity store"
    )]
    TlsRequired {
        /// The address asked for.
        listen: SocketAddr,
    },
    /// The TLS certificate or key could not be loaded.
    #[error("TLS certificate for Central Administration: {0}")]
    Tls(String),
    /// A TLS file could not be read.
    #[error("{}: {problem}", path.display())]
    TlsFile {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The address could not be bound, or serving failed.
    #[error("listening on {listen}: {source}")]
    Listen {
        /// The address.
        listen: SocketAddr,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// The tokio runtime could not be built.
    #[error("cannot start the web server's runtime: {0}")]
    Runtime(std::io::Error),
}

impl AdminError {
    /// Classifies the error the way the store does, so the CLI maps it to an exit code.
    pub fn kind(&self) -> mailcert_store::ErrorKind {
        match self {
            AdminError::Store(e) => e.kind(),
            AdminError::PasswordTooShort { .. } | AdminError::TlsRequired { .. } => {
                mailcert_store::ErrorKind::Rejected
            }
            _ => mailcert_store::ErrorKind::Input,
        }
    }
}
