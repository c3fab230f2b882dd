//! Sign-in and sign-out. The sign-in page works in an anonymous session (so its form has
//! a CSRF token); a correct password ends that session and starts a signed-in one.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use zeroize::Zeroizing;

use crate::auth::{ClientKey, Locked, clear_cookie, cookie, safe_next, session_id, signed_in};
use crate::forms::{AdminForm, FormData, VisitorForm};
use crate::html::{Chrome, Nav, csrf_field, page};
use crate::pages::{PageError, respond};
use crate::password::Verified;
use crate::session::{Flash, FlashKind};
use crate::state::{Shared, with_farm};

/// How long a wrong password makes the browser wait.
const FAILURE_DELAY: Duration = Duration::from_secs(1);

fn no_password_page() -> Markup {
    page(
        "Sign in",
        &Chrome {
            csrf: None,
            flashes: &[],
            active: Nav::None,
            health: None,
        },
        html! {
            div.flash.info role="status" {
                strong { "No administrator password is set." }
                p {
                    "On the server, run " code { "mailcert admin set-password" }
                    " (it reads the password from a prompt or standard input), then reload this page."
                }
            }
        },
    )
}

fn form_page(csrf: &str, next: &str, flashes: &[Flash]) -> Markup {
    page(
        "Sign in",
        &Chrome {
            csrf: None,
            flashes,
            active: Nav::None,
            health: None,
        },
        html! {
            p.lead { "Central Administration manages the farm's certificates and outgoing e-mail settings." }
            form.panel.signin method="post" action="/signin" {
                (csrf_field(csrf))
                input type="hidden" name="next" value=(next);
                div.field {
                    label for="password" { "Administrator password" }
                    div.control {
                        input #password type="password" name="password" required
                            autocomplete="current-password" autofocus;
                    }
                }
                div.actions { button type="submit" { "Sign in" } }
            }
        },
    )
}

/// `GET /signin`: the sign-in form, or how to set the password when none is set.
pub(crate) async fn show(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    respond(show_inner(state, headers, FormData::from_pairs(q)).await)
}

async fn show_inner(state: Shared, headers: HeaderMap, q: FormData) -> Result<Response, PageError> {
    let next = safe_next(q.get("next"))
        .unwrap_or("/certificates")
        .to_string();
    let existing = session_id(&headers, state.cookie_name());
    if let Some(id) = &existing
        && signed_in(&state, id).await?
    {
        return Ok(Redirect::to(&next).into_response());
    }
    let now = state.instant();
    let set = with_farm(&state, |farm, _| {
        Ok(crate::password::password_is_set(farm)?)
    })
    .await?;
    if !set {
        return Ok(no_password_page().into_response());
    }
    let (id, new) = match existing.filter(|id| state.sessions.alive(id, now)) {
        Some(id) => (id, false),
        None => (
            state
                .sessions
                .create(None, now)
                .map_err(|_| PageError::Internal("the system random source failed".into()))?,
            true,
        ),
    };
    let flashes = state.sessions.take_flashes(&id);
    let body = form_page(&state.csrf.token(&id), &next, &flashes);
    let mut res = body.into_response();
    if new {
        res.headers_mut()
            .insert(header::SET_COOKIE, cookie(&state, &id)?);
    }
    Ok(res)
}

/// `POST /signin`: checks the password; on success starts a signed-in session. Each
/// attempt is first admitted by the throttle, keyed by the connection's peer address.
pub(crate) async fn submit(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    form: VisitorForm,
) -> Response {
    respond(submit_inner(state, ClientKey::of(peer.ip()), form).await)
}

async fn submit_inner(
    state: Shared,
    client: ClientKey,
    form: VisitorForm,
) -> Result<Response, PageError> {
    let VisitorForm { id, data } = form;
    let next = safe_next(data.get("next"))
        .unwrap_or("/certificates")
        .to_string();
    let again = |state: &Shared, status: StatusCode, message: String| {
        let flashes = [Flash::new(FlashKind::Error, message, Vec::new())];
        (status, form_page(&state.csrf.token(&id), &next, &flashes)).into_response()
    };
    // Counted before anything is verified: parallel guesses past the limit never reach
    // Argon2.
    let reservation = match state.throttle.reserve(client, state.instant()) {
        Ok(r) => r,
        Err(locked) => {
            let minutes = locked.wait().as_secs() / 60 + 1;
            let message = match locked {
                Locked::Address(_) => format!(
                    "Too many wrong passwords from your address recently; sign-in from it is paused for about {minutes} minute(s)."
                ),
                Locked::Everyone(_) => format!(
                    "Too many wrong passwords recently; sign-in is paused for everyone for about {minutes} minute(s)."
                ),
            };
            let mut res = again(&state, StatusCode::TOO_MANY_REQUESTS, message);
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(locked.wait().as_secs().max(1)),
            );
            return Ok(res);
        }
    };
    // At most MAX_VERIFYING Argon2 runs at once; the slot goes into the blocking task,
    // so it is held until the run ends even if this request is dropped meanwhile.
    let slot = state.throttle.verification_slot().await?;
    let password = Zeroizing::new(data.get("password").to_string());
    drop(data);
    let verdict = with_farm(&state, move |farm, now| {
        let verdict = {
            let _slot = slot;
            crate::password::verify(farm, &password)?
        };
        let action = match verdict {
            Verified::Right(_) => "admin sign-in",
            Verified::Wrong => "admin sign-in failed",
            Verified::NoPassword => return Ok(verdict),
        };
        farm.write(|tx| tx.audit(now, action, "Central Administration", "web"))?;
        Ok(verdict)
    })
    .await?;
    match verdict {
        Verified::NoPassword => {
            reservation.not_checked();
            Ok(no_password_page().into_response())
        }
        Verified::Wrong => {
            // The reservation stays: this attempt counts as failed.
            drop(reservation);
            tokio::time::sleep(FAILURE_DELAY).await;
            Ok(again(
                &state,
                StatusCode::UNAUTHORIZED,
                "The password is not correct.".into(),
            ))
        }
        Verified::Right(stamp) => {
            reservation.succeeded();
            state.sessions.remove(&id);
            let fresh = state
                .sessions
                .create(Some(stamp), state.instant())
                .map_err(|_| PageError::Internal("the system random source failed".into()))?;
            let mut res = Redirect::to(&next).into_response();
            res.headers_mut()
                .insert(header::SET_COOKIE, cookie(&state, &fresh)?);
            Ok(res)
        }
    }
}

/// `POST /signout`: ends the session.
pub(crate) async fn signout(State(state): State<Shared>, form: AdminForm) -> Response {
    state.sessions.remove(&form.admin.id);
    let mut res = Redirect::to("/signin").into_response();
    match clear_cookie(&state) {
        Ok(v) => {
            res.headers_mut().insert(header::SET_COOKIE, v);
            res
        }
        Err(e) => e.into_response(),
    }
}
