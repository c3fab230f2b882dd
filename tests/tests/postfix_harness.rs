//! Proves the private Postfix harness (`mailcert_tests::postfix`) works, independently of
//! mailcert: Python's `ssl` + `smtplib` is the client (it sends leaf + intermediate, which
//! swaks cannot) and verifies the server against `root-ca.pem` alone, so OpenSSL's "auto
//! chain" cannot add a missing intermediate on either side.
//!
//! Where Postfix cannot run, each test says so and passes, or fails under
//! `MAILCERT_REQUIRE_EXTERNAL=1` (as in CI).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mailcert_tests::postfix::{Postfix, PostfixConfig, fingerprint_for_log};
use mailcert_tests::{expected, fixture};
use serde_json::Value;

/// Every wait in this file: long enough for a loaded CI machine, short enough to fail fast.
const WAIT: Duration = Duration::from_secs(5);
const RCPT: &str = "rcpt@relay.test";

const CLIENT_PY: &str = r#"
import json, smtplib, ssl, sys

mode, port, ca, cert, key, rcpt, subject = sys.argv[1:8]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the server and its name
ctx.load_verify_locations(cafile=ca)
if cert:
    ctx.load_cert_chain(certfile=cert, keyfile=key)
msg = ("From: sender@client.test\r\nTo: %s\r\nSubject: %s\r\n\r\nhello\r\n" % (rcpt, subject))
result = {"stage": "connect"}
try:
    if mode == "tls":
        s = smtplib.SMTP_SSL("127.0.0.1", int(port), context=ctx, timeout=5)
    else:
        s = smtplib.SMTP("127.0.0.1", int(port), timeout=5)
        result["stage"] = "ehlo"
        s.ehlo()
        result["stage"] = "starttls"
        code, text = s.starttls(context=ctx)
    result["stage"] = "ehlo-after-tls"
    code, text = s.ehlo()
    if code != 250:
        raise smtplib.SMTPResponseException(code, text)
    result["stage"] = "mail"
    code, text = s.mail("sender@client.test")
    if code != 250:
        raise smtplib.SMTPResponseException(code, text)
    result["stage"] = "rcpt"
    code, text = s.rcpt(rcpt)
    if code != 250:
        raise smtplib.SMTPResponseException(code, text)
    result["stage"] = "data"
    code, text = s.data(msg)
    if code != 250:
        raise smtplib.SMTPResponseException(code, text)
    result["stage"] = "quit"
    s.quit()
    result["ok"] = True
except smtplib.SMTPResponseException as e:
    result.update(ok=False, code=e.smtp_code,
                  error=e.smtp_error.decode("utf-8", "replace")
                  if isinstance(e.smtp_error, bytes) else str(e.smtp_error))
except Exception as e:
    result.update(ok=False, error="%s: %s" % (type(e).__name__, e))
print(json.dumps(result))
"#;

/// Which listener to talk to.
#[derive(Clone, Copy, Debug)]
enum Port {
    StartTls,
    Tls,
}

/// The certificate the client presents: fixture files (leaf first) and a key.
struct ClientCert<'a> {
    chain: &'a [&'a str],
    key: &'a str,
}

const FULL_CHAIN: ClientCert<'static> = ClientCert {
    chain: &["client-p256.pem", "intermediate-ca.pem"],
    key: "client-p256.key",
};

/// Starts an instance, or None (after printing why) when Postfix cannot run here.
fn start(config: PostfixConfig) -> Option<Postfix> {
    if let Some(why) = Postfix::unavailable_reason() {
        mailcert_tests::external_missing(&why);
        return None;
    }
    Some(Postfix::start(config).unwrap_or_else(|e| panic!("starting postfix: {e}")))
}

/// Sends one message with the Python client; returns its JSON verdict.
fn send(pf: &Postfix, port: Port, cert: Option<&ClientCert<'_>>, rcpt: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("client.py");
    std::fs::write(&script, CLIENT_PY).unwrap();
    let (cert_file, key_file) = match cert {
        Some(c) => {
            let mut pem = String::new();
            for f in c.chain {
                pem.push_str(&std::fs::read_to_string(fixture(f)).unwrap());
            }
            let chain = dir.path().join("client-chain.pem");
            std::fs::write(&chain, pem).unwrap();
            (chain, fixture(c.key))
        }
        None => (PathBuf::new(), PathBuf::new()),
    };
    let (mode, port_number) = match port {
        Port::StartTls => ("starttls", pf.starttls_port()),
        Port::Tls => ("tls", pf.tls_port()),
    };
    let mut cmd = Command::new("python3");
    cmd.arg(&script)
        .arg(mode)
        .arg(port_number.to_string())
        .arg(pf.root_ca_path())
        .arg(&cert_file)
        .arg(&key_file)
        .arg(rcpt)
        .arg(format!("harness {mode}"));
    let out = run(&mut cmd, Duration::from_secs(10));
    serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("python client printed no JSON ({e}): {out}"))
}

/// Runs a command with a time limit; returns stdout (panics with stderr on failure).
fn run(cmd: &mut Command, timeout: Duration) -> String {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {cmd:?} (is python3 installed?): {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{cmd:?} failed: {stdout}\n{stderr}");
    stdout
}

/// Waits for a log line containing `needle` and returns it.
fn log_line(pf: &Postfix, needle: &str) -> String {
    assert!(
        pf.wait_for_log(needle, WAIT),
        "the maillog has no line with {needle:?}"
    );
    pf.log()
        .lines()
        .find(|l| l.contains(needle))
        .unwrap()
        .to_string()
}

/// Waits for a line logged by `listener`'s smtpd ("starttls" or "tls") containing `needle`.
fn listener_line(pf: &Postfix, listener: &str, needle: &str) -> String {
    let tag = format!("{}/{listener}/smtpd[", pf.name());
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(l) = pf
            .log()
            .lines()
            .find(|l| l.contains(&tag) && l.contains(needle))
        {
            return l.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "the maillog has no line from {tag} with {needle:?}:\n{}",
            pf.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The log fragment Postfix writes for a client certificate (`1,peercert`).
fn peercert(cn: &str, issuer: &str, fixture_name: &str) -> String {
    let sha256 = expected()[fixture_name]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    format!(
        "unknown[127.0.0.1]: subject_CN={cn}, issuer={issuer}, fingerprint={}, pkey_fingerprint=",
        fingerprint_for_log(&sha256)
    )
}

/// Asserts a full-chain client over `port` gets its message delivered, verified.
fn delivered_over(port: Port, listener: &str) {
    let Some(pf) = start(PostfixConfig::new()) else {
        return;
    };
    let r = send(&pf, port, Some(&FULL_CHAIN), RCPT);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(pf.wait_for_delivered(1, WAIT), 1);
    assert_eq!(pf.maildir_count(RCPT), 1);
    assert_eq!(pf.maildir_count("someone-else@relay.test"), 0);
    assert_eq!(pf.maildir_count("@relay.test"), 1);

    listener_line(
        &pf,
        listener,
        &peercert(
            "client-p256.test",
            "mailcert Test Intermediate CA",
            "client-p256.pem",
        ),
    );
    let trusted = listener_line(
        &pf,
        listener,
        "Trusted TLS connection established from unknown[127.0.0.1]: TLSv1.3",
    );
    assert!(trusted.contains("client-signature ECDSA"), "{trusted}");
    log_line(&pf, "to=<rcpt@relay.test>, relay=virtual");
    log_line(&pf, "status=sent (delivered to maildir)");
    assert!(!pf.log().contains("verification failed"), "{}", pf.log());

    let message = &pf.messages(RCPT)[0];
    assert!(
        message.contains(
            "(Client CN \"client-p256.test\", Issuer \"mailcert Test Intermediate CA\" (verified OK))"
        ),
        "{message}"
    );
    assert!(
        message.contains(&format!("Subject: harness {listener}")),
        "{message}"
    );
}

/// Asserts the client was refused with 421 `reason`, `listener` logged `lines` and the
/// abort, and nothing was delivered.
fn refused(pf: &Postfix, listener: &str, r: &Value, reason: &str, lines: &[&str]) {
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["code"], 421, "{r}");
    assert!(
        r["error"].as_str().unwrap().contains(reason),
        "{r} should say {reason:?}"
    );
    for l in lines {
        listener_line(pf, listener, l);
    }
    listener_line(
        pf,
        listener,
        &format!("NOQUEUE: abort: TLS from unknown[127.0.0.1]: {reason}"),
    );
    // The session ended before MAIL FROM: nothing can be queued after this line.
    listener_line(pf, listener, "disconnect from unknown[127.0.0.1]");
    assert_eq!(pf.delivered_count(), 0);
    assert!(!pf.log().contains("Trusted TLS connection"), "{}", pf.log());
    assert!(!pf.log().contains("status=sent"), "{}", pf.log());
}

#[test]
fn starttls_full_chain_is_delivered_and_logged_verified() {
    delivered_over(Port::StartTls, "starttls");
}

#[test]
fn implicit_tls_full_chain_is_delivered_and_logged_verified() {
    delivered_over(Port::Tls, "tls");
}

#[test]
fn leaf_without_intermediate_is_refused() {
    let Some(pf) = start(PostfixConfig::new()) else {
        return;
    };
    let leaf_only = ClientCert {
        chain: &["client-p256.pem"],
        key: "client-p256.key",
    };
    let r = send(&pf, Port::StartTls, Some(&leaf_only), RCPT);
    refused(
        &pf,
        "starttls",
        &r,
        "Client certificate not trusted",
        &[
            "certificate verification failed for unknown[127.0.0.1]: untrusted issuer /O=mailcert tests/CN=mailcert Test Intermediate CA",
            "Untrusted TLS connection established from unknown[127.0.0.1]",
            &peercert(
                "client-p256.test",
                "mailcert Test Intermediate CA",
                "client-p256.pem",
            ),
        ],
    );
}

#[test]
fn no_client_certificate_is_refused_with_421_on_both_ports() {
    let Some(pf) = start(PostfixConfig::new()) else {
        return;
    };
    let r = send(&pf, Port::StartTls, None, RCPT);
    // The TLS handshake completes; the refusal is the reply to the EHLO after it.
    assert_eq!(r["stage"], "ehlo-after-tls", "{r}");
    refused(
        &pf,
        "starttls",
        &r,
        "No client certificate presented",
        &["Anonymous TLS connection established from unknown[127.0.0.1]"],
    );

    let r = send(&pf, Port::Tls, None, RCPT);
    // Implicit TLS: the 421 replaces the greeting.
    assert_eq!(r["stage"], "connect", "{r}");
    refused(
        &pf,
        "tls",
        &r,
        "No client certificate presented",
        &["Anonymous TLS connection established from unknown[127.0.0.1]"],
    );
}

#[test]
fn self_signed_client_certificate_is_refused() {
    let Some(pf) = start(PostfixConfig::new()) else {
        return;
    };
    let self_signed = ClientCert {
        chain: &["self-signed-client.pem"],
        key: "self-signed-client.key",
    };
    let r = send(&pf, Port::Tls, Some(&self_signed), RCPT);
    refused(
        &pf,
        "tls",
        &r,
        "Client certificate not trusted",
        &[
            "certificate verification failed for unknown[127.0.0.1]: self-signed certificate",
            &peercert(
                "self-signed-client.test",
                "self-signed-client.test",
                "self-signed-client.pem",
            ),
        ],
    );
}

#[test]
fn optional_certificate_still_relays_only_for_verified_clients() {
    let Some(pf) = start(PostfixConfig::new().require_client_cert(false)) else {
        return;
    };
    let r = send(&pf, Port::StartTls, None, RCPT);
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["stage"], "rcpt", "{r}");
    assert_eq!(r["code"], 554, "{r}");
    log_line(
        &pf,
        "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 <rcpt@relay.test>: Relay access denied",
    );
    assert_eq!(pf.delivered_count(), 0);

    // A verified client relays; a domain the instance does not serve is rejected.
    let r = send(
        &pf,
        Port::StartTls,
        Some(&FULL_CHAIN),
        "rcpt@elsewhere.test",
    );
    assert_eq!(r["stage"], "rcpt", "{r}");
    assert_eq!(r["code"], 554, "{r}");
    let r = send(&pf, Port::StartTls, Some(&FULL_CHAIN), RCPT);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(pf.wait_for_delivered(1, WAIT), 1);
    assert_eq!(pf.maildir_count(RCPT), 1);
}

#[test]
fn two_instances_run_at_once_and_stop_cleanly() {
    let Some(a) = start(PostfixConfig::new()) else {
        return;
    };
    let b = Postfix::start(PostfixConfig::new().domains(&["other.test"])).unwrap();
    assert_ne!(a.starttls_port(), b.starttls_port());
    assert_ne!(a.tls_port(), b.tls_port());
    assert_ne!(a.name(), b.name());

    let r = send(&b, Port::Tls, Some(&FULL_CHAIN), "x@other.test");
    assert_eq!(r["ok"], true, "{r}");
    let r = send(&a, Port::StartTls, Some(&FULL_CHAIN), RCPT);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(b.wait_for_delivered(1, WAIT), 1);
    assert_eq!(a.wait_for_delivered(1, WAIT), 1);
    assert_eq!(b.maildir_count("x@other.test"), 1);
    assert_eq!(b.maildir_count("other.test"), 1);
    assert_eq!(a.maildir_count(RCPT), 1);
    assert!(!a.log().contains(b.name()));

    let (dir, ports) = (b.dir().to_path_buf(), [b.starttls_port(), b.tls_port()]);
    drop(b);
    assert!(!dir.exists(), "{} was not removed", dir.display());
    for p in ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", p)).is_err(),
            "port {p} still accepts after drop"
        );
    }
    // The other instance is unaffected.
    let r = send(&a, Port::Tls, Some(&FULL_CHAIN), RCPT);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(a.wait_for_delivered(2, WAIT), 2);
    assert!(Path::new(a.dir()).exists());
}

/// The plain listener for load generators: Postfix's own `smtp-source` delivers through
/// it without TLS, while the certificate ports keep demanding a client certificate.
#[test]
fn the_plain_port_takes_smtp_source_from_loopback() {
    let Some(pf) = start(PostfixConfig::new()) else {
        return;
    };
    let out = Command::new("/usr/sbin/smtp-source")
        .args(["-s", "2", "-m", "4", "-f", "bench@client.test", "-t", RCPT])
        .arg(format!("127.0.0.1:{}", pf.plain_port()))
        .output()
        .expect("smtp-source comes with the postfix package");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(pf.wait_for_delivered(4, WAIT), 4, "{}", pf.log());
    assert_eq!(pf.maildir_count(RCPT), 4);
    let r = send(&pf, Port::StartTls, None, RCPT);
    assert_eq!(
        r["ok"], false,
        "still no relaying without a certificate: {r}"
    );
}
