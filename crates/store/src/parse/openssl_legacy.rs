//! Old OpenSSL encrypted PEM keys (the "traditional" format of `openssl genrsa -aes256`,
//! `openssl rsa -des3`, `openssl ec -aes256`): a PKCS#1 or SEC1 key encrypted in CBC mode,
//! announced by the RFC 1421 headers
//!
//! ```text
//! Proc-Type: 4,ENCRYPTED
//! DEK-Info: AES-256-CBC,5A3F...IV IN HEX...
//! ```
//!
//! The cipher key comes from OpenSSL's `EVP_BytesToKey` with MD5, one iteration and the
//! first 8 bytes of the IV as salt. The ciphers themselves are RustCrypto's (`des`, `aes`,
//! `cbc`); nothing here implements a cipher.

use std::path::Path;

use base64ct::Encoding;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockCipherDecrypt, BlockModeDecrypt, KeyInit, KeyIvInit};
use md5::{Digest, Md5};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The ciphers OpenSSL writes in `DEK-Info` for private keys, all in CBC mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DekCipher {
    /// `DES-EDE3-CBC` (`-des3`).
    DesEde3,
    /// `DES-CBC` (`-des`).
    Des,
    /// `AES-128-CBC` (`-aes128`).
    Aes128,
    /// `AES-192-CBC` (`-aes192`).
    Aes192,
    /// `AES-256-CBC` (`-aes256`).
    Aes256,
}

impl DekCipher {
    const ALL: [DekCipher; 5] = [
        DekCipher::DesEde3,
        DekCipher::Des,
        DekCipher::Aes128,
        DekCipher::Aes192,
        DekCipher::Aes256,
    ];

    /// The name as `DEK-Info` spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            DekCipher::DesEde3 => "DES-EDE3-CBC",
            DekCipher::Des => "DES-CBC",
            DekCipher::Aes128 => "AES-128-CBC",
            DekCipher::Aes192 => "AES-192-CBC",
            DekCipher::Aes256 => "AES-256-CBC",
        }
    }

    fn from_name(name: &str) -> Option<DekCipher> {
        DekCipher::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }

    fn key_len(self) -> usize {
        match self {
            DekCipher::DesEde3 => 24,
            DekCipher::Des => 8,
            DekCipher::Aes128 => 16,
            DekCipher::Aes192 => 24,
            DekCipher::Aes256 => 32,
        }
    }

    /// The IV is one cipher block.
    fn block_len(self) -> usize {
        match self {
            DekCipher::DesEde3 | DekCipher::Des => 8,
            DekCipher::Aes128 | DekCipher::Aes192 | DekCipher::Aes256 => 16,
        }
    }
}

/// What the encrypted bytes hold once decrypted, by the PEM label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inner {
    /// `RSA PRIVATE KEY`: PKCS#1.
    Pkcs1,
    /// `EC PRIVATE KEY`: SEC1.
    Sec1,
}

/// An old-format encrypted key, read but not yet decrypted.
pub(crate) struct LegacyEncryptedKey {
    pub(crate) inner: Inner,
    cipher: DekCipher,
    iv: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// Why a decryption failed, before the caller names the file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DecryptError {
    /// Bad padding after decryption: with a well-formed file, the wrong password.
    WrongPassword,
}

/// Whether a PEM section's text carries RFC 1421 encapsulated headers (`Proc-Type`).
pub(super) fn has_proc_type(text: &[u8]) -> bool {
    lines(text).any(|l| {
        l.get(..10)
            .is_some_and(|h| h.eq_ignore_ascii_case(b"Proc-Type:"))
    })
}

/// The lines of `text`, without their CR/LF.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// Reads an armoured section (BEGIN line through END line) with `Proc-Type` and `DEK-Info`
/// headers. `label` is the PEM label; `section` numbers the section in messages.
pub(super) fn parse(
    path: &Path,
    label: &str,
    section: usize,
    text: &[u8],
) -> Result<LegacyEncryptedKey> {
    let bad = |what: String| {
        Error::bad_file(
            path,
            format!("PEM section {section} (\"{label}\", old OpenSSL encryption): {what}"),
        )
    };
    let inner = match label {
        "RSA PRIVATE KEY" => Inner::Pkcs1,
        "EC PRIVATE KEY" => Inner::Sec1,
        other => {
            return Err(bad(format!(
                "a \"{other}\" in this format is not read (only RSA and EC keys are); convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out key.p8.pem`"
            )));
        }
    };
    // Lines between BEGIN and END: headers (with RFC 1421 continuation lines), a blank
    // line, then base64.
    let mut body_lines: Vec<&[u8]> = lines(text).skip(1).collect();
    while body_lines.last().is_some_and(|l| l.trim_ascii().is_empty()) {
        body_lines.pop();
    }
    body_lines.pop(); // the END line
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut body = Vec::new();
    let mut in_headers = true;
    for line in body_lines {
        if in_headers {
            if line.trim_ascii().is_empty() {
                in_headers = false;
                continue;
            }
            if line.first().is_some_and(|b| *b == b' ' || *b == b'\t')
                && let Some((_, value)) = headers.last_mut()
            {
                value.push_str(String::from_utf8_lossy(line.trim_ascii()).as_ref());
                continue;
            }
            if let Some(colon) = line.iter().position(|b| *b == b':') {
                let (name, value) = line.split_at(colon);
                let value = value.get(1..).unwrap_or_default();
                headers.push((
                    String::from_utf8_lossy(name.trim_ascii()).into_owned(),
                    String::from_utf8_lossy(value.trim_ascii()).into_owned(),
                ));
                continue;
            }
            // No blank line after the headers: the base64 starts here.
            in_headers = false;
        }
        body.extend(line.iter().copied().filter(|b| !b.is_ascii_whitespace()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let proc_type = header("Proc-Type").unwrap_or_default();
    if !proc_type
        .replace(' ', "")
        .eq_ignore_ascii_case("4,ENCRYPTED")
    {
        return Err(bad(format!(
            "Proc-Type \"{proc_type}\" is not read (only \"4,ENCRYPTED\" is)"
        )));
    }
    let dek = header("DEK-Info").ok_or_else(|| bad("the DEK-Info header is missing".into()))?;
    let (cipher_name, iv_hex) = dek
        .split_once(',')
        .map(|(c, iv)| (c.trim(), iv.trim()))
        .unwrap_or((dek.trim(), ""));
    let cipher = DekCipher::from_name(cipher_name).ok_or_else(|| {
        let known: Vec<&str> = DekCipher::ALL.iter().map(|c| c.name()).collect();
        bad(format!(
            "the key is encrypted with cipher \"{cipher_name}\" (DEK-Info), which mailcert does not read; it reads {}; convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out key.p8.pem`",
            known.join(", ")
        ))
    })?;
    let iv = base16ct::mixed::decode_vec(iv_hex.as_bytes())
        .map_err(|_| bad(format!("the DEK-Info IV \"{iv_hex}\" is not hexadecimal")))?;
    if iv.len() != cipher.block_len() {
        return Err(bad(format!(
            "the DEK-Info IV is {} bytes; {} needs {}",
            iv.len(),
            cipher.name(),
            cipher.block_len()
        )));
    }
    let ciphertext = base64ct::Base64::decode_vec(&String::from_utf8_lossy(&body))
        .map_err(|e| bad(format!("the key is not valid base64: {e}")))?;
    if ciphertext.is_empty() || ciphertext.len() % cipher.block_len() != 0 {
        return Err(bad(format!(
            "the encrypted key is {} bytes, not a whole number of {}-byte {} blocks (truncated?)",
            ciphertext.len(),
            cipher.block_len(),
            cipher.name()
        )));
    }
    Ok(LegacyEncryptedKey {
        inner,
        cipher,
        iv,
        ciphertext,
    })
}

/// OpenSSL's `EVP_BytesToKey` with MD5 and one iteration: `D_i = MD5(D_{i-1} || password
/// || salt)`, concatenated until `len` bytes.
fn evp_bytes_to_key(password: &[u8], salt: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + 16));
    let mut previous: Option<Zeroizing<Vec<u8>>> = None;
    while out.len() < len {
        let mut h = Md5::new();
        if let Some(p) = &previous {
            h.update(p.as_slice());
        }
        h.update(password);
        h.update(salt);
        let digest = Zeroizing::new(h.finalize().to_vec());
        out.extend_from_slice(&digest);
        previous = Some(digest);
    }
    out.truncate(len);
    out
}

impl LegacyEncryptedKey {
    /// Decrypts with `password`; the plaintext is wiped when dropped.
    pub(crate) fn decrypt(
        &self,
        password: &str,
    ) -> std::result::Result<Zeroizing<Vec<u8>>, DecryptError> {
        let salt = self.iv.get(..8).unwrap_or(&self.iv);
        let key = evp_bytes_to_key(password.as_bytes(), salt, self.cipher.key_len());
        let mut buf = Zeroizing::new(self.ciphertext.clone());
        let plain_len = match self.cipher {
            DekCipher::DesEde3 => decrypt_cbc::<des::TdesEde3>(&key, &self.iv, &mut buf),
            DekCipher::Des => decrypt_cbc::<des::Des>(&key, &self.iv, &mut buf),
            DekCipher::Aes128 => decrypt_cbc::<aes::Aes128>(&key, &self.iv, &mut buf),
            DekCipher::Aes192 => decrypt_cbc::<aes::Aes192>(&key, &self.iv, &mut buf),
            DekCipher::Aes256 => decrypt_cbc::<aes::Aes256>(&key, &self.iv, &mut buf),
        }?;
        buf.truncate(plain_len);
        Ok(buf)
    }
}

/// CBC-decrypts `buf` in place and removes the PKCS#7 padding; the plaintext's length.
fn decrypt_cbc<C>(key: &[u8], iv: &[u8], buf: &mut [u8]) -> std::result::Result<usize, DecryptError>
where
    C: BlockCipherDecrypt + KeyInit,
{
    // Key and IV lengths were checked against the cipher when the file was read, so a
    // length error cannot happen; were it to, no password could open the key.
    let dec =
        cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|_| DecryptError::WrongPassword)?;
    dec.decrypt_padded::<Pkcs7>(buf)
        .map(<[u8]>::len)
        .map_err(|_| DecryptError::WrongPassword)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn evp_bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -P -md md5 -pass pass:fixture-pass -S 0001020304050607`
        // prints key=BCC423C1…5C81AA50 (and takes the IV from the same stream).
        let salt = [0u8, 1, 2, 3, 4, 5, 6, 7];
        let k = evp_bytes_to_key(b"fixture-pass", &salt, 48);
        assert_eq!(
            crate::facts::hex_upper(&k[..32]),
            "BCC423C19E3E5001B718CC8AAD6BAD6B0253FE1D18FFD96DAFD7EC2B5C81AA50"
        );
        assert_eq!(
            crate::facts::hex_upper(&k[32..]),
            "FFD155070286C76B24AE972EAAB063E3"
        );
        // A shorter key is a prefix (DES-EDE3-CBC takes 24 bytes).
        assert_eq!(
            evp_bytes_to_key(b"fixture-pass", &salt, 24).as_slice(),
            &k[..24]
        );
    }

    fn fixture(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/files")
            .join(name);
        std::fs::read(p).unwrap()
    }

    #[test]
    fn bad_padding_is_the_wrong_password() {
        for (name, block) in [
            ("client-rsa.legacy-aes256.key", 16),
            ("client-rsa.legacy-des3.key", 8),
        ] {
            let text = fixture(name);
            let path = std::path::Path::new(name);
            let mut key = parse(path, "RSA PRIVATE KEY", 1, &text).unwrap();
            let plain = key.decrypt("fixture-pass").unwrap();
            let pad = key.ciphertext.len() - plain.len();
            assert!((1..=block).contains(&pad), "{name}: padding {pad}");
            // CBC: flipping the previous block's last byte flips the last plaintext byte;
            // XOR with the padding value makes it 0, never valid PKCS#7.
            let at = key.ciphertext.len() - 1 - block;
            key.ciphertext[at] ^= u8::try_from(pad).unwrap();
            assert_eq!(
                key.decrypt("fixture-pass").unwrap_err(),
                DecryptError::WrongPassword,
                "{name}"
            );
        }
    }

    #[test]
    fn cipher_names_are_read_case_insensitively() {
        assert_eq!(DekCipher::from_name("aes-256-cbc"), Some(DekCipher::Aes256));
        assert_eq!(
            DekCipher::from_name("DES-EDE3-CBC"),
            Some(DekCipher::DesEde3)
        );
        assert_eq!(DekCipher::from_name("CAMELLIA-256-CBC"), None);
    }
}
