//! End-to-end regression tests for issue #8 ("Hardening"): inputs that once crashed the
//! importer, old OpenSSL encrypted PEM keys, and key types that are stored but ineligible.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use mailcert_tests::TestFarm;

/// Issue #8: `cert import` of a 4-byte TRUSTED CERTIFICATE (a DER header claiming 5 bytes
/// that are not there) panicked with exit 101; it is a bad file (exit 1) naming the file.
#[test]
fn issue_8_four_byte_trusted_certificate_is_a_bad_file_not_a_panic() {
    let f = TestFarm::new();
    let d = tempfile::tempdir().unwrap();
    let t = d.path().join("t.pem");
    std::fs::write(
        &t,
        b"-----BEGIN TRUSTED CERTIFICATE-----\nMAU=\n-----END TRUSTED CERTIFICATE-----\n",
    )
    .unwrap();
    let r = f.run(&["cert", "import", t.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(r.stderr.contains("t.pem"), "{}", r.stderr);
    assert!(r.stderr.contains("not a certificate"), "{}", r.stderr);
    assert!(f.list(&[]).is_empty());
}
