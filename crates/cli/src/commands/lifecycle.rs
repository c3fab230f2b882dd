//! `mailcert cert request …`, `cert renew`, `settings …` and `health`: the certificate
//! lifecycle on the command line.

use crate::color::{Stream, Style};
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use mailcert_binding::{HealthReport, Target};
use mailcert_store::{
    CertificateSettings, ContactChange, Curve, Farm, Hash, KeyAlgorithm, RequestRecord,
    RequestSpec, rfc3339,
};

use super::Globals;
use crate::args::{
    ContactsCommand, CurveArg, HashArg, KeyAlgorithmArg, RequestCommand, SettingsCommand,
};
use crate::{Exit, context, exit};

fn key_algorithm(a: KeyAlgorithmArg) -> KeyAlgorithm {
    match a {
        KeyAlgorithmArg::Rsa => KeyAlgorithm::Rsa,
        KeyAlgorithmArg::Ecc => KeyAlgorithm::Ecc,
    }
}

fn curve(c: CurveArg) -> Curve {
    match c {
        CurveArg::P256 => Curve::P256,
        CurveArg::P384 => Curve::P384,
    }
}

fn hash(h: HashArg) -> Hash {
    match h {
        HashArg::Sha256 => Hash::Sha256,
        HashArg::Sha384 => Hash::Sha384,
        HashArg::Sha512 => Hash::Sha512,
    }
}

/// The contract's JSON of a pending request (with the CSR when `csr`).
fn request_json(r: &RequestRecord, csr: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "key_id": r.key_id,
        "common_name": r.common_name,
        "subject": r.subject,
        "alternative_names": r.alternative_names,
        "key_type": r.key_type,
        "hash": r.hash,
        "created": rfc3339(r.created),
        "friendly_name": r.friendly_name,
        "exportable": r.exportable,
        "renews": r.renews,
    });
    if let (true, Some(o)) = (csr, v.as_object_mut()) {
        o.insert("csr_pem".into(), r.csr_pem.clone().into());
    }
    v
}

/// Writes the CSR to `out` (or standard output when none), then says what was made.
fn emit_request(
    g: &Globals,
    r: &RequestRecord,
    out: Option<&Path>,
    force: bool,
    what: &str,
) -> Result<()> {
    match out.filter(|p| *p != Path::new("-")) {
        Some(path) => {
            super::cert::write_out(
                &super::cert::Destination { path, force },
                r.csr_pem.as_bytes(),
                false,
            )?;
            if g.json {
                let mut v = request_json(r, false);
                if let Some(o) = v.as_object_mut() {
                    o.insert("out".into(), path.display().to_string().into());
                }
                outln!("{v}");
            } else if !g.quiet {
                outln!(
                    "{what} {} ({}, {}); CSR written to {}",
                    r.key_id,
                    r.subject,
                    r.key_type,
                    path.display()
                );
                outln!(
                    "  have it signed, then: mailcert cert import SIGNED-CERTIFICATE (the key stays sealed in the farm)"
                );
            }
        }
        None => {
            if g.json {
                outln!("{}", request_json(r, true));
            } else {
                out!("{}", r.csr_pem);
                if !g.quiet {
                    errln!(
                        "{what} {} ({}, {}); the key stays sealed in the farm until the signed certificate is imported",
                        r.key_id,
                        r.subject,
                        r.key_type
                    );
                }
            }
        }
    }
    Ok(())
}

/// `mailcert cert request …`.
pub(crate) fn request(g: &Globals, farm: &mut Farm, cmd: RequestCommand, now: i64) -> Result<u8> {
    match cmd {
        RequestCommand::New {
            common_name,
            alternative_name,
            organization,
            organizational_unit,
            locality,
            state,
            country,
            key_algorithm: alg,
            key_size,
            elliptic_curve,
            hash: h,
            friendly_name,
            exportable,
            out,
            force,
        } => {
            if let Some(path) = out.as_deref().filter(|p| *p != Path::new("-") && !force)
                && path.exists()
            {
                return Err(Exit {
                    code: exit::ERROR,
                    message: format!(
                        "{}: the file exists; no request was made (--force replaces it)",
                        path.display()
                    ),
                }
                .into());
            }
            let spec = RequestSpec {
                common_name,
                alternative_names: alternative_name,
                organization,
                organizational_unit,
                locality,
                state,
                country,
                key_algorithm: alg.map(key_algorithm),
                key_size,
                curve: elliptic_curve.map(curve),
                hash: h.map(hash),
                friendly_name,
                exportable,
            };
            let r = mailcert_store::new_request(farm, &spec, now)?;
            emit_request(g, &r, out.as_deref(), force, "request")?;
            Ok(exit::OK)
        }
        RequestCommand::List => {
            let list = mailcert_store::requests(farm)?;
            if g.json {
                let items: Vec<_> = list.iter().map(|r| request_json(r, false)).collect();
                outln!("{}", serde_json::Value::Array(items));
            } else if list.is_empty() {
                if !g.quiet {
                    outln!("(no pending requests)");
                }
            } else {
                outln!(
                    "{:<40}  {:<28}  {:<12}  {:<10}  {:<16}  RENEWS",
                    "KEY ID",
                    "COMMON NAME",
                    "KEY",
                    "CREATED",
                    "FRIENDLY NAME"
                );
                for r in &list {
                    outln!(
                        "{:<40}  {:<28}  {:<12}  {:<10}  {:<16}  {}",
                        r.key_id,
                        r.common_name,
                        r.key_type,
                        mailcert_store::date(r.created),
                        r.friendly_name.as_deref().unwrap_or("-"),
                        r.renews.as_deref().unwrap_or("-")
                    );
                    if !r.alternative_names.is_empty() {
                        outln!("  alternative names: {}", r.alternative_names.join(", "));
                    }
                }
            }
            Ok(exit::OK)
        }
        RequestCommand::Show { key_id } => {
            let r = mailcert_store::request(farm, &key_id)?;
            if g.json {
                outln!("{}", request_json(&r, true));
            } else {
                // The CSR alone on stdout (`… > x.csr` gives the request again); what it
                // asks for on stderr.
                if !g.quiet {
                    errln!("Key id:             {}", r.key_id);
                    errln!("Subject:            {}", r.subject);
                    if !r.alternative_names.is_empty() {
                        errln!("Alternative names:  {}", r.alternative_names.join(", "));
                    }
                    errln!("Key:                {} (sealed in the farm)", r.key_type);
                    errln!("Hash:               {}", r.hash);
                    errln!("Created:            {}", rfc3339(r.created));
                    if let Some(f) = &r.friendly_name {
                        errln!("Friendly name:      {f}");
                    }
                    errln!(
                        "Exportable:         {}",
                        if r.exportable { "yes" } else { "no" }
                    );
                    if let Some(old) = &r.renews {
                        errln!("Renews:             {old}");
                    }
                }
                out!("{}", r.csr_pem);
            }
            Ok(exit::OK)
        }
        RequestCommand::Remove { key_id } => {
            let r = mailcert_store::remove_request(farm, &key_id, now)?;
            if g.json {
                outln!("{}", request_json(&r, false));
            } else if !g.quiet {
                outln!("{} ({}): request and its key removed", r.key_id, r.subject);
            }
            Ok(exit::OK)
        }
    }
}

/// `mailcert cert renew`.
pub(crate) fn renew(
    g: &Globals,
    farm: &mut Farm,
    reference: &str,
    out: Option<&Path>,
    force: bool,
    same_key: bool,
    now: i64,
) -> Result<u8> {
    if let Some(path) = out.filter(|p| *p != Path::new("-") && !force)
        && path.exists()
    {
        return Err(Exit {
            code: exit::ERROR,
            message: format!(
                "{}: the file exists; no request was made (--force replaces it)",
                path.display()
            ),
        }
        .into());
    }
    let (old, r) = mailcert_store::renew(farm, reference, same_key, now)?;
    let what = format!(
        "renewal of {} ({}): request",
        old.display_name(),
        old.facts.thumbprint_sha1
    );
    emit_request(g, &r, out, force, &what)?;
    Ok(exit::OK)
}

fn settings_lines(s: &CertificateSettings) -> Vec<(&'static str, String)> {
    let days = |d: u32| {
        if d == 0 {
            "off".to_string()
        } else {
            format!("{d} days")
        }
    };
    let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
    vec![
        ("Attention threshold:", days(s.attention_days)),
        ("Warning threshold:", days(s.warning_days)),
        ("Error threshold:", days(s.error_days)),
        ("Key algorithm:", s.key_algorithm.as_str().to_uppercase()),
        ("RSA key size:", s.key_size.to_string()),
        ("Elliptic curve:", s.elliptic_curve.as_str().to_uppercase()),
        ("Hash:", s.hash.as_str().to_uppercase()),
        ("Organization:", o(&s.organization)),
        ("Organizational unit:", o(&s.organizational_unit)),
        ("Locality:", o(&s.locality)),
        ("State:", o(&s.state)),
        ("Country:", o(&s.country)),
    ]
}

fn settings_json(s: &CertificateSettings, contacts: &[String]) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(s)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("contacts".into(), contacts.into());
    }
    Ok(v)
}

/// A contact address, checked as a mailbox and kept as its bare address.
fn contact_address(a: &str) -> Result<String> {
    mailcert_binding::parse_mailbox(a)
        .map(|m| m.email.to_string())
        .map_err(|e| {
            Exit {
                code: exit::REJECTED,
                message: format!("contact '{a}' is not a valid e-mail address: {e}"),
            }
            .into()
        })
}

/// `mailcert settings …`.
pub(crate) fn settings(g: &Globals, cmd: SettingsCommand) -> Result<u8> {
    let mut farm = context::open(g)?;
    let now = context::now()?;
    match cmd {
        SettingsCommand::Show => {
            let s = mailcert_store::certificate_settings(&mut farm)?;
            let contacts = mailcert_store::contacts(&mut farm)?;
            if g.json {
                outln!("{}", settings_json(&s, &contacts)?);
            } else {
                for (k, v) in settings_lines(&s) {
                    outln!("{k:<22} {v}");
                }
                outln!(
                    "{:<22} {}",
                    "Notification contacts:",
                    if contacts.is_empty() {
                        "(none: `mailcert health` reports no-contacts while certificates are bound)"
                            .to_string()
                    } else {
                        contacts.join(", ")
                    }
                );
            }
            Ok(exit::OK)
        }
        SettingsCommand::Set {
            attention_days,
            warning_days,
            error_days,
            key_algorithm: alg,
            key_size,
            elliptic_curve,
            hash: h,
            organization,
            organizational_unit,
            locality,
            state,
            country,
        } => {
            let (s, changed) = mailcert_store::update_certificate_settings(
                &mut farm,
                |s| {
                    if let Some(v) = attention_days {
                        s.attention_days = v;
                    }
                    if let Some(v) = warning_days {
                        s.warning_days = v;
                    }
                    if let Some(v) = error_days {
                        s.error_days = v;
                    }
                    if let Some(v) = alg {
                        s.key_algorithm = key_algorithm(v);
                    }
                    if let Some(v) = key_size {
                        s.key_size = v;
                    }
                    if let Some(v) = elliptic_curve {
                        s.elliptic_curve = curve(v);
                    }
                    if let Some(v) = h {
                        s.hash = hash(v);
                    }
                    for (field, v) in [
                        (&mut s.organization, organization),
                        (&mut s.organizational_unit, organizational_unit),
                        (&mut s.locality, locality),
                        (&mut s.state, state),
                        (&mut s.country, country),
                    ] {
                        if let Some(v) = v {
                            *field = Some(v);
                        }
                    }
                },
                now,
            )?;
            if g.json {
                let contacts = mailcert_store::contacts(&mut farm)?;
                let mut v = settings_json(&s, &contacts)?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("changed".into(), changed.clone().into());
                }
                outln!("{v}");
            } else if !g.quiet {
                if changed.is_empty() {
                    outln!("certificate settings unchanged");
                } else {
                    outln!("certificate settings saved:");
                    for c in &changed {
                        outln!("  {c}");
                    }
                }
            }
            Ok(exit::OK)
        }
        SettingsCommand::Contacts(c) => {
            let change = match c {
                ContactsCommand::List => {
                    let list = mailcert_store::contacts(&mut farm)?;
                    if g.json {
                        outln!("{}", serde_json::json!(list));
                    } else if list.is_empty() {
                        if !g.quiet {
                            outln!("(no notification contacts)");
                        }
                    } else {
                        for a in list {
                            outln!("{a}");
                        }
                    }
                    return Ok(exit::OK);
                }
                ContactsCommand::Add { addresses } => ContactChange::Add(
                    addresses
                        .iter()
                        .map(|a| contact_address(a))
                        .collect::<Result<Vec<_>>>()?,
                ),
                ContactsCommand::Remove { addresses } => {
                    ContactChange::Remove(addresses.iter().map(|a| a.trim().to_string()).collect())
                }
                ContactsCommand::Clear => ContactChange::Clear,
            };
            let verb = match &change {
                ContactChange::Add(_) => "added",
                _ => "removed",
            };
            let done = mailcert_store::change_contacts(&mut farm, change, now)?;
            if g.json {
                let list = mailcert_store::contacts(&mut farm)?;
                outln!("{}", serde_json::json!({ verb: done, "contacts": list }));
            } else if !g.quiet {
                if done.is_empty() {
                    outln!("contacts unchanged");
                } else {
                    outln!("{verb}: {}", done.join(", "));
                }
            }
            Ok(exit::OK)
        }
    }
}

/// What `health --notify` did.
#[derive(Debug, serde::Serialize)]
struct Notification {
    sent: bool,
    recipients: Vec<String>,
    findings_mailed: usize,
    reply: Option<String>,
    error: Option<String>,
    skipped: Option<String>,
}

/// Mails the due findings to the contacts through the farm's settings.
fn notify(farm: &mut Farm, report: &HealthReport, now: i64, timeout: u64) -> Notification {
    let mut n = Notification {
        sent: false,
        recipients: report.contacts.clone(),
        findings_mailed: 0,
        reply: None,
        error: None,
        skipped: None,
    };
    if report.findings.is_empty() {
        n.skipped = Some("healthy: nothing to report".into());
        return n;
    }
    if report.contacts.is_empty() {
        n.skipped = Some("no notification contacts".into());
        return n;
    }
    let due = match mailcert_binding::due_notifications(farm, report, now) {
        Ok(d) => d,
        Err(e) => {
            n.error = Some(format!("{e:#}"));
            return n;
        }
    };
    if due.is_empty() {
        n.skipped = Some("every finding was mailed within the last day".into());
        return n;
    }
    let result = (|| -> Result<String> {
        let plan = mailcert_binding::plan(farm, &Target::Farm, now)?;
        let options = mailcert_sender::connect_options(&plan, Duration::from_secs(timeout))?;
        let helo = mailcert_sender::helo_name(&plan);
        let (subject, body) =
            mailcert_binding::notification_text(&due, report.findings.len(), &helo);
        let msg = mailcert_sender::compose(
            &plan.effective.settings,
            &helo,
            &report.contacts,
            &subject,
            &body,
        )?;
        let mut results = mailcert_sender::send_all(&options, std::slice::from_ref(&msg));
        match results.pop() {
            Some(Ok(d)) if d.refused.is_empty() => Ok(d.reply.to_string()),
            // Accepted for some: recorded as sent (so they are not mailed again every
            // hour), with the refused recipients in the reply shown.
            Some(Ok(d)) => Ok(format!(
                "{}; refused for {}",
                d.reply,
                d.refused
                    .iter()
                    .map(|r| format!("{} ({})", r.address, r.reply))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Some(Err(e)) => Err(e.into()),
            None => Err(anyhow::anyhow!("nothing was sent")),
        }
    })();
    match result {
        Ok(reply) => {
            n.sent = true;
            n.findings_mailed = due.len();
            n.reply = Some(reply);
            if let Err(e) = mailcert_binding::record_notified(farm, &due, &report.contacts, now) {
                n.error = Some(format!(
                    "the notification was sent but could not be recorded (it may be sent again): {e:#}"
                ));
            }
        }
        Err(e) => {
            n.error = Some(format!(
                "the notification could not be sent through the farm's outgoing e-mail settings: {e:#}"
            ));
        }
    }
    n
}

/// `mailcert health [--notify]`.
pub(crate) fn health(g: &Globals, do_notify: bool, timeout: u64) -> Result<u8> {
    let mut farm = context::open(g)?;
    let now = context::now()?;
    let report = mailcert_binding::health(&mut farm, now)?;
    let notification = do_notify.then(|| notify(&mut farm, &report, now, timeout));
    let failed = notification.as_ref().is_some_and(|n| n.error.is_some());
    if g.json {
        let mut v = serde_json::to_value(&report)?;
        if let (Some(o), Some(n)) = (v.as_object_mut(), &notification) {
            o.insert("notification".into(), serde_json::to_value(n)?);
        }
        outln!("{v}");
    } else {
        if report.healthy {
            if !g.quiet {
                outln!(
                    "healthy: no certificate health rule fired at {}",
                    rfc3339(now)
                );
            }
        } else {
            outln!(
                "{:<9}  {:<19}  {:<40}  {:>5}  BOUND TO",
                "SEVERITY",
                "RULE",
                "CERTIFICATE",
                "DAYS"
            );
            for f in &report.findings {
                let style = match f.severity.as_str() {
                    "error" => Style::Bad,
                    "warning" => Style::Warn,
                    _ => Style::Note,
                };
                let severity = format!("{:<9}", f.severity.as_str());
                crate::out::stdout_escaped(&crate::out::render(
                    Stream::Stdout,
                    &[(Some(style), &severity)],
                ))?;
                outln!(
                    "  {:<19}  {:<40}  {:>5}  {}",
                    f.rule,
                    f.thumbprint_sha1.as_deref().unwrap_or("-"),
                    f.days_left
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "-".into()),
                    if f.bound_to.is_empty() {
                        "-".to_string()
                    } else {
                        f.bound_to.join(", ")
                    }
                );
                outln!("  {}", f.message);
            }
        }
        if let Some(n) = &notification {
            if n.sent {
                outln!(
                    "notified {} of {} finding(s): {}",
                    n.recipients.join(", "),
                    n.findings_mailed,
                    n.reply.as_deref().unwrap_or("")
                );
            } else if let (Some(s), false) = (&n.skipped, g.quiet) {
                outln!("no notification sent: {s}");
            }
        }
    }
    if let Some(e) = notification.as_ref().and_then(|n| n.error.as_ref()) {
        failln!("{e}");
    }
    Ok(if failed {
        super::send::DELIVERY_FAILED
    } else if report.healthy {
        exit::OK
    } else {
        exit::REJECTED
    })
}
