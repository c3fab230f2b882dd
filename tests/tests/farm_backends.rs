//! One story, two backends: the same commands against a SQLite farm and a PostgreSQL
//! farm (a private cluster per test, tests/src/postgres.rs) must give the same answers,
//! and every assertion of the story holds on both. Then what only a shared database can
//! do: two servers on one farm, their concurrent writers, joining with the wrong key,
//! a password on the command line, a dump that holds no secret, and `farm copy`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use mailcert_tests::postgres::Postgres;
use mailcert_tests::{TestFarm, contains, sha1_of};
use serde_json::Value;

const APP: &str = "https://intranet.contoso.com";

/// A PostgreSQL cluster, or `None` (and a skip, or a failure under
/// `MAILCERT_REQUIRE_EXTERNAL=1`) when this machine has none.
fn cluster() -> Option<Postgres> {
    if let Some(why) = Postgres::unavailable_reason() {
        mailcert_tests::external_missing(&why);
        return None;
    }
    Some(Postgres::start().unwrap_or_else(|e| panic!("starting PostgreSQL: {e}")))
}

/// A new database in the cluster, as a farm URL that verifies the server against the
/// cluster's own CA (the default `sslmode=verify-full`).
fn database(pg: &Postgres, name: &str) -> String {
    let url = pg.create_database(name).unwrap();
    format!("{url}?sslrootcert={}", pg.ca_pem().display())
}

/// Server `name` joining the farm of server `a` at `url`, with a copy of its master key.
fn joined(a: &TestFarm, url: &str, password: &str, name: &str) -> TestFarm {
    let f = TestFarm::on_postgres(url, password, name);
    std::fs::copy(a.key_file(), f.key_file()).unwrap();
    f.ok(&["init", "--join"]);
    f
}

fn rejected(r: &mailcert_tests::Run, rule: &str) {
    assert_eq!(r.code, 3, "expected rule {rule}: {r:?}");
    assert!(r.stderr.contains(rule), "expected rule {rule}: {r:?}");
}

/// The whole story on one farm; returns what the farm looks like at the end (listing,
/// settings and audit actions), for comparing the backends.
fn story(f: &TestFarm) -> Value {
    // Import: PFX with chain, PEM with key, a CA alone, an ineligible one, an expired one.
    f.ok(&[
        "cert",
        "import",
        "openssl3-default.pfx",
        "--password-file",
        "password.txt",
        "--friendly-name",
        "relay",
    ]);
    f.ok(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
        "--friendly-name",
        "spare",
    ]);
    f.ok(&[
        "cert",
        "import",
        "client-p384.pem",
        "--key",
        "client-p384.key",
    ]);
    f.ok(&[
        "cert",
        "import",
        "client-noeku.pem",
        "--key",
        "client-noeku.key",
    ]);
    f.ok(&["cert", "import", "expired.pem", "--key", "expired.key"]);
    // The same again: reported as present, nothing doubled.
    let again = f
        .ok(&[
            "--json",
            "cert",
            "import",
            "client-p256.pem",
            "--key",
            "client-p256.key",
        ])
        .json();
    assert_eq!(again[0]["ok"], true, "{again}");
    let all = f.list(&[]);
    assert_eq!(all.len(), 7, "{all:?}");
    let eligible = f.list(&["--eligible"]);
    let names: Vec<&str> = eligible
        .iter()
        .map(|c| c["subject_cn"].as_str().unwrap_or(""))
        .collect();
    assert!(names.contains(&"client-p256.test"), "{names:?}");
    assert!(!names.contains(&"expired.test"), "{names:?}");
    assert_eq!(f.list(&["--store", "root"]).len(), 1);
    assert_eq!(f.list(&["--expired"]).len(), 1);
    // References: prefix, name:, cn: (any case), an ambiguous prefix is a usage error.
    let p256 = sha1_of("client-p256.pem");
    assert_eq!(
        f.ok(&["--json", "cert", "show", &p256[..10]]).json()["friendly_name"],
        "spare"
    );
    assert_eq!(
        f.ok(&["--json", "cert", "show", "cn:CLIENT-P256.TEST"])
            .json()["thumbprint_sha1"],
        p256.as_str()
    );
    assert_eq!(f.run(&["cert", "show", "name:nobody"]).code, 4);

    // Bind: the farm and a web application.
    f.ok(&["webapp", "add", APP, "--name", "Intranet"]);
    f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "relay.contoso.com",
        "--from",
        "sharepoint@contoso.com",
        "--certificate",
        "name:relay",
    ]);
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--smtp-server",
        "relay2.contoso.com",
        "--port",
        "587",
        "--certificate",
        "name:relay",
    ]);
    // The rules: an ineligible certificate, a bad port; nothing changes.
    rejected(
        &f.run(&[
            "smtp",
            "set",
            "--farm",
            "--smtp-server",
            "relay.contoso.com",
            "--certificate",
            &sha1_of("expired.pem"),
        ]),
        "certificate-eligible",
    );
    rejected(&f.run(&["smtp", "set", "--farm", "--port", "0"]), "port");
    assert_eq!(
        f.ok(&["--json", "smtp", "show", "--farm"]).json()["certificate"]["friendly_name"],
        "relay"
    );
    // A bound certificate is not removed without --force.
    rejected(&f.run(&["cert", "remove", "name:relay"]), "bound");

    // Switch every binding to another certificate at once.
    let j = f
        .ok(&["--json", "cert", "switch", "name:relay", "name:spare"])
        .json();
    assert_eq!(j["moved"], serde_json::json!(["farm", APP]));
    // Replace: a renewal takes over the bindings of the one it renews.
    let d = tempfile::tempdir().unwrap();
    let renewal = renewal_of_client_p256(d.path());
    let j = f
        .ok(&["--json", "cert", "import", &renewal.0, "--replace"])
        .json();
    assert_eq!(
        j[0]["replaced"][0]["bindings_moved"],
        serde_json::json!(["farm", APP])
    );
    assert_eq!(
        f.ok(&["--json", "smtp", "show", "--webapp", APP]).json()["certificate"]["thumbprint_sha1"],
        renewal.1.as_str()
    );
    // Remove with --force: the renewal goes with its key, and the settings that presented
    // it present none now.
    f.ok(&["cert", "remove", &renewal.1, "--force"]);
    assert_eq!(f.run(&["cert", "show", &renewal.1]).code, 4);
    let unbound = f.ok(&["--json", "smtp", "show", "--farm"]).json();
    assert_eq!(unbound["certificate"], Value::Null, "{unbound}");
    // Rename, move, and the audit trail of all of it.
    f.ok(&["cert", "rename", "name:spare", "spare-2026"]);
    f.ok(&["cert", "move", "name:spare-2026", "--to", "pending"]);
    let audit = f.ok(&["--json", "audit"]).json();
    let mut actions: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap_or("").to_string())
        .collect();
    actions.reverse();
    for a in [
        "init",
        "import",
        "webapp add",
        "switch",
        "remove",
        "rename",
        "move",
    ] {
        assert!(
            actions.iter().any(|x| x == a),
            "audit lacks {a}: {actions:?}"
        );
    }
    // Every other container the fixtures hold: each PKCS#12 variant (OpenSSL 3 and
    // legacy, Windows 3DES, keytool, no MAC, empty password, P-521, Ed448), PKCS#7, DER,
    // and the PEM key forms (PKCS#1, SEC1, encrypted PKCS#8, legacy encrypted PEM).
    for file in [
        "openssl3-nochain.pfx",
        "openssl3-p256.pfx",
        "openssl3-ed25519.pfx",
        "legacy.pfx",
        "windows-3des.pfx",
        "keytool-rsa.p12",
        "keytool-ec.p12",
        "keytool-import.p12",
        "client-p521.pfx",
        "client-ed448.pfx",
        "server-only.pfx",
        "expired.pfx",
    ] {
        f.ok(&["cert", "import", file, "--password-file", "password.txt"]);
    }
    for file in [
        "empty-password.pfx",
        "nomac-noenc.pfx",
        "client-rsa.p7b",
        "client-rsa.cer",
    ] {
        f.ok(&["cert", "import", file]);
    }
    for args in [
        &["client-rsa.combined-pkcs1.pem"][..],
        &["client-p256.pem", "--key", "client-p256.sec1.key"],
        &[
            "client-rsa.pem",
            "--key",
            "client-rsa.enc-aes256.key",
            "--password-file",
            "password.txt",
        ],
        &[
            "client-p384.pem",
            "--key",
            "client-p384.legacy-des3.key",
            "--password-file",
            "password.txt",
        ],
        &["client-ed25519.pem", "--key", "client-ed25519.key"],
    ] {
        let mut a = vec!["cert", "import"];
        a.extend_from_slice(args);
        f.ok(&a);
    }
    // The end state, without what depends on the clock.
    let mut listing = f.list(&[]);
    for c in &mut listing {
        c.as_object_mut().unwrap().remove("days_left");
    }
    let settings = f.run(&["--json", "smtp", "show", "--farm"]).json();
    serde_json::json!({
        "certificates": listing,
        "farm_settings": settings,
        "audit_actions": actions,
    })
}

/// A renewal of client-p256: same names, same issuer, expiring later.
fn renewal_of_client_p256(dir: &std::path::Path) -> (String, String) {
    let fixture = mailcert_tests::fixture;
    let ca_cert = std::fs::read_to_string(fixture("intermediate-ca.pem")).unwrap();
    let ca_key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(fixture("intermediate-ca.key")).unwrap())
            .unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_cert, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cn = "client-p256.test";
    let mut p = rcgen::CertificateParams::new(vec![cn.to_string()]).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name
        .push(rcgen::DnType::OrganizationName, "mailcert tests");
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    p.not_before = rcgen::date_time_ymd(2025, 6, 1);
    p.not_after = rcgen::date_time_ymd(2046, 1, 1);
    let cert = p.signed_by(&key, &issuer).unwrap();
    let path = dir.join("renewal.pem");
    std::fs::write(&path, format!("{}{}", cert.pem(), key.serialize_pem())).unwrap();
    let sha1 = mailcert_store::thumbprints(cert.der()).0;
    (path.to_str().unwrap().to_string(), sha1)
}

/// The renewal is generated per run (new key, new thumbprint): compare without it.
fn without_renewal(mut v: Value) -> Value {
    if let Some(list) = v["certificates"].as_array_mut() {
        list.retain(|c| c["not_after"] != "2046-01-01T00:00:00Z");
    }
    v
}

#[test]
fn the_story_holds_on_sqlite_and_postgresql_alike() {
    let Some(pg) = cluster() else { return };
    let sqlite = TestFarm::new();
    let url = database(&pg, "story");
    let shared = TestFarm::on_postgres(&url, pg.password(), "server-a");
    shared.ok(&["init"]);
    let on_sqlite = without_renewal(story(&sqlite));
    let on_postgres = without_renewal(story(&shared));
    assert_eq!(on_sqlite, on_postgres);
}

#[test]
fn two_servers_share_one_farm() {
    let Some(pg) = cluster() else { return };
    let url = database(&pg, "farm");
    let a = TestFarm::on_postgres(&url, pg.password(), "server-a");
    let r = a.ok(&["init"]);
    assert!(r.stdout.contains("created farm"), "{r:?}");
    assert!(!r.stdout.contains(pg.password()), "{r:?}");
    let b = TestFarm::on_postgres(&url, pg.password(), "server-b");
    // Without the farm's key, B cannot join; with another farm's key it cannot either.
    let r = b.run(&["init", "--join"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("master key"), "{r:?}");
    let other = TestFarm::new();
    std::fs::copy(other.key_file(), b.key_file()).unwrap();
    let before = dump(&pg, "farm");
    let r = b.run(&["init", "--join"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("not the master key of this farm"),
        "{r:?}"
    );
    assert!(dump(&pg, "farm") == before, "a wrong key writes nothing");
    // With the farm's key it joins.
    std::fs::copy(a.key_file(), b.key_file()).unwrap();
    let r = b.ok(&["init", "--join"]);
    assert!(r.stdout.contains("server-b joined"), "{r:?}");
    let servers = a.ok(&["--json", "server", "list"]).json();
    let names: Vec<&str> = servers
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["server-a", "server-b"]);
    assert!(servers[0]["first_seen"].as_str().unwrap().ends_with('Z'));
    assert_eq!(servers[0]["this_server"], true);
    // An import on A is usable on B; a binding made on B shows on A.
    a.ok(&[
        "cert",
        "import",
        "openssl3-default.pfx",
        "--password-file",
        "password.txt",
        "--friendly-name",
        "relay",
        "--exportable",
    ]);
    assert_eq!(b.list(&["--eligible"]).len(), 1);
    b.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "relay.contoso.com",
        "--certificate",
        "name:relay",
    ]);
    let shown = a.ok(&["--json", "smtp", "show", "--farm"]).json();
    assert_eq!(shown["certificate"]["friendly_name"], "relay", "{shown}");
    // B opens A's sealed key (the same master key): an export works there.
    let out = b.dir.path().join("relay.pem");
    b.ok(&[
        "cert",
        "export",
        "name:relay",
        "--format",
        "pem",
        "--out",
        out.to_str().unwrap(),
    ]);
    let pem = std::fs::read_to_string(&out).unwrap();
    assert!(pem.contains("-----BEGIN PRIVATE KEY-----"), "{pem}");
}

#[test]
fn eight_concurrent_imports_from_two_servers_all_land() {
    let Some(pg) = cluster() else { return };
    let url = database(&pg, "farm");
    let a = TestFarm::on_postgres(&url, pg.password(), "server-a");
    a.ok(&["init"]);
    let b = joined(&a, &url, pg.password(), "server-b");
    let jobs: [(&TestFarm, &[&str]); 8] = [
        (
            &a,
            &[
                "cert",
                "import",
                "client-p256.pem",
                "--key",
                "client-p256.key",
            ],
        ),
        (
            &b,
            &[
                "cert",
                "import",
                "client-p384.pem",
                "--key",
                "client-p384.key",
            ],
        ),
        (
            &a,
            &[
                "cert",
                "import",
                "client-p521.pem",
                "--key",
                "client-p521.key",
            ],
        ),
        (
            &b,
            &[
                "cert",
                "import",
                "client-ed25519.pem",
                "--key",
                "client-ed25519.key",
            ],
        ),
        (
            &a,
            &[
                "cert",
                "import",
                "client-noeku.pem",
                "--key",
                "client-noeku.key",
            ],
        ),
        (
            &b,
            &[
                "cert",
                "import",
                "client-both.pem",
                "--key",
                "client-both.key",
            ],
        ),
        (
            &a,
            &["cert", "import", "any-eku.pem", "--key", "any-eku.key"],
        ),
        (
            &b,
            &[
                "cert",
                "import",
                "client-noku.pem",
                "--key",
                "client-noku.key",
            ],
        ),
    ];
    let children: Vec<_> = jobs
        .iter()
        .map(|(f, args)| {
            f.command(args)
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
    let list = a.list(&[]);
    assert_eq!(list.len(), 8, "{list:?}");
    let audit = b.ok(&["--json", "audit"]).json();
    let imports = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "import")
        .count();
    assert_eq!(imports, 8);
}

#[test]
fn a_dump_of_the_farm_holds_no_secret_in_clear() {
    let Some(pg) = cluster() else { return };
    let url = database(&pg, "farm");
    let f = TestFarm::on_postgres(&url, pg.password(), "server-a");
    f.ok(&["init"]);
    f.ok(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
    ]);
    f.ok(&[
        "cert",
        "import",
        "openssl3-default.pfx",
        "--password-file",
        "password.txt",
    ]);
    let smtp_password = "Sm7p-pa55word-in-the-farm";
    let r = f.run_stdin(
        &[
            "smtp",
            "set",
            "--farm",
            "--smtp-server",
            "relay.contoso.com",
            "--smtp-user",
            "app",
            "--smtp-password-file",
            "-",
        ],
        format!("{smtp_password}\n").as_bytes(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let dump = pg.dump("farm").unwrap();
    assert!(
        contains(&dump, b"COPY public.private_keys"),
        "the dump has the keys table"
    );
    assert!(dump.len() > 10_000);
    assert!(
        !contains(&dump, smtp_password.as_bytes()),
        "SMTP password in clear"
    );
    // Fragments of the private keys (as the SQLite leak test picks them), in binary and
    // in the hex that pg_dump writes BYTEA in.
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for (key, scalar_len) in [("client-p256.key", 32usize), ("client-rsa.key", 0)] {
        let pem = std::fs::read(mailcert_tests::fixture(key)).unwrap();
        let (_, der) = der::pem::decode_vec(&pem).unwrap();
        if scalar_len > 0 {
            // The EC private scalar follows INTEGER 1, OCTET STRING(len).
            let marker = [0x02, 0x01, 0x01, 0x04, scalar_len as u8];
            let at = der.windows(5).position(|w| w == marker).unwrap() + 5;
            secrets.push(der[at..at + scalar_len].to_vec());
        } else {
            // Any 32-byte window from the RSA key's private part (past the modulus).
            let tail = &der[der.len() - 400..];
            secrets.extend(tail.chunks(32).map(<[u8]>::to_vec));
        }
        secrets.push(der.clone());
    }
    for secret in &secrets {
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!contains(&dump, secret), "a private key fragment in clear");
        assert!(
            !contains(&dump, hex.as_bytes()),
            "a private key fragment as hex"
        );
    }
}

/// `pg_dump` of a database without its per-run `\restrict` token lines, so that two
/// dumps of an unchanged database compare equal.
fn dump(pg: &Postgres, db: &str) -> Vec<u8> {
    let text = String::from_utf8(pg.dump(db).unwrap()).unwrap();
    text.lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes()
}

#[test]
fn a_password_in_the_url_on_the_command_line_is_refused() {
    let f = TestFarm::empty();
    let r = f.run(&[
        "--db",
        "postgres://mailcert:hunter2-secret@127.0.0.1:1/farm",
        "cert",
        "list",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("pgpass"), "{r:?}");
    assert!(!r.stderr.contains("hunter2"), "{r:?}");
    assert!(!r.stdout.contains("hunter2"), "{r:?}");
    // An unreachable server is a clear error (exit 1) that never shows a password.
    let r = f.run(&[
        "--db",
        "postgres://mailcert@127.0.0.1:1/farm?sslmode=disable",
        "cert",
        "list",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("cannot open the farm database postgres://mailcert@127.0.0.1:1/farm"),
        "{r:?}"
    );
}

#[test]
fn tls_to_the_database_is_verified() {
    let Some(pg) = cluster() else { return };
    let url = pg.create_database("farm").unwrap();
    let ca = pg.ca_pem().to_str().unwrap().to_string();
    // verify-full against the cluster's own CA, by IP and by name.
    let f = TestFarm::on_postgres(
        &format!("{url}?sslmode=verify-full&sslrootcert={ca}"),
        pg.password(),
        "a",
    );
    f.ok(&["init"]);
    let by_name = url.replace("127.0.0.1", "localhost");
    let g = TestFarm::on_postgres(
        &format!("{by_name}?sslmode=verify-full&sslrootcert={ca}"),
        pg.password(),
        "a",
    );
    std::fs::copy(f.key_file(), g.key_file()).unwrap();
    g.ok(&["cert", "list"]);
    // The platform's roots do not know this CA: refused, never sent in clear.
    let h = TestFarm::on_postgres(&format!("{url}?sslmode=verify-full"), pg.password(), "a");
    std::fs::copy(f.key_file(), h.key_file()).unwrap();
    let r = h.run(&["cert", "list"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("certificate"), "{r:?}");
    // The server saw mailcert's sessions encrypted.
    let log = pg.log();
    let ours: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("connection authorized") && l.contains("application_name=mailcert"))
        .collect();
    assert!(!ours.is_empty(), "{log}");
    assert!(ours.iter().all(|l| l.contains("SSL enabled")), "{ours:?}");
}

/// The second server sends through the real Postfix (which demands a client certificate
/// and trusts only the test root) with the certificate the first server imported; then a
/// setting for the second server only (`smtp set --server`) makes it present another
/// certificate while the first keeps the farm's.
#[test]
fn the_second_server_sends_with_the_first_ones_certificate_through_postfix() {
    use mailcert_tests::postfix::{Postfix, PostfixConfig};
    let Some(pg) = cluster() else { return };
    if let Some(why) = Postfix::unavailable_reason() {
        mailcert_tests::external_missing(&why);
        return;
    }
    let pf = Postfix::start(PostfixConfig::new()).unwrap();
    let wait = std::time::Duration::from_secs(10);
    let url = database(&pg, "farm");
    let a = TestFarm::on_postgres(&url, pg.password(), "server-a");
    a.ok(&["init"]);
    a.ok(&["cert", "import", "root-ca.cer"]);
    a.ok(&["cert", "import", "intermediate-ca.pem"]);
    a.ok(&[
        "cert",
        "import",
        "openssl3-p256.pfx",
        "--password-file",
        "password.txt",
        "--friendly-name",
        "p256",
    ]);
    a.ok(&[
        "cert",
        "import",
        "openssl3-default.pfx",
        "--password-file",
        "password.txt",
        "--friendly-name",
        "rsa",
    ]);
    let port = pf.starttls_port().to_string();
    a.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "localhost",
        "--port",
        &port,
        "--from",
        "sharepoint@contoso.com",
        "--certificate",
        "name:p256",
    ]);
    let b = joined(&a, &url, pg.password(), "server-b");
    let send = |f: &TestFarm, subject: &str| {
        let r = f.run_stdin(
            &["send", "--to", "rcpt@relay.test", "--subject", subject],
            b"From a server of the farm.\n",
        );
        assert_eq!(r.code, 0, "{r:?}\n{}", pf.log());
    };
    send(&b, "from b");
    assert_eq!(pf.wait_for_delivered(1, wait), 1, "{}", pf.log());
    let msgs = pf.messages("rcpt@relay.test");
    assert!(
        msgs[0].contains("Client CN \"client-p256.test\"") && msgs[0].contains("(verified OK)"),
        "{}",
        msgs[0]
    );
    // Server B only: the RSA certificate. A keeps the farm's.
    a.ok(&[
        "smtp",
        "set",
        "--farm",
        "--server",
        "server-b",
        "--certificate",
        "name:rsa",
    ]);
    let on_b = b.ok(&["--json", "smtp", "show", "--farm"]).json();
    assert_eq!(on_b["server"], "server-b", "{on_b}");
    assert_eq!(on_b["certificate"]["friendly_name"], "rsa", "{on_b}");
    let on_a = a.ok(&["--json", "smtp", "show", "--farm"]).json();
    assert_eq!(on_a["server"], Value::Null, "{on_a}");
    assert_eq!(on_a["certificate"]["friendly_name"], "p256", "{on_a}");
    // Both certificates count as bound; the override is labelled with its server.
    let bound = a.list(&["--in-use"]);
    let labels: Vec<String> = bound
        .iter()
        .flat_map(|c| c["bound_to"].as_array().unwrap().clone())
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(labels.contains(&"farm".to_string()), "{labels:?}");
    assert!(
        labels.contains(&"farm (server server-b)".to_string()),
        "{labels:?}"
    );
    send(&b, "from b, its own certificate");
    send(&a, "from a, the farm's certificate");
    assert_eq!(pf.wait_for_delivered(3, wait), 3, "{}", pf.log());
    let msgs = pf.messages("rcpt@relay.test");
    let with = |subject: &str| {
        msgs.iter()
            .find(|m| {
                m.contains(&format!("Subject: {subject}\n"))
                    || m.contains(&format!("Subject: {subject}\r\n"))
            })
            .unwrap_or_else(|| panic!("no message {subject}: {msgs:?}"))
            .clone()
    };
    assert!(with("from b, its own certificate").contains("Client CN \"client-rsa.test\""));
    assert!(with("from a, the farm's certificate").contains("Client CN \"client-p256.test\""));
    // Cleared: B uses the farm's settings again.
    a.ok(&["smtp", "clear", "--farm", "--server", "server-b"]);
    let on_b = b.ok(&["--json", "smtp", "show", "--farm"]).json();
    assert_eq!(on_b["server"], Value::Null, "{on_b}");
    assert_eq!(on_b["certificate"]["friendly_name"], "p256", "{on_b}");
}

#[test]
fn farm_copy_moves_a_sqlite_farm_to_postgresql_and_back_verified() {
    let Some(pg) = cluster() else { return };
    let local = TestFarm::new();
    story(&local);
    let url = database(&pg, "moved");
    let pw = local.dir.path().join("pgpass");
    pg.write_pgpass(&pw).unwrap();
    let r = local
        .command(&["--json", "farm", "copy", "--to", &url])
        .env("PGPASSFILE", &pw)
        .output()
        .unwrap();
    let r = mailcert_tests::Run::from_output(r);
    assert_eq!(r.code, 0, "{r:?}");
    let report = r.json();
    let n = local.list(&[]).len();
    assert!(n > 10, "the story's farm has {n} certificates");
    assert_eq!(report["tables"]["certificates"], n, "{report}");
    assert_eq!(report["certificates_verified"], n, "{report}");
    // The PostgreSQL farm opens with the SQLite farm's key and lists the same.
    let moved = TestFarm::on_postgres(&url, pg.password(), "server-a");
    std::fs::copy(local.key_file(), moved.key_file()).unwrap();
    assert_eq!(moved.list(&[]), local.list(&[]));
    assert_eq!(
        moved.ok(&["--json", "audit"]).json(),
        local.ok(&["--json", "audit"]).json()
    );
    // Its secrets open there: an exportable key is exported the same.
    // (The story's certificates are not exportable: a sealed SMTP password proves it.)
    let r = moved.run_stdin(
        &[
            "smtp",
            "set",
            "--farm",
            "--smtp-user",
            "app",
            "--smtp-password-file",
            "-",
        ],
        b"pw-after-the-move\n",
    );
    assert_eq!(r.code, 0, "{r:?}");
    // A second copy into the same database is refused and changes nothing.
    let before = dump(&pg, "moved");
    let r = local
        .command(&["farm", "copy", "--to", &url])
        .env("PGPASSFILE", &pw)
        .output()
        .unwrap();
    let r = mailcert_tests::Run::from_output(r);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("already holds"), "{r:?}");
    assert!(
        dump(&pg, "moved") == before,
        "a refused copy writes nothing"
    );
    // And back, into a new SQLite file.
    let back = local.dir.path().join("back.db");
    let r = moved.ok(&["--json", "farm", "copy", "--to", back.to_str().unwrap()]);
    assert_eq!(r.json()["certificates_verified"], n);
    let f = TestFarm::empty();
    let r = f.run(&["--db", back.to_str().unwrap(), "--json", "cert", "list"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json().as_array().unwrap().len(), n);
}

/// A long-lived holder of a PostgreSQL farm (the relay's workers, the web page) survives
/// the server closing its connection: the next transaction connects again.
#[test]
fn a_connection_closed_by_the_server_is_made_again() {
    let Some(pg) = cluster() else { return };
    let url = database(&pg, "farm");
    let f = TestFarm::on_postgres(&url, pg.password(), "server-a");
    f.ok(&["init"]);
    f.ok(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
    ]);
    // The library, with the password in the URL (allowed outside the command line).
    let with_password = url.replacen("mailcert@", &format!("mailcert:{}@", pg.password()), 1);
    let db = mailcert_store::FarmDb::parse(std::ffi::OsStr::new(&with_password)).unwrap();
    let mut farm = mailcert_store::Farm::open(&db, &f.key_file()).unwrap();
    let count = |farm: &mut mailcert_store::Farm| {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        farm.read(|tx| tx.eligible_end_entity(now)).map(|v| v.len())
    };
    assert_eq!(count(&mut farm).unwrap(), 1);
    let killed = pg
        .psql(
            "postgres",
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'mailcert'",
        )
        .unwrap();
    assert_eq!(killed.trim(), "1", "one mailcert session was ended");
    // Idle past the check, the farm notices and connects again.
    std::thread::sleep(std::time::Duration::from_secs(6));
    assert_eq!(count(&mut farm).unwrap(), 1);
    // And it writes too.
    farm.write(|tx| tx.audit(0, "probe", "reconnect", ""))
        .unwrap();
    let audit = f.ok(&["--json", "audit", "--since", "1970-01-01"]).json();
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "probe"),
        "{audit}"
    );
}

/// Over the cluster's Unix socket (no TLS there, and the server trusts the socket): the
/// same farm as over TCP.
#[test]
fn a_farm_over_the_unix_socket() {
    let Some(pg) = cluster() else { return };
    let tcp = database(&pg, "farm");
    let a = TestFarm::on_postgres(&tcp, pg.password(), "server-a");
    a.ok(&["init"]);
    a.ok(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
    ]);
    let socket = format!(
        "postgres:///farm?host={}&port={}&user=mailcert",
        pg.socket_dir().display(),
        pg.port()
    );
    let b = joined(&a, &socket, "unused", "server-b");
    assert_eq!(b.list(&["--eligible"]), a.list(&["--eligible"]));
    assert_eq!(b.list(&[]).len(), 1);
}

/// The review's cases: a server name must name a server of the farm (exit 4), an empty
/// one is a usage error, `webapp remove` counts a server's own binding, and health
/// checks each row it finds a binding in.
#[test]
fn server_settings_are_for_servers_of_the_farm_and_count_as_bindings() {
    let Some(pg) = cluster() else { return };
    let url = database(&pg, "farm");
    let a = TestFarm::on_postgres(&url, pg.password(), "server-a");
    a.ok(&["init"]);
    a.ok(&[
        "cert",
        "import",
        "openssl3-default.pfx",
        "--password-file",
        "password.txt",
        "--friendly-name",
        "relay",
    ]);
    a.ok(&["webapp", "add", APP]);
    a.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "relay.contoso.com",
    ]);
    // A typo in a server's name is not a new override nobody uses.
    let r = a.run(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--server",
        "server-zz",
        "--smtp-server",
        "relay2.contoso.com",
    ]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr
            .contains("no server server-zz has joined this farm"),
        "{r:?}"
    );
    assert!(r.stderr.contains("hint: `mailcert server list`"), "{r:?}");
    let r = a.run(&["--server", "", "smtp", "show", "--farm"]);
    assert_eq!(r.code, 2, "{r:?}");
    // Only server-a's own settings of the web application bind the certificate.
    a.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--server",
        "server-a",
        "--smtp-server",
        "relay2.contoso.com",
        "--certificate",
        "name:relay",
    ]);
    // Seen from another server, the application has no binding; still the removal is
    // refused (exit 3), and allowed with --force, which unbinds it in the audit trail.
    let b = joined(&a, &url, pg.password(), "server-b");
    let r = b.run(&["webapp", "remove", APP]);
    rejected(&r, "bound");
    assert!(r.stderr.contains("(server server-a)"), "{r:?}");
    b.ok(&["webapp", "remove", APP, "--force"]);
    let audit = b.ok(&["--json", "audit"]).json();
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "unbind" && e["object"] == format!("{APP} (server server-a)")),
        "{audit}"
    );
    assert!(a.list(&["--in-use"]).is_empty());
}

#[test]
fn chain_only_tls_needs_the_databases_own_ca() {
    let Some(pg) = cluster() else { return };
    let url = pg.create_database("farm").unwrap();
    // require/verify-ca check no name: with the platform's CA store that is refused
    // before any connection (exit 2), never silently weakened.
    for mode in ["require", "verify-ca"] {
        let f = TestFarm::on_postgres(&format!("{url}?sslmode={mode}"), pg.password(), "a");
        let r = f.run(&["init"]);
        assert_eq!(r.code, 2, "{mode}: {r:?}");
        assert!(r.stderr.contains("sslrootcert"), "{mode}: {r:?}");
    }
    // With the database's own CA, the chain is checked and the name is not: the cluster's
    // certificate names localhost and 127.0.0.1, reached here as 127.0.0.1.
    let ca = pg.ca_pem().display().to_string();
    let f = TestFarm::on_postgres(
        &format!("{url}?sslmode=verify-ca&sslrootcert={ca}"),
        pg.password(),
        "a",
    );
    f.ok(&["init"]);
    // Another CA's file: refused, whatever the mode.
    let other = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let stranger = other.path().join("stranger.pem");
    std::fs::write(&stranger, p.self_signed(&key).unwrap().pem()).unwrap();
    let g = TestFarm::on_postgres(
        &format!("{url}?sslmode=verify-ca&sslrootcert={}", stranger.display()),
        pg.password(),
        "a",
    );
    std::fs::copy(f.key_file(), g.key_file()).unwrap();
    let r = g.run(&["cert", "list"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("UnknownIssuer"), "{r:?}");
}

/// A database password file that others can read is refused (exit 1), naming the file
/// and the fix, and never showing the password.
#[test]
fn a_password_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let Some(pg) = cluster() else { return };
    let url = database(&pg, "farm");
    let f = TestFarm::on_postgres(&url, pg.password(), "server-a");
    std::fs::set_permissions(f.password_file(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = f.run(&["init"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("chmod 600"), "{r:?}");
    assert!(r.stderr.contains("db-password"), "{r:?}");
    assert!(!r.stderr.contains(pg.password()), "{r:?}");
    assert!(!f.key_file().exists(), "nothing made");
    std::fs::set_permissions(f.password_file(), std::fs::Permissions::from_mode(0o600)).unwrap();
    f.ok(&["init"]);
    // The same for a ~/.pgpass (libpq would skip it with a warning; a silent skip here
    // would surface later as a puzzling authentication failure).
    let pgpass = f.dir.path().join("pgpass");
    pg.write_pgpass(&pgpass).unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = mailcert_tests::Run::from_output(
        f.command(&["cert", "list"])
            .env_remove("MAILCERT_DB_PASSWORD_FILE")
            .env("PGPASSFILE", &pgpass)
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("chmod 600"), "{r:?}");
    assert!(r.stderr.contains("pgpass"), "{r:?}");
    assert!(!r.stderr.contains(pg.password()), "{r:?}");
}

/// In a database whose collation is a language's (ICU en-US), listings still sort as on
/// SQLite (byte order): the columns they sort by are `COLLATE "C"`.
#[test]
fn listings_sort_the_same_whatever_the_database_locale() {
    let Some(pg) = cluster() else { return };
    pg.psql(
        "postgres",
        "CREATE DATABASE icu OWNER mailcert LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C' TEMPLATE template0",
    )
    .unwrap();
    // The database really sorts like a language: lower case before upper case.
    let sorted = pg
        .psql(
            "icu",
            "SELECT string_agg(n, ',' ORDER BY n) FROM (VALUES ('Mail2'), ('mail1')) v(n)",
        )
        .unwrap();
    assert_eq!(sorted.trim(), "mail1,Mail2");
    let url = format!(
        "postgres://mailcert@127.0.0.1:{}/icu?sslrootcert={}",
        pg.port(),
        pg.ca_pem().display()
    );
    let sqlite = TestFarm::new();
    let a = TestFarm::on_postgres(&url, pg.password(), "mail1");
    a.ok(&["init"]);
    joined(&a, &url, pg.password(), "Mail2");
    let names = |f: &TestFarm| -> Vec<String> {
        f.ok(&["--json", "server", "list"])
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&a), ["Mail2", "mail1"], "byte order, as SQLite");
    // The same certificates list in the same order on both backends.
    for f in [&sqlite, &a] {
        f.ok(&["cert", "import", "client-rsa.chain.pem"]);
        f.ok(&[
            "cert",
            "import",
            "client-p256.pem",
            "--key",
            "client-p256.key",
        ]);
    }
    let order = |f: &TestFarm| -> Vec<String> {
        f.list(&[])
            .iter()
            .map(|c| c["thumbprint_sha1"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(order(&a), order(&sqlite));
}

/// `farm copy` killed with SIGKILL in the middle of writing: the destination holds none
/// of the rows (the server rolls the one transaction back), and the copy run again
/// completes and verifies. Lost 0, duplicated 0.
#[test]
fn a_farm_copy_killed_mid_write_leaves_nothing_and_can_be_run_again() {
    use mailcert_store::{Farm, NewCert, StoreName, cert_facts};
    let Some(pg) = cluster() else { return };
    // A source farm big enough for the copy to take a while: 3,000 certificates.
    let local = TestFarm::new();
    {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let issuer = rcgen::Issuer::new(p, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let ders: Vec<Vec<u8>> = (0..3_000u64)
            .map(|i| {
                let mut p = rcgen::CertificateParams::new(vec![format!("c{i}.kill.test")]).unwrap();
                p.serial_number = Some(rcgen::SerialNumber::from((i + 1).to_be_bytes().to_vec()));
                p.signed_by(&key, &issuer).unwrap().der().to_vec()
            })
            .collect();
        let mut farm = Farm::open(local.db(), &local.key_file()).unwrap();
        farm.write(|tx| {
            for der in &ders {
                let facts = cert_facts(std::path::Path::new("kill"), der)?;
                tx.insert(&NewCert {
                    facts: &facts,
                    der,
                    store: StoreName::EndEntity,
                    friendly_name: None,
                    now: 0,
                })?;
            }
            Ok::<_, mailcert_store::Error>(())
        })
        .unwrap();
    }
    let n = local.list(&[]).len();
    assert_eq!(n, 3_000);
    let url = database(&pg, "moved");
    let pw = local.dir.path().join("pgpass");
    pg.write_pgpass(&pw).unwrap();
    let copy = || {
        let mut c = local.command(&["--json", "farm", "copy", "--to", &url]);
        c.env("PGPASSFILE", &pw)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c
    };
    let mut child = copy().spawn().unwrap();
    // Wait until the copy's session is inside its transaction, then SIGKILL it.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let busy = pg
            .psql(
                "postgres",
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'moved' \
                 AND application_name = 'mailcert' AND xact_start IS NOT NULL \
                 AND query LIKE 'INSERT INTO certificates%'",
            )
            .unwrap();
        if busy.trim() != "0" {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the copy ended before it could be killed"
        );
        assert!(std::time::Instant::now() < until, "the copy never wrote");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "still copying when killed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // The server notices the dead session and rolls its transaction back.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while pg
        .psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'moved' AND application_name = 'mailcert'",
        )
        .unwrap()
        .trim()
        != "0"
    {
        assert!(std::time::Instant::now() < until, "the killed session lingers");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    for table in ["certificates", "audit_log", "meta", "servers"] {
        let rows = pg
            .psql("moved", &format!("SELECT count(*) FROM {table}"))
            .unwrap();
        assert_eq!(rows.trim(), "0", "{table}: a killed copy left rows");
    }
    // Run again: it completes, and every certificate is there once.
    let out = copy().output().unwrap();
    let r = mailcert_tests::Run::from_output(out);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["certificates_verified"], n);
    let distinct = pg
        .psql(
            "moved",
            "SELECT count(*), count(DISTINCT thumbprint_sha1) FROM certificates",
        )
        .unwrap();
    assert_eq!(distinct.trim(), "3000|3000", "lost 0, duplicated 0");
}

/// Six servers run `init` on one empty database at the same moment: one farm is made,
/// by exactly one of them, with its server row, key check and `init` audit line written
/// together; every other one fails naming the master key, keeps no key file, and can
/// then join with the winner's key.
#[test]
fn servers_initialising_one_database_at_once_make_exactly_one_farm() {
    let Some(pg) = cluster() else { return };
    let url = database(&pg, "farm");
    let servers: Vec<TestFarm> = (0..6)
        .map(|i| TestFarm::on_postgres(&url, pg.password(), &format!("server-{i}")))
        .collect();
    let children: Vec<_> = servers
        .iter()
        .map(|f| {
            f.command(&["init"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let winners: Vec<usize> = (0..6).filter(|&i| outputs[i].status.success()).collect();
    assert_eq!(winners.len(), 1, "{outputs:?}");
    let winner = winners[0];
    for (i, o) in outputs.iter().enumerate().filter(|(i, _)| *i != winner) {
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("master key"), "{err}");
        assert!(
            !servers[i].key_file().exists(),
            "a losing init leaves no key file: {err}"
        );
    }
    let rows = |sql: &str| pg.psql("farm", sql).unwrap().trim().to_string();
    assert_eq!(rows("SELECT name FROM servers"), format!("server-{winner}"));
    assert_eq!(
        rows("SELECT count(*) FROM meta WHERE key = 'master_key_check'"),
        "1"
    );
    assert_eq!(
        rows("SELECT action || ' ' || object FROM audit_log"),
        format!("init server-{winner}")
    );
    for (i, f) in servers.iter().enumerate().filter(|(i, _)| *i != winner) {
        std::fs::copy(servers[winner].key_file(), f.key_file()).unwrap();
        let r = f.ok(&["init", "--join"]);
        assert!(r.stdout.contains(&format!("server-{i} joined")), "{r:?}");
    }
    assert_eq!(rows("SELECT count(*) FROM servers"), "6");
}

/// The shape of `smtp_settings` in a PostgreSQL database: columns, constraints and
/// indexes, for comparing an upgraded farm with a new one.
fn settings_shape(pg: &Postgres, db: &str) -> String {
    pg.psql(
        db,
        "SELECT string_agg(x, E'\\n' ORDER BY x) FROM (
           SELECT 'column ' || column_name || ' ' || data_type || ' '
                  || coalesce(collation_name, '-') || ' ' || is_nullable AS x
             FROM information_schema.columns WHERE table_name = 'smtp_settings'
           UNION ALL
           SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid)
             FROM pg_constraint WHERE conrelid = 'smtp_settings'::regclass
           UNION ALL
           SELECT 'index ' || indexdef FROM pg_indexes WHERE tablename = 'smtp_settings'
         ) s",
    )
    .unwrap()
}

/// A PostgreSQL farm of schema 5 (before settings per server), with settings for the
/// farm and a web application and a sealed SMTP password in them, is brought to the
/// current schema by the first command that opens it: every row and sealed byte stays,
/// the table ends up shaped exactly as in a new farm, and its new rules hold (one row
/// per level and server; `smtp set --server` works at once).
#[test]
fn a_schema_5_postgresql_farm_upgrades_with_its_settings_intact() {
    let Some(pg) = cluster() else { return };
    let url = database(&pg, "farm");
    let f = TestFarm::on_postgres(&url, pg.password(), "server-a");
    f.ok(&["init"]);
    f.ok(&[
        "cert",
        "import",
        "openssl3-default.pfx",
        "--password-file",
        "password.txt",
        "--friendly-name",
        "relay",
    ]);
    f.ok(&["webapp", "add", APP]);
    let r = f.run_stdin(
        &[
            "smtp",
            "set",
            "--farm",
            "--smtp-server",
            "relay.contoso.com",
            "--certificate",
            "name:relay",
            "--smtp-user",
            "app",
            "--smtp-password-file",
            "-",
        ],
        b"pw-from-schema-5\n",
    );
    assert_eq!(r.code, 0, "{r:?}");
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--smtp-server",
        "relay2.contoso.com",
        "--port",
        "587",
        "--certificate",
        "name:relay",
    ]);
    let fresh_shape = settings_shape(&pg, "farm");
    // Back to the shape migrations 1 to 5 left (schema.rs: PG_MIGRATIONS[1] made the
    // UNIQUE web application and the one-farm index; 6 replaced them).
    pg.psql(
        "farm",
        "BEGIN;
         DROP INDEX smtp_settings_webapp;
         DROP INDEX smtp_settings_scope;
         ALTER TABLE smtp_settings DROP COLUMN server;
         ALTER TABLE smtp_settings ADD CONSTRAINT smtp_settings_web_application_id_key
             UNIQUE (web_application_id);
         CREATE UNIQUE INDEX smtp_settings_one_farm
             ON smtp_settings ((web_application_id IS NULL)) WHERE web_application_id IS NULL;
         UPDATE mailcert_schema SET version = 5;
         COMMIT;",
    )
    .unwrap();
    assert_ne!(settings_shape(&pg, "farm"), fresh_shape);
    let rows = |sql: &str| pg.psql("farm", sql).unwrap().trim().to_string();
    let data = "SELECT string_agg(id || ' ' || coalesce(web_application_id::text, 'farm') || ' '
                || smtp_server || ' ' || port || ' ' || coalesce(certificate_sha1, '-') || ' '
                || coalesce(md5(smtp_password), '-'), E'\\n' ORDER BY id) FROM smtp_settings";
    let before = rows(data);
    assert_eq!(before.lines().count(), 2, "{before}");
    let relay = f.ok(&["--json", "cert", "show", "name:relay"]).json();
    let relay = relay["thumbprint_sha1"].as_str().unwrap();
    assert_eq!(before.matches(relay).count(), 2, "{before}");

    // The first command opens it and upgrades it.
    let shown = f.ok(&["--json", "smtp", "show", "--farm"]).json();
    assert_eq!(shown["smtp_server"], "relay.contoso.com", "{shown}");
    assert_eq!(shown["certificate"]["friendly_name"], "relay", "{shown}");
    assert_eq!(rows("SELECT version FROM mailcert_schema"), "6");
    assert_eq!(rows(data), before, "every row and sealed byte stays");
    assert_eq!(settings_shape(&pg, "farm"), fresh_shape);
    // The new rules: a second farm-wide row for every server is refused by the index;
    // a server's own settings can be made.
    let dup = pg.psql(
        "farm",
        "INSERT INTO smtp_settings (smtp_server, port, encryption, charset, updated_at)
         VALUES ('x', 25, 'starttls', 'utf-8', 0)",
    );
    assert!(
        dup.as_ref()
            .is_err_and(|e| e.contains("smtp_settings_scope")),
        "{dup:?}"
    );
    f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--server",
        "server-a",
        "--from",
        "server-a@contoso.com",
    ]);
    let mine = f.ok(&["--json", "smtp", "show", "--farm"]).json();
    assert_eq!(mine["from_address"], "server-a@contoso.com", "{mine}");
    assert_eq!(mine["server"], "server-a", "{mine}");
    assert_eq!(rows("SELECT count(*) FROM smtp_settings"), "3");
}

/// A copy that fails after its new SQLite file was made (here: the source's master key
/// is another farm's, found only once the copy starts) leaves no file behind, so the
/// same command can be run again once the key is right.
#[test]
fn a_failed_copy_into_a_new_file_leaves_no_file() {
    let f = TestFarm::new();
    f.ok(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
    ]);
    let other = TestFarm::new();
    let to = f.dir.path().join("copy.db");
    let to_s = to.to_str().unwrap();
    let r = mailcert_tests::Run::from_output(
        f.command(&["farm", "copy", "--to", to_s])
            .env("MAILCERT_MASTER_KEY_FILE", other.key_file())
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("master key"), "{r:?}");
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{to_s}{suffix}");
        assert!(!std::path::Path::new(&p).exists(), "{p} was left behind");
    }
    let r = f.ok(&["--json", "farm", "copy", "--to", to_s]).json();
    assert_eq!(r["certificates_verified"], 1, "{r}");
}
