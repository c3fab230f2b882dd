//! Who is asking: the session cookie, the extractor that admits only signed-in
//! administrators, and the brake on password guessing.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::html::{Chrome, Nav};
use crate::pages::PageError;
use crate::session::{Flash, SessionId};
use crate::state::{AppState, Shared};

/// A signed-in administrator's request.
pub(crate) struct Admin {
    /// The session.
    pub(crate) id: SessionId,
    /// The CSRF token for this session's forms.
    pub(crate) csrf: String,
    /// Messages queued for this page (taken on GET only).
    pub(crate) flashes: Vec<Flash>,
}

impl Admin {
    /// The page frame for this request.
    pub(crate) fn chrome(&self, active: Nav) -> Chrome<'_> {
        Chrome {
            csrf: Some(&self.csrf),
            flashes: &self.flashes,
            active,
        }
    }
}

impl FromRequestParts<Shared> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        let now = state.instant();
        match session_id(&parts.headers, state.cookie_name()) {
            Some(id) if state.sessions.signed_in(&id, now) => {
                let flashes = if parts.method == Method::GET {
                    state.sessions.take_flashes(&id)
                } else {
                    Vec::new()
                };
                Ok(Admin {
                    csrf: state.csrf.token(&id),
                    id,
                    flashes,
                })
            }
            _ if parts.method == Method::GET || parts.method == Method::HEAD => {
                let here = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let target = match safe_next(here) {
                    Some(n) if n != "/" => {
                        format!("/signin?next={}", crate::html::query_value(n))
                    }
                    _ => "/signin".to_string(),
                };
                Err(Redirect::to(&target).into_response())
            }
            _ => Err(PageError::Forbidden(
                "You are not signed in, or your session has expired. Sign in again and repeat the change."
                    .into(),
            )
            .into_response()),
        }
    }
}

/// The session id the browser sent, if any (not checked against the store).
pub(crate) fn session_id(headers: &HeaderMap, cookie_name: &str) -> Option<SessionId> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie_name)
        .and_then(|(_, value)| SessionId::from_cookie_value(value.trim()))
}

/// The `Set-Cookie` value that gives the browser session `id`: HttpOnly, SameSite=Strict,
/// Secure under HTTPS; no Max-Age, so it ends with the browser session.
pub(crate) fn cookie(state: &AppState, id: &SessionId) -> Result<HeaderValue, PageError> {
    let secure = if state.https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
        state.cookie_name(),
        id.to_cookie_value()
    ))
    .map_err(|e| PageError::Internal(format!("session cookie: {e}")))
}

/// The `Set-Cookie` value that removes the session cookie.
pub(crate) fn clear_cookie(state: &AppState) -> Result<HeaderValue, PageError> {
    let secure = if state.https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}",
        state.cookie_name()
    ))
    .map_err(|e| PageError::Internal(format!("session cookie: {e}")))
}

/// `next` when it is a path on this server (never another host), else `None`.
pub(crate) fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() <= 2048
        && !next.chars().any(char::is_control)
        && !next.starts_with("/signin")
        && !next.starts_with("/signout");
    ok.then_some(next)
}

/// Failed sign-ins allowed within [`WINDOW`] before sign-in is refused for a while.
const MAX_FAILURES: usize = 10;
/// The window over which failures count.
const WINDOW: Duration = Duration::from_secs(10 * 60);

/// Counts recent failed sign-ins across all clients.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    failures: Mutex<VecDeque<Instant>>,
}

impl Throttle {
    fn prune(q: &mut VecDeque<Instant>, now: Instant) {
        while q
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > WINDOW)
        {
            q.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Instant>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long sign-in stays refused, when too many attempts failed recently.
    pub(crate) fn locked_for(&self, now: Instant) -> Option<Duration> {
        let mut q = self.lock();
        Self::prune(&mut q, now);
        if q.len() < MAX_FAILURES {
            return None;
        }
        let oldest = q.front().copied().unwrap_or(now);
        Some(WINDOW.saturating_sub(now.saturating_duration_since(oldest)))
    }

    /// Records a failed attempt.
    pub(crate) fn failed(&self, now: Instant) {
        let mut q = self.lock();
        Self::prune(&mut q, now);
        q.push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(
            safe_next("/certificates?store=root"),
            Some("/certificates?store=root")
        );
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "evil",
            "",
            "/x\ny",
            "/signin",
            "/signout",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reads_the_session_cookie() {
        let id = SessionId::generate().unwrap();
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_str(&format!(
                "other=1; mailcert-session={}; x=y",
                id.to_cookie_value()
            ))
            .unwrap(),
        );
        assert_eq!(session_id(&h, "mailcert-session"), Some(id));
        assert_eq!(session_id(&h, "__Host-mailcert-session"), None);
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("mailcert-session=nothex"),
        );
        assert_eq!(session_id(&h, "mailcert-session"), None);
    }

    #[test]
    fn throttle_locks_after_repeated_failures() {
        let t = Throttle::default();
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES {
            assert!(t.locked_for(t0).is_none(), "attempt {i}");
            t.failed(t0);
        }
        assert!(t.locked_for(t0).is_some());
        assert!(t.locked_for(t0 + WINDOW + Duration::from_secs(1)).is_none());
    }
}
