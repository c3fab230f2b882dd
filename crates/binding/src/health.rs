//! SharePoint's certificate health rules over the certificates that outgoing mail depends
//! on (the bound ones), plus our own `binding-broken`, and the bookkeeping that keeps
//! notifications to once a day per certificate and rule.

use std::collections::BTreeMap;

use mailcert_store::{CertificateSettings, Farm, RuleId, days_until};

use crate::error::Result;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// How serious a finding is, as SharePoint's Health Analyzer grades them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something to plan for.
    Attention,
    /// Something to act on soon.
    Warning,
    /// Mail is failing, or will at any moment.
    Error,
}

impl Severity {
    /// The name in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Attention => "attention",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The health rules, with what each checks: the one list the CLI help, the web page and
/// the documentation render.
pub const HEALTH_RULES: [(&str, Severity, &str); 6] = [
    (
        "no-contacts",
        Severity::Warning,
        "certificates are bound but there are no notification contacts to tell about them",
    ),
    (
        "upcoming-expiration",
        Severity::Attention,
        "a bound certificate expires within the attention threshold (60 days by default)",
    ),
    (
        "about-to-expire",
        Severity::Warning,
        "a bound certificate expires within the warning threshold (15 days by default)",
    ),
    (
        "expired",
        Severity::Error,
        "a bound certificate has expired (reported for the error threshold, 15 days by default, then as binding-broken)",
    ),
    (
        "binding-broken",
        Severity::Error,
        "a bound certificate was removed, moved out of End Entity or is otherwise not eligible",
    ),
    (
        "tls-sender-name",
        Severity::Error,
        "settings name an Exchange Online connector certificate name that the bound certificate does not carry",
    ),
];

/// One rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HealthFinding {
    /// The rule's name.
    pub rule: &'static str,
    /// How serious it is.
    pub severity: Severity,
    /// The certificate concerned, if any.
    pub thumbprint_sha1: Option<String>,
    /// Where it is bound: `"farm"` and web application URLs.
    pub bound_to: Vec<String>,
    /// Whole days until it expires (negative: days since it expired).
    pub days_left: Option<i64>,
    /// What is wrong and what to do, in words.
    pub message: String,
}

impl HealthFinding {
    /// The key under which notifications of this finding are counted.
    fn notification_key(&self) -> (&str, &'static str) {
        (self.thumbprint_sha1.as_deref().unwrap_or(""), self.rule)
    }
}

/// The result of running every rule at one time.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HealthReport {
    /// No rule fired.
    pub healthy: bool,
    /// The findings, most severe first.
    pub findings: Vec<HealthFinding>,
    /// The notification contacts.
    #[serde(skip)]
    pub contacts: Vec<String>,
    /// The thresholds in force.
    #[serde(skip)]
    pub settings: CertificateSettings,
}

fn renew_hint(pending: Option<&String>) -> String {
    match pending {
        Some(key_id) => {
            format!("a renewal is pending (request {key_id}): have it signed and import it")
        }
        None => "renew it (a new request with the same subject and names), or import a replacement that takes over its bindings".to_owned(),
    }
}

/// Runs the health rules at `now` over every bound certificate.
pub fn health(farm: &mut Farm, now: i64) -> Result<HealthReport> {
    farm.read(|tx| {
        let settings = tx.certificate_settings()?;
        let contacts = tx.contacts()?;
        let mut bound: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut connector_names: Vec<(String, String, String)> = Vec::new();
        for b in tx.bindings(None)? {
            let scope = match &b.webapp_url {
                None => Some(mailcert_store::Scope::Farm),
                Some(url) => tx
                    .webapp_by_url(url)?
                    .map(|w| mailcert_store::Scope::WebApp(w.id)),
            };
            // The row this binding belongs to: every server's, or one server's own.
            if let Some(name) = scope
                .map(|s| tx.settings_at(s, b.server.as_deref()))
                .transpose()?
                .flatten()
                .and_then(|r| r.tls_sender_name)
            {
                connector_names.push((b.certificate_sha1.clone(), b.label(), name));
            }
            bound
                .entry(b.certificate_sha1.clone())
                .or_default()
                .push(b.label());
        }
        let pending = tx.pending_renewals()?;
        let mut findings = Vec::new();
        if !bound.is_empty() && contacts.is_empty() {
            findings.push(HealthFinding {
                rule: "no-contacts",
                severity: Severity::Warning,
                thumbprint_sha1: None,
                bound_to: Vec::new(),
                days_left: None,
                message: format!(
                    "{} certificate(s) are bound but nobody is notified about them; add a contact: mailcert settings contacts add ADDR",
                    bound.len()
                ),
            });
        }
        for (sha1, labels) in &bound {
            let Some(c) = tx.by_sha1(sha1)? else {
                findings.push(HealthFinding {
                    rule: "binding-broken",
                    severity: Severity::Error,
                    thumbprint_sha1: Some(sha1.clone()),
                    bound_to: labels.clone(),
                    days_left: None,
                    message: format!(
                        "the bound certificate {sha1} is no longer in the farm; bind another certificate to these settings"
                    ),
                });
                continue;
            };
            let name = c.facts.describe();
            let left = days_until(c.facts.not_after, now);
            let expired = now > c.facts.not_after;
            let hint = renew_hint(pending.get(sha1));
            let finding = |rule, severity, message: String| HealthFinding {
                rule,
                severity,
                thumbprint_sha1: Some(sha1.clone()),
                bound_to: labels.clone(),
                days_left: Some(left),
                message,
            };
            let mut expired_reported = false;
            if expired {
                let since = now - c.facts.not_after;
                if settings.error_days > 0 && since <= i64::from(settings.error_days) * DAY {
                    expired_reported = true;
                    findings.push(finding(
                        "expired",
                        Severity::Error,
                        format!(
                            "{name} expired on {}; mail through {} is refused by the relay; {hint}",
                            mailcert_store::rfc3339(c.facts.not_after),
                            labels.join(", ")
                        ),
                    ));
                }
            } else if settings.warning_days > 0
                && c.facts.not_after - now <= i64::from(settings.warning_days) * DAY
            {
                findings.push(finding(
                    "about-to-expire",
                    Severity::Warning,
                    format!(
                        "{name} expires on {} ({left} day(s) left); {hint}",
                        mailcert_store::rfc3339(c.facts.not_after)
                    ),
                ));
            } else if settings.attention_days > 0
                && c.facts.not_after - now <= i64::from(settings.attention_days) * DAY
            {
                findings.push(finding(
                    "upcoming-expiration",
                    Severity::Attention,
                    format!(
                        "{name} expires on {} ({left} day(s) left); {hint}",
                        mailcert_store::rfc3339(c.facts.not_after)
                    ),
                ));
            }
            let reasons: Vec<String> = c
                .findings(now)
                .into_iter()
                .filter(|f| !(expired_reported && f.rule == RuleId::Validity))
                .map(|f| f.message())
                .collect();
            if !reasons.is_empty() {
                findings.push(finding(
                    "binding-broken",
                    Severity::Error,
                    format!(
                        "{name} is bound to {} but is not eligible: {}",
                        labels.join(", "),
                        reasons.join("; ")
                    ),
                ));
            }
        }
        for (sha1, label, name) in connector_names {
            if let Some(c) = tx.by_sha1(&sha1)?
                && let Some(why) = mailcert_store::check_tls_sender_name(&c.facts, &name)
            {
                findings.push(HealthFinding {
                    rule: "tls-sender-name",
                    severity: Severity::Error,
                    thumbprint_sha1: Some(sha1.clone()),
                    bound_to: vec![label],
                    days_left: Some(days_until(c.facts.not_after, now)),
                    message: format!("{}: {why}", c.facts.describe()),
                });
            }
        }
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.days_left.cmp(&b.days_left))
        });
        Ok(HealthReport {
            healthy: findings.is_empty(),
            findings,
            contacts,
            settings,
        })
    })
}

/// The findings of `report` that have not been mailed within the last day: the ones a
/// notification run at `now` sends.
pub fn due_notifications<'a>(
    farm: &mut Farm,
    report: &'a HealthReport,
    now: i64,
) -> Result<Vec<&'a HealthFinding>> {
    farm.read(|tx| {
        let mut due = Vec::new();
        for f in &report.findings {
            let (sha1, rule) = f.notification_key();
            match tx.last_notified(sha1, rule)? {
                Some(last) if now - last < DAY && now >= last => {}
                _ => due.push(f),
            }
        }
        Ok(due)
    })
}

/// Records that `mailed` were sent at `now`, in one transaction with an audit line.
pub fn record_notified(
    farm: &mut Farm,
    mailed: &[&HealthFinding],
    recipients: &[String],
    now: i64,
) -> Result<()> {
    farm.write(|tx| {
        for f in mailed {
            let (sha1, rule) = f.notification_key();
            tx.set_notified(sha1, rule, now)?;
        }
        tx.audit(
            now,
            "notify",
            "certificate health",
            &format!(
                "{} finding(s) mailed to {}",
                mailed.len(),
                recipients.join(", ")
            ),
        )?;
        Ok(())
    })
}

/// The summary e-mail's subject and body for `due` findings (of `total` in all).
pub fn notification_text(
    due: &[&HealthFinding],
    total: usize,
    farm_name: &str,
) -> (String, String) {
    let worst = due
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Attention);
    let subject = format!(
        "[mailcert {}] {} certificate health finding(s) on {farm_name}",
        worst.as_str(),
        due.len()
    );
    let mut body = format!(
        "mailcert checked the certificates that outgoing mail depends on ({farm_name}).\n\n"
    );
    for f in due {
        body.push_str(&format!(
            "{} {}{}\n  {}\n",
            f.severity.as_str().to_uppercase(),
            f.rule,
            f.thumbprint_sha1
                .as_deref()
                .map(|s| format!(" - certificate {s}"))
                .unwrap_or_default(),
            f.message
        ));
        if !f.bound_to.is_empty() {
            body.push_str(&format!("  bound to: {}\n", f.bound_to.join(", ")));
        }
        if let (Some(sha1), true) = (
            &f.thumbprint_sha1,
            matches!(
                f.rule,
                "upcoming-expiration" | "about-to-expire" | "expired"
            ),
        ) {
            body.push_str(&format!(
                "  to renew: mailcert cert renew {sha1}, or Renew on the certificate's page in Central Administration\n"
            ));
        }
        body.push('\n');
    }
    if total > due.len() {
        body.push_str(&format!(
            "{} other finding(s) were mailed within the last day and are not repeated.\n\n",
            total - due.len()
        ));
    }
    body.push_str("Run `mailcert health` for the current state. You receive this because you are a certificate notification contact (mailcert settings contacts list).\n");
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_toward_the_past() {
        assert_eq!(days_until(1000 + DAY * 3 + 5, 1000), 3);
        assert_eq!(days_until(1000 - 5, 1000), -1);
        assert_eq!(days_until(1000, 1000), 0);
    }

    #[test]
    fn rule_names_are_unique() {
        let mut names: Vec<&str> = HEALTH_RULES.iter().map(|r| r.0).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), HEALTH_RULES.len());
    }
}
