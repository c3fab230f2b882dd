//! From a web application's resolved outgoing e-mail settings (mailcert-binding's
//! [`SendPlan`]) to connection options, and sending batches over one connection.

use std::time::Duration;

use mailcert_binding::{Encryption, SendPlan};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::envelope::Delivery;
use crate::error::SendError;
use crate::identity::{ClientIdentity, Credentials, IdentityError};
use crate::message::Outgoing;
use crate::options::{ConnectOptions, Security};
use crate::session::Session;

/// The HELO name the settings give, else this host's name.
pub fn helo_name(plan: &SendPlan) -> String {
    plan.effective
        .settings
        .helo
        .clone()
        .unwrap_or_else(mailcert_binding::host_name)
}

/// Connection options for a plan: server, port, encryption, HELO, the bound certificate
/// with its intermediates and key, the SMTP credentials, and the farm's Root store as
/// extra trust anchors (added to the platform's).
pub fn connect_options(
    plan: &SendPlan,
    timeout: Duration,
) -> Result<ConnectOptions, IdentityError> {
    let s = &plan.effective.settings;
    let mut o = ConnectOptions::new(s.smtp_server.clone(), s.port);
    o.security = match s.encryption {
        Encryption::StartTls => Security::StartTls,
        Encryption::Tls => Security::ImplicitTls,
        Encryption::None => Security::None,
    };
    o.helo = helo_name(plan);
    o.timeout = timeout;
    o.extra_roots = plan
        .roots
        .iter()
        .map(|d| CertificateDer::from(d.clone()))
        .collect();
    if let Some(key) = &plan.key {
        let chain = plan
            .chain
            .iter()
            .map(|d| CertificateDer::from(d.clone()))
            .collect();
        // ClientIdentity wipes this copy once ring has parsed it.
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_vec()));
        o.identity = Some(ClientIdentity::new(chain, key)?);
    }
    if let (Some(user), Some(pw)) = (&s.smtp_user, &plan.password) {
        o.credentials = Some(Credentials::new(user.clone(), pw.as_str()));
    }
    Ok(o)
}

/// Sends every message over as few connections as possible: one, unless the server
/// breaks the session (then a new one is opened for the rest). Returns one result per
/// message, in order. A failure to connect fails every message not yet sent.
pub fn send_all(
    options: &ConnectOptions,
    messages: &[Outgoing],
) -> Vec<Result<Delivery, SendError>> {
    let mut results: Vec<Result<Delivery, SendError>> = Vec::with_capacity(messages.len());
    let mut session: Option<Session> = None;
    for m in messages {
        if session.as_ref().is_none_or(|s| !s.is_usable()) {
            match Session::connect(options) {
                Ok(s) => session = Some(s),
                Err(e) => {
                    results.push(Err(e));
                    // Report the same failure for the rest without hammering the server.
                    while results.len() < messages.len() {
                        results.push(Err(SendError::Protocol {
                            step: "connect",
                            detail: "not attempted: the connection for an earlier message failed"
                                .into(),
                        }));
                    }
                    return results;
                }
            }
        }
        let r = match session.as_mut() {
            Some(s) => s.send(&m.envelope, &m.data),
            None => Err(SendError::Protocol {
                step: "connect",
                detail: "no session".into(),
            }),
        };
        results.push(r);
    }
    if let Some(s) = session {
        let _ = s.quit();
    }
    results
}
