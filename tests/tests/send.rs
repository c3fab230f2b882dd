//! End-to-end tests of `mailcert send`, `sendmail` and `smtp test` against the loopback
//! relay (real TLS handshakes on 127.0.0.1, a relay that trusts only the root CA).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use mailcert_tests::{TestFarm, relay, sha1_of};
use mailcert_testsmtp::{Config, ReceivedMessage, TestServer};

const APP: &str = "https://intranet.contoso.com";

/// A relay on STARTTLS (or implicit TLS) that demands a client certificate chaining to
/// the test root, which it alone trusts.
fn relay(implicit: bool) -> TestServer {
    relay::start(relay::relay_config(implicit))
}

/// A farm with client-p256 (and its chain: the root lands in the Root store, which is
/// how the sender trusts the relay) bound to the web application.
fn farm(server: &TestServer, encryption: &str) -> TestFarm {
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
        "--encryption",
        encryption,
        "--certificate",
        "name:relay",
        "--from",
        "SharePoint <sp@contoso.com>",
        "--reply-to",
        "help@contoso.com",
        "--helo",
        "sp01.contoso.com",
    ]);
    f
}

fn one_message(server: &TestServer) -> ReceivedMessage {
    let got = server.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(got.len(), 1, "{got:?}");
    got.into_iter().next().unwrap()
}

fn assert_chain_from_farm(m: &ReceivedMessage) {
    assert_eq!(m.client_chain.len(), 2, "leaf and intermediate");
    assert_eq!(
        mailcert_store::thumbprints(&m.client_chain[0]).0,
        sha1_of("client-p256.pem")
    );
    assert_eq!(
        mailcert_store::thumbprints(&m.client_chain[1]).0,
        sha1_of("intermediate-ca.pem")
    );
    assert!(m.tls);
}

#[test]
fn send_over_starttls_presents_the_chain() {
    let server = relay(false);
    let f = farm(&server, "starttls");
    let r = f.run_stdin(
        &[
            "send",
            "--webapp",
            APP,
            "--to",
            "ops@contoso.com",
            "--subject",
            "Grüße",
        ],
        "Hello from the farm.\n".as_bytes(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("queued as"), "{r:?}");
    let m = one_message(&server);
    assert_chain_from_farm(&m);
    assert_eq!(m.mail_from, "sp@contoso.com");
    assert_eq!(m.recipients, ["ops@contoso.com"]);
    let text = String::from_utf8_lossy(&m.data);
    assert!(text.contains("From: SharePoint <sp@contoso.com>"), "{text}");
    assert!(text.contains("Reply-To: help@contoso.com"), "{text}");
    assert!(text.contains("charset=utf-8"), "{text}");
    assert!(
        text.contains("@sp01.contoso.com>"),
        "Message-ID under the HELO name: {text}"
    );
}

#[test]
fn send_over_implicit_tls() {
    let server = relay(true);
    let f = farm(&server, "tls");
    let body = f.dir.path().join("body.txt");
    std::fs::write(&body, "implicit\n").unwrap();
    f.ok(&[
        "send",
        "--webapp",
        APP,
        "--to",
        "ops@contoso.com",
        "--body-file",
        body.to_str().unwrap(),
    ]);
    assert_chain_from_farm(&one_message(&server));
}

#[test]
fn whole_messages_go_over_one_connection_with_a_line_each() {
    let server = relay::start(relay::relay_config(false).reject_recipient("nobody@contoso.com"));
    let f = farm(&server, "starttls");
    let d = f.dir.path();
    let mut files = Vec::new();
    for (i, to) in [
        "a@contoso.com",
        "b@contoso.com",
        "nobody@contoso.com",
        "c@contoso.com",
    ]
    .iter()
    .enumerate()
    {
        let p = d.join(format!("m{i}.eml"));
        std::fs::write(&p, format!("From: App <app@contoso.com>\nTo: {to}\nBcc: audit@contoso.com\nSubject: message {i}\n\nbody {i}\n")).unwrap();
        files.push(p.to_str().unwrap().to_string());
    }
    let mut args = vec![
        "--json",
        "send",
        "--webapp",
        APP,
        "--connections",
        "1",
        "--message",
    ];
    args.extend(files.iter().map(String::as_str));
    let r = f.run(&args);
    assert_eq!(r.code, 5, "one recipient refused means exit 5: {r:?}");
    let lines = r.json();
    assert_eq!(lines.as_array().unwrap().len(), 4);
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(lines[2]["ok"], false);
    assert!(
        lines[2]["refused"][0]["address"] == "nobody@contoso.com",
        "{lines}"
    );
    let got = server.wait_for_messages(4, Duration::from_secs(5));
    assert_eq!(
        got.len(),
        4,
        "the message with a refused To still went to its Bcc"
    );
    let conns: std::collections::HashSet<u64> = got.iter().map(|m| m.connection_id).collect();
    assert_eq!(conns.len(), 1, "one connection for all messages");
    for m in &got {
        assert_eq!(
            m.mail_from, "sp@contoso.com",
            "envelope sender from the settings"
        );
        let text = String::from_utf8_lossy(&m.data);
        assert!(
            text.contains("From: App <app@contoso.com>"),
            "own From kept: {text}"
        );
        assert!(!text.contains("Bcc:"), "{text}");
        assert!(m.recipients.contains(&"audit@contoso.com".to_string()));
    }
}

#[test]
fn messages_are_spread_over_pooled_connections_and_reported_in_order() {
    let server = relay(false);
    let f = farm(&server, "starttls");
    let d = f.dir.path();
    // Enough messages that the sessions opened after the first still find some: a
    // session is opened only while messages are waiting, and the first one is quick.
    let files: Vec<String> = (0..400)
        .map(|i| {
            let p = d.join(format!("p{i:02}.eml"));
            std::fs::write(
                &p,
                format!("To: ops@contoso.com\nSubject: pooled {i}\nX-Seq: {i}\n\nbody {i}\n"),
            )
            .unwrap();
            p.to_str().unwrap().to_string()
        })
        .collect();
    let mut args = vec!["--json", "send", "--webapp", APP, "--message"];
    args.extend(files.iter().map(String::as_str));
    let r = f.run(&args);
    assert_eq!(r.code, 0, "{r:?}");
    let lines = r.json();
    let labels: Vec<&str> = lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(labels, files, "one result per message, in input order");
    let got = server.wait_for_messages(400, Duration::from_secs(20));
    let mut seqs: Vec<u32> = got
        .iter()
        .filter_map(|m| {
            String::from_utf8_lossy(&m.data).lines().find_map(|l| {
                l.strip_prefix("X-Seq: ")
                    .and_then(|v| v.trim().parse().ok())
            })
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..400).collect::<Vec<_>>(), "each message once");
    let conns: std::collections::HashSet<u64> = got.iter().map(|m| m.connection_id).collect();
    assert!(
        (2..=4).contains(&conns.len()),
        "spread over the default 4 sessions: {}",
        conns.len()
    );
    assert!(got.iter().all(|m| m.client_chain.len() == 2));
}

#[test]
fn sendmail_reads_stdin_like_usr_sbin_sendmail() {
    let server = relay(false);
    let f = farm(&server, "starttls");
    let msg = b"To: ops@contoso.com\nCc: Team <team@contoso.com>\nBcc: hidden@contoso.com\nSubject: cron output\n\nall good\n.\nstill body\n";
    let r = f.run_stdin(&["sendmail", "-t", "-i", "-oi", "--webapp", APP], msg);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "", "sendmail is silent on success");
    assert_eq!(r.stderr, "", "sendmail is silent on success");
    let m = one_message(&server);
    assert_chain_from_farm(&m);
    assert_eq!(
        m.recipients,
        ["ops@contoso.com", "team@contoso.com", "hidden@contoso.com"]
    );
    let text = String::from_utf8_lossy(&m.data);
    assert!(
        text.contains("From: SharePoint <sp@contoso.com>"),
        "From added: {text}"
    );
    assert!(!text.contains("hidden@"), "{text}");
    assert!(
        text.contains("\r\n.\r\nstill body"),
        "a lone dot does not end the message: {text:?}"
    );
    // Recipients as arguments, -f for the envelope, the web application from the environment.
    let r = f
        .command(&[
            "sendmail",
            "-f",
            "bounces@contoso.com",
            "direct@contoso.com",
        ])
        .env("MAILCERT_WEBAPP", APP)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"Subject: x\n\ny\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(r.status.success(), "{r:?}");
    let got = server.wait_for_messages(2, Duration::from_secs(5));
    assert_eq!(got[1].mail_from, "bounces@contoso.com");
    assert_eq!(got[1].recipients, ["direct@contoso.com"]);
    // No recipients at all: usage error, nothing sent.
    let r = f.run_stdin(&["sendmail", "--webapp", APP], b"Subject: x\n\ny\n");
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn smtp_test_reports_each_step_without_sending() {
    let server = relay(false);
    let f = farm(&server, "starttls");
    let r = f.ok(&["smtp", "test", "--webapp", APP]);
    for want in [
        "connect localhost:",
        "tls (STARTTLS) ok: TLSv1",
        "server certificate: O=mailcert tests, CN=localhost",
        "client certificate requested by the server: yes",
        "client certificate sent: relay",
        "with 1 intermediate(s)",
        "EHLO extensions:",
        "quit ok; no message was sent",
    ] {
        assert!(
            r.stdout.contains(want),
            "missing {want:?} in:\n{}",
            r.stdout
        );
    }
    assert!(r.stdout.contains(&sha1_of("client-p256.pem")));
    relay::settled(&server);
    assert!(server.messages().is_empty());
    let j = f.ok(&["--json", "smtp", "test", "--webapp", APP]).json();
    assert_eq!(j["ok"], true);
}

#[test]
fn failures_name_the_step_and_exit_5() {
    let server = relay(false);
    let f = farm(&server, "starttls");
    // No certificate bound: the relay demands one.
    f.ok(&["smtp", "set", "--webapp", APP, "--no-certificate"]);
    let r = f.run_stdin(
        &["send", "--webapp", APP, "--to", "ops@contoso.com"],
        b"x\n",
    );
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr.to_lowercase().contains("client certificate"),
        "{r:?}"
    );
    // A certificate the relay does not trust (self-signed).
    f.ok(&[
        "cert",
        "import",
        "self-signed-client.pem",
        "--key",
        "self-signed-client.key",
        "--friendly-name",
        "selfie",
    ]);
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--certificate",
        "name:selfie",
    ]);
    let r = f.run(&["smtp", "test", "--webapp", APP]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr.contains("client certificate") && r.stderr.contains("reject"),
        "{r:?}"
    );
    assert!(server.messages().is_empty());
    // A relay whose certificate the farm does not trust: a farm without the test root.
    let g = TestFarm::new();
    g.ok(&[
        "cert",
        "import",
        "client-p256.pem",
        "--key",
        "client-p256.key",
        "--friendly-name",
        "relay",
    ]);
    g.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "localhost",
        "--port",
        &server.port().to_string(),
        "--certificate",
        "name:relay",
        "--from",
        "sp@contoso.com",
    ]);
    let r = g.run_stdin(&["send", "--farm", "--to", "ops@contoso.com"], b"x\n");
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr.contains("server's certificate is not trusted"),
        "{r:?}"
    );
    // Nothing listens: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    g.ok(&["smtp", "set", "--farm", "--port", &closed.to_string()]);
    let r = g.run(&["smtp", "test", "--farm", "--timeout", "3"]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("connect"), "{r:?}");
}

#[test]
fn starttls_is_never_skipped() {
    let plain = TestServer::start(Config::plain()).unwrap();
    let f = TestFarm::new();
    f.ok(&[
        "smtp",
        "set",
        "--farm",
        "--smtp-server",
        "127.0.0.1",
        "--port",
        &plain.port().to_string(),
        "--from",
        "sp@contoso.com",
    ]);
    let r = f.run_stdin(
        &["send", "--farm", "--to", "ops@contoso.com"],
        b"secret body\n",
    );
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("STARTTLS"), "{r:?}");
    relay::settled(&plain);
    assert!(plain.messages().is_empty(), "nothing may travel in clear");
    let log = plain.connection_log();
    assert!(
        log.iter()
            .all(|c| !c.commands.iter().any(|x| x.starts_with("MAIL"))),
        "{log:?}"
    );
    // With encryption explicitly off the same relay takes it (no credentials, no certificate).
    f.ok(&["smtp", "set", "--farm", "--encryption", "none"]);
    f.ok(&[
        "send",
        "--farm",
        "--to",
        "ops@contoso.com",
        "--body-file",
        "password.txt",
    ]);
    assert_eq!(plain.wait_for_messages(1, Duration::from_secs(5)).len(), 1);
}

#[test]
fn smtp_credentials_are_used_over_tls() {
    let server =
        relay::start(relay::relay_config(false).auth("svc-sharepoint", "correct horse battery"));
    let f = farm(&server, "starttls");
    let pw = f.dir.path().join("pw");
    std::fs::write(&pw, "wrong password\n").unwrap();
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--smtp-user",
        "svc-sharepoint",
        "--smtp-password-file",
        pw.to_str().unwrap(),
    ]);
    let r = f.run(&["smtp", "test", "--webapp", APP]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("auth"), "{r:?}");
    std::fs::write(&pw, "correct horse battery\n").unwrap();
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--smtp-user",
        "svc-sharepoint",
        "--smtp-password-file",
        pw.to_str().unwrap(),
    ]);
    let r = f.ok(&["smtp", "test", "--webapp", APP]);
    assert!(r.stdout.contains("auth ok (PLAIN)"), "{r:?}");
    f.ok(&[
        "send",
        "--webapp",
        APP,
        "--to",
        "ops@contoso.com",
        "--body-file",
        "password.txt",
    ]);
    let m = one_message(&server);
    assert_eq!(m.auth_user.as_deref(), Some("svc-sharepoint"));

    // -v: the dialogue on stderr, TLS details included, the credentials never.
    let r = f.ok(&[
        "-v",
        "send",
        "--webapp",
        APP,
        "--to",
        "ops@contoso.com",
        "--subject",
        "transcript",
        "--body-file",
        "password.txt",
    ]);
    for want in [
        "=== connected to 127.0.0.1:",
        "<-- 220 ",
        "--> EHLO sp01.contoso.com",
        "--> STARTTLS",
        "=== TLS TLSv1.3",
        "=== TLS server certificate verified: O=mailcert tests, CN=localhost",
        "AUTH PLAIN <hidden>",
        "<-- 235",
        "--> MAIL FROM:<sp@contoso.com>",
        "--> RCPT TO:<ops@contoso.com>",
        "--> DATA",
        "<message, ",
        "--> QUIT",
    ] {
        assert!(
            r.stderr.contains(want),
            "missing {want:?} in:\n{}",
            r.stderr
        );
    }
    let sent_line = format!(
        "=== TLS client certificate sent: SHA-1 {}",
        sha1_of("client-p256.pem")
    );
    assert!(r.stderr.contains(&sent_line), "{}", r.stderr);
    let plain_b64 = "AHN2Yy1zaGFyZXBvaW50AGNvcnJlY3QgaG9yc2UgYmF0dGVyeQ==";
    assert!(!r.stderr.contains("correct horse"), "{}", r.stderr);
    assert!(!r.stderr.contains(plain_b64), "{}", r.stderr);
    assert!(
        !r.stderr.contains("Subject: transcript"),
        "the message itself is not shown: {}",
        r.stderr
    );
    assert_eq!(server.wait_for_messages(2, Duration::from_secs(5)).len(), 2);
    // Without -v there is no transcript.
    let r = f.ok(&["smtp", "test", "--webapp", APP]);
    assert!(!r.stderr.contains("-->"), "{}", r.stderr);
    let r = f.ok(&["smtp", "test", "--webapp", APP, "-v"]);
    assert!(r.stderr.contains("--> QUIT"), "{}", r.stderr);
}

#[test]
fn charset_applies_to_built_bodies() {
    let server = relay(false);
    let f = farm(&server, "starttls");
    f.ok(&["smtp", "set", "--webapp", APP, "--charset", "iso-8859-1"]);
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
        "Grüße\n".as_bytes(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let m = one_message(&server);
    let text = String::from_utf8_lossy(&m.data);
    assert!(text.contains("charset=iso-8859-1"), "{text}");
    // "Grüße" and its line break (sent as CRLF) in ISO-8859-1 are 47 72 FC DF 65 0D 0A:
    // base64 R3L832UNCg==, or quoted-printable.
    assert!(
        text.contains("R3L832UNCg==") || text.contains("Gr=FC=DFe\r\n"),
        "{text}"
    );
    f.ok(&["smtp", "set", "--webapp", APP, "--charset", "us-ascii"]);
    let r = f.run_stdin(
        &["send", "--webapp", APP, "--to", "ops@contoso.com"],
        "Grüße\n".as_bytes(),
    );
    assert_eq!(r.code, 3, "{r:?}");
}

#[test]
fn an_unhealthy_binding_is_refused_before_connecting() {
    let server = relay(false);
    let f = farm(&server, "starttls");
    let o = f
        .command(&[
            "send",
            "--webapp",
            APP,
            "--to",
            "ops@contoso.com",
            "--body-file",
            "password.txt",
        ])
        .env("MAILCERT_NOW", "2046-01-01T00:00:00Z")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("expired"));
    assert!(relay::settled(&server).is_empty(), "no connection was made");
}

#[test]
fn called_as_sendmail_it_is_sendmail() {
    let server = relay(false);
    let f = farm(&server, "starttls");
    let link = f.dir.path().join("sendmail");
    std::os::unix::fs::symlink(mailcert_tests::binary(), &link).unwrap();
    let mut c = std::process::Command::new(&link);
    c.args(["-oi", "-t"])
        .env("MAILCERT_DB", f.db())
        .env("MAILCERT_WEBAPP", APP)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"To: root@contoso.com\nSubject: cron\n\nok\n")
            .unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(one_message(&server).recipients, ["root@contoso.com"]);
}
