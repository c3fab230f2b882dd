//! The errors of Central Administration: [`AdminError`], what kept it from starting or
//! from setting the administrator password (reported to the CLI), and [`PageError`],
//! why a page could not be shown (rendered as an error page).

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mailcert_store::ErrorKind;
use maud::html;

use crate::html::{Chrome, Nav, page};

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

/// Why a page could not be shown; rendered as an error page with the right status.
#[derive(Debug)]
pub(crate) enum PageError {
    /// The thing asked for does not exist.
    NotFound(String),
    /// The request makes no sense.
    BadRequest(String),
    /// Refused: not signed in, or a missing/wrong CSRF token.
    Forbidden(String),
    /// The body is over the size limit.
    TooLarge(String),
    /// Something failed on the server (database, master key, …).
    Internal(String),
}

impl PageError {
    fn parts(&self) -> (StatusCode, &'static str, &str) {
        match self {
            PageError::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m),
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, "Bad request", m),
            PageError::Forbidden(m) => (StatusCode::FORBIDDEN, "Refused", m),
            PageError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "Too large", m),
            PageError::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, "Error", m),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = self.parts();
        let body = page(
            title,
            &Chrome {
                csrf: None,
                flashes: &[],
                active: Nav::None,
                health: None,
            },
            html! {
                div.flash.error role="alert" { strong { (message) } }
                p { a href="/certificates" { "Back to Central Administration" } }
            },
        );
        (status, body).into_response()
    }
}

impl From<mailcert_store::Error> for PageError {
    fn from(e: mailcert_store::Error) -> Self {
        let m = e.to_string();
        match e.kind() {
            ErrorKind::NotFound => PageError::NotFound(m),
            ErrorKind::Usage | ErrorKind::Rejected => PageError::BadRequest(m),
            _ => PageError::Internal(m),
        }
    }
}

impl From<mailcert_binding::Error> for PageError {
    fn from(e: mailcert_binding::Error) -> Self {
        match e {
            mailcert_binding::Error::Store(s) => s.into(),
            other => {
                let m = other.to_string();
                match other.kind() {
                    ErrorKind::NotFound => PageError::NotFound(m),
                    ErrorKind::Input => PageError::Internal(m),
                    _ => PageError::BadRequest(m),
                }
            }
        }
    }
}

impl From<AdminError> for PageError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Store(s) => s.into(),
            other => PageError::Internal(other.to_string()),
        }
    }
}
