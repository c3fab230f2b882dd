//! End-to-end tests over HTTP with a raw client: sign-in, sessions, CSRF, limits,
//! headers, every page's forms, HTTPS. They run everywhere (no browser needed); the
//! browser tests in browser.rs drive the same pages through headless Chromium.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use mailcert_admin::{AdminError, TlsSource};
use mailcert_binding::{Encryption, Target};
use mailcert_store::{ImportOptions, StoreName};

const SERVER_ONLY_SHA1: &str = "5769770EB7DDC8AF09FC09F7009147AB9DF00EA6";
const CLIENT_P256_SHA1: &str = "DB93DE0FBC9F39899D171CEE22B51E1E342449D9";

fn farm_with_certs() -> TestFarm {
    let f = TestFarm::with_password();
    f.import(
        "openssl3-default.pfx",
        None,
        Some(FIXTURE_PASSWORD),
        ImportOptions::default(),
    );
    f.import(
        "server-only.pfx",
        None,
        Some(FIXTURE_PASSWORD),
        ImportOptions::default(),
    );
    f
}

fn settings_form<'a>(csrf: &'a str, encryption: &'a str, cert: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("smtp_server", "relay.example.org"),
        ("port", "25"),
        ("from_address", "sharepoint@example.org"),
        ("reply_to", ""),
        ("charset", "utf-8"),
        ("helo", ""),
        ("auth", "anonymous"),
        ("smtp_user", ""),
        ("smtp_password", ""),
        ("encryption", encryption),
        (
            "use_certificate",
            if cert.is_empty() { "no" } else { "yes" },
        ),
        ("certificate", cert),
    ]
}

#[test]
fn pages_redirect_to_sign_in_until_signed_in() {
    let f = TestFarm::with_password();
    let s = Server::start(f.config());
    for path in ["/certificates", "/settings/farm", "/webapps", "/audit", "/"] {
        let r = get(s.addr, path, None);
        assert_eq!(r.status, 303, "{path}");
        let loc = r.header("location").unwrap();
        assert!(
            loc == "/certificates" || loc.starts_with("/signin"),
            "{path} -> {loc}"
        );
    }
    assert_eq!(
        get(s.addr, "/settings/farm", None).header("location"),
        Some("/signin?next=%2Fsettings%2Ffarm")
    );
    // A POST without a session is refused outright.
    let r = request(
        s.addr,
        "POST",
        "/webapps/add",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"url=https%3A%2F%2Fx.test",
    );
    assert_eq!(r.status, 403);
    // A made-up session id is not a session.
    let fake = format!("mailcert_session_{}={}", s.addr.port(), "ab".repeat(32));
    assert_eq!(get(s.addr, "/certificates", Some(&fake)).status, 303);
}

#[test]
fn without_a_password_the_page_says_how_to_set_one() {
    let f = TestFarm::new();
    let s = Server::start(f.config());
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("mailcert admin set-password")),
        "{:?}",
        s.warnings
    );
    let r = get(s.addr, "/signin", None);
    assert_eq!(r.status, 200);
    let t = r.text();
    assert!(t.contains("mailcert admin set-password"), "{t}");
    assert!(!t.contains(r#"type="password""#));
}

#[test]
fn sign_in_cookie_wrong_password_and_sign_out() {
    let f = TestFarm::with_password();
    let s = Server::start(f.config());
    let page = get(s.addr, "/signin?next=%2Faudit", None);
    let set_cookie = page.header("set-cookie").unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attr), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "plain HTTP: {set_cookie}");
    assert!(
        set_cookie.starts_with(&format!("mailcert_session_{}=", s.addr.port())),
        "{set_cookie}"
    );
    let anon = page.cookie_pair();
    let csrf = csrf_of(&page.text());
    assert!(page.text().contains(r#"name="next" value="/audit""#));

    // The anonymous session does not open pages.
    assert_eq!(get(s.addr, "/certificates", Some(&anon)).status, 303);

    let wrong = "not-the-password-1234";
    let r = post_form(
        s.addr,
        "/signin",
        &anon,
        &[("csrf", &csrf), ("password", wrong), ("next", "/audit")],
    );
    assert_eq!(r.status, 401);
    let t = r.text();
    assert!(t.contains("The password is not correct."));
    assert!(!t.contains(wrong), "a password is never echoed back");

    let r = post_form(
        s.addr,
        "/signin",
        &anon,
        &[("csrf", &csrf), ("password", PASSWORD), ("next", "/audit")],
    );
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/audit"));
    let session = r.cookie_pair();
    assert_ne!(session, anon);
    // The pre-sign-in id is dead: a planted id is worth nothing.
    assert_eq!(get(s.addr, "/certificates", Some(&anon)).status, 303);

    let audit = get(s.addr, "/audit", Some(&session));
    assert_eq!(audit.status, 200);
    let t = audit.text();
    // Newest first: the sign-in comes before the failed attempt and the password set.
    let signed = t.find("admin sign-in<").unwrap();
    let failed = t.find("admin sign-in failed").unwrap();
    let set = t.find("admin password set").unwrap();
    assert!(signed < failed && failed < set, "{t}");
    assert!(!t.contains(PASSWORD));

    // An open redirect is not possible through `next`.
    let page = get(s.addr, "/signin?next=%2F%2Fevil.example%2F", None);
    assert!(page.text().contains(r#"name="next" value="/certificates""#));

    // Sign out ends the session.
    let csrf = csrf_of(&audit.text());
    let r = post_form(s.addr, "/signout", &session, &[("csrf", &csrf)]);
    assert_eq!(r.status, 303);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(get(s.addr, "/certificates", Some(&session)).status, 303);
}

#[test]
fn posts_without_the_sessions_csrf_token_are_refused() {
    let f = farm_with_certs();
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let other = sign_in(s.addr);
    let other_csrf = csrf_of(&get(s.addr, "/certificates", Some(&other)).text());
    let csrf = csrf_of(&get(s.addr, "/certificates", Some(&session)).text());
    assert_ne!(csrf, other_csrf);

    for token in [None, Some(other_csrf.as_str()), Some("00")] {
        let mut form = vec![("url", "https://intranet.test")];
        if let Some(t) = token {
            form.push(("csrf", t));
        }
        let r = post_form(s.addr, "/webapps/add", &session, &form);
        assert_eq!(r.status, 403, "token {token:?}");
        assert!(r.text().contains("security token"));
        let mut form = settings_form("", "starttls", CLIENT_RSA_SHA1);
        form.retain(|(k, _)| *k != "csrf");
        if let Some(t) = token {
            form.push(("csrf", t));
        }
        assert_eq!(
            post_form(s.addr, "/settings/farm", &session, &form).status,
            403
        );
    }
    assert!(f.farm().read(|tx| tx.webapps()).unwrap().is_empty());
    assert!(
        mailcert_binding::effective(&mut f.farm(), &Target::Farm, now()).is_err(),
        "nothing was saved"
    );

    // A multipart upload without the token.
    let boundary = "XyZ";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pem\"\r\n\r\n{}\r\n--{boundary}--\r\n",
        std::fs::read_to_string(fixture("client-p256.pem")).unwrap()
    );
    let ct = format!("multipart/form-data; boundary={boundary}");
    let r = request(
        s.addr,
        "POST",
        "/certificates/import",
        &[("Cookie", &session), ("Content-Type", &ct)],
        body.as_bytes(),
    );
    assert_eq!(r.status, 403);
    assert!(
        f.farm()
            .read(|tx| tx.by_sha1(CLIENT_P256_SHA1))
            .unwrap()
            .is_none()
    );

    // The sign-in form needs its token too.
    let page = get(s.addr, "/signin", None);
    let r = post_form(
        s.addr,
        "/signin",
        &page.cookie_pair(),
        &[("password", PASSWORD)],
    );
    assert_eq!(r.status, 403);

    // With the right token the same form works.
    let r = post_form(
        s.addr,
        "/webapps/add",
        &session,
        &[("csrf", &csrf), ("url", "https://Intranet.test/")],
    );
    assert_eq!(r.status, 303);
    assert_eq!(
        f.farm().read(|tx| tx.webapps()).unwrap()[0].url,
        "https://intranet.test"
    );
}

#[test]
fn security_headers_and_body_limit() {
    let f = TestFarm::with_password();
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let r = get(s.addr, "/certificates", Some(&session));
    assert_eq!(r.status, 200);
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r.header("strict-transport-security").is_none());
    let css = get(s.addr, "/static/admin.css", None);
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));

    // An upload over 1 MiB is refused with 413.
    let csrf = csrf_of(&r.text());
    let boundary = "B0undary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pem\"\r\n\r\n"
    )
    .into_bytes();
    body.extend(std::iter::repeat_n(b'A', 1536 * 1024));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let ct = format!("multipart/form-data; boundary={boundary}");
    let r = request(
        s.addr,
        "POST",
        "/certificates/import",
        &[("Cookie", &session), ("Content-Type", &ct)],
        &body,
    );
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(get(s.addr, "/nowhere", Some(&session)).status, 404);

    // DNS rebinding: a request addressed to another host name gets nothing.
    let mut tcp = TcpStream::connect(s.addr).unwrap();
    let r = exchange(
        &mut tcp,
        &format!("evil.example:{}", s.addr.port()),
        "GET",
        "/signin",
        &[],
        b"",
    );
    assert_eq!(r.status, 400);
    assert!(!r.text().contains("Administrator password"));
    let mut tcp = TcpStream::connect(s.addr).unwrap();
    let r = exchange(
        &mut tcp,
        &format!("localhost:{}", s.addr.port()),
        "GET",
        "/signin",
        &[],
        b"",
    );
    assert_eq!(r.status, 200);
}

#[test]
fn settings_rules_are_shown_beside_their_fields_and_change_nothing() {
    let f = farm_with_certs();
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let page = get(s.addr, "/settings/farm", Some(&session));
    assert_eq!(page.status, 200);
    let csrf = csrf_of(&page.text());

    // The drop-down offers the eligible certificate and not the server-only one.
    let t = page.text();
    assert!(
        t.contains(&format!(r#"<option value="{CLIENT_RSA_SHA1}">"#)),
        "{t}"
    );
    assert!(!t.contains(SERVER_ONLY_SHA1));
    assert!(t.contains("client-rsa.test (Client RSA) [Expiration: 2045-01-01]"));

    // Save with the certificate.
    let r = post_form(
        s.addr,
        "/settings/farm",
        &session,
        &settings_form(&csrf, "starttls", CLIENT_RSA_SHA1),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let e = mailcert_binding::effective(&mut f.farm(), &Target::Farm, now()).unwrap();
    assert_eq!(e.settings.certificate.as_deref(), Some(CLIENT_RSA_SHA1));
    assert_eq!(e.settings.smtp_server, "relay.example.org");
    let shown = get(s.addr, "/settings/farm", Some(&session)).text();
    assert!(shown.contains("Saved the outgoing e-mail settings of the farm."));
    assert!(shown.contains(&format!(r#"<option value="{CLIENT_RSA_SHA1}" selected>"#)));

    // Encryption off with the certificate chosen: the rule's error beside the field.
    let mut form = settings_form(&csrf, "none", CLIENT_RSA_SHA1);
    form.retain(|(k, _)| *k != "smtp_server");
    form.push(("smtp_server", "other-relay.example.org"));
    let r = post_form(s.addr, "/settings/farm", &session, &form);
    assert_eq!(r.status, 422);
    let t = r.text();
    let at = t
        .find(r#"id="certificate-error""#)
        .expect("an error beside the certificate");
    assert!(t[at..].contains("needs encryption"), "{}", &t[at..at + 400]);
    assert!(t.contains("Nothing was saved"));
    // The user's input is kept.
    assert!(t.contains(r#"value="other-relay.example.org""#));
    assert!(
        t.contains(r#"id="encryption-none" type="radio" name="encryption" value="none" checked"#)
    );
    let after = mailcert_binding::effective(&mut f.farm(), &Target::Farm, now()).unwrap();
    assert_eq!(after.settings, e.settings, "nothing changed");

    // Several rules at once, each beside its field; a port that is no number.
    let mut form = settings_form(&csrf, "starttls", "");
    form.retain(|(k, _)| !matches!(*k, "from_address" | "port"));
    form.push(("from_address", "not an address"));
    form.push(("port", "99999"));
    let r = post_form(s.addr, "/settings/farm", &session, &form);
    assert_eq!(r.status, 422);
    assert!(r.text().contains(r#"id="port-error""#));
    let mut form = settings_form(&csrf, "starttls", "");
    form.retain(|(k, _)| !matches!(*k, "from_address" | "smtp_server"));
    form.push(("from_address", "not an address"));
    form.push(("smtp_server", "bad host"));
    let r = post_form(s.addr, "/settings/farm", &session, &form);
    let t = r.text();
    assert!(t.contains(r#"id="from_address-error""#), "{t}");
    assert!(t.contains(r#"id="smtp_server-error""#));
    assert_eq!(
        mailcert_binding::effective(&mut f.farm(), &Target::Farm, now())
            .unwrap()
            .settings,
        e.settings
    );
}

#[test]
fn smtp_password_is_never_shown() {
    let f = farm_with_certs();
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let csrf = csrf_of(&get(s.addr, "/settings/farm", Some(&session)).text());
    let secret = "smtp-secret-Xy7-4711";
    let mut form = settings_form(&csrf, "starttls", "");
    form.retain(|(k, _)| !matches!(*k, "auth" | "smtp_user" | "smtp_password"));
    form.extend([
        ("auth", "authenticated"),
        ("smtp_user", "svc-mail"),
        ("smtp_password", secret),
    ]);
    let r = post_form(s.addr, "/settings/farm", &session, &form);
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(!r.header("location").unwrap().contains(secret));
    let e = mailcert_binding::effective(&mut f.farm(), &Target::Farm, now()).unwrap();
    assert!(e.settings.has_password);
    let t = get(s.addr, "/settings/farm", Some(&session)).text();
    assert!(t.contains("A password is set. Leave this empty to keep it."));
    assert!(!t.contains(secret));
    assert!(t.contains(r#"value="svc-mail""#));

    // Saving again with the field empty keeps the password.
    let mut keep = form.clone();
    keep.retain(|(k, _)| *k != "smtp_password");
    keep.push(("smtp_password", ""));
    assert_eq!(
        post_form(s.addr, "/settings/farm", &session, &keep).status,
        303
    );
    let plan = mailcert_binding::plan(&mut f.farm(), &Target::Farm, now()).unwrap();
    assert_eq!(plan.password.as_deref().map(String::as_str), Some(secret));

    // A refused save with a new password does not echo it either.
    let mut bad = form.clone();
    bad.retain(|(k, _)| !matches!(*k, "encryption" | "smtp_password"));
    bad.extend([
        ("encryption", "none"),
        ("smtp_password", "another-secret-99"),
    ]);
    let r = post_form(s.addr, "/settings/farm", &session, &bad);
    assert_eq!(r.status, 422);
    let t = r.text();
    assert!(!t.contains("another-secret-99") && !t.contains(secret));
    assert!(t.contains(r#"id="credentials-error""#), "{t}");

    // Nor does the audit page.
    assert!(
        !get(s.addr, "/audit", Some(&session))
            .text()
            .contains(secret)
    );
}

/// The binding rule `password-follows-server`: settings that hold a stored SMTP password
/// cannot move to another server or port (the password would follow it) unless the
/// password is given again or the credentials are removed. The form shows the rule's
/// message beside the credentials and changes nothing.
#[test]
fn a_stored_smtp_password_does_not_follow_a_new_server() {
    let f = farm_with_certs();
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let csrf = csrf_of(&get(s.addr, "/settings/farm", Some(&session)).text());
    let secret = "smtp-secret-for-relay-1";
    let form = |server: &str, port: &str, auth: &str, password: &str| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = settings_form(&csrf, "starttls", "")
            .into_iter()
            .filter(|(k, _)| {
                !matches!(
                    *k,
                    "smtp_server" | "port" | "auth" | "smtp_user" | "smtp_password"
                )
            })
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        v.extend([
            ("smtp_server".to_string(), server.to_string()),
            ("port".to_string(), port.to_string()),
            ("auth".to_string(), auth.to_string()),
            ("smtp_user".to_string(), "svc-mail".to_string()),
            ("smtp_password".to_string(), password.to_string()),
        ]);
        v
    };
    let post = |pairs: Vec<(String, String)>| {
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        post_form(s.addr, "/settings/farm", &session, &refs)
    };
    let r = post(form("relay.example.org", "587", "authenticated", secret));
    assert_eq!(r.status, 303, "{}", r.text());
    let before = mailcert_binding::effective(&mut f.farm(), &Target::Farm, now()).unwrap();
    assert!(before.settings.has_password);
    assert_eq!(before.settings.smtp_server, "relay.example.org");

    // A new server (or port) with the password field left empty: refused by the rule.
    for (server, port, moved) in [
        ("relay2.example.org", "587", "server"),
        ("relay.example.org", "25", "port"),
    ] {
        let r = post(form(server, port, "authenticated", ""));
        assert_eq!(r.status, 422, "{moved}: {}", r.text());
        let t = r.text();
        let at = t
            .find(r#"id="credentials-error""#)
            .expect("the error beside the credentials");
        let beside = &t[at..t[at..].find("</ul>").map_or(t.len(), |e| at + e)];
        assert!(
            beside.contains(
                "the stored SMTP password was given for svc-mail at relay.example.org:587"
            ),
            "{beside}"
        );
        assert!(
            beside.contains(&format!("a change of {moved} needs the password again")),
            "{beside}"
        );
        assert!(
            beside.contains("On this page: enter the password again, or choose Anonymous"),
            "{beside}"
        );
        assert!(t.contains("Nothing was saved: 1 problem(s)"), "{moved}");
        // What was typed is kept; the password never appears.
        assert!(t.contains(&format!(r#"value="{server}""#)), "{moved}");
        assert!(!t.contains(secret));
        let after = mailcert_binding::effective(&mut f.farm(), &Target::Farm, now()).unwrap();
        assert_eq!(after.settings, before.settings, "{moved}: nothing changed");
        let plan = mailcert_binding::plan(&mut f.farm(), &Target::Farm, now()).unwrap();
        assert_eq!(plan.password.as_deref().map(String::as_str), Some(secret));
    }

    // Given again, the password moves with the new server.
    let r = post(form(
        "relay2.example.org",
        "587",
        "authenticated",
        "new-secret-2",
    ));
    assert_eq!(r.status, 303, "{}", r.text());
    let plan = mailcert_binding::plan(&mut f.farm(), &Target::Farm, now()).unwrap();
    assert_eq!(plan.effective.settings.smtp_server, "relay2.example.org");
    assert_eq!(
        plan.password.as_deref().map(String::as_str),
        Some("new-secret-2")
    );

    // Or the credentials are removed with the move.
    let r = post(form("relay3.example.org", "587", "anonymous", ""));
    assert_eq!(r.status, 303, "{}", r.text());
    let e = mailcert_binding::effective(&mut f.farm(), &Target::Farm, now()).unwrap();
    assert_eq!(e.settings.smtp_server, "relay3.example.org");
    assert!(!e.settings.has_password && e.settings.smtp_user.is_none());
}

#[test]
fn web_applications_fall_back_and_clear() {
    let f = farm_with_certs();
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let csrf = csrf_of(&get(s.addr, "/webapps", Some(&session)).text());
    // Farm settings first.
    let r = post_form(
        s.addr,
        "/settings/farm",
        &session,
        &settings_form(&csrf, "starttls", CLIENT_RSA_SHA1),
    );
    assert_eq!(r.status, 303);
    let r = post_form(
        s.addr,
        "/webapps/add",
        &session,
        &[
            ("csrf", &csrf),
            ("url", "HTTPS://Hr.Contoso.test:443/"),
            ("name", "HR <site>"),
        ],
    );
    assert_eq!(r.status, 303);
    let list = get(s.addr, "/webapps", Some(&session)).text();
    assert!(list.contains("https://hr.contoso.test"));
    assert!(list.contains("HR &lt;site&gt;"));
    assert!(list.contains("the farm's settings"));
    assert!(list.contains("relay.example.org:25"));

    let href = "/settings/webapp?url=https%3A%2F%2Fhr.contoso.test";
    let page = get(s.addr, href, Some(&session)).text();
    assert!(page.contains("uses the farm's settings"));
    let mut form = settings_form(&csrf, "tls", CLIENT_RSA_SHA1);
    form.retain(|(k, _)| !matches!(*k, "port" | "smtp_server"));
    form.extend([
        ("url", "https://hr.contoso.test"),
        ("port", ""),
        ("smtp_server", "hr-relay.example.org"),
    ]);
    let r = post_form(s.addr, "/settings/webapp", &session, &form);
    assert_eq!(r.status, 303, "{}", r.text());
    let target =
        Target::WebApp(mailcert_binding::WebAppUrl::parse("https://hr.contoso.test").unwrap());
    let e = mailcert_binding::effective(&mut f.farm(), &target, now()).unwrap();
    assert_eq!(e.source, mailcert_binding::Source::WebApplication);
    assert_eq!(e.settings.encryption, Encryption::Tls);
    assert_eq!(e.settings.port, 465);
    let list = get(s.addr, "/webapps", Some(&session)).text();
    assert!(list.contains("hr-relay.example.org:465") && list.contains("its own settings"));

    // Back to the farm's settings, after a confirmation page.
    let r = post_form(
        s.addr,
        "/settings/webapp/clear",
        &session,
        &[
            ("csrf", &csrf),
            ("url", "https://hr.contoso.test"),
            ("confirm", "yes"),
        ],
    );
    assert_eq!(r.status, 303);
    let e = mailcert_binding::effective(&mut f.farm(), &target, now()).unwrap();
    assert_eq!(e.source, mailcert_binding::Source::Farm);

    // Remove, after a confirmation page.
    let confirm = get(
        s.addr,
        "/webapps/remove?url=https%3A%2F%2Fhr.contoso.test",
        Some(&session),
    );
    assert_eq!(confirm.status, 200);
    let r = post_form(
        s.addr,
        "/webapps/remove",
        &session,
        &[("csrf", &csrf), ("url", "https://hr.contoso.test")],
    );
    assert_eq!(r.status, 303);
    assert!(f.farm().read(|tx| tx.webapps()).unwrap().is_empty());
    assert_eq!(get(s.addr, href, Some(&session)).status, 404);
}

#[test]
fn test_buttons_show_the_testers_steps() {
    let f = farm_with_certs();
    let mut cfg = f.config();
    cfg.tester = fake_tester();
    let s = Server::start(cfg);
    let session = sign_in(s.addr);
    let csrf = csrf_of(&get(s.addr, "/settings/farm", Some(&session)).text());
    post_form(
        s.addr,
        "/settings/farm",
        &session,
        &settings_form(&csrf, "starttls", CLIENT_RSA_SHA1),
    );
    let r = post_form(
        s.addr,
        "/settings/test",
        &session,
        &[("csrf", &csrf), ("target", "farm")],
    );
    assert_eq!(r.status, 303);
    let t = get(s.addr, "/settings/farm", Some(&session)).text();
    assert!(t.contains("Connection test passed."));
    assert!(t.contains("connected to relay.example.org:25"));
    assert!(t.contains("220 relay.test ESMTP &lt;ready&gt;"));
    assert!(t.contains(&format!("client certificate sent: {CLIENT_RSA_SHA1}")));

    let r = post_form(
        s.addr,
        "/settings/send-test",
        &session,
        &[
            ("csrf", &csrf),
            ("target", "farm"),
            ("to", "someone@example.org"),
        ],
    );
    assert_eq!(r.status, 303);
    let t = get(s.addr, "/settings/farm", Some(&session)).text();
    assert!(t.contains("The test e-mail to someone@example.org failed: 550 5.7.1 relaying denied"));
    assert!(t.contains("RCPT TO:&lt;someone@example.org&gt;"));

    let r = post_form(
        s.addr,
        "/settings/send-test",
        &session,
        &[
            ("csrf", &csrf),
            ("target", "farm"),
            ("to", "not an address"),
        ],
    );
    assert_eq!(r.status, 303);
    assert!(
        get(s.addr, "/settings/farm", Some(&session))
            .text()
            .contains("is not an e-mail address")
    );
}

#[test]
fn without_a_tester_the_buttons_say_so() {
    let f = farm_with_certs();
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let csrf = csrf_of(&get(s.addr, "/settings/farm", Some(&session)).text());
    post_form(
        s.addr,
        "/settings/farm",
        &session,
        &settings_form(&csrf, "starttls", ""),
    );
    let page = get(s.addr, "/settings/farm", Some(&session)).text();
    assert!(page.contains("Test connection") && page.contains("Send a test e-mail"));
    post_form(
        s.addr,
        "/settings/test",
        &session,
        &[("csrf", &csrf), ("target", "farm")],
    );
    assert!(
        get(s.addr, "/settings/farm", Some(&session))
            .text()
            .contains("Testing is not available")
    );
}

#[test]
fn import_by_upload_reports_per_file() {
    let f = TestFarm::with_password();
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let csrf = csrf_of(&get(s.addr, "/certificates", Some(&session)).text());
    let upload = |files: &[(&str, &str, Vec<u8>)], fields: &[(&str, &str)]| {
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
        let r = request(
            s.addr,
            "POST",
            "/certificates/import",
            &[("Cookie", &session), ("Content-Type", &ct)],
            &body,
        );
        assert_eq!(r.status, 303, "{}", r.text());
        get(s.addr, "/certificates", Some(&session)).text()
    };
    let pfx = std::fs::read(fixture("openssl3-default.pfx")).unwrap();
    // No password: the page asks for it.
    let t = upload(
        &[("file", "openssl3-default.pfx", pfx.clone())],
        &[("csrf", &csrf)],
    );
    assert!(
        t.contains("openssl3-default.pfx: the file is password-protected"),
        "{t}"
    );
    // Wrong password: named file, named problem.
    let t = upload(
        &[("file", "openssl3-default.pfx", pfx.clone())],
        &[("csrf", &csrf), ("password", "wrong")],
    );
    assert!(t.contains("openssl3-default.pfx: wrong password"), "{t}");
    // Right password, a hostile friendly name.
    let t = upload(
        &[("file", "C:\\certs\\openssl3-default.pfx", pfx)],
        &[
            ("csrf", &csrf),
            ("password", FIXTURE_PASSWORD),
            ("friendly_name", "<script>alert(1)</script>"),
        ],
    );
    assert!(t.contains("openssl3-default.pfx: added"), "{t}");
    assert!(t.contains("Eligible for SMTP client authentication."));
    assert!(t.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!t.contains("<script>"));
    // A certificate and a separate key file.
    let t = upload(
        &[
            (
                "file",
                "client-p256.pem",
                std::fs::read(fixture("client-p256.pem")).unwrap(),
            ),
            (
                "key_file",
                "client-p256.key",
                std::fs::read(fixture("client-p256.key")).unwrap(),
            ),
        ],
        &[("csrf", &csrf), ("exportable", "on")],
    );
    assert!(t.contains("client-p256.pem: added"), "{t}");
    let c = f
        .farm()
        .read(|tx| tx.by_sha1(CLIENT_P256_SHA1))
        .unwrap()
        .unwrap();
    assert!(c.has_private_key && c.exportable);
    // A key that does not match.
    let t = upload(
        &[
            (
                "file",
                "client-rsa.pem",
                std::fs::read(fixture("client-rsa.pem")).unwrap(),
            ),
            (
                "key_file",
                "other-rsa.key",
                std::fs::read(fixture("other-rsa.key")).unwrap(),
            ),
        ],
        &[("csrf", &csrf)],
    );
    assert!(t.contains("client-rsa.pem was not imported"), "{t}");
    // Rubbish.
    let t = upload(
        &[("file", "notes.txt", b"hello".to_vec())],
        &[("csrf", &csrf)],
    );
    assert!(t.contains("notes.txt was not imported"), "{t}");
    // Filters.
    let t = get(s.addr, "/certificates?store=root", Some(&session)).text();
    assert!(t.contains("mailcert Test Root CA") && !t.contains("client-p256.test"));
    let t = get(s.addr, "/certificates?eligible=on", Some(&session)).text();
    assert!(t.contains("client-p256.test") && !t.contains("Test Root CA"));
    let t = get(s.addr, "/certificates?expiring=abc", Some(&session)).text();
    assert!(t.contains("is not a number of days"));
}

#[test]
fn export_keeps_non_exportable_keys_in_the_farm() {
    let f = TestFarm::with_password();
    f.import(
        "openssl3-default.pfx",
        None,
        Some(FIXTURE_PASSWORD),
        ImportOptions::default(),
    );
    f.import(
        "client-p256.pem",
        Some("client-p256.key"),
        None,
        ImportOptions {
            exportable: true,
            friendly_name: Some("p256 export/test".into()),
            ..ImportOptions::default()
        },
    );
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let page = get(
        s.addr,
        &format!("/certificates/{CLIENT_RSA_SHA1}"),
        Some(&session),
    );
    assert_eq!(page.status, 200);
    let t = page.text();
    assert!(
        !t.contains(r#"value="pfx""#),
        "no PFX for a non-exportable key"
    );
    let csrf = csrf_of(&t);
    let path = format!("/certificates/{CLIENT_RSA_SHA1}/export");
    let r = post_form(
        s.addr,
        &path,
        &session,
        &[("csrf", &csrf), ("format", "pem"), ("include_chain", "on")],
    );
    assert_eq!(r.status, 200);
    let pem = r.text();
    assert_eq!(
        pem.matches("BEGIN CERTIFICATE").count(),
        3,
        "leaf, intermediate, root"
    );
    assert!(!pem.contains("PRIVATE KEY"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"Client_RSA.pem\"")
    );
    // PFX refused for it even when asked for directly.
    let r = post_form(
        s.addr,
        &path,
        &session,
        &[
            ("csrf", &csrf),
            ("format", "pfx"),
            ("pfx_password", "abc12345"),
            ("pfx_password2", "abc12345"),
        ],
    );
    assert_eq!(r.status, 303);
    let back = get(
        s.addr,
        &format!("/certificates/{CLIENT_RSA_SHA1}"),
        Some(&session),
    )
    .text();
    assert!(back.contains("not imported as exportable"), "{back}");
    assert!(!back.contains("abc12345"));

    // The exportable one: PFX with matching passwords, opened again with the library.
    let path = format!("/certificates/{CLIENT_P256_SHA1}/export");
    let r = post_form(
        s.addr,
        &path,
        &session,
        &[
            ("csrf", &csrf),
            ("format", "pfx"),
            ("pfx_password", "one"),
            ("pfx_password2", "two"),
        ],
    );
    assert_eq!(r.status, 303);
    let r = post_form(
        s.addr,
        &path,
        &session,
        &[
            ("csrf", &csrf),
            ("format", "pfx"),
            ("pfx_password", "export-pass-1"),
            ("pfx_password2", "export-pass-1"),
        ],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-pkcs12"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"p256_export_test.pfx\"")
    );
    let b = mailcert_store::parse_bundle(
        mailcert_store::Input {
            path: std::path::Path::new("x.pfx"),
            bytes: &r.body,
        },
        None,
        Some("export-pass-1"),
    )
    .unwrap();
    assert!(b.key.is_some());
    let r = post_form(
        s.addr,
        &path,
        &session,
        &[("csrf", &csrf), ("format", "der")],
    );
    assert_eq!(r.header("content-type"), Some("application/pkix-cert"));
}

#[test]
fn rename_move_and_remove_with_confirmation() {
    let f = farm_with_certs();
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let csrf = csrf_of(&get(s.addr, "/settings/farm", Some(&session)).text());
    post_form(
        s.addr,
        "/settings/farm",
        &session,
        &settings_form(&csrf, "starttls", CLIENT_RSA_SHA1),
    );
    let base = format!("/certificates/{CLIENT_RSA_SHA1}");
    let r = post_form(
        s.addr,
        &format!("{base}/rename"),
        &session,
        &[("csrf", &csrf), ("name", "relay-2026")],
    );
    assert_eq!(r.status, 303);
    let t = get(s.addr, &base, Some(&session)).text();
    assert!(t.contains("Renamed to “relay-2026”."));
    // Moving a bound certificate out of End Entity needs force.
    let r = post_form(
        s.addr,
        &format!("{base}/move"),
        &session,
        &[("csrf", &csrf), ("to", "pending")],
    );
    assert_eq!(r.status, 303);
    let t = get(s.addr, &base, Some(&session)).text();
    assert!(t.contains("is bound to farm"), "{t}");
    assert_eq!(
        f.farm()
            .read(|tx| tx.by_sha1(CLIENT_RSA_SHA1))
            .unwrap()
            .unwrap()
            .store,
        StoreName::EndEntity
    );
    // The removal page names the binding that will be cleared.
    let confirm = get(s.addr, &format!("{base}/remove"), Some(&session)).text();
    assert!(
        confirm.contains(r#"<ul id="bindings"><li>farm</li></ul>"#),
        "{confirm}"
    );
    assert!(confirm.contains(r#"name="force" value="on""#));
    let r = post_form(
        s.addr,
        &format!("{base}/remove"),
        &session,
        &[("csrf", &csrf), ("force", "on")],
    );
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/certificates"));
    let t = get(s.addr, "/certificates", Some(&session)).text();
    assert!(t.contains("Removed relay-2026"));
    assert!(t.contains("Bindings cleared"));
    assert!(
        f.farm()
            .read(|tx| tx.by_sha1(CLIENT_RSA_SHA1))
            .unwrap()
            .is_none()
    );
    let e = mailcert_binding::effective(&mut f.farm(), &Target::Farm, now()).unwrap();
    assert_eq!(e.settings.certificate, None);
    assert_eq!(get(s.addr, &base, Some(&session)).status, 404);
    assert_eq!(
        get(s.addr, "/certificates/nothex", Some(&session)).status,
        404
    );
}

#[test]
fn refuses_to_listen_beyond_loopback_without_tls() {
    let f = TestFarm::with_password();
    let mut cfg = f.config();
    cfg.listen = "0.0.0.0:0".parse().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let e = rt.block_on(mailcert_admin::bind(cfg)).unwrap_err();
    assert!(matches!(e, AdminError::TlsRequired { .. }), "{e}");
    assert!(e.to_string().contains("without TLS"));
    // A missing farm is reported at start-up.
    let mut cfg = f.config();
    cfg.db_path = f.dir.path().join("missing.db").into();
    let e = rt.block_on(mailcert_admin::bind(cfg)).unwrap_err();
    assert!(e.to_string().contains("mailcert init"), "{e}");
}

/// A client of the test CA for `localhost`.
fn tls_client(
    addr: std::net::SocketAddr,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    use rustls_pki_types::pem::PemObject;
    roots
        .add(rustls_pki_types::CertificateDer::from_pem_file(fixture("root-ca.pem")).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let conn = rustls::ClientConnection::new(
        Arc::new(config),
        rustls_pki_types::ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

fn https_get(addr: std::net::SocketAddr, path: &str) -> Resp {
    let mut tls = tls_client(addr);
    exchange(
        &mut tls,
        &format!("localhost:{}", addr.port()),
        "GET",
        path,
        &[],
        b"",
    )
}

fn check_https(s: &Server) {
    let r = https_get(s.addr, "/signin");
    assert_eq!(r.status, 200, "{}", r.text());
    let c = r.header("set-cookie").unwrap();
    assert!(
        c.starts_with(&format!("__Host-mailcert_session_{}=", s.addr.port())),
        "{c}"
    );
    assert!(c.contains("; Secure") && c.contains("HttpOnly") && c.contains("SameSite=Strict"));
    assert!(r.header("strict-transport-security").is_some());
    let r = https_get(s.addr, "/certificates");
    assert_eq!(r.status, 303);
}

/// The localhost certificate with its intermediate, as PEM files.
fn pem_files(f: &TestFarm) -> TlsSource {
    let chain = f.dir.path().join("server-chain.pem");
    let mut pem = std::fs::read(fixture("localhost-server.pem")).unwrap();
    pem.extend(std::fs::read(fixture("intermediate-ca.pem")).unwrap());
    std::fs::write(&chain, pem).unwrap();
    TlsSource::Files {
        cert: chain,
        key: fixture("localhost-server.key"),
    }
}

#[test]
fn https_from_pem_files() {
    let f = TestFarm::with_password();
    let mut cfg = f.config();
    cfg.tls = Some(pem_files(&f));
    let s = Server::start(cfg);
    check_https(&s);
    // Plain HTTP gets no page.
    let mut tcp = TcpStream::connect(s.addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(15)))
        .unwrap();
    tcp.write_all(b"GET /signin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let _ = std::io::Read::read_to_end(&mut tcp, &mut buf);
    assert!(!String::from_utf8_lossy(&buf).contains("Administrator password"));
}

#[test]
fn https_from_a_farm_certificate() {
    let f = TestFarm::with_password();
    f.import("intermediate-ca.pem", None, None, ImportOptions::default());
    f.import(
        "localhost-server.pem",
        Some("localhost-server.key"),
        None,
        ImportOptions {
            friendly_name: Some("admin-https".into()),
            ..ImportOptions::default()
        },
    );
    let mut cfg = f.config();
    cfg.tls = Some(TlsSource::Farm {
        reference: "name:admin-https".into(),
    });
    let s = Server::start(cfg);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    check_https(&s);

    // A client certificate (no serverAuth) is accepted with a warning; one without a
    // key is refused.
    f.import(
        "client-p256.pem",
        Some("client-p256.key"),
        None,
        ImportOptions::default(),
    );
    let mut cfg = f.config();
    cfg.tls = Some(TlsSource::Farm {
        reference: CLIENT_P256_SHA1.into(),
    });
    let s = Server::start(cfg);
    assert!(
        s.warnings
            .iter()
            .any(|w| w.starts_with("HTTPS: ") && w.contains("Server Authentication")),
        "{:?}",
        s.warnings
    );
    drop(s);
    let mut cfg = f.config();
    cfg.tls = Some(TlsSource::Farm {
        reference: "22E844615EB28DC7".into(),
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let e = rt.block_on(mailcert_admin::bind(cfg)).unwrap_err();
    assert!(matches!(e, AdminError::Tls(_)), "{e:?}");
    assert!(e.to_string().contains("Intermediate store"), "{e}");
    assert!(
        e.to_string()
            .starts_with("TLS certificate for Central Administration: "),
        "{e}"
    );
    // A certificate without its private key in the farm is refused too.
    f.import(
        "client-rsa.pem",
        None,
        None,
        ImportOptions {
            friendly_name: Some("no key".into()),
            ..ImportOptions::default()
        },
    );
    let mut cfg = f.config();
    cfg.tls = Some(TlsSource::Farm {
        reference: "name:no key".into(),
    });
    let e = rt.block_on(mailcert_admin::bind(cfg)).unwrap_err();
    assert!(e.to_string().contains("holds no private key"), "{e}");
    // An unknown reference is the store's own error.
    let mut cfg = f.config();
    cfg.tls = Some(TlsSource::Farm {
        reference: "name:nothing-by-this-name".into(),
    });
    let e = rt.block_on(mailcert_admin::bind(cfg)).unwrap_err();
    assert!(matches!(e, AdminError::Store(_)), "{e:?}");
    assert_eq!(e.kind(), mailcert_store::ErrorKind::NotFound, "{e}");
}

#[test]
fn switch_moves_the_bindings_to_an_eligible_certificate() {
    let f = farm_with_certs();
    f.import(
        "client-p256.pem",
        Some("client-p256.key"),
        None,
        ImportOptions::default(),
    );
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let csrf = csrf_of(&get(s.addr, "/settings/farm", Some(&session)).text());
    post_form(
        s.addr,
        "/settings/farm",
        &session,
        &settings_form(&csrf, "starttls", CLIENT_RSA_SHA1),
    );
    let base = format!("/certificates/{CLIENT_RSA_SHA1}");
    let page = get(s.addr, &base, Some(&session)).text();
    // Only eligible End Entity certificates are offered.
    assert!(
        page.contains(&format!(r#"<option value="{CLIENT_P256_SHA1}">"#)),
        "{page}"
    );
    assert!(!page.contains(&format!(r#"<option value="{SERVER_ONLY_SHA1}">"#)));
    // An ineligible target is refused by the store's rule.
    let r = post_form(
        s.addr,
        &format!("{base}/switch"),
        &session,
        &[("csrf", &csrf), ("to", SERVER_ONLY_SHA1)],
    );
    assert_eq!(r.status, 303);
    assert!(
        get(s.addr, &base, Some(&session))
            .text()
            .contains("not eligible")
    );
    let r = post_form(
        s.addr,
        &format!("{base}/switch"),
        &session,
        &[("csrf", &csrf), ("to", CLIENT_P256_SHA1)],
    );
    assert_eq!(r.status, 303);
    assert!(
        get(s.addr, &base, Some(&session))
            .text()
            .contains("Moved 1 binding(s)")
    );
    let e = mailcert_binding::effective(&mut f.farm(), &Target::Farm, now()).unwrap();
    assert_eq!(e.settings.certificate.as_deref(), Some(CLIENT_P256_SHA1));
}

/// Issue #8 (hardening, web page): a client that sends nothing, drips its request
/// headers a byte at a time or leaves a kept-alive connection idle loses the connection
/// after the header-read timeout, and the server goes on serving everyone else.
#[test]
fn issue_8_slow_clients_lose_their_connection_after_the_header_timeout() {
    const TIMEOUT: Duration = Duration::from_secs(2);
    const PACE: Duration = Duration::from_millis(250);
    let limit = TIMEOUT + Duration::from_secs(10);
    let f = TestFarm::with_password();
    let mut cfg = f.config();
    cfg.header_read_timeout = TIMEOUT;
    let s = Server::start(cfg);
    let connect = || {
        let tcp = TcpStream::connect(s.addr).unwrap();
        tcp.set_read_timeout(Some(PACE)).unwrap();
        tcp
    };
    // Nothing at all.
    let silent = drip_until_closed(&mut connect(), std::iter::empty(), limit);
    assert!(silent.after >= TIMEOUT - PACE, "{silent:?}");
    assert!(silent.received.is_empty(), "{silent:?}");
    // One header byte every 250 ms: the deadline counts from the start of the headers,
    // not from the last byte.
    let drip = drip_until_closed(&mut connect(), endless_request(), limit);
    assert!(drip.after >= TIMEOUT - PACE, "{drip:?}");
    assert!(drip.sent >= 4, "{drip:?}");
    assert!(
        drip.received.is_empty(),
        "no page for a request never finished: {drip:?}"
    );
    // A kept-alive connection gets its answer, then is closed once idle that long.
    let mut idle = connect();
    idle.write_all(format!("GET /signin HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).as_bytes())
        .unwrap();
    let kept = drip_until_closed(&mut idle, std::iter::empty(), limit);
    assert!(kept.after >= TIMEOUT - PACE, "{kept:?}");
    let answer = String::from_utf8_lossy(&kept.received);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("Administrator password"), "{answer}");
    // Everyone else was served all along.
    assert_eq!(get(s.addr, "/signin", None).status, 200);
}

/// Issue #8: on the HTTPS listener a client that never completes the TLS handshake is
/// dropped after the handshake timeout, and one that completes it and then drips its
/// headers after the header-read timeout.
#[test]
fn issue_8_https_handshake_and_header_timeouts() {
    const HANDSHAKE: Duration = Duration::from_secs(1);
    const HEADERS: Duration = Duration::from_secs(2);
    const PACE: Duration = Duration::from_millis(250);
    let limit = HEADERS + Duration::from_secs(10);
    let f = TestFarm::with_password();
    let mut cfg = f.config();
    cfg.tls = Some(pem_files(&f));
    cfg.tls_handshake_timeout = HANDSHAKE;
    cfg.header_read_timeout = HEADERS;
    let s = Server::start(cfg);

    let mut tcp = TcpStream::connect(s.addr).unwrap();
    tcp.set_read_timeout(Some(PACE)).unwrap();
    let silent = drip_until_closed(&mut tcp, std::iter::empty(), limit);
    assert!(silent.after >= HANDSHAKE - PACE, "{silent:?}");
    assert!(
        silent.after < HEADERS + PACE,
        "the handshake limit applies: {silent:?}"
    );
    assert!(silent.received.is_empty(), "{silent:?}");

    let mut tls = tls_client(s.addr);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).unwrap();
    }
    tls.sock.set_read_timeout(Some(PACE)).unwrap();
    let drip = drip_until_closed(&mut tls, endless_request(), limit);
    assert!(drip.after >= HEADERS - PACE, "{drip:?}");
    assert!(drip.sent >= 4, "{drip:?}");
    assert!(drip.received.is_empty(), "{drip:?}");

    check_https(&s);
}

/// The anonymous session cookie and CSRF token of a fresh sign-in page.
fn sign_in_form(s: &Server) -> (String, String) {
    let page = get(s.addr, "/signin", None);
    assert_eq!(page.status, 200, "{}", page.text());
    (page.cookie_pair(), csrf_of(&page.text()))
}

/// How many wrong passwords were verified (each verification writes one audit line).
fn failed_sign_ins(f: &TestFarm) -> usize {
    f.farm()
        .read(|tx| tx.audit_since(0))
        .unwrap()
        .iter()
        .filter(|a| a.action == "admin sign-in failed")
        .count()
}

/// Issue #8: a burst of parallel wrong passwords is counted in full before any is
/// verified, so those past the limit (10 per address in 10 minutes) are refused without
/// running Argon2; a locked address does not lock out another (X-Forwarded-For is not
/// believed); and 50 failures from all addresses together stop everyone.
#[test]
fn issue_8_parallel_wrong_sign_ins_are_counted_before_any_is_verified() {
    const PER_ADDRESS: usize = 10;
    const GLOBAL: usize = 50;
    let f = TestFarm::with_password();
    let s = Server::start(f.config());
    let ip = |last: u8| std::net::IpAddr::from([127, 0, 0, last]);
    let sign_in_from = |from, cookie: &str, csrf: &str, password: &str, extra: &[(&str, &str)]| {
        post_form_from(
            from,
            s.addr,
            "/signin",
            cookie,
            &[("csrf", csrf), ("password", password), ("next", "/audit")],
            extra,
        )
    };
    let (anon, csrf) = sign_in_form(&s);
    let wrong = "not-the-password-1234";
    let burst = |addresses: &[u8], each: usize| -> Vec<u16> {
        let (anon, csrf, sign_in_from) = (&anon, &csrf, &sign_in_from);
        std::thread::scope(|sc| {
            let guesses: Vec<_> = addresses
                .iter()
                .flat_map(|last| std::iter::repeat_n(*last, each))
                .map(|last| sc.spawn(move || sign_in_from(ip(last), anon, csrf, wrong, &[]).status))
                .collect();
            guesses.into_iter().map(|g| g.join().unwrap()).collect()
        })
    };

    let statuses = burst(&[1], 50);
    let count = |code| statuses.iter().filter(|s| **s == code).count();
    assert_eq!(count(401), PER_ADDRESS, "{statuses:?}");
    assert_eq!(count(429), 50 - PER_ADDRESS, "{statuses:?}");
    assert_eq!(
        failed_sign_ins(&f),
        PER_ADDRESS,
        "only the admitted guesses were verified"
    );

    // The locked address is refused even with the right password, whatever it claims.
    for extra in [&[][..], &[("X-Forwarded-For", "127.0.0.3")][..]] {
        let r = sign_in_from(ip(1), &anon, &csrf, PASSWORD, extra);
        assert_eq!(r.status, 429, "{extra:?}");
        assert!(r.text().contains("from your address"), "{}", r.text());
        let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=600).contains(&retry), "{retry}");
    }
    // Another address signs in.
    let (other, other_csrf) = sign_in_form(&s);
    let r = sign_in_from(ip(2), &other, &other_csrf, PASSWORD, &[]);
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/audit"));
    assert_eq!(get(s.addr, "/audit", Some(&r.cookie_pair())).status, 200);
    assert_eq!(failed_sign_ins(&f), PER_ADDRESS);

    // Guessing spread over more addresses, each within its own limit, reaches the
    // global one; then everyone waits.
    let statuses = burst(&[2, 3, 4, 5], PER_ADDRESS);
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(failed_sign_ins(&f), GLOBAL);
    let (fresh, fresh_csrf) = sign_in_form(&s);
    let r = sign_in_from(ip(6), &fresh, &fresh_csrf, PASSWORD, &[]);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("paused for everyone"), "{}", r.text());
    assert_eq!(failed_sign_ins(&f), GLOBAL);
}

/// Issue #8: setting the administrator password while the server runs (as
/// `mailcert admin set-password` does, from another process) ends every session signed
/// in under the previous one, even a form posted with its valid CSRF token; the same
/// password set again counts as new (a new salt).
#[test]
fn issue_8_a_new_admin_password_ends_every_session() {
    const NEW_PASSWORD: &str = "a brand new administrator passphrase";
    let f = TestFarm::with_password();
    let s = Server::start(f.config());
    let one = sign_in(s.addr);
    let two = sign_in(s.addr);
    let page = get(s.addr, "/webapps", Some(&one));
    assert_eq!(page.status, 200);
    let csrf = csrf_of(&page.text());
    assert_eq!(get(s.addr, "/webapps", Some(&two)).status, 200);

    mailcert_admin::set_password(&mut f.farm(), NEW_PASSWORD, now()).unwrap();

    for old in [&one, &two] {
        let r = get(s.addr, "/webapps", Some(old));
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location"), Some("/signin?next=%2Fwebapps"));
        // The sign-in page then asks for the password (no redirect back and forth) and
        // starts a new anonymous session.
        let r = get(s.addr, "/signin?next=%2Fwebapps", Some(old));
        assert_eq!(r.status, 200);
        assert!(r.text().contains("Administrator password"), "{}", r.text());
        assert_ne!(&r.cookie_pair(), old);
    }
    let r = post_form(
        s.addr,
        "/webapps/add",
        &one,
        &[("csrf", &csrf), ("url", "https://after.example.test")],
    );
    assert_eq!(r.status, 403, "{}", r.text());

    let (_, r) = sign_in_with(s.addr, PASSWORD);
    assert_eq!(r.status, 401, "the old password is gone");
    let (_, r) = sign_in_with(s.addr, NEW_PASSWORD);
    assert_eq!(r.status, 303, "{}", r.text());
    let current = r.cookie_pair();
    let list = get(s.addr, "/webapps", Some(&current));
    assert_eq!(list.status, 200);
    assert!(
        !list.text().contains("after.example.test"),
        "the refused form changed nothing"
    );

    mailcert_admin::set_password(&mut f.farm(), NEW_PASSWORD, now()).unwrap();
    assert_eq!(get(s.addr, "/webapps", Some(&current)).status, 303);
}

/// Issue #8: browsers do not keep cookies apart by port, so two servers on 127.0.0.1
/// (two farms) must not share a cookie name: the name carries the port, each server
/// reads only its own cookie from a Cookie header that holds both, and signing out of
/// one leaves the other signed in.
#[test]
fn issue_8_the_session_cookie_is_named_after_the_port() {
    let (fa, fb) = (TestFarm::with_password(), TestFarm::with_password());
    let a = Server::start(fa.config());
    let b = Server::start(fb.config());
    assert_ne!(a.addr.port(), b.addr.port());
    let session_a = sign_in(a.addr);
    let session_b = sign_in(b.addr);
    for (s, session) in [(&a, &session_a), (&b, &session_b)] {
        let (name, value) = session.split_once('=').unwrap();
        assert_eq!(name, format!("mailcert_session_{}", s.addr.port()));
        assert_eq!(value.len(), 64);
    }
    // A's session under B's name is nothing to B.
    let (_, value_a) = session_a.split_once('=').unwrap();
    let a_as_b = format!("mailcert_session_{}={value_a}", b.addr.port());
    assert_eq!(get(b.addr, "/certificates", Some(&a_as_b)).status, 303);
    // The browser sends both cookies to both servers: each finds its own.
    for order in [
        format!("{session_a}; {session_b}"),
        format!("{session_b}; {session_a}"),
    ] {
        assert_eq!(get(a.addr, "/certificates", Some(&order)).status, 200);
        assert_eq!(get(b.addr, "/certificates", Some(&order)).status, 200);
    }
    // Signing out of B clears B's cookie only, and A's session goes on.
    let both = format!("{session_a}; {session_b}");
    let csrf = csrf_of(&get(b.addr, "/certificates", Some(&both)).text());
    let r = post_form(b.addr, "/signout", &both, &[("csrf", &csrf)]);
    assert_eq!(r.status, 303);
    let cleared = r.header("set-cookie").unwrap();
    assert!(
        cleared.starts_with(&format!("mailcert_session_{}=;", b.addr.port())),
        "{cleared}"
    );
    assert_eq!(get(b.addr, "/certificates", Some(&both)).status, 303);
    assert_eq!(get(a.addr, "/certificates", Some(&both)).status, 200);
}

/// A form POST with the CSRF token of the session.
fn post_csrf(s: &Server, path: &str, session: &str, csrf: &str) -> Resp {
    post_form(s.addr, path, session, &[("csrf", csrf)])
}

/// The page a 303 answer sends the browser to.
fn follow(s: &Server, r: &Resp, session: &str) -> String {
    assert_eq!(r.status, 303, "{}", r.text());
    get(s.addr, r.header("location").unwrap(), Some(session)).text()
}

/// Issue #9: the Queue page lists every message of this server's spool, oldest first,
/// with its state, settings, sender, recipients, size, attempts, next attempt, last reply
/// (escaped) and time; Retry makes a message due now (a failed one deferred again),
/// Delete asks first; "Retry all deferred" and "Delete all failed"; every POST needs the
/// session's CSRF token.
#[test]
fn issue_9_the_queue_page_lists_retries_and_deletes() {
    let f = TestFarm::with_password();
    let spool = f.dir.path().join("spool.db");
    let t0 = now();
    let queued_id = queue_one(
        &spool,
        spool_message(None, "app@example.org", &["first@example.org"]),
        t0 - 400,
    );
    let deferred = queue_one(
        &spool,
        spool_message(None, "app@example.org", &["a@example.org", "b@example.org"]),
        t0 - 300,
    );
    defer_one(
        &spool,
        &deferred,
        t0 + 1800,
        "451 4.7.1 <greylisted> try again later",
    );
    let failed = queue_one(
        &spool,
        spool_message(None, "app@example.org", &["nobody@example.org"]),
        t0 - 200,
    );
    fail_one(
        &spool,
        &failed,
        "550 5.1.1 <nobody@example.org>: no such user",
    );
    let hr = queue_one(
        &spool,
        spool_message(
            Some("https://hr.contoso.test"),
            "hr@example.org",
            &["boss@example.org"],
        ),
        t0 - 100,
    );
    defer_one(&spool, &hr, t0 + 7200, "421 4.3.2 busy");

    let mut cfg = f.config();
    cfg.spool = Some(spool.clone());
    let s = Server::start(cfg);
    let session = sign_in(s.addr);
    let page = get(s.addr, "/queue", Some(&session));
    assert_eq!(page.status, 200);
    let t = page.text();
    assert!(
        t.contains(r#"<a class="active" href="/queue" aria-current="page">Queue</a>"#),
        "{t}"
    );
    // Oldest first, each with its state.
    let at = |id: &str| t.find(&format!(r#"data-id="{id}""#)).unwrap();
    assert!(at(&queued_id) < at(&deferred) && at(&deferred) < at(&failed) && at(&failed) < at(&hr));
    for (id, state) in [
        (&queued_id, "queued"),
        (&deferred, "deferred"),
        (&failed, "failed"),
        (&hr, "deferred"),
    ] {
        assert!(
            t.contains(&format!(r#"data-id="{id}" data-state="{state}""#)),
            "{id} {state}"
        );
    }
    assert!(t.contains("1 queued") && t.contains("2 deferred") && t.contains("1 failed"));
    // The deferred message's row: settings, recipients, size, attempts, times, reply.
    let row = &t[at(&deferred)..at(&failed)];
    assert!(
        row.contains(r#"<a href="/settings/farm">Farm</a>"#),
        "{row}"
    );
    assert!(row.contains("a@example.org<br>b@example.org"), "{row}");
    let size = queued(&spool, &deferred).unwrap().size;
    assert!(row.contains(&format!("{size} B")), "{row}");
    assert!(row.contains("1 attempt<"), "attempts: {row}");
    assert!(row.contains("queued "), "{row}");
    assert!(
        row.contains("in 29 min") || row.contains("in 30 min"),
        "{row}"
    );
    assert!(
        row.contains("451 4.7.1 &lt;greylisted&gt; try again later"),
        "{row}"
    );
    assert!(!t.contains("<greylisted>"));
    assert!(
        row.contains(&format!(r#"action="/queue/{deferred}/retry""#)),
        "{row}"
    );
    assert!(
        row.contains(&format!(r#"href="/queue/{deferred}/delete""#)),
        "{row}"
    );
    let hr_row = &t[at(&hr)..];
    assert!(
        hr_row.contains(r#"href="/settings/webapp?url=https%3A%2F%2Fhr.contoso.test""#),
        "{hr_row}"
    );
    let failed_row = &t[at(&failed)..at(&hr)];
    assert!(failed_row.contains("never (failed)"), "{failed_row}");
    // A queued message is due anyway: Delete only.
    let queued_row = &t[at(&queued_id)..at(&deferred)];
    assert!(!queued_row.contains("/retry"), "{queued_row}");
    assert!(t.contains("Retry all deferred") && t.contains("Delete all failed…"));
    let csrf = csrf_of(&t);

    // Retry: due now, still deferred.
    let before = now();
    let r = post_csrf(&s, &format!("/queue/{deferred}/retry"), &session, &csrf);
    let after = now();
    assert_eq!(r.header("location"), Some("/queue"));
    let shown = follow(&s, &r, &session);
    assert!(
        shown.contains(&format!("Message {deferred} is due now.")),
        "{shown}"
    );
    let e = queued(&spool, &deferred).unwrap();
    assert!((before..=after).contains(&e.next_attempt), "{e:?}");
    assert_eq!(e.state, mailcert_relay::State::Deferred);
    assert_eq!(e.attempts, 1);
    // A failed message retried is deferred again, due now.
    let r = post_csrf(&s, &format!("/queue/{failed}/retry"), &session, &csrf);
    assert_eq!(r.status, 303);
    let e = queued(&spool, &failed).unwrap();
    assert_eq!(e.state, mailcert_relay::State::Deferred);
    assert!(e.next_attempt <= now());

    // Without the session's CSRF token nothing happens.
    let other = sign_in(s.addr);
    let other_csrf = csrf_of(&get(s.addr, "/queue", Some(&other)).text());
    for token in [None, Some(other_csrf.as_str())] {
        for path in [
            format!("/queue/{queued_id}/delete"),
            format!("/queue/{hr}/retry"),
            "/queue/retry-deferred".to_string(),
            "/queue/delete-failed".to_string(),
        ] {
            let pairs: Vec<(&str, &str)> = token.iter().map(|t| ("csrf", *t)).collect();
            let r = post_form(s.addr, &path, &session, &pairs);
            assert_eq!(r.status, 403, "{path} {token:?}");
        }
    }
    assert!(queued(&spool, &queued_id).is_some());
    assert_eq!(queued(&spool, &hr).unwrap().next_attempt, t0 + 7200);

    // Delete asks first, naming the message.
    let confirm = get(
        s.addr,
        &format!("/queue/{queued_id}/delete"),
        Some(&session),
    );
    assert_eq!(confirm.status, 200);
    let c = confirm.text();
    assert!(
        c.contains(&format!(r#"action="/queue/{queued_id}/delete""#)),
        "{c}"
    );
    assert!(c.contains("first@example.org") && c.contains("This cannot be undone."));
    assert!(
        queued(&spool, &queued_id).is_some(),
        "asking deletes nothing"
    );
    let r = post_csrf(&s, &format!("/queue/{queued_id}/delete"), &session, &csrf);
    let shown = follow(&s, &r, &session);
    assert!(
        shown.contains(&format!("Deleted message {queued_id} from the queue")),
        "{shown}"
    );
    assert!(!shown.contains(&format!(r#"data-id="{queued_id}""#)));
    assert!(queued(&spool, &queued_id).is_none());
    // Gone already: said so, for the confirmation as for the POST.
    let r = post_csrf(&s, &format!("/queue/{queued_id}/delete"), &session, &csrf);
    assert!(follow(&s, &r, &session).contains("is not in the queue"));
    let r = get(
        s.addr,
        &format!("/queue/{queued_id}/delete"),
        Some(&session),
    );
    assert!(follow(&s, &r, &session).contains("is not in the queue"));
    // Not a queue id at all.
    assert_eq!(
        get(s.addr, "/queue/not-an-id/delete", Some(&session)).status,
        404
    );
    assert_eq!(
        post_csrf(&s, "/queue/zz/retry", &session, &csrf).status,
        404
    );

    // Retry all deferred: the one still waiting is due now.
    let r = post_csrf(&s, "/queue/retry-deferred", &session, &csrf);
    let shown = follow(&s, &r, &session);
    assert!(
        shown.contains("1 deferred message(s) are due now."),
        "{shown}"
    );
    assert!(queued(&spool, &hr).unwrap().next_attempt <= now());
    let r = post_csrf(&s, "/queue/retry-deferred", &session, &csrf);
    assert!(follow(&s, &r, &session).contains("No deferred message was waiting"));

    // Delete all failed, after a confirmation listing them; the others stay.
    let r = get(s.addr, "/queue/delete-failed", Some(&session));
    assert!(follow(&s, &r, &session).contains("No message has failed"));
    fail_one(&spool, &failed, "554 5.7.1 refused for good");
    let confirm = get(s.addr, "/queue/delete-failed", Some(&session));
    assert_eq!(confirm.status, 200);
    let c = confirm.text();
    assert!(c.contains(&format!(r#"data-id="{failed}""#)), "{c}");
    assert!(c.contains("554 5.7.1 refused for good"));
    assert!(!c.contains(&format!(r#"data-id="{hr}""#)));
    let r = post_csrf(&s, "/queue/delete-failed", &session, &csrf);
    let shown = follow(&s, &r, &session);
    assert!(shown.contains("Deleted 1 failed message(s)"), "{shown}");
    assert!(queued(&spool, &failed).is_none());
    assert!(queued(&spool, &deferred).is_some() && queued(&spool, &hr).is_some());
}

/// Issue #9: a spool file that does not exist is an empty queue, and neither the page
/// nor its actions create it; a server without a spool says so.
#[test]
fn issue_9_a_missing_spool_is_an_empty_queue_and_is_never_created() {
    let f = TestFarm::with_password();
    let dir = f.dir.path().join("state");
    let spool = dir.join("spool.db");
    let mut cfg = f.config();
    cfg.spool = Some(spool.clone());
    let s = Server::start(cfg);
    let session = sign_in(s.addr);
    let page = get(s.addr, "/queue", Some(&session));
    assert_eq!(page.status, 200);
    let t = page.text();
    assert!(
        t.contains("The queue is empty.") && t.contains("not created yet"),
        "{t}"
    );
    assert!(t.contains("0 queued") && !t.contains("Retry all deferred"));
    let csrf = csrf_of(&t);
    let r = post_csrf(&s, "/queue/retry-deferred", &session, &csrf);
    assert!(follow(&s, &r, &session).contains("No deferred message was waiting"));
    let r = post_csrf(&s, "/queue/delete-failed", &session, &csrf);
    assert!(follow(&s, &r, &session).contains("nothing was deleted"));
    let r = post_csrf(&s, "/queue/0123456789ABCDEF/retry", &session, &csrf);
    assert!(follow(&s, &r, &session).contains("is not in the queue"));
    let r = get(s.addr, "/queue/0123456789ABCDEF/delete", Some(&session));
    assert!(follow(&s, &r, &session).contains("is not in the queue"));
    let settings = get(s.addr, "/settings/farm", Some(&session)).text();
    assert!(!settings.contains("queue-warning"));
    assert!(!dir.exists(), "nothing created");

    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let t = get(s.addr, "/queue", Some(&session)).text();
    assert!(t.contains("No queue is configured for this server."), "{t}");
    let csrf = csrf_of(&t);
    let r = post_csrf(&s, "/queue/retry-deferred", &session, &csrf);
    assert!(follow(&s, &r, &session).contains("No queue is configured"));
}

/// Issue #9: the Outgoing E-Mail Settings pages warn when mail sent with their settings
/// is deferred or failed, with the last reply and a link to the Queue page. The farm's
/// settings send for web applications without settings of their own too.
#[test]
fn issue_9_settings_pages_warn_of_deferred_and_failed_mail() {
    let f = farm_with_certs();
    let spool = f.dir.path().join("spool.db");
    let mut cfg = f.config();
    cfg.spool = Some(spool.clone());
    let s = Server::start(cfg);
    let session = sign_in(s.addr);
    let csrf = csrf_of(&get(s.addr, "/webapps", Some(&session)).text());
    let r = post_form(
        s.addr,
        "/settings/farm",
        &session,
        &settings_form(&csrf, "starttls", ""),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    for url in ["https://hr.contoso.test", "https://intranet.contoso.test"] {
        let r = post_form(
            s.addr,
            "/webapps/add",
            &session,
            &[("csrf", &csrf), ("url", url)],
        );
        assert_eq!(r.status, 303);
    }
    // HR has settings of its own; the intranet uses the farm's.
    let mut form = settings_form(&csrf, "starttls", "");
    form.retain(|(k, _)| *k != "smtp_server");
    form.extend([
        ("url", "https://hr.contoso.test"),
        ("smtp_server", "hr-relay.example.org"),
    ]);
    assert_eq!(
        post_form(s.addr, "/settings/webapp", &session, &form).status,
        303
    );
    let farm_href = "/settings/farm";
    let hr_href = "/settings/webapp?url=https%3A%2F%2Fhr.contoso.test";
    let intranet_href = "/settings/webapp?url=https%3A%2F%2Fintranet.contoso.test";
    let warning = |href: &str| {
        let t = get(s.addr, href, Some(&session)).text();
        t.find(r#"id="queue-warning""#).map(|at| {
            let start = t[..at].rfind("<div").unwrap();
            let end = at + t[at..].find("</div>").unwrap();
            t[start..end].to_string()
        })
    };
    // Only queued mail: nothing to warn of.
    let t0 = now();
    let fresh = queue_one(
        &spool,
        spool_message(None, "app@example.org", &["x@example.org"]),
        t0,
    );
    assert_eq!(warning(farm_href), None);

    let farm_msg = queue_one(
        &spool,
        spool_message(None, "app@example.org", &["y@example.org"]),
        t0 - 300,
    );
    defer_one(&spool, &farm_msg, t0 + 600, "451 farm relay says later");
    let intranet_msg = queue_one(
        &spool,
        spool_message(
            Some("https://intranet.contoso.test"),
            "intranet@example.org",
            &["z@example.org"],
        ),
        t0 - 100,
    );
    defer_one(&spool, &intranet_msg, t0 + 600, "421 4.3.2 <busy> intranet");
    let hr_msg = queue_one(
        &spool,
        spool_message(
            Some("https://hr.contoso.test"),
            "hr@example.org",
            &["w@example.org"],
        ),
        t0 - 200,
    );
    fail_one(&spool, &hr_msg, "550 5.7.1 hr refused");

    let w = warning(farm_href).expect("a warning on the farm's page");
    assert!(w.contains(r#"class="flash warn""#), "{w}");
    assert!(w.contains("2 deferred, 0 failed"), "{w}");
    assert!(
        w.contains("Last reply: <span class=\"mono\">421 4.3.2 &lt;busy&gt; intranet</span>"),
        "{w}"
    );
    assert!(
        w.contains(r#"<a href="/queue">Open the Queue page</a>"#),
        "{w}"
    );
    let w = warning(hr_href).expect("a warning on HR's page");
    assert!(w.contains(r#"class="flash error""#), "{w}");
    assert!(
        w.contains("0 deferred, 1 failed") && w.contains("550 5.7.1 hr refused"),
        "{w}"
    );
    let w = warning(intranet_href).expect("a warning on the intranet's page");
    assert!(
        w.contains("1 deferred, 0 failed") && w.contains("intranet"),
        "{w}"
    );
    // Also on the page shown again after a refused save.
    let mut bad = settings_form(&csrf, "starttls", "");
    bad.retain(|(k, _)| *k != "from_address");
    bad.push(("from_address", "not an address"));
    let r = post_form(s.addr, "/settings/farm", &session, &bad);
    assert_eq!(r.status, 422);
    assert!(r.text().contains(r#"id="queue-warning""#));

    // Delivered or deleted: the warnings go.
    let mut sp = mailcert_relay::Spool::open(&spool).unwrap();
    sp.delete(&[farm_msg, intranet_msg, hr_msg]).unwrap();
    for href in [farm_href, hr_href, intranet_href] {
        assert_eq!(warning(href), None, "{href}");
    }
    assert!(queued(&spool, &fresh).is_some());
}

/// Issue #10: request, CSR download, remove with confirmation, renew, certificate
/// settings with their rules, contacts, and the health banner and page.
#[test]
fn certificate_lifecycle_pages() {
    let f = farm_with_certs();
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let page = get(s.addr, "/certificates/request", Some(&session));
    assert_eq!(page.status, 200);
    let csrf = csrf_of(&page.text());

    // A request: the key sealed in the farm, the CSR on its page and as a download.
    let r = post_form(
        s.addr,
        "/certificates/request",
        &session,
        &[
            ("csrf", &csrf),
            ("common_name", "web-client.contoso.test"),
            ("alternative_names", "mx.contoso.test\n192.0.2.9"),
            ("country", "nl"),
            ("key_algorithm", "ecc"),
            ("key_size", "2048"),
            ("elliptic_curve", "p384"),
            ("hash", "sha256"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let to = r.header("location").unwrap().to_string();
    let requests = mailcert_store::requests(&mut f.farm()).unwrap();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(to, format!("/certificates/requests/{}", req.key_id));
    assert_eq!(req.key_type, "ECDSA P-384");
    assert_eq!(
        req.alternative_names,
        [
            "DNS:web-client.contoso.test",
            "DNS:mx.contoso.test",
            "IP:192.0.2.9"
        ]
    );
    assert!(req.subject.contains("C=NL"), "{}", req.subject);
    let shown = get(s.addr, &to, Some(&session)).text();
    assert!(shown.contains("Request created for"), "{shown}");
    assert!(shown.contains("-----BEGIN CERTIFICATE REQUEST-----"));
    let csr = get(s.addr, &format!("{to}/csr"), Some(&session));
    assert_eq!(csr.status, 200);
    assert_eq!(csr.header("content-type"), Some("application/pkcs10"));
    assert_eq!(
        csr.header("content-disposition"),
        Some("attachment; filename=\"web-client.contoso.test.csr\"")
    );
    assert_eq!(csr.text(), req.csr_pem);
    // Not signed in: no CSR.
    assert_eq!(get(s.addr, &format!("{to}/csr"), None).status, 303);

    // A bad request is refused with the rule, and nothing is stored.
    let r = post_form(
        s.addr,
        "/certificates/request",
        &session,
        &[
            ("csrf", &csrf),
            ("common_name", "x"),
            ("country", "Holland"),
        ],
    );
    assert_eq!(r.status, 303);
    let back = get(s.addr, "/certificates/request", Some(&session)).text();
    assert!(back.contains("No request was made"), "{back}");
    assert!(back.contains("two-letter"), "{back}");
    assert_eq!(mailcert_store::requests(&mut f.farm()).unwrap().len(), 1);

    // Remove asks first, then removes the request and its key.
    let confirm = get(s.addr, &format!("{to}/remove"), Some(&session));
    assert!(confirm.text().contains("delete its private key"));
    let r = post_form(
        s.addr,
        &format!("{to}/remove"),
        &session,
        &[("csrf", &csrf)],
    );
    assert_eq!(r.status, 303);
    assert!(mailcert_store::requests(&mut f.farm()).unwrap().is_empty());
    assert_eq!(get(s.addr, &to, Some(&session)).status, 404);

    // Renew from a certificate's page.
    let cert_page = get(
        s.addr,
        &format!("/certificates/{CLIENT_RSA_SHA1}"),
        Some(&session),
    )
    .text();
    assert!(cert_page.contains(&format!("/certificates/{CLIENT_RSA_SHA1}/renew")));
    let r = post_form(
        s.addr,
        &format!("/certificates/{CLIENT_RSA_SHA1}/renew"),
        &session,
        &[("csrf", &csrf), ("same_key", "on")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let renewal = &mailcert_store::requests(&mut f.farm()).unwrap()[0];
    assert_eq!(renewal.renews.as_deref(), Some(CLIENT_RSA_SHA1));
    assert_eq!(renewal.key_type, "RSA 2048");
    let again = get(
        s.addr,
        &format!("/certificates/{CLIENT_RSA_SHA1}"),
        Some(&session),
    )
    .text();
    assert!(again.contains("A renewal is pending"), "{again}");

    // Settings: saved with the changes listed; attention below warning is refused.
    let settings = get(s.addr, "/settings/certificates", Some(&session));
    assert_eq!(settings.status, 200);
    let form = |attention: &'static str| {
        vec![
            ("csrf", csrf.as_str()),
            ("attention_days", attention),
            ("warning_days", "20"),
            ("error_days", "10"),
            ("key_algorithm", "ecc"),
            ("key_size", "3072"),
            ("elliptic_curve", "p384"),
            ("hash", "sha384"),
            ("organization", "Contoso"),
            ("organizational_unit", ""),
            ("locality", ""),
            ("state", ""),
            ("country", "de"),
        ]
    };
    let r = post_form(s.addr, "/settings/certificates", &session, &form("10"));
    assert_eq!(r.status, 303);
    let t = get(s.addr, "/settings/certificates", Some(&session)).text();
    assert!(t.contains("below the warning threshold"), "{t}");
    assert_eq!(
        mailcert_store::certificate_settings(&mut f.farm()).unwrap(),
        mailcert_store::CertificateSettings::default()
    );
    let r = post_form(s.addr, "/settings/certificates", &session, &form("90"));
    assert_eq!(r.status, 303);
    let t = get(s.addr, "/settings/certificates", Some(&session)).text();
    assert!(t.contains("Certificate settings saved."), "{t}");
    assert!(
        t.contains("attention-days: &quot;60&quot; -&gt; &quot;90&quot;"),
        "{t}"
    );
    let saved = mailcert_store::certificate_settings(&mut f.farm()).unwrap();
    assert_eq!(
        (saved.attention_days, saved.warning_days, saved.error_days),
        (90, 20, 10)
    );
    assert_eq!(saved.country.as_deref(), Some("DE"));
    assert_eq!(saved.organizational_unit, None);

    // Health: bound with no contacts shows the banner on every page; a contact clears it.
    let mut farm = f.farm();
    mailcert_binding::set(
        &mut farm,
        &Target::Farm,
        mailcert_binding::SettingsChange {
            smtp_server: Some("relay.example.org".into()),
            from_address: Some("sp@example.org".into()),
            certificate: Some(Some(CLIENT_RSA_SHA1.into())),
            ..Default::default()
        },
        now(),
    )
    .unwrap();
    for path in ["/certificates", "/webapps", "/audit", "/settings/farm"] {
        let t = get(s.addr, path, Some(&session)).text();
        assert!(t.contains(r#"id="health-banner""#), "{path}: {t}");
        assert!(t.contains("nobody is notified"), "{path}");
    }
    let health = get(s.addr, "/health", Some(&session)).text();
    assert!(health.contains(r#"id="health-findings""#), "{health}");
    assert!(health.contains("no-contacts"));
    let r = post_form(
        s.addr,
        "/settings/certificates/contacts/add",
        &session,
        &[("csrf", &csrf), ("address", "not an address")],
    );
    assert_eq!(r.status, 303);
    assert!(mailcert_store::contacts(&mut f.farm()).unwrap().is_empty());
    let r = post_form(
        s.addr,
        "/settings/certificates/contacts/add",
        &session,
        &[("csrf", &csrf), ("address", "PKI <pki@example.org>")],
    );
    assert_eq!(r.status, 303);
    assert_eq!(
        mailcert_store::contacts(&mut f.farm()).unwrap(),
        ["pki@example.org"]
    );
    let t = get(s.addr, "/certificates", Some(&session)).text();
    assert!(!t.contains(r#"id="health-banner""#), "healthy: {t}");
    assert!(
        get(s.addr, "/health", Some(&session))
            .text()
            .contains("Healthy: no rule fired.")
    );
    let r = post_form(
        s.addr,
        "/settings/certificates/contacts/remove",
        &session,
        &[("csrf", &csrf), ("address", "pki@example.org")],
    );
    assert_eq!(r.status, 303);
    assert!(mailcert_store::contacts(&mut f.farm()).unwrap().is_empty());
    // Without the CSRF token nothing changes.
    let r = post_form(
        s.addr,
        "/settings/certificates/contacts/add",
        &session,
        &[("address", "evil@example.org")],
    );
    assert_eq!(r.status, 403);
    assert!(mailcert_store::contacts(&mut f.farm()).unwrap().is_empty());
}

/// Issue #13: a failed "Test connection" names the relay's host and port, as the CLI
/// does (`127.0.0.1:PORT: …`). The relay is a loopback port nobody listens on.
#[test]
fn issue_13_a_failed_connection_test_names_host_and_port() {
    let f = farm_with_certs();
    let mut cfg = f.config();
    cfg.tester = Some(Arc::new(mailcert_admin::SenderTester { timeout_secs: 5 }));
    let s = Server::start(cfg);
    let session = sign_in(s.addr);
    let csrf = csrf_of(&get(s.addr, "/settings/farm", Some(&session)).text());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let mut form = settings_form(&csrf, "none", "");
    form.retain(|(k, _)| !matches!(*k, "port" | "smtp_server"));
    form.extend([("smtp_server", "127.0.0.1"), ("port", port.as_str())]);
    let r = post_form(s.addr, "/settings/farm", &session, &form);
    assert_eq!(r.status, 303, "{}", r.text());
    let r = post_form(
        s.addr,
        "/settings/test",
        &session,
        &[("csrf", &csrf), ("target", "farm")],
    );
    let t = follow(&s, &r, &session);
    let needle = format!("Connection test failed: 127.0.0.1:{port}: ");
    assert!(t.contains(&needle), "{needle} in {t}");
}

/// Issue #13: a change made over HTTP is recorded in the audit trail with the client's
/// address, and the audit page shows it.
#[test]
fn issue_13_the_audit_trail_names_the_client_address() {
    let f = farm_with_certs();
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let csrf = csrf_of(&get(s.addr, "/webapps", Some(&session)).text());
    let r = post_form(
        s.addr,
        "/webapps/add",
        &session,
        &[("csrf", &csrf), ("url", "https://audit.contoso.test")],
    );
    assert_eq!(r.status, 303);
    let entries = f.farm().read(|tx| tx.audit_since(0)).unwrap();
    let add = entries
        .iter()
        .find(|e| e.action == "webapp add")
        .expect("the web application's addition is audited");
    assert!(
        add.actor
            .ends_with("(Central Administration, client 127.0.0.1)"),
        "{}",
        add.actor
    );
    let page = get(s.addr, "/audit", Some(&session)).text();
    assert!(
        page.contains("(Central Administration, client 127.0.0.1)"),
        "{page}"
    );
}

/// Issue #13: "Use the farm's settings" drops a web application's own settings,
/// credentials and binding only after a confirmation page; a POST without the
/// confirmation changes nothing.
#[test]
fn issue_13_using_the_farms_settings_is_confirmed() {
    let f = farm_with_certs();
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let csrf = csrf_of(&get(s.addr, "/webapps", Some(&session)).text());
    let r = post_form(
        s.addr,
        "/settings/farm",
        &session,
        &settings_form(&csrf, "starttls", ""),
    );
    assert_eq!(r.status, 303);
    let r = post_form(
        s.addr,
        "/webapps/add",
        &session,
        &[("csrf", &csrf), ("url", "https://hr.contoso.test")],
    );
    assert_eq!(r.status, 303);
    let mut form = settings_form(&csrf, "starttls", CLIENT_RSA_SHA1);
    form.retain(|(k, _)| !matches!(*k, "auth" | "smtp_user" | "smtp_password"));
    form.extend([
        ("url", "https://hr.contoso.test"),
        ("auth", "authenticated"),
        ("smtp_user", "svc-hr"),
        ("smtp_password", "s3cret-pass"),
    ]);
    let r = post_form(s.addr, "/settings/webapp", &session, &form);
    assert_eq!(r.status, 303, "{}", r.text());
    let target =
        Target::WebApp(mailcert_binding::WebAppUrl::parse("https://hr.contoso.test").unwrap());
    let own = || mailcert_binding::effective(&mut f.farm(), &target, now()).unwrap();
    let before = own();
    assert_eq!(before.source, mailcert_binding::Source::WebApplication);

    // The settings page links to the confirmation; no form posts from there.
    let href = "/settings/webapp?url=https%3A%2F%2Fhr.contoso.test";
    let page = get(s.addr, href, Some(&session)).text();
    assert!(
        page.contains(r#"href="/settings/webapp/clear?url=https%3A%2F%2Fhr.contoso.test""#),
        "{page}"
    );
    assert!(
        !page.contains(r#"action="/settings/webapp/clear""#),
        "{page}"
    );

    // The confirmation names what is dropped.
    let confirm = get(
        s.addr,
        "/settings/webapp/clear?url=https%3A%2F%2Fhr.contoso.test",
        Some(&session),
    );
    assert_eq!(confirm.status, 200);
    let t = confirm.text();
    assert!(t.contains(r#"name="confirm" value="yes""#), "{t}");
    assert!(t.contains("relay.example.org:25"), "{t}");
    assert!(t.contains("svc-hr"), "{t}");
    assert!(
        t.contains(CLIENT_RSA_SHA1) || t.contains("client-rsa.test"),
        "{t}"
    );
    assert!(!t.contains("s3cret-pass"), "{t}");

    // Without the confirmation: nothing changes, and the confirmation page is shown.
    for confirm in [None, Some(""), Some("no")] {
        let mut fields = vec![("csrf", csrf.as_str()), ("url", "https://hr.contoso.test")];
        if let Some(c) = confirm {
            fields.push(("confirm", c));
        }
        let r = post_form(s.addr, "/settings/webapp/clear", &session, &fields);
        assert_eq!(r.status, 303);
        assert_eq!(
            r.header("location"),
            Some("/settings/webapp/clear?url=https%3A%2F%2Fhr.contoso.test")
        );
        let after = own();
        assert_eq!(after.source, mailcert_binding::Source::WebApplication);
        assert_eq!(after.settings, before.settings);
    }
    let t = get(
        s.addr,
        "/settings/webapp/clear?url=https%3A%2F%2Fhr.contoso.test",
        Some(&session),
    )
    .text();
    assert!(t.contains("Nothing changed"), "{t}");

    // Confirmed: the farm's settings.
    let r = post_form(
        s.addr,
        "/settings/webapp/clear",
        &session,
        &[
            ("csrf", &csrf),
            ("url", "https://hr.contoso.test"),
            ("confirm", "yes"),
        ],
    );
    let t = follow(&s, &r, &session);
    assert!(
        t.contains("now uses the farm&#39;s outgoing e-mail settings")
            || t.contains("now uses the farm's outgoing e-mail settings"),
        "{t}"
    );
    assert_eq!(own().source, mailcert_binding::Source::Farm);
}

/// Issue #13: a certificate imported without its key gets it from its own page: a
/// wrong key is refused (still keyless), the right one is paired with it.
#[test]
fn issue_13_a_keyless_certificate_gets_its_key_from_its_page() {
    let f = TestFarm::with_password();
    f.import("client-p256.pem", None, None, ImportOptions::default());
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let href = format!("/certificates/{CLIENT_P256_SHA1}");
    let t = get(s.addr, &href, Some(&session)).text();
    assert!(t.contains("id=\"attach-key\""), "{t}");
    let action = format!("{href}/key");
    assert!(t.contains(&format!("action=\"{action}\"")), "{t}");
    let csrf = csrf_of(&t);
    let has_key = || {
        f.farm()
            .read(|tx| tx.resolve(CLIENT_P256_SHA1))
            .unwrap()
            .has_private_key
    };
    assert!(!has_key());

    // Another key: refused, nothing changes.
    let other = std::fs::read(fixture("other-p256.key")).unwrap();
    let r = post_multipart(
        s.addr,
        &action,
        &session,
        &[("csrf", &csrf)],
        &[("key_file", "other-p256.key", &other)],
    );
    let t = follow(&s, &r, &session);
    assert!(
        t.contains("other-p256.key: the private key was not added"),
        "{t}"
    );
    assert!(!has_key());
    // Without the CSRF token: refused.
    let key = std::fs::read(fixture("client-p256.key")).unwrap();
    let r = post_multipart(
        s.addr,
        &action,
        &session,
        &[],
        &[("key_file", "client-p256.key", &key)],
    );
    assert_eq!(r.status, 403);
    assert!(!has_key());

    // Its own key: paired; the form is gone and the certificate is eligible.
    let r = post_multipart(
        s.addr,
        &action,
        &session,
        &[("csrf", &csrf)],
        &[("key_file", "client-p256.key", &key)],
    );
    let t = follow(&s, &r, &session);
    assert!(t.contains("Private key added to"), "{t}");
    assert!(!t.contains("id=\"attach-key\""), "{t}");
    assert!(has_key());
    let c = f.farm().read(|tx| tx.resolve(CLIENT_P256_SHA1)).unwrap();
    assert!(!c.exportable);
    assert!(c.findings(now()).is_empty(), "{:?}", c.findings(now()));
}

/// The SHA-1 thumbprints of the certificate rows a list page shows, in order.
fn listed(page: &str) -> Vec<String> {
    page.split("<tr data-thumbprint=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

/// Issue #13: the Certificates page pages by 25 ("Showing X–Y of N", Previous/Next
/// keeping the filters), searches by name, subject or thumbprint (GET `q`, so without
/// JavaScript), and has an Import link at the top that jumps to the import form.
#[test]
fn issue_13_certificates_page_searches_and_pages() {
    let f = TestFarm::with_password();
    let fleet = f.import_generated("fleet", 28, false, Some("Fleet"));
    let odd = f.import_generated("oddball", 2, false, None);
    let s = Server::start(f.config());
    let session = sign_in(s.addr);

    let first = get(s.addr, "/certificates", Some(&session)).text();
    assert!(first.contains("Showing 1–25 of 30"), "{first}");
    assert_eq!(listed(&first).len(), 25);
    assert!(first.contains(r#"href="/certificates?page=2""#), "{first}");
    assert!(!first.contains("rel=\"prev\""), "{first}");
    // The Import link comes before the table and leads to the form.
    let import_link = first.find(r##"href="#import""##).expect("an Import link");
    assert!(import_link < first.find("id=\"certificates\"").unwrap());
    assert!(first.contains(r#"<h2 id="import">"#), "{first}");
    // The search box is a GET field of the filter form.
    assert!(
        first.contains(r#"form class="filters" id="search" method="get" action="/certificates""#),
        "{first}"
    );
    assert!(first.contains(r#"name="q""#), "{first}");

    let second = get(s.addr, "/certificates?page=2", Some(&session)).text();
    assert!(second.contains("Showing 26–30 of 30"), "{second}");
    let rest = listed(&second);
    assert_eq!(rest.len(), 5);
    let mut all = listed(&first);
    all.extend(rest);
    let mut expected: Vec<String> = fleet.iter().chain(&odd).cloned().collect();
    all.sort();
    expected.sort();
    assert_eq!(all, expected, "the two pages hold every certificate once");
    assert!(
        second.contains(r#"href="/certificates?page=1""#),
        "{second}"
    );
    assert!(!second.contains("rel=\"next\""), "{second}");
    // Past the end: the last page.
    let past = get(s.addr, "/certificates?page=99", Some(&session)).text();
    assert!(past.contains("Showing 26–30 of 30"), "{past}");
    let junk = get(s.addr, "/certificates?page=x", Some(&session)).text();
    assert!(junk.contains("Showing 1–25 of 30"), "{junk}");

    // Search by subject: two; by friendly name (any case): one; by thumbprint part.
    let t = get(s.addr, "/certificates?q=oddball", Some(&session)).text();
    assert!(t.contains("Showing 1–2 of 2"), "{t}");
    let mut got = listed(&t);
    got.sort();
    let mut want = odd.clone();
    want.sort();
    assert_eq!(got, want);
    assert!(t.contains(r#"value="oddball""#), "the search is kept: {t}");
    let t = get(s.addr, "/certificates?q=FLEET+17", Some(&session)).text();
    assert_eq!(listed(&t), [fleet[16].clone()], "{t}");
    let part = fleet[3][..12].to_ascii_lowercase();
    let t = get(s.addr, &format!("/certificates?q={part}"), Some(&session)).text();
    assert_eq!(listed(&t), [fleet[3].clone()], "{t}");
    let t = get(s.addr, "/certificates?q=nothing-like-this", Some(&session)).text();
    assert!(t.contains("No certificates match."), "{t}");
    // Paging keeps the search: 28 fleet certificates over two pages.
    let t = get(s.addr, "/certificates?q=fleet", Some(&session)).text();
    assert!(t.contains("Showing 1–25 of 28"), "{t}");
    assert!(
        t.contains(r#"href="/certificates?q=fleet&amp;page=2""#),
        "{t}"
    );
    let t = get(s.addr, "/certificates?q=fleet&page=2", Some(&session)).text();
    assert!(t.contains("Showing 26–28 of 28"), "{t}");
    assert_eq!(listed(&t).len(), 3);
}

/// Issue #13: with more than 10 eligible certificates the settings page offers a
/// search box with suggestions (a datalist of the drop-down's texts) that works without
/// script: what is typed is resolved on the server and decides over the drop-down.
#[test]
fn issue_13_many_certificates_get_a_search_box() {
    let f = farm_with_certs();
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    // One eligible certificate: the plain drop-down, in a full-width field.
    let t = get(s.addr, "/settings/farm", Some(&session)).text();
    assert!(!t.contains("certificate_find"), "{t}");
    assert!(t.contains(r#"class="field wide""#), "{t}");

    let fleet = f.import_generated("fleet", 11, true, Some("Fleet relay certificate"));
    let t = get(s.addr, "/settings/farm", Some(&session)).text();
    let csrf = csrf_of(&t);
    assert!(
        t.contains(r#"name="certificate_find" list="certificate-choices""#),
        "{t}"
    );
    let datalist = t
        .split(r#"<datalist id="certificate-choices">"#)
        .nth(1)
        .and_then(|rest| rest.split("</datalist>").next())
        .expect("a datalist");
    assert_eq!(datalist.matches("<option").count(), 12, "{datalist}");
    assert!(
        datalist.contains("fleet-7.test (Fleet relay certificate 7) [Expiration: 2044-01-01]"),
        "{datalist}"
    );
    // The plain drop-down is still there, with every eligible certificate.
    assert!(
        t.contains(&format!(r#"<option value="{}""#, fleet[10])),
        "{t}"
    );

    let save = |typed: &str, chosen: &str| {
        let mut form = settings_form(&csrf, "starttls", chosen);
        form.retain(|(k, _)| *k != "use_certificate");
        form.extend([("use_certificate", "yes"), ("certificate_find", typed)]);
        post_form(s.addr, "/settings/farm", &session, &form)
    };
    let bound = || {
        mailcert_binding::effective(&mut f.farm(), &Target::Farm, now())
            .ok()
            .and_then(|e| e.settings.certificate)
    };
    // Ambiguous or unknown: the error beside the field, the text kept, nothing saved.
    let r = save("fleet", "");
    assert_eq!(r.status, 422);
    let t = r.text();
    assert!(t.contains("matches 11 certificates"), "{t}");
    assert!(t.contains(r#"id="certificate_find" type="text" name="certificate_find" list="certificate-choices" value="fleet""#), "{t}");
    assert_eq!(save("no-such-relay", "").status, 422);
    assert_eq!(bound(), None);
    // A suggestion's text, exactly: that one, over the drop-down's choice.
    let r = save(
        "fleet-7.test (Fleet relay certificate 7) [Expiration: 2044-01-01]",
        CLIENT_RSA_SHA1,
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(bound().as_deref(), Some(fleet[6].as_str()));
    // Part of a name that only one has.
    assert_eq!(save("certificate 11", "").status, 303);
    assert_eq!(bound().as_deref(), Some(fleet[10].as_str()));
    // Empty: the drop-down decides.
    assert_eq!(save("", CLIENT_RSA_SHA1).status, 303);
    assert_eq!(bound().as_deref(), Some(CLIENT_RSA_SHA1));
}

/// One start tag of a page: its name and attributes (values unescaped enough for ids).
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
    closing: bool,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split(' ').any(|x| x == class))
    }
}

/// The tags of a page as maud writes them (attribute values in double quotes, with
/// `<`, `>` and `"` escaped inside).
fn tags(page: &str) -> Vec<Tag> {
    let mut out = Vec::new();
    for chunk in page.split('<').skip(1) {
        let Some(inner) = chunk.split('>').next() else {
            continue;
        };
        if inner.starts_with('!') {
            continue;
        }
        let closing = inner.starts_with('/');
        let inner = inner.trim_start_matches('/');
        let name_end = inner.find([' ', '/']).unwrap_or(inner.len());
        let name = inner[..name_end].to_ascii_lowercase();
        let mut attrs = Vec::new();
        let mut rest = &inner[name_end..];
        loop {
            rest = rest.trim_start_matches([' ', '/']);
            if rest.is_empty() {
                break;
            }
            let key_end = rest.find(['=', ' ']).unwrap_or(rest.len());
            let key = rest[..key_end].to_string();
            rest = &rest[key_end..];
            if let Some(after) = rest.strip_prefix("=\"") {
                let end = after.find('"').unwrap();
                attrs.push((key, after[..end].to_string()));
                rest = &after[end + 1..];
            } else {
                attrs.push((key, String::new()));
            }
        }
        out.push(Tag {
            name,
            attrs,
            closing,
        });
    }
    out
}

/// Why `page` fails issue #13's accessibility rules, if it does: the first focusable
/// element is the skip link to `<main id="main">`; in every field's control, each help
/// text and error has an id named by the `aria-describedby` of a control in it, every
/// control beside a help text or error has `aria-describedby`, and every id named
/// there exists.
fn accessibility_problems(page: &str) -> Vec<String> {
    let tags = tags(page);
    let mut problems = Vec::new();
    let ids: std::collections::HashSet<&str> = tags.iter().filter_map(|t| t.attr("id")).collect();
    let focusable = tags.iter().find(|t| {
        !t.closing
            && (matches!(t.name.as_str(), "a" | "button" | "select" | "textarea")
                || (t.name == "input" && t.attr("type") != Some("hidden")))
    });
    match focusable {
        Some(t) if t.name == "a" && t.attr("href") == Some("#main") && t.has_class("skip-link") => {
        }
        other => problems.push(format!(
            "the first focusable element is not the skip link: {:?}",
            other.map(|t| (&t.name, &t.attrs))
        )),
    }
    if !tags
        .iter()
        .any(|t| t.name == "main" && t.attr("id") == Some("main"))
    {
        problems.push("no <main id=\"main\">".into());
    }
    for t in &tags {
        if let Some(list) = t.attr("aria-describedby") {
            for id in list.split(' ') {
                if !ids.contains(id) {
                    problems.push(format!(
                        "aria-describedby names {id}, which is not in the page"
                    ));
                }
            }
        }
    }
    // The field controls, one at a time.
    let mut i = 0;
    while i < tags.len() {
        let t = &tags[i];
        if t.closing || t.name != "div" || !t.has_class("control") {
            i += 1;
            continue;
        }
        let mut depth = 0usize;
        let mut block = Vec::new();
        for u in &tags[i + 1..] {
            if u.name == "div" {
                if u.closing {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                } else {
                    depth += 1;
                }
            }
            if !u.closing {
                block.push(u);
            }
        }
        i += 1 + block.len();
        let notes: Vec<&&Tag> = block
            .iter()
            .filter(|u| u.has_class("help") || u.has_class("field-error"))
            .collect();
        if notes.is_empty() {
            continue;
        }
        let controls: Vec<&&Tag> = block
            .iter()
            .filter(|u| {
                matches!(u.name.as_str(), "select" | "textarea")
                    || u.attr("role") == Some("radiogroup")
                    || (u.name == "input"
                        && !matches!(u.attr("type"), Some("hidden" | "radio" | "checkbox")))
            })
            .collect();
        let named: Vec<&str> = controls
            .iter()
            .filter_map(|c| c.attr("aria-describedby"))
            .flat_map(|l| l.split(' '))
            .collect();
        for c in &controls {
            if c.attr("aria-describedby").is_none() {
                problems.push(format!(
                    "{} {:?} has a help text or error beside it but no aria-describedby",
                    c.name,
                    c.attr("id")
                ));
            }
        }
        for n in notes {
            match n.attr("id") {
                None => problems.push(format!("a help text or error without an id: {:?}", n.attrs)),
                Some(id) if !named.contains(&id) => {
                    problems.push(format!("{id} is not named by its field's aria-describedby"))
                }
                Some(_) => {}
            }
        }
    }
    problems
}

/// Issue #13: every page starts with a "Skip to main content" link to `<main
/// id="main">`, and every help text and field error is linked from its input with
/// aria-describedby (the settings page with errors too).
#[test]
fn issue_13_skip_link_and_described_fields_on_every_page() {
    let f = farm_with_certs();
    f.import("client-p256.pem", None, None, ImportOptions::default());
    f.import_generated("many", 11, true, None);
    let spool = f.dir.path().join("spool.db");
    let id = queue_one(
        &spool,
        spool_message(None, "a@example.org", &["b@example.org"]),
        now(),
    );
    let mut cfg = f.config();
    cfg.tester = fake_tester();
    cfg.spool = Some(spool);
    let s = Server::start(cfg);
    let check = |path: &str, page: &str| {
        let problems = accessibility_problems(page);
        assert!(problems.is_empty(), "{path}: {problems:#?}\n{page}");
    };
    check("/signin", &get(s.addr, "/signin", None).text());
    let session = sign_in(s.addr);
    let csrf = csrf_of(&get(s.addr, "/webapps", Some(&session)).text());
    post_form(
        s.addr,
        "/webapps/add",
        &session,
        &[("csrf", &csrf), ("url", "https://hr.contoso.test")],
    );
    let mut form = settings_form(&csrf, "starttls", "");
    form.push(("url", "https://hr.contoso.test"));
    assert_eq!(
        post_form(s.addr, "/settings/webapp", &session, &form).status,
        303
    );
    let keyless = format!("/certificates/{CLIENT_P256_SHA1}");
    let with_key = format!("/certificates/{CLIENT_RSA_SHA1}");
    let remove = format!("/certificates/{CLIENT_RSA_SHA1}/remove");
    let queued = format!("/queue/{id}/delete");
    for path in [
        "/certificates",
        "/certificates?q=many",
        keyless.as_str(),
        with_key.as_str(),
        remove.as_str(),
        "/certificates/request",
        "/settings/certificates",
        "/health",
        "/webapps",
        "/webapps/remove?url=https%3A%2F%2Fhr.contoso.test",
        "/settings/farm",
        "/settings/webapp?url=https%3A%2F%2Fhr.contoso.test",
        "/settings/webapp/clear?url=https%3A%2F%2Fhr.contoso.test",
        "/queue",
        queued.as_str(),
        "/audit",
        "/no-such-page",
    ] {
        let r = get(s.addr, path, Some(&session));
        assert!(matches!(r.status, 200 | 404), "{path}: {}", r.status);
        check(path, &r.text());
    }
    // Every field in error at once, on the settings page.
    let mut bad = settings_form(&csrf, "bogus", "");
    bad.retain(|(k, _)| !matches!(*k, "port" | "charset" | "auth" | "use_certificate"));
    bad.extend([
        ("port", "seventy"),
        ("charset", "klingon"),
        ("auth", "authenticated"),
        ("use_certificate", "yes"),
        ("certificate_find", "nothing-like-this"),
        ("from_address", "not an address"),
    ]);
    let r = post_form(s.addr, "/settings/farm", &session, &bad);
    assert_eq!(r.status, 422);
    let t = r.text();
    for id in ["port-error", "certificate-error", "credentials-error"] {
        assert!(t.contains(&format!("id=\"{id}\"")), "{id}: {t}");
    }
    check("/settings/farm with errors", &t);
    // The checker itself: a help text nobody names, and a missing skip link, are caught.
    let broken = t.replacen("aria-describedby=\"port-help port-error\"", "", 1);
    assert_ne!(broken, t);
    assert!(!accessibility_problems(&broken).is_empty());
    let no_skip = t.replacen("class=\"skip-link\"", "class=\"other\"", 1);
    assert!(!accessibility_problems(&no_skip).is_empty());
}

/// Issue #11: a server's own settings (`smtp set --server`) are shown under "Server
/// overrides", and the form keeps editing the settings every server uses, even on the
/// server that has its own.
#[test]
fn server_overrides_are_shown_and_the_form_edits_the_settings_for_every_server() {
    let f = farm_with_certs();
    let s = Server::start(f.config());
    let session = sign_in(s.addr);
    let csrf = csrf_of(&get(s.addr, "/settings/farm", Some(&session)).text());
    let r = post_form(
        s.addr,
        "/settings/farm",
        &session,
        &settings_form(&csrf, "starttls", CLIENT_RSA_SHA1),
    );
    assert_eq!(r.status, 303);
    // The page's own server (the host name by default) gets settings of its own.
    let me = mailcert_store::default_server_name();
    // Settings of its own need a server that joined the farm.
    f.farm().write(|tx| tx.register_server(&me, now())).unwrap();
    let change = mailcert_binding::SettingsChange {
        smtp_server: Some("own-relay.example.org".into()),
        server: Some(me.clone()),
        ..Default::default()
    };
    mailcert_binding::set(&mut f.farm(), &Target::Farm, change, now()).unwrap();
    let page = get(s.addr, "/settings/farm", Some(&session)).text();
    assert!(page.contains("Server overrides"), "{page}");
    assert!(page.contains(&me), "{page}");
    assert!(page.contains("own-relay.example.org:25"), "{page}");
    // The form shows the settings for every server, not the override.
    assert!(page.contains("value=\"relay.example.org\""), "{page}");
    // Saving the form changes the settings for every server and leaves the override.
    let mut form = settings_form(&csrf, "starttls", CLIENT_RSA_SHA1);
    form.retain(|(k, _)| *k != "helo");
    form.push(("helo", "farm.example.org"));
    assert_eq!(
        post_form(s.addr, "/settings/farm", &session, &form).status,
        303
    );
    let mut farm = f.farm();
    farm.without_server_settings();
    let every = mailcert_binding::effective(&mut farm, &Target::Farm, now()).unwrap();
    assert_eq!(every.settings.helo.as_deref(), Some("farm.example.org"));
    assert_eq!(every.settings.smtp_server, "relay.example.org");
    assert_eq!(every.server, None);
    let mut farm = f.farm();
    farm.set_server(me.clone());
    let own = mailcert_binding::effective(&mut farm, &Target::Farm, now()).unwrap();
    assert_eq!(own.settings.smtp_server, "own-relay.example.org");
    assert_eq!(own.server.as_deref(), Some(me.as_str()));
}
