//! Regression tests for issue #8 ("Hardening"): inputs that once crashed the parsers, and
//! the key formats the issue added. Each asserts the error a person would see.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use mailcert_store::{Error, Input, parse_bundle};

fn parse(
    name: &str,
    bytes: &[u8],
    password: Option<&str>,
) -> mailcert_store::Result<mailcert_store::Bundle> {
    let path = Path::new(name);
    parse_bundle(Input { path, bytes }, None, password)
}

/// Issue #8: a TRUSTED CERTIFICATE whose DER header claims more bytes than the section
/// holds (here 0x30 0x05 and nothing after it) sliced past the end and panicked.
#[test]
fn issue_8_trusted_certificate_with_a_lying_length_is_a_bad_file() {
    let pem = b"-----BEGIN TRUSTED CERTIFICATE-----\nMAU=\n-----END TRUSTED CERTIFICATE-----\n";
    for password in [None, Some("fixture-pass")] {
        let r = std::panic::catch_unwind(|| parse("t.pem", pem, password));
        let r = r.expect("the PEM parser panicked on a 4-byte TRUSTED CERTIFICATE");
        match r {
            Err(Error::BadFile { path, problem }) => {
                assert_eq!(path, Path::new("t.pem"));
                assert!(problem.contains("not a certificate"), "{problem}");
            }
            other => panic!("expected a bad-file error, got {other:?}"),
        }
    }
}
