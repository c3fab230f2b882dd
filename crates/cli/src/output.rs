//! Rendering certificates for people (tables, details) and for machines (JSON fields
//! fixed by the interface contract).

use mailcert_store::{CertRecord, eku_name, rfc3339};
use serde::Serialize;

/// The contract's JSON form of a certificate.
#[derive(Debug, Serialize)]
pub(crate) struct CertJson<'a> {
    thumbprint_sha1: &'a str,
    thumbprint_sha256: &'a str,
    subject: &'a str,
    issuer: &'a str,
    subject_cn: Option<&'a str>,
    serial: &'a str,
    not_before: String,
    not_after: String,
    days_left: i64,
    store: &'a str,
    friendly_name: Option<&'a str>,
    has_private_key: bool,
    exportable: bool,
    key_type: String,
    eku: Option<&'a [String]>,
    key_usage: Option<&'a [String]>,
    subject_alt_names: &'a [String],
    is_ca: bool,
    self_signed: bool,
    eligible: bool,
    reasons: Vec<String>,
    bound_to: Vec<String>,
    /// The key id of a pending renewal request for this certificate.
    renewal_pending: Option<String>,
}

impl CertJson<'_> {
    /// Marks a pending renewal (`cert renew`) by its request's key id.
    pub(crate) fn with_renewal(mut self, key_id: Option<String>) -> Self {
        self.renewal_pending = key_id;
        self
    }
}

pub(crate) use mailcert_store::days_until;

pub(crate) fn cert_json<'a>(c: &'a CertRecord, now: i64, bound_to: Vec<String>) -> CertJson<'a> {
    let findings = c.findings(now);
    CertJson {
        thumbprint_sha1: &c.facts.thumbprint_sha1,
        thumbprint_sha256: &c.facts.thumbprint_sha256,
        subject: &c.facts.subject,
        issuer: &c.facts.issuer,
        subject_cn: c.facts.subject_cn.as_deref(),
        serial: &c.facts.serial,
        not_before: rfc3339(c.facts.not_before),
        not_after: rfc3339(c.facts.not_after),
        days_left: days_until(c.facts.not_after, now),
        store: c.store.as_str(),
        friendly_name: c.friendly_name.as_deref(),
        has_private_key: c.has_private_key,
        exportable: c.exportable,
        key_type: c.facts.key_type.label(),
        eku: c.facts.eku.as_deref(),
        key_usage: c.facts.key_usage.as_deref(),
        subject_alt_names: &c.facts.sans,
        is_ca: c.facts.is_ca,
        self_signed: c.facts.self_signed,
        eligible: findings.is_empty(),
        reasons: findings.iter().map(|f| f.message()).collect(),
        bound_to,
        renewal_pending: None,
    }
}

fn date(t: i64) -> String {
    mailcert_store::date(t)
}

/// Width of the NAME column unless `--wide` makes room for the longest name.
pub(crate) const NAME_WIDTH: usize = 24;

/// Header of the people's table, with a NAME column `name_width` wide.
pub(crate) fn table_header(name_width: usize) -> String {
    format!(
        "{:<40}  {:<12}  {:<name_width$}  {:<10}  {:>5}  {:<3}  {:<5}  {}",
        "THUMBPRINT (SHA-1)", "STORE", "NAME", "EXPIRES", "DAYS", "KEY", "BOUND", "ELIGIBLE"
    )
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// The NAME column: the friendly name, else `cn:` and the common name, so that what is
/// shown is also a reference that finds the certificate.
pub(crate) fn list_name(c: &CertRecord) -> String {
    match (&c.friendly_name, &c.facts.subject_cn) {
        (Some(n), _) => n.clone(),
        (None, Some(cn)) => format!("cn:{cn}"),
        (None, None) => c.facts.subject.clone(),
    }
}

/// The NAME column's text as the terminal shows it (escaped).
pub(crate) fn shown_name(c: &CertRecord) -> String {
    crate::out::sanitize(&list_name(c)).into_owned()
}

/// One row of the people's table, escaped and (on a coloured terminal) coloured: the
/// NAME column is `name_width` wide, longer names clipped with `…` unless `wide`.
pub(crate) fn table_row(
    c: &CertRecord,
    now: i64,
    flags: RowFlags,
    name_width: usize,
    wide: bool,
) -> String {
    use crate::color::{Stream, Style};
    let findings = c.findings(now);
    // Eligibility is a question for End Entity certificates only.
    let (mut eligible, style) = if c.store != mailcert_store::StoreName::EndEntity {
        ("—".to_string(), None)
    } else if findings.is_empty() {
        ("yes".to_string(), Some(Style::Good))
    } else {
        let rules: Vec<&str> = findings.iter().map(|f| f.rule.name()).collect();
        (format!("no ({})", rules.join(", ")), Some(Style::Bad))
    };
    if flags.renewal_pending {
        eligible.push_str("; renewal pending");
    }
    let days = days_until(c.facts.not_after, now);
    // Width is counted on the text as shown: escaped first, then clipped and padded,
    // then coloured.
    let shown = shown_name(c);
    let name = if wide {
        shown
    } else {
        clip(&shown, name_width)
    };
    let head = format!(
        "{:<40}  {:<12}  {:<name_width$}  {:<10}  ",
        c.facts.thumbprint_sha1,
        c.store.as_str(),
        name,
        date(c.facts.not_after),
    );
    let days_text = format!("{days:>5}");
    let days_style = (days < 0).then_some(Style::Bad);
    let tail = format!(
        "  {:<3}  {:<5}  ",
        if c.has_private_key { "yes" } else { "no" },
        if flags.bound { "yes" } else { "no" },
    );
    crate::out::render(
        Stream::Stdout,
        &[
            (None, &head),
            (days_style, &days_text),
            (None, &tail),
            (style, &eligible),
        ],
    )
}

/// What a table row shows beyond the certificate itself.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RowFlags {
    /// Bound to some outgoing e-mail settings.
    pub(crate) bound: bool,
    /// A renewal request for it is waiting for its certificate.
    pub(crate) renewal_pending: bool,
}

/// The detailed view of `cert show`.
pub(crate) fn details(
    c: &CertRecord,
    now: i64,
    chain: &[CertRecord],
    bound_to: &[String],
) -> String {
    let f = &c.facts;
    let mut out = String::new();
    let mut line = |k: &str, v: &str| out.push_str(&format!("{k:<20} {v}\n"));
    line(
        "Friendly name:",
        c.friendly_name.as_deref().unwrap_or("(none)"),
    );
    line("Subject:", &f.subject);
    line("Issuer:", &f.issuer);
    line("Serial:", &f.serial);
    line("Thumbprint SHA-1:", &f.thumbprint_sha1);
    line("Thumbprint SHA-256:", &f.thumbprint_sha256);
    line("Valid from:", &rfc3339(f.not_before));
    let days = days_until(f.not_after, now);
    let left = if days < 0 {
        format!("{} (expired {} days ago)", rfc3339(f.not_after), -days)
    } else {
        format!("{} ({days} days left)", rfc3339(f.not_after))
    };
    line("Valid to:", &left);
    line("Store:", c.store.display_name());
    line("Key type:", &f.key_type.to_string());
    line(
        "Private key:",
        match (c.has_private_key, c.exportable) {
            (true, true) => "yes (exportable)",
            (true, false) => "yes (not exportable)",
            (false, _) => "no",
        },
    );
    let eku = match &f.eku {
        None => "(no extension: any purpose)".to_string(),
        Some(list) => list
            .iter()
            .map(|o| eku_name(o))
            .collect::<Vec<_>>()
            .join(", "),
    };
    line("Extended key usage:", &eku);
    let ku = match &f.key_usage {
        None => "(no extension)".to_string(),
        Some(list) => list.join(", "),
    };
    line("Key usage:", &ku);
    if !f.sans.is_empty() {
        line("Alternative names:", &f.sans.join(", "));
    }
    line("CA:", if f.is_ca { "yes" } else { "no" });
    if !chain.is_empty() {
        let names: Vec<String> = chain
            .iter()
            .map(|x| format!("{} [{}]", x.display_name(), x.store))
            .collect();
        line("Chain in farm:", &names.join(" <- "));
    }
    line(
        "Bound to:",
        &if bound_to.is_empty() {
            "(nothing)".to_string()
        } else {
            bound_to.join(", ")
        },
    );
    let findings = c.findings(now);
    if findings.is_empty() {
        line("Client auth:", "eligible");
    } else {
        line("Client auth:", "NOT eligible");
        for fi in findings {
            out.push_str(&format!("  - {}\n", fi.message()));
        }
    }
    out
}
