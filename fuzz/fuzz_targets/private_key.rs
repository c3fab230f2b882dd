//! Private-key parsing and normalisation (`key::normalize` and the key/certificate match),
//! reached the way `cert import CERT --key FILE` reaches it: the input is the key file,
//! given beside a fixed certificate. PKCS#8, encrypted PKCS#8, PKCS#1, SEC1 and the old
//! OpenSSL `Proc-Type: 4,ENCRYPTED` PEM keys, as PEM or DER.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mailcert_store::{Input, parse_bundle};

const CERT: &[u8] = include_bytes!("../../fixtures/files/client-rsa.pem");

fuzz_target!(|data: &[u8]| {
    for password in [None, Some("fixture-pass")] {
        let cert = Input {
            path: Path::new("client-rsa.pem"),
            bytes: CERT,
        };
        let key = Input {
            path: Path::new("fuzz.key"),
            bytes: data,
        };
        if let Err(e) = parse_bundle(cert, Some(key), password) {
            let _ = e.to_string();
        }
    }
});
