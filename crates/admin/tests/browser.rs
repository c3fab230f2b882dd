//! End-to-end tests in a real browser: headless Chromium driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`) against Central Administration on a free
//! loopback port, with a farm made by the library. Each page is screenshotted into
//! the target directory (`target/screenshots/`; `MAILCERT_SCREENSHOTS=docs/screenshots` refreshes the README's pictures). Without chromedriver or Chromium the test says it was skipped and passes, unless `MAILCERT_REQUIRE_EXTERNAL=1` (CI), where it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use mailcert_binding::{Encryption, Target};
use mailcert_store::{CertFilter, ImportOptions, StoreName};
use mailcert_testsmtp::{ClientAuth, Config, TestServer, pem};

/// Debian's chromedriver; `MAILCERT_CHROMEDRIVER` names another.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Where chromedriver looks for the browser (Debian's `chromium` first);
/// `MAILCERT_CHROMIUM` names another, which is then handed to chromedriver.
const CHROMIUM: [&str; 3] = [
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
];
const SERVER_ONLY_SHA1: &str = "5769770EB7DDC8AF09FC09F7009147AB9DF00EA6";

/// chromedriver on a free loopback port; stopped (by its own handle) when dropped.
struct Driver {
    child: Child,
    port: u16,
    /// The browser binary named by `MAILCERT_CHROMIUM`, if any.
    chromium: Option<PathBuf>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Why the browser test cannot run here, if it cannot: chromedriver or the browser is
/// not installed.
fn missing_tools(chromedriver: &Path, chromium: Option<&Path>) -> Option<String> {
    const INSTALL: &str = "apt-get install chromium chromium-driver";
    if !chromedriver.exists() {
        return Some(format!(
            "browser tests: {} is not installed ({INSTALL})",
            chromedriver.display()
        ));
    }
    match chromium {
        Some(c) if !c.exists() => Some(format!(
            "browser tests: MAILCERT_CHROMIUM names {}, which does not exist",
            c.display()
        )),
        Some(_) => None,
        None if CHROMIUM.iter().any(|c| Path::new(c).exists()) => None,
        None => Some(format!(
            "browser tests: no Chromium ({}) is installed ({INSTALL})",
            CHROMIUM.join(", ")
        )),
    }
}

/// chromedriver, started; `None` (the test then passes, saying it was skipped) when it
/// or the browser is missing, except under `MAILCERT_REQUIRE_EXTERNAL=1`, where that
/// fails the test.
fn start_driver() -> Option<Driver> {
    let chromedriver = std::env::var_os("MAILCERT_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CHROMEDRIVER));
    let chromium = std::env::var_os("MAILCERT_CHROMIUM").map(PathBuf::from);
    if let Some(why) = missing_tools(&chromedriver, chromium.as_deref()) {
        external_missing(&why);
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        port,
        chromium,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start listening"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(driver)
}

async fn browser(driver: &Driver, profile: &Path) -> Client {
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
        &format!("--user-data-dir={}", profile.display()),
    ];
    let mut caps = serde_json::Map::new();
    let mut options = serde_json::json!({ "args": args });
    if let Some(binary) = &driver.chromium {
        options["binary"] = serde_json::Value::String(binary.display().to_string());
    }
    caps.insert("goog:chromeOptions".into(), options);
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session with headless Chromium")
}

/// `target/screenshots/` (so test runs leave the work tree clean), or `MAILCERT_SCREENSHOTS`.
fn screenshots_dir() -> PathBuf {
    let d = std::env::var_os("MAILCERT_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Screenshots the whole page at 1280 pixels wide.
async fn shoot(c: &Client, name: &str) {
    shoot_at(c, name, 1280).await;
}

/// Screenshots the whole page in a window `width` pixels wide: the window is made as
/// tall as the document first, and back to 900 pixels after.
async fn shoot_at(c: &Client, name: &str, width: u32) {
    let height = c
        .execute(
            "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(900)
        .clamp(600, 4000);
    c.set_window_size(width, u32::try_from(height).unwrap_or(900) + 100)
        .await
        .unwrap();
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(screenshots_dir().join(format!("{name}.png")), png).unwrap();
    c.set_window_size(width, 900).await.unwrap();
}

async fn path_of(c: &Client) -> String {
    let u = c.current_url().await.unwrap();
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn upload(c: &Client, file: &str, password: &str) {
    open(c, "/certificates").await;
    c.find(Locator::Css("#file"))
        .await
        .unwrap()
        .send_keys(&fixture(file).canonicalize().unwrap().display().to_string())
        .await
        .unwrap();
    c.find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    submit(c, "button.import").await;
    c.wait().for_element(Locator::Css(".flash")).await.unwrap();
}

/// The server under test.
static BASE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Opens `path` on the server under test.
async fn open(c: &Client, path: &str) {
    c.goto(&format!("{}{path}", BASE.get().unwrap()))
        .await
        .unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Clicks a button that submits a form, and waits until the next page has loaded (the
/// old page may carry the same elements, so waiting for an element is not enough).
async fn submit(c: &Client, css: &str) {
    c.execute("window.__mailcertOldPage = true;", vec![])
        .await
        .unwrap();
    click(c, css).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let loaded = c
            .execute(
                "return window.__mailcertOldPage !== true && document.readyState === 'complete';",
                vec![],
            )
            .await;
        if matches!(loaded, Ok(serde_json::Value::Bool(true))) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the page after {css} did not load"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn set_text(c: &Client, css: &str, value: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(value).await.unwrap();
}

/// This server's spool, with the messages the test queued in it.
struct Queue {
    path: PathBuf,
    deferred: String,
    failed: String,
    notification: String,
}

const INTRANET: &str = "https://intranet.contoso.test";

/// A spool holding mail for the intranet (added during the journey; it uses the farm's
/// settings): one deferred, one failed, and the notification of the failure.
fn queue_for_intranet(path: &Path) -> Queue {
    let t0 = now();
    let deferred = queue_one(
        path,
        spool_message(
            Some(INTRANET),
            "intranet@contoso.test",
            &["alice@example.org", "bob@example.org"],
        ),
        t0 - 3_600,
    );
    defer_one(
        path,
        &deferred,
        t0 + 1_500,
        "451 4.7.1 <alice@example.org>: Recipient address rejected: Greylisted, try again later",
    );
    let failed = queue_one(
        path,
        spool_message(
            Some(INTRANET),
            "intranet@contoso.test",
            &["old-user@example.org"],
        ),
        t0 - 1_800,
    );
    fail_one(
        path,
        &failed,
        "550 5.1.1 <old-user@example.org>: Recipient address rejected: User unknown",
    );
    let mut dsn = spool_message(Some(INTRANET), "", &["intranet@contoso.test"]);
    dsn.is_dsn = true;
    let notification = queue_one(path, dsn, t0 - 1_790);
    Queue {
        path: path.to_path_buf(),
        deferred,
        failed,
        notification,
    }
}

async fn journey(c: Client, f: &TestFarm, addr: SocketAddr, relay: &TestServer, q: &Queue) {
    let relay_port = relay.port().to_string();
    // Not signed in: any page sends the browser to sign-in.
    open(&c, "/settings/farm").await;
    assert_eq!(path_of(&c).await, "/signin?next=%2Fsettings%2Ffarm");
    shoot(&c, "signin").await;
    set_text(&c, "#password", PASSWORD).await;
    submit(&c, "form.signin button[type=submit]").await;
    c.wait()
        .for_element(Locator::Css("#settings"))
        .await
        .unwrap();
    assert_eq!(path_of(&c).await, "/settings/farm");

    // Upload a PFX with its password: listed, eligible.
    upload(&c, "openssl3-default.pfx", FIXTURE_PASSWORD).await;
    let flash = text_of(&c, ".flash").await;
    assert!(flash.contains("openssl3-default.pfx: added"), "{flash}");
    let row = format!("tr[data-thumbprint='{CLIENT_RSA_SHA1}']");
    let eligibility = text_of(&c, &format!("{row} td.eligibility")).await;
    assert_eq!(eligibility.trim(), "Yes", "{eligibility}");

    // An ineligible one: its reasons are shown.
    upload(&c, "server-only.pfx", FIXTURE_PASSWORD).await;
    let eligibility = text_of(
        &c,
        &format!("tr[data-thumbprint='{SERVER_ONLY_SHA1}'] td.eligibility"),
    )
    .await;
    assert!(eligibility.starts_with("No"), "{eligibility}");
    assert!(eligibility.contains("eku:"), "{eligibility}");
    assert!(
        eligibility.contains("Server Authentication") || eligibility.contains("serverAuth"),
        "{eligibility}"
    );
    shoot(&c, "certificates").await;

    // The drop-down holds exactly the eligible End Entity certificates, as the library
    // judges them, each as `<CN> (<friendly name>) [Expiration: <date>]`.
    let mut expected = BTreeSet::new();
    let mut texts = BTreeSet::new();
    f.farm()
        .read(|tx| {
            tx.list_each(&CertFilter::default(), now(), |r| {
                if r.store == StoreName::EndEntity && r.findings(now()).is_empty() {
                    expected.insert(r.facts.thumbprint_sha1.clone());
                    texts.insert(format!(
                        "{} ({}) [Expiration: {}]",
                        r.facts.subject_cn.clone().unwrap(),
                        r.friendly_name
                            .clone()
                            .unwrap_or_else(|| "no friendly name".into()),
                        &mailcert_store::rfc3339(r.facts.not_after)[..10]
                    ));
                }
                Ok(())
            })
        })
        .unwrap();
    assert!(expected.len() >= 2, "{expected:?}");
    open(&c, "/settings/farm").await;
    let mut offered = BTreeSet::new();
    let mut offered_texts = BTreeSet::new();
    for o in c
        .find_all(Locator::Css("select#certificate option"))
        .await
        .unwrap()
    {
        let v = o.attr("value").await.unwrap().unwrap_or_default();
        if !v.is_empty() {
            offered.insert(v);
            offered_texts.insert(o.text().await.unwrap());
        }
    }
    assert_eq!(offered, expected);
    assert_eq!(offered_texts, texts);
    assert!(offered_texts.contains("client-rsa.test (Client RSA) [Expiration: 2045-01-01]"));

    // Choose it and save: bound.
    set_text(&c, "#smtp_server", "localhost").await;
    set_text(&c, "#port", &relay_port).await;
    set_text(&c, "#from_address", "sharepoint@example.org").await;
    click(&c, "#encryption-starttls").await;
    click(&c, "#use_certificate-yes").await;
    c.find(Locator::Css("select#certificate"))
        .await
        .unwrap()
        .select_by_value(CLIENT_RSA_SHA1)
        .await
        .unwrap();
    submit(&c, "#settings button[type=submit]").await;
    c.wait()
        .for_element(Locator::Css(".flash.ok"))
        .await
        .unwrap();
    let saved = mailcert_binding::effective(&mut f.farm(), &Target::Farm, now()).unwrap();
    assert_eq!(saved.settings.certificate.as_deref(), Some(CLIENT_RSA_SHA1));
    assert_eq!(saved.settings.encryption, Encryption::StartTls);
    assert!(saved.problems.is_empty());

    // Test connection: the real sender against the loopback relay, which demands a
    // client certificate and trusts only the test root.
    submit(&c, "#tests form.inline button").await;
    c.wait()
        .for_element(Locator::Css(".flash.ok"))
        .await
        .unwrap();
    let steps = text_of(&c, ".flash.ok").await;
    assert!(
        steps.contains("client certificate requested by the server: yes"),
        "{steps}"
    );
    assert!(
        steps.contains("client certificate sent: Client RSA"),
        "{steps}"
    );
    assert!(steps.contains("no message was sent"), "{steps}");

    // Send a test e-mail: it reaches the relay with that certificate and its chain.
    set_text(&c, "#to", "ops@example.org").await;
    submit(&c, "#tests form:not(.inline) button").await;
    c.wait()
        .for_element(Locator::Css(".flash.ok"))
        .await
        .unwrap();
    let steps = text_of(&c, ".flash.ok").await;
    assert!(steps.contains("accepted"), "{steps}");
    let got = relay.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].recipients, ["ops@example.org"]);
    assert_eq!(got[0].client_chain.len(), 2, "leaf and intermediate");
    assert_eq!(
        mailcert_store::thumbprints(&got[0].client_chain[0]).0,
        CLIENT_RSA_SHA1
    );
    assert!(String::from_utf8_lossy(&got[0].data).contains("From: sharepoint@example.org"));
    shoot(&c, "settings").await;

    // Encryption off with the certificate chosen: the rule's error beside the
    // certificate field, the input kept, nothing changed.
    click(&c, "#encryption-none").await;
    set_text(&c, "#from_address", "changed@example.org").await;
    submit(&c, "#settings button[type=submit]").await;
    c.wait()
        .for_element(Locator::Css("#certificate-error"))
        .await
        .unwrap();
    let err = text_of(&c, "#certificate-error").await;
    assert!(err.contains("needs encryption"), "{err}");
    let beside = c
        .find(Locator::XPath(
            "//select[@id='certificate']/following-sibling::ul[@id='certificate-error']",
        ))
        .await;
    assert!(beside.is_ok(), "the error sits with the certificate field");
    assert!(
        c.find(Locator::Css("#encryption-none"))
            .await
            .unwrap()
            .is_selected()
            .await
            .unwrap()
    );
    assert_eq!(
        c.find(Locator::Css("#from_address"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("changed@example.org")
    );
    let after = mailcert_binding::effective(&mut f.farm(), &Target::Farm, now()).unwrap();
    assert_eq!(after.settings, saved.settings, "nothing changed");
    shoot(&c, "settings-error").await;

    // The certificate's own page.
    open(&c, &format!("/certificates/{CLIENT_RSA_SHA1}")).await;
    assert!(text_of(&c, "main").await.contains("Bound to"));
    shoot(&c, "certificate").await;

    // Web applications: add one, see its effective (farm) settings and certificate.
    open(&c, "/webapps").await;
    set_text(&c, "#url", "https://Intranet.Contoso.test/").await;
    set_text(&c, "#name", "Intranet").await;
    submit(&c, "form.panel button[type=submit]").await;
    c.wait()
        .for_element(Locator::Css("#webapps"))
        .await
        .unwrap();
    let table = text_of(&c, "#webapps").await;
    assert!(table.contains("https://intranet.contoso.test"), "{table}");
    assert!(
        table.contains(&format!("localhost:{relay_port}")),
        "{table}"
    );
    assert!(table.contains("Client RSA"), "{table}");
    shoot(&c, "webapps").await;

    // The intranet sends with the farm's settings: its stuck mail is shown there.
    open(
        &c,
        &format!(
            "/settings/webapp?url={}",
            INTRANET.replace(':', "%3A").replace('/', "%2F")
        ),
    )
    .await;
    let warning = text_of(&c, "#queue-warning").await;
    assert!(warning.contains("1 deferred, 1 failed"), "{warning}");
    assert!(
        warning.contains("User unknown"),
        "the newest reply: {warning}"
    );
    // Its link leads to the Queue page: every message, oldest first.
    submit(&c, "#queue-warning a[href='/queue']").await;
    assert_eq!(path_of(&c).await, "/queue");
    let rows = c.find_all(Locator::Css("#queue tbody tr")).await.unwrap();
    let mut ids = Vec::new();
    for r in &rows {
        ids.push(r.attr("data-id").await.unwrap().unwrap_or_default());
    }
    assert_eq!(
        ids,
        [q.deferred.clone(), q.failed.clone(), q.notification.clone()]
    );
    let deferred_row = format!("tr[data-id='{}']", q.deferred);
    let text = text_of(&c, &deferred_row).await;
    assert!(
        text.contains("deferred") && text.contains("Greylisted"),
        "{text}"
    );
    assert!(
        text.contains("alice@example.org") && text.contains(INTRANET),
        "{text}"
    );
    let text = text_of(&c, &format!("tr[data-id='{}']", q.notification)).await;
    assert!(text.contains("delivery status notification"), "{text}");
    shoot(&c, "queue").await;
    // Retry: due now.
    submit(&c, &format!("{deferred_row} button.retry")).await;
    let flash = text_of(&c, ".flash.ok").await;
    assert!(
        flash.contains(&format!("Message {} is due now.", q.deferred)),
        "{flash}"
    );
    let e = queued(&q.path, &q.deferred).unwrap();
    assert!(e.next_attempt <= now(), "{e:?}");
    // Delete asks first, then the message is gone.
    submit(&c, &format!("tr[data-id='{}'] a.delete", q.failed)).await;
    assert_eq!(path_of(&c).await, format!("/queue/{}/delete", q.failed));
    assert!(text_of(&c, "#message").await.contains("User unknown"));
    submit(&c, "form.panel button.danger").await;
    let flash = text_of(&c, ".flash.ok").await;
    assert!(
        flash.contains(&format!("Deleted message {}", q.failed)),
        "{flash}"
    );
    assert!(queued(&q.path, &q.failed).is_none());
    assert!(queued(&q.path, &q.deferred).is_some());

    // Audit log, newest first.
    open(&c, "/audit").await;
    let audit = text_of(&c, "#audit").await;
    let webapp = audit.find("webapp add").unwrap();
    let bind = audit.find("bind").unwrap();
    assert!(webapp < bind, "newest first");
    shoot(&c, "audit").await;

    // A form posted with the browser's session cookie but without the CSRF token.
    let name = format!("mailcert_session_{}", addr.port());
    let cookie = c.get_named_cookie(&name).await.unwrap();
    let pair = format!("{name}={}", cookie.value());
    assert_eq!(get(addr, "/certificates", Some(&pair)).status, 200);
    let r = post_form(
        addr,
        "/settings/farm",
        &pair,
        &[
            ("smtp_server", "evil.example.org"),
            ("encryption", "starttls"),
            ("use_certificate", "no"),
        ],
    );
    assert_eq!(r.status, 403);
    let r = post_form(addr, "/webapps/add", &pair, &[("url", "https://evil.test")]);
    assert_eq!(r.status, 403);
    let unchanged = mailcert_binding::effective(&mut f.farm(), &Target::Farm, now()).unwrap();
    assert_eq!(unchanged.settings, saved.settings);
    assert_eq!(f.farm().read(|tx| tx.webapps()).unwrap().len(), 1);

    lifecycle(&c, f).await;
    issue_13(&c, f).await;

    // Signing out ends the session in the browser too.
    submit(&c, "form.signout button").await;
    open(&c, "/certificates").await;
    assert!(path_of(&c).await.starts_with("/signin"));
}

/// Issue #10 in the browser: request a certificate, sign the downloaded request with the
/// test CA, import it, bind it, see the health banner, clear it with a contact, renew.
async fn lifecycle(c: &Client, f: &TestFarm) {
    open(c, "/certificates").await;
    submit(c, "a.button[href='/certificates/request']").await;
    assert_eq!(path_of(c).await, "/certificates/request");
    set_text(c, "#common_name", "browser-client.contoso.test").await;
    c.find(Locator::Css("select#key_algorithm"))
        .await
        .unwrap()
        .select_by_value("ecc")
        .await
        .unwrap();
    shoot(c, "request").await;
    submit(c, "form.panel button[type=submit]").await;
    let here = path_of(c).await;
    assert!(here.starts_with("/certificates/requests/"), "{here}");
    let csr = text_of(c, "#csr").await;
    assert!(
        csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
        "{csr}"
    );
    let dir = tempfile::tempdir().unwrap();
    let csr_file = dir.path().join("browser.csr");
    std::fs::write(&csr_file, format!("{}\n", csr.trim())).unwrap();
    let cert_file = dir.path().join("browser.pem");
    let signed = Command::new("openssl")
        .args([
            "x509",
            "-req",
            "-days",
            "365",
            "-copy_extensions",
            "copy",
            "-set_serial",
            "77",
        ])
        .arg("-in")
        .arg(&csr_file)
        .arg("-CA")
        .arg(fixture("intermediate-ca.pem"))
        .arg("-CAkey")
        .arg(fixture("intermediate-ca.key"))
        .arg("-out")
        .arg(&cert_file)
        .output()
        .expect("openssl signs the request");
    assert!(signed.status.success(), "{signed:?}");
    let der = pem::load_certs(&cert_file).unwrap().remove(0);
    let sha1 = mailcert_store::thumbprints(&der).0;

    // The signed certificate, uploaded like any other, is paired with the sealed key.
    upload(c, &cert_file.display().to_string(), "").await;
    let flash = text_of(c, ".flash").await;
    assert!(flash.contains("Paired with the pending request"), "{flash}");
    assert!(
        flash.contains("Eligible for SMTP client authentication"),
        "{flash}"
    );

    // Bound on the farm's settings page: offered in the drop-down.
    open(c, "/settings/farm").await;
    click(c, "#use_certificate-yes").await;
    c.find(Locator::Css("select#certificate"))
        .await
        .unwrap()
        .select_by_value(&sha1)
        .await
        .unwrap();
    submit(c, "#settings button[type=submit]").await;
    c.wait()
        .for_element(Locator::Css(".flash.ok"))
        .await
        .unwrap();
    let bound = mailcert_binding::effective(&mut f.farm(), &Target::Farm, now()).unwrap();
    assert_eq!(bound.settings.certificate.as_deref(), Some(sha1.as_str()));

    // Nobody is notified about it: the health banner on every page, and the Health page.
    open(c, "/webapps").await;
    let banner = text_of(c, "#health-banner").await;
    assert!(banner.contains("nobody is notified"), "{banner}");
    submit(c, "#health-banner a").await;
    assert_eq!(path_of(c).await, "/health");
    let findings = text_of(c, "#health-findings").await;
    assert!(findings.contains("no-contacts"), "{findings}");
    shoot(c, "health").await;

    // A contact clears it.
    open(c, "/settings/certificates").await;
    set_text(c, "#contact", "pki@example.org").await;
    submit(
        c,
        "form[action='/settings/certificates/contacts/add'] button",
    )
    .await;
    assert!(text_of(c, "#contacts").await.contains("pki@example.org"));
    assert!(
        c.find(Locator::Css("#health-banner")).await.is_err(),
        "healthy now"
    );
    shoot(c, "certificate-settings").await;

    // Renew it from its page: a request that renews it.
    open(c, &format!("/certificates/{sha1}")).await;
    submit(
        c,
        &format!("form[action='/certificates/{sha1}/renew'] button"),
    )
    .await;
    assert!(path_of(c).await.starts_with("/certificates/requests/"));
    let page = text_of(c, "main").await;
    assert!(page.contains("Renews"), "{page}");
    assert!(page.contains(&sha1), "{page}");
}

/// A number a script returned.
async fn number(c: &Client, script: &str) -> f64 {
    let v = c.execute(script, vec![]).await.unwrap();
    v.as_f64()
        .unwrap_or_else(|| panic!("{script} returned {v:?}, not a number"))
}

/// Whether the page scrolls sideways: the document is wider than the window.
async fn no_sideways_scroll(c: &Client, what: &str) {
    let v = c
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, inner) = (v[0].as_f64().unwrap(), v[1].as_f64().unwrap());
    assert!(
        scroll <= inner,
        "{what}: the page is {scroll} px wide in a {inner} px window"
    );
}

/// How far the bottom of `label[for=id]` lies above the top of `#id` (negative: the
/// label is beside or below it).
async fn label_above(c: &Client, id: &str) -> f64 {
    number(
        c,
        &format!(
            "const l = document.querySelector('label[for={id}]').getBoundingClientRect();
             const f = document.getElementById('{id}').getBoundingClientRect();
             return f.top - l.bottom;"
        ),
    )
    .await
}

/// Issue #13 in the browser: the search box filters the Certificates page; the
/// certificate drop-down is wide enough for its longest text and, with many eligible
/// certificates, has a search box whose suggestion binds one; at 420 px the pages do
/// not scroll sideways and labels sit above their fields.
async fn issue_13(c: &Client, f: &TestFarm) {
    let fleet = f.import_generated(
        "fleet",
        12,
        true,
        Some("Fleet relay certificate with a long friendly name"),
    );

    // Search: typed, submitted, the table filtered.
    open(c, "/certificates").await;
    assert!(
        c.find_all(Locator::Css("#certificates tbody tr"))
            .await
            .unwrap()
            .len()
            > 12
    );
    set_text(c, "#f-q", "fleet-7.test").await;
    submit(c, "#search button[type=submit]").await;
    assert!(
        path_of(c).await.contains("q=fleet-7.test"),
        "{}",
        path_of(c).await
    );
    let rows = c
        .find_all(Locator::Css("#certificates tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].attr("data-thumbprint").await.unwrap().as_deref(),
        Some(fleet[6].as_str())
    );
    assert!(text_of(c, "#pager-top").await.contains("Showing 1–1 of 1"));
    // The Import link jumps to the form.
    click(c, "#import-link").await;
    assert!(c.current_url().await.unwrap().as_str().ends_with("#import"));

    // The drop-down shows its longest text whole.
    open(c, "/settings/farm").await;
    let v = c
        .execute(
            "const s = document.getElementById('certificate');
             const cs = getComputedStyle(s);
             const ctx = document.createElement('canvas').getContext('2d');
             ctx.font = cs.font;
             let widest = 0;
             for (const o of s.options) { widest = Math.max(widest, ctx.measureText(o.text).width); }
             const room = s.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 24;
             return [widest, room, s.options.length];",
            vec![],
        )
        .await
        .unwrap();
    let (widest, room) = (v[0].as_f64().unwrap(), v[1].as_f64().unwrap());
    assert!(widest > 500.0, "long texts: {v:?}");
    assert!(room >= widest, "the drop-down clips its texts: {v:?}");
    // Many eligible certificates: a search box with a suggestion for each.
    let options = v[2].as_u64().unwrap();
    let suggestions = c
        .find_all(Locator::Css("datalist#certificate-choices option"))
        .await
        .unwrap()
        .len();
    assert_eq!(u64::try_from(suggestions).unwrap() + 1, options);
    assert_eq!(
        c.find(Locator::Css("#certificate_find"))
            .await
            .unwrap()
            .attr("list")
            .await
            .unwrap()
            .as_deref(),
        Some("certificate-choices")
    );
    click(c, "#use_certificate-yes").await;
    click(c, "#encryption-starttls").await;
    set_text(c, "#certificate_find", "friendly name 12").await;
    c.execute(
        "document.getElementById('certificate_find').blur();",
        vec![],
    )
    .await
    .unwrap();
    submit(c, "#settings button[type=submit]").await;
    c.wait()
        .for_element(Locator::Css(".flash.ok"))
        .await
        .unwrap();
    let bound = mailcert_binding::effective(&mut f.farm(), &Target::Farm, now()).unwrap();
    assert_eq!(
        bound.settings.certificate.as_deref(),
        Some(fleet[11].as_str())
    );

    // 420 px: no sideways scroll, labels above fields.
    c.set_window_size(420, 900).await.unwrap();
    let inner = number(c, "return window.innerWidth;").await;
    assert!(inner <= 430.0, "the window is {inner} px wide");
    open(c, "/certificates").await;
    no_sideways_scroll(c, "/certificates").await;
    assert!(
        label_above(c, "file").await >= 0.0,
        "the import form's label is above its field"
    );
    shoot_at(c, "certificates-narrow", 420).await;
    open(c, "/settings/farm").await;
    no_sideways_scroll(c, "/settings/farm").await;
    for id in ["smtp_server", "port", "certificate"] {
        let gap = label_above(c, id).await;
        assert!(gap >= 0.0, "label of {id} is not above it ({gap})");
    }
    shoot_at(c, "settings-narrow", 420).await;
    open(c, "/audit").await;
    no_sideways_scroll(c, "/audit").await;
    c.set_window_size(1280, 900).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_job_in_headless_chromium() {
    let Some(driver) = start_driver() else {
        return;
    };
    let f = TestFarm::with_password();
    // More certificates, imported with the library: one more eligible, and ineligible
    // ones (expired; Key Usage without digitalSignature; eligible but in Pending).
    f.import(
        "client-p256.pem",
        Some("client-p256.key"),
        None,
        ImportOptions {
            friendly_name: Some("P-256 client".into()),
            ..ImportOptions::default()
        },
    );
    f.import(
        "expired.pem",
        Some("expired.key"),
        None,
        ImportOptions::default(),
    );
    f.import(
        "ku-no-sig.pem",
        Some("ku-no-sig.key"),
        None,
        ImportOptions::default(),
    );
    f.import(
        "client-p384.pem",
        Some("client-p384.key"),
        None,
        ImportOptions {
            store: Some(StoreName::Pending),
            ..ImportOptions::default()
        },
    );
    // The loopback relay: STARTTLS, client certificate required, trusts only the root.
    let mut chain = pem::load_certs(fixture("localhost-server.pem")).unwrap();
    chain.extend(pem::load_certs(fixture("intermediate-ca.pem")).unwrap());
    let relay = TestServer::start(
        Config::starttls(
            chain,
            pem::load_key(fixture("localhost-server.key")).unwrap(),
        )
        .client_auth(ClientAuth::Required(
            pem::load_certs(fixture("root-ca.pem")).unwrap(),
        )),
    )
    .unwrap();
    // The sender trusts the relay through the farm's Root store.
    f.import("root-ca.cer", None, None, ImportOptions::default());
    let queue = queue_for_intranet(&f.dir.path().join("spool.db"));
    let mut cfg = f.config();
    cfg.tester = Some(std::sync::Arc::new(mailcert_admin::SenderTester {
        timeout_secs: 10,
    }));
    cfg.spool = Some(queue.path.clone());
    let server = Server::start(cfg);
    BASE.set(format!("http://{}", server.addr)).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver, profile.path()).await;
    let c = client.clone();
    let f = std::sync::Arc::new(f);
    let farm = f.clone();
    let addr = server.addr;
    // The session is closed (and Chromium quits) even when a check fails.
    let relay = std::sync::Arc::new(relay);
    let seen = relay.clone();
    let outcome = tokio::spawn(async move { journey(c, &farm, addr, &seen, &queue).await }).await;
    let _ = client.close().await;
    drop(server);
    drop(driver);
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("{e}");
    }
}

/// The browser test run again in a child process with chromedriver pointed at a file
/// that does not exist: it passes saying why it skipped, and under
/// `MAILCERT_REQUIRE_EXTERNAL=1` it fails saying what is missing.
#[test]
fn a_missing_chromedriver_skips_or_fails_under_require_external() {
    let exe = std::env::current_exe().unwrap();
    let run = |require: Option<&str>| {
        let mut cmd = Command::new(&exe);
        cmd.args([
            "the_whole_job_in_headless_chromium",
            "--exact",
            "--nocapture",
        ])
        .env(
            "MAILCERT_CHROMEDRIVER",
            "/nonexistent/mailcert-test/chromedriver",
        )
        .env_remove(REQUIRE_EXTERNAL)
        .stdin(Stdio::null());
        if let Some(v) = require {
            cmd.env(REQUIRE_EXTERNAL, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, said) = run(None);
    assert!(ok, "{said}");
    assert!(
        said.contains(
            "skipped: browser tests: /nonexistent/mailcert-test/chromedriver is not installed"
        ),
        "{said}"
    );
    assert!(said.contains("1 passed"), "{said}");
    let (ok, said) = run(Some("0"));
    assert!(ok, "only 1 requires the tools: {said}");
    let (ok, said) = run(Some("1"));
    assert!(!ok, "{said}");
    assert!(
        said.contains("MAILCERT_REQUIRE_EXTERNAL=1 and a tool this test needs is missing: browser tests: /nonexistent/mailcert-test/chromedriver is not installed"),
        "{said}"
    );
    assert!(said.contains("1 failed"), "{said}");
}

#[test]
fn the_browser_counts_as_a_tool_too() {
    let driver = Path::new("/bin/sh");
    let missing = Path::new("/nonexistent/mailcert-test/chromium");
    let why = missing_tools(driver, Some(missing)).unwrap();
    assert!(
        why.contains("MAILCERT_CHROMIUM names /nonexistent"),
        "{why}"
    );
    assert_eq!(missing_tools(driver, Some(Path::new("/bin/sh"))), None);
    assert!(external_required(Some(std::ffi::OsStr::new("1"))));
    assert!(!external_required(Some(std::ffi::OsStr::new("0"))));
    assert!(!external_required(None));
}
