//! Issue 8 regressions at the command line: closed pipes, inputs that are not regular
//! files or never end, bad clocks and ages, terminal escapes from hostile input, and
//! servers that drip their replies. Each test failed before the fix.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use mailcert_tests::{Run, TestFarm};

/// Waits for `child` at most `limit`; kills it and fails the test if it is still running.
fn wait_within(mut child: Child, limit: Duration, what: &str) -> Run {
    let until = Instant::now() + limit;
    loop {
        match child.try_wait().unwrap() {
            Some(_) => break,
            None if Instant::now() < until => thread::sleep(Duration::from_millis(20)),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what}: still running after {limit:?} (hung)");
            }
        }
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `args` with standard output a pipe whose reader is already gone.
fn with_closed_stdout(f: &TestFarm, args: &[&str]) -> Run {
    let mut child = f
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    wait_within(child, Duration::from_secs(30), &format!("{args:?}"))
}

fn assert_quiet_stop(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what}: {r:?}");
    assert!(
        !r.stderr.contains("panicked") && !r.stderr.contains("Broken pipe"),
        "{what}: {r:?}"
    );
}

#[test]
fn a_closed_output_pipe_stops_quietly() {
    let f = TestFarm::new();
    f.ok(&[
        "cert",
        "import",
        "client-rsa.pem",
        "--key",
        "client-rsa.key",
    ]);
    f.ok(&["webapp", "add", "https://intranet.contoso.com"]);
    assert_quiet_stop(&with_closed_stdout(&f, &["audit"]), "audit");
    assert_quiet_stop(
        &with_closed_stdout(&f, &["--json", "audit"]),
        "--json audit",
    );
    assert_quiet_stop(&with_closed_stdout(&f, &["cert", "list"]), "cert list");
    let listed = f.list(&[]);
    let sha1 = listed[0]["thumbprint_sha1"].as_str().unwrap();
    assert_quiet_stop(
        &with_closed_stdout(&f, &["cert", "show", sha1]),
        "cert show",
    );
    assert_quiet_stop(&with_closed_stdout(&f, &["webapp", "list"]), "webapp list");

    // An import into a closed pipe stops after the first file, which stays imported.
    let g = TestFarm::new();
    let r = with_closed_stdout(
        &g,
        &[
            "cert",
            "import",
            "client-rsa.cer",
            "client-p384.pem",
            "root-ca.pem",
        ],
    );
    assert_quiet_stop(&r, "cert import");
    let stored = g.list(&["--store", "end-entity"]);
    assert_eq!(stored.len(), 1, "the first file was committed: {stored:?}");
}

#[test]
fn a_fifo_is_refused_instead_of_waited_for() {
    let f = TestFarm::new();
    plain_settings(&f, 9);
    let fifo = f.dir.path().join("pipe.pem");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let fifo_s = fifo.to_str().unwrap();
    for args in [
        vec!["cert", "import", fifo_s],
        vec!["cert", "import", "client-rsa.pem", "--key", fifo_s],
        vec![
            "cert",
            "import",
            "openssl3-default.pfx",
            "--password-file",
            fifo_s,
        ],
        vec!["send", "--to", "a@example.org", "--body-file", fifo_s],
        vec!["send", "--message", fifo_s],
    ] {
        let child = f
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let r = wait_within(child, Duration::from_secs(20), &format!("{args:?}"));
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains(fifo_s) && r.stderr.contains("named pipe (FIFO)"),
            "{args:?}: {r:?}"
        );
    }
}

#[test]
fn endless_inputs_are_refused() {
    let f = TestFarm::new();
    plain_settings(&f, 9);
    for args in [
        vec!["cert", "import", "/dev/zero"],
        vec![
            "cert",
            "import",
            "openssl3-default.pfx",
            "--password-file",
            "/dev/zero",
        ],
        vec!["send", "--to", "a@example.org", "--body-file", "/dev/zero"],
        vec!["send", "--message", "/dev/zero"],
    ] {
        let child = f
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let r = wait_within(child, Duration::from_secs(20), &format!("{args:?}"));
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert!(
            r.stderr
                .contains("/dev/zero: is a character device, not a regular file"),
            "{args:?}: {r:?}"
        );
    }
    assert!(f.list(&[]).is_empty(), "nothing was imported");
}

/// Feeds `total` bytes of a valid-looking message to `args` on standard input.
fn feed(f: &TestFarm, args: &[&str], total: usize) -> Run {
    let mut child = f
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = thread::spawn(move || {
        let head = b"To: a@example.org\nSubject: big\n\n";
        let _ = stdin.write_all(head);
        let line = [b'x'; 1023];
        let mut sent = head.len();
        while sent < total {
            let n = line.len().min(total - sent - 1);
            if stdin.write_all(&line[..n]).is_err() || stdin.write_all(b"\n").is_err() {
                break;
            }
            sent += n + 1;
        }
    });
    let r = wait_within(child, Duration::from_secs(60), &format!("{args:?}"));
    writer.join().unwrap();
    r
}

#[test]
fn an_oversized_message_is_an_error_not_a_truncation() {
    let f = TestFarm::new();
    // Settings that would deliver nowhere: the limit must stop it before any connection.
    plain_settings(&f, 9);
    let limit = 64 * 1024 * 1024;
    let r = feed(&f, &["sendmail", "-t"], limit + 1);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("64 MiB limit"), "{r:?}");
    let r = feed(&f, &["send", "--to", "a@example.org"], limit + 4096);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("64 MiB limit"), "{r:?}");
}

#[test]
fn a_bad_clock_or_age_is_a_usage_error() {
    let f = TestFarm::new();
    let r = Run::from_output(
        f.command(&["cert", "list"])
            .env("MAILCERT_NOW", "next tuesday")
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("MAILCERT_NOW"), "{r:?}");
    for age in [
        "999999999999999d",
        "99999999999999999999999d",
        "9223372036854775807s",
    ] {
        let r = f.run(&["audit", "--since", age]);
        assert_eq!(r.code, 2, "--since {age}: {r:?}");
        assert!(r.stderr.contains("--since"), "{r:?}");
        assert!(!r.stderr.contains("panicked"), "{r:?}");
    }
    // A sane age still works.
    f.ok(&["audit", "--since", "3650d"]);
}

const ESC: char = '\u{1b}';

/// A certificate with its key whose subject, SAN and file name carry terminal escapes.
fn hostile_certificate(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut params =
        rcgen::CertificateParams::new(vec![format!("evil{ESC}]0;owned\u{7}.example")]).unwrap();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("client{ESC}[2J{ESC}[1;1H eligible: yes\r"),
    );
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let cert_file = dir.join(format!("hostile{ESC}[2J.pem"));
    let key_file = dir.join("hostile.key");
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (cert_file, key_file)
}

fn assert_no_raw_controls(r: &Run, what: &str) {
    for (name, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        assert!(
            !text.chars().any(|c| c == ESC || c == '\u{7}' || c == '\r'),
            "{what}: raw control characters on {name}: {text:?}"
        );
    }
}

#[test]
fn terminal_escapes_from_certificates_are_shown_escaped() {
    let f = TestFarm::new();
    let (cert, key) = hostile_certificate(f.dir.path());
    let r = f.run(&[
        "cert",
        "import",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--friendly-name",
        &format!("name{ESC}]0;title\u{7}"),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_no_raw_controls(&r, "cert import");
    assert!(
        r.stdout.contains("\\u001b[2J"),
        "escaped, not dropped: {r:?}"
    );
    let listed = f.list(&[]);
    let sha1 = listed[0]["thumbprint_sha1"].as_str().unwrap().to_string();
    // JSON carries the real text, escaped as JSON.
    assert!(
        listed[0]["subject"].as_str().unwrap().contains(ESC),
        "{listed:?}"
    );
    for args in [
        vec!["cert", "list"],
        vec!["cert", "show", sha1.as_str()],
        vec!["cert", "check", sha1.as_str()],
        vec!["audit"],
        vec!["--json", "cert", "show", sha1.as_str()],
    ] {
        let r = f.run(&args);
        assert_no_raw_controls(&r, &format!("{args:?}"));
        assert!(r.stdout.contains("\\u001b"), "{args:?}: {r:?}");
    }
    // A bad file whose name carries an escape: the error names it, escaped.
    let bad = f.dir.path().join(format!("bad{ESC}]0;x\u{7}.pem"));
    std::fs::write(&bad, b"not a certificate").unwrap();
    let r = f.run(&["cert", "import", bad.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_no_raw_controls(&r, "bad import");
    assert!(r.stderr.contains("bad\\u001b]0;x\\u0007.pem"), "{r:?}");
    // Colour wraps only escaped text: with our own colour codes taken out, not one raw
    // control character is left.
    for args in [
        vec!["--color", "always", "cert", "list"],
        vec!["--color", "always", "cert", "list", "--wide"],
        vec!["--color", "always", "cert", "check", sha1.as_str()],
        vec!["--color", "always", "cert", "import", bad.to_str().unwrap()],
    ] {
        let mut r = f.run(&args);
        assert!(
            r.stdout.contains(ESC) || r.stderr.contains(ESC),
            "coloured: {r:?}"
        );
        for sgr in ["\x1b[32m", "\x1b[1;31m", "\x1b[33m", "\x1b[36m", "\x1b[0m"] {
            r.stdout = r.stdout.replace(sgr, "");
            r.stderr = r.stderr.replace(sgr, "");
        }
        assert_no_raw_controls(&r, &format!("{args:?}"));
    }
}

/// A plain-text SMTP server on loopback that greets with `greeting` (sent a byte every
/// `gap` when given) and answers EHLO and QUIT.
fn scripted_server(greeting: &'static [u8], gap: Option<Duration>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                match gap {
                    Some(gap) => {
                        for b in greeting {
                            if stream.write_all(&[*b]).is_err() {
                                return;
                            }
                            thread::sleep(gap);
                        }
                    }
                    None => {
                        let _ = stream.write_all(greeting);
                    }
                }
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 {
                    let reply: &[u8] = if line.starts_with("EHLO") {
                        b"250-mx\x1b[2J\r\n250 8BITMIME\r\n"
                    } else {
                        b"221 bye\r\n"
                    };
                    if stream.write_all(reply).is_err() || line.starts_with("QUIT") {
                        return;
                    }
                    line.clear();
                }
                let mut rest = Vec::new();
                let _ = reader.read_to_end(&mut rest);
            });
        }
    });
    port
}

fn plain_settings(f: &TestFarm, port: u16) {
    f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--encryption",
        "none",
        "--from",
        "app@example.org",
    ]);
}

#[test]
fn smtp_replies_with_escapes_are_shown_escaped() {
    let f = TestFarm::new();
    plain_settings(
        &f,
        scripted_server(b"220 mx.example \x1b]0;pwned\x07 ESMTP\r\n", None),
    );
    let r = f.run(&["smtp", "test", "--farm"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_no_raw_controls(&r, "smtp test");
    assert!(r.stdout.contains("\\u001b]0;pwned\\u0007"), "{r:?}");
}

#[test]
fn a_dripping_server_cannot_hold_smtp_test() {
    let f = TestFarm::new();
    // 34 bytes at 300 ms: about 10 s for the greeting, each gap far inside the 2 s step.
    plain_settings(
        &f,
        scripted_server(
            b"220 slow.example ESMTP drip drip\r\n",
            Some(Duration::from_millis(300)),
        ),
    );
    let started = Instant::now();
    let child = f
        .command(&["smtp", "test", "--farm", "--timeout", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let r = wait_within(child, Duration::from_secs(30), "smtp test");
    let took = started.elapsed();
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("connect"), "{r:?}");
    assert!(r.stderr.to_lowercase().contains("time"), "{r:?}");
    assert!(took < Duration::from_secs(6), "took {took:?}: {r:?}");
}
