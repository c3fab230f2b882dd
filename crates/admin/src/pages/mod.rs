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

/// The skeleton every POST handler shares: `action` runs on the farm off the async
/// runtime; success becomes the flash `ok` makes, a refusal the flash `refused` makes
/// (usually [`refusal`]), and either way the browser goes to `back` (303). Only a failure
/// to reach the farm at all is an error page.
pub(crate) async fn act<T, E>(
    state: &crate::state::Shared,
    session: &SessionId,
    back: &str,
    action: impl FnOnce(&mut mailcert_store::Farm, i64) -> Result<T, E> + Send + 'static,
    ok: impl FnOnce(T) -> Flash,
    refused: impl FnOnce(E) -> Flash,
) -> Response
where
    T: Send + 'static,
    E: Send + 'static,
{
    match crate::state::with_farm(state, move |farm, now| Ok(action(farm, now))).await {
        Ok(Ok(v)) => flash_redirect(state, session, ok(v), back),
        Ok(Err(e)) => flash_redirect(state, session, refused(e), back),
        Err(e) => e.into_response(),
    }
}

/// A refused action's flash: the error's own words.
pub(crate) fn refusal(e: impl std::fmt::Display) -> Flash {
    error_flash(e.to_string())
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
