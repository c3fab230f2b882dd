//! The test server's SMTP dialogue, driven over raw loopback sockets (and one raw
//! rustls client for STARTTLS + AUTH LOGIN).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailcert_testsmtp::{ClientAuth, Config, TestServer, pem};

struct Client<S: Read + Write> {
    reader: BufReader<S>,
}

impl<S: Read + Write> Client<S> {
    fn send(&mut self, text: &str) {
        self.reader.get_mut().write_all(text.as_bytes()).unwrap();
        self.reader.get_mut().flush().unwrap();
    }

    /// Reads one reply; returns its lines.
    fn reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            assert!(line.len() >= 4, "short reply line {line:?}");
            let last = line.as_bytes()[3] == b' ';
            lines.push(line.trim_end().to_owned());
            if last {
                return lines;
            }
        }
    }

    fn code(&mut self) -> String {
        self.reply()[0][..3].to_owned()
    }
}

fn connect(server: &TestServer) -> Client<TcpStream> {
    let stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut client = Client {
        reader: BufReader::new(stream),
    };
    assert_eq!(client.code(), "220");
    client
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/files")
        .join(name)
}

fn tls_config() -> Config {
    let mut chain = pem::load_certs(fixture("localhost-server.pem")).unwrap();
    chain.extend(pem::load_certs(fixture("intermediate-ca.pem")).unwrap());
    Config::starttls(
        chain,
        pem::load_key(fixture("localhost-server.key")).unwrap(),
    )
}

#[test]
fn pipelined_transactions_with_rset_noop_and_dot_unstuffing() {
    let server = TestServer::start(Config::plain().reject_recipient("Nobody@Example.org")).unwrap();
    let mut c = connect(&server);
    c.send("EHLO client.test\r\n");
    let ehlo = c.reply();
    assert!(ehlo.iter().any(|l| l.ends_with("PIPELINING")));
    assert!(ehlo.iter().any(|l| l.ends_with("ENHANCEDSTATUSCODES")));
    assert!(ehlo.iter().any(|l| l.ends_with("8BITMIME")));
    assert!(ehlo.iter().any(|l| l.contains("SIZE 10485760")));
    assert!(
        !ehlo
            .iter()
            .any(|l| l.contains("STARTTLS") || l.contains("AUTH"))
    );

    // One write: MAIL, two RCPTs (one refused), DATA.
    c.send(
        "MAIL FROM:<a@example.org> SIZE=42 BODY=8BITMIME\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<nobody@example.org>\r\nDATA\r\n",
    );
    assert_eq!(c.code(), "250");
    assert_eq!(c.code(), "250");
    assert_eq!(
        c.reply(),
        ["550 5.1.1 <nobody@example.org>: Recipient address rejected"]
    );
    assert_eq!(c.code(), "354");
    c.send("Subject: x\r\n\r\n..dot\r\n...two\r\n.\r\n");
    let queued = c.reply();
    assert!(
        queued[0].starts_with("250 2.0.0 Ok: queued as "),
        "{queued:?}"
    );

    // Second transaction, abandoned with RSET, then a third with the null sender.
    c.send("MAIL FROM:<a@example.org>\r\nRSET\r\nNOOP\r\nRCPT TO:<b@example.org>\r\n");
    assert_eq!(c.code(), "250");
    assert_eq!(c.code(), "250");
    assert_eq!(c.code(), "250");
    assert_eq!(c.code(), "503");
    c.send("MAIL FROM:<>\r\nRCPT TO:<c@example.org>\r\nDATA\r\nbody\r\n.\r\nQUIT\r\n");
    for expected in ["250", "250", "354", "250", "221"] {
        assert_eq!(c.code(), expected);
    }

    let messages = server.wait_for_messages(2, Duration::from_secs(5));
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].data, b"Subject: x\r\n\r\n.dot\r\n..two\r\n");
    assert_eq!(messages[0].recipients, ["b@example.org"]);
    assert_eq!(messages[0].size_param, Some(42));
    assert!(messages[0].body_8bitmime);
    assert!(!messages[0].tls);
    assert_eq!(messages[1].mail_from, "");
    assert_eq!(messages[1].data, b"body\r\n");
    assert_eq!(server.connections(), 1);
    let log = server.wait_for_idle(Duration::from_secs(5));
    assert!(log[0].closed);
    assert_eq!(
        log[0].commands,
        [
            "EHLO", "MAIL", "RCPT", "RCPT", "DATA", "MAIL", "RSET", "NOOP", "RCPT", "MAIL", "RCPT",
            "DATA", "QUIT"
        ]
    );
}

#[test]
fn policy_replies() {
    let server = TestServer::start(tls_config().require_tls(true).auth("u", "p")).unwrap();
    let mut c = connect(&server);
    c.send("MAIL FROM:<a@example.org>\r\n");
    assert_eq!(c.code(), "503"); // EHLO first
    c.send("EHLO client.test\r\n");
    let ehlo = c.reply();
    assert!(ehlo.iter().any(|l| l.ends_with("STARTTLS")));
    assert!(
        !ehlo.iter().any(|l| l.contains("AUTH")),
        "AUTH only after TLS"
    );
    c.send("MAIL FROM:<a@example.org>\r\n");
    assert_eq!(c.reply(), ["530 5.7.0 Must issue a STARTTLS command first"]);
    c.send("AUTH PLAIN AHUAcA==\r\n");
    assert_eq!(c.code(), "538");
    c.send("BOGUS\r\n");
    assert_eq!(c.code(), "500");
    c.send(&format!("NOOP {}\r\n", "x".repeat(5000)));
    assert_eq!(c.reply(), ["500 5.5.2 Line too long"]);
    c.send("RCPT TO:<b@example.org>\r\n");
    assert_eq!(c.code(), "503");
    c.send("QUIT\r\n");
    assert_eq!(c.code(), "221");
}

#[test]
fn plain_server_does_not_offer_or_accept_starttls() {
    let server = TestServer::start(Config::plain()).unwrap();
    let mut c = connect(&server);
    c.send("EHLO x\r\nSTARTTLS\r\n");
    c.reply();
    assert_eq!(c.code(), "502");
}

#[test]
fn message_over_the_limit_is_refused_after_data() {
    let server = TestServer::start(Config::plain().max_message_size(10)).unwrap();
    let mut c = connect(&server);
    c.send("EHLO x\r\nMAIL FROM:<a@x> SIZE=11\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n");
    c.reply();
    assert_eq!(c.code(), "552");
    assert_eq!(c.code(), "250");
    assert_eq!(c.code(), "250");
    assert_eq!(c.code(), "354");
    c.send("0123456789abcdef\r\n.\r\n");
    assert_eq!(c.code(), "552");
    assert!(server.messages().is_empty());
}

#[test]
fn starttls_then_auth_login_over_a_raw_rustls_client() {
    let server = TestServer::start(tls_config().auth("alice", "s3cret").client_auth(
        ClientAuth::Optional(pem::load_certs(fixture("root-ca.pem")).unwrap()),
    ))
    .unwrap();
    let mut c = connect(&server);
    c.send("EHLO client.test\r\nSTARTTLS\r\n");
    c.reply();
    assert_eq!(c.code(), "220");
    let tcp = c.reader.into_inner();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(pem::load_certs(fixture("root-ca.pem")).unwrap());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let mut c = Client {
        reader: BufReader::new(rustls::StreamOwned::new(conn, tcp)),
    };
    c.send("EHLO client.test\r\n");
    let ehlo = c.reply();
    assert!(
        ehlo.iter().any(|l| l.ends_with("AUTH PLAIN LOGIN")),
        "{ehlo:?}"
    );
    assert!(!ehlo.iter().any(|l| l.ends_with("STARTTLS")));
    c.send("MAIL FROM:<a@example.org>\r\n");
    assert_eq!(c.reply(), ["530 5.7.0 Authentication required"]);
    c.send("AUTH LOGIN\r\n");
    assert_eq!(c.reply(), ["334 VXNlcm5hbWU6"]);
    c.send("YWxpY2U=\r\n");
    assert_eq!(c.reply(), ["334 UGFzc3dvcmQ6"]);
    c.send("czNjcmV0\r\n");
    assert_eq!(c.code(), "235");
    c.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
    for expected in ["250", "250", "354"] {
        assert_eq!(c.code(), expected);
    }
    c.send("hi\r\n.\r\nQUIT\r\n");
    assert_eq!(c.code(), "250");
    assert_eq!(c.code(), "221");

    let message = &server.messages()[0];
    assert!(message.tls);
    assert!(message.client_chain.is_empty());
    assert_eq!(message.auth_user.as_deref(), Some("alice"));
    let log = server.wait_for_idle(Duration::from_secs(5));
    assert_eq!(log[0].tls_version.as_deref(), Some("TLSv1_3"));
    assert_eq!(log[0].discarded_after_starttls, 0);
}

#[test]
fn shutdown_unblocks_idle_connections() {
    let mut server = TestServer::start(Config::plain()).unwrap();
    let _idle = connect(&server);
    let started = Instant::now();
    server.shutdown();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(TcpStream::connect(server.addr()).is_err());
    server.shutdown(); // idempotent
}

#[test]
fn wait_for_messages_gives_up_after_the_timeout() {
    let server = TestServer::start(Config::plain()).unwrap();
    let started = Instant::now();
    assert!(
        server
            .wait_for_messages(1, Duration::from_millis(100))
            .is_empty()
    );
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[test]
fn bad_tls_configuration_is_refused_at_start() {
    let no_roots = tls_config().client_auth(ClientAuth::Required(Vec::new()));
    assert!(matches!(
        TestServer::start(no_roots),
        Err(mailcert_testsmtp::Error::ClientVerifier(_))
    ));
    let key = pem::load_key(fixture("localhost-server.key")).unwrap();
    assert!(matches!(
        TestServer::start(Config::implicit_tls(Vec::new(), key)),
        Err(mailcert_testsmtp::Error::MissingServerCertificate { .. })
    ));
    assert!(pem::load_certs(fixture("root-ca.key")).is_err());
    assert!(pem::load_key(fixture("no-such-file.key")).is_err());
}
