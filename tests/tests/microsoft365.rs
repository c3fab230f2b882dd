//! Issue #14: the Exchange Online connector rule (`tls-sender-name`) on certificates made
//! here with SAN, CN-only and wildcard names, and the well-known Exchange Online
//! refusals explained, each answered word for word by the test SMTP server.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

use mailcert_tests::{TestFarm, fixture, relay};
use mailcert_testsmtp::TestServer;

const APP: &str = "https://intranet.contoso.com";

/// A certificate made from a request with these names, signed by the test CA and
/// imported (eligible, with its key); returns its SHA-1.
fn requested(f: &TestFarm, name: &str, args: &[&str]) -> String {
    let csr = f.dir.path().join(format!("{name}.csr"));
    let pem = f.dir.path().join(format!("{name}.pem"));
    let mut a = vec![
        "cert",
        "request",
        "new",
        "--friendly-name",
        name,
        "--out",
        csr.to_str().unwrap(),
    ];
    a.extend_from_slice(args);
    f.ok(&a);
    let p = |p: &Path| p.to_str().unwrap().to_string();
    let out = Command::new("openssl")
        .args([
            "x509",
            "-req",
            "-days",
            "90",
            "-copy_extensions",
            "copy",
            "-in",
            &p(&csr),
        ])
        .args([
            "-CA",
            &p(&fixture("intermediate-ca.pem")),
            "-CAkey",
            &p(&fixture("intermediate-ca.key")),
        ])
        .args([
            "-CAcreateserial",
            "-CAserial",
            &p(&f.dir.path().join("ca.srl")),
            "-out",
            &p(&pem),
        ])
        .output()
        .expect("openssl signs the request");
    assert!(out.status.success(), "{out:?}");
    let v = f.ok(&["--json", "cert", "import", &p(&pem)]).json();
    v[0]["certificate"]["thumbprint_sha1"]
        .as_str()
        .unwrap()
        .to_string()
}

fn check(f: &TestFarm, sha1: &str, name: &str) -> (i32, serde_json::Value) {
    let r = f.run(&["--json", "cert", "check", sha1, "--tls-sender-name", name]);
    (r.code, r.json())
}

#[test]
fn the_connector_rule_on_san_cn_only_and_wildcard_certificates() {
    let f = TestFarm::new();
    let san = requested(
        &f,
        "san",
        &[
            "--common-name",
            "relay-client",
            "--alternative-name",
            "mail.contoso.com",
        ],
    );
    let cn_only = requested(&f, "cn-only", &["--common-name", "smtp-relay"]);
    let wild = requested(
        &f,
        "wild",
        &[
            "--common-name",
            "wild",
            "--alternative-name",
            "*.contoso.com",
        ],
    );

    // SAN: the DNS names count, the CN does not once there is a SAN.
    let (code, v) = check(&f, &san, "mail.contoso.com");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["tls_sender_name"]["matches"], true);
    assert_eq!(
        v["tls_sender_name"]["dns_names"],
        serde_json::json!(["mail.contoso.com"])
    );
    let (code, v) = check(&f, &san, "relay-client");
    assert_eq!(code, 3, "{v}");
    assert!(v["reasons"].to_string().contains("tls-sender-name"), "{v}");
    assert_eq!(v["eligible"], false);
    // CN only.
    let (code, _) = check(&f, &cn_only, "SMTP-RELAY");
    assert_eq!(code, 0);
    let (code, _) = check(&f, &cn_only, "smtp-relay.contoso.com");
    assert_eq!(code, 3);
    // Wildcard: one label.
    assert_eq!(check(&f, &wild, "relay.contoso.com").0, 0);
    assert_eq!(check(&f, &wild, "*.contoso.com").0, 0);
    assert_eq!(check(&f, &wild, "a.b.contoso.com").0, 3);
    assert_eq!(check(&f, &wild, "contoso.com").0, 3);
    let r = f.run(&["cert", "check", &wild, "--tls-sender-name", "fabrikam.com"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stdout
            .contains("do not match the connector's TlsSenderCertificateName 'fabrikam.com'"),
        "{r:?}"
    );

    // Stored with the settings: a binding that does not match is refused; one that
    // does is kept, shown, and a later mismatch is a health finding.
    f.ok(&["webapp", "add", APP]);
    let r = f.run(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--smtp-server",
        "contoso-com.mail.protection.outlook.com",
        "--from",
        "sp@contoso.com",
        "--certificate",
        &san,
        "--tls-sender-name",
        "other.contoso.com",
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("tls-sender-name"), "{r:?}");
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--smtp-server",
        "contoso-com.mail.protection.outlook.com",
        "--from",
        "sp@contoso.com",
        "--certificate",
        &san,
        "--tls-sender-name",
        "mail.contoso.com",
    ]);
    let show = f.ok(&["--json", "smtp", "show", "--webapp", APP]).json();
    assert_eq!(show["tls_sender_name"], "mail.contoso.com");
    assert_eq!(show["healthy"], true);
    let bad = f.run(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--tls-sender-name",
        "not a name",
    ]);
    assert_eq!(bad.code, 3, "{bad:?}");
    f.ok(&["settings", "contacts", "add", "pki@contoso.com"]);
    let (code, health) = {
        let r = f.run(&["--json", "health"]);
        (r.code, r.json())
    };
    assert_eq!(code, 0, "{health}");
    // Switch to the CN-only certificate: switch does not know the connector name, so
    // the health rule and smtp show catch the mismatch.
    f.ok(&["cert", "switch", &san, &cn_only]);
    let r = f.run(&["--json", "health"]);
    assert_eq!(r.code, 3, "{r:?}");
    let v = r.json();
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"tls-sender-name"), "{v}");
    let show = f.run(&["smtp", "show", "--webapp", APP]);
    assert_eq!(show.code, 3, "{show:?}");
    assert!(show.stdout.contains("TlsSenderCertificateName"), "{show:?}");
}

/// A farm sending to `server` with the client certificate (and, with `auth`, SMTP
/// credentials).
fn farm(server: &TestServer, auth: bool) -> TestFarm {
    let f = TestFarm::new();
    f.ok(&[
        "cert",
        "import",
        "openssl3-p256.pfx",
        "--password-file",
        "password.txt",
        "--friendly-name",
        "relay",
    ]);
    f.ok(&["webapp", "add", APP]);
    let port = server.port().to_string();
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--smtp-server",
        "localhost",
        "--port",
        &port,
        "--certificate",
        "name:relay",
        "--from",
        "sp@contoso.com",
    ]);
    if auth {
        let pw: PathBuf = f.dir.path().join("pw");
        std::fs::write(&pw, "secret\n").unwrap();
        f.ok(&[
            "smtp",
            "set",
            "--webapp",
            APP,
            "--smtp-user",
            "svc@contoso.com",
            "--smtp-password-file",
            pw.to_str().unwrap(),
        ]);
    }
    f
}

#[test]
fn exchange_online_refusals_are_explained_with_the_reply_as_the_server_said_it() {
    let cases: [(&str, u16, &str, &str, &str); 7] = [
        (
            "RCPT",
            550,
            "5.7.64 TenantAttribution; Relay Access Denied [SN1NAM02FT022.eop-nam02.prod.protection.outlook.com]",
            "rcpt",
            "TlsSenderCertificateName",
        ),
        (
            "MAIL",
            451,
            "5.7.3 STARTTLS is required to send mail [BN8NAM11FT011.eop-nam11.prod.protection.outlook.com]",
            "mail",
            "requires TLS",
        ),
        (
            "RCPT",
            451,
            "4.4.62 Mail sent to the wrong Office 365 region. ATTR35. For more information please go to https://go.microsoft.com/fwlink/?linkid=865268",
            "rcpt",
            "MX endpoint",
        ),
        (
            "DATA",
            550,
            "5.4.62 Mail sent to the wrong Office 365 region",
            "data",
            "region",
        ),
        (
            "MAIL",
            530,
            "5.7.57 Client not authenticated to send mail. [DM6PR01CA0012.prod.exchangelabs.com]",
            "mail",
            "SMTP AUTH",
        ),
        (
            "AUTH",
            535,
            "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.",
            "auth",
            "disabled",
        ),
        (
            "RCPT",
            550,
            "5.7.1 Unable to relay",
            "rcpt",
            "Relay access was denied",
        ),
    ];
    for (command, code, text, step, advice) in cases {
        let mut cfg = relay::relay_config(false).answer(command, code, text);
        if command == "AUTH" {
            cfg = cfg.auth("svc@contoso.com", "secret");
        }
        let server = relay::start(cfg);
        let f = farm(&server, command == "AUTH");
        let r = f.run_stdin(
            &[
                "send",
                "--webapp",
                APP,
                "--to",
                "ops@contoso.com",
                "--subject",
                "x",
            ],
            b"body\n",
        );
        assert_eq!(r.code, 5, "{command} {code}: {r:?}");
        assert!(
            r.stderr.contains(&format!("{code} {text}")),
            "the reply as said: {r:?}"
        );
        assert!(
            r.stderr.contains(&format!("failed at {step}")),
            "{step}: {r:?}"
        );
        let hint = r
            .stderr
            .find("hint: at step")
            .unwrap_or_else(|| panic!("no hint: {r:?}"));
        assert!(r.stderr[hint..].contains(advice), "{advice}: {r:?}");
        // The same in JSON.
        let j = f.run_stdin(
            &["--json", "send", "--webapp", APP, "--to", "ops@contoso.com"],
            b"body\n",
        );
        let v = j.json();
        let item = if v.is_array() {
            v[0].clone()
        } else {
            v.clone()
        };
        assert!(
            item["advice"].as_str().unwrap_or_default().contains(advice),
            "{item}"
        );
        assert_eq!(server.messages().len(), 0, "nothing delivered");
    }
    // A refusal that is not Exchange's gets no such advice.
    let server = relay::start(relay::relay_config(false).answer("RCPT", 550, "5.1.1 User unknown"));
    let f = farm(&server, false);
    let r = f.run_stdin(
        &["send", "--webapp", APP, "--to", "ops@contoso.com"],
        b"body\n",
    );
    assert_eq!(r.code, 5);
    assert!(!r.stderr.contains("hint:"), "{r:?}");
}
