//! The platform's trust store is read only when the farm's roots do not verify the
//! server, and then it decides as a verifier over both would. The platform store is
//! pointed at a file with `SSL_CERT_FILE` in a child process (the variable is read once
//! per process).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mailcert_sender::{Security, SendError, Session};
use support::*;

const CHILD: &str = "MAILCERT_PLATFORM_ROOTS_CHILD";

#[test]
fn platform_roots_are_consulted_when_the_farm_roots_do_not_verify() {
    if std::env::var_os(CHILD).is_none() {
        // Re-run this test alone with the platform store holding only the test root.
        let empty_dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "platform_roots_are_consulted_when_the_farm_roots_do_not_verify",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .env("SSL_CERT_FILE", fixture("root-ca.pem"))
            .env("SSL_CERT_DIR", empty_dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "child: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let server = start(starttls_config());
    // The farm holds an unrelated root; the platform store holds the server's root.
    let mut opts = options(&server, Security::StartTls);
    opts.extra_roots = certs("self-signed-client.pem");
    opts.use_platform_roots = true;
    let s = Session::connect(&opts).expect("verified through the platform's roots");
    s.quit().unwrap();
    // The farm's own root verifies without the platform store too.
    let mut opts = options(&server, Security::StartTls);
    opts.use_platform_roots = true;
    Session::connect(&opts).unwrap().quit().unwrap();
    // Neither set knows the server: refused as untrusted, as before.
    let mut opts = options(&server, Security::StartTls);
    opts.extra_roots = certs("self-signed-client.pem");
    opts.use_platform_roots = false;
    let err = Session::connect(&opts).unwrap_err();
    assert!(
        matches!(err, SendError::ServerCertificate { .. }),
        "{err:?}"
    );
}
