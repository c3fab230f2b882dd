//! Cross-site request forgery tokens: an HMAC-SHA256 of the session id under a key made
//! at start-up. A token is valid only for the session it was made for, needs no storage,
//! and is checked in constant time (`ring::hmac::verify`).

use ring::hmac;

use crate::session::SessionId;

/// The name of the hidden form field that carries the token.
pub(crate) const FIELD: &str = "csrf";

/// The per-process key that signs tokens.
pub(crate) struct CsrfKey(hmac::Key);

impl CsrfKey {
    /// A fresh random key.
    pub(crate) fn generate() -> Result<CsrfKey, ring::error::Unspecified> {
        let rng = ring::rand::SystemRandom::new();
        Ok(CsrfKey(hmac::Key::generate(hmac::HMAC_SHA256, &rng)?))
    }

    /// The token for forms shown in session `id`.
    pub(crate) fn token(&self, id: &SessionId) -> String {
        crate::hex::encode(hmac::sign(&self.0, &message(id)).as_ref())
    }

    /// Whether `token` was made for session `id`.
    pub(crate) fn verify(&self, id: &SessionId, token: &str) -> bool {
        match crate::hex::decode(token.trim()) {
            Some(tag) => hmac::verify(&self.0, &message(id), &tag).is_ok(),
            None => false,
        }
    }
}

fn message(id: &SessionId) -> Vec<u8> {
    let mut m = b"mailcert-admin:csrf:".to_vec();
    m.extend_from_slice(id.as_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_belongs_to_its_session() {
        let key = CsrfKey::generate().unwrap();
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        let ta = key.token(&a);
        assert_eq!(ta.len(), 64);
        assert!(key.verify(&a, &ta));
        assert!(key.verify(&a, &ta.to_ascii_uppercase()));
        assert!(
            !key.verify(&b, &ta),
            "a token must not serve another session"
        );
        assert!(!key.verify(&a, ""));
        assert!(!key.verify(&a, "zz"));
        assert!(!key.verify(&a, &ta[..62]));
        let mut flipped = ta.clone().into_bytes();
        flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
        assert!(!key.verify(&a, std::str::from_utf8(&flipped).unwrap()));
    }

    #[test]
    fn another_process_key_rejects() {
        let id = SessionId::generate().unwrap();
        let t = CsrfKey::generate().unwrap().token(&id);
        assert!(!CsrfKey::generate().unwrap().verify(&id, &t));
    }
}
