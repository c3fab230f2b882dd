//! `mailcert demo`: the whole job in a throw-away farm against a loopback relay that
//! demands a client certificate and trusts only the demo root CA — so it works only
//! because mailcert sends the intermediate with the leaf.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use mailcert_binding::{Encryption, SettingsChange, Target, WebAppUrl};
use mailcert_store::{Farm, ImportOptions, Input};
use mailcert_testsmtp::{ClientAuth, Config, TestServer};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::Globals;
use crate::{context, exit};

const WEBAPP: &str = "https://demo.mailcert.test";

/// The demo PKI: root, intermediate, a client certificate and the relay's certificate.
struct DemoPki {
    client_bundle_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
    root_der: Vec<u8>,
}

fn ca_params(cn: &str, path_len: Option<u8>) -> Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name
        .push(DnType::OrganizationName, "mailcert demo");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(p)
}

fn make_pki() -> Result<DemoPki> {
    let root_key = KeyPair::generate()?;
    let root_params = ca_params("mailcert Demo Root CA", None)?;
    let root = root_params.self_signed(&root_key)?;
    let root_issuer = Issuer::new(root_params, root_key);

    let int_key = KeyPair::generate()?;
    let int_params = ca_params("mailcert Demo Intermediate CA", Some(0))?;
    let intermediate = int_params.signed_by(&int_key, &root_issuer)?;
    let int_issuer = Issuer::new(int_params, int_key);

    let client_key = KeyPair::generate()?;
    let mut p = CertificateParams::new(vec!["demo-client.mailcert.test".to_string()])?;
    p.distinguished_name
        .push(DnType::OrganizationName, "mailcert demo");
    p.distinguished_name
        .push(DnType::CommonName, "demo-client.mailcert.test");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let client = p.signed_by(&client_key, &int_issuer)?;

    let server_key = KeyPair::generate()?;
    let mut p = CertificateParams::new(vec!["localhost".to_string()])?;
    p.subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    p.distinguished_name.push(DnType::CommonName, "localhost");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let server = p.signed_by(&server_key, &int_issuer)?;

    Ok(DemoPki {
        client_bundle_pem: format!(
            "{}{}{}{}",
            client.pem(),
            intermediate.pem(),
            root.pem(),
            client_key.serialize_pem()
        ),
        server_chain: vec![server.der().clone(), intermediate.der().clone()],
        server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        root_der: root.der().to_vec(),
    })
}

fn step(g: &Globals, n: usize, text: &str) -> Result<()> {
    if !g.quiet && !g.json {
        outln!("\n[{n}] {text}");
    }
    Ok(())
}

fn say(g: &Globals, text: &str) -> Result<()> {
    if !g.quiet && !g.json {
        outln!("    {text}");
    }
    Ok(())
}

pub(crate) fn run(g: &Globals) -> Result<u8> {
    let dir = tempfile::Builder::new()
        .prefix("mailcert-demo-")
        .tempdir()
        .context("creating a temporary directory")?;
    let db = dir.path().join("farm.db");
    let key = Farm::default_key_path(&db);
    let now = context::now()?;

    step(g, 1, "A throw-away farm")?;
    Farm::init(&db, &key, "demo", now)?;
    let mut farm = Farm::open(&db, &key)?;
    say(
        g,
        &format!(
            "database {} and master key {} (both mode 0600)",
            db.display(),
            key.display()
        ),
    )?;

    step(
        g,
        2,
        "A demo CA (root -> intermediate) issues a client certificate and the relay's certificate",
    )?;
    let pki = make_pki()?;
    let bundle_path = dir.path().join("demo-client.pem");
    std::fs::write(&bundle_path, &pki.client_bundle_pem)?;
    say(
        g,
        "client: CN=demo-client.mailcert.test, EKU clientAuth, issued by the intermediate",
    )?;

    step(g, 3, "Import the client certificate with its chain and key")?;
    let bundle = mailcert_store::parse_bundle(
        Input {
            path: Path::new(&bundle_path),
            bytes: pki.client_bundle_pem.as_bytes(),
        },
        None,
        None,
    )?;
    let report = mailcert_store::import_bundle(
        &mut farm,
        &bundle_path,
        bundle,
        &ImportOptions {
            friendly_name: Some("demo client".into()),
            ..Default::default()
        },
        now,
    )?;
    let leaf = &report.leaf.record;
    let findings = leaf.findings(now);
    say(
        g,
        &format!(
            "{} [{}] {} -> {}",
            leaf.display_name(),
            leaf.store,
            leaf.facts.thumbprint_sha1,
            if findings.is_empty() {
                "eligible for client authentication".to_string()
            } else {
                format!("NOT eligible: {findings:?}")
            }
        ),
    )?;
    for c in &report.chain {
        say(
            g,
            &format!(
                "chain: {} -> {} store",
                c.record.display_name(),
                c.record.store
            ),
        )?;
    }

    step(
        g,
        4,
        "Start a loopback relay: STARTTLS, client certificate required, trusts ONLY the demo root",
    )?;
    let server = TestServer::start(
        Config::starttls(pki.server_chain.clone(), pki.server_key.clone_key())
            .hostname("relay.demo.mailcert.test")
            .client_auth(ClientAuth::Required(vec![CertificateDer::from(
                pki.root_der.clone(),
            )]))
            .require_tls(true),
    )
    .map_err(|e| anyhow!("starting the loopback relay: {e}"))?;
    say(g, &format!("listening on {}", server.addr()))?;

    step(
        g,
        5,
        "Bind the certificate to a web application's outgoing e-mail settings",
    )?;
    let url = WebAppUrl::parse(WEBAPP)?;
    mailcert_binding::add_webapp(&mut farm, &url, Some("Demo"), now)?;
    let target = Target::WebApp(url);
    let eff = mailcert_binding::set(
        &mut farm,
        &target,
        SettingsChange {
            smtp_server: Some("127.0.0.1".into()),
            port: Some(server.port()),
            encryption: Some(Encryption::StartTls),
            certificate: Some(Some("name:demo client".into())),
            from_address: Some("SharePoint Demo <sharepoint@demo.mailcert.test>".into()),
            reply_to: Some("helpdesk@demo.mailcert.test".into()),
            helo: Some("sp01.demo.mailcert.test".into()),
            ..Default::default()
        },
        now,
    )?;
    say(
        g,
        &format!(
            "{WEBAPP}: {}:{} {} with client certificate {}",
            eff.effective.settings.smtp_server,
            eff.effective.settings.port,
            eff.effective.settings.encryption,
            eff.effective.settings.certificate.as_deref().unwrap_or("-")
        ),
    )?;

    step(g, 6, "Send a message through those settings")?;
    let plan = mailcert_binding::plan(&mut farm, &target, now)?;
    let options = mailcert_sender::connect_options(&plan, Duration::from_secs(10))?;
    let msg = mailcert_sender::compose(
        &plan.effective.settings,
        &options.helo,
        &["ops@demo.mailcert.test".to_string()],
        "mailcert demo: hello from a client certificate",
        "This message was sent over STARTTLS, presenting a client certificate and its intermediate.\n",
    )?;
    let mut results = mailcert_sender::send_all(&options, std::slice::from_ref(&msg));
    let delivery = match results.pop() {
        Some(Ok(d)) => d,
        Some(Err(e)) => return Err(anyhow!("delivery failed at {}: {e}", e.step())),
        None => return Err(anyhow!("nothing was sent")),
    };
    say(g, &format!("relay answered: {}", delivery.reply))?;

    step(g, 7, "What the relay received")?;
    let got = server.wait_for_messages(1, Duration::from_secs(5));
    let m = got
        .first()
        .ok_or_else(|| anyhow!("the relay recorded no message"))?;
    let chain: Vec<String> = m
        .client_chain
        .iter()
        .filter_map(|d| {
            mailcert_sender::CertificateSummary::from_der(d)
                .map(|s| format!("{} (SHA-1 {})", s.subject, s.sha1))
        })
        .collect();
    let text = String::from_utf8_lossy(&m.data);
    let subject = text
        .lines()
        .find(|l| l.starts_with("Subject:"))
        .unwrap_or("Subject: ?");
    say(
        g,
        &format!(
            "envelope: MAIL FROM:<{}> RCPT TO:<{}>",
            m.mail_from,
            m.recipients.join(">, <")
        ),
    )?;
    say(g, &format!("over TLS: {}; {subject}", m.tls))?;
    say(
        g,
        &format!(
            "client certificate chain presented ({} certificates):",
            chain.len()
        ),
    )?;
    for c in &chain {
        say(g, &format!("  - {c}"))?;
    }
    let relayed = relay_step(g, &dir, &db, &key)?;
    let relayed_ok = server
        .wait_for_messages(2, Duration::from_secs(10))
        .iter()
        .any(|m| m.client_chain.len() == 2 && m.mail_from == "app@demo.mailcert.test");
    say(
        g,
        &format!(
            "mailcert relay answered the application: {relayed}; the upstream relay received it with the chain: {relayed_ok}"
        ),
    )?;
    let ok = chain.len() == 2 && m.tls && relayed_ok;
    if g.json {
        outln!(
            "{}",
            serde_json::json!({
                "ok": ok,
                "relay": server.addr().to_string(),
                "client_certificate": leaf.facts.thumbprint_sha1,
                "envelope_from": m.mail_from,
                "recipients": m.recipients,
                "tls": m.tls,
                "client_chain_seen": chain,
                "reply": delivery.reply.to_string(),
                "relay_reply": relayed,
                "relayed": relayed_ok,
            })
        );
    } else if !g.quiet {
        outln!(
            "\n{}",
            if ok {
                "Done: the relay verified the client certificate (leaf + intermediate against the root it trusts) and accepted both messages: the one sent directly and the one an application handed to mailcert relay."
            } else {
                "The message went through, but not as expected (see above)."
            }
        );
    }
    drop(server);
    Ok(if ok { exit::OK } else { exit::ERROR })
}

/// Step 8: `mailcert relay` in this process, an application's SMTP session into it, and
/// the spooled message delivered upstream with the client certificate. Returns the
/// relay's reply to DATA.
fn relay_step(
    g: &Globals,
    dir: &tempfile::TempDir,
    db: &std::path::Path,
    key: &std::path::Path,
) -> Result<String> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    step(
        g,
        8,
        "mailcert relay: an application speaks plain SMTP to it; it spools, then delivers with the certificate",
    )?;
    let mut config = mailcert_relay::RelayConfig::new(
        dir.path().join("spool.db"),
        db.to_path_buf(),
        key.to_path_buf(),
    );
    config.listen = vec![std::net::SocketAddr::from(([127, 0, 0, 1], 0))];
    config.target = Target::WebApp(WebAppUrl::parse(WEBAPP)?);
    config.connections = 1;
    let stopping = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let relay = {
        let stopping = stopping.clone();
        std::thread::spawn(move || {
            mailcert_relay::run(config, stopping, |bound| {
                let _ = tx.send(bound.first().copied());
            })
        })
    };
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .ok()
        .flatten()
        .ok_or_else(|| anyhow!("mailcert relay did not start"))?;
    say(g, &format!("mailcert relay listening on {addr}"))?;
    let mut options = mailcert_sender::ConnectOptions::new(addr.ip().to_string(), addr.port());
    options.security = mailcert_sender::Security::None;
    let mut app = mailcert_sender::Session::connect(&options)?;
    let reply = app
        .send(
            &mailcert_sender::Envelope::new("app@demo.mailcert.test", ["ops@demo.mailcert.test"]),
            b"From: app@demo.mailcert.test\r\nTo: ops@demo.mailcert.test\r\nSubject: via mailcert relay\r\n\r\nqueued, then delivered with the client certificate\r\n",
        )?
        .reply
        .to_string();
    app.quit()?;
    // Let the worker deliver, then stop the relay as SIGTERM would.
    let spool_path = dir.path().join("spool.db");
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < until {
        let left = mailcert_relay::Spool::open(&spool_path)
            .and_then(|mut s| s.list())
            .map(|l| l.len())
            .unwrap_or(1);
        if left == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    stopping.store(true, Ordering::SeqCst);
    relay
        .join()
        .map_err(|_| anyhow!("the relay thread panicked"))?
        .map_err(anyhow::Error::from)?;
    Ok(reply)
}
