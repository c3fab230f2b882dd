//! End-to-end tests of web applications, outgoing e-mail settings and certificate
//! bindings (`mailcert webapp`, `smtp`, `cert switch/remove/move --force/import --replace`,
//! `audit`), against a real SQLite farm.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use mailcert_tests::{Run, TestFarm, contains, fixture, sha1_of};
use serde_json::Value;

const APP: &str = "https://intranet.contoso.com";

/// A farm with client-rsa (eligible, name "relay"), client-p256 (eligible, "spare"),
/// expired (ineligible) and a web application.
fn farm() -> TestFarm {
    let f = TestFarm::new();
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
    f.ok(&["cert", "import", "expired.pem", "--key", "expired.key"]);
    f.ok(&[
        "webapp",
        "add",
        "HTTPS://Intranet.Contoso.COM:443/",
        "--name",
        "Intranet",
    ]);
    f
}

fn show(f: &TestFarm, target: &[&str]) -> Value {
    let mut a = vec!["--json", "smtp", "show"];
    a.extend_from_slice(target);
    let r = f.run(&a);
    assert!(r.code == 0 || r.code == 3, "{r:?}");
    r.json()
}

fn rejected(r: &Run, rule: &str) {
    assert_eq!(r.code, 3, "expected rule {rule}: {r:?}");
    assert!(
        r.stderr.contains(rule),
        "expected rule {rule}: {}",
        r.stderr
    );
}

#[test]
fn web_applications_are_normalised_listed_and_removed() {
    let f = farm();
    let list = f.ok(&["--json", "webapp", "list"]).json();
    assert_eq!(list[0]["url"], APP);
    assert_eq!(list[0]["name"], "Intranet");
    rejected(
        &f.run(&["webapp", "add", "https://intranet.contoso.com/"]),
        "already exists",
    );
    assert_eq!(f.run(&["webapp", "add", "intranet"]).code, 3);
    f.ok(&["webapp", "add", "http://hr:8080/sites/hr/"]);
    let list = f.ok(&["--json", "webapp", "list"]).json();
    assert_eq!(list[0]["url"], "http://hr:8080/sites/hr");
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--smtp-server",
        "relay.contoso.com",
        "--certificate",
        "name:relay",
    ]);
    // Issue #13: a bound certificate keeps the application unless forced, as for
    // `cert remove`; the hint comes after the error it explains.
    let r = f.run(&["webapp", "remove", APP]);
    assert_eq!(r.code, 3, "{r:?}");
    let err = r
        .stderr
        .find("mailcert: bound: web application")
        .expect("the rule first");
    let hint = r.stderr.find("hint: --force").expect("then the hint");
    assert!(err < hint, "{r:?}");
    assert_eq!(
        f.ok(&["--json", "webapp", "list"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        2,
        "nothing removed"
    );
    f.ok(&["webapp", "remove", APP, "--force"]);
    assert_eq!(f.run(&["webapp", "remove", APP]).code, 4);
    assert_eq!(f.run(&["smtp", "show", "--webapp", APP]).code, 4);
    // Its binding went with it.
    let c = f.ok(&["--json", "cert", "show", "name:relay"]).json();
    assert!(c["bound_to"].as_array().unwrap().is_empty(), "{c}");
}

#[test]
fn farm_fallback_keep_what_was_left_out_and_clear() {
    let f = farm();
    assert_eq!(f.run(&["smtp", "show", "--farm"]).code, 4);
    // The server is needed the first time.
    rejected(
        &f.run(&["smtp", "set", "--farm", "--from", "sp@contoso.com"]),
        "server",
    );
    f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "relay.contoso.com",
        "--from",
        "sp@contoso.com",
        "--reply-to",
        "help@contoso.com",
    ]);
    let s = show(&f, &["--webapp", APP]);
    assert_eq!(s["source"], "farm");
    assert_eq!(s["smtp_server"], "relay.contoso.com");
    assert_eq!(s["port"], 25);
    assert_eq!(s["encryption"], "starttls");
    assert_eq!(s["charset"], "utf-8");
    // Left-out options keep their values.
    f.ok(&["smtp", "set", "--farm", "--port", "587"]);
    let s = show(&f, &["--farm"]);
    assert_eq!(s["port"], 587);
    assert_eq!(s["from_address"], "sp@contoso.com");
    assert_eq!(s["reply_to"], "help@contoso.com");
    f.ok(&["smtp", "set", "--farm", "--reply-to", ""]);
    assert_eq!(show(&f, &["--farm"])["reply_to"], Value::Null);
    // The web application's own settings win; implicit TLS defaults to 465.
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--smtp-server",
        "smtps.contoso.com",
        "--encryption",
        "tls",
        "--certificate",
        "name:relay",
    ]);
    let s = show(&f, &["--webapp", APP]);
    assert_eq!(s["source"], "web-application");
    assert_eq!(s["port"], 465);
    assert_eq!(
        s["certificate"]["thumbprint_sha1"],
        sha1_of("client-rsa.pem")
    );
    // Issue #13: own settings without From take the farm's, and say so.
    assert_eq!(s["from_address"], "sp@contoso.com");
    assert_eq!(s["from_address_inherited"], true);
    assert_eq!(s["reply_to"], Value::Null, "the farm's was cleared above");
    let text = f.ok(&["smtp", "show", "--webapp", APP]).stdout;
    assert!(
        text.contains("from the web application") && text.contains("[Expiration: 2045-01-01]"),
        "{text}"
    );
    assert!(
        text.contains("sp@contoso.com (the farm's: this application sets none)"),
        "{text}"
    );
    assert!(text.contains("Status:              ok"), "{text}");
    // Switching encryption moves a port that was the default along; a chosen one stays
    // with a warning.
    let r = f.ok(&["smtp", "set", "--webapp", APP, "--encryption", "starttls"]);
    assert_eq!(show(&f, &["--webapp", APP])["port"], 25, "{r:?}");
    assert!(r.stdout.contains("port: 465 -> 25"), "{r:?}");
    f.ok(&["smtp", "set", "--webapp", APP, "--port", "2525"]);
    let r = f.ok(&["smtp", "set", "--webapp", APP, "--encryption", "tls"]);
    assert_eq!(show(&f, &["--webapp", APP])["port"], 2525);
    assert!(r.stderr.contains("the usual port for it is 465"), "{r:?}");
    f.ok(&["smtp", "set", "--webapp", APP, "--port", "465"]);
    f.ok(&["smtp", "clear", "--webapp", APP]);
    assert_eq!(show(&f, &["--webapp", APP])["source"], "farm");
    assert!(
        f.ok(&["smtp", "clear", "--webapp", APP])
            .stdout
            .contains("nothing changed")
    );
}

/// Every binding rule, pass and fail; a refusal changes nothing.
#[test]
fn every_rule_refuses_with_exit_3_and_changes_nothing() {
    let f = farm();
    f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "relay.contoso.com",
        "--from",
        "sp@contoso.com",
    ]);
    let before = show(&f, &["--farm"]);
    let expired = sha1_of("expired.pem");
    let pw = f.dir.path().join("pw");
    std::fs::write(&pw, "Sup3r-s3cret!\n").unwrap();
    let pw = pw.to_str().unwrap();
    // The password rules live in the binding crate, for the web page as for the CLI.
    let empty_pw = f.dir.path().join("empty-pw");
    std::fs::write(&empty_pw, "\n").unwrap();
    let empty_pw = empty_pw.to_str().unwrap();
    let nul_pw = f.dir.path().join("nul-pw");
    std::fs::write(&nul_pw, "se\0cret\n").unwrap();
    let nul_pw = nul_pw.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--smtp-server", "bad host name"], "server"),
        (vec!["--smtp-server", "relay..contoso.com"], "server"),
        (vec!["--port", "0"], "port"),
        (vec!["--port", "70000"], "port"),
        (vec!["--port", "smtp"], "port"),
        (vec!["--port", "99999999999"], "port"),
        (
            vec!["--smtp-user", "svc", "--smtp-password-file", empty_pw],
            "credentials",
        ),
        (
            vec!["--smtp-user", "svc", "--smtp-password-file", nul_pw],
            "credentials",
        ),
        (vec!["--from", "not-an-address"], "address"),
        (vec!["--reply-to", "x@"], "address"),
        (vec!["--charset", "klingon-8"], "charset"),
        (vec!["--helo", "bad helo"], "helo"),
        (
            vec!["--certificate", "name:relay", "--encryption", "none"],
            "certificate-needs-tls",
        ),
        (
            vec!["--certificate", "name:relay", "--disable-smtp-encryption"],
            "certificate-needs-tls",
        ),
        (
            vec![
                "--smtp-user",
                "svc",
                "--smtp-password-file",
                pw,
                "--encryption",
                "none",
            ],
            "credentials-need-tls",
        ),
        (vec!["--certificate", &expired], "certificate-eligible"),
    ];
    for (args, rule) in cases {
        let mut a = vec!["smtp", "set", "--farm"];
        a.extend(args.iter().copied());
        rejected(&f.run(&a), rule);
        assert_eq!(
            show(&f, &["--farm"]),
            before,
            "{args:?} changed the settings"
        );
    }
    // The ineligible certificate's reasons are listed.
    let r = f.run(&[
        "smtp",
        "set",
        "--farm",
        "--certificate",
        &sha1_of("expired.pem"),
    ]);
    assert!(r.stderr.contains("expired on 2021-01-01"), "{r:?}");
    // An unknown certificate is not found.
    assert_eq!(
        f.run(&["smtp", "set", "--farm", "--certificate", "name:nobody"])
            .code,
        4
    );
    // An unknown web application is not found.
    assert_eq!(
        f.run(&[
            "smtp",
            "set",
            "--webapp",
            "https://nowhere",
            "--smtp-server",
            "x"
        ])
        .code,
        4
    );
    // And the passing forms of the same rules.
    for args in [
        vec!["--smtp-server", "10.0.0.25"],
        vec!["--smtp-server", "::1"],
        vec!["--smtp-server", "relay.contoso.com", "--port", "65535"],
        vec![
            "--from",
            "SharePoint <sp@contoso.com>",
            "--reply-to",
            "help@contoso.com",
        ],
        vec!["--charset", "iso-8859-1"],
        vec!["--helo", "sp01.contoso.com"],
        vec!["--encryption", "none"],
        vec!["--encryption", "starttls", "--certificate", "name:relay"],
        vec!["--smtp-user", "svc", "--smtp-password-file", pw],
    ] {
        let mut a = vec!["smtp", "set", "--farm"];
        a.extend(args.iter().copied());
        f.ok(&a);
    }
}

#[test]
fn the_smtp_password_never_shows_anywhere() {
    let f = farm();
    let secret = "Sup3r-s3cret-pässword";
    let r = f.run_stdin(
        &[
            "smtp",
            "set",
            "--farm",
            "--smtp-server",
            "relay.contoso.com",
            "--smtp-user",
            "svc",
            "--smtp-password-file",
            "-",
        ],
        format!("{secret}\n").as_bytes(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let mut outputs = vec![r];
    outputs.push(f.ok(&["smtp", "show", "--farm"]));
    outputs.push(f.ok(&["--json", "smtp", "show", "--farm"]));
    outputs.push(f.ok(&["audit"]));
    outputs.push(f.ok(&["--json", "audit"]));
    outputs.push(f.ok(&["webapp", "list"]));
    for o in &outputs {
        assert!(
            !o.stdout.contains(secret) && !o.stderr.contains(secret),
            "{o:?}"
        );
    }
    let j = f.ok(&["--json", "smtp", "show", "--farm"]).json();
    assert_eq!(j["smtp_password_set"], true);
    assert_eq!(j["smtp_user"], "svc");
    assert!(!contains(&f.database_bytes(), secret.as_bytes()));
    assert!(!contains(&f.database_bytes(), b"s3cret"));
    // Credentials removed, and never without encryption.
    f.ok(&["smtp", "set", "--farm", "--no-smtp-credentials"]);
    let j = f.ok(&["--json", "smtp", "show", "--farm"]).json();
    assert_eq!(j["smtp_password_set"], false);
    assert_eq!(j["smtp_user"], Value::Null);
    // No password source and no terminal: a usage error, not a prompt.
    assert_eq!(
        f.run(&["smtp", "set", "--farm", "--smtp-user", "svc"]).code,
        2
    );
}

#[test]
fn bindings_show_from_the_certificate_side() {
    let f = farm();
    f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "relay.contoso.com",
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
        "--certificate",
        "name:relay",
    ]);
    let c = f.ok(&["--json", "cert", "show", "name:relay"]).json();
    assert_eq!(c["bound_to"], serde_json::json!(["farm", APP]));
    let in_use = f.list(&["--in-use"]);
    assert_eq!(in_use.len(), 1);
    assert_eq!(in_use[0]["thumbprint_sha1"], sha1_of("client-rsa.pem"));
    let all = f.list(&[]);
    let spare = all.iter().find(|c| c["friendly_name"] == "spare").unwrap();
    assert_eq!(spare["bound_to"], serde_json::json!([]));
}

#[test]
fn remove_and_move_refuse_a_bound_certificate_unless_forced() {
    let f = farm();
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--smtp-server",
        "relay.contoso.com",
        "--certificate",
        "name:relay",
    ]);
    let r = f.run(&["cert", "remove", "name:relay"]);
    rejected(&r, "bound");
    assert!(r.stderr.contains(APP), "{r:?}");
    let r = f.run(&["cert", "move", "name:relay", "--to", "pending"]);
    rejected(&r, "bound");
    assert_eq!(f.list(&["--in-use"]).len(), 1, "nothing changed");
    // Moving within End Entity is no move at all.
    f.ok(&["cert", "move", "name:relay", "--to", "end-entity"]);
    let j = f
        .ok(&[
            "--json",
            "cert",
            "move",
            "name:relay",
            "--to",
            "pending",
            "--force",
        ])
        .json();
    assert_eq!(j["cleared_bindings"], serde_json::json!([APP]));
    assert_eq!(show(&f, &["--webapp", APP])["certificate"], Value::Null);
    f.ok(&["cert", "move", "name:relay", "--to", "end-entity"]);
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--certificate",
        "name:relay",
    ]);
    let j = f
        .ok(&["--json", "cert", "remove", "name:relay", "--force"])
        .json();
    assert_eq!(j["cleared_bindings"], serde_json::json!([APP]));
    assert!(f.list(&["--in-use"]).is_empty());
}

#[test]
fn switch_moves_every_binding_atomically() {
    let f = farm();
    f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "relay.contoso.com",
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
        "--certificate",
        "name:relay",
    ]);
    // An ineligible target is refused and nothing moves.
    let r = f.run(&["cert", "switch", "name:relay", &sha1_of("expired.pem")]);
    rejected(&r, "eligible");
    assert_eq!(f.list(&["--in-use"])[0]["friendly_name"], "relay");
    let j = f
        .ok(&["--json", "cert", "switch", "name:relay", "name:spare"])
        .json();
    assert_eq!(j["moved"], serde_json::json!(["farm", APP]));
    let in_use = f.list(&["--in-use"]);
    assert_eq!(in_use.len(), 1);
    assert_eq!(in_use[0]["friendly_name"], "spare");
    assert_eq!(in_use[0]["bound_to"], serde_json::json!(["farm", APP]));
    assert_eq!(
        f.run(&["cert", "switch", "name:spare", "name:nobody"]).code,
        4
    );
}

/// A renewal: same subject and alternative names, issued by the same CA, expiring later.
fn renewal_of_client_p256(
    dir: &std::path::Path,
    not_after_year: i32,
    cn: &str,
) -> (String, String) {
    let ca_cert = std::fs::read_to_string(fixture("intermediate-ca.pem")).unwrap();
    let ca_key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(fixture("intermediate-ca.key")).unwrap())
            .unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_cert, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(vec![cn.to_string()]).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name
        .push(rcgen::DnType::OrganizationName, "mailcert tests");
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    p.not_before = rcgen::date_time_ymd(2025, 6, 1);
    p.not_after = rcgen::date_time_ymd(not_after_year, 1, 1);
    let cert = p.signed_by(&key, &issuer).unwrap();
    let path = dir.join(format!("renewal-{cn}-{not_after_year}.pem"));
    std::fs::write(&path, format!("{}{}", cert.pem(), key.serialize_pem())).unwrap();
    let sha1 = mailcert_store::thumbprints(cert.der()).0;
    (path.to_str().unwrap().to_string(), sha1)
}

#[test]
fn import_replace_takes_over_the_bindings_of_the_certificate_it_renews() {
    let f = farm();
    f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "relay.contoso.com",
        "--certificate",
        "name:spare",
    ]);
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--smtp-server",
        "relay.contoso.com",
        "--certificate",
        "name:spare",
    ]);
    let d = tempfile::tempdir().unwrap();
    // Not a renewal (other subject): refused, and the import is rolled back with it.
    let (other, other_sha1) = renewal_of_client_p256(d.path(), 2046, "someone-else.test");
    let r = f.run(&["cert", "import", &other, "--replace"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("renews no bound certificate"), "{r:?}");
    assert!(
        f.run(&["cert", "show", &other_sha1]).code == 4,
        "rolled back"
    );
    // Expiring earlier than the bound one: not a renewal either.
    let (older, _) = renewal_of_client_p256(d.path(), 2044, "client-p256.test");
    assert_eq!(f.run(&["cert", "import", &older, "--replace"]).code, 3);
    let (renewal, renewal_sha1) = renewal_of_client_p256(d.path(), 2046, "client-p256.test");
    let j = f
        .ok(&["--json", "cert", "import", &renewal, "--replace"])
        .json();
    assert_eq!(
        j[0]["replaced"][0]["thumbprint_sha1"],
        sha1_of("client-p256.pem")
    );
    assert_eq!(
        j[0]["replaced"][0]["bindings_moved"],
        serde_json::json!(["farm", APP])
    );
    assert_eq!(
        j[0]["certificate"]["bound_to"],
        serde_json::json!(["farm", APP])
    );
    assert_eq!(
        show(&f, &["--webapp", APP])["certificate"]["thumbprint_sha1"],
        renewal_sha1
    );
    let old = f.ok(&["--json", "cert", "show", "name:spare"]).json();
    assert!(old["bound_to"].as_array().unwrap().is_empty());
}

#[test]
fn a_binding_that_went_bad_is_flagged_and_exits_3() {
    let f = farm();
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--smtp-server",
        "relay.contoso.com",
        "--certificate",
        "name:relay",
    ]);
    assert_eq!(f.run(&["smtp", "show", "--webapp", APP]).code, 0);
    // In 2046 the certificate has expired.
    let o = f
        .command(&["smtp", "show", "--webapp", APP])
        .env("MAILCERT_NOW", "2046-01-01T00:00:00Z")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("PROBLEM") && text.contains("expired on 2045-01-01"),
        "{text}"
    );
    let o = f
        .command(&["--json", "webapp", "list"])
        .env("MAILCERT_NOW", "2046-01-01T00:00:00Z")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j[0]["settings"]["healthy"], false);
    // A certificate gone from under its binding (e.g. deleted by another tool).
    let conn = rusqlite::Connection::open(f.db()).unwrap();
    conn.execute("DELETE FROM certificates WHERE friendly_name = 'relay'", [])
        .unwrap();
    let r = f.run(&["smtp", "show", "--webapp", APP]);
    assert_eq!(r.code, 3);
    assert!(r.stdout.contains("no longer in the farm"), "{r:?}");
    // Changing any other setting is refused until the binding is mended.
    rejected(
        &f.run(&["smtp", "set", "--webapp", APP, "--port", "26"]),
        "certificate-eligible",
    );
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--certificate",
        "name:spare",
    ]);
    assert_eq!(f.run(&["smtp", "show", "--webapp", APP]).code, 0);
}

#[test]
fn audit_trail_records_every_change_without_secrets() {
    let f = farm();
    let pw = f.dir.path().join("pw");
    std::fs::write(&pw, "hunter2-very-secret").unwrap();
    f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "relay.contoso.com",
        "--certificate",
        "name:relay",
        "--smtp-user",
        "svc",
        "--smtp-password-file",
        pw.to_str().unwrap(),
    ]);
    f.ok(&["cert", "switch", "name:relay", "name:spare"]);
    f.ok(&["cert", "rename", "name:relay", "old-relay"]);
    f.ok(&["smtp", "set", "--farm", "--no-certificate"]);
    let j = f.ok(&["--json", "audit"]).json();
    let actions: Vec<&str> = j
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "import",
        "webapp add",
        "settings change",
        "bind",
        "switch",
        "rename",
        "unbind",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    assert_eq!(actions[0], "unbind", "newest first: {actions:?}");
    let text = serde_json::to_string(&j).unwrap();
    assert!(!text.contains("hunter2"));
    assert!(text.contains("smtp-password: (changed)"), "{text}");
    // Issue #13: each change is recorded as field: old -> new; a call that changes
    // nothing writes nothing and says so.
    assert!(
        text.contains("server: (none) -> relay.contoso.com")
            || text.contains("server: relay.contoso.com"),
        "{text}"
    );
    let before = j.as_array().unwrap().len();
    let same = f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "relay.contoso.com",
    ]);
    assert!(same.stdout.contains("unchanged"), "{same:?}");
    let after = f.ok(&["--json", "audit"]).json();
    assert_eq!(
        after.as_array().unwrap().len(),
        before,
        "no audit line for no change"
    );
    let moved = f.ok(&["smtp", "set", "--farm", "--charset", "iso-8859-1"]);
    assert!(
        moved.stdout.contains("charset: utf-8 -> iso-8859-1"),
        "{moved:?}"
    );
    let after = f.ok(&["--json", "audit"]).json();
    assert_eq!(
        after[0]["detail"], "charset: utf-8 -> iso-8859-1",
        "{after}"
    );
    assert!(j[0]["actor"].as_str().is_some_and(|a| !a.is_empty()));
    assert!(j[0]["at"].as_str().unwrap().ends_with('Z'));
    assert!(
        f.ok(&["--json", "audit", "--since", "1h"])
            .json()
            .as_array()
            .unwrap()
            .len()
            == after.as_array().unwrap().len()
    );
    assert!(
        f.ok(&["--json", "audit", "--since", "2999-01-01"])
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(f.run(&["audit", "--since", "yesterday-ish"]).code, 2);
}

/// Several processes setting the farm's settings at once leave one consistent result:
/// one row, whose fields all come from the same writer.
#[test]
fn concurrent_smtp_set_leaves_one_consistent_result() {
    let f = farm();
    f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "relay.contoso.com",
    ]);
    let n = 8;
    let children: Vec<_> = (0..n)
        .map(|i| {
            let from = format!("writer{i}@contoso.com");
            let port = format!("{}", 2500 + i);
            let server = format!("relay{i}.contoso.com");
            f.command(&[
                "smtp",
                "set",
                "--farm",
                "--smtp-server",
                &server,
                "--port",
                &port,
                "--from",
                &from,
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{o:?}");
    }
    let s = show(&f, &["--farm"]);
    let port = s["port"].as_u64().unwrap();
    let i = port - 2500;
    assert!(i < n);
    assert_eq!(s["from_address"], format!("writer{i}@contoso.com"));
    assert_eq!(s["smtp_server"], format!("relay{i}.contoso.com"));
    let conn = rusqlite::Connection::open(f.db()).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM smtp_settings", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
}

/// Regression (issue 8): a stored SMTP password used to follow a new server, so that
/// `smtp test` sent it to whatever host the settings named next.
#[test]
fn a_stored_password_never_follows_a_new_server() {
    let f = farm();
    let r = f.run_stdin(
        &[
            "smtp",
            "set",
            "--farm",
            "--smtp-server",
            "relay.contoso.com",
            "--port",
            "587",
            "--smtp-user",
            "svc",
            "--smtp-password-file",
            "-",
        ],
        b"s3cret\n",
    );
    assert_eq!(r.code, 0, "{r:?}");
    for change in [
        vec!["--smtp-server", "other.example"],
        vec!["--port", "2525"],
        vec![
            "--smtp-server",
            "RELAY.contoso.com.evil.example",
            "--port",
            "587",
        ],
    ] {
        let mut args = vec!["smtp", "set", "--farm"];
        args.extend(change.iter().copied());
        let r = f.run(&args);
        assert_eq!(r.code, 3, "{change:?}: {r:?}");
        assert!(r.stderr.contains("password-follows-server"), "{r:?}");
        assert!(r.stderr.contains("svc at relay.contoso.com:587"), "{r:?}");
    }
    let j = f.ok(&["--json", "smtp", "show", "--farm"]).json();
    assert_eq!(
        j["smtp_server"], "relay.contoso.com",
        "nothing changed: {j}"
    );
    assert_eq!(j["port"], 587);
    assert_eq!(j["smtp_password_set"], true);
    // Other fields may change without the password.
    f.ok(&["smtp", "set", "--farm", "--from", "sp@contoso.com"]);
    // With the password again, or without credentials, the server may change.
    let r = f.run_stdin(
        &[
            "smtp",
            "set",
            "--farm",
            "--smtp-server",
            "other.example",
            "--smtp-user",
            "svc",
            "--smtp-password-file",
            "-",
        ],
        b"s3cret\n",
    );
    assert_eq!(r.code, 0, "{r:?}");
    f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "third.example",
        "--no-smtp-credentials",
    ]);
    let j = f.ok(&["--json", "smtp", "show", "--farm"]).json();
    assert_eq!(j["smtp_server"], "third.example");
    assert_eq!(j["smtp_password_set"], false);
}

/// The sealed password is bound to server, port and user: moved to another server behind
/// mailcert's back (straight in the database), it does not open, and nothing is sent.
#[test]
fn a_sealed_password_opens_only_for_its_server() {
    let f = farm();
    let r = f.run_stdin(
        &[
            "smtp",
            "set",
            "--farm",
            "--smtp-server",
            "127.0.0.1",
            "--port",
            "9",
            "--smtp-user",
            "svc",
            "--smtp-password-file",
            "-",
        ],
        b"s3cret\n",
    );
    assert_eq!(r.code, 0, "{r:?}");
    // Someone with write access to the database points the settings elsewhere.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let db = rusqlite::Connection::open(f.db()).unwrap();
    let n = db
        .execute("UPDATE smtp_settings SET port = ?1", [i64::from(port)])
        .unwrap();
    assert_eq!(n, 1);
    drop(db);
    listener.set_nonblocking(true).unwrap();
    let r = f.run(&["smtp", "test", "--farm", "--timeout", "2"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("password-follows-server"), "{r:?}");
    assert!(
        listener.accept().is_err(),
        "no connection was made with the moved password"
    );
}
