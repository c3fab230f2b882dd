//! mailcert against a real MTA: a private Postfix on 127.0.0.1 that demands a client
//! certificate (`smtpd_tls_req_ccert = yes`) and whose CA file holds only the test root,
//! so the client must send its intermediate. Where Postfix cannot run, each test says so and
//! passes, or fails under `MAILCERT_REQUIRE_EXTERNAL=1` (as in CI).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use mailcert_tests::postfix::{Postfix, PostfixConfig, fingerprint_for_log};
use mailcert_tests::{TestFarm, expected};

const APP: &str = "https://intranet.contoso.com";
const WAIT: Duration = Duration::from_secs(10);

fn postfix() -> Option<Postfix> {
    if let Some(why) = Postfix::unavailable_reason() {
        mailcert_tests::external_missing(&why);
        return None;
    }
    Some(Postfix::start(PostfixConfig::new()).unwrap())
}

/// A farm whose web application sends to Postfix presenting `pfx`'s certificate (the
/// root arrives with the chain and is how mailcert trusts Postfix's certificate).
fn farm(pf: &Postfix, encryption: &str, cert: Option<(&str, &[&str])>) -> TestFarm {
    let f = TestFarm::new();
    f.ok(&["cert", "import", "root-ca.cer"]);
    f.ok(&["cert", "import", "intermediate-ca.pem"]);
    f.ok(&["webapp", "add", APP]);
    let port = if encryption == "tls" {
        pf.tls_port()
    } else {
        pf.starttls_port()
    };
    let port = port.to_string();
    let mut args = vec![
        "smtp",
        "set",
        "--webapp",
        APP,
        "--smtp-server",
        "localhost",
        "--port",
        &port,
        "--encryption",
        encryption,
        "--from",
        "sharepoint@contoso.com",
    ];
    if let Some((name, import)) = cert {
        let mut a = vec!["cert", "import"];
        a.extend_from_slice(import);
        a.extend_from_slice(&["--friendly-name", name]);
        f.ok(&a);
        args.extend_from_slice(&["--certificate", "name:bound"]);
    }
    f.ok(&args);
    f
}

const P256: (&str, &[&str]) = (
    "bound",
    &["openssl3-p256.pfx", "--password-file", "password.txt"],
);

fn verified_in_log(pf: &Postfix, cert: &str, cn: &str) {
    let sha256 = expected()[cert]["sha256"].as_str().unwrap().to_string();
    assert!(
        pf.wait_for_log("Trusted TLS connection established", WAIT),
        "{}",
        pf.log()
    );
    let log = pf.log();
    assert!(log.contains(&format!("subject_CN={cn}")), "{log}");
    assert!(log.contains(&fingerprint_for_log(&sha256)), "{log}");
}

#[test]
fn delivered_over_starttls_with_the_chain_and_verified_by_postfix() {
    let Some(pf) = postfix() else { return };
    let f = farm(&pf, "starttls", Some(P256));
    let r = f.run_stdin(
        &[
            "send",
            "--webapp",
            APP,
            "--to",
            "rcpt@relay.test",
            "--subject",
            "via postfix",
        ],
        b"Hello Postfix.\n",
    );
    assert_eq!(r.code, 0, "{r:?}\n{}", pf.log());
    assert!(r.stdout.contains("queued as"), "{r:?}");
    assert_eq!(pf.wait_for_delivered(1, WAIT), 1, "{}", pf.log());
    verified_in_log(&pf, "client-p256.pem", "client-p256.test");
    let msgs = pf.messages("rcpt@relay.test");
    assert!(msgs[0].contains("(Client CN \"client-p256.test\", Issuer \"mailcert Test Intermediate CA\" (verified OK))"), "{}", msgs[0]);
    assert!(msgs[0].contains("Subject: via postfix"));
}

#[test]
fn delivered_over_implicit_tls() {
    let Some(pf) = postfix() else { return };
    let f = farm(&pf, "tls", Some(P256));
    f.ok(&[
        "send",
        "--webapp",
        APP,
        "--to",
        "rcpt@relay.test",
        "--body-file",
        "password.txt",
    ]);
    assert_eq!(pf.wait_for_delivered(1, WAIT), 1, "{}", pf.log());
    verified_in_log(&pf, "client-p256.pem", "client-p256.test");
}

#[test]
fn rsa_identity_and_several_messages_over_one_connection() {
    let Some(pf) = postfix() else { return };
    let f = farm(
        &pf,
        "starttls",
        Some((
            "bound",
            &["openssl3-default.pfx", "--password-file", "password.txt"],
        )),
    );
    let d = f.dir.path();
    let mut files = Vec::new();
    for i in 0..3 {
        let p = d.join(format!("m{i}.eml"));
        std::fs::write(
            &p,
            format!(
                "From: App <app@contoso.com>\nTo: rcpt@relay.test\nSubject: batch {i}\n\nbody {i}\n"
            ),
        )
        .unwrap();
        files.push(p.to_str().unwrap().to_string());
    }
    let mut args = vec!["send", "--webapp", APP, "--connections", "1", "--message"];
    args.extend(files.iter().map(String::as_str));
    let r = f.run(&args);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.lines().count(), 3, "a line per message: {r:?}");
    assert_eq!(pf.wait_for_delivered(3, WAIT), 3, "{}", pf.log());
    let log = pf.log();
    assert_eq!(
        log.matches("Trusted TLS connection established").count(),
        1,
        "one connection: {log}"
    );
    assert!(log.contains("subject_CN=client-rsa.test"), "{log}");
}

#[test]
fn no_certificate_is_refused_and_nothing_delivered() {
    let Some(pf) = postfix() else { return };
    let f = farm(&pf, "starttls", None);
    let r = f.run_stdin(
        &["send", "--webapp", APP, "--to", "rcpt@relay.test"],
        b"x\n",
    );
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr.contains("No client certificate presented"),
        "{r:?}"
    );
    assert!(pf.wait_for_log("No client certificate presented", WAIT));
    assert!(pf.wait_for_sessions_ended(WAIT), "{}", pf.log());
    assert_eq!(pf.queued_count() + pf.delivered_count(), 0, "{}", pf.log());
}

#[test]
fn an_untrusted_certificate_is_refused_and_nothing_delivered() {
    let Some(pf) = postfix() else { return };
    let f = farm(
        &pf,
        "starttls",
        Some((
            "bound",
            &["self-signed-client.pem", "--key", "self-signed-client.key"],
        )),
    );
    let r = f.run_stdin(
        &["send", "--webapp", APP, "--to", "rcpt@relay.test"],
        b"x\n",
    );
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("Client certificate not trusted"), "{r:?}");
    assert!(
        pf.wait_for_log("Client certificate not trusted", WAIT),
        "{}",
        pf.log()
    );
    assert!(pf.wait_for_sessions_ended(WAIT), "{}", pf.log());
    assert_eq!(pf.queued_count() + pf.delivered_count(), 0, "{}", pf.log());
}

#[test]
fn smtp_test_against_postfix() {
    let Some(pf) = postfix() else { return };
    let f = farm(&pf, "starttls", Some(P256));
    let r = f.ok(&["smtp", "test", "--webapp", APP]);
    assert!(
        r.stdout
            .contains("client certificate requested by the server: yes"),
        "{r:?}"
    );
    assert!(r.stdout.contains("client certificate sent: bound"), "{r:?}");
    assert!(r.stdout.contains("STARTTLS"), "{r:?}");
    assert!(pf.wait_for_log("Trusted TLS connection established", WAIT));
    assert_eq!(pf.delivered_count(), 0);
}

/// Issue #10: a certificate made here from a request (`cert request new`), signed by the
/// test intermediate with `openssl x509 -req` and imported, authenticates to Postfix.
#[test]
fn a_requested_certificate_is_verified_by_postfix() {
    let Some(pf) = postfix() else { return };
    let f = farm(&pf, "starttls", None);
    let dir = f.dir.path();
    let csr = dir.join("client.csr");
    let cert = dir.join("client.pem");
    let p = |p: &std::path::Path| p.to_str().unwrap().to_string();
    f.ok(&[
        "cert",
        "request",
        "new",
        "--common-name",
        "requested.contoso.com",
        "--friendly-name",
        "requested",
        "--out",
        &p(&csr),
    ]);
    let signed = std::process::Command::new("openssl")
        .args([
            "x509",
            "-req",
            "-in",
            &p(&csr),
            "-days",
            "30",
            "-copy_extensions",
            "copy",
        ])
        .args(["-CA", &p(&mailcert_tests::fixture("intermediate-ca.pem"))])
        .args([
            "-CAkey",
            &p(&mailcert_tests::fixture("intermediate-ca.key")),
        ])
        .args(["-set_serial", "4242", "-out", &p(&cert)])
        .output()
        .expect("openssl must be installed for this test");
    assert!(signed.status.success(), "{signed:?}");
    let r = f.ok(&["cert", "import", &p(&cert)]);
    assert!(r.stdout.contains("paired with pending request"), "{r:?}");
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--certificate",
        "name:requested",
    ]);
    let r = f.run_stdin(
        &[
            "send",
            "--webapp",
            APP,
            "--to",
            "rcpt@relay.test",
            "--subject",
            "requested",
        ],
        b"Sent with a certificate requested by mailcert.\n",
    );
    assert_eq!(r.code, 0, "{r:?}\n{}", pf.log());
    assert_eq!(pf.wait_for_delivered(1, WAIT), 1, "{}", pf.log());
    let msgs = pf.messages("rcpt@relay.test");
    assert!(
        msgs[0].contains(
            "(Client CN \"requested.contoso.com\", Issuer \"mailcert Test Intermediate CA\" (verified OK))"
        ),
        "{}",
        msgs[0]
    );
}
