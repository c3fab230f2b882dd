//! The container parser (`mailcert_store::parse_bundle`): PFX/PKCS#12, PEM, DER and
//! PKCS#7, with no password and with the fixtures' password.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mailcert_store::{Input, parse_bundle};

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.bin");
    for password in [None, Some("fixture-pass")] {
        match parse_bundle(Input { path, bytes: data }, None, password) {
            Ok(bundle) => {
                // A bundle's certificates were parsed once; their facts must read too.
                let _ = mailcert_store::cert_facts(path, &bundle.leaf);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
