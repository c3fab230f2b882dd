//! Client-certificate behaviour against a relay that trusts only the root CA: the
//! full chain gets in, a bare leaf or no certificate is refused, for every key type
//! and for TLS 1.2 and 1.3.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mailcert_sender::{Envelope, Security, SendError, Session};
use mailcert_testsmtp::{ClientAuth, TlsVersions};
use support::*;

fn deliver_with_chain(config: mailcert_testsmtp::Config, security: Security) {
    let server = start(requiring(config));
    let mut options = options(&server, security);
    let identity = identity("client-p256", true);
    let thumbprint = identity.thumbprint().to_owned();
    options.identity = Some(identity);

    let mut session = Session::connect(&options).unwrap();
    let report = session.report().clone();
    assert!(report.client_cert_requested);
    assert_eq!(
        report.client_cert_sent.as_deref(),
        Some(thumbprint.as_str())
    );
    assert!(
        report
            .client_cert_hints
            .iter()
            .any(|h| h.contains("mailcert Test Root CA")),
        "hints: {:?}",
        report.client_cert_hints
    );
    assert_eq!(report.tls_version.as_deref(), Some("TLSv1.3"));
    assert!(
        report
            .cipher_suite
            .as_deref()
            .unwrap()
            .starts_with("TLS13_")
    );
    let server_cert = report.server_certificate.unwrap();
    assert!(
        server_cert.subject.contains("CN=localhost"),
        "{}",
        server_cert.subject
    );
    assert!(
        server_cert.not_after.starts_with("2045-01-01"),
        "{}",
        server_cert.not_after
    );
    assert!(report.greeting.starts_with("220 "));
    assert!(report.extensions.iter().any(|e| e == "PIPELINING"));
    assert!(!report.extensions.iter().any(|e| e == "STARTTLS"));

    let delivery = session
        .send(
            &Envelope::new("app@example.org", ["user@example.org"]),
            MESSAGE,
        )
        .unwrap();
    assert_eq!(delivery.reply.code, 250);
    assert!(delivery.queue_id().is_some());
    session.quit().unwrap();

    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let received = &messages[0];
    assert!(received.tls);
    assert_eq!(
        received.client_chain.len(),
        2,
        "leaf and intermediate reach the server"
    );
    assert_eq!(
        received.client_chain[0],
        certs("client-p256.pem")[0].as_ref()
    );
    assert_eq!(
        received.client_chain[1],
        certs("intermediate-ca.pem")[0].as_ref()
    );
    assert_eq!(received.mail_from, "app@example.org");
    assert_eq!(received.recipients, ["user@example.org"]);
    assert_eq!(received.data, MESSAGE);
}

#[test]
fn starttls_with_full_chain_is_accepted_by_root_only_relay() {
    deliver_with_chain(starttls_config(), Security::StartTls);
}

#[test]
fn implicit_tls_with_full_chain_is_accepted_by_root_only_relay() {
    deliver_with_chain(implicit_config(), Security::ImplicitTls);
}

fn connect_error(
    config: mailcert_testsmtp::Config,
    leaf: Option<(&str, bool)>,
) -> (SendError, mailcert_testsmtp::TestServer) {
    let server = start(config);
    let mut options = options(&server, Security::StartTls);
    options.identity = leaf.map(|(name, with_intermediate)| identity(name, with_intermediate));
    let err = Session::connect(&options).expect_err("the relay must refuse");
    (err, server)
}

#[test]
fn leaf_without_intermediate_is_rejected_tls13() {
    let (err, server) = connect_error(requiring(starttls_config()), Some(("client-p256", false)));
    match &err {
        SendError::ClientCertificateRejected { alert } => assert_eq!(alert, "unknown_ca"),
        other => panic!("expected ClientCertificateRejected, got {other:?}"),
    }
    assert_eq!(err.step(), "tls");
    let log = server.wait_for_idle(WAIT);
    assert!(
        log[0]
            .tls_error
            .as_deref()
            .unwrap()
            .contains("UnknownIssuer"),
        "{log:?}"
    );
    assert!(!log[0].commands.iter().any(|c| c == "MAIL"));
    assert!(server.messages().is_empty());
}

#[test]
fn leaf_without_intermediate_is_rejected_tls12() {
    let config = requiring(starttls_config()).tls_versions(TlsVersions::Tls12Only);
    let (err, _server) = connect_error(config, Some(("client-p256", false)));
    assert!(
        matches!(&err, SendError::ClientCertificateRejected { alert } if alert == "unknown_ca"),
        "{err:?}"
    );
}

#[test]
fn no_identity_is_refused_when_required_tls13() {
    let (err, _server) = connect_error(requiring(starttls_config()), None);
    assert!(
        matches!(&err, SendError::ClientCertificateRequiredButNone { alert } if alert == "certificate_required"),
        "{err:?}"
    );
    assert!(err.to_string().contains("requires a client certificate"));
}

#[test]
fn no_identity_is_refused_when_required_tls12() {
    let config = requiring(starttls_config()).tls_versions(TlsVersions::Tls12Only);
    let (err, _server) = connect_error(config, None);
    assert!(
        matches!(err, SendError::ClientCertificateRequiredButNone { .. }),
        "{err:?}"
    );
}

#[test]
fn self_signed_identity_is_rejected() {
    let server = start(requiring(starttls_config()));
    let mut options = options(&server, Security::StartTls);
    options.identity = Some(
        mailcert_sender::ClientIdentity::new(
            certs("self-signed-client.pem"),
            key("self-signed-client.key"),
        )
        .unwrap(),
    );
    let err = Session::connect(&options).unwrap_err();
    assert!(
        matches!(err, SendError::ClientCertificateRejected { .. }),
        "{err:?}"
    );
}

#[test]
fn rsa_p384_and_ed25519_identities_are_accepted() {
    for version in [TlsVersions::Tls13Only, TlsVersions::Tls12Only] {
        let server = start(requiring(starttls_config()).tls_versions(version));
        for leaf in ["client-rsa", "client-p384", "client-ed25519", "client-p256"] {
            let mut options = options(&server, Security::StartTls);
            let identity = identity(leaf, true);
            let thumbprint = identity.thumbprint().to_owned();
            options.identity = Some(identity);
            let mut session = Session::connect(&options)
                .unwrap_or_else(|e| panic!("{leaf} over {version:?}: {e}"));
            assert_eq!(
                session.report().client_cert_sent.as_deref(),
                Some(thumbprint.as_str())
            );
            session
                .send(
                    &Envelope::new("app@example.org", ["user@example.org"]),
                    MESSAGE,
                )
                .unwrap();
            session.quit().unwrap();
        }
        let messages = server.messages();
        assert_eq!(messages.len(), 4);
        for (message, leaf) in
            messages
                .iter()
                .zip(["client-rsa", "client-p384", "client-ed25519", "client-p256"])
        {
            assert_eq!(
                message.client_chain[0],
                certs(&format!("{leaf}.pem"))[0].as_ref()
            );
        }
    }
}

#[test]
fn client_cert_requested_is_reported_truthfully() {
    // Not requested: the identity stays unused.
    let server = start(starttls_config());
    let mut opts = options(&server, Security::StartTls);
    opts.identity = Some(identity("client-p256", true));
    let session = Session::connect(&opts).unwrap();
    assert!(!session.report().client_cert_requested);
    assert_eq!(session.report().client_cert_sent, None);
    session.quit().unwrap();
    assert!(server.wait_for_idle(WAIT)[0].client_chain.is_empty());

    // Requested but optional, and we have none: in, with nothing sent.
    let server = start(starttls_config().client_auth(ClientAuth::Optional(root())));
    let session = Session::connect(&options(&server, Security::StartTls)).unwrap();
    assert!(session.report().client_cert_requested);
    assert_eq!(session.report().client_cert_sent, None);
    session.quit().unwrap();
}

#[test]
fn identity_with_foreign_key_is_refused_up_front() {
    let err = mailcert_sender::ClientIdentity::new(chain_of("client-p256"), key("other-p256.key"))
        .unwrap_err();
    assert!(
        matches!(err, mailcert_sender::IdentityError::KeyMismatch),
        "{err:?}"
    );
    let debug = format!("{:?}", identity("client-p256", true));
    assert!(debug.contains("<redacted>") && !debug.contains("PRIVATE"));
}
