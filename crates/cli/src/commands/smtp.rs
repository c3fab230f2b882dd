//! `mailcert smtp set|show|clear`.

use anyhow::Result;
use mailcert_binding::{
    Credentials, Effective, Encryption, SettingsChange, Source, Target, WebAppUrl,
};
use mailcert_store::rfc3339;

use super::Globals;
use crate::args::{SmtpCommand, TargetArgs};
use crate::{Exit, context, exit, secrets};

pub(crate) fn target(t: &TargetArgs) -> Result<Target> {
    Ok(match &t.webapp {
        Some(u) => Target::WebApp(WebAppUrl::parse(u)?),
        None => Target::Farm,
    })
}

/// One word for the health of a binding.
pub(crate) fn status_line(e: &Effective) -> String {
    if !e.problems.is_empty() {
        format!("PROBLEM: {}", e.problems.join("; "))
    } else if e.from_address().is_none() {
        "incomplete: no From address here or in the farm's settings, so `send` cannot build a message (sendmail messages with their own From still go)".into()
    } else {
        "ok".into()
    }
}

/// The JSON form of effective settings (never a password).
pub(crate) fn effective_json(e: &Effective, now: i64) -> serde_json::Value {
    let s = &e.settings;
    serde_json::json!({
        "target": e.target.label(),
        "source": e.source,
        "server": e.server,
        "smtp_server": s.smtp_server,
        "port": s.port,
        "encryption": s.encryption,
        "from_address": e.from_address(),
        "reply_to": e.reply_to(),
        "from_address_inherited": s.from_address.is_none() && e.inherited_from.is_some(),
        "reply_to_inherited": s.reply_to.is_none() && e.inherited_reply_to.is_some(),
        "charset": s.charset,
        "helo": s.helo,
        "tls_sender_name": s.tls_sender_name,
        "helo_effective": s.helo.clone().unwrap_or_else(mailcert_binding::host_name),
        "smtp_user": s.smtp_user,
        "smtp_password_set": s.has_password,
        "certificate": s.certificate.as_ref().map(|sha1| {
            match &e.certificate {
                Some(c) => serde_json::json!({
                    "thumbprint_sha1": c.facts.thumbprint_sha1,
                    "subject": c.facts.subject,
                    "friendly_name": c.friendly_name,
                    "not_after": rfc3339(c.facts.not_after),
                    "eligible": c.findings(now).is_empty(),
                }),
                None => serde_json::json!({ "thumbprint_sha1": sha1, "missing": true }),
            }
        }),
        "healthy": e.problems.is_empty(),
        "problems": e.problems,
    })
}

fn show_text(e: &Effective) -> String {
    let s = &e.settings;
    let mut out = format!(
        "Outgoing e-mail settings for {} (from {})\n",
        e.target.label(),
        match (e.source, &e.server) {
            (Source::Farm, None) => "the farm".to_string(),
            (Source::WebApplication, None) => "the web application".to_string(),
            (Source::Farm, Some(s)) => format!("the farm, server {s}'s own settings"),
            (Source::WebApplication, Some(s)) =>
                format!("the web application, server {s}'s own settings"),
        }
    );
    let mut line = |k: &str, v: String| out.push_str(&format!("  {k:<20} {v}\n"));
    line("SMTP server:", s.smtp_server.clone());
    line("Port:", s.port.to_string());
    line(
        "Encryption:",
        match s.encryption {
            Encryption::StartTls => "starttls (TLS required, never plaintext)".into(),
            Encryption::Tls => "tls (implicit TLS)".into(),
            Encryption::None => "none (SMTP encryption disabled)".into(),
        },
    );
    let own_or_farm = |own: &Option<String>, farm: &Option<String>| match (own, farm) {
        (Some(v), _) => v.clone(),
        (None, Some(v)) => format!("{v} (the farm's: this application sets none)"),
        (None, None) => "(not set)".into(),
    };
    line(
        "From address:",
        own_or_farm(&s.from_address, &e.inherited_from),
    );
    line(
        "Reply-to address:",
        own_or_farm(&s.reply_to, &e.inherited_reply_to),
    );
    line("Character set:", s.charset.clone());
    line(
        "HELO name:",
        s.helo
            .clone()
            .unwrap_or_else(|| format!("{} (this host's name)", mailcert_binding::host_name())),
    );
    line(
        "Authentication:",
        match &s.smtp_user {
            Some(u) => format!(
                "user {u}, password {}",
                if s.has_password { "set" } else { "NOT set" }
            ),
            None => "anonymous".into(),
        },
    );
    line(
        "Client certificate:",
        match (&s.certificate, &e.certificate) {
            (None, _) => "none".into(),
            (Some(_), Some(c)) => format!(
                "{} ({}) [Expiration: {}] {}",
                c.facts.subject_cn.as_deref().unwrap_or(&c.facts.subject),
                c.friendly_name.as_deref().unwrap_or("no friendly name"),
                mailcert_store::date(c.facts.not_after),
                c.facts.thumbprint_sha1
            ),
            (Some(sha1), None) => format!("{sha1} (no longer in the farm)"),
        },
    );
    if let Some(n) = &s.tls_sender_name {
        line(
            "Connector name:",
            format!("{n} (Exchange Online TlsSenderCertificateName)"),
        );
    }
    line("Status:", status_line(e));
    out
}

pub(crate) fn run(g: &Globals, cmd: SmtpCommand) -> Result<u8> {
    let mut farm = context::open(g)?;
    let now = context::now()?;
    match cmd {
        SmtpCommand::Set {
            target: t,
            smtp_server,
            port,
            encryption,
            disable_smtp_encryption,
            certificate,
            no_certificate,
            from,
            reply_to,
            smtp_user,
            smtp_password_file,
            smtp_password_env,
            no_smtp_credentials,
            charset,
            helo,
            tls_sender_name,
        } => {
            let target = target(&t)?;
            // --server NAME: a change for that server only (context::open already made
            // the farm show the settings as NAME sees them).
            let server = g.server.clone();
            // Without --server the change is to the settings every server uses: show
            // those, not this server's own.
            if server.is_none() {
                farm.without_server_settings();
            }
            let port = port
                .as_deref()
                .map(mailcert_binding::parse_port)
                .transpose()?;
            let credentials = match (smtp_user, no_smtp_credentials) {
                (Some(user), _) => {
                    let src = crate::args::PasswordSource {
                        password_file: smtp_password_file,
                        password_env: smtp_password_env,
                    };
                    let password = match secrets::from_source(&src)? {
                        Some(p) => p,
                        None if secrets::can_prompt() => {
                            secrets::prompt(&format!("SMTP password for {user}: "))?
                        }
                        None => {
                            return Err(Exit {
                                code: exit::USAGE,
                                message: "--smtp-user needs --smtp-password-file or --smtp-password-env (passwords are never arguments)".into(),
                            }
                            .into());
                        }
                    };
                    Some(Some(Credentials { user, password }))
                }
                (None, true) => Some(None),
                (None, false) => None,
            };
            let change = SettingsChange {
                smtp_server,
                port,
                encryption: if disable_smtp_encryption {
                    Some(Encryption::None)
                } else {
                    encryption
                },
                certificate: if no_certificate {
                    Some(None)
                } else {
                    certificate.map(Some)
                },
                from_address: from,
                reply_to,
                charset,
                helo,
                credentials,
                tls_sender_name,
                server,
            };
            let before = mailcert_binding::effective(&mut farm, &target, now).ok();
            let port_given = change.port.is_some();
            let saved = mailcert_binding::set(&mut farm, &target, change, now)?;
            let e = &saved.effective;
            if g.json {
                let mut v = effective_json(e, now);
                if let Some(o) = v.as_object_mut() {
                    o.insert("changes".into(), saved.changes.clone().into());
                }
                outln!("{v}");
            } else if !g.quiet {
                if saved.changes.is_empty() {
                    outln!("unchanged: the settings were already so; nothing was written.");
                } else {
                    outln!("saved:");
                    for c in &saved.changes {
                        outln!("  {c}");
                    }
                }
                out!("{}", show_text(e));
            }
            // A port chosen by hand stays when the encryption changes: say when it is
            // not the usual one for the new encryption.
            if let Some(b) = before.filter(|b| b.settings.encryption != e.settings.encryption)
                && !port_given
                && e.settings.port != e.settings.encryption.default_port()
                && e.settings.port == b.settings.port
            {
                warnln!(
                    "the port stays {} with encryption {}; the usual port for it is {} (--port {} changes it)",
                    e.settings.port,
                    e.settings.encryption,
                    e.settings.encryption.default_port(),
                    e.settings.encryption.default_port()
                );
            }
            Ok(exit::OK)
        }
        SmtpCommand::Show { target: t } => {
            let target = target(&t)?;
            let e = mailcert_binding::effective(&mut farm, &target, now)?;
            if g.json {
                outln!("{}", effective_json(&e, now));
            } else {
                out!("{}", show_text(&e));
            }
            Ok(if e.problems.is_empty() {
                exit::OK
            } else {
                exit::REJECTED
            })
        }
        SmtpCommand::Test { target: t, timeout } => {
            drop(farm);
            super::send::test(g, &target(&t)?, timeout)
        }
        SmtpCommand::Clear { webapp, farm: _ } if g.server.is_some() => {
            let server = g.server.clone().unwrap_or_default();
            let target = match &webapp {
                Some(u) => mailcert_binding::Target::WebApp(WebAppUrl::parse(u)?),
                None => mailcert_binding::Target::Farm,
            };
            let had = mailcert_binding::clear_server(&mut farm, &target, &server, now)?;
            if g.json {
                outln!(
                    "{}",
                    serde_json::json!({"target": target.label(), "server": server, "cleared": had})
                );
            } else if !g.quiet {
                if had {
                    outln!(
                        "server {server} now uses the settings of {} for every server",
                        target.label()
                    );
                } else {
                    outln!(
                        "server {server} had no settings of its own for {}; nothing changed",
                        target.label()
                    );
                }
            }
            Ok(exit::OK)
        }
        SmtpCommand::Clear { webapp, farm: _ } => {
            let Some(webapp) = webapp else {
                return Err(Exit {
                    code: exit::USAGE,
                    message: "smtp clear needs --webapp URL (the farm's settings are cleared only for one server, with --server)".into(),
                }
                .into());
            };
            let url = WebAppUrl::parse(&webapp)?;
            let had = mailcert_binding::clear(&mut farm, &url, now)?;
            if g.json {
                outln!(
                    "{}",
                    serde_json::json!({"url": url.as_str(), "cleared": had})
                );
            } else if !g.quiet {
                if had {
                    outln!("{url} now uses the farm's outgoing e-mail settings");
                } else {
                    outln!("{url} had no settings of its own; nothing changed");
                }
            }
            Ok(exit::OK)
        }
    }
}
