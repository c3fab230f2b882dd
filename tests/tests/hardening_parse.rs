//! End-to-end regression tests for issue #8 ("Hardening"): inputs that once crashed the
//! importer, old OpenSSL encrypted PEM keys, and key types that are stored but ineligible.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use mailcert_tests::{TestFarm, sha1_of};

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

const KEY_TYPE_REQUIRED: &str = "required: RSA >= 2048, ECDSA P-256/P-384 or Ed25519";

/// Issue #8: P-521 and Ed448 certificates, from a PFX and from PEM + PKCS#8 key, are
/// stored with their keys and listed as ineligible by key type alone.
#[test]
fn p521_and_ed448_are_imported_with_their_keys_and_ineligible_by_key_type() {
    let cases: &[(&[&str], &str, &str, &str)] = &[
        (
            &["client-p521.pfx", "--password-file", "password.txt"],
            "client-p521.pem",
            "ECDSA P-521",
            "EC-1.3.132.0.35",
        ),
        (
            &["client-p521.pem", "--key", "client-p521.key"],
            "client-p521.pem",
            "ECDSA P-521",
            "EC-1.3.132.0.35",
        ),
        (
            &["client-p521.pem", "--key", "client-p521.sec1.key"],
            "client-p521.pem",
            "ECDSA P-521",
            "EC-1.3.132.0.35",
        ),
        (
            &["client-ed448.pfx", "--password-file", "password.txt"],
            "client-ed448.pem",
            "Ed448",
            "OTHER-1.3.101.113",
        ),
        (
            &["client-ed448.pem", "--key", "client-ed448.key"],
            "client-ed448.pem",
            "Ed448",
            "OTHER-1.3.101.113",
        ),
    ];
    for (args, cert, name, label) in cases {
        let f = TestFarm::new();
        let mut a = vec!["--json", "cert", "import"];
        a.extend_from_slice(args);
        let r = f.run(&a);
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        let leaf = &r.json()[0]["certificate"];
        let sha1 = sha1_of(cert);
        assert_eq!(leaf["thumbprint_sha1"], sha1, "{args:?}");
        let list = f.list(&[]);
        assert_eq!(list.len(), 1, "{args:?}: {list:?}");
        let c = &list[0];
        assert_eq!(c["thumbprint_sha1"], sha1);
        assert_eq!(c["store"], "end-entity", "{args:?}");
        assert_eq!(c["has_private_key"], true, "{args:?}");
        assert_eq!(c["key_type"], *label, "{args:?}");
        assert_eq!(c["eligible"], false, "{args:?}");
        let want =
            format!("key-type: {name} cannot sign a TLS handshake here; {KEY_TYPE_REQUIRED}");
        assert_eq!(c["reasons"], serde_json::json!([want]), "{args:?}");
        assert!(f.list(&["--eligible"]).is_empty(), "{args:?}");
        let check = f.run(&["cert", "check", &sha1]);
        assert_eq!(check.code, 3, "{args:?}: {check:?}");
        assert!(check.stdout.contains(&want), "{args:?}: {check:?}");
    }
}

#[test]
fn a_p521_or_ed448_key_of_another_certificate_is_refused_as_a_mismatch() {
    let f = TestFarm::new();
    for (cert, key) in [
        ("client-p521.pem", "other-p521.key"),
        ("client-ed448.pem", "other-ed448.key"),
    ] {
        let r = f.run(&["cert", "import", cert, "--key", key]);
        assert_eq!(r.code, 1, "{key}: {r:?}");
        assert!(r.stderr.contains(key), "{r:?}");
        assert!(
            r.stderr
                .contains("does not match the certificate's public key"),
            "{r:?}"
        );
    }
    assert!(f.list(&[]).is_empty());
}

/// Issue #8: old OpenSSL `Proc-Type: 4,ENCRYPTED` keys (genrsa/rsa/ec with -des3,
/// -aes128, -aes192, -aes256) import with the password and make the certificate eligible.
#[test]
fn old_openssl_encrypted_keys_import_with_the_password() {
    for (cert, key) in [
        ("client-rsa.pem", "client-rsa.legacy-des3.key"),
        ("client-rsa.pem", "client-rsa.legacy-aes128.key"),
        ("client-rsa.pem", "client-rsa.legacy-aes192.key"),
        ("client-rsa.pem", "client-rsa.legacy-aes256.key"),
        ("client-p256.pem", "client-p256.legacy-aes256.key"),
        ("client-p384.pem", "client-p384.legacy-des3.key"),
        ("legacy-genrsa.pem", "legacy-genrsa.key"),
    ] {
        let f = TestFarm::new();
        let r = f.run(&[
            "--json",
            "cert",
            "import",
            cert,
            "--key",
            key,
            "--password-file",
            "password.txt",
        ]);
        assert_eq!(r.code, 0, "{key}: {r:?}");
        let c = &r.json()[0]["certificate"];
        assert_eq!(c["thumbprint_sha1"], sha1_of(cert), "{key}");
        assert_eq!(c["has_private_key"], true, "{key}");
        assert_eq!(c["eligible"], true, "{key}: {c}");
    }
}

#[test]
fn old_openssl_encrypted_keys_wrong_password_no_password_and_unknown_cipher() {
    let f = TestFarm::new();
    let d = tempfile::tempdir().unwrap();
    let wrong = d.path().join("wrong.txt");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    let wrong = wrong.to_str().unwrap();
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &[
                "--key",
                "client-rsa.legacy-aes256.key",
                "--password-file",
                wrong,
            ],
            "client-rsa.legacy-aes256.key",
            "wrong password",
        ),
        (
            &[
                "--key",
                "client-rsa.legacy-des3.key",
                "--password-file",
                wrong,
            ],
            "client-rsa.legacy-des3.key",
            "wrong password",
        ),
        (
            &["--key", "client-rsa.legacy-aes128.key"],
            "client-rsa.legacy-aes128.key",
            "password-protected",
        ),
        (
            &[
                "--key",
                "client-rsa.legacy-camellia256.key",
                "--password-file",
                "password.txt",
            ],
            "client-rsa.legacy-camellia256.key",
            "cipher \"CAMELLIA-256-CBC\"",
        ),
    ];
    for (extra, name, words) in cases {
        let mut a = vec!["cert", "import", "client-rsa.pem"];
        a.extend_from_slice(extra);
        let r = f.run(&a);
        assert_eq!(r.code, 1, "{extra:?}: {r:?}");
        assert!(r.stderr.contains(name), "{extra:?}: {}", r.stderr);
        assert!(r.stderr.contains(words), "{extra:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    assert!(f.list(&[]).is_empty());
}
