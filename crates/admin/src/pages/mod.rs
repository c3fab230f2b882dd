//! The pages, one module per section, and the error page every handler falls back to.

pub(crate) mod audit;
pub(crate) mod certificates;
pub(crate) mod lifecycle;
pub(crate) mod queue;
pub(crate) mod settings;
pub(crate) mod signin;
pub(crate) mod webapps;

use axum::response::{IntoResponse, Redirect, Response};

use crate::session::{Flash, FlashKind, SessionId};
use crate::state::AppState;

pub(crate) use crate::error::PageError;

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
