//! The README's commands, run in order from a clean farm, as a new operator would type
//! them: every `mailcert` line of every shell block from "## Certificates" on.
//!
//! What a reader supplies is supplied here: the files the commands name (fixtures under
//! the README's names), the CA's answer to each request (openssl signs it with the test
//! intermediate CA) and two loopback relays standing in for `relay.contoso.com`
//! (STARTTLS) and `smtps.contoso.com` (implicit TLS). The only rewriting of a command is
//! that host name becoming `localhost --port N`, and `PFX_PASS=...` getting the password.
//! Long-running servers and lines that change the system are listed in `NOT_RUN`, each
//! with its reason; the test fails if one of them disappears from the README (so the
//! list cannot go stale) or if a new kind of line appears that is neither run nor listed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use mailcert_tests::{binary, external_missing, fixture, relay};

/// Lines the test does not run, by their start, and why.
const NOT_RUN: &[(&str, &str)] = &[
    (
        "ln -s ",
        "changes /usr/sbin on the machine running the tests",
    ),
    (
        "mailcert relay --listen",
        "runs until stopped; tests/tests/relay.rs drives it",
    ),
    (
        "mailcert admin serve",
        "runs until stopped (and two lines listen beyond loopback); the admin tests drive it",
    ),
];

/// The shell commands of the README from `## Certificates` on, continuation lines
/// joined, comments and blank lines dropped.
fn readme_commands() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let start = readme
        .find("\n## Certificates")
        .expect("a Certificates section");
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in readme[start..].lines() {
        if line.starts_with("```") {
            in_block = !in_block && line == "```sh";
            continue;
        }
        if !in_block || line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(line);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    commands
}

/// Runs a shell command with `pipefail`, in `dir`, with the binary first on PATH.
fn shell(dir: &Path, env: &[(&str, String)], command: &str, stdin: &[u8]) -> (i32, String, String) {
    let bin_dir = binary().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(format!("set -o pipefail\n{command}"))
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("MAILCERT_WEBAPP")
        .env_remove("MAILCERT_NOW")
        .env_remove("MAILCERT_MASTER_KEY_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin).unwrap();
    }
    let o = child.wait_with_output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// openssl, which stands in for the reader's CA; the test fails without it in CI.
fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("openssl {args:?}: {e}"));
    assert!(o.status.success(), "openssl {args:?}: {o:?}");
}

/// The CA's answer to `csr`: a certificate from the test intermediate CA, with the
/// extensions the request asked for, valid for `days`.
fn ca_signs(dir: &Path, csr: &str, out: &str, serial: &str, days: &str) {
    let ca = fixture("intermediate-ca.pem");
    let ca_key = fixture("intermediate-ca.key");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca.to_str().unwrap(),
            "-CAkey",
            ca_key.to_str().unwrap(),
            "-set_serial",
            serial,
            "-days",
            days,
            "-copy_extensions",
            "copyall",
            "-out",
            out,
        ],
    );
}

/// relay-2027.pfx: relay-2026's subject, names and key, a later expiry, with the chain.
fn renewed_pfx(dir: &Path) {
    let cert = fixture("client-p256.pem");
    let key = fixture("client-p256.key");
    openssl(
        dir,
        &[
            "x509",
            "-x509toreq",
            "-in",
            cert.to_str().unwrap(),
            "-signkey",
            key.to_str().unwrap(),
            "-copy_extensions",
            "copyall",
            "-out",
            "relay-2027.csr",
        ],
    );
    ca_signs(dir, "relay-2027.csr", "relay-2027.pem", "0x2028", "9500");
    let ca = fixture("intermediate-ca.pem");
    openssl(
        dir,
        &[
            "pkcs12",
            "-export",
            "-in",
            "relay-2027.pem",
            "-inkey",
            key.to_str().unwrap(),
            "-certfile",
            ca.to_str().unwrap(),
            "-passout",
            "file:pass.txt",
            "-out",
            "relay-2027.pfx",
        ],
    );
}

/// The files the README's commands name, under those names.
fn files_a_reader_has(dir: &Path) {
    let copy = |from: &str, to: &str| {
        std::fs::copy(fixture(from), dir.join(to)).unwrap();
    };
    copy("openssl3-p256.pfx", "relay.pfx");
    copy("password.txt", "pass.txt");
    copy("client-rsa.pem", "client.pem");
    copy("client-rsa.key", "client.key");
    copy("windows-3des.pfx", "vendor.pfx");
    std::fs::create_dir(dir.join("certs")).unwrap();
    for stem in ["client-p384", "client-ed25519", "client-noeku"] {
        copy(&format!("{stem}.pem"), &format!("certs/{stem}.pem"));
        copy(&format!("{stem}.key"), &format!("certs/{stem}.key"));
    }
    std::fs::write(dir.join("pw.txt"), "smtp secret\n").unwrap();
    for (name, to) in [
        ("a.eml", "alice@contoso.com"),
        ("b.eml", "bob@contoso.com"),
        ("c.eml", "carol@contoso.com"),
    ] {
        std::fs::write(
            dir.join(name),
            format!("To: {to}\nSubject: report {name}\n\nAll well.\n"),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("message.eml"),
        "To: ops@contoso.com\nBcc: audit@contoso.com\nSubject: nightly\n\ndone\n",
    )
    .unwrap();
}

#[test]
fn every_readme_command_works_in_order_from_a_clean_farm() {
    if Command::new("openssl").arg("version").output().is_err() {
        external_missing("openssl is not installed (it plays the reader's CA)");
        return;
    }
    let starttls = relay::start(relay::relay_config(false));
    let implicit = relay::start(relay::relay_config(true).auth("svc-sp", "smtp secret"));
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    files_a_reader_has(dir);
    let env = [
        ("MAILCERT_DB", dir.join("farm.db").display().to_string()),
        ("MAILCERT_SPOOL", dir.join("spool.db").display().to_string()),
    ];

    let commands = readme_commands();
    assert!(commands.len() > 50, "{commands:#?}");
    let mut not_run_seen = vec![false; NOT_RUN.len()];
    let mut ran = 0;
    for original in &commands {
        if let Some(i) = NOT_RUN.iter().position(|(p, _)| original.starts_with(p)) {
            not_run_seen[i] = true;
            continue;
        }
        assert!(
            original.starts_with("mailcert ")
                || original.starts_with("PFX_PASS=")
                || original.contains("| mailcert "),
            "a README line that is neither run nor listed in NOT_RUN: {original}"
        );
        // The CA's part, done where the README says the CA does it.
        if original.starts_with("mailcert cert import relay-2027.pfx") {
            renewed_pfx(dir);
        }
        if original.starts_with("mailcert cert import relay-client.pem") {
            ca_signs(dir, "relay.csr", "relay-client.pem", "0x2027", "3650");
        }
        if original.starts_with("mailcert cert import renewal.pem") {
            ca_signs(dir, "renewal.csr", "renewal.pem", "0x2029", "3650");
        }
        let command = original
            .replace(
                "--smtp-server relay.contoso.com",
                &format!("--smtp-server localhost --port {}", starttls.port()),
            )
            .replace(
                "--smtp-server smtps.contoso.com",
                &format!("--smtp-server localhost --port {}", implicit.port()),
            )
            .replace("PFX_PASS=...", "PFX_PASS=fixture-pass");
        let stdin: &[u8] = if original.starts_with("mailcert admin set-password") {
            b"a long admin password\n"
        } else {
            b""
        };
        let (code, stdout, stderr) = shell(dir, &env, &command, stdin);
        assert_eq!(
            code, 0,
            "README command failed: {original}\nran: {command}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        ran += 1;
    }
    for (seen, (prefix, why)) in not_run_seen.iter().zip(NOT_RUN) {
        assert!(
            seen,
            "NOT_RUN lists {prefix:?} ({why}), which the README no longer has"
        );
    }
    assert!(ran > 50, "{ran} commands ran");

    // What the commands did, checked from outside: the relay got each message once, the
    // implicit-TLS settings were cleared before anything was sent through them.
    let got = starttls.wait_for_messages(6, Duration::from_secs(10));
    relay::settled(&starttls);
    let got_now = starttls.messages();
    assert_eq!(got_now.len(), 6, "{got:#?}");
    // `send --message` spreads its messages over pooled connections: any order.
    let mut recipients: Vec<Vec<String>> = got_now.iter().map(|m| m.recipients.clone()).collect();
    recipients.sort();
    let mut expected: Vec<Vec<String>> = [
        &["ops@contoso.com"][..],
        &["alice@contoso.com"],
        &["bob@contoso.com"],
        &["carol@contoso.com"],
        &["ops@contoso.com"],
        &["ops@contoso.com", "audit@contoso.com"],
    ]
    .iter()
    .map(|r| r.iter().map(|s| s.to_string()).collect())
    .collect();
    expected.sort();
    assert_eq!(recipients, expected);
    // Every message presented the renewed certificate (the last import took over the
    // binding) with its chain.
    openssl(
        dir,
        &[
            "x509",
            "-in",
            "renewal.pem",
            "-outform",
            "DER",
            "-out",
            "renewal.der",
        ],
    );
    let renewal_der = std::fs::read(dir.join("renewal.der")).unwrap();
    for m in &got_now {
        assert_eq!(m.client_chain.len(), 2, "leaf and intermediate");
        assert_eq!(m.client_chain[0], renewal_der);
    }
    relay::settled(&implicit);
    assert!(implicit.messages().is_empty());
}
