//! PKCS#12 / PFX files, through p12-keystore (which reads OpenSSL 3, legacy, Windows,
//! macOS and Java keytool files alike).

use std::path::Path;

use zeroize::Zeroizing;

use super::Contents;
use crate::error::{Error, Result};
use crate::key::RawKey;

/// Opens a PKCS#12 file with the password (an absent one tries the empty password).
pub(super) fn parse(path: &Path, bytes: &[u8], password: Option<&str>) -> Result<Contents> {
    let mut attempt = p12_keystore::Pkcs12Archive::from_pkcs12(bytes, password.unwrap_or(""));
    if matches!(attempt, Err(p12_keystore::error::Error::MacError(_)))
        && password.is_some_and(|p| !p.is_empty())
    {
        // A file exported without a password, in a batch imported with one.
        if let Ok(a) = p12_keystore::Pkcs12Archive::from_pkcs12(bytes, "") {
            attempt = Ok(a);
        }
    }
    let archive = match attempt {
        Ok(a) => a,
        Err(p12_keystore::error::Error::MacError(_)) => {
            return Err(match password {
                None => Error::PasswordRequired {
                    path: path.to_path_buf(),
                },
                Some(_) => Error::WrongPassword {
                    path: path.to_path_buf(),
                },
            });
        }
        Err(p12_keystore::error::Error::Pkcs5Error(_) | p12_keystore::error::Error::UnpadError)
            if password.is_some() =>
        {
            // Without a MAC, a wrong password shows up as a decryption failure.
            return Err(Error::WrongPassword {
                path: path.to_path_buf(),
            });
        }
        Err(e) => {
            return Err(Error::bad_file(
                path,
                format!("cannot read this PKCS#12 file: {e}"),
            ));
        }
    };
    let trim = |s: &str| s.trim_end_matches('\0').trim().to_string();
    let friendly_name = archive
        .keys
        .iter()
        .find_map(|k| k.friendly_name.as_deref())
        .or_else(|| {
            archive
                .certs
                .iter()
                .find_map(|c| c.friendly_name.as_deref())
        })
        .map(trim)
        .filter(|s| !s.is_empty());
    let certs = archive
        .certs
        .iter()
        .map(|c| c.cert.as_der().to_vec())
        .collect();
    let keys = archive
        .keys
        .iter()
        .map(|k| RawKey::Pkcs8(Zeroizing::new(k.key.as_der().to_vec())))
        .collect();
    Ok(Contents {
        certs,
        keys,
        friendly_name,
    })
}
