//! The pages, one module per section, and the error page every handler falls back to.

pub(crate) mod audit;
pub(crate) mod certificates;
pub(crate) mod lifecycle;
pub(crate) mod queue;
pub(crate) mod settings;
pub(crate) mod signin;
pub(crate) mod webapps;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mailcert_store::ErrorKind;
use maud::html;

use crate::html::{Chrome, Nav, page};
use crate::session::{Flash, FlashKind, SessionId};
use crate::state::AppState;

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

impl From<crate::error::AdminError> for PageError {
    fn from(e: crate::error::AdminError) -> Self {
        match e {
            crate::error::AdminError::Store(s) => s.into(),
            other => PageError::Internal(other.to_string()),
        }
    }
}

/// Queues `flash` for the session and sends the browser to `to` (303 See Other), the
/// pattern after every successful or refused POST.
pub(crate) fn flash_redirect(state: &AppState, id: &SessionId, flash: Flash, to: &str) -> Response {
    state.flash(id, flash);
    Redirect::to(to).into_response()
}

/// An error message for the next page.
pub(crate) fn error_flash(title: impl Into<String>) -> Flash {
    Flash::new(FlashKind::Error, title, Vec::new())
}

/// Turns a page result into a response.
pub(crate) fn respond(r: Result<Response, PageError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

/// The certificate named in a URL: 40 hex digits (a SHA-1 thumbprint), upper-cased.
pub(crate) fn thumbprint(raw: &str) -> Result<String, PageError> {
    if raw.len() == 40 && raw.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_uppercase())
    } else {
        Err(PageError::NotFound(format!(
            "'{raw}' is not a certificate thumbprint"
        )))
    }
}
