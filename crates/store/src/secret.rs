//! The farm's master key and the sealing of secrets (private keys, SMTP passwords) under
//! it with AES-256-GCM. Every sealed value is bound to what it belongs to through the
//! associated data, so a sealed key copied onto another certificate does not open.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Length of the master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;
/// First byte of every sealed value: the format version.
const SEALED_V1: u8 = 1;

/// A certificate's private key as the farm stores it: sealed under the master key, for
/// that certificate alone. It has no public way to its bytes; it opens only through
/// [`crate::open_private_key`], into a [`crate::PrivateKey`].
pub struct SealedKey(pub(crate) Vec<u8>);

impl std::fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedKey(<sealed>)")
    }
}

/// The 32-byte key that seals every secret in a farm. Wiped on drop, redacted in Debug.
pub struct MasterKey {
    bytes: Zeroizing<[u8; MASTER_KEY_LEN]>,
    path: PathBuf,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({}, <redacted>)", self.path.display())
    }
}

impl MasterKey {
    /// Makes a new random key and writes it to `path` (mode 0600); refuses to overwrite.
    pub fn create(path: &Path) -> Result<MasterKey> {
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| Error::Internal("the system random generator failed".into()))?;
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        f.write_all(bytes.as_ref()).map_err(io)?;
        f.sync_all().map_err(io)?;
        Ok(MasterKey {
            bytes,
            path: path.to_path_buf(),
        })
    }

    /// Reads the key from `path`, refusing a file others can read or of the wrong size.
    pub fn load(path: &Path) -> Result<MasterKey> {
        let problem = |p: String| Error::MasterKey {
            path: path.to_path_buf(),
            problem: p,
        };
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => problem(
                "the file is missing; it was created by `mailcert init` beside the database (set MAILCERT_MASTER_KEY_FILE if you moved it)".into(),
            ),
            _ => problem(e.to_string()),
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(problem(format!(
                "the file is readable by others (mode {mode:04o}); run `chmod 600 {}`",
                path.display()
            )));
        }
        let data = Zeroizing::new(std::fs::read(path).map_err(|e| problem(e.to_string()))?);
        if data.len() != MASTER_KEY_LEN {
            return Err(problem(format!(
                "the file holds {} bytes; a master key is exactly {MASTER_KEY_LEN}",
                data.len()
            )));
        }
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        bytes.copy_from_slice(&data);
        Ok(MasterKey {
            bytes,
            path: path.to_path_buf(),
        })
    }

    /// Builds a key from bytes (tests and benchmarks).
    pub fn from_bytes(bytes: [u8; MASTER_KEY_LEN]) -> MasterKey {
        MasterKey {
            bytes: Zeroizing::new(bytes),
            path: PathBuf::from("<memory>"),
        }
    }

    /// The file the key came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn aead(&self) -> Result<LessSafeKey> {
        UnboundKey::new(&AES_256_GCM, self.bytes.as_ref())
            .map(LessSafeKey::new)
            .map_err(|_| Error::Internal("AES-256-GCM key setup failed".into()))
    }

    /// Encrypts `plaintext` bound to `aad`, with a fresh random nonce.
    /// Layout: version byte, 12-byte nonce, ciphertext with tag.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::Internal("the system random generator failed".into()))?;
        let mut buf = Zeroizing::new(plaintext.to_vec());
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut *buf,
            )
            .map_err(|_| Error::Internal("AES-256-GCM sealing failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(SEALED_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts what [`MasterKey::seal`] wrote with the same `aad`; `what` names the
    /// secret in the error.
    pub fn open(&self, sealed: &[u8], aad: &[u8], what: &str) -> Result<Zeroizing<Vec<u8>>> {
        let fail = || Error::Decrypt {
            what: what.to_string(),
        };
        let (version, rest) = sealed.split_first().ok_or_else(fail)?;
        if *version != SEALED_V1 || rest.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
        let mut buf = Zeroizing::new(ct.to_vec());
        let len = self
            .aead()?
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| fail())?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_and_bind_the_aad() {
        let k = MasterKey::from_bytes([7; 32]);
        let s = k.seal(b"secret", b"cert:AA").unwrap();
        assert_eq!(&*k.open(&s, b"cert:AA", "x").unwrap(), b"secret");
        assert!(k.open(&s, b"cert:BB", "x").is_err());
        let other = MasterKey::from_bytes([8; 32]);
        assert!(matches!(
            other.open(&s, b"cert:AA", "x"),
            Err(Error::Decrypt { .. })
        ));
        let s2 = k.seal(b"secret", b"cert:AA").unwrap();
        assert_ne!(s, s2, "a fresh nonce each time");
        assert!(!s.windows(6).any(|w| w == b"secret"));
    }

    /// Freezes the at-rest format: a blob sealed by this version must open forever.
    #[test]
    fn decrypts_frozen_sealed_blob() {
        let k = MasterKey::from_bytes([0x42; 32]);
        let frozen = "01000102030405060708090a0b68bff8b1d249807fbd60367cabb8359f0f562dc4f065fd358f4d193254f2df";
        let blob: Vec<u8> = (0..frozen.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&frozen[i..i + 2], 16).unwrap())
            .collect();
        let opened = k.open(&blob, b"frozen-aad", "frozen").unwrap();
        assert_eq!(&*opened, b"mailcert frozen");
    }

    #[test]
    fn load_refuses_open_permissions_and_bad_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        let k = MasterKey::create(&p).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let again = MasterKey::load(&p).unwrap();
        let s = k.seal(b"x", b"a").unwrap();
        assert_eq!(&*again.open(&s, b"a", "x").unwrap(), b"x");
        assert!(MasterKey::create(&p).is_err(), "never overwrites");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = MasterKey::load(&p).unwrap_err().to_string();
        assert!(e.contains("readable by others"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&p, b"short").unwrap();
        assert!(
            MasterKey::load(&p)
                .unwrap_err()
                .to_string()
                .contains("5 bytes")
        );
        let e = MasterKey::load(&dir.path().join("none"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing"), "{e}");
    }
}
