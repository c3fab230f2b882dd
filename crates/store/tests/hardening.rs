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

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/files")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Parses `cert` with `key` as its --key file.
fn with_key(
    cert: &str,
    key: &str,
    password: Option<&str>,
) -> mailcert_store::Result<mailcert_store::Bundle> {
    let (c, k) = (fixture(cert), fixture(key));
    parse_bundle(
        Input {
            path: Path::new(cert),
            bytes: &c,
        },
        Some(Input {
            path: Path::new(key),
            bytes: &k,
        }),
        password,
    )
}

fn pkcs8_of(b: &mailcert_store::Bundle) -> Vec<u8> {
    b.key
        .as_ref()
        .expect("the bundle has its key")
        .dangerously_expose_pkcs8_der()
        .to_vec()
}

/// The leaf's DER from a one-certificate PEM fixture.
fn cert_der(name: &str) -> Vec<u8> {
    der::pem::decode_vec(&fixture(name)).unwrap().1
}

// --- Issue #8, task 4: old OpenSSL `Proc-Type: 4,ENCRYPTED` PEM keys ----------------------

#[test]
fn old_openssl_encrypted_keys_decrypt_to_the_same_key_as_the_plain_file() {
    let rsa = pkcs8_of(&with_key("client-rsa.pem", "client-rsa.key", None).unwrap());
    let p256 = pkcs8_of(&with_key("client-p256.pem", "client-p256.key", None).unwrap());
    let p384 = pkcs8_of(&with_key("client-p384.pem", "client-p384.key", None).unwrap());
    for (cert, key, dek, plain) in [
        (
            "client-rsa.pem",
            "client-rsa.legacy-des3.key",
            "DES-EDE3-CBC",
            &rsa,
        ),
        (
            "client-rsa.pem",
            "client-rsa.legacy-aes128.key",
            "AES-128-CBC",
            &rsa,
        ),
        (
            "client-rsa.pem",
            "client-rsa.legacy-aes192.key",
            "AES-192-CBC",
            &rsa,
        ),
        (
            "client-rsa.pem",
            "client-rsa.legacy-aes256.key",
            "AES-256-CBC",
            &rsa,
        ),
        (
            "client-rsa.pem",
            "client-rsa.legacy-enc.key",
            "AES-256-CBC",
            &rsa,
        ),
        (
            "client-p256.pem",
            "client-p256.legacy-aes256.key",
            "AES-256-CBC",
            &p256,
        ),
        (
            "client-p384.pem",
            "client-p384.legacy-des3.key",
            "DES-EDE3-CBC",
            &p384,
        ),
    ] {
        let text = String::from_utf8(fixture(key)).unwrap();
        assert!(
            text.contains("Proc-Type: 4,ENCRYPTED") && text.contains(&format!("DEK-Info: {dek},")),
            "{key} is not the old format with {dek}"
        );
        let b = with_key(cert, key, Some("fixture-pass")).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(&pkcs8_of(&b), plain, "{key}");
        assert_eq!(b.leaf, cert_der(cert), "{key}");
    }
}

#[test]
fn a_key_straight_from_openssl_genrsa_aes256_imports_with_its_certificate() {
    let b = with_key(
        "legacy-genrsa.pem",
        "legacy-genrsa.key",
        Some("fixture-pass"),
    )
    .unwrap();
    assert!(b.key.is_some());
    assert_eq!(b.leaf, cert_der("legacy-genrsa.pem"));
}

#[test]
fn old_openssl_keys_with_a_wrong_or_missing_password() {
    for key in [
        "client-rsa.legacy-des3.key",
        "client-rsa.legacy-aes128.key",
        "client-rsa.legacy-aes192.key",
        "client-rsa.legacy-aes256.key",
    ] {
        match with_key("client-rsa.pem", key, Some("not-the-password")) {
            Err(Error::WrongPassword { path }) => assert_eq!(path, Path::new(key)),
            other => panic!("{key}: expected a wrong password, got {other:?}"),
        }
        match with_key("client-rsa.pem", key, None) {
            Err(Error::PasswordRequired { path }) => assert_eq!(path, Path::new(key)),
            other => panic!("{key}: expected password required, got {other:?}"),
        }
    }
    let e = with_key("client-rsa.pem", "client-rsa.legacy-aes256.key", Some("x")).unwrap_err();
    assert!(e.to_string().contains("wrong password"), "{e}");
}

#[test]
fn an_old_openssl_key_with_an_unknown_cipher_names_it() {
    for password in [Some("fixture-pass"), None] {
        match with_key(
            "client-rsa.pem",
            "client-rsa.legacy-camellia256.key",
            password,
        ) {
            Err(Error::BadFile { path, problem }) => {
                assert_eq!(path, Path::new("client-rsa.legacy-camellia256.key"));
                assert!(problem.contains("\"CAMELLIA-256-CBC\""), "{problem}");
                assert!(problem.contains("AES-256-CBC"), "{problem}");
            }
            other => panic!("expected a bad file, got {other:?}"),
        }
    }
}

#[test]
fn damaged_old_openssl_headers_are_bad_files_saying_what_is_wrong() {
    let text = String::from_utf8(fixture("client-rsa.legacy-aes256.key")).unwrap();
    let dek = text
        .lines()
        .find(|l| l.starts_with("DEK-Info: "))
        .unwrap()
        .to_string();
    let cases = [
        (
            text.replace(&dek, "DEK-Info: AES-256-CBC,00112233"),
            "IV is 4 bytes",
        ),
        (
            text.replace(&dek, "DEK-Info: AES-256-CBC,XYZ"),
            "not hexadecimal",
        ),
        (text.replace(&dek, ""), "DEK-Info header is missing"),
        (text.replace("4,ENCRYPTED", "4,MIC-ONLY"), "MIC-ONLY"),
        (
            text.replace(
                "-----BEGIN RSA PRIVATE KEY-----",
                "-----BEGIN DSA PRIVATE KEY-----",
            )
            .replace(
                "-----END RSA PRIVATE KEY-----",
                "-----END DSA PRIVATE KEY-----",
            ),
            "DSA PRIVATE KEY",
        ),
        {
            // Cut 3 bytes (4 base64 characters) out of the middle: no longer whole blocks.
            let lines: Vec<&str> = text.lines().collect();
            let mut cut = lines.clone();
            let mid = lines.len() / 2;
            cut[mid] = &lines[mid][4..];
            (
                cut.join("\n"),
                "not a whole number of 16-byte AES-256-CBC blocks",
            )
        },
    ];
    let cert = fixture("client-rsa.pem");
    for (key, words) in cases {
        let r = parse_bundle(
            Input {
                path: Path::new("client-rsa.pem"),
                bytes: &cert,
            },
            Some(Input {
                path: Path::new("k.pem"),
                bytes: key.as_bytes(),
            }),
            Some("fixture-pass"),
        );
        match r {
            Err(Error::BadFile { problem, .. }) => {
                assert!(problem.contains(words), "{words:?} not in {problem:?}")
            }
            other => panic!("{words}: expected a bad file, got {other:?}"),
        }
    }
}

// --- Issue #8, task 3: P-521 and Ed448 are stored, and ineligible by key type ------------

#[test]
fn p521_and_ed448_import_with_their_keys_from_pem_and_pfx() {
    for (cert, key) in [
        ("client-p521.pem", "client-p521.key"),
        ("client-p521.pem", "client-p521.sec1.key"),
        ("client-ed448.pem", "client-ed448.key"),
    ] {
        let b = with_key(cert, key, None).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(b.leaf, cert_der(cert), "{key}");
        assert!(b.key.is_some(), "{key}");
    }
    // PKCS#8 and SEC1 forms of the P-521 key are stored alike (PKCS#8 with the public key).
    assert_eq!(
        pkcs8_of(&with_key("client-p521.pem", "client-p521.key", None).unwrap()),
        pkcs8_of(&with_key("client-p521.pem", "client-p521.sec1.key", None).unwrap())
    );
    for (pfx, cert) in [
        ("client-p521.pfx", "client-p521.pem"),
        ("client-ed448.pfx", "client-ed448.pem"),
    ] {
        let bytes = fixture(pfx);
        let b = parse(pfx, &bytes, Some("fixture-pass")).unwrap_or_else(|e| panic!("{pfx}: {e}"));
        assert_eq!(b.leaf, cert_der(cert), "{pfx}");
        assert!(b.key.is_some(), "{pfx}");
    }
}

#[test]
fn p521_and_ed448_keys_that_belong_elsewhere_are_refused() {
    for (cert, key) in [
        ("client-p521.pem", "other-p521.key"),
        ("client-ed448.pem", "other-ed448.key"),
        ("client-p521.pem", "client-p256.key"),
        ("client-rsa.pem", "client-p521.key"),
        ("client-rsa.pem", "client-ed448.key"),
    ] {
        match with_key(cert, key, None) {
            Err(Error::KeyMismatch { path, .. }) => assert_eq!(path, Path::new(key)),
            other => panic!("{cert} + {key}: expected a key mismatch, got {other:?}"),
        }
    }
}

#[test]
fn p521_and_ed448_are_ineligible_by_key_type_alone() {
    use mailcert_store::{KeyType, StoreName, Subject, cert_facts, evaluate};
    for (cert, kt, name) in [
        (
            "client-p521.pem",
            KeyType::EcOther("1.3.132.0.35".into()),
            "ECDSA P-521",
        ),
        (
            "client-ed448.pem",
            KeyType::Other("1.3.101.113".into()),
            "Ed448",
        ),
    ] {
        let facts = cert_facts(Path::new(cert), &cert_der(cert)).unwrap();
        assert_eq!(facts.key_type, kt, "{cert}");
        let s = Subject {
            facts: &facts,
            store: StoreName::EndEntity,
            has_private_key: true,
        };
        let now = 1_800_000_000; // 2027
        let reasons: Vec<String> = evaluate(&s, now).iter().map(|f| f.message()).collect();
        assert_eq!(
            reasons,
            [format!(
                "key-type: {name} cannot sign a TLS handshake here; required: RSA >= 2048, ECDSA P-256/P-384 or Ed25519"
            )],
            "{cert}"
        );
    }
}

// --- Inputs that crashed a parser (fuzz finds and issue reports), replayed ---------------

/// Every file under fixtures/regressions/DIR, sorted.
fn regressions(dir: &str) -> Vec<(String, Vec<u8>)> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/regressions")
        .join(dir);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&d)
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    out.sort();
    out
}

/// fixtures/regressions/parse_bundle/: each input that once crashed the container parser
/// (the `parse_bundle` fuzz target's finds, and issue #8's file) now gives a typed
/// bad-file error naming the file, with and without a password.
#[test]
fn crash_inputs_of_the_container_parser_are_bad_files() {
    let cases = regressions("parse_bundle");
    assert!(!cases.is_empty(), "the regression inputs are missing");
    for (name, bytes) in &cases {
        for password in [None, Some("fixture-pass")] {
            let r = std::panic::catch_unwind(|| parse(name, bytes, password))
                .unwrap_or_else(|_| panic!("{name}: the parser panicked again"));
            match r {
                Err(Error::BadFile { path, problem }) => {
                    assert_eq!(path, Path::new(name));
                    assert!(!problem.is_empty(), "{name}");
                }
                other => panic!("{name}: expected a bad-file error, got {other:?}"),
            }
        }
    }
}

/// fixtures/regressions/private_key/: each key file that once crashed key parsing (the
/// `private_key` fuzz target's finds), given as --key beside client-rsa.pem, is refused
/// with a typed error naming the key file.
#[test]
fn crash_inputs_of_key_parsing_are_refused_with_a_typed_error() {
    let cert = fixture("client-rsa.pem");
    for (name, bytes) in regressions("private_key") {
        for password in [None, Some("fixture-pass")] {
            let r = std::panic::catch_unwind(|| {
                parse_bundle(
                    Input {
                        path: Path::new("client-rsa.pem"),
                        bytes: &cert,
                    },
                    Some(Input {
                        path: Path::new(&name),
                        bytes: &bytes,
                    }),
                    password,
                )
            })
            .unwrap_or_else(|_| panic!("{name}: key parsing panicked again"));
            let e = r.expect_err(&name);
            assert!(e.to_string().contains(&name), "{name}: {e}");
            assert!(!matches!(e, Error::Internal(_)), "{name}: {e}");
        }
    }
}

/// fixtures/regressions/private_key/scrypt-1-pib.key once aborted the importer (scrypt
/// asked for 1 PiB: "memory allocation failed"), and pbkdf2-4-billion-iterations.key kept
/// it busy for hours: both are refused before any key derivation, saying why.
#[test]
fn encrypted_keys_asking_for_absurd_key_derivation_work_are_refused_up_front() {
    let cert = fixture("client-rsa.pem");
    for (name, words) in [
        ("scrypt-1-pib.key", "scrypt with N=1099511627776, r=8, p=1"),
        (
            "pbkdf2-4-billion-iterations.key",
            "4294967295 PBKDF2 iterations (at most 1000000",
        ),
    ] {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/regressions/private_key")
            .join(name);
        let key = std::fs::read(p).unwrap();
        let started = std::time::Instant::now();
        let r = parse_bundle(
            Input {
                path: Path::new("client-rsa.pem"),
                bytes: &cert,
            },
            Some(Input {
                path: Path::new(name),
                bytes: &key,
            }),
            Some("fixture-pass"),
        );
        match r {
            Err(Error::BadFile { path, problem }) => {
                assert_eq!(path, Path::new(name));
                assert!(problem.contains(words), "{name}: {problem}");
            }
            other => panic!("{name}: expected a bad file, got {other:?}"),
        }
        assert!(
            started.elapsed().as_secs() < 5,
            "{name} took {:?}",
            started.elapsed()
        );
    }
}
