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

/// Checks `password` against the stored hash; `Ok(None)` when no password is set.
pub(crate) fn verify(farm: &mut Farm, password: &str) -> Result<Option<bool>, AdminError> {
    let Some(stored) = farm.read(|tx| tx.meta(META_KEY))? else {
        return Ok(None);
    };
    let stored = String::from_utf8(stored)
        .map_err(|_| AdminError::PasswordHash("the stored hash is not text".into()))?;
    let parsed = PasswordHash::new(&stored).map_err(|e| AdminError::PasswordHash(e.to_string()))?;
    Ok(Some(
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
    ))
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
        Farm::init(&db, &key).unwrap();
        let farm = Farm::open(&db, &key).unwrap();
        (dir, farm)
    }

    #[test]
    fn set_and_verify() {
        let (_dir, mut farm) = farm();
        assert!(!password_is_set(&mut farm).unwrap());
        assert_eq!(verify(&mut farm, "anything").unwrap(), None);
        set_password(&mut farm, "correct horse battery", 100).unwrap();
        assert!(password_is_set(&mut farm).unwrap());
        assert_eq!(
            verify(&mut farm, "correct horse battery").unwrap(),
            Some(true)
        );
        assert_eq!(
            verify(&mut farm, "correct horse battery!").unwrap(),
            Some(false)
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
