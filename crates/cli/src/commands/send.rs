//! `mailcert send`, `mailcert sendmail` and `mailcert smtp test`: delivery through the
//! effective settings, presenting the bound certificate with its chain.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use mailcert_binding::{SendPlan, Target, WebAppUrl};
use mailcert_sender::{ConnectOptions, Delivery, Outgoing, RawOptions, SendError};

use super::Globals;
use crate::args::OptionalTarget;
use crate::input::{self, Kind};
use crate::{Exit, context, exit};

/// Exit code for failed delivery.
pub(crate) const DELIVERY_FAILED: u8 = 5;

pub(crate) fn optional_target(t: &OptionalTarget) -> Result<Target> {
    Ok(match &t.webapp {
        Some(u) => Target::WebApp(WebAppUrl::parse(u)?),
        None => Target::Farm,
    })
}

/// Resolves the plan and the connection options for `target`.
pub(crate) fn prepare(
    g: &Globals,
    target: &Target,
    timeout: u64,
) -> Result<(SendPlan, ConnectOptions)> {
    let mut farm = context::open(g)?;
    let plan = mailcert_binding::plan(&mut farm, target, context::now()?)?;
    let mut options = mailcert_sender::connect_options(&plan, Duration::from_secs(timeout.max(1)))
        .context("the bound certificate cannot be used as a TLS client identity")?;
    if g.verbose > 0 {
        options.transcript = Some(transcript_on_stderr());
    }
    Ok((plan, options))
}

/// `-v`: the SMTP dialogue on standard error, as `swaks` and `msmtp -d` show it. The
/// lines of a second or later pooled connection carry its number.
fn transcript_on_stderr() -> mailcert_sender::Transcript {
    mailcert_sender::Transcript::new(|event| {
        if event.connection > 1 {
            errln!("[{}] {}", event.connection, event.line);
        } else {
            errln!("{}", event.line);
        }
    })
}

fn read_stdin() -> Result<Vec<u8>> {
    input::stdin(Kind::Message)
}

fn describe_delivery(d: &Delivery) -> String {
    let mut s = format!("accepted by {}: {}", d.accepted.len(), d.reply);
    if !d.refused.is_empty() {
        let refused: Vec<String> = d
            .refused
            .iter()
            .map(|r| format!("{} ({})", r.address, r.reply))
            .collect();
        s.push_str(&format!("; refused: {}", refused.join(", ")));
    }
    s
}

/// A failure for people: the step and the error with the server's reply as it said it,
/// then, for a known Exchange Online refusal, what to change.
fn send_error_text(e: &SendError) -> String {
    match mailcert_sender::advice_for(e) {
        Some(advice) => format!("failed at {}: {e}\nhint: {advice}", e.step()),
        None => format!("failed at {}: {e}", e.step()),
    }
}

/// Sends and prints a line per message; exit 5 when any failed.
fn deliver(
    g: &Globals,
    options: &ConnectOptions,
    labels: &[String],
    messages: &[Outgoing],
    connections: usize,
) -> Result<u8> {
    let results = mailcert_sender::send_pooled(options, messages, connections);
    let mut failed = 0;
    let mut json = Vec::new();
    for ((label, m), r) in labels.iter().zip(messages).zip(&results) {
        match r {
            Ok(d) => {
                if !d.refused.is_empty() {
                    failed += 1;
                }
                if g.json {
                    json.push(serde_json::json!({
                        "message": label,
                        "ok": d.refused.is_empty(),
                        "from": m.envelope.from,
                        "accepted": d.accepted.iter().map(|a| &a.address).collect::<Vec<_>>(),
                        "refused": d.refused.iter().map(|a| serde_json::json!({"address": a.address, "reply": a.reply.to_string()})).collect::<Vec<_>>(),
                        "reply": d.reply.to_string(),
                        "queue_id": d.queue_id(),
                    }));
                } else if !g.quiet {
                    outln!("{label}: sent, {}", describe_delivery(d));
                }
            }
            Err(e) => {
                failed += 1;
                if g.json {
                    json.push(serde_json::json!({
                        "message": label,
                        "ok": false,
                        "step": e.step(),
                        "error": e.to_string(),
                        "reply": e.reply().map(ToString::to_string),
                        "advice": mailcert_sender::advice_for(e),
                    }));
                }
                failln!("{label}: {}", send_error_text(e));
            }
        }
    }
    if g.json {
        outln!("{}", serde_json::Value::Array(json));
    }
    Ok(if failed > 0 {
        DELIVERY_FAILED
    } else {
        exit::OK
    })
}

/// What `mailcert send` was given.
pub(crate) struct SendArgs<'a> {
    pub(crate) to: &'a [String],
    pub(crate) subject: &'a str,
    pub(crate) body_file: Option<&'a PathBuf>,
    pub(crate) message: &'a [PathBuf],
    pub(crate) timeout: u64,
    pub(crate) connections: usize,
}

/// `mailcert send`.
pub(crate) fn send(g: &Globals, target: &OptionalTarget, a: SendArgs<'_>) -> Result<u8> {
    let SendArgs {
        to,
        subject,
        body_file,
        message,
        timeout,
        connections,
    } = a;
    let target = optional_target(target)?;
    let (plan, options) = prepare(g, &target, timeout)?;
    let settings = &plan.effective.settings;
    let helo = options.helo.clone();
    let mut labels = Vec::new();
    let mut messages = Vec::new();
    if message.is_empty() {
        let body = match body_file {
            Some(p) => input::file_or_stdin(p, Kind::Message)?,
            None => read_stdin()?,
        };
        let body = String::from_utf8(body).map_err(|_| Exit {
            code: exit::ERROR,
            message: format!(
                "{}: the body is not UTF-8 text (give it in UTF-8; --charset in the settings decides how it is sent)",
                body_file.map_or("standard input".into(), |p| p.display().to_string())
            ),
        })?;
        messages.push(mailcert_sender::compose(
            settings, &helo, to, subject, &body,
        )?);
        labels.push(format!("message to {}", to.join(", ")));
    } else {
        for p in message {
            let raw = input::file(p, Kind::Message)?;
            let m = mailcert_sender::from_raw(
                settings,
                &helo,
                &raw,
                &RawOptions {
                    recipients_from_headers: true,
                    ..Default::default()
                },
            )
            .with_context(|| p.display().to_string())?;
            messages.push(m);
            labels.push(p.display().to_string());
        }
    }
    deliver(g, &options, &labels, &messages, connections)
}

/// What `mailcert sendmail` was given.
pub(crate) struct SendmailArgs {
    pub(crate) read_recipients: bool,
    pub(crate) from: Option<String>,
    pub(crate) full_name: Option<String>,
    pub(crate) webapp: Option<String>,
    pub(crate) recipients: Vec<String>,
    pub(crate) timeout: u64,
    pub(crate) no_queue: bool,
}

/// Puts what could not be delivered now into this server's spool, for the relay or
/// `mailcert queue run` to retry.
fn queue_for_later(
    g: &Globals,
    webapp: Option<String>,
    m: &Outgoing,
    recipients: Vec<String>,
) -> Result<String> {
    let path = context::spool_path(g.spool.clone())?;
    let mut spool = mailcert_relay::Spool::open(&path).map_err(anyhow::Error::from)?;
    let ids = spool
        .insert(
            &[mailcert_relay::NewMessage {
                webapp,
                mail_from: m.envelope.from.clone(),
                recipients,
                data: m.data.clone(),
                is_dsn: false,
            }],
            context::now()?,
        )
        .map_err(anyhow::Error::from)?;
    Ok(ids.into_iter().next().unwrap_or_default())
}

/// `mailcert sendmail`: silent on success, as sendmail is; a temporary failure queues
/// the message (exit 0, `queued as ID: REASON` on stderr) unless `--no-queue`.
pub(crate) fn sendmail(g: &Globals, a: SendmailArgs) -> Result<u8> {
    let target = match a.webapp.filter(|w| !w.trim().is_empty()) {
        Some(u) => Target::WebApp(WebAppUrl::parse(&u)?),
        None => Target::Farm,
    };
    let raw = read_stdin()?;
    let (plan, options) = prepare(g, &target, a.timeout)?;
    let mut settings = plan.effective.settings.clone();
    if let (Some(name), Some(f)) = (a.full_name, &a.from) {
        // sendmail -F: the From the message gets when it has none.
        settings.from_address = Some(format!("{name} <{f}>"));
    }
    let read_recipients = a.read_recipients;
    let m = mailcert_sender::from_raw(
        &settings,
        &options.helo,
        &raw,
        &RawOptions {
            recipients: a.recipients,
            recipients_from_headers: a.read_recipients,
            envelope_from: a.from,
        },
    )
    .map_err(|e| match e {
        mailcert_sender::MessageError::NoRecipients if !read_recipients => crate::Hinted {
            error: e.into(),
            hint: "give the recipients as arguments, or -t to read them from To, Cc and Bcc".into(),
        }
        .into(),
        other => anyhow::Error::from(other),
    })?;
    let label = format!("message to {}", m.envelope.to.join(", "));
    let webapp = match &target {
        Target::Farm => None,
        Target::WebApp(u) => Some(u.to_string()),
    };
    let result = mailcert_sender::send_all(&options, std::slice::from_ref(&m))
        .into_iter()
        .next();
    let (later, reason, permanent): (Vec<String>, String, Vec<String>) = match result {
        Some(Ok(d)) => {
            let temporary: Vec<_> = d.refused.iter().filter(|r| r.reply.code < 500).collect();
            let permanent: Vec<String> = d
                .refused
                .iter()
                .filter(|r| r.reply.code >= 500)
                .map(|r| format!("{} ({})", r.address, r.reply))
                .collect();
            if g.verbose > 0 {
                failln!("{label}: sent, {}", describe_delivery(&d));
            }
            (
                temporary.iter().map(|r| r.address.clone()).collect(),
                temporary
                    .first()
                    .map(|r| r.reply.to_string())
                    .unwrap_or_default(),
                permanent,
            )
        }
        Some(Err(e)) => match mailcert_relay::verdict(&e) {
            mailcert_relay::Verdict::Temporary if !a.no_queue => {
                (m.envelope.to.clone(), send_error_text(&e), Vec::new())
            }
            _ => {
                failln!("{label}: {}", send_error_text(&e));
                return Ok(DELIVERY_FAILED);
            }
        },
        None => return Ok(exit::OK),
    };
    for p in &permanent {
        failln!("{label}: refused for good: {p}");
    }
    if !later.is_empty() {
        if a.no_queue {
            failln!("{label}: {reason}");
            return Ok(DELIVERY_FAILED);
        }
        let id = queue_for_later(g, webapp, &m, later)?;
        failln!("queued as {id}: {reason}");
    }
    Ok(if permanent.is_empty() {
        exit::OK
    } else {
        DELIVERY_FAILED
    })
}

/// `mailcert smtp test`.
pub(crate) fn test(g: &Globals, target: &Target, timeout: u64) -> Result<u8> {
    let (plan, options) = prepare(g, target, timeout)?;
    match mailcert_sender::probe(&plan, &options, None) {
        Ok(lines) => {
            if g.json {
                outln!("{}", serde_json::json!({"ok": true, "steps": lines}));
            } else {
                for l in &lines {
                    outln!("{l}");
                }
            }
            Ok(exit::OK)
        }
        Err((steps, e)) => {
            if g.json {
                outln!(
                    "{}",
                    serde_json::json!({
                        "ok": false,
                        "steps": steps,
                        "step": e.step(),
                        "error": e.to_string(),
                        "reply": e.reply().map(ToString::to_string),
                        "advice": mailcert_sender::advice_for(&e),
                    })
                );
            } else if !g.quiet {
                for l in &steps {
                    outln!("{l}");
                }
            }
            errln!(
                "mailcert: {}:{}: {}",
                options.host,
                options.port,
                send_error_text(&e)
            );
            Ok(DELIVERY_FAILED)
        }
    }
}
