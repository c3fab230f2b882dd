//! Smoke tests of the binary's own surface: help, version and usage errors.
#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Command;

fn mailcert(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mailcert"))
        .args(args)
        .env("MAILCERT_DB", "/nonexistent/farm.db")
        .output()
        .unwrap()
}

#[test]
fn help_documents_the_exit_codes() {
    let o = mailcert(&["--help"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("EXIT CODES"), "{text}");
    assert!(text.contains("4  not found"), "{text}");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(mailcert(&["cert", "import"]).status.code(), Some(2));
    assert_eq!(
        mailcert(&["cert", "list", "--store", "nowhere"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(mailcert(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn passwords_are_never_arguments() {
    let o = mailcert(&["cert", "import", "x.pfx", "--password", "secret"]);
    assert_eq!(o.status.code(), Some(2));
}
