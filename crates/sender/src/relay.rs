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
use crate::report::HandshakeReport;
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
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            key.dangerously_expose_pkcs8_der().to_vec(),
        ));
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

/// The handshake as lines for people: connection and greeting, TLS version and cipher,
/// the server's certificate, whether a client certificate was requested and which was
/// sent (with how many intermediates), the EHLO extensions and the AUTH mechanism.
pub fn report_lines(r: &HandshakeReport, plan: &SendPlan, options: &ConnectOptions) -> Vec<String> {
    let mut out = vec![format!(
        "connect {}:{} ok: {}",
        options.host, options.port, r.greeting
    )];
    match (&r.tls_version, &r.cipher_suite) {
        (Some(v), Some(c)) => out.push(format!(
            "tls ({}) ok: {v}, {c}",
            match options.security {
                Security::StartTls => "STARTTLS",
                Security::ImplicitTls => "implicit TLS",
                Security::None => "none",
            }
        )),
        _ => out.push("tls: none (SMTP encryption disabled in the settings)".into()),
    }
    if let Some(c) = &r.server_certificate {
        out.push(format!(
            "server certificate: {} (issuer {}), expires {}, verified for {}",
            c.subject, c.issuer, c.not_after, options.host
        ));
    }
    out.push(format!(
        "client certificate requested by the server: {}{}",
        if r.client_cert_requested { "yes" } else { "no" },
        if r.client_cert_hints.is_empty() {
            String::new()
        } else {
            format!(" (accepted issuers: {})", r.client_cert_hints.join("; "))
        }
    ));
    let bound = plan
        .effective
        .certificate
        .as_ref()
        .map(|c| format!("{} ({})", c.display_name(), c.facts.thumbprint_sha1));
    out.push(match (&r.client_cert_sent, &bound) {
        (Some(sha1), Some(b)) => format!(
            "client certificate sent: {b} with {} intermediate(s){}",
            plan.chain.len().saturating_sub(1),
            if b.contains(sha1.as_str()) {
                ""
            } else {
                " (thumbprint differs!)"
            }
        ),
        (None, Some(b)) => {
            format!("client certificate bound but not sent (the server did not ask): {b}")
        }
        (_, None) => "client certificate: none bound".into(),
    });
    out.push(format!("EHLO extensions: {}", r.extensions.join(", ")));
    out.push(match &r.auth_mechanism {
        Some(m) => format!("auth ok ({m})"),
        None => "auth: not configured (anonymous)".into(),
    });
    out
}

/// Connects with `options`, reports each step, optionally sends `message`, and quits:
/// `mailcert smtp test` and the admin page's buttons. On failure, the steps done so far
/// and the error.
pub fn probe(
    plan: &SendPlan,
    options: &ConnectOptions,
    message: Option<&Outgoing>,
) -> Result<Vec<String>, (Vec<String>, SendError)> {
    let mut session = Session::connect(options).map_err(|e| (Vec::new(), e))?;
    let mut lines = report_lines(session.report(), plan, options);
    if let Some(m) = message {
        match session.send(&m.envelope, &m.data) {
            Ok(d) => {
                lines.push(format!(
                    "message to {} accepted: {}",
                    d.accepted
                        .iter()
                        .map(|a| a.address.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    d.reply
                ));
                for r in &d.refused {
                    lines.push(format!("recipient {} refused: {}", r.address, r.reply));
                }
            }
            Err(e) => return Err((lines, e)),
        }
    }
    match session.quit() {
        Ok(()) if message.is_none() => lines.push("quit ok; no message was sent".into()),
        Ok(()) => lines.push("quit ok".into()),
        Err(e) => lines.push(format!("quit: {e}")),
    }
    Ok(lines)
}
