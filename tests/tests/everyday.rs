//! Issue #13: the dead ends a new operator met, each driven through the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use mailcert_tests::{TestFarm, fixture, sha1_of};
use serde_json::Value;

#[test]
fn import_again_with_exportable_marks_the_key_exportable_audited() {
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
    let out = f.dir.path().join("relay.pem");
    let out = out.to_str().unwrap();
    let r = f.ok(&[
        "cert",
        "export",
        "name:relay",
        "--format",
        "pem",
        "--out",
        out,
    ]);
    assert!(r.stdout.contains("certificate only"), "{r:?}");
    let r = f.ok(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
        "--exportable",
    ]);
    assert!(
        r.stdout.contains("private key made exportable for"),
        "{r:?}"
    );
    let r = f.ok(&[
        "cert",
        "export",
        "name:relay",
        "--format",
        "pem",
        "--out",
        out,
        "--force",
    ]);
    assert!(r.stdout.contains("with its private key"), "{r:?}");
    assert!(
        std::fs::read_to_string(out)
            .unwrap()
            .contains("PRIVATE KEY")
    );
    let audit = f.ok(&["audit"]).stdout;
    assert!(audit.contains("marked exportable"), "{audit}");
}

#[test]
fn a_glob_pairs_each_certificate_with_the_key_file_beside_it() {
    let f = TestFarm::new();
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "client-p256.pem",
        "client-p256.key",
        "client-rsa.pem",
        "client-rsa.key",
        "root-ca.pem",
        "root-ca.key",
    ] {
        std::fs::copy(fixture(name), dir.path().join(name)).unwrap();
    }
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path().to_str().unwrap().to_string())
        .collect();
    files.sort();
    let mut args = vec!["cert", "import"];
    args.extend(files.iter().map(String::as_str));
    let r = f.ok(&args);
    assert_eq!(
        r.stdout.matches("(the key file beside it)").count(),
        2,
        "{r:?}"
    );
    assert_eq!(
        r.stdout
            .matches("a key file beside a certificate file of this import")
            .count(),
        3,
        "{r:?}"
    );
    // A CA's key stays out of the farm, and the CA stays a root.
    let roots = f.list(&["--store", "root"]);
    assert_eq!(roots.len(), 1, "{r:?}");
    assert_eq!(roots[0]["has_private_key"], false);
    let eligible = f.list(&["--eligible"]);
    let mut got: Vec<&str> = eligible
        .iter()
        .map(|c| c["thumbprint_sha1"].as_str().unwrap())
        .collect();
    got.sort();
    let mut want = [sha1_of("client-p256.pem"), sha1_of("client-rsa.pem")];
    want.sort();
    assert_eq!(got, want.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn names_shown_are_references_and_duplicates_are_warned_about() {
    let f = TestFarm::new();
    f.ok(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
    ]);
    let table = f.ok(&["cert", "list"]).stdout;
    assert!(table.contains("cn:client-p256.test"), "{table}");
    let shown = f
        .ok(&["--json", "cert", "show", "cn:CLIENT-P256.test"])
        .json();
    assert_eq!(shown["thumbprint_sha1"], sha1_of("client-p256.pem"));
    let r = f.ok(&["cert", "rename", "cn:client-p256.test", "relay"]);
    assert!(r.stdout.contains("renamed: '' -> 'relay'"), "{r:?}");
    let r = f.ok(&["cert", "rename", "name:relay", "relay-2026"]);
    assert!(
        r.stdout.contains("renamed: 'relay' -> 'relay-2026'"),
        "{r:?}"
    );
    let r = f.ok(&[
        "cert",
        "import",
        "client-rsa.pem",
        "--key",
        "client-rsa.key",
        "--friendly-name",
        "relay-2026",
    ]);
    assert!(
        r.stderr.contains("2 certificates are named 'relay-2026'"),
        "{r:?}"
    );
    assert_eq!(
        f.run(&["cert", "show", "name:relay-2026"]).code,
        2,
        "ambiguous"
    );
}

#[test]
fn export_to_standard_output_and_never_over_a_file_without_force() {
    let f = TestFarm::new();
    f.ok(&["cert", "import", "client-p256.pem"]);
    let r = f.ok(&[
        "cert",
        "export",
        &sha1_of("client-p256.pem"),
        "--format",
        "pem",
        "--out",
        "-",
    ]);
    assert!(r.stdout.starts_with("-----BEGIN CERTIFICATE-----"), "{r:?}");
    assert!(
        !std::path::Path::new(&fixture("-")).exists(),
        "no file named -"
    );
    let der = f
        .command(&[
            "cert",
            "export",
            &sha1_of("client-p256.pem"),
            "--format",
            "der",
            "--out",
            "-",
        ])
        .output()
        .unwrap();
    assert!(der.status.success());
    assert_eq!(
        mailcert_store::thumbprints(&der.stdout).0,
        sha1_of("client-p256.pem")
    );
    let target = f.dir.path().join("keep.pem");
    std::fs::write(&target, "precious").unwrap();
    let t = target.to_str().unwrap();
    let r = f.run(&[
        "cert",
        "export",
        &sha1_of("client-p256.pem"),
        "--format",
        "pem",
        "--out",
        t,
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("the file exists; nothing was written (--force replaces it)"),
        "{r:?}"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    f.ok(&[
        "cert",
        "export",
        &sha1_of("client-p256.pem"),
        "--format",
        "pem",
        "--out",
        t,
        "--force",
    ]);
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    // A PFX without a password is a usage error.
    f.ok(&[
        "cert",
        "import",
        "client-rsa.pem",
        "--key",
        "client-rsa.key",
        "--exportable",
    ]);
    let pfx = f.dir.path().join("x.pfx");
    let r = f.run(&[
        "cert",
        "export",
        &sha1_of("client-rsa.pem"),
        "--format",
        "pfx",
        "--out",
        pfx.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--password-file"), "{r:?}");
    assert!(!pfx.exists());
}

#[test]
fn json_errors_are_one_object_on_stdout() {
    let f = TestFarm::new();
    for (args, kind, code) in [
        (vec!["--json", "cert", "show", "0000000000"], "not-found", 4),
        (vec!["--json", "cert", "show", "zz"], "usage", 2),
        (vec!["--json", "cert", "frobnicate"], "usage", 2),
        (
            vec!["--json", "webapp", "add", "intranet.contoso.com"],
            "rejected",
            3,
        ),
        (
            vec!["--json", "cert", "import", "no-such-file.pem"],
            "error",
            1,
        ),
    ] {
        let r = f.run(&args);
        assert_eq!(r.code, code, "{args:?}: {r:?}");
        if args[1] == "cert" && args[2] == "import" {
            // import reports per file, in its own array.
            assert_eq!(r.json()[0]["ok"], false, "{r:?}");
            continue;
        }
        let v: Value = r.json();
        assert_eq!(v["kind"], kind, "{args:?}: {v}");
        assert_eq!(v["exit_code"], code, "{args:?}: {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
}

#[test]
fn error_texts_say_what_to_do() {
    let f = TestFarm::new();
    let r = f.run(&["webapp", "add", "intranet.contoso.com"]);
    assert!(r.stderr.contains("https://intranet.contoso.com"), "{r:?}");
    let r = f.run(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "relay",
        "--from",
        "not an address",
    ]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("is not an e-mail address: give one such as"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("Invalid input"), "{r:?}");
    let r = f.run(&["cert", "import", "no-such-file.pem"]);
    assert_eq!(
        r.stderr.matches("No such file or directory").count(),
        1,
        "{r:?}"
    );
    // sendmail without recipients: the error, then the hint.
    f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "127.0.0.1",
        "--port",
        "9",
        "--from",
        "a@contoso.com",
    ]);
    let r = f.run_stdin(&["sendmail"], b"Subject: x\n\nbody\n");
    assert_eq!(r.code, 2, "{r:?}");
    let err = r.stderr.find("no recipients").unwrap();
    let hint = r.stderr.find("hint:").unwrap();
    assert!(err < hint, "{r:?}");
    assert!(r.stderr.contains("-t"), "{r:?}");
}

#[test]
fn a_root_that_comes_with_a_pfx_is_announced_as_a_trust_anchor_or_kept_pending() {
    let f = TestFarm::new();
    let r = f.ok(&[
        "cert",
        "import",
        "openssl3-default.pfx",
        "--password-file",
        "password.txt",
    ]);
    assert!(r.stdout.contains("is now a trust anchor"), "{r:?}");
    assert_eq!(f.list(&["--store", "root"]).len(), 1);
    let g = TestFarm::new();
    let r = g.ok(&[
        "cert",
        "import",
        "openssl3-default.pfx",
        "--password-file",
        "password.txt",
        "--no-chain-trust",
    ]);
    assert!(!r.stdout.contains("is now a trust anchor"), "{r:?}");
    assert_eq!(g.list(&["--store", "root"]).len(), 0);
    let pending = g.list(&["--store", "pending"]);
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["self_signed"], true);
    // Eligibility is only asked of End Entity certificates in the table.
    let table = g.ok(&["cert", "list"]).stdout;
    let ca_row = table.lines().find(|l| l.contains("intermediate")).unwrap();
    assert!(ca_row.trim_end().ends_with('—'), "{table}");
}

/// Runs `args` with the colour variables of the test's own environment removed and
/// `env` set instead.
fn run_env(f: &TestFarm, args: &[&str], env: &[(&str, &str)]) -> mailcert_tests::Run {
    let mut c = f.command(args);
    c.env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("TERM");
    for (k, v) in env {
        c.env(k, v);
    }
    mailcert_tests::Run::from_output(c.output().unwrap())
}

#[test]
fn colour_only_where_asked_and_never_under_no_color() {
    let f = TestFarm::new();
    f.ok(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
    ]);
    f.ok(&["cert", "import", "expired.pem", "--key", "expired.key"]);
    let green_yes = "\u{1b}[32myes\u{1b}[0m";
    let red_no = "\u{1b}[1;31mno (";
    // Into a pipe: no colour by default.
    let r = run_env(&f, &["cert", "list"], &[]);
    assert!(!r.stdout.contains('\u{1b}'), "{r:?}");
    // Asked for: the eligible column and an expired certificate's days are coloured.
    let r = run_env(&f, &["--color", "always", "cert", "list"], &[]);
    assert!(r.stdout.contains(green_yes), "{r:?}");
    assert!(r.stdout.contains(red_no), "{r:?}");
    assert!(
        r.stdout.contains("\u{1b}[1;31m-"),
        "expired days in red: {r:?}"
    );
    // CLICOLOR_FORCE colours a pipe; NO_COLOR wins over it; --color never over both.
    let r = run_env(&f, &["cert", "list"], &[("CLICOLOR_FORCE", "1")]);
    assert!(r.stdout.contains(green_yes), "{r:?}");
    let r = run_env(
        &f,
        &["cert", "list"],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
    );
    assert!(!r.stdout.contains('\u{1b}'), "{r:?}");
    let r = run_env(
        &f,
        &["--color", "never", "cert", "list"],
        &[("CLICOLOR_FORCE", "1")],
    );
    assert!(!r.stdout.contains('\u{1b}'), "{r:?}");
    // Errors: the prefix is red on a coloured stderr, the text unchanged.
    let r = run_env(
        &f,
        &["--color", "always", "cert", "show", "name:nothing"],
        &[],
    );
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.starts_with("\u{1b}[1;31mmailcert:\u{1b}[0m "),
        "{r:?}"
    );
    let r = run_env(&f, &["cert", "show", "name:nothing"], &[("NO_COLOR", "1")]);
    assert!(r.stderr.starts_with("mailcert: "), "{r:?}");
    // JSON is never coloured.
    let r = run_env(&f, &["--color", "always", "--json", "cert", "list"], &[]);
    assert!(!r.stdout.contains('\u{1b}'), "{r:?}");
    let _: Value = serde_json::from_str(&r.stdout).unwrap();
    // A bad --color value is a usage error.
    let r = run_env(&f, &["--color", "rainbow", "cert", "list"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn wide_shows_long_names_whole_and_keeps_the_columns_aligned() {
    let f = TestFarm::new();
    let long = "Contoso SharePoint relay client 2026 (farm)";
    f.ok(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
        "--friendly-name",
        long,
    ]);
    f.ok(&[
        "cert",
        "import",
        "client-rsa.pem",
        "--key",
        "client-rsa.key",
    ]);
    let r = f.ok(&["cert", "list"]);
    assert!(!r.stdout.contains(long), "clipped by default: {r:?}");
    assert!(r.stdout.contains("Contoso SharePoint rela…"), "{r:?}");
    for args in [vec!["cert", "list", "--wide"], vec!["cert", "list", "-w"]] {
        let r = f.ok(&args);
        assert!(r.stdout.contains(long), "{r:?}");
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(lines.len(), 3, "{r:?}");
        // EXPIRES starts in the same column on every line.
        let col = |l: &str| {
            l.char_indices()
                .map(|(i, _)| i)
                .find(|&i| l[i..].starts_with("EXPIRES") || l[i..].starts_with("2045-"))
        };
        let header = lines[0].find("EXPIRES").unwrap();
        let header_chars = lines[0][..header].chars().count();
        for l in &lines[1..] {
            let at = col(l).unwrap();
            assert_eq!(l[..at].chars().count(), header_chars, "{l:?} in {r:?}");
        }
    }
}

#[test]
fn every_library_error_has_one_exit_code_and_cli_hints_follow_it() {
    let f = TestFarm::new();
    // Central Administration's and the relay's refusals are rule refusals (3), as the
    // store's and binding's are, with the same JSON error object.
    let r = f.run_stdin(&["--json", "admin", "set-password"], b"short\n");
    assert_eq!(r.code, 3, "{r:?}");
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["kind"], "rejected", "{v}");
    assert_eq!(v["exit_code"], 3, "{v}");
    let r = f.run(&["relay", "--listen", "0.0.0.0:0"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("open relay"), "{r:?}");
    assert!(
        r.stderr
            .contains("\nhint: give --auth-user with --auth-password-file"),
        "{r:?}"
    );
    // The library's message names no option (the web page shows it too); the CLI's hint,
    // after the error, does.
    let r = f.run(&["cert", "import", "openssl3-p256.pfx"]);
    assert_eq!(r.code, 1, "{r:?}");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert!(lines[0].starts_with("mailcert: "), "{r:?}");
    assert!(lines[0].contains("password-protected"), "{r:?}");
    assert!(!lines[0].contains("--"), "no option in the message: {r:?}");
    assert!(lines[1].starts_with("hint: give --password-file"), "{r:?}");
    let r = f.run_stdin(&["send", "--to", "ops@contoso.com"], b"hello\n");
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr
            .contains("\nhint: set them with `mailcert smtp set --farm --smtp-server HOST`"),
        "{r:?}"
    );
    // Every subcommand's help ends with the exit codes.
    for args in [
        vec!["--help"],
        vec!["cert", "import", "--help"],
        vec!["smtp", "set", "--help"],
        vec!["queue", "list", "--help"],
        vec!["cert", "request", "new", "--help"],
        vec!["send", "--help"],
    ] {
        let r = f.ok(&args);
        let at = r
            .stdout
            .find("EXIT CODES:")
            .unwrap_or_else(|| panic!("{args:?}: {r:?}"));
        assert!(r.stdout[at..].contains("5  delivery failed"), "{args:?}");
        assert_eq!(r.stdout.matches("EXIT CODES:").count(), 1, "{args:?}");
    }
}
