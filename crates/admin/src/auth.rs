//! Who is asking: the session cookie, the extractor that admits only signed-in
//! administrators, and the brake on password guessing.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::PageError;
use crate::html::{Chrome, Nav};
use crate::session::{Flash, SessionId};
use crate::state::{AppState, Shared, with_farm};

/// A signed-in administrator's request.
pub(crate) struct Admin {
    /// The session.
    pub(crate) id: SessionId,
    /// The CSRF token for this session's forms.
    pub(crate) csrf: String,
    /// Messages queued for this page (taken on GET only).
    pub(crate) flashes: Vec<Flash>,
    /// The certificate health banner (computed on GET only; `None` when healthy).
    pub(crate) health: Option<crate::html::HealthBanner>,
}

impl Admin {
    /// The page frame for this request.
    pub(crate) fn chrome(&self, active: Nav) -> Chrome<'_> {
        Chrome {
            csrf: Some(&self.csrf),
            flashes: &self.flashes,
            active,
            health: self.health.as_ref(),
        }
    }
}

impl FromRequestParts<Shared> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        let id = match session_id(&parts.headers, state.cookie_name()) {
            Some(id)
                if signed_in(state, &id)
                    .await
                    .map_err(IntoResponse::into_response)? =>
            {
                Some(id)
            }
            _ => None,
        };
        match id {
            Some(id) => {
                let (flashes, health) = if parts.method == Method::GET {
                    (state.sessions.take_flashes(&id), health_banner(state).await)
                } else {
                    (Vec::new(), None)
                };
                Ok(Admin {
                    csrf: state.csrf.token(&id),
                    id,
                    flashes,
                    health,
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

/// The health summary for the banner; a farm that cannot be read shows no banner here
/// (the page itself reports the failure).
async fn health_banner(state: &Shared) -> Option<crate::html::HealthBanner> {
    with_farm(state, |farm, now| {
        let report = mailcert_binding::health(farm, now)?;
        Ok(report
            .findings
            .first()
            .map(|first| crate::html::HealthBanner {
                count: report.findings.len(),
                worst: first.severity,
                first: first.message.clone(),
            }))
    })
    .await
    .ok()
    .flatten()
}

/// Whether `id` is a live session signed in under the farm's current administrator
/// password. The farm is read on every request, so a password set meanwhile (by
/// `mailcert admin set-password`, another process) ends every session signed in under
/// the previous one at its next request.
pub(crate) async fn signed_in(state: &Shared, id: &SessionId) -> Result<bool, PageError> {
    let Some(stamp) = state.sessions.signed_in(id, state.instant()) else {
        return Ok(false);
    };
    let current = with_farm(state, |farm, _| Ok(crate::password::current_stamp(farm)?)).await?;
    if current == Some(stamp) {
        return Ok(true);
    }
    state.sessions.end_all_but(current);
    Ok(false)
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

/// Failed sign-ins one client address may make within [`WINDOW`]; past it that address
/// is refused until its oldest failure is older than the window.
pub(crate) const PER_ADDRESS_FAILURES: usize = 10;
/// Failed sign-ins all addresses together may make within [`WINDOW`], against guessing
/// spread over many addresses. Past it everyone, the administrator too, waits.
pub(crate) const GLOBAL_FAILURES: usize = 50;
/// The window over which failures count.
pub(crate) const WINDOW: Duration = Duration::from_secs(10 * 60);
/// Password verifications running at once. Each Argon2id run takes about 19 MiB; further
/// sign-ins (each already counted by [`Throttle::reserve`]) wait for a free slot.
pub(crate) const MAX_VERIFYING: usize = 2;

/// What sign-in attempts are counted against: an IPv4 address, or the /64 network of an
/// IPv6 address (one host usually holds a whole /64). An IPv4 address mapped into IPv6
/// counts as the IPv4 address. Only the connection's own peer address is used, never a
/// header such as `X-Forwarded-For` that the client writes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey(IpAddr);

impl ClientKey {
    /// The key for a connection from `ip`.
    pub(crate) fn of(ip: IpAddr) -> ClientKey {
        match ip.to_canonical() {
            IpAddr::V4(v4) => ClientKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => ClientKey(IpAddr::V6(Ipv6Addr::from(
                u128::from(v6) & !u128::from(u64::MAX),
            ))),
        }
    }
}

/// Why a sign-in is refused before its password is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locked {
    /// Too many failures from this client address; it may try again after this long.
    Address(Duration),
    /// Too many failures from all addresses together; anyone may try again after this
    /// long.
    Everyone(Duration),
}

impl Locked {
    /// How long until the next attempt is accepted.
    pub(crate) fn wait(self) -> Duration {
        match self {
            Locked::Address(d) | Locked::Everyone(d) => d,
        }
    }
}

#[derive(Debug)]
struct Attempt {
    at: Instant,
    id: u64,
    client: ClientKey,
}

#[derive(Debug, Default)]
struct Attempts {
    /// Oldest first; never longer than the global limit, since a refused attempt is
    /// not recorded (so memory stays bounded whatever the number of addresses).
    recent: VecDeque<Attempt>,
    next_id: u64,
}

/// The brake on password guessing. An attempt is counted as a failure the moment it is
/// admitted ([`Throttle::reserve`]), before its password is verified, so a burst of
/// parallel guesses is counted in full and those past the limit are refused without
/// any verification; a correct password then takes its own attempt back. Verifications
/// run at most [`MAX_VERIFYING`] at a time ([`Throttle::verification_slot`]).
#[derive(Debug)]
pub(crate) struct Throttle {
    per_address: usize,
    global: usize,
    window: Duration,
    attempts: Mutex<Attempts>,
    verifying: Arc<Semaphore>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(PER_ADDRESS_FAILURES, GLOBAL_FAILURES, WINDOW, MAX_VERIFYING)
    }
}

impl Throttle {
    /// A throttle allowing `per_address` failures per client and `global` in all within
    /// `window`, and `verifying` verifications at once.
    pub(crate) fn new(
        per_address: usize,
        global: usize,
        window: Duration,
        verifying: usize,
    ) -> Throttle {
        Throttle {
            per_address,
            global,
            window,
            attempts: Mutex::default(),
            verifying: Arc::new(Semaphore::new(verifying)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Attempts> {
        // Every change is one push or removal: a poisoned lock is still consistent.
        self.attempts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admits a sign-in attempt from `client` and counts it as failed at once, or says
    /// why it is refused. The attempt stays counted unless the returned reservation is
    /// settled with [`Reservation::succeeded`] or [`Reservation::not_checked`], so an
    /// attempt whose client went away, or whose verification failed, still counts.
    pub(crate) fn reserve(
        &self,
        client: ClientKey,
        now: Instant,
    ) -> Result<Reservation<'_>, Locked> {
        let mut a = self.lock();
        let window = self.window;
        while a
            .recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(t.at) >= window)
        {
            a.recent.pop_front();
        }
        let wait_from = |at: Instant| window.saturating_sub(now.saturating_duration_since(at));
        let (mine, my_oldest) = a
            .recent
            .iter()
            .filter(|t| t.client == client)
            .fold((0usize, None), |(n, oldest), t| {
                (n + 1, oldest.or(Some(t.at)))
            });
        if mine >= self.per_address {
            return Err(Locked::Address(wait_from(my_oldest.unwrap_or(now))));
        }
        if a.recent.len() >= self.global {
            let oldest = a.recent.front().map_or(now, |t| t.at);
            return Err(Locked::Everyone(wait_from(oldest)));
        }
        let id = a.next_id;
        a.next_id = a.next_id.wrapping_add(1);
        a.recent.push_back(Attempt {
            at: now,
            id,
            client,
        });
        Ok(Reservation { throttle: self, id })
    }

    /// Waits for one of the verification slots. Hold the slot until the verification
    /// has finished (move it into the blocking task), even when the client goes away.
    pub(crate) async fn verification_slot(&self) -> Result<OwnedSemaphorePermit, PageError> {
        self.verifying
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PageError::Internal("the password verification slots are closed".into()))
    }

    fn forget(&self, id: u64) {
        self.lock().recent.retain(|t| t.id != id);
    }
}

/// An admitted sign-in attempt, counted as failed unless settled otherwise.
#[derive(Debug)]
#[must_use = "an unsettled reservation counts as a failed sign-in"]
pub(crate) struct Reservation<'a> {
    throttle: &'a Throttle,
    id: u64,
}

impl Reservation<'_> {
    /// The password was right: this attempt is not a failure.
    pub(crate) fn succeeded(self) {
        self.throttle.forget(self.id);
    }

    /// No password was verified (none is set): this attempt is not a failure.
    pub(crate) fn not_checked(self) {
        self.throttle.forget(self.id);
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
        let a = ClientKey::of("192.0.2.1".parse().unwrap());
        let t0 = Instant::now();
        for i in 0..PER_ADDRESS_FAILURES {
            drop(
                t.reserve(a, t0)
                    .unwrap_or_else(|e| panic!("attempt {i}: {e:?}")),
            );
        }
        assert_eq!(t.reserve(a, t0).unwrap_err(), Locked::Address(WINDOW));
        let later = t0 + Duration::from_secs(60);
        assert_eq!(
            t.reserve(a, later).unwrap_err(),
            Locked::Address(WINDOW - Duration::from_secs(60))
        );
        assert!(t.reserve(a, t0 + WINDOW + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn attempts_count_when_admitted_not_when_they_fail() {
        // A burst of parallel guesses: each holds its reservation while its password
        // would be verified; the one past the limit is refused before any verification.
        let t = Throttle::default();
        let a = ClientKey::of("192.0.2.1".parse().unwrap());
        let t0 = Instant::now();
        let in_flight: Vec<_> = (0..PER_ADDRESS_FAILURES)
            .map(|_| t.reserve(a, t0).unwrap())
            .collect();
        assert!(matches!(t.reserve(a, t0), Err(Locked::Address(_))));
        // Correct passwords take their attempts back.
        for r in in_flight {
            r.succeeded();
        }
        for _ in 0..3 * PER_ADDRESS_FAILURES {
            t.reserve(a, t0).unwrap().succeeded();
        }
        t.reserve(a, t0).unwrap().not_checked();
        assert!(t.reserve(a, t0).is_ok());
    }

    #[test]
    fn one_locked_address_does_not_lock_out_another() {
        let t = Throttle::default();
        let attacker = ClientKey::of("203.0.113.9".parse().unwrap());
        let admin = ClientKey::of("192.0.2.1".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..PER_ADDRESS_FAILURES {
            drop(t.reserve(attacker, t0).unwrap());
        }
        assert!(matches!(t.reserve(attacker, t0), Err(Locked::Address(_))));
        t.reserve(admin, t0).unwrap().succeeded();
    }

    #[test]
    fn the_global_limit_stops_guessing_from_many_addresses() {
        let t = Throttle::default();
        let t0 = Instant::now();
        for i in 0..GLOBAL_FAILURES {
            let ip = IpAddr::from([198, 51, 100, u8::try_from(i).unwrap()]);
            drop(t.reserve(ClientKey::of(ip), t0).unwrap());
        }
        let fresh = ClientKey::of("192.0.2.1".parse().unwrap());
        assert_eq!(t.reserve(fresh, t0).unwrap_err(), Locked::Everyone(WINDOW));
        assert!(t.reserve(fresh, t0 + WINDOW).is_ok());
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let key = |s: &str| ClientKey::of(s.parse().unwrap());
        assert_eq!(key("2001:db8::1"), key("2001:db8::ffff:2"));
        assert_ne!(key("2001:db8::1"), key("2001:db8:0:1::1"));
        assert_eq!(key("::ffff:127.0.0.1"), key("127.0.0.1"));
        assert_ne!(key("127.0.0.1"), key("127.0.0.2"));
        let t = Throttle::new(2, 10, WINDOW, 1);
        let t0 = Instant::now();
        drop(t.reserve(key("2001:db8::1"), t0).unwrap());
        drop(t.reserve(key("2001:db8::2"), t0).unwrap());
        assert!(t.reserve(key("2001:db8::3"), t0).is_err());
        assert!(t.reserve(key("2001:db8:1::1"), t0).is_ok());
    }

    #[tokio::test]
    async fn verifications_run_at_most_max_at_once() {
        let t = Throttle::default();
        let mut slots = Vec::new();
        for _ in 0..MAX_VERIFYING {
            slots.push(t.verification_slot().await.unwrap());
        }
        assert_eq!(t.verifying.available_permits(), 0, "the next one waits");
        slots.pop();
        assert_eq!(t.verifying.available_permits(), 1);
        slots.push(t.verification_slot().await.unwrap());
    }
}
