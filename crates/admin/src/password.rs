//! The administrator password: an Argon2id hash (PHC string) in the farm's meta table.
//! The password itself is never stored, logged or shown.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use mailcert_store::Farm;
use ring::rand::SecureRandom;

use crate::error::AdminError;

/// The meta key holding the hash.
const META_KEY: &str = "admin_password";

/// The shortest administrator password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Sets the administrator password of Central Administration: stores its Argon2id hash
/// in the farm and records "admin password set" in the audit trail (without a secret).
/// Passwords shorter than [`MIN_PASSWORD_CHARS`] are refused.
pub fn set_password(farm: &mut Farm, password: &str, now: i64) -> Result<(), AdminError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AdminError::PasswordTooShort {
            chars,
            min: MIN_PASSWORD_CHARS,
        });
    }
    let hash = hash(password)?;
    farm.write(|tx| {
        let replaced = tx.meta(META_KEY)?.is_some();
        tx.set_meta(META_KEY, hash.as_bytes())?;
        tx.audit(
            now,
            "admin password set",
            "Central Administration",
            if replaced {
                "replaced the previous password (Argon2id hash)"
            } else {
                "first password (Argon2id hash)"
            },
        )
    })?;
    Ok(())
}

/// Whether an administrator password has been set.
pub fn password_is_set(farm: &mut Farm) -> Result<bool, AdminError> {
    Ok(farm.read(|tx| tx.meta(META_KEY))?.is_some())
}

/// Identifies one stored administrator password hash: the SHA-256 of its PHC string.
/// Each [`set_password`] stores a fresh salt, so the stamp changes even when the same
/// password is set again. A signed-in session carries the stamp it signed in under.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct PasswordStamp([u8; 32]);

impl std::fmt::Debug for PasswordStamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordStamp(<redacted>)")
    }
}

impl PasswordStamp {
    /// The stamp of a stored hash (the meta value's bytes).
    pub(crate) fn of(stored: &[u8]) -> PasswordStamp {
        let d = ring::digest::digest(&ring::digest::SHA256, stored);
        let mut b = [0u8; 32];
        b.copy_from_slice(d.as_ref());
        PasswordStamp(b)
    }
}

/// The stamp of the administrator password now stored; `None` when none is set.
pub(crate) fn current_stamp(farm: &mut Farm) -> Result<Option<PasswordStamp>, AdminError> {
    Ok(farm
        .read(|tx| tx.meta(META_KEY))?
        .map(|stored| PasswordStamp::of(&stored)))
}

/// What checking a password found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verified {
    /// No administrator password is set.
    NoPassword,
    /// The password is not the administrator password.
    Wrong,
    /// The password is right; the stamp of the hash it was checked against.
    Right(PasswordStamp),
}

/// Checks `password` against the stored hash.
pub(crate) fn verify(farm: &mut Farm, password: &str) -> Result<Verified, AdminError> {
    let Some(stored) = farm.read(|tx| tx.meta(META_KEY))? else {
        return Ok(Verified::NoPassword);
    };
    let stamp = PasswordStamp::of(&stored);
    let stored = String::from_utf8(stored)
        .map_err(|_| AdminError::PasswordHash("the stored hash is not text".into()))?;
    let parsed = PasswordHash::new(&stored).map_err(|e| AdminError::PasswordHash(e.to_string()))?;
    Ok(
        if argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
        {
            Verified::Right(stamp)
        } else {
            Verified::Wrong
        },
    )
}

/// An Argon2id (v19, the crate's default cost: 19 MiB, 2 passes) PHC string with a
/// random 16-byte salt.
fn hash(password: &str) -> Result<String, AdminError> {
    let mut salt = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| AdminError::PasswordHash("the system random source failed".into()))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| AdminError::PasswordHash(e.to_string()))?;
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AdminError::PasswordHash(e.to_string()))?
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn farm() -> (tempfile::TempDir, Farm) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("farm.db");
        let key = Farm::default_key_path(&db);
        Farm::init(&db, &key, "web1", 1).unwrap();
        let farm = Farm::open(&db, &key).unwrap();
        (dir, farm)
    }

    #[test]
    fn set_and_verify() {
        let (_dir, mut farm) = farm();
        assert!(!password_is_set(&mut farm).unwrap());
        assert_eq!(verify(&mut farm, "anything").unwrap(), Verified::NoPassword);
        assert_eq!(current_stamp(&mut farm).unwrap(), None);
        set_password(&mut farm, "correct horse battery", 100).unwrap();
        assert!(password_is_set(&mut farm).unwrap());
        let stamp = current_stamp(&mut farm).unwrap().unwrap();
        assert_eq!(
            verify(&mut farm, "correct horse battery").unwrap(),
            Verified::Right(stamp)
        );
        assert_eq!(
            verify(&mut farm, "correct horse battery!").unwrap(),
            Verified::Wrong
        );
        let stored = farm.read(|tx| tx.meta(META_KEY)).unwrap().unwrap();
        let stored = String::from_utf8(stored).unwrap();
        assert!(stored.starts_with("$argon2id$v=19$"), "{stored}");
        assert!(!stored.contains("correct horse"));
        let audit = farm.read(|tx| tx.audit_since(0)).unwrap();
        assert_eq!(audit[0].action, "admin password set");
        assert!(!audit[0].detail.contains("horse"));
    }

    #[test]
    fn every_new_password_has_a_new_stamp() {
        let (_dir, mut farm) = farm();
        set_password(&mut farm, "correct horse battery", 100).unwrap();
        let first = current_stamp(&mut farm).unwrap().unwrap();
        set_password(&mut farm, "correct horse battery", 101).unwrap();
        let again = current_stamp(&mut farm).unwrap().unwrap();
        assert_ne!(first, again, "the same password set again has a new salt");
        assert_eq!(
            verify(&mut farm, "correct horse battery").unwrap(),
            Verified::Right(again)
        );
        assert!(!format!("{again:?}").contains(&format!("{:?}", again.0)));
    }

    #[test]
    fn refuses_short_passwords() {
        let (_dir, mut farm) = farm();
        let e = set_password(&mut farm, "elevenchars", 1).unwrap_err();
        assert!(matches!(
            e,
            AdminError::PasswordTooShort { chars: 11, min: 12 }
        ));
        // Characters, not bytes, are counted.
        assert!(set_password(&mut farm, "ééééééééééé", 1).is_err());
        assert!(!password_is_set(&mut farm).unwrap());
    }

    #[test]
    fn two_hashes_of_one_password_differ() {
        assert_ne!(
            hash("the same password").unwrap(),
            hash("the same password").unwrap()
        );
    }
}
