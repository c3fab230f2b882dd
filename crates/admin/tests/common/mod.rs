//! Helpers shared by the end-to-end tests: a temporary farm made with the library, the
//! server on a free loopback port, and a tiny HTTP/1.1 client over a raw socket (so that
//! requests a browser would never send, such as a form without its CSRF token, can be).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mailcert_admin::{MailTester, ServeConfig, TestFailure};
use mailcert_binding::Target;
use mailcert_store::{CertRecord, Farm, ImportOptions, Input};

/// The administrator password the tests set.
pub(crate) const PASSWORD: &str = "correct horse battery staple";
/// The password of the fixture files.
pub(crate) const FIXTURE_PASSWORD: &str = "fixture-pass";
/// SHA-1 of fixtures/files/client-rsa.pem (inside openssl3-default.pfx).
pub(crate) const CLIENT_RSA_SHA1: &str = "FE29107F4A194F9FAF7360F4AB0CD676683D08B4";

/// A fixture file.
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/files")
        .join(name)
}

/// The environment variable that turns a missing external tool into a failure (CI sets
/// it to 1).
pub(crate) const REQUIRE_EXTERNAL: &str = "MAILCERT_REQUIRE_EXTERNAL";

/// Whether `MAILCERT_REQUIRE_EXTERNAL=1`, read from `value` (the variable's value).
pub(crate) fn external_required(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| v == "1")
}

/// A tool this test needs (Chromium, chromedriver) is missing. Under
/// `MAILCERT_REQUIRE_EXTERNAL=1` (CI) that fails the test; otherwise the test says it was
/// skipped, and why, and the caller returns (passes). The same rule as
/// `mailcert_tests::external_missing`, which these tests do not depend on.
pub(crate) fn external_missing(why: &str) {
    if external_required(std::env::var_os(REQUIRE_EXTERNAL).as_deref()) {
        panic!("{REQUIRE_EXTERNAL}=1 and a tool this test needs is missing: {why}");
    }
    // Straight to the terminal: the test harness captures eprintln! of passing tests.
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}

/// Now, Unix seconds.
pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A farm in a temporary directory.
pub(crate) struct TestFarm {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) db: PathBuf,
    pub(crate) key: PathBuf,
}

impl TestFarm {
    /// A new, empty farm.
    pub(crate) fn new() -> TestFarm {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("farm.db");
        let key = Farm::default_key_path(&db);
        Farm::init(&db, &key, "web1", 1).unwrap();
        TestFarm { dir, db, key }
    }

    /// A farm with the administrator password set.
    pub(crate) fn with_password() -> TestFarm {
        let f = TestFarm::new();
        mailcert_admin::set_password(&mut f.farm(), PASSWORD, now()).unwrap();
        f
    }

    /// Opens it.
    pub(crate) fn farm(&self) -> Farm {
        Farm::open(&self.db, &self.key).unwrap()
    }

    /// Imports a fixture (with an optional separate key fixture) as the CLI would.
    pub(crate) fn import(
        &self,
        file: &str,
        key: Option<&str>,
        password: Option<&str>,
        opts: ImportOptions,
    ) -> CertRecord {
        // The file name alone, as an upload would name it (it appears in the audit trail).
        let path = PathBuf::from(file);
        let bytes = std::fs::read(fixture(file)).unwrap();
        let key_path = key.map(PathBuf::from);
        let key_bytes = key.map(|k| std::fs::read(fixture(k)).unwrap());
        let bundle = mailcert_store::parse_bundle(
            Input {
                path: &path,
                bytes: &bytes,
            },
            match (&key_path, &key_bytes) {
                (Some(p), Some(b)) => Some(Input { path: p, bytes: b }),
                _ => None,
            },
            password,
        )
        .unwrap();
        mailcert_store::import_bundle(&mut self.farm(), &path, bundle, &opts, now())
            .unwrap()
            .leaf
            .record
    }

    /// A ServeConfig for this farm on a free loopback port.
    pub(crate) fn config(&self) -> ServeConfig {
        let mut cfg = ServeConfig::new(&self.db, &self.key);
        cfg.listen = "127.0.0.1:0".parse().unwrap();
        cfg
    }
}

/// A message for the relay's spool, from `from` to `to`, delivered with `webapp`'s
/// settings (`None`: the farm's).
pub(crate) fn spool_message(
    webapp: Option<&str>,
    from: &str,
    to: &[&str],
) -> mailcert_relay::NewMessage {
    mailcert_relay::NewMessage {
        webapp: webapp.map(str::to_string),
        mail_from: from.to_string(),
        recipients: to.iter().map(|t| t.to_string()).collect(),
        data: format!("From: {from}\r\nSubject: queued\r\n\r\nhello\r\n").into_bytes(),
        is_dsn: false,
    }
}

/// Queues one message in the spool at `path`, accepted at `at`; its id.
pub(crate) fn queue_one(path: &Path, message: mailcert_relay::NewMessage, at: i64) -> String {
    let mut spool = mailcert_relay::Spool::open(path).unwrap();
    spool.insert(&[message], at).unwrap().remove(0)
}

/// A temporary failure of message `id`: deferred until `next_attempt` with `reply`.
pub(crate) fn defer_one(path: &Path, id: &str, next_attempt: i64, reply: &str) {
    let mut spool = mailcert_relay::Spool::open(path).unwrap();
    let pending = spool.get(id).unwrap().unwrap().entry.recipients;
    spool
        .defer(id, &pending, next_attempt, reply, None, now())
        .unwrap();
}

/// A permanent failure of message `id` with `reply`.
pub(crate) fn fail_one(path: &Path, id: &str, reply: &str) {
    let mut spool = mailcert_relay::Spool::open(path).unwrap();
    let failed = spool.get(id).unwrap().unwrap().entry.recipients;
    spool.fail(id, &failed, reply, None, now()).unwrap();
}

/// Message `id` of the spool at `path` as listed, if it is there.
pub(crate) fn queued(path: &Path, id: &str) -> Option<mailcert_relay::Entry> {
    mailcert_relay::Spool::open(path)
        .unwrap()
        .get(id)
        .unwrap()
        .map(|c| c.entry)
}

/// A running server, stopped when dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) warnings: Vec<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Binds and serves `cfg` on a runtime of its own.
    pub(crate) fn start(cfg: ServeConfig) -> Server {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let bound = mailcert_admin::bind(cfg).await.unwrap();
                ready_tx
                    .send((bound.local_addr(), bound.warnings().to_vec()))
                    .unwrap();
                bound
                    .run_until(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let (addr, warnings) = ready_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        Server {
            addr,
            warnings,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The base URL.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An HTTP response.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Resp {
    /// The first header `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `name=value` of the Set-Cookie header.
    pub(crate) fn cookie_pair(&self) -> String {
        self.header("set-cookie")
            .expect("a Set-Cookie header")
            .split(';')
            .next()
            .unwrap()
            .trim()
            .to_string()
    }
}

/// One request: `extra` headers, then the body.
pub(crate) fn exchange<S: Read + Write>(
    stream: &mut S,
    host: &str,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    // The server may refuse (413) and close before reading a large body: keep going and
    // read its answer.
    let _ = stream
        .write_all(req.as_bytes())
        .and_then(|()| stream.write_all(body))
        .and_then(|()| stream.flush());
    let mut raw = Vec::new();
    // A TLS peer may close without close_notify after Connection: close; keep what came.
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Resp {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16)
                .unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[eol + 2 + size + 2..];
        }
        body = out;
    }
    Resp {
        status,
        headers,
        body,
    }
}

/// One plain-HTTP request to `addr`.
pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    exchange(&mut s, &addr.to_string(), method, path, extra, body)
}

/// GET with an optional session cookie.
pub(crate) fn get(addr: SocketAddr, path: &str, cookie: Option<&str>) -> Resp {
    match cookie {
        Some(c) => request(addr, "GET", path, &[("Cookie", c)], b""),
        None => request(addr, "GET", path, &[], b""),
    }
}

/// A urlencoded form POST with the session cookie.
pub(crate) fn post_form(
    addr: SocketAddr,
    path: &str,
    cookie: &str,
    pairs: &[(&str, &str)],
) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    post_form_over(&mut s, addr, path, cookie, pairs, &[])
}

/// A TCP connection to `addr` from the local address `from`: on Linux every 127.x.y.z
/// is a loopback address, so a test can be several clients of a server on 127.0.0.1.
pub(crate) fn connect_from(from: IpAddr, addr: SocketAddr) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let s = rt
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(from, 0))?;
            socket.connect(addr).await
        })
        .unwrap_or_else(|e| panic!("connecting from {from} to {addr}: {e}"))
        .into_std()
        .unwrap();
    s.set_nonblocking(false).unwrap();
    // Generous: a burst of sign-ins queues for the two Argon2 slots, each run taking
    // a second or more in a debug build on a busy machine.
    s.set_read_timeout(Some(Duration::from_secs(180))).unwrap();
    s
}

/// A urlencoded form POST from the local address `from`, with `extra` headers.
pub(crate) fn post_form_from(
    from: IpAddr,
    addr: SocketAddr,
    path: &str,
    cookie: &str,
    pairs: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> Resp {
    let mut s = connect_from(from, addr);
    assert_eq!(s.local_addr().unwrap().ip(), from);
    post_form_over(&mut s, addr, path, cookie, pairs, extra)
}

fn post_form_over(
    s: &mut TcpStream,
    addr: SocketAddr,
    path: &str,
    cookie: &str,
    pairs: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> Resp {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let mut headers = vec![
        ("Cookie", cookie),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    headers.extend_from_slice(extra);
    exchange(
        s,
        &addr.to_string(),
        "POST",
        path,
        &headers,
        body.as_bytes(),
    )
}

/// The CSRF token in a page.
pub(crate) fn csrf_of(page: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let at = page.find(marker).expect("a CSRF field") + marker.len();
    page[at..at + 64].to_string()
}

/// Signs in over plain HTTP; returns the session cookie pair (`name=value`).
pub(crate) fn sign_in(addr: SocketAddr) -> String {
    let (anon, r) = sign_in_with(addr, PASSWORD);
    assert_eq!(r.status, 303, "{}", r.text());
    let signed = r.cookie_pair();
    assert_ne!(signed, anon, "signing in must issue a new session id");
    signed
}

/// Opens the sign-in page and posts `password`; the anonymous session's cookie pair and
/// the answer.
pub(crate) fn sign_in_with(addr: SocketAddr, password: &str) -> (String, Resp) {
    let page = get(addr, "/signin", None);
    assert_eq!(page.status, 200, "{}", page.text());
    let anon = page.cookie_pair();
    let csrf = csrf_of(&page.text());
    let r = post_form(
        addr,
        "/signin",
        &anon,
        &[
            ("csrf", &csrf),
            ("password", password),
            ("next", "/certificates"),
        ],
    );
    (anon, r)
}

/// A tester that reports fixed lines: the connection test passes, the test e-mail fails.
pub(crate) struct FakeTester;

impl MailTester for FakeTester {
    fn test_connection(
        &self,
        farm: &mut Farm,
        target: &Target,
        now: i64,
    ) -> Result<Vec<String>, TestFailure> {
        let e = mailcert_binding::effective(farm, target, now)
            .map_err(|e| TestFailure::new(e.to_string()))?;
        Ok(vec![
            format!(
                "connected to {}:{}",
                e.settings.smtp_server, e.settings.port
            ),
            "220 relay.test ESMTP <ready>".into(),
            format!(
                "client certificate sent: {}",
                e.settings.certificate.unwrap_or_default()
            ),
        ])
    }

    fn send_test(
        &self,
        _farm: &mut Farm,
        _target: &Target,
        to: &str,
        _now: i64,
    ) -> Result<Vec<String>, TestFailure> {
        Err(TestFailure {
            steps: vec!["connected".into(), format!("RCPT TO:<{to}>")],
            error: "550 5.7.1 relaying denied".into(),
        })
    }
}

/// The fake tester, ready for a ServeConfig.
pub(crate) fn fake_tester() -> Option<Arc<dyn MailTester>> {
    Some(Arc::new(FakeTester))
}

/// What [`drip_until_closed`] saw.
#[derive(Debug)]
pub(crate) struct Closed {
    /// How long the connection stayed open (from the call).
    pub(crate) after: Duration,
    /// How many bytes were sent.
    pub(crate) sent: usize,
    /// What the server sent back.
    pub(crate) received: Vec<u8>,
}

/// Sends the bytes of `drip` one at a time, one per read timeout of the socket beneath
/// `s` (the caller sets it: it is the pace), reading in between, until the server closes
/// the connection. With an empty `drip` it only waits. Panics if the connection is still
/// open after `limit`.
pub(crate) fn drip_until_closed<S: Read + Write>(
    s: &mut S,
    mut drip: impl Iterator<Item = u8>,
    limit: Duration,
) -> Closed {
    let start = std::time::Instant::now();
    let mut sent = 0;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        assert!(
            start.elapsed() < limit,
            "the server still holds the connection after {:?} ({sent} bytes sent, {} received)",
            start.elapsed(),
            received.len()
        );
        if let Some(b) = drip.next() {
            if s.write_all(&[b]).and_then(|()| s.flush()).is_err() {
                break;
            }
            sent += 1;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            // Reset, or a TLS peer gone without close_notify: closed all the same.
            Err(_) => break,
        }
    }
    Closed {
        after: start.elapsed(),
        sent,
        received,
    }
}

/// A request line and then a header that never ends.
pub(crate) fn endless_request() -> impl Iterator<Item = u8> {
    b"GET /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
        .iter()
        .copied()
        .chain(std::iter::repeat(b'a'))
}

/// A multipart/form-data POST with the session cookie: text `fields`, then `files` as
/// (field, file name, bytes).
pub(crate) fn post_multipart(
    addr: SocketAddr,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &str, &[u8])],
) -> Resp {
    let boundary = "----mailcertTestBoundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        )
        .unwrap();
    }
    for (field, name, bytes) in files {
        write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").unwrap();
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    let ct = format!("multipart/form-data; boundary={boundary}");
    request(
        addr,
        "POST",
        path,
        &[("Cookie", cookie), ("Content-Type", &ct)],
        &body,
    )
}

/// A DER TLV: `tag`, the length, `content`.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap());
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | u8::try_from(bytes.len()).unwrap());
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A self-signed ECDSA P-256 certificate for `cn` (valid 2024–2044, no extensions, so
/// eligible for client authentication once its key is held), and its PKCS#8 key, both
/// DER. Made with ring alone, so the tests can have as many certificates as they like.
pub(crate) fn generated_cert(cn: &str, serial: u32) -> (Vec<u8>, Vec<u8>) {
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    const ECDSA_SHA256: &[u8] = &[0x06, 8, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
    const EC_PUBLIC_KEY: &[u8] = &[0x06, 7, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    const P256: &[u8] = &[0x06, 8, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    const CN: &[u8] = &[0x06, 3, 0x55, 0x04, 0x03];
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let name = der(
        0x30,
        &der(0x31, &der(0x30, &[CN, &der(0x0c, cn.as_bytes())].concat())),
    );
    let alg = der(0x30, ECDSA_SHA256);
    let mut serial_bytes = vec![0x01];
    serial_bytes.extend(serial.to_be_bytes());
    let spki = der(
        0x30,
        &[
            der(0x30, &[EC_PUBLIC_KEY, P256].concat()),
            der(0x03, &[&[0u8][..], pair.public_key().as_ref()].concat()),
        ]
        .concat(),
    );
    let validity = der(
        0x30,
        &[der(0x17, b"240101000000Z"), der(0x17, b"440101000000Z")].concat(),
    );
    let tbs = der(
        0x30,
        &[
            der(0xa0, &der(0x02, &[2])),
            der(0x02, &serial_bytes),
            alg.clone(),
            name.clone(),
            validity,
            name,
            spki,
        ]
        .concat(),
    );
    let sig = pair.sign(&rng, &tbs).unwrap();
    let cert = der(
        0x30,
        &[tbs, alg, der(0x03, &[&[0u8][..], sig.as_ref()].concat())].concat(),
    );
    (cert, pkcs8.as_ref().to_vec())
}

impl TestFarm {
    /// Imports `count` generated certificates named `{prefix}-{n}.test` (n from 1),
    /// with their keys when `with_keys` (then each is eligible), friendly names
    /// `{friendly} {n}` when given; their SHA-1 thumbprints, in order.
    pub(crate) fn import_generated(
        &self,
        prefix: &str,
        count: u32,
        with_keys: bool,
        friendly: Option<&str>,
    ) -> Vec<String> {
        (1..=count)
            .map(|n| {
                let cn = format!("{prefix}-{n}.test");
                let (cert, key) = generated_cert(&cn, n);
                let path = PathBuf::from(format!("{cn}.cer"));
                let key_path = PathBuf::from(format!("{cn}.key"));
                let bundle = mailcert_store::parse_bundle(
                    Input {
                        path: &path,
                        bytes: &cert,
                    },
                    with_keys.then_some(Input {
                        path: &key_path,
                        bytes: &key,
                    }),
                    None,
                )
                .unwrap();
                let opts = ImportOptions {
                    friendly_name: friendly.map(|f| format!("{f} {n}")),
                    ..ImportOptions::default()
                };
                mailcert_store::import_bundle(&mut self.farm(), &path, bundle, &opts, now())
                    .unwrap()
                    .leaf
                    .record
                    .facts
                    .thumbprint_sha1
            })
            .collect()
    }
}
