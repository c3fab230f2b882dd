//! `mailcert relay` and `mailcert queue` end to end: applications submit over SMTP, the
//! relay spools and delivers upstream (the loopback relay that demands the client chain,
//! or a real Postfix), and nothing accepted is lost when the upstream is down or the
//! relay is killed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use mailcert_sender::{ConnectOptions, Envelope, Security, Session};
use mailcert_tests::postfix::{Postfix, PostfixConfig};
use mailcert_tests::{TestFarm, relay};
use mailcert_testsmtp::{ReceivedMessage, TestServer};

const APP: &str = "https://intranet.contoso.com";
const WAIT: Duration = Duration::from_secs(30);

/// A port nothing listens on (yet).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The loopback upstream (STARTTLS, client chain required) on `port` (0: any).
fn upstream(port: u16) -> TestServer {
    relay::start(relay::relay_config(false).addr(SocketAddr::from(([127, 0, 0, 1], port))))
}

/// A farm whose web application sends to 127.0.0.1:`port` with client-p256 bound.
fn farm_to(port: u16) -> TestFarm {
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
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--smtp-server",
        "localhost",
        "--port",
        &port.to_string(),
        "--encryption",
        "starttls",
        "--from",
        "sp@contoso.com",
        "--certificate",
        "name:relay",
    ]);
    f
}

/// A running `mailcert relay`.
struct Relay {
    child: Child,
    addr: SocketAddr,
}

impl Relay {
    fn start(f: &TestFarm, extra: &[&str]) -> Relay {
        Relay::start_on(f, "127.0.0.1:0", extra)
    }

    fn start_on(f: &TestFarm, listen: &str, extra: &[&str]) -> Relay {
        let mut args = vec!["relay", "--listen", listen, "--webapp", APP];
        args.extend_from_slice(extra);
        let mut child = f
            .command(&args)
            .env("MAILCERT_SPOOL", spool(f))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        let addr = line
            .split("listening on ")
            .nth(1)
            .and_then(|r| r.split([' ', ',']).next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| {
                let mut err = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("relay did not start: {line:?} {err}")
            });
        // Keep draining stdout so the relay never blocks on it.
        thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = out.read_to_end(&mut sink);
        });
        Relay { child, addr }
    }

    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit code.
    fn term(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        let until = Instant::now() + WAIT;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            assert!(Instant::now() < until, "the relay did not stop on SIGTERM");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spool(f: &TestFarm) -> std::path::PathBuf {
    f.dir.path().join("spool.db")
}

/// Runs `mailcert` with this farm's spool.
fn run(f: &TestFarm, args: &[&str]) -> mailcert_tests::Run {
    mailcert_tests::Run::from_output(
        f.command(args)
            .env("MAILCERT_SPOOL", spool(f))
            .output()
            .unwrap(),
    )
}

fn queue(f: &TestFarm) -> Vec<serde_json::Value> {
    let r = run(f, &["--json", "queue", "list"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.json().as_array().cloned().unwrap_or_default()
}

/// A plain SMTP session to the relay, as an application would open it.
fn submitter(addr: SocketAddr) -> Session {
    let mut o = ConnectOptions::new(addr.ip().to_string(), addr.port());
    o.security = Security::None;
    o.timeout = Duration::from_secs(30);
    Session::connect(&o).unwrap()
}

fn message(tag: &str) -> Vec<u8> {
    format!(
        "From: app@contoso.com\r\nTo: ops@contoso.com\r\nSubject: {tag}\r\nX-Test-Tag: {tag}\r\n\r\nbody of {tag}\r\n"
    )
    .into_bytes()
}

fn tag_of(m: &ReceivedMessage) -> String {
    String::from_utf8_lossy(&m.data)
        .lines()
        .find_map(|l| l.strip_prefix("X-Test-Tag: ").map(str::to_string))
        .unwrap_or_default()
}

/// How often each tag arrived upstream.
fn counts(messages: &[ReceivedMessage]) -> HashMap<String, usize> {
    let mut c = HashMap::new();
    for m in messages {
        *c.entry(tag_of(m)).or_insert(0) += 1;
    }
    c
}

fn submit(addr: SocketAddr, tags: &[String]) -> Vec<String> {
    let mut s = submitter(addr);
    let mut ids = Vec::new();
    for t in tags {
        let d = s
            .send(
                &Envelope::new("app@contoso.com", ["ops@contoso.com"]),
                &message(t),
            )
            .unwrap();
        assert_eq!(d.reply.code, 250, "{d:?}");
        ids.push(d.reply.to_string());
    }
    s.quit().unwrap();
    ids
}

/// Waits until the queue is empty.
fn wait_for_empty_queue(f: &TestFarm) {
    let until = Instant::now() + WAIT;
    loop {
        let q = queue(f);
        if q.is_empty() {
            return;
        }
        assert!(Instant::now() < until, "queue not empty: {q:?}");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn messages_from_parallel_clients_are_delivered_once_with_the_chain() {
    let up = upstream(0);
    let f = farm_to(up.port());
    let relay = Relay::start(&f, &[]);
    let handles: Vec<_> = (0..4)
        .map(|c| {
            let addr = relay.addr;
            let tags: Vec<String> = (0..10).map(|i| format!("c{c}-m{i}")).collect();
            thread::spawn(move || submit(addr, &tags))
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let got = up.wait_for_messages(40, WAIT);
    wait_for_empty_queue(&f);
    let got = if got.len() < 40 { up.messages() } else { got };
    let c = counts(&got);
    assert_eq!(c.len(), 40, "{c:?}");
    assert!(c.values().all(|n| *n == 1), "each once: {c:?}");
    for m in &got {
        assert!(m.tls);
        assert_eq!(m.client_chain.len(), 2, "leaf and intermediate");
        let text = String::from_utf8_lossy(&m.data);
        assert!(text.starts_with("Received: from "), "{text}");
    }
    assert_eq!(relay.term(), Some(0), "SIGTERM: exit 0");
}

#[test]
fn mail_accepted_during_an_outage_is_delivered_once_when_the_upstream_returns() {
    let port = free_port();
    let f = farm_to(port);
    let relay = Relay::start(&f, &[]);
    let tags: Vec<String> = (0..10).map(|i| format!("outage-{i}")).collect();
    submit(relay.addr, &tags);
    // Each is tried, fails to connect, and waits for its retry.
    let until = Instant::now() + WAIT;
    loop {
        let q = queue(&f);
        if q.len() == 10 && q.iter().all(|m| m["state"] == "deferred") {
            assert!(
                q[0]["last_reply"].as_str().unwrap().contains("connect"),
                "{q:?}"
            );
            break;
        }
        assert!(Instant::now() < until, "{q:?}");
        thread::sleep(Duration::from_millis(50));
    }
    let up = upstream(port);
    let r = run(&f, &["queue", "flush"]);
    assert_eq!(r.code, 0, "{r:?}");
    let got = up.wait_for_messages(10, WAIT);
    wait_for_empty_queue(&f);
    let c = counts(&up.messages());
    assert_eq!(c.len(), 10, "{c:?}");
    assert!(c.values().all(|n| *n == 1), "{c:?}");
    assert_eq!(got.len(), 10);
    drop(relay);
}

/// The durability promise: a relay killed with SIGKILL while three clients submit loses
/// nothing that got 250. With one upstream session it duplicates at most one message per
/// kill (the one between the upstream's 250 and its removal from the spool); with N
/// sessions, at most N.
#[test]
fn kill_9_while_three_clients_submit_loses_nothing() {
    let up = upstream(0);
    let f = farm_to(up.port());
    let relay = Relay::start(&f, &["--connections", "1"]);
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let clients: Vec<_> = (0..3)
        .map(|c| {
            let addr = relay.addr;
            let accepted = accepted.clone();
            thread::spawn(move || {
                let Ok(mut s) = std::panic::catch_unwind(|| submitter(addr)) else {
                    return;
                };
                for i in 0..10_000 {
                    let tag = format!("k{c}-{i}");
                    match s.send(
                        &Envelope::new("app@contoso.com", ["ops@contoso.com"]),
                        &message(&tag),
                    ) {
                        Ok(d) if d.reply.code == 250 => accepted.lock().unwrap().push(tag),
                        _ => return,
                    }
                }
            })
        })
        .collect();
    // Let them get going, then kill the relay mid-stream.
    let until = Instant::now() + WAIT;
    while accepted.lock().unwrap().len() < 60 {
        assert!(Instant::now() < until, "clients did not get going");
        thread::sleep(Duration::from_millis(5));
    }
    relay.kill9();
    for c in clients {
        c.join().unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    let relay = Relay::start(&f, &[]);
    wait_for_empty_queue(&f);
    let c = counts(&up.messages());
    let lost: Vec<&String> = accepted.iter().filter(|t| !c.contains_key(*t)).collect();
    let duplicated: usize = c.values().filter(|n| **n > 1).map(|n| n - 1).sum();
    println!(
        "kill -9: {} accepted, {} delivered, lost {}, duplicated {duplicated}",
        accepted.len(),
        c.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "lost after kill -9: {lost:?}");
    assert!(
        duplicated <= 1,
        "at most one duplicate per kill: {duplicated}"
    );
    drop(relay);
}

#[test]
fn sendmail_queues_a_temporary_failure_and_queue_run_delivers_it() {
    let port = free_port();
    let f = farm_to(port);
    let mut child = f
        .command(&["sendmail", "--webapp", APP, "ops@contoso.com"])
        .env("MAILCERT_SPOOL", spool(&f))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&message("queued-by-sendmail"))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(out.stdout.is_empty(), "sendmail is silent on stdout");
    assert!(stderr.contains("queued as "), "{stderr}");
    let q = queue(&f);
    assert_eq!(q.len(), 1, "{q:?}");
    let id = q[0]["id"].as_str().unwrap().to_string();
    assert!(stderr.contains(&id), "{stderr}");
    // --no-queue keeps exit 5.
    let r = f.run_stdin(
        &["sendmail", "--no-queue", "--webapp", APP, "ops@contoso.com"],
        &message("not-queued"),
    );
    assert_eq!(r.code, 5, "{r:?}");
    assert_eq!(queue(&f).len(), 1);
    let shown = run(&f, &["queue", "show", &id]);
    assert!(
        shown.stdout.contains("X-Test-Tag: queued-by-sendmail"),
        "{shown:?}"
    );
    let up = upstream(port);
    let r = run(&f, &["queue", "run"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("delivered 1"), "{r:?}");
    assert_eq!(
        counts(&up.wait_for_messages(1, WAIT))["queued-by-sendmail"],
        1
    );
    assert!(queue(&f).is_empty());
    assert_eq!(run(&f, &["queue", "show", &id]).code, 4);
}

#[test]
fn a_relay_and_queue_runs_racing_on_one_spool_deliver_each_message_once() {
    let port = free_port();
    let f = farm_to(port);
    // Queue 30 messages while the upstream is down.
    {
        let relay = Relay::start(&f, &[]);
        let tags: Vec<String> = (0..30).map(|i| format!("race-{i}")).collect();
        submit(relay.addr, &tags);
        let until = Instant::now() + WAIT;
        while queue(&f)
            .iter()
            .filter(|m| m["state"] == "deferred")
            .count()
            < 30
        {
            assert!(Instant::now() < until);
            thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(relay.term(), Some(0));
    }
    // The upstream is back: a relay and three `queue flush` runs race for the 30
    // deferred messages while 40 more arrive.
    let up = upstream(port);
    let relay = Relay::start(&f, &[]);
    let tags: Vec<String> = (0..40).map(|i| format!("race2-{i}")).collect();
    let addr = relay.addr;
    let submitting = thread::spawn(move || submit(addr, &tags));
    let runners: Vec<_> = (0..3)
        .map(|_| {
            let db = f.db();
            let sp = spool(&f);
            let bin = mailcert_tests::binary();
            thread::spawn(move || {
                for _ in 0..5 {
                    let o = std::process::Command::new(&bin)
                        .args(["queue", "flush"])
                        .env("MAILCERT_DB", &db)
                        .env("MAILCERT_SPOOL", &sp)
                        .env_remove("MAILCERT_MASTER_KEY_FILE")
                        .output()
                        .unwrap();
                    assert_eq!(o.status.code(), Some(0), "{o:?}");
                }
            })
        })
        .collect();
    submitting.join().unwrap();
    for r in runners {
        r.join().unwrap();
    }
    up.wait_for_messages(70, WAIT);
    wait_for_empty_queue(&f);
    let c = counts(&up.messages());
    assert_eq!(c.len(), 70, "{c:?}");
    let twice: Vec<_> = c.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
    drop(relay);
}

/// Writes raw SMTP to the relay and returns every reply line it sent.
fn raw_session(addr: SocketAddr, script: &[&[u8]]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut transcript = String::new();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    transcript.push_str(&line);
    for step in script {
        s.write_all(step).unwrap();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 {
                return transcript;
            }
            transcript.push_str(&line);
            if line.as_bytes().get(3) == Some(&b' ') {
                break;
            }
        }
    }
    transcript
}

#[test]
fn an_oversized_message_gets_552_and_is_never_spooled() {
    let up = upstream(0);
    let f = farm_to(up.port());
    let relay = Relay::start(&f, &["--max-message-size", "1K"]);
    let t = raw_session(
        relay.addr,
        &[b"EHLO app\r\n", b"MAIL FROM:<a@contoso.com> SIZE=5000\r\n"],
    );
    assert!(t.contains("250-SIZE 1024"), "{t}");
    assert!(t.contains("552 5.3.4"), "{t}");
    let big = format!("Subject: big\r\n\r\n{}\r\n.\r\n", "x".repeat(3000));
    let t = raw_session(
        relay.addr,
        &[
            b"EHLO app\r\n",
            b"MAIL FROM:<a@contoso.com>\r\n",
            b"RCPT TO:<ops@contoso.com>\r\n",
            b"DATA\r\n",
            big.as_bytes(),
            b"QUIT\r\n",
        ],
    );
    assert!(t.contains("354 "), "{t}");
    assert!(t.contains("552 5.3.4"), "{t}");
    assert!(t.contains("221 "), "the session goes on: {t}");
    assert!(queue(&f).is_empty(), "never spooled");
}

#[test]
fn off_loopback_without_auth_is_refused_at_start() {
    let f = farm_to(free_port());
    for extra in [vec![], vec!["--tls-certificate", "name:relay"]] {
        let mut args = vec!["relay", "--listen", "0.0.0.0:0", "--webapp", APP];
        args.extend(extra.iter().copied());
        let r = run(&f, &args);
        assert_eq!(r.code, 3, "{r:?}");
        assert!(r.stderr.contains("open-relay"), "{r:?}");
    }
    let pw = f.dir.path().join("app.pw");
    std::fs::write(&pw, "app-secret\n").unwrap();
    let r = run(
        &f,
        &[
            "relay",
            "--listen",
            "127.0.0.1:0",
            "--webapp",
            APP,
            "--auth-user",
            "app",
            "--auth-password-file",
            pw.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 3, "AUTH without TLS: {r:?}");
    assert!(r.stderr.contains("auth-needs-tls"), "{r:?}");
}

#[test]
fn metrics_are_served_on_loopback() {
    let up = upstream(0);
    let f = farm_to(up.port());
    let mport = free_port();
    let maddr = format!("127.0.0.1:{mport}");
    let relay = Relay::start(&f, &["--metrics", &maddr]);
    submit(relay.addr, &["metered".to_string()]);
    up.wait_for_messages(1, WAIT);
    wait_for_empty_queue(&f);
    let until = Instant::now() + WAIT;
    let body = loop {
        let mut s = TcpStream::connect(&maddr).unwrap();
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).unwrap();
        if body.contains("mailcert_relay_messages_delivered_total 1") {
            break body;
        }
        assert!(Instant::now() < until, "{body}");
        thread::sleep(Duration::from_millis(50));
    };
    for want in [
        "mailcert_relay_messages_accepted_total 1",
        "mailcert_relay_queue_messages{state=\"queued\"} 0",
        "mailcert_relay_oldest_queued_age_seconds 0",
        "mailcert_relay_upstream_connection_failures_total 0",
        "mailcert_bound_certificate_expiry_seconds{",
        "bound_to=\"https://intranet.contoso.com\"",
    ] {
        assert!(body.contains(want), "{want:?} missing:\n{body}");
    }
    let r = run(
        &f,
        &[
            "relay",
            "--listen",
            "127.0.0.1:0",
            "--webapp",
            APP,
            "--metrics",
            "0.0.0.0:9999",
        ],
    );
    assert_eq!(r.code, 3, "{r:?}");
    drop(relay);
}

#[test]
fn a_recipient_refused_for_good_gets_a_notification_and_the_rest_are_delivered() {
    let up = relay::start(relay::relay_config(false).reject_recipient("nobody@contoso.com"));
    let f = farm_to(up.port());
    let relay = Relay::start(&f, &[]);
    let mut s = submitter(relay.addr);
    let d = s
        .send(
            &Envelope::new("app@contoso.com", ["ops@contoso.com", "nobody@contoso.com"]),
            &message("partial"),
        )
        .unwrap();
    assert_eq!(d.reply.code, 250);
    s.quit().unwrap();
    let got = up.wait_for_messages(2, WAIT);
    wait_for_empty_queue(&f);
    assert_eq!(got.len(), 2, "the message and the notification: {got:?}");
    let original = got.iter().find(|m| tag_of(m) == "partial").unwrap();
    assert_eq!(original.recipients, ["ops@contoso.com"]);
    let dsn = got.iter().find(|m| m.mail_from.is_empty()).unwrap();
    assert_eq!(dsn.recipients, ["app@contoso.com"]);
    let text = String::from_utf8_lossy(&dsn.data);
    assert!(
        text.contains("Final-Recipient: rfc822; nobody@contoso.com"),
        "{text}"
    );
    assert!(text.contains("Status: 5.1.1"), "{text}");
    assert!(
        text.contains("X-Test-Tag: partial"),
        "original headers: {text}"
    );
    drop(relay);
}

#[test]
fn a_change_of_settings_applies_without_a_restart() {
    let first = upstream(0);
    let second = upstream(0);
    let f = farm_to(first.port());
    let relay = Relay::start(&f, &[]);
    submit(relay.addr, &["to-first".to_string()]);
    first.wait_for_messages(1, WAIT);
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--port",
        &second.port().to_string(),
    ]);
    submit(relay.addr, &["to-second".to_string()]);
    let got = second.wait_for_messages(1, WAIT);
    assert_eq!(counts(&got)["to-second"], 1);
    assert_eq!(counts(&first.messages()).get("to-second"), None);
    drop(relay);
}

/// Against the real Postfix on its root-only CA port: 200 messages over 4 parallel client
/// connections, each delivered once and logged "(verified OK)" in its Received header.
#[test]
fn two_hundred_messages_reach_postfix_once_each_verified() {
    if let Some(why) = Postfix::unavailable_reason() {
        mailcert_tests::external_missing(&why);
        return;
    }
    postfix_200();
}

fn postfix_200() {
    let pf = Postfix::start(PostfixConfig::new()).unwrap();
    let f = TestFarm::new();
    f.ok(&["cert", "import", "root-ca.cer"]);
    f.ok(&["cert", "import", "intermediate-ca.pem"]);
    f.ok(&[
        "cert",
        "import",
        "openssl3-p256.pfx",
        "--password-file",
        "password.txt",
        "--friendly-name",
        "bound",
    ]);
    f.ok(&["webapp", "add", APP]);
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--smtp-server",
        "localhost",
        "--port",
        &pf.starttls_port().to_string(),
        "--from",
        "sp@contoso.com",
        "--certificate",
        "name:bound",
    ]);
    let relay = Relay::start(&f, &[]);
    let rcpt = format!("rcpt@{}", pf.domains()[0]);
    let handles: Vec<_> = (0..4)
        .map(|c| {
            let addr = relay.addr;
            let rcpt = rcpt.clone();
            thread::spawn(move || {
                let mut s = submitter(addr);
                for i in 0..50 {
                    let tag = format!("pf{c}-{i}");
                    let d = s
                        .send(
                            &Envelope::new("app@contoso.com", [rcpt.as_str()]),
                            &message(&tag),
                        )
                        .unwrap();
                    assert_eq!(d.reply.code, 250);
                }
                s.quit().unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        pf.wait_for_delivered(200, Duration::from_secs(120)),
        200,
        "{}",
        pf.log()
    );
    wait_for_empty_queue(&f);
    assert!(pf.wait_for_sessions_ended(WAIT));
    let messages = pf.messages(&rcpt);
    assert_eq!(messages.len(), 200);
    let mut tags: Vec<String> = messages
        .iter()
        .filter_map(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("X-Test-Tag: ").map(str::to_string))
        })
        .collect();
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), 200, "each once");
    assert!(
        messages.iter().all(|m| m.contains("(verified OK)")),
        "every message came over a verified client certificate"
    );
    drop(relay);
}

/// Issue #11: the relay sends with the settings of the server it runs as. A second
/// server of the farm has its own upstream for the web application (`smtp set --server`);
/// `mailcert --server mail2 relay` delivers there, a relay without `--server` to the
/// upstream every server uses.
#[test]
fn the_relay_uses_its_servers_own_settings() {
    let every = upstream(0);
    let own = upstream(0);
    let f = farm_to(every.port());
    // mail2 joins the (SQLite) farm, then gets its own upstream.
    let r = f.run(&["--server", "mail2", "init", "--join"]);
    assert_eq!(r.code, 0, "{r:?}");
    f.ok(&[
        "smtp",
        "set",
        "--webapp",
        APP,
        "--server",
        "mail2",
        "--port",
        &own.port().to_string(),
    ]);
    let as_mail2 = Relay::start(&f, &["--server", "mail2"]);
    submit(as_mail2.addr, &["to-own".to_string()]);
    let got = own.wait_for_messages(1, WAIT);
    assert_eq!(got.len(), 1);
    assert_eq!(tag_of(&got[0]), "to-own");
    assert_eq!(got[0].client_chain.len(), 2, "with the farm's certificate");
    wait_for_empty_queue(&f);
    assert_eq!(as_mail2.term(), Some(0));
    let as_this = Relay::start(&f, &[]);
    submit(as_this.addr, &["to-every".to_string()]);
    let got = every.wait_for_messages(1, WAIT);
    assert_eq!(got.len(), 1);
    assert_eq!(tag_of(&got[0]), "to-every");
    wait_for_empty_queue(&f);
    assert_eq!(as_this.term(), Some(0));
    assert_eq!(
        own.messages().len(),
        1,
        "nothing more went to mail2's upstream"
    );
}
