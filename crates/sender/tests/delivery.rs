//! Delivery behaviour: server verification, STARTTLS policy, AUTH, refusals,
//! connection reuse, pipelining and the DATA encoding, all against the loopback
//! test server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mailcert_sender::{Credentials, Envelope, Security, SendError, Session};
use mailcert_testsmtp::{Config, TestServer};
use support::*;

fn envelope() -> Envelope {
    Envelope::new("app@example.org", ["user@example.org"])
}

fn commands(server: &TestServer) -> Vec<Vec<String>> {
    server
        .wait_for_idle(WAIT)
        .into_iter()
        .map(|c| c.commands)
        .collect()
}

#[test]
fn untrusted_server_certificate_is_refused() {
    let server = start(starttls_config());
    // A trust store that does not hold the test root.
    let mut opts = options(&server, Security::StartTls);
    opts.extra_roots = certs("self-signed-client.pem");
    let err = Session::connect(&opts).unwrap_err();
    match &err {
        SendError::ServerCertificate { reason } => {
            assert!(reason.starts_with("untrusted issuer"), "{reason}");
        }
        other => panic!("expected ServerCertificate, got {other:?}"),
    }
    assert_eq!(err.step(), "tls");

    // The platform roots do not know the test root either.
    let mut opts = options(&server, Security::StartTls);
    opts.extra_roots.clear();
    opts.use_platform_roots = true;
    let err = Session::connect(&opts).unwrap_err();
    assert!(
        matches!(err, SendError::ServerCertificate { .. }),
        "{err:?}"
    );

    // No MAIL reached the server on either connection.
    assert!(commands(&server).iter().flatten().all(|c| c != "MAIL"));
}

#[test]
fn no_trust_anchor_at_all_is_refused_before_connecting() {
    let server = start(starttls_config());
    let mut opts = options(&server, Security::StartTls);
    opts.extra_roots.clear();
    let err = Session::connect(&opts).unwrap_err();
    assert!(
        matches!(&err, SendError::ServerCertificate { reason } if reason.contains("no trust anchors")),
        "{err:?}"
    );
    assert_eq!(server.connections(), 0);
}

#[test]
fn server_certificate_for_another_name_is_refused() {
    // server-only.test has no 127.0.0.1 in its SAN.
    let server = start(Config::starttls(
        chain_of("server-only"),
        key("server-only.key"),
    ));
    let err = Session::connect(&options(&server, Security::StartTls)).unwrap_err();
    match &err {
        SendError::ServerCertificate { reason } => {
            assert!(reason.starts_with("wrong name"), "{reason}");
            assert!(
                reason.contains("127.0.0.1") && reason.contains("server-only.test"),
                "{reason}"
            );
        }
        other => panic!("expected ServerCertificate, got {other:?}"),
    }
}

#[test]
fn host_name_matching_the_certificate_is_accepted() {
    let server = start(starttls_config());
    let mut opts = options(&server, Security::StartTls);
    opts.host = "localhost".to_owned();
    let session = Session::connect(&opts).unwrap();
    session.quit().unwrap();
}

#[test]
fn expired_server_certificate_is_refused() {
    let server = start(Config::starttls(chain_of("expired"), key("expired.key")));
    let err = Session::connect(&options(&server, Security::StartTls)).unwrap_err();
    assert!(
        matches!(&err, SendError::ServerCertificate { reason } if reason.starts_with("expired")),
        "{err:?}"
    );
}

#[test]
fn missing_starttls_is_an_error_not_a_fallback() {
    let server = start(Config::plain());
    let err = Session::connect(&options(&server, Security::StartTls)).unwrap_err();
    assert!(matches!(err, SendError::StartTlsNotOffered), "{err:?}");
    assert_eq!(err.step(), "starttls");
    assert_eq!(commands(&server), [["EHLO", "QUIT"]]);
    assert!(server.messages().is_empty());
}

#[test]
fn plain_delivery_without_tls_works_when_asked_for() {
    let server = start(Config::plain());
    let mut session = Session::connect(&options(&server, Security::None)).unwrap();
    assert_eq!(session.report().tls_version, None);
    session.send(&envelope(), MESSAGE).unwrap();
    session.quit().unwrap();
    assert!(!server.messages()[0].tls);
}

#[test]
fn server_requiring_tls_refuses_plain_mail() {
    let server = start(starttls_config().require_tls(true));
    let mut session = Session::connect(&options(&server, Security::None)).unwrap();
    let err = session.send(&envelope(), MESSAGE).unwrap_err();
    match &err {
        SendError::SenderRefused { reply } => {
            assert_eq!(reply.code, 530);
            assert_eq!(reply.enhanced_code(), Some("5.7.0"));
        }
        other => panic!("expected SenderRefused, got {other:?}"),
    }
    assert_eq!(err.step(), "mail");
}

#[test]
fn credentials_or_identity_without_tls_are_refused_before_connecting() {
    let server = start(Config::plain());
    let mut opts = options(&server, Security::None);
    opts.credentials = Some(Credentials::new("alice", "s3cret"));
    let err = Session::connect(&opts).unwrap_err();
    assert!(matches!(err, SendError::InvalidOptions { .. }), "{err:?}");
    let mut opts = options(&server, Security::None);
    opts.identity = Some(identity("client-p256", true));
    assert!(matches!(
        Session::connect(&opts),
        Err(SendError::InvalidOptions { .. })
    ));
    assert_eq!(server.connections(), 0);
}

#[test]
fn auth_plain_succeeds_and_is_recorded() {
    let server = start(requiring(starttls_config()).auth("alice", "s3cret"));
    let mut opts = options(&server, Security::StartTls);
    opts.identity = Some(identity("client-p256", true));
    opts.credentials = Some(Credentials::new("alice", "s3cret"));
    let mut session = Session::connect(&opts).unwrap();
    assert_eq!(session.report().auth_mechanism.as_deref(), Some("PLAIN"));
    session.send(&envelope(), MESSAGE).unwrap();
    session.quit().unwrap();
    let message = &server.messages()[0];
    assert_eq!(message.auth_user.as_deref(), Some("alice"));
    assert_eq!(message.client_chain.len(), 2);
    let debug = format!("{opts:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
}

#[test]
fn auth_login_is_used_when_plain_is_not_offered() {
    let server = start(
        starttls_config()
            .auth("alice", "s3cret")
            .auth_mechanisms(&["LOGIN"]),
    );
    let mut opts = options(&server, Security::StartTls);
    opts.credentials = Some(Credentials::new("alice", "s3cret"));
    let mut session = Session::connect(&opts).unwrap();
    assert_eq!(session.report().auth_mechanism.as_deref(), Some("LOGIN"));
    session.send(&envelope(), MESSAGE).unwrap();
    session.quit().unwrap();
    assert_eq!(server.messages()[0].auth_user.as_deref(), Some("alice"));

    let mut opts = options(&server, Security::StartTls);
    opts.credentials = Some(Credentials::new("alice", "wrong"));
    let err = Session::connect(&opts).unwrap_err();
    assert!(
        matches!(&err, SendError::AuthFailed { reply } if reply.code == 535),
        "{err:?}"
    );
}

#[test]
fn auth_with_wrong_password_fails() {
    let server = start(starttls_config().auth("alice", "s3cret"));
    let mut opts = options(&server, Security::StartTls);
    opts.credentials = Some(Credentials::new("alice", "wrong"));
    let err = Session::connect(&opts).unwrap_err();
    match &err {
        SendError::AuthFailed { reply } => assert_eq!(reply.code, 535),
        other => panic!("expected AuthFailed, got {other:?}"),
    }
    assert_eq!(err.step(), "auth");
    assert!(!err.is_transient());
}

#[test]
fn auth_not_offered_is_reported() {
    let server = start(starttls_config());
    let mut opts = options(&server, Security::StartTls);
    opts.credentials = Some(Credentials::new("alice", "s3cret"));
    let err = Session::connect(&opts).unwrap_err();
    assert!(matches!(err, SendError::AuthNotOffered { .. }), "{err:?}");
}

#[test]
fn refused_recipients_are_reported_and_the_session_survives() {
    let server = start(starttls_config().reject_recipient("nobody@example.org"));
    let mut session = Session::connect(&options(&server, Security::StartTls)).unwrap();

    let delivery = session
        .send(
            &Envelope::new(
                "app@example.org",
                ["user@example.org", "nobody@example.org"],
            ),
            MESSAGE,
        )
        .unwrap();
    assert_eq!(delivery.accepted.len(), 1);
    assert_eq!(delivery.refused.len(), 1);
    assert_eq!(delivery.refused[0].address, "nobody@example.org");
    assert_eq!(delivery.refused[0].reply.code, 550);

    let err = session
        .send(
            &Envelope::new("app@example.org", ["nobody@example.org"]),
            MESSAGE,
        )
        .unwrap_err();
    match &err {
        SendError::AllRecipientsRefused { replies } => {
            assert_eq!(replies.len(), 1);
            assert_eq!(replies[0].reply.enhanced_code(), Some("5.1.1"));
        }
        other => panic!("expected AllRecipientsRefused, got {other:?}"),
    }
    assert_eq!(err.step(), "rcpt");
    assert!(session.is_usable());

    session.send(&envelope(), MESSAGE).unwrap();
    session.quit().unwrap();

    let messages = server.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].recipients, ["user@example.org"]);
    assert_eq!(server.connections(), 1);
    let log = commands(&server);
    assert!(log[0].iter().any(|c| c == "RSET"), "{log:?}");
}

#[test]
fn three_messages_share_one_connection() {
    let server = start(requiring(starttls_config()));
    let mut opts = options(&server, Security::StartTls);
    opts.identity = Some(identity("client-p256", true));
    let mut session = Session::connect(&opts).unwrap();
    for i in 0..3 {
        let body = format!("Subject: {i}\r\n\r\nmessage {i}\r\n");
        session.send(&envelope(), body.as_bytes()).unwrap();
    }
    session.quit().unwrap();
    let messages = server.wait_for_messages(3, WAIT);
    assert_eq!(messages.len(), 3);
    assert!(
        messages
            .iter()
            .all(|m| m.connection_id == messages[0].connection_id)
    );
    assert_eq!(server.connections(), 1);
    // No RSET between successful transactions.
    assert!(!commands(&server)[0].iter().any(|c| c == "RSET"));
    assert_eq!(messages[2].data, b"Subject: 2\r\n\r\nmessage 2\r\n");
}

#[test]
fn pipelined_and_stepwise_transactions_deliver_the_same() {
    for pipelining in [true, false] {
        let server = start(starttls_config().pipelining(pipelining));
        let mut session = Session::connect(&options(&server, Security::StartTls)).unwrap();
        let delivery = session
            .send(
                &Envelope::new("app@example.org", ["a@example.org", "b@example.org"]),
                MESSAGE,
            )
            .unwrap();
        assert_eq!(delivery.accepted.len(), 2);
        session.quit().unwrap();
        assert_eq!(
            server.messages()[0].recipients,
            ["a@example.org", "b@example.org"]
        );
        let log = commands(&server);
        assert_eq!(
            log[0],
            [
                "EHLO", "STARTTLS", "EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"
            ]
        );
    }
}

#[test]
fn data_is_normalised_and_dot_stuffed_losslessly() {
    let server = start(starttls_config());
    let mut session = Session::connect(&options(&server, Security::StartTls)).unwrap();
    let message =
        "Subject: dots\n\n.leading dot\n..two dots\n.\nGrüße\r\nlast line without newline";
    session.send(&envelope(), message.as_bytes()).unwrap();
    session.quit().unwrap();
    let received = &server.messages()[0];
    assert_eq!(
        String::from_utf8(received.data.clone()).unwrap(),
        "Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nGrüße\r\nlast line without newline\r\n"
    );
    assert!(received.body_8bitmime);
    assert_eq!(received.size_param, Some(received.data.len() + 3)); // stuffed dots counted
}

#[test]
fn message_over_the_announced_size_is_not_sent() {
    let server = start(starttls_config().max_message_size(100));
    let mut session = Session::connect(&options(&server, Security::StartTls)).unwrap();
    let err = session.send(&envelope(), &[b'x'; 200]).unwrap_err();
    assert!(
        matches!(err, SendError::MessageTooLarge { limit: 100, .. }),
        "{err:?}"
    );
    session.quit().unwrap();
    assert!(!commands(&server)[0].iter().any(|c| c == "MAIL"));
}

#[test]
fn implicit_tls_client_against_starttls_server_fails_cleanly() {
    let server = start(starttls_config());
    let mut opts = options(&server, Security::ImplicitTls);
    opts.timeout = std::time::Duration::from_secs(2);
    let err = Session::connect(&opts).unwrap_err();
    assert_eq!(err.step(), "tls", "{err:?}");
}
