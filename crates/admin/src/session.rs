//! Sessions held in memory: random 256-bit ids, an idle and an absolute expiry, one-shot
//! messages ("flashes") shown on the next page. A browser gets an anonymous session when
//! it opens the sign-in page (so that the sign-in form has a CSRF token too) and a new id
//! when it signs in (so that an id planted before sign-in is worth nothing).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ring::rand::SecureRandom;

use crate::password::PasswordStamp;

/// How long a session lives without a request.
pub(crate) const IDLE: Duration = Duration::from_secs(30 * 60);
/// How long a session lives at most.
pub(crate) const ABSOLUTE: Duration = Duration::from_secs(12 * 60 * 60);
/// Most sessions held at once; past it the oldest anonymous ones go first.
const MAX_SESSIONS: usize = 10_000;

/// A session id: 32 random bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct SessionId([u8; 32]);

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

impl SessionId {
    /// A fresh random id from the system's secure random source.
    pub(crate) fn generate() -> Result<SessionId, ring::error::Unspecified> {
        let mut b = [0u8; 32];
        ring::rand::SystemRandom::new().fill(&mut b)?;
        Ok(SessionId(b))
    }

    /// The cookie value (hex).
    pub(crate) fn to_cookie_value(&self) -> String {
        crate::hex::encode(&self.0)
    }

    /// Reads a cookie value back; `None` unless it is 64 hex digits.
    pub(crate) fn from_cookie_value(s: &str) -> Option<SessionId> {
        let bytes = crate::hex::decode(s)?;
        Some(SessionId(bytes.try_into().ok()?))
    }

    /// The raw bytes (for the CSRF token).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// How a one-shot message looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlashKind {
    /// Something was done.
    Ok,
    /// Something was refused or failed.
    Error,
    /// For information.
    Info,
}

/// A message for the next page shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flash {
    /// Its look.
    pub(crate) kind: FlashKind,
    /// The headline.
    pub(crate) title: String,
    /// Detail lines.
    pub(crate) lines: Vec<String>,
}

impl Flash {
    /// A message of `kind` with detail lines.
    pub(crate) fn new(kind: FlashKind, title: impl Into<String>, lines: Vec<String>) -> Flash {
        Flash {
            kind,
            title: title.into(),
            lines,
        }
    }
}

#[derive(Debug)]
struct Session {
    /// The stamp of the administrator password it signed in under; `None` while
    /// anonymous.
    signed_in: Option<PasswordStamp>,
    created: Instant,
    last_seen: Instant,
    flashes: Vec<Flash>,
}

impl Session {
    fn expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_seen) > IDLE
            || now.saturating_duration_since(self.created) > ABSOLUTE
    }
}

/// Every live session.
#[derive(Debug, Default)]
pub(crate) struct SessionStore {
    inner: Mutex<HashMap<SessionId, Session>>,
}

impl SessionStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Session>> {
        // A panic while holding the lock cannot leave the map inconsistent (every
        // change is one insert or remove), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a session (anonymous, or signed in under the password with this stamp) and
    /// returns its id.
    pub(crate) fn create(
        &self,
        signed_in: Option<PasswordStamp>,
        now: Instant,
    ) -> Result<SessionId, ring::error::Unspecified> {
        let id = SessionId::generate()?;
        let mut map = self.lock();
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| !s.expired(now));
        }
        if map.len() >= MAX_SESSIONS {
            // Still full: drop the oldest anonymous session, else the oldest of all.
            let victim = map
                .iter()
                .min_by_key(|(_, s)| (s.signed_in.is_some(), s.last_seen))
                .map(|(k, _)| k.clone());
            if let Some(v) = victim {
                map.remove(&v);
            }
        }
        map.insert(
            id.clone(),
            Session {
                signed_in,
                created: now,
                last_seen: now,
                flashes: Vec::new(),
            },
        );
        Ok(id)
    }

    /// Whether `id` is a live session (signed in or not); touches it.
    pub(crate) fn alive(&self, id: &SessionId, now: Instant) -> bool {
        self.touch(id, now).is_some()
    }

    /// The password stamp `id` signed in under, when it is a live, signed-in session;
    /// touches it. Whether that is still the farm's password is for the caller to check.
    pub(crate) fn signed_in(&self, id: &SessionId, now: Instant) -> Option<PasswordStamp> {
        self.touch(id, now).flatten()
    }

    fn touch(&self, id: &SessionId, now: Instant) -> Option<Option<PasswordStamp>> {
        let mut map = self.lock();
        let s = map.get_mut(id)?;
        if s.expired(now) {
            map.remove(id);
            return None;
        }
        s.last_seen = now;
        Some(s.signed_in)
    }

    /// Ends a session.
    pub(crate) fn remove(&self, id: &SessionId) {
        self.lock().remove(id);
    }

    /// Ends every signed-in session not signed in under `current` (all of them when no
    /// password is set): the administrator password changed.
    pub(crate) fn end_all_but(&self, current: Option<PasswordStamp>) {
        self.lock()
            .retain(|_, s| s.signed_in.is_none() || s.signed_in == current);
    }

    /// Queues a message for the session's next page.
    pub(crate) fn flash(&self, id: &SessionId, flash: Flash) {
        if let Some(s) = self.lock().get_mut(id) {
            // Bounded: a page shows a handful at most.
            if s.flashes.len() < 16 {
                s.flashes.push(flash);
            }
        }
    }

    /// Takes the queued messages.
    pub(crate) fn take_flashes(&self, id: &SessionId) -> Vec<Flash> {
        self.lock()
            .get_mut(id)
            .map(|s| std::mem::take(&mut s.flashes))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> PasswordStamp {
        PasswordStamp::of(b"$argon2id$v=19$first")
    }

    #[test]
    fn ids_are_random_and_round_trip() {
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        assert_ne!(a, b);
        let v = a.to_cookie_value();
        assert_eq!(v.len(), 64);
        assert_eq!(SessionId::from_cookie_value(&v), Some(a.clone()));
        assert_eq!(SessionId::from_cookie_value(&v[..62]), None);
        assert_eq!(SessionId::from_cookie_value("not hex"), None);
        assert!(!format!("{a:?}").contains(&v));
    }

    #[test]
    fn idle_expiry() {
        let store = SessionStore::default();
        let t0 = Instant::now();
        let id = store.create(Some(stamp()), t0).unwrap();
        assert_eq!(
            store.signed_in(&id, t0 + IDLE - Duration::from_secs(1)),
            Some(stamp())
        );
        // Each request restarts the idle clock.
        let t1 = t0 + IDLE - Duration::from_secs(1);
        assert!(
            store
                .signed_in(&id, t1 + IDLE - Duration::from_secs(1))
                .is_some()
        );
        // Past the idle limit the session is gone for good.
        let t2 = t1 + IDLE - Duration::from_secs(1) + IDLE + Duration::from_secs(1);
        assert!(store.signed_in(&id, t2).is_none());
        assert!(!store.alive(&id, t0));
    }

    #[test]
    fn absolute_expiry() {
        let store = SessionStore::default();
        let t0 = Instant::now();
        let id = store.create(Some(stamp()), t0).unwrap();
        let mut t = t0;
        while t < t0 + ABSOLUTE {
            assert!(store.signed_in(&id, t).is_some());
            t += IDLE / 2;
        }
        assert!(
            store
                .signed_in(&id, t0 + ABSOLUTE + Duration::from_secs(1))
                .is_none()
        );
    }

    #[test]
    fn anonymous_sessions_are_not_signed_in() {
        let store = SessionStore::default();
        let t0 = Instant::now();
        let id = store.create(None, t0).unwrap();
        assert!(store.alive(&id, t0));
        assert!(store.signed_in(&id, t0).is_none());
        store.remove(&id);
        assert!(!store.alive(&id, t0));
    }

    #[test]
    fn a_new_password_ends_the_sessions_signed_in_under_the_old_one() {
        let store = SessionStore::default();
        let t0 = Instant::now();
        let old = store.create(Some(stamp()), t0).unwrap();
        let anon = store.create(None, t0).unwrap();
        let new_stamp = PasswordStamp::of(b"$argon2id$v=19$second");
        let new = store.create(Some(new_stamp), t0).unwrap();
        store.end_all_but(Some(new_stamp));
        assert!(!store.alive(&old, t0));
        assert!(store.alive(&anon, t0), "a sign-in page in progress stays");
        assert_eq!(store.signed_in(&new, t0), Some(new_stamp));
        store.end_all_but(None);
        assert!(!store.alive(&new, t0));
        assert!(store.alive(&anon, t0));
    }

    #[test]
    fn flashes_are_taken_once() {
        let store = SessionStore::default();
        let id = store.create(Some(stamp()), Instant::now()).unwrap();
        store.flash(&id, Flash::new(FlashKind::Ok, "saved", vec![]));
        assert_eq!(store.take_flashes(&id).len(), 1);
        assert!(store.take_flashes(&id).is_empty());
    }
}
