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
        hex(hmac::sign(&self.0, &message(id)).as_ref())
    }

    /// Whether `token` was made for session `id`.
    pub(crate) fn verify(&self, id: &SessionId, token: &str) -> bool {
        match unhex(token.trim()) {
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

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Decodes hex (either case); `None` for anything else.
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let [hi, lo] = pair else { return None };
            let hi = char::from(*hi).to_digit(16)?;
            let lo = char::from(*lo).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
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

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00ABff").unwrap(), vec![0, 0xab, 0xff]);
        assert!(unhex("0").is_none());
        assert!(unhex("g0").is_none());
        assert!(unhex("é0").is_none());
    }
}
