//! Issue #14: completions that shells accept, a man page with every subcommand, and
//! `mailcert doctor` finding each planted problem with its fix.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use mailcert_tests::{TestFarm, external_missing};
use serde_json::Value;

#[test]
fn completions_parse_in_their_shells() {
    let f = TestFarm::empty();
    for (shell, checker) in [
        ("bash", Some("bash")),
        ("zsh", Some("zsh")),
        ("fish", None),
        ("elvish", None),
        ("powershell", None),
    ] {
        let r = f.ok(&["completions", shell]);
        assert!(r.stdout.contains("mailcert"), "{shell}");
        assert!(
            r.stdout.contains("renew") && r.stdout.contains("doctor"),
            "{shell}"
        );
        let Some(bin) = checker else { continue };
        let file = f.dir.path().join(format!("mailcert.{shell}"));
        std::fs::write(&file, &r.stdout).unwrap();
        match Command::new(bin).arg("-n").arg(&file).output() {
            Ok(o) => assert!(
                o.status.success(),
                "{shell} -n: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => external_missing(&format!(
                "{bin} is not installed ({e}); apt-get install {bin}"
            )),
        }
    }
}

#[test]
fn the_man_page_has_every_subcommand() {
    let f = TestFarm::empty();
    let page = f.ok(&["man"]).stdout;
    let help = f.ok(&["cert", "--help"]).stdout;
    for sub in [
        "import", "list", "show", "check", "export", "remove", "move", "switch", "rename",
        "request", "renew",
    ] {
        assert!(help.contains(sub), "{sub} in cert --help");
        assert!(
            page.contains(&format!(".SH \"MAILCERT CERT {}\"", sub.to_uppercase())),
            "{sub}"
        );
    }
    for top in [
        "INIT",
        "WEBAPP ADD",
        "SMTP SET",
        "SEND",
        "SENDMAIL",
        "RELAY",
        "QUEUE LIST",
        "SETTINGS CONTACTS ADD",
        "HEALTH",
        "COMPLETIONS",
        "MAN",
        "DOCTOR",
        "ADMIN SERVE",
        "CERT REQUEST NEW",
    ] {
        assert!(page.contains(&format!(".SH \"MAILCERT {top}\"")), "{top}");
    }
    assert!(page.starts_with(".ie") || page.contains(".TH"), "roff");
}

fn doctor(f: &TestFarm, extra: &[&str], envs: &[(&str, &str)]) -> (i32, Value) {
    let mut args = vec!["--json", "doctor"];
    args.extend_from_slice(extra);
    let mut c = f.command(&args);
    for (k, v) in envs {
        c.env(k, v);
    }
    let r = mailcert_tests::Run::from_output(c.output().unwrap());
    (r.code, r.json())
}

fn failed(v: &Value) -> Vec<String> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["check"].as_str().unwrap().to_string())
        .collect()
}

fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

#[test]
fn doctor_finds_each_planted_problem_with_a_fix() {
    let f = TestFarm::new();
    f.ok(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
        "--friendly-name",
        "relay",
    ]);
    f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "relay.contoso.com",
        "--certificate",
        "name:relay",
    ]);
    let spool = f.dir.path().join("spool.db");
    let spool = spool.to_str().unwrap();
    let port = free_port();
    let base = ["--relay-listen", port.as_str(), "--spool", spool];

    let (code, v) = doctor(&f, &base, &[]);
    assert_eq!((code, failed(&v)), (0, vec![]), "{v}");
    assert_eq!(v["healthy"], true);

    // The farm readable by others.
    std::fs::set_permissions(f.db(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, v) = doctor(&f, &base, &[]);
    assert_eq!(
        (code, failed(&v)),
        (3, vec!["farm-mode".to_string()]),
        "{v}"
    );
    let c = &v["checks"][0];
    assert!(c["fix"].as_str().unwrap().starts_with("chmod 600"), "{c}");
    std::fs::set_permissions(f.db(), std::fs::Permissions::from_mode(0o600)).unwrap();

    // Another farm's master key.
    let other = TestFarm::new();
    let (code, v) = doctor(
        &f,
        &base,
        &[(
            "MAILCERT_MASTER_KEY_FILE",
            other.key_file().to_str().unwrap(),
        )],
    );
    assert_eq!(
        (code, failed(&v)),
        (3, vec!["master-key".to_string()]),
        "{v}"
    );

    // The bound certificate expired (its notAfter is 2045-01-01 in the fixtures).
    let (code, v) = doctor(&f, &base, &[("MAILCERT_NOW", "2046-01-01T00:00:00Z")]);
    assert_eq!((code, failed(&v)), (3, vec!["binding".to_string()]), "{v}");
    let b = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "binding")
        .unwrap()
        .clone();
    assert!(b["detail"].as_str().unwrap().contains("farm"), "{b}");
    assert!(
        b["fix"]
            .as_str()
            .unwrap()
            .contains("mailcert smtp set --farm --certificate"),
        "{b}"
    );

    // A spool that cannot be made: its folder is a file.
    let blocker = f.dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let bad_spool = blocker.join("spool.db");
    let (code, v) = doctor(
        &f,
        &[
            "--relay-listen",
            &port,
            "--spool",
            bad_spool.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!((code, failed(&v)), (3, vec!["spool".to_string()]), "{v}");

    // The relay's port held by something that is not mailcert.
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().to_string();
    let (code, v) = doctor(&f, &["--relay-listen", &taken, "--spool", spool], &[]);
    assert_eq!(
        (code, failed(&v)),
        (3, vec!["relay-port".to_string()]),
        "{v}"
    );
    drop(squatter);

    // No trust store.
    let (code, v) = doctor(&f, &base, &[("SSL_CERT_FILE", "/nonexistent/ca.pem")]);
    assert_eq!(
        (code, failed(&v)),
        (3, vec!["trust-store".to_string()]),
        "{v}"
    );

    // The table for people names the fix.
    let r = f
        .command(&["doctor", "--relay-listen", &port, "--spool", spool])
        .env("SSL_CERT_FILE", "/nonexistent/ca.pem")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(
        text.contains("FAIL  trust-store") && text.contains("fix: apt-get install ca-certificates"),
        "{text}"
    );
}

#[test]
fn doctor_accepts_a_port_served_by_mailcert_relay() {
    let f = TestFarm::new();
    f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "relay.contoso.com",
        "--from",
        "a@contoso.com",
    ]);
    let port = free_port();
    let spool = f.dir.path().join("spool.db");
    let mut relay = f
        .command(&[
            "relay",
            "--listen",
            &port,
            "--farm",
            "--spool",
            spool.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(&port).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the relay did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (code, v) = doctor(
        &f,
        &["--relay-listen", &port, "--spool", spool.to_str().unwrap()],
        &[],
    );
    let _ = relay.kill();
    let _ = relay.wait();
    assert_eq!((code, failed(&v)), (0, vec![]), "{v}");
    let c = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "relay-port")
        .unwrap()
        .clone();
    assert!(
        c["detail"].as_str().unwrap().contains("mailcert relay"),
        "{c}"
    );
}
