//! The certificate lifecycle end to end (issue #10): requests signed by a test CA with
//! `openssl`, pairing at import, renewal that moves the bindings, the health rules at the
//! right `MAILCERT_NOW`, notifications at most once a day, and no private key in clear in
//! the farm's files at any point.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mailcert_tests::{TestFarm, contains, fixture, relay};
use mailcert_testsmtp::TestServer;
use serde_json::Value;

const APP: &str = "https://intranet.contoso.com";

fn openssl(args: &[&str]) -> String {
    let o = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("openssl must be installed for these tests: {e}"));
    assert!(
        o.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Signs `csr` with the test intermediate CA (whose root the test relays trust), copying
/// the requested extensions, for `days` days; returns the certificate's path.
fn sign(dir: &Path, csr: &Path, name: &str, days: u32) -> PathBuf {
    let out = dir.join(format!("{name}.pem"));
    let days = days.to_string();
    openssl(&[
        "x509",
        "-req",
        "-in",
        path_str(csr),
        "-CA",
        path_str(&fixture("intermediate-ca.pem")),
        "-CAkey",
        path_str(&fixture("intermediate-ca.key")),
        "-CAcreateserial",
        "-CAserial",
        path_str(&dir.join("ca.srl")),
        "-days",
        &days,
        "-copy_extensions",
        "copy",
        "-out",
        path_str(&out),
    ]);
    out
}

/// Makes a request (`cert request new … --out FILE --json`) and returns its JSON and the
/// CSR file.
fn request(f: &TestFarm, name: &str, extra: &[&str]) -> (Value, PathBuf) {
    let csr = f.dir.path().join(format!("{name}.csr"));
    let mut args = vec!["--json", "cert", "request", "new", "--out", path_str(&csr)];
    args.extend_from_slice(extra);
    let v = f.ok(&args).json();
    (v, csr)
}

/// Every file in the farm's directory, concatenated.
fn all_farm_bytes(f: &TestFarm) -> Vec<u8> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(f.dir.path()).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            all.extend(std::fs::read(&p).unwrap());
        }
    }
    all
}

/// The PKCS#8 DER of the first PRIVATE KEY block of a PEM text.
fn key_der(pem: &str) -> Vec<u8> {
    let (label, der) = der::pem::decode_vec(
        pem[pem.find("-----BEGIN PRIVATE KEY-----").unwrap()..]
            .split_inclusive("-----END PRIVATE KEY-----\n")
            .next()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(label, "PRIVATE KEY");
    der
}

/// The private number of a key file as OpenSSL prints it: RSA's privateExponent or the
/// EC `priv` scalar, as big-endian bytes without leading zeros.
fn private_component(key_file: &Path) -> Vec<u8> {
    let text = openssl(&["pkey", "-in", path_str(key_file), "-noout", "-text"]);
    let mut lines = text.lines();
    lines
        .by_ref()
        .find(|l| l.starts_with("privateExponent:") || l.starts_with("priv:"))
        .unwrap_or_else(|| panic!("no private component in {text}"));
    let hex: String = lines
        .take_while(|l| l.starts_with(' '))
        .flat_map(|l| l.trim().split(':'))
        .filter(|h| !h.is_empty())
        .collect();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(0);
    bytes[first..].to_vec()
}

#[test]
fn rsa_and_ecc_requests_verify_sign_import_and_never_leave_the_key_in_clear() {
    for (name, extra, key_type) in [
        ("rsa2048", &["--key-algorithm", "rsa"][..], "RSA 2048"),
        (
            "rsa3072",
            &[
                "--key-algorithm",
                "rsa",
                "--key-size",
                "3072",
                "--hash",
                "sha384",
            ][..],
            "RSA 3072",
        ),
        ("p256", &["--key-algorithm", "ecc"][..], "ECDSA P-256"),
        (
            "p384",
            &["--key-algorithm", "ecc", "--elliptic-curve", "p384"][..],
            "ECDSA P-384",
        ),
    ] {
        let f = TestFarm::new();
        let cn = format!("{name}.client.contoso.com");
        let mut args = vec![
            "--common-name",
            &cn,
            "--alternative-name",
            "mx.contoso.com",
            "--alternative-name",
            "192.0.2.7",
            "--organization",
            "Contoso",
            "--country",
            "nl",
            "--friendly-name",
            name,
            "--exportable",
        ];
        args.extend_from_slice(extra);
        let (req, csr) = request(&f, name, &args);
        assert_eq!(req["key_type"], key_type, "{req}");
        let at_request = all_farm_bytes(&f);

        // OpenSSL accepts the request's self-signature and reads what was asked for.
        let text = openssl(&["req", "-in", path_str(&csr), "-noout", "-verify", "-text"]);
        assert!(
            text.contains("self-signature verify OK") || text.contains("verify OK"),
            "{text}"
        );
        assert!(
            text.contains(&format!("CN = {cn}")) || text.contains(&format!("CN={cn}")),
            "{text}"
        );
        assert!(
            text.contains("O = Contoso") || text.contains("O=Contoso"),
            "{text}"
        );
        assert!(text.contains("DNS:mx.contoso.com"), "{text}");
        assert!(text.contains("IP Address:192.0.2.7"), "{text}");
        assert!(text.contains("TLS Web Client Authentication"), "{text}");

        // The pending request is listed with its key id and names.
        let list = f.ok(&["--json", "cert", "request", "list"]).json();
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["key_id"], req["key_id"]);
        assert_eq!(list[0]["common_name"], cn.as_str());
        let shown = f
            .ok(&[
                "--json",
                "cert",
                "request",
                "show",
                req["key_id"].as_str().unwrap(),
            ])
            .json();
        assert_eq!(
            shown["csr_pem"].as_str().unwrap(),
            std::fs::read_to_string(&csr).unwrap()
        );
        // Without --json: the CSR alone on stdout, the details on stderr.
        let plain = f.ok(&[
            "cert",
            "request",
            "show",
            &req["key_id"].as_str().unwrap()[..10],
        ]);
        assert_eq!(plain.stdout, std::fs::read_to_string(&csr).unwrap());
        assert!(plain.stderr.contains("Subject:"), "{plain:?}");

        // Signed by the CA and imported: paired with the sealed key, End Entity, eligible.
        let cert = sign(f.dir.path(), &csr, name, 365);
        let imported = f.ok(&["--json", "cert", "import", path_str(&cert)]).json();
        assert_eq!(imported[0]["request"], req["key_id"], "{imported}");
        let c = &imported[0]["certificate"];
        assert_eq!(c["store"], "end-entity", "{c}");
        assert_eq!(c["has_private_key"], true, "{c}");
        assert_eq!(c["eligible"], true, "{c}");
        assert_eq!(c["friendly_name"], name, "{c}");
        assert_eq!(c["exportable"], true, "{c}");
        let consumed = f.ok(&["--json", "cert", "request", "list"]).json();
        assert_eq!(consumed, serde_json::json!([]), "the request is consumed");
        let after_import = all_farm_bytes(&f);

        // The key (known only now, through the export the request allowed) was in clear
        // in no file of the farm, at request time or after the import.
        let pem_out = f.dir.path().join(format!("{name}-export.pem"));
        f.ok(&[
            "cert",
            "export",
            &format!("name:{name}"),
            "--format",
            "pem",
            "--out",
            path_str(&pem_out),
        ]);
        let exported = std::fs::read_to_string(&pem_out).unwrap();
        let der = key_der(&exported);
        let key_file = f.dir.path().join(format!("{name}.key"));
        std::fs::write(&key_file, &exported).unwrap();
        let secret = private_component(&key_file);
        assert!(secret.len() >= 32, "{name}: {secret:?}");
        let body_line = exported
            .lines()
            .skip_while(|l| !l.contains("BEGIN PRIVATE KEY"))
            .nth(2)
            .unwrap()
            .to_string();
        for (when, bytes) in [("request", &at_request), ("import", &after_import)] {
            assert!(
                !contains(bytes, &der),
                "{name}: key DER in clear after {when}"
            );
            assert!(
                !contains(bytes, body_line.as_bytes()),
                "{name}: key PEM in clear after {when}"
            );
            // The secret number itself (RSA's private exponent, the EC scalar), in
            // case it was kept in another encoding.
            assert!(
                !contains(bytes, &secret[..24]),
                "{name}: the private component in clear after {when}"
            );
        }
        // The exported key belongs to the certificate (OpenSSL agrees).
        let pubkey_cert = openssl(&["x509", "-in", path_str(&cert), "-noout", "-pubkey"]);
        let pubkey_key = openssl(&["pkey", "-in", path_str(&key_file), "-pubout"]);
        assert_eq!(pubkey_cert, pubkey_key, "{name}");
    }
}

#[test]
fn a_signed_certificate_arriving_as_p7b_with_its_chain_is_paired() {
    let f = TestFarm::new();
    let (req, csr) = request(
        &f,
        "p7b",
        &["--common-name", "p7b-client", "--key-algorithm", "ecc"],
    );
    let cert = sign(f.dir.path(), &csr, "p7b", 90);
    let p7b = f.dir.path().join("signed.p7b");
    openssl(&[
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        path_str(&cert),
        "-certfile",
        path_str(&fixture("intermediate-ca.pem")),
        "-certfile",
        path_str(&fixture("root-ca.pem")),
        "-outform",
        "DER",
        "-out",
        path_str(&p7b),
    ]);
    let r = f.ok(&["cert", "import", path_str(&p7b)]);
    assert!(r.stdout.contains("paired with pending request"), "{r:?}");
    assert!(r.stdout.contains(req["key_id"].as_str().unwrap()), "{r:?}");
    let eligible = f.list(&["--eligible"]);
    assert_eq!(eligible.len(), 1, "{eligible:?}");
    assert_eq!(eligible[0]["subject"], "CN=p7b-client");
    assert_eq!(f.list(&["--store", "intermediate"]).len(), 1);
    assert_eq!(f.list(&["--store", "root"]).len(), 1);
}

#[test]
fn a_certificate_for_no_request_imports_as_before_and_bad_requests_are_refused() {
    let f = TestFarm::new();
    request(&f, "other", &["--common-name", "other"]);
    let r = f.ok(&["--json", "cert", "import", "client-p256.pem"]);
    let v = r.json();
    assert_eq!(v[0]["request"], Value::Null);
    assert_eq!(v[0]["certificate"]["has_private_key"], false);
    assert_eq!(
        f.ok(&["--json", "cert", "request", "list"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1,
        "the unrelated request stays"
    );
    // Refusals name the problem and change nothing.
    for (args, needle) in [
        (
            vec![
                "cert",
                "request",
                "new",
                "--common-name",
                "x",
                "--key-algorithm",
                "ecc",
                "--hash",
                "sha512",
            ],
            "not available",
        ),
        (
            vec![
                "cert",
                "request",
                "new",
                "--common-name",
                "x",
                "--key-size",
                "1024",
            ],
            "1024",
        ),
        (
            vec![
                "cert",
                "request",
                "new",
                "--common-name",
                "x",
                "--country",
                "Netherlands",
            ],
            "two-letter",
        ),
        (
            vec![
                "cert",
                "request",
                "new",
                "--common-name",
                "x",
                "--alternative-name",
                "bad name",
            ],
            "bad name",
        ),
    ] {
        let r = f.run(&args);
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
        assert!(r.stderr.contains(needle), "{args:?}: {r:?}");
    }
    assert_eq!(
        f.ok(&["--json", "cert", "request", "list"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // An existing CSR file is not replaced without --force, and no request is made.
    let taken = f.dir.path().join("taken.csr");
    std::fs::write(&taken, "keep").unwrap();
    let r = f.run(&[
        "cert",
        "request",
        "new",
        "--common-name",
        "y",
        "--out",
        path_str(&taken),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("--force replaces it"), "{r:?}");
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "keep");
    assert_eq!(
        f.ok(&["--json", "cert", "request", "list"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Remove by a prefix; an unknown one is "not found".
    let key_id = f.ok(&["--json", "cert", "request", "list"]).json()[0]["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(f.run(&["cert", "request", "remove", "0000000000"]).code, 4);
    f.ok(&["cert", "request", "remove", &key_id[..10]]);
    assert_eq!(
        f.ok(&["--json", "cert", "request", "list"]).json(),
        serde_json::json!([])
    );
    let audit = f.ok(&["audit"]).stdout;
    assert!(audit.contains("request-remove"), "{audit}");
}

/// A farm whose web application and farm settings send to `server` with a certificate
/// that came from a request signed for `days` days; returns the farm and the SHA-1.
fn farm_with_requested_cert(server: &TestServer, days: u32) -> (TestFarm, String) {
    let f = TestFarm::new();
    f.ok(&["cert", "import", "root-ca.pem"]);
    f.ok(&["cert", "import", "intermediate-ca.pem"]);
    let (_, csr) = request(
        &f,
        "bound",
        &[
            "--common-name",
            "relay-client.contoso.com",
            "--friendly-name",
            "relay",
        ],
    );
    let cert = sign(f.dir.path(), &csr, "bound", days);
    let v = f.ok(&["--json", "cert", "import", path_str(&cert)]).json();
    let sha1 = v[0]["certificate"]["thumbprint_sha1"]
        .as_str()
        .unwrap()
        .to_string();
    f.ok(&["webapp", "add", APP]);
    let port = server.port().to_string();
    for target in [vec!["--farm"], vec!["--webapp", APP]] {
        let mut args = vec!["smtp", "set"];
        args.extend_from_slice(&target);
        args.extend_from_slice(&[
            "--smtp-server",
            "localhost",
            "--port",
            &port,
            "--from",
            "sharepoint@contoso.com",
            "--certificate",
            &sha1,
        ]);
        f.ok(&args);
    }
    (f, sha1)
}

fn bound_sha1(f: &TestFarm, target: &[&str]) -> String {
    let mut args = vec!["--json", "smtp", "show"];
    args.extend_from_slice(target);
    let v = f.ok(&args).json();
    v["certificate"]["thumbprint_sha1"]
        .as_str()
        .or_else(|| v["settings"]["certificate"].as_str())
        .unwrap_or_else(|| panic!("no certificate in {v}"))
        .to_string()
}

#[test]
fn renewal_moves_every_binding_and_keeps_the_old_certificate() {
    let server = relay::start(relay::relay_config(false));
    let (f, old) = farm_with_requested_cert(&server, 30);
    assert_eq!(bound_sha1(&f, &["--webapp", APP]), old);

    let csr = f.dir.path().join("renew.csr");
    let r = f.ok(&[
        "--json",
        "cert",
        "renew",
        "name:relay",
        "--out",
        path_str(&csr),
    ]);
    let req = r.json();
    assert_eq!(req["renews"], old.as_str(), "{req}");
    let text = openssl(&["req", "-in", path_str(&csr), "-noout", "-verify", "-text"]);
    assert!(text.contains("relay-client.contoso.com"), "{text}");
    assert!(text.contains("DNS:relay-client.contoso.com"), "{text}");
    // The old certificate shows the pending renewal, and a second renewal is refused.
    let listed: Vec<Value> = f.list(&[]);
    let old_row = listed
        .iter()
        .find(|c| c["thumbprint_sha1"] == old.as_str())
        .unwrap();
    assert_eq!(old_row["renewal_pending"], req["key_id"]);
    assert!(f.ok(&["cert", "list"]).stdout.contains("renewal pending"));
    let again = f.run(&["cert", "renew", "name:relay"]);
    assert_eq!(again.code, 3, "{again:?}");
    assert!(again.stderr.contains("renewal-pending"), "{again:?}");
    // A new key: the request's public key differs from the old certificate's.
    assert_ne!(req["key_id"].as_str().unwrap(), spki_sha1_of_cert(&f, &old));

    let cert = sign(f.dir.path(), &csr, "renewed", 400);
    let r = f.ok(&["--json", "cert", "import", path_str(&cert)]);
    let v = r.json();
    let new = v[0]["certificate"]["thumbprint_sha1"]
        .as_str()
        .unwrap()
        .to_string();
    let moved = &v[0]["replaced"][0];
    assert_eq!(moved["thumbprint_sha1"], old.as_str(), "{v}");
    let mut labels: Vec<String> = moved["bindings_moved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    labels.sort();
    assert_eq!(labels, vec!["farm".to_string(), APP.to_string()]);
    assert_eq!(bound_sha1(&f, &["--webapp", APP]), new);
    assert_eq!(bound_sha1(&f, &["--farm"]), new);
    // The old one stays in End Entity, unbound, until removed.
    let old_now = f.ok(&["--json", "cert", "show", &old]).json();
    assert_eq!(old_now["store"], "end-entity");
    assert_eq!(old_now["bound_to"], serde_json::json!([]));
    let audit = f.ok(&["audit"]).stdout;
    assert!(audit.contains("renew"), "{audit}");

    // Mail now goes out with the renewed certificate.
    f.ok(&[
        "send",
        "--webapp",
        APP,
        "--to",
        "ops@contoso.com",
        "--subject",
        "after renewal",
        "--body-file",
        "password.txt",
    ]);
    let got = server.wait_for_messages(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert_eq!(mailcert_store::thumbprints(&got[0].client_chain[0]).0, new);
}

/// SHA-1 of a stored certificate's SubjectPublicKeyInfo (what a request's key id is),
/// read by OpenSSL from the certificate's export.
fn spki_sha1_of_cert(f: &TestFarm, sha1: &str) -> String {
    let out = f.dir.path().join(format!("{sha1}.der"));
    f.ok(&[
        "cert",
        "export",
        sha1,
        "--format",
        "der",
        "--out",
        path_str(&out),
    ]);
    let pem = openssl(&[
        "x509",
        "-inform",
        "DER",
        "-in",
        path_str(&out),
        "-noout",
        "-pubkey",
    ]);
    let (label, spki) = der::pem::decode_vec(pem.trim().as_bytes()).unwrap();
    assert_eq!(label, "PUBLIC KEY");
    // thumbprints() is SHA-1 (and SHA-256) of the bytes it is given.
    mailcert_store::thumbprints(&spki).0
}

#[test]
fn renewal_with_the_same_key_keeps_the_public_key() {
    let server = relay::start(relay::relay_config(false));
    let (f, old) = farm_with_requested_cert(&server, 30);
    let req = f
        .ok(&[
            "--json",
            "cert",
            "renew",
            &old,
            "--same-key",
            "--out",
            path_str(&f.dir.path().join("same.csr")),
        ])
        .json();
    assert_eq!(req["key_id"].as_str().unwrap(), spki_sha1_of_cert(&f, &old));
    // Importing the old certificate again (same key) does not use the request up.
    let old_der = f.dir.path().join("old-again.der");
    f.ok(&[
        "cert",
        "export",
        &old,
        "--format",
        "der",
        "--out",
        path_str(&old_der),
    ]);
    let again = f
        .ok(&["--json", "cert", "import", path_str(&old_der)])
        .json();
    assert_eq!(again[0]["request"], Value::Null, "{again}");
    assert_eq!(
        f.ok(&["--json", "cert", "request", "list"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1,
        "still pending"
    );
    let cert = sign(f.dir.path(), &f.dir.path().join("same.csr"), "same", 400);
    let v = f.ok(&["--json", "cert", "import", path_str(&cert)]).json();
    assert_eq!(v[0]["certificate"]["has_private_key"], true);
    assert_eq!(v[0]["replaced"][0]["thumbprint_sha1"], old.as_str());
}

/// The certificate's notAfter as Unix seconds.
fn not_after(f: &TestFarm, sha1: &str) -> i64 {
    let v = f.ok(&["--json", "cert", "show", sha1]).json();
    let t = v["not_after"].as_str().unwrap();
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// `health --json` at time `t`: exit code and the rules that fired.
fn health_at(f: &TestFarm, t: i64, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--json", "health"];
    args.extend_from_slice(extra);
    let r = f
        .command(&args)
        .env("MAILCERT_NOW", rfc3339(t))
        .output()
        .map(mailcert_tests::Run::from_output)
        .unwrap();
    (r.code, r.json())
}

fn rules(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

const DAY: i64 = 86_400;

#[test]
fn each_health_rule_fires_at_the_right_time_and_not_before() {
    let server = relay::start(relay::relay_config(false));
    let (f, sha1) = farm_with_requested_cert(&server, 100);
    let end = not_after(&f, &sha1);

    // Bound, but nobody to tell.
    let (code, v) = health_at(&f, end - 70 * DAY, &[]);
    assert_eq!(
        (code, rules(&v)),
        (3, vec!["no-contacts".to_string()]),
        "{v}"
    );
    assert_eq!(v["findings"][0]["severity"], "warning");
    assert_eq!(v["healthy"], false);
    f.ok(&[
        "settings",
        "contacts",
        "add",
        "ops@contoso.com",
        "Pat <pat@contoso.com>",
    ]);
    let contacts = f.ok(&["--json", "settings", "contacts", "list"]).json();
    assert_eq!(
        contacts,
        serde_json::json!(["ops@contoso.com", "pat@contoso.com"])
    );

    // Healthy until the attention threshold (60 days) is reached.
    let (code, v) = health_at(&f, end - 60 * DAY - 60, &[]);
    assert_eq!((code, v["healthy"].clone()), (0, Value::Bool(true)), "{v}");
    let (code, v) = health_at(&f, end - 60 * DAY + 60, &[]);
    assert_eq!(
        (code, rules(&v)),
        (3, vec!["upcoming-expiration".to_string()]),
        "{v}"
    );
    let finding = &v["findings"][0];
    assert_eq!(finding["severity"], "attention");
    assert_eq!(finding["thumbprint_sha1"], sha1.as_str());
    assert_eq!(finding["days_left"], 59);
    let mut bound: Vec<&str> = finding["bound_to"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    bound.sort();
    assert_eq!(bound, vec!["farm", APP]);

    // Warning from 15 days on.
    let (_, v) = health_at(&f, end - 15 * DAY - 60, &[]);
    assert_eq!(rules(&v), vec!["upcoming-expiration"], "{v}");
    let (_, v) = health_at(&f, end - 15 * DAY + 60, &[]);
    assert_eq!(rules(&v), vec!["about-to-expire"], "{v}");
    assert_eq!(v["findings"][0]["severity"], "warning");

    // Expired: an error for 15 days, then binding-broken.
    let (code, v) = health_at(&f, end + 60, &[]);
    assert_eq!((code, rules(&v)), (3, vec!["expired".to_string()]), "{v}");
    assert_eq!(v["findings"][0]["severity"], "error");
    assert_eq!(v["findings"][0]["days_left"], -1);
    let (_, v) = health_at(&f, end + 15 * DAY + 60, &[]);
    assert_eq!(rules(&v), vec!["binding-broken"], "{v}");
    assert!(
        v["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("validity"),
        "{v}"
    );

    // Not yet valid is binding-broken too.
    let (_, v) = health_at(&f, end - 101 * DAY, &[]);
    assert_eq!(rules(&v), vec!["binding-broken"], "{v}");

    // Thresholds follow the settings; 0 turns a rule off; attention < warning is refused.
    f.ok(&["settings", "set", "--attention-days", "0"]);
    let (code, _) = health_at(&f, end - 30 * DAY, &[]);
    assert_eq!(code, 0);
    let bad = f.run(&["settings", "set", "--attention-days", "10"]);
    assert_eq!(bad.code, 3, "{bad:?}");
    assert!(
        bad.stderr.contains("below the warning threshold"),
        "{bad:?}"
    );
    f.ok(&[
        "settings",
        "set",
        "--attention-days",
        "90",
        "--warning-days",
        "20",
    ]);
    let (_, v) = health_at(&f, end - 80 * DAY, &[]);
    assert_eq!(rules(&v), vec!["upcoming-expiration"], "{v}");
    let (_, v) = health_at(&f, end - 19 * DAY, &[]);
    assert_eq!(rules(&v), vec!["about-to-expire"], "{v}");
    let shown = f.ok(&["--json", "settings", "show"]).json();
    assert_eq!(shown["attention_days"], 90);
    assert_eq!(shown["warning_days"], 20);
    assert_eq!(shown["error_days"], 15);

    // The table for people.
    let people = f
        .command(&["health"])
        .env("MAILCERT_NOW", rfc3339(end + 60))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&people.stdout);
    assert!(text.contains("expired") && text.contains("error"), "{text}");
}

#[test]
fn notify_mails_the_contacts_once_a_day_through_the_farm_settings() {
    let server = relay::start(relay::relay_config(false));
    let (f, sha1) = farm_with_requested_cert(&server, 30);
    let end = not_after(&f, &sha1);
    let t = end - 10 * DAY;

    // No contacts: nothing is sent, and that is said.
    let (code, v) = health_at(&f, t, &["--notify"]);
    assert_eq!(code, 3, "{v}");
    assert_eq!(v["notification"]["sent"], false, "{v}");
    assert!(
        v["notification"]["skipped"]
            .as_str()
            .unwrap()
            .contains("no notification contacts")
    );
    assert_eq!(server.messages().len(), 0);

    f.ok(&[
        "settings",
        "contacts",
        "add",
        "ops@contoso.com",
        "pki@contoso.com",
    ]);
    let (code, v) = health_at(&f, t, &["--notify"]);
    assert_eq!(code, 3, "{v}");
    assert_eq!(v["notification"]["sent"], true, "{v}");
    assert_eq!(v["notification"]["findings_mailed"], 1, "{v}");
    let got = server.wait_for_messages(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.recipients, vec!["ops@contoso.com", "pki@contoso.com"]);
    assert_eq!(m.mail_from, "sharepoint@contoso.com");
    let data = String::from_utf8_lossy(&m.data);
    assert!(data.contains("about-to-expire"), "{data}");
    assert!(data.contains(&sha1), "{data}");
    assert!(data.contains("mailcert cert renew"), "{data}");
    // Sent with the farm's client certificate.
    assert_eq!(mailcert_store::thumbprints(&m.client_chain[0]).0, sha1);

    // An hourly timer: the same findings are not mailed again within the day.
    for hours in [0, 1, 23] {
        let (code, v) = health_at(&f, t + hours * 3600, &["--notify"]);
        assert_eq!(code, 3, "{v}");
        assert_eq!(v["notification"]["sent"], false, "{hours}h: {v}");
    }
    assert_eq!(relay::settled(&server).len(), 1, "one connection in all");
    assert_eq!(
        server.messages().len(),
        1,
        "delivered once for several runs"
    );

    // A day later it is mailed again; a new finding the same day is mailed at once.
    let (_, v) = health_at(&f, t + DAY, &["--notify"]);
    assert_eq!(v["notification"]["sent"], true, "{v}");
    assert_eq!(
        server.wait_for_messages(2, Duration::from_secs(10)).len(),
        2
    );
    let (_, v) = health_at(&f, end + 60, &["--notify"]);
    assert_eq!(
        v["notification"]["sent"], false,
        "the farm's certificate expired: {v}"
    );
    assert!(
        v["notification"]["error"]
            .as_str()
            .unwrap()
            .contains("could not be sent"),
        "{v}"
    );
    let audit = f.ok(&["audit"]).stdout;
    assert_eq!(audit.matches("notify").count(), 2, "{audit}");
}

#[test]
fn a_broken_farm_setting_makes_the_notification_failure_part_of_the_report() {
    let server = relay::start(relay::relay_config(false));
    let (f, sha1) = farm_with_requested_cert(&server, 30);
    let end = not_after(&f, &sha1);
    f.ok(&["settings", "contacts", "add", "ops@contoso.com"]);
    // The farm's relay port is closed: the notification cannot be delivered.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    f.ok(&["smtp", "set", "--farm", "--port", &port]);
    let r = f
        .command(&["--json", "health", "--notify", "--timeout", "5"])
        .env("MAILCERT_NOW", rfc3339(end - 10 * DAY))
        .output()
        .map(mailcert_tests::Run::from_output)
        .unwrap();
    assert_eq!(r.code, 5, "{r:?}");
    let v = r.json();
    assert_eq!(v["healthy"], false);
    assert_eq!(v["notification"]["sent"], false);
    assert!(
        v["notification"]["error"]
            .as_str()
            .unwrap()
            .contains("could not be sent"),
        "{v}"
    );
    assert!(r.stderr.contains("could not be sent"), "{r:?}");
    // Not recorded as mailed: the next run tries again.
    f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--port",
        &server.port().to_string(),
    ]);
    let (code, v) = health_at(&f, end - 10 * DAY, &["--notify"]);
    assert_eq!(code, 3);
    assert_eq!(v["notification"]["sent"], true, "{v}");
    assert_eq!(
        server.wait_for_messages(1, Duration::from_secs(10)).len(),
        1
    );
}

#[test]
fn contacts_are_validated_and_changes_audited() {
    let f = TestFarm::new();
    let r = f.run(&["settings", "contacts", "add", "not an address"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("not an address"), "{r:?}");
    f.ok(&[
        "settings",
        "contacts",
        "add",
        "a@contoso.com",
        "b@contoso.com",
    ]);
    let r = f.ok(&["settings", "contacts", "add", "A@contoso.com"]);
    assert!(r.stdout.contains("unchanged"), "{r:?}");
    f.ok(&["settings", "contacts", "remove", "a@contoso.com"]);
    assert_eq!(
        f.run(&["settings", "contacts", "remove", "zzz@contoso.com"])
            .code,
        4
    );
    assert_eq!(
        f.ok(&["--json", "settings", "contacts", "list"]).json(),
        serde_json::json!(["b@contoso.com"])
    );
    f.ok(&["settings", "contacts", "clear"]);
    assert_eq!(
        f.ok(&["--json", "settings", "contacts", "list"]).json(),
        serde_json::json!([])
    );
    let unchanged = f.ok(&["settings", "set", "--attention-days", "60"]);
    assert!(unchanged.stdout.contains("unchanged"), "{unchanged:?}");
    f.ok(&[
        "settings",
        "set",
        "--organization",
        "Contoso",
        "--country",
        "de",
    ]);
    let audit = f.ok(&["audit"]).stdout;
    assert!(audit.contains("contact-add"), "{audit}");
    assert!(audit.contains("contact-remove"), "{audit}");
    assert!(
        audit.contains("organization: \"\" -> \"Contoso\""),
        "{audit}"
    );
    // Request defaults come from the settings.
    let (req, _) = request(&f, "defaults", &["--common-name", "d"]);
    assert_eq!(req["subject"], "CN=d, O=Contoso, C=DE", "{req}");
    assert_eq!(req["key_type"], "RSA 2048");
    f.ok(&[
        "settings",
        "set",
        "--key-algorithm",
        "ecc",
        "--elliptic-curve",
        "p384",
    ]);
    let (req, _) = request(&f, "defaults2", &["--common-name", "e"]);
    assert_eq!(req["key_type"], "ECDSA P-384", "{req}");
}

#[test]
fn concurrent_imports_of_the_signed_certificate_pair_it_once() {
    let f = TestFarm::new();
    let (req, csr) = request(
        &f,
        "race",
        &["--common-name", "race", "--key-algorithm", "ecc"],
    );
    let cert = sign(f.dir.path(), &csr, "race", 90);
    let children: Vec<_> = (0..4)
        .map(|_| {
            f.command(&["--json", "cert", "import", path_str(&cert)])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let runs: Vec<_> = children
        .into_iter()
        .map(|c| mailcert_tests::Run::from_output(c.wait_with_output().unwrap()))
        .collect();
    for r in &runs {
        assert_eq!(r.code, 0, "{r:?}");
    }
    let paired = runs
        .iter()
        .filter(|r| r.json()[0]["request"] == req["key_id"])
        .count();
    assert_eq!(paired, 1, "paired exactly once: {runs:?}");
    let stored = f.list(&[]);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["has_private_key"], true);
    assert_eq!(stored[0]["eligible"], true);
    assert_eq!(
        f.ok(&["--json", "cert", "request", "list"]).json(),
        serde_json::json!([])
    );
}

#[test]
fn a_notification_refused_for_one_contact_is_recorded_for_the_others() {
    let server = relay::start(relay::relay_config(false).reject_recipient("gone@contoso.com"));
    let (f, sha1) = farm_with_requested_cert(&server, 30);
    let end = not_after(&f, &sha1);
    f.ok(&[
        "settings",
        "contacts",
        "add",
        "ops@contoso.com",
        "gone@contoso.com",
    ]);
    let (code, v) = health_at(&f, end - 10 * DAY, &["--notify"]);
    assert_eq!(code, 3, "{v}");
    assert_eq!(v["notification"]["sent"], true, "{v}");
    assert!(
        v["notification"]["reply"]
            .as_str()
            .unwrap()
            .contains("refused for gone@contoso.com"),
        "{v}"
    );
    let got = server.wait_for_messages(1, Duration::from_secs(10));
    assert_eq!(got[0].recipients, vec!["ops@contoso.com"]);
    // Not mailed again an hour later.
    let (_, v) = health_at(&f, end - 10 * DAY + 3600, &["--notify"]);
    assert_eq!(v["notification"]["sent"], false, "{v}");
    assert_eq!(relay::settled(&server).len(), 1);
}
