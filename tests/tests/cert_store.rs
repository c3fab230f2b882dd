//! End-to-end tests of `mailcert init` and `mailcert cert ...` against a real SQLite farm,
//! with certificate files made by openssl, keytool and rcgen (fixtures/).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::os::unix::fs::PermissionsExt;

use mailcert_tests::{TestFarm, contains, expected, fixture, sha1_of};
use serde_json::Value;

fn find<'a>(list: &'a [Value], sha1: &str) -> &'a Value {
    list.iter()
        .find(|c| c["thumbprint_sha1"] == sha1)
        .unwrap_or_else(|| panic!("{sha1} not listed in {list:?}"))
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Row counts of every table: "the farm exactly as it was" for failure tests.
fn snapshot(f: &TestFarm) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(f.db()).unwrap();
    let mut out = Vec::new();
    for t in ["certificates", "private_keys", "audit_log"] {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap();
        out.push((t.to_string(), n));
    }
    out
}

#[test]
fn init_creates_private_files_and_is_idempotent() {
    let f = TestFarm::empty();
    let r = f.ok(&["init"]);
    assert!(r.stdout.contains("created farm"), "{r:?}");
    assert_eq!(mode(&f.db()), 0o600);
    assert_eq!(mode(&f.key_file()), 0o600);
    assert_eq!(std::fs::read(f.key_file()).unwrap().len(), 32);
    let key_before = std::fs::read(f.key_file()).unwrap();
    let r = f.ok(&["init"]);
    assert!(
        r.stdout.contains("already exists; nothing changed"),
        "{r:?}"
    );
    assert_eq!(std::fs::read(f.key_file()).unwrap(), key_before);
    let j = f.ok(&["--json", "init"]).json();
    assert_eq!(j["created"], false);
}

#[test]
fn commands_on_a_missing_farm_say_to_init() {
    let f = TestFarm::empty();
    let r = f.run(&["cert", "list"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("mailcert init"), "{r:?}");
}

#[test]
fn init_refuses_when_the_key_file_is_gone() {
    let f = TestFarm::new();
    std::fs::remove_file(f.key_file()).unwrap();
    let r = f.run(&["init"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("master key file is missing"), "{r:?}");
    assert!(
        !f.key_file().exists(),
        "init must not mint a new key for an old farm"
    );
}

/// Every PKCS#12 variant: OpenSSL 3 default, legacy, Windows 3DES, empty password, no MAC,
/// keytool RSA/EC/import; each lands with its key and, where it carries one, its chain.
#[test]
fn imports_every_pkcs12_variant() {
    let cases: &[(&str, &str, bool)] = &[
        ("openssl3-default.pfx", "client-rsa.pem", true),
        ("openssl3-nochain.pfx", "client-rsa.pem", false),
        ("openssl3-p256.pfx", "client-p256.pem", true),
        ("openssl3-ed25519.pfx", "client-ed25519.pem", false),
        ("legacy.pfx", "client-rsa.pem", true),
        ("windows-3des.pfx", "client-rsa.pem", true),
        ("empty-password.pfx", "client-p256.pem", false),
        ("nomac-noenc.pfx", "client-p256.pem", false),
        ("keytool-rsa.p12", "keytool-rsa.pem", false),
        ("keytool-ec.p12", "keytool-ec.pem", false),
        ("keytool-import.p12", "client-rsa.pem", true),
    ];
    for (file, cert, with_chain) in cases {
        let f = TestFarm::new();
        let pw: &[&str] = if file.contains("empty-password") || file.contains("nomac") {
            &[]
        } else {
            &["--password-file", "password.txt"]
        };
        let mut args = vec!["--json", "cert", "import", file];
        args.extend_from_slice(pw);
        let r = f.run(&args);
        assert_eq!(r.code, 0, "{file}: {r:?}");
        let report = &r.json()[0];
        assert_eq!(report["ok"], true);
        let leaf = &report["certificate"];
        assert_eq!(leaf["thumbprint_sha1"], sha1_of(cert), "{file}");
        assert_eq!(leaf["has_private_key"], true, "{file}");
        assert_eq!(leaf["store"], "end-entity", "{file}");
        assert_eq!(leaf["eligible"], true, "{file}: {leaf}");
        let list = f.list(&[]);
        if *with_chain {
            assert_eq!(list.len(), 3, "{file}");
            assert_eq!(
                find(&list, &sha1_of("intermediate-ca.pem"))["store"],
                "intermediate"
            );
            assert_eq!(find(&list, &sha1_of("root-ca.pem"))["store"], "root");
        } else {
            assert_eq!(list.len(), 1, "{file}: {list:?}");
        }
    }
}

#[test]
fn pkcs12_friendly_name_is_kept_and_windows_nul_trimmed() {
    let f = TestFarm::new();
    let j = f
        .ok(&[
            "--json",
            "cert",
            "import",
            "openssl3-default.pfx",
            "--password-file",
            "password.txt",
        ])
        .json();
    assert_eq!(j[0]["certificate"]["friendly_name"], "Client RSA");
    let f = TestFarm::new();
    let j = f
        .ok(&[
            "--json",
            "cert",
            "import",
            "windows-3des.pfx",
            "--password-file",
            "password.txt",
            "--friendly-name",
            "relay cert",
        ])
        .json();
    assert_eq!(j[0]["certificate"]["friendly_name"], "relay cert");
    assert_eq!(
        f.ok(&["--json", "cert", "show", "name:relay cert"]).json()["thumbprint_sha1"],
        sha1_of("client-rsa.pem")
    );
}

#[test]
fn imports_pem_der_and_pkcs7_in_every_key_form() {
    let cases: &[(&[&str], &str, bool)] = &[
        (&["client-rsa.combined.pem"], "client-rsa.pem", true),
        (&["client-rsa.combined-pkcs1.pem"], "client-rsa.pem", true),
        (&["client-rsa.bundle.pem"], "client-rsa.pem", true),
        (
            &["client-rsa.pem", "--key", "client-rsa.key"],
            "client-rsa.pem",
            true,
        ),
        (
            &["client-rsa.pem", "--key", "client-rsa.pkcs1.key"],
            "client-rsa.pem",
            true,
        ),
        (
            &[
                "client-rsa.pem",
                "--key",
                "client-rsa.enc-aes256.key",
                "--password-file",
                "password.txt",
            ],
            "client-rsa.pem",
            true,
        ),
        (
            &["client-p256.pem", "--key", "client-p256.sec1.key"],
            "client-p256.pem",
            true,
        ),
        (
            &[
                "client-p256.pem",
                "--key",
                "client-p256.enc-aes128.key",
                "--password-file",
                "password-nl.txt",
            ],
            "client-p256.pem",
            true,
        ),
        (
            &["client-p384.pem", "--key", "client-p384.key"],
            "client-p384.pem",
            true,
        ),
        (
            &["client-ed25519.pem", "--key", "client-ed25519.key"],
            "client-ed25519.pem",
            true,
        ),
        (&["client-rsa.cer"], "client-rsa.pem", false),
        (&["client-rsa.chain.pem"], "client-rsa.pem", false),
        (&["client-rsa.p7b"], "client-rsa.pem", false),
        (&["client-rsa.p7b.pem"], "client-rsa.pem", false),
    ];
    for (args, cert, key) in cases {
        let f = TestFarm::new();
        let mut a = vec!["--json", "cert", "import"];
        a.extend_from_slice(args);
        let r = f.run(&a);
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        let leaf = &r.json()[0]["certificate"];
        assert_eq!(leaf["thumbprint_sha1"], sha1_of(cert), "{args:?}");
        assert_eq!(leaf["has_private_key"], *key, "{args:?}");
        assert_eq!(leaf["store"], "end-entity");
        if !key {
            assert_eq!(leaf["eligible"], false);
            assert!(
                leaf["reasons"][0]
                    .as_str()
                    .unwrap()
                    .starts_with("private-key"),
                "{leaf}"
            );
        }
    }
}

#[test]
fn a_ca_certificate_alone_goes_to_its_own_store_and_store_flag_wins() {
    let f = TestFarm::new();
    let j = f.ok(&["--json", "cert", "import", "root-ca.cer"]).json();
    assert_eq!(j[0]["certificate"]["store"], "root");
    let j = f
        .ok(&["--json", "cert", "import", "intermediate-ca.pem"])
        .json();
    assert_eq!(j[0]["certificate"]["store"], "intermediate");
    let j = f
        .ok(&[
            "--json",
            "cert",
            "import",
            "client-noeku.pem",
            "--store",
            "pending",
        ])
        .json();
    assert_eq!(j[0]["certificate"]["store"], "pending");
}

#[test]
fn reimport_reports_the_existing_entry_and_adds_a_missing_key() {
    let f = TestFarm::new();
    let j = f.ok(&["--json", "cert", "import", "client-rsa.cer"]).json();
    assert_eq!(j[0]["outcome"], "added");
    assert_eq!(j[0]["certificate"]["has_private_key"], false);
    let j = f.ok(&["--json", "cert", "import", "client-rsa.cer"]).json();
    assert_eq!(j[0]["outcome"], "already-present");
    let j = f
        .ok(&[
            "--json",
            "cert",
            "import",
            "client-rsa.pem",
            "--key",
            "client-rsa.key",
        ])
        .json();
    assert_eq!(j[0]["outcome"], "key-added");
    assert_eq!(j[0]["certificate"]["has_private_key"], true);
    assert_eq!(j[0]["certificate"]["eligible"], true);
    assert_eq!(f.list(&[]).len(), 1);
}

/// Each eligibility rule, pass and fail, on real certificates; reasons match the
/// fixture generator's own record of what each certificate should fail.
#[test]
fn eligibility_rules_on_real_certificates() {
    let f = TestFarm::new();
    let names = [
        "client-rsa",
        "client-p256",
        "client-p384",
        "client-ed25519",
        "client-noeku",
        "client-noku",
        "client-both",
        "server-only",
        "any-eku",
        "ku-no-sig",
        "expired",
        "not-yet-valid",
        "rsa1024",
        "self-signed-client",
    ];
    for n in names {
        f.ok(&[
            "cert",
            "import",
            &format!("{n}.pem"),
            "--key",
            &format!("{n}.key"),
        ]);
    }
    f.ok(&["cert", "import", "dsa.pem"]);
    let exp = expected();
    let list = f.list(&[]);
    for n in names.iter().chain(["dsa"].iter()) {
        let file = format!("{n}.pem");
        let c = find(&list, exp[&file]["sha1"].as_str().unwrap());
        let mut want: Vec<String> = exp[&file]["eligible_rules_failing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().replace('_', "-"))
            .collect();
        if *n == "dsa" {
            want.insert(0, "private-key".into());
        }
        let got: Vec<String> = c["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().split(':').next().unwrap().to_string())
            .collect();
        assert_eq!(got, want, "{n}: {c}");
        assert_eq!(c["eligible"], want.is_empty(), "{n}");
        let check = f.run(&["cert", "check", c["thumbprint_sha1"].as_str().unwrap()]);
        assert_eq!(
            check.code,
            if want.is_empty() { 0 } else { 3 },
            "{n}: {check:?}"
        );
    }
    let server_only = find(&list, &sha1_of("server-only.pem"));
    assert!(
        server_only["reasons"][0]
            .as_str()
            .unwrap()
            .contains("Server Authentication")
    );
    let any = find(&list, &sha1_of("any-eku.pem"));
    assert!(any["reasons"][0].as_str().unwrap().contains("Any Purpose"));
    assert_eq!(
        find(&list, &sha1_of("client-noeku.pem"))["eku"],
        Value::Null
    );
    let expired = find(&list, &sha1_of("expired.pem"));
    assert!(
        expired["reasons"][0]
            .as_str()
            .unwrap()
            .contains("expired on 2021-01-01")
    );
    let rsa1024 = find(&list, &sha1_of("rsa1024.pem"));
    assert_eq!(rsa1024["key_type"], "RSA-1024");
    // The store rule: moving an eligible certificate out of End Entity makes it ineligible.
    let sha = sha1_of("client-p256.pem");
    f.ok(&["cert", "move", &sha, "--to", "pending"]);
    let c = f.ok(&["--json", "cert", "show", &sha]).json();
    assert_eq!(c["eligible"], false);
    assert!(
        c["reasons"][0].as_str().unwrap().starts_with("store"),
        "{c}"
    );
}

#[test]
fn list_filters() {
    let f = TestFarm::new();
    for n in ["client-rsa", "expired", "not-yet-valid", "server-only"] {
        f.ok(&[
            "cert",
            "import",
            &format!("{n}.pem"),
            "--key",
            &format!("{n}.key"),
        ]);
    }
    f.ok(&["cert", "import", "root-ca.cer"]);
    let sha = |l: Vec<Value>| -> Vec<String> {
        let mut v: Vec<String> = l
            .iter()
            .map(|c| c["thumbprint_sha1"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        sha(f.list(&["--eligible"])),
        vec![sha1_of("client-rsa.pem")]
    );
    assert_eq!(sha(f.list(&["--expired"])), vec![sha1_of("expired.pem")]);
    assert_eq!(
        sha(f.list(&["--store", "root"])),
        vec![sha1_of("root-ca.pem")]
    );
    assert_eq!(f.list(&["--store", "end-entity"]).len(), 4);
    // 2045 is within 30 years but not within 30 days.
    assert!(f.list(&["--expiring-within", "30"]).is_empty());
    let within = sha(f.list(&["--expiring-within", "11000"]));
    assert!(within.contains(&sha1_of("client-rsa.pem")));
    assert!(!within.contains(&sha1_of("expired.pem")));
    let table = f.ok(&["cert", "list"]).stdout;
    assert!(
        table.contains("THUMBPRINT") && table.contains("no (validity)"),
        "{table}"
    );
}

#[test]
fn json_carries_the_contract_fields() {
    let f = TestFarm::new();
    f.ok(&[
        "cert",
        "import",
        "openssl3-default.pfx",
        "--password-file",
        "password.txt",
    ]);
    let c = f
        .ok(&["--json", "cert", "show", &sha1_of("client-rsa.pem")])
        .json();
    for k in [
        "thumbprint_sha1",
        "thumbprint_sha256",
        "subject",
        "issuer",
        "serial",
        "not_before",
        "not_after",
        "store",
        "friendly_name",
        "has_private_key",
        "key_type",
        "eku",
        "eligible",
        "reasons",
        "bound_to",
    ] {
        assert!(c.get(k).is_some(), "missing {k} in {c}");
    }
    assert_eq!(
        c["thumbprint_sha256"],
        expected()["client-rsa.pem"]["sha256"]
    );
    assert_eq!(c["not_after"], "2045-01-01T00:00:00Z");
    assert_eq!(c["eku"], serde_json::json!(["1.3.6.1.5.5.7.3.2"]));
    assert_eq!(c["key_type"], "RSA-2048");
    assert!(c["bound_to"].as_array().unwrap().is_empty());
    assert_eq!(c["chain"].as_array().unwrap().len(), 2);
}

#[test]
fn references_by_prefix_sha256_name_and_ambiguity() {
    let f = TestFarm::new();
    f.ok(&[
        "cert",
        "import",
        "client-rsa.pem",
        "--key",
        "client-rsa.key",
        "--friendly-name",
        "twin",
    ]);
    f.ok(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
        "--friendly-name",
        "twin",
    ]);
    let sha1 = sha1_of("client-rsa.pem");
    let sha256 = expected()["client-rsa.pem"]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    for r in [
        sha1.clone(),
        sha1.to_lowercase(),
        sha1[..8].to_string(),
        sha256,
    ] {
        let c = f.ok(&["--json", "cert", "show", &r]).json();
        assert_eq!(c["thumbprint_sha1"], sha1, "{r}");
    }
    let r = f.run(&["cert", "show", "name:twin"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("matches 2 certificates"), "{r:?}");
    assert!(r.stderr.contains(&sha1), "{r:?}");
    assert_eq!(f.run(&["cert", "show", "name:nobody"]).code, 4);
    assert_eq!(f.run(&["cert", "show", "abc"]).code, 2);
}

#[test]
fn a_key_that_does_not_match_is_refused_and_nothing_written() {
    let f = TestFarm::new();
    let before = snapshot(&f);
    for (cert, key) in [
        ("client-rsa.pem", "other-rsa.key"),
        ("client-p256.pem", "other-p256.key"),
        ("client-rsa.pem", "client-p256.key"),
    ] {
        let r = f.run(&["cert", "import", cert, "--key", key]);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stderr.contains(key) && r.stderr.contains("does not match"),
            "{r:?}"
        );
    }
    assert_eq!(snapshot(&f), before);
}

/// Every kind of bad input exits 1, names the file and its problem, and leaves the farm
/// exactly as it was.
#[test]
fn bad_input_is_reported_and_changes_nothing() {
    let f = TestFarm::new();
    f.ok(&[
        "cert",
        "import",
        "client-noeku.pem",
        "--key",
        "client-noeku.key",
    ]);
    let before = snapshot(&f);
    let d = tempfile::tempdir().unwrap();
    let pfx = std::fs::read(fixture("openssl3-default.pfx")).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = d.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    };
    let truncated = write("truncated.pfx", &pfx[..pfx.len() / 2]);
    let random: Vec<u8> = (0..2048u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let random = write("random.bin", &random);
    let garbage = write(
        "garbage.pem",
        b"-----BEGIN CERTIFICATE-----\nThis is not base64 at all!!\n-----END CERTIFICATE-----\n",
    );
    let empty = write("empty.pem", b"");
    let text = write("notes.txt", b"hello, this is not a certificate\n");
    let cut_pem = {
        let s = std::fs::read_to_string(fixture("client-rsa.pem")).unwrap();
        write("cut.pem", &s.as_bytes()[..s.len() - 40])
    };
    let dir = d.path().join("adir");
    std::fs::create_dir(&dir).unwrap();
    let dir = dir.to_str().unwrap().to_string();
    let wrong = write("wrong.txt", b"not-the-password\n");
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec![&truncated, "--password-file", "password.txt"],
            "truncated.pfx",
            "",
        ),
        (vec![&random], "random.bin", "not a certificate file"),
        (vec![&garbage], "garbage.pem", "base64"),
        (vec![&empty], "empty.pem", "empty"),
        (vec![&text], "notes.txt", "not a certificate file"),
        (vec![&cut_pem], "cut.pem", "no END line"),
        (
            vec!["client-rsa.key"],
            "client-rsa.key",
            "private key but no certificate",
        ),
        (vec![&dir], "adir", "directory"),
        (
            vec!["openssl3-default.pfx", "--password-file", &wrong],
            "openssl3-default.pfx",
            "wrong password",
        ),
        (
            vec![
                "client-rsa.pem",
                "--key",
                "client-rsa.enc-aes256.key",
                "--password-file",
                &wrong,
            ],
            "client-rsa.enc-aes256.key",
            "wrong password",
        ),
        (
            vec![
                "client-rsa.pem",
                "--key",
                "client-rsa.legacy-enc.key",
                "--password-file",
                &wrong,
            ],
            "client-rsa.legacy-enc.key",
            "wrong password",
        ),
        (
            vec!["openssl3-default.pfx"],
            "openssl3-default.pfx",
            "password",
        ),
        (vec!["no-such-file.pem"], "no-such-file.pem", "No such file"),
    ];
    for (args, name, words) in cases {
        let mut a = vec!["cert", "import"];
        a.extend(args.iter().copied());
        let r = f.run(&a);
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains(name),
            "{args:?} should name {name}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains(words),
            "{args:?} should say {words:?}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert_eq!(snapshot(&f), before, "{args:?} changed the farm");
    }
}

#[test]
fn one_bad_file_among_many_does_not_stop_the_good_ones() {
    let f = TestFarm::new();
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("bad.pem");
    std::fs::write(&bad, b"junk").unwrap();
    let r = f.run(&[
        "cert",
        "import",
        "client-rsa.cer",
        bad.to_str().unwrap(),
        "root-ca.cer",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("bad.pem"), "{r:?}");
    assert!(r.stderr.contains("1 of 3 files failed"), "{r:?}");
    assert_eq!(f.list(&[]).len(), 2);
}

#[test]
fn password_from_stdin_and_environment() {
    let f = TestFarm::new();
    let r = f.run_stdin(
        &["cert", "import", "legacy.pfx", "--password-file", "-"],
        b"fixture-pass\n",
    );
    assert_eq!(r.code, 0, "{r:?}");
    let f = TestFarm::new();
    let r = f
        .command(&[
            "cert",
            "import",
            "windows-3des.pfx",
            "--password-env",
            "PFX_PASS",
        ])
        .env("PFX_PASS", "fixture-pass")
        .output()
        .unwrap();
    assert!(r.status.success(), "{r:?}");
    let r = f.run(&[
        "cert",
        "import",
        "windows-3des.pfx",
        "--password-env",
        "UNSET_VAR_X",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("UNSET_VAR_X"), "{r:?}");
}

/// Private keys never reach the database file in clear.
#[test]
fn the_database_never_holds_a_private_key_in_clear() {
    let f = TestFarm::new();
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for (cert, key, scalar_len) in [
        ("client-p256.pem", "client-p256.key", 32usize),
        ("client-p384.pem", "client-p384.key", 48),
        ("client-rsa.pem", "client-rsa.key", 0),
    ] {
        f.ok(&["cert", "import", cert, "--key", key]);
        let pem = std::fs::read(fixture(key)).unwrap();
        let (_, der) = der::pem::decode_vec(&pem).unwrap();
        if scalar_len > 0 {
            // The EC private scalar follows INTEGER 1, OCTET STRING(len).
            let marker = [0x02, 0x01, 0x01, 0x04, scalar_len as u8];
            let at = der.windows(5).position(|w| w == marker).unwrap() + 5;
            secrets.push(der[at..at + scalar_len].to_vec());
        }
        secrets.push(der.clone());
        // Any 32-byte window from the RSA key's private part (past the modulus).
        if scalar_len == 0 {
            let tail = &der[der.len() - 400..];
            secrets.extend(tail.chunks(32).map(<[u8]>::to_vec));
        }
        let b64: Vec<u8> = pem.split(|b| *b == b'\n').nth(5).unwrap().to_vec();
        secrets.push(b64);
    }
    f.ok(&[
        "cert",
        "import",
        "openssl3-ed25519.pfx",
        "--password-file",
        "password.txt",
    ]);
    let bytes = f.database_bytes();
    assert!(bytes.len() > 10_000);
    for s in &secrets {
        assert!(
            !contains(&bytes, s),
            "a private key fragment is in the database in clear"
        );
    }
    // But the keys are there, sealed: they export back intact.
    let out = tempfile::tempdir().unwrap();
    let f2 = TestFarm::new();
    f2.ok(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
        "--exportable",
    ]);
    let p = out.path().join("k.pem");
    f2.ok(&[
        "cert",
        "export",
        &sha1_of("client-p256.pem"),
        "--format",
        "pem",
        "--out",
        p.to_str().unwrap(),
    ]);
    let exported = std::fs::read(&p).unwrap();
    assert!(contains(&exported, b"-----BEGIN PRIVATE KEY-----"));
    assert_eq!(mode(&p), 0o600);
    let certs_only = out.path().join("c.pem");
    f2.ok(&[
        "cert",
        "export",
        &sha1_of("client-p256.pem"),
        "--format",
        "pem",
        "--no-key",
        "--out",
        certs_only.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&certs_only).unwrap();
    assert!(
        text.contains("BEGIN CERTIFICATE") && !text.contains("PRIVATE KEY"),
        "{text}"
    );
    let f3 = TestFarm::new();
    let r = f3
        .ok(&["--json", "cert", "import", p.to_str().unwrap()])
        .json();
    assert_eq!(r[0]["certificate"]["has_private_key"], true);
}

#[test]
fn a_wrong_or_missing_master_key_is_a_clear_error() {
    let f = TestFarm::new();
    f.ok(&[
        "cert",
        "import",
        "client-rsa.pem",
        "--key",
        "client-rsa.key",
        "--exportable",
    ]);
    let good = std::fs::read(f.key_file()).unwrap();
    std::fs::write(f.key_file(), [0x55u8; 32]).unwrap();
    let out = f.dir.path().join("x.pfx");
    let r = f.run(&[
        "cert",
        "export",
        &sha1_of("client-rsa.pem"),
        "--format",
        "pfx",
        "--out",
        out.to_str().unwrap(),
        "--password-file",
        "password.txt",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("not the master key of this farm"),
        "{r:?}"
    );
    assert!(!out.exists());
    let r = f.run(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
    ]);
    assert_eq!(r.code, 1);
    assert_eq!(f.list(&[]).len(), 1, "nothing written with a wrong key");
    std::fs::remove_file(f.key_file()).unwrap();
    let r = f.run(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("missing"), "{r:?}");
    // Listing needs no key.
    assert_eq!(f.list(&[]).len(), 1);
    std::fs::write(f.key_file(), &good).unwrap();
    std::fs::set_permissions(f.key_file(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = f.run(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("readable by others"), "{r:?}");
    std::fs::set_permissions(f.key_file(), std::fs::Permissions::from_mode(0o600)).unwrap();
    f.ok(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
    ]);
}

#[test]
fn export_formats_and_the_exportable_rule() {
    let f = TestFarm::new();
    f.ok(&[
        "cert",
        "import",
        "openssl3-default.pfx",
        "--password-file",
        "password.txt",
        "--exportable",
    ]);
    f.ok(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
    ]);
    let d = tempfile::tempdir().unwrap();
    let out = |n: &str| d.path().join(n).to_str().unwrap().to_string();
    let rsa = sha1_of("client-rsa.pem");
    let p256 = sha1_of("client-p256.pem");
    // PFX with chain, AES and 3DES: re-importable into a fresh farm with the chain.
    for enc in ["aes256", "3des"] {
        let file = out(&format!("{enc}.pfx"));
        f.ok(&[
            "cert",
            "export",
            &rsa,
            "--format",
            "pfx",
            "--include-chain",
            "--pfx-encryption",
            enc,
            "--out",
            &file,
            "--password-file",
            "password.txt",
        ]);
        assert_eq!(mode(std::path::Path::new(&file)), 0o600);
        let g = TestFarm::new();
        let j = g
            .ok(&[
                "--json",
                "cert",
                "import",
                &file,
                "--password-file",
                "password.txt",
            ])
            .json();
        assert_eq!(j[0]["certificate"]["thumbprint_sha1"], rsa);
        assert_eq!(j[0]["certificate"]["has_private_key"], true);
        assert_eq!(j[0]["chain"].as_array().unwrap().len(), 2, "{enc}");
        if std::process::Command::new("openssl")
            .arg("version")
            .output()
            .is_ok()
        {
            let mut cmd = std::process::Command::new("openssl");
            cmd.args([
                "pkcs12",
                "-in",
                &file,
                "-passin",
                "pass:fixture-pass",
                "-nokeys",
            ]);
            if enc == "3des" {
                cmd.arg("-legacy");
            }
            let o = cmd.output().unwrap();
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(
                o.status.success(),
                "openssl cannot read our {enc} PFX: {o:?}"
            );
            assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 3, "{text}");
        }
    }
    // Not exportable: PFX refused (exit 3), PEM carries only the certificate.
    let r = f.run(&[
        "cert",
        "export",
        &p256,
        "--format",
        "pfx",
        "--out",
        &out("no.pfx"),
        "--password-file",
        "password.txt",
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("not imported as exportable"), "{r:?}");
    assert!(!std::path::Path::new(&out("no.pfx")).exists());
    f.ok(&[
        "cert",
        "export",
        &p256,
        "--format",
        "pem",
        "--include-chain",
        "--out",
        &out("p.pem"),
    ]);
    let pem = std::fs::read_to_string(out("p.pem")).unwrap();
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 3);
    assert!(!pem.contains("PRIVATE KEY"));
    // DER is the leaf alone; P7B carries the chain and no key.
    f.ok(&[
        "cert",
        "export",
        &rsa,
        "--format",
        "der",
        "--out",
        &out("c.der"),
    ]);
    assert_eq!(
        std::fs::read(out("c.der")).unwrap(),
        std::fs::read(fixture("client-rsa.cer")).unwrap()
    );
    f.ok(&[
        "cert",
        "export",
        &rsa,
        "--format",
        "p7b",
        "--include-chain",
        "--out",
        &out("c.p7b"),
    ]);
    let g = TestFarm::new();
    let j = g.ok(&["--json", "cert", "import", &out("c.p7b")]).json();
    assert_eq!(j[0]["certificate"]["thumbprint_sha1"], rsa);
    assert_eq!(j[0]["certificate"]["has_private_key"], false);
    assert_eq!(j[0]["chain"].as_array().unwrap().len(), 2);
}

#[test]
fn remove_move_rename_and_the_audit_trail() {
    let f = TestFarm::new();
    f.ok(&[
        "cert",
        "import",
        "client-rsa.pem",
        "--key",
        "client-rsa.key",
    ]);
    let sha = sha1_of("client-rsa.pem");
    f.ok(&["cert", "rename", &sha, "relay-2026"]);
    assert_eq!(
        f.ok(&["--json", "cert", "show", "name:relay-2026"]).json()["thumbprint_sha1"],
        sha
    );
    f.ok(&["cert", "move", "name:relay-2026", "--to", "intermediate"]);
    assert_eq!(f.list(&["--store", "intermediate"]).len(), 1);
    f.ok(&["cert", "remove", "name:relay-2026"]);
    assert!(f.list(&[]).is_empty());
    assert_eq!(f.run(&["cert", "remove", &sha]).code, 4);
    let conn = rusqlite::Connection::open(f.db()).unwrap();
    let actions: Vec<String> = conn
        .prepare("SELECT action FROM audit_log ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // `init` records the farm's creation (and the server that made it) first.
    assert_eq!(actions, ["init", "import", "rename", "move", "remove"]);
    let keys: i64 = conn
        .query_row("SELECT count(*) FROM private_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(keys, 0, "the key goes with its certificate");
}

/// Several processes importing into one farm at once: nothing lost, nothing doubled.
#[test]
fn concurrent_imports_from_several_processes() {
    let f = TestFarm::new();
    let jobs: Vec<Vec<&str>> = vec![
        vec![
            "cert",
            "import",
            "openssl3-default.pfx",
            "--password-file",
            "password.txt",
        ],
        vec![
            "cert",
            "import",
            "openssl3-p256.pfx",
            "--password-file",
            "password.txt",
        ],
        vec![
            "cert",
            "import",
            "client-p384.pem",
            "--key",
            "client-p384.key",
        ],
        vec![
            "cert",
            "import",
            "client-ed25519.pem",
            "--key",
            "client-ed25519.key",
        ],
        vec![
            "cert",
            "import",
            "client-noeku.pem",
            "--key",
            "client-noeku.key",
        ],
        vec![
            "cert",
            "import",
            "client-noku.pem",
            "--key",
            "client-noku.key",
        ],
        vec![
            "cert",
            "import",
            "client-both.pem",
            "--key",
            "client-both.key",
        ],
        vec![
            "cert",
            "import",
            "legacy.pfx",
            "--password-file",
            "password.txt",
        ],
        vec![
            "cert",
            "import",
            "keytool-ec.p12",
            "--password-file",
            "password.txt",
        ],
        vec!["cert", "import", "client-rsa.bundle.pem"],
    ];
    let children: Vec<_> = jobs
        .iter()
        .map(|a| {
            f.command(a)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{o:?}");
    }
    let list = f.list(&[]);
    // client-rsa, p256, p384, ed25519, noeku, noku, both, keytool-ec, intermediate, root.
    assert_eq!(list.len(), 10, "{list:?}");
    for n in [
        "client-rsa.pem",
        "client-p256.pem",
        "client-p384.pem",
        "client-ed25519.pem",
        "keytool-ec.pem",
    ] {
        assert_eq!(find(&list, &sha1_of(n))["has_private_key"], true, "{n}");
    }
}
