//! Operations on the farm: web applications, settings at the two levels, the effective
//! settings a web application sends with, and their health. Each change is one
//! transaction with its audit lines.

use crate::rules::Rule;
use mailcert_store::{CertRecord, Farm, Scope, SettingsRow, Tx, WebAppRow};
use zeroize::Zeroizing;

use crate::error::{Error, Field, Result, Violation};
use crate::settings::{
    CertificateCheck, Encryption, SettingsChange, SmtpSettings, ValidatedSmtpSettings, validate,
};
use crate::webapp::WebAppUrl;

/// Which settings a command is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The farm-wide default.
    Farm,
    /// One web application.
    WebApp(WebAppUrl),
}

impl Target {
    /// "farm" or the URL: the audit trail's object and `bound_to`'s label.
    pub fn label(&self) -> String {
        match self {
            Target::Farm => "farm".into(),
            Target::WebApp(u) => u.to_string(),
        }
    }
}

/// Where effective settings came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The farm-wide default.
    Farm,
    /// The web application's own settings.
    WebApplication,
}

/// The settings a target sends with, where they came from, and what is wrong with them.
#[derive(Debug, Clone)]
pub struct Effective {
    /// What was asked about.
    pub target: Target,
    /// Where the settings came from.
    pub source: Source,
    /// The settings.
    pub settings: SmtpSettings,
    /// The bound certificate, if it is still in the farm.
    pub certificate: Option<CertRecord>,
    /// Problems with the binding now: the bound certificate removed or no longer
    /// eligible, each reason a line. Empty when healthy.
    pub problems: Vec<String>,
    /// The farm's From address, used by a web application whose own settings set none.
    pub inherited_from: Option<String>,
    /// The farm's Reply-To address, used by a web application whose own settings set none.
    pub inherited_reply_to: Option<String>,
    /// The server whose own settings these are (they override the level's settings
    /// there), or `None` when they are the level's settings for every server.
    pub server: Option<String>,
}

impl Effective {
    /// The From address mail is sent with: the settings' own, else the farm's.
    pub fn from_address(&self) -> Option<&str> {
        self.settings
            .from_address
            .as_deref()
            .or(self.inherited_from.as_deref())
    }

    /// The Reply-To address mail is sent with: the settings' own, else the farm's.
    pub fn reply_to(&self) -> Option<&str> {
        self.settings
            .reply_to
            .as_deref()
            .or(self.inherited_reply_to.as_deref())
    }
}

/// The additional data that binds a sealed SMTP password to its settings level and to
/// the server, port and user it was given for: a password moved to other settings, or
/// left behind when the server changes, does not open.
fn password_aad(target: &Target, s: &SmtpSettings) -> Vec<u8> {
    format!(
        "mailcert:smtp-password:v2:{}\0{}\0{}\0{}",
        target.label(),
        s.smtp_server.to_ascii_lowercase(),
        s.port,
        s.smtp_user.as_deref().unwrap_or("")
    )
    .into_bytes()
}

/// The rule that keeps a stored password with the server it was given for.
fn password_follows_server(before: &SmtpSettings, after: &SmtpSettings) -> Option<Violation> {
    let mut moved = Vec::new();
    if !before.smtp_server.eq_ignore_ascii_case(&after.smtp_server) {
        moved.push("server");
    }
    if before.port != after.port {
        moved.push("port");
    }
    if before.smtp_user != after.smtp_user {
        moved.push("user");
    }
    if moved.is_empty() {
        return None;
    }
    Some(Violation {
        field: Field::Credentials,
        rule: Rule::PasswordFollowsServer.name(),
        message: format!(
            "the stored SMTP password was given for {} at {}:{}; a change of {} needs the password again, or the credentials removed",
            before.smtp_user.as_deref().unwrap_or("(no user)"),
            before.smtp_server,
            before.port,
            moved.join(" and ")
        ),
    })
}

fn scope_of(tx: &Tx<'_>, target: &Target) -> Result<(Scope, Option<WebAppRow>)> {
    match target {
        Target::Farm => Ok((Scope::Farm, None)),
        Target::WebApp(url) => {
            let w = tx
                .webapp_by_url(url.as_str())?
                .ok_or_else(|| Error::NoWebApp {
                    url: url.to_string(),
                })?;
            Ok((Scope::WebApp(w.id), Some(w)))
        }
    }
}

fn from_row(r: &SettingsRow) -> SmtpSettings {
    SmtpSettings {
        smtp_server: r.smtp_server.clone(),
        port: r.port,
        encryption: r.encryption,
        from_address: r.from_address.clone(),
        reply_to: r.reply_to.clone(),
        charset: r.charset.clone(),
        helo: r.helo.clone(),
        smtp_user: r.smtp_user.clone(),
        has_password: r.smtp_password_sealed.is_some(),
        certificate: r.certificate_sha1.clone(),
        tls_sender_name: r.tls_sender_name.clone(),
    }
}

/// Health of a binding at time `now`.
fn problems(tx: &Tx<'_>, s: &SmtpSettings, now: i64) -> Result<(Option<CertRecord>, Vec<String>)> {
    let Some(sha1) = &s.certificate else {
        return Ok((None, Vec::new()));
    };
    match tx.by_sha1(sha1)? {
        None => Ok((
            None,
            vec![format!("bound certificate {sha1} is no longer in the farm")],
        )),
        Some(c) => {
            let mut p: Vec<String> = c
                .findings(now)
                .iter()
                .map(|f| {
                    format!(
                        "bound certificate {} is no longer eligible: {}",
                        c.facts.describe(),
                        f.message()
                    )
                })
                .collect();
            if let Some(name) = &s.tls_sender_name
                && let Some(why) = mailcert_store::check_tls_sender_name(&c.facts, name)
            {
                p.push(format!("bound certificate {}: {why}", c.facts.describe()));
            }
            Ok((Some(c), p))
        }
    }
}

/// The host's name, the default HELO name.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && crate::settings::valid_host(s))
        .unwrap_or_else(|| "localhost".into())
}

/// Adds a web application.
pub fn add_webapp(
    farm: &mut Farm,
    url: &WebAppUrl,
    name: Option<&str>,
    now: i64,
) -> Result<WebAppRow> {
    farm.write(|tx| {
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        let w = tx.insert_webapp(url.as_str(), name, now)?;
        tx.audit(now, "webapp add", url.as_str(), name.unwrap_or(""))?;
        Ok(w)
    })
}

/// Removes a web application with its settings and binding. One with a certificate
/// bound to its own settings is removed only with `force` (as a bound certificate is).
pub fn remove_webapp(farm: &mut Farm, url: &WebAppUrl, force: bool, now: i64) -> Result<WebAppRow> {
    farm.write(|tx| {
        let (_, w) = scope_of(tx, &Target::WebApp(url.clone()))?;
        // Every binding of the application's settings goes with it: every server's and
        // each server's own.
        let bound: Vec<_> = tx
            .bindings(None)?
            .into_iter()
            .filter(|b| b.webapp_url.as_deref() == Some(url.as_str()))
            .collect();
        if let Some(b) = bound.first()
            && !force
        {
            return Err(Error::one(
                Field::Certificate,
                Rule::Bound.name(),
                format!(
                    "web application {url} has certificate {} bound to its own settings{}; removing it drops that binding, so force the removal to do so",
                    b.certificate_sha1,
                    b.server
                        .as_deref()
                        .map(|s| format!(" (server {s})"))
                        .unwrap_or_default()
                ),
            ));
        }
        for b in &bound {
            tx.audit(
                now,
                "unbind",
                &b.label(),
                &format!("{} (web application removed)", b.certificate_sha1),
            )?;
        }
        let w = w.ok_or_else(|| Error::NoWebApp {
            url: url.to_string(),
        })?;
        tx.delete_webapp(w.id)?;
        tx.audit(now, "webapp remove", url.as_str(), "")?;
        Ok(w)
    })
}

/// Every web application with its effective settings (None when neither it nor the
/// farm has any).
pub fn list_webapps(farm: &mut Farm, now: i64) -> Result<Vec<(WebAppRow, Option<Effective>)>> {
    farm.read(|tx| {
        let mut out = Vec::new();
        for w in tx.webapps()? {
            let target = Target::WebApp(WebAppUrl::parse(&w.url)?);
            let eff = effective_in(tx, &target, now)?;
            out.push((w, eff));
        }
        Ok(out)
    })
}

fn effective_in(tx: &Tx<'_>, target: &Target, now: i64) -> Result<Option<Effective>> {
    let (scope, _) = scope_of(tx, target)?;
    let (row, source) = match tx.settings(scope)? {
        Some(r) => (
            r,
            if scope == Scope::Farm {
                Source::Farm
            } else {
                Source::WebApplication
            },
        ),
        None => match tx.settings(Scope::Farm)? {
            Some(r) => (r, Source::Farm),
            None => return Ok(None),
        },
    };
    let settings = from_row(&row);
    let (certificate, problems) = problems(tx, &settings, now)?;
    // A web application's own settings without From or Reply-To take the farm's.
    let (mut inherited_from, mut inherited_reply_to) = (None, None);
    if source == Source::WebApplication
        && (settings.from_address.is_none() || settings.reply_to.is_none())
        && let Some(farm_row) = tx.settings(Scope::Farm)?
    {
        if settings.from_address.is_none() {
            inherited_from = farm_row.from_address;
        }
        if settings.reply_to.is_none() {
            inherited_reply_to = farm_row.reply_to;
        }
    }
    Ok(Some(Effective {
        target: target.clone(),
        source,
        settings,
        certificate,
        problems,
        inherited_from,
        inherited_reply_to,
        server: row.server.clone(),
    }))
}

/// The settings `target` sends with now.
pub fn effective(farm: &mut Farm, target: &Target, now: i64) -> Result<Effective> {
    farm.read(|tx| {
        effective_in(tx, target, now)?.ok_or_else(|| Error::NoSettings {
            scope: match target {
                Target::Farm => "the farm".into(),
                Target::WebApp(u) => format!("{u} (and the farm)"),
            },
            hint: "; set the farm's outgoing e-mail settings (at least the SMTP server) first",
        })
    })
}

/// Applies a change to the settings of `target`, keeping what the change leaves out.
/// Every rule is checked; on any failure nothing changes.
pub fn set(farm: &mut Farm, target: &Target, change: SettingsChange, now: i64) -> Result<Saved> {
    let password_given = matches!(change.credentials, Some(Some(_)));
    farm.write_with_key(password_given, |tx, master| {
        let (scope, _) = scope_of(tx, target)?;
        let server = change.server.as_deref();
        // Settings for a server that never joined would apply nowhere: a typo.
        if let Some(name) = server
            && tx.server(name)?.is_none()
        {
            return Err(Error::NoServer {
                name: name.to_string(),
            });
        }
        // A server's own settings start as a copy of the level's (for every server).
        let exact = tx.settings_at(scope, server)?;
        let creating = exact.is_none();
        let current = match (exact, server) {
            (None, Some(_)) => tx.settings_at(scope, None)?,
            (exact, _) => exact,
        };
        let first_time = current.is_none();
        let mut s = match &current {
            Some(r) => from_row(r),
            None => SmtpSettings {
                smtp_server: String::new(),
                port: 0,
                encryption: Encryption::StartTls,
                from_address: None,
                reply_to: None,
                charset: "utf-8".into(),
                helo: None,
                smtp_user: None,
                has_password: false,
                certificate: None,
                tls_sender_name: None,
            },
        };
        let before = s.clone();
        let current_sealed = current
            .as_ref()
            .and_then(|r| r.smtp_password_sealed.clone());
        let mut sealed = current_sealed.clone();
        if let Some(v) = change.smtp_server {
            s.smtp_server = v.trim().to_string();
        }
        if let Some(e) = change.encryption {
            s.encryption = e;
        }
        match change.port {
            Some(p) => s.port = p,
            None if first_time => s.port = s.encryption.default_port(),
            // A port that was the old encryption's default (never chosen) follows the
            // new encryption: 25 with starttls becomes 465 with tls, and back.
            None if s.encryption != before.encryption
                && before.port == before.encryption.default_port() =>
            {
                s.port = s.encryption.default_port();
            }
            None => {}
        }
        let clearable = |v: String| {
            let t = v.trim().to_string();
            (!t.is_empty()).then_some(t)
        };
        if let Some(v) = change.from_address {
            s.from_address = clearable(v);
        }
        if let Some(v) = change.reply_to {
            s.reply_to = clearable(v);
        }
        if let Some(v) = change.charset {
            s.charset = v.trim().to_ascii_lowercase();
        }
        if let Some(v) = change.helo {
            s.helo = clearable(v);
        }
        if let Some(v) = change.tls_sender_name {
            s.tls_sender_name = clearable(v).map(|n| n.to_ascii_lowercase());
        }
        let mut new_password = None;
        match &change.credentials {
            Some(Some(c)) => {
                let broken = crate::rules::credential_violations(&c.user, &c.password);
                if !broken.is_empty() {
                    return Err(Error::Invalid(broken));
                }
                s.smtp_user = Some(c.user.trim().to_string());
                s.has_password = true;
                new_password = Some(c.password.clone());
            }
            Some(None) => {
                s.smtp_user = None;
                s.has_password = false;
                sealed = None;
            }
            None => {
                if sealed.is_some()
                    && let Some(v) = password_follows_server(&before, &s)
                {
                    return Err(Error::Invalid(vec![v]));
                }
            }
        }
        let mut check = None;
        match change.certificate {
            Some(Some(reference)) => {
                let c = tx.resolve(&reference)?;
                s.certificate = Some(c.facts.thumbprint_sha1.clone());
                check = Some(cert_check(&c, now));
            }
            Some(None) => s.certificate = None,
            None => {
                if let Some(sha1) = &s.certificate {
                    check = Some(match tx.by_sha1(sha1)? {
                        Some(c) => cert_check(&c, now),
                        None => CertificateCheck {
                            described: sha1.clone(),
                            reasons: vec!["it is no longer in the farm".into()],
                        },
                    });
                }
            }
        }
        // The connector's certificate name, when set, must be one of the bound
        // certificate's DNS names: Exchange Online refuses the mail otherwise.
        if let (Some(name), Some(sha1)) = (&s.tls_sender_name, &s.certificate)
            && let Some(c) = tx.by_sha1(sha1)?
            && let Some(why) = mailcert_store::check_tls_sender_name(&c.facts, name)
        {
            return Err(Error::one(
                Field::TlsSenderName,
                Rule::TlsSenderName.name(),
                why,
            ));
        }
        let valid: ValidatedSmtpSettings = validate(s, check.as_ref())?;
        let v = valid.get();
        if let Some(password) = &new_password {
            let key = master.ok_or_else(|| {
                Error::from(mailcert_store::Error::Internal(
                    "the master key was not loaded to seal the SMTP password".into(),
                ))
            })?;
            sealed = Some(key.seal(password.as_bytes(), &password_aad(target, v))?);
        }
        // Nothing changed: nothing is written (not even the time of the change).
        if !creating && new_password.is_none() && &before == v && sealed == current_sealed {
            let effective = effective_in(tx, target, now)?.ok_or_else(|| Error::NoSettings {
                scope: target.label(),
                hint: "",
            })?;
            return Ok(Saved {
                effective,
                changes: Vec::new(),
            });
        }
        tx.put_settings(&SettingsRow {
            scope,
            smtp_server: v.smtp_server.clone(),
            port: v.port,
            encryption: v.encryption,
            from_address: v.from_address.clone(),
            reply_to: v.reply_to.clone(),
            charset: v.charset.clone(),
            helo: v.helo.clone(),
            smtp_user: v.smtp_user.clone(),
            smtp_password_sealed: sealed,
            certificate_sha1: v.certificate.clone(),
            updated_at: now,
            tls_sender_name: v.tls_sender_name.clone(),
            server: change.server.clone(),
        })?;
        let changes = audit_changes(
            tx,
            &level_label(target, server),
            &before,
            v,
            first_time,
            new_password.is_some(),
            now,
        )?;
        let effective = effective_in(tx, target, now)?.ok_or_else(|| Error::NoSettings {
            scope: target.label(),
            hint: "",
        })?;
        Ok(Saved { effective, changes })
    })
}

/// What [`set`] did: the settings now in force, and each change as `field: old -> new`
/// (never a secret); empty when nothing changed.
#[derive(Debug, Clone)]
pub struct Saved {
    /// The effective settings after the change.
    pub effective: Effective,
    /// The fields that changed; empty when the call changed nothing.
    pub changes: Vec<String>,
}

fn cert_check(c: &CertRecord, now: i64) -> CertificateCheck {
    CertificateCheck {
        described: c.facts.describe(),
        reasons: c.findings(now).iter().map(|f| f.message()).collect(),
    }
}

/// Writes the audit lines of a settings change (nothing when nothing changed) and returns
/// the changes as `field: old -> new`; a password is only ever "(changed)".
fn audit_changes(
    tx: &Tx<'_>,
    label: &str,
    before: &SmtpSettings,
    after: &SmtpSettings,
    first_time: bool,
    password_changed: bool,
    now: i64,
) -> Result<Vec<String>> {
    let mut changed = Vec::new();
    let mut note = |name: &str, a: String, b: String| {
        if first_time && !b.is_empty() {
            changed.push(format!("{name}: {b}"));
        } else if !first_time && a != b {
            let show = |v: &str| {
                if v.is_empty() {
                    "(none)".to_string()
                } else {
                    v.to_string()
                }
            };
            changed.push(format!("{name}: {} -> {}", show(&a), show(&b)));
        }
    };
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    note(
        "server",
        before.smtp_server.clone(),
        after.smtp_server.clone(),
    );
    note("port", before.port.to_string(), after.port.to_string());
    note(
        "encryption",
        before.encryption.to_string(),
        after.encryption.to_string(),
    );
    note("from", opt(&before.from_address), opt(&after.from_address));
    note("reply-to", opt(&before.reply_to), opt(&after.reply_to));
    note("charset", before.charset.clone(), after.charset.clone());
    note("helo", opt(&before.helo), opt(&after.helo));
    note("smtp-user", opt(&before.smtp_user), opt(&after.smtp_user));
    note(
        "tls-sender-name",
        opt(&before.tls_sender_name),
        opt(&after.tls_sender_name),
    );
    if password_changed {
        changed.push("smtp-password: (changed)".into());
    } else if before.has_password && !after.has_password {
        changed.push("smtp-password: (removed)".into());
    }
    if !changed.is_empty() {
        tx.audit(now, "settings change", label, &changed.join(", "))?;
    }
    if before.certificate != after.certificate {
        if let Some(old) = &before.certificate {
            tx.audit(now, "unbind", label, old)?;
        }
        if let Some(new) = &after.certificate {
            tx.audit(now, "bind", label, new)?;
        }
        changed.push(format!(
            "certificate: {} -> {}",
            before.certificate.as_deref().unwrap_or("(none)"),
            after.certificate.as_deref().unwrap_or("(none)")
        ));
    }
    Ok(changed)
}

/// The audit trail's object for a level's settings, for one server or every server.
fn level_label(target: &Target, server: Option<&str>) -> String {
    match server {
        Some(s) => format!("{} (server {s})", target.label()),
        None => target.label(),
    }
}

/// Drops one server's own settings for `target`, so that the server uses the level's
/// settings for every server again; whether there were any.
pub fn clear_server(farm: &mut Farm, target: &Target, server: &str, now: i64) -> Result<bool> {
    farm.write(|tx| {
        let (scope, _) = scope_of(tx, target)?;
        let label = level_label(target, Some(server));
        let old = tx.settings_at(scope, Some(server))?;
        let had = tx.delete_settings_at(scope, Some(server))?;
        if had {
            if let Some(c) = old.and_then(|o| o.certificate_sha1) {
                tx.audit(now, "unbind", &label, &c)?;
            }
            tx.audit(
                now,
                "settings change",
                &label,
                "cleared: the server uses the settings for every server",
            )?;
        }
        Ok(had)
    })
}

/// Drops a web application's own settings so that it falls back to the farm's.
pub fn clear(farm: &mut Farm, url: &WebAppUrl, now: i64) -> Result<bool> {
    farm.write(|tx| {
        let (scope, _) = scope_of(tx, &Target::WebApp(url.clone()))?;
        let old = tx.settings_at(scope, None)?;
        let had = tx.delete_settings(scope)?;
        if had {
            if let Some(c) = old.and_then(|o| o.certificate_sha1) {
                tx.audit(now, "unbind", url.as_str(), &c)?;
            }
            tx.audit(
                now,
                "settings change",
                url.as_str(),
                "cleared: falls back to the farm",
            )?;
        }
        Ok(had)
    })
}

/// Everything needed to send for a target: its settings, the SMTP password, the client
/// certificate with its chain and key, and the farm's trust anchors.
pub struct SendPlan {
    /// The effective settings.
    pub effective: Effective,
    /// The SMTP password, decrypted.
    pub password: Option<Zeroizing<String>>,
    /// The bound certificate's DER, then its intermediates (no root), when bound.
    pub chain: Vec<Vec<u8>>,
    /// The bound certificate's private key, opened.
    pub key: Option<mailcert_store::PrivateKey>,
    /// DER of every certificate in the farm's Root store.
    pub roots: Vec<Vec<u8>>,
}

impl std::fmt::Debug for SendPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendPlan")
            .field("effective", &self.effective)
            .field("chain_len", &self.chain.len())
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Resolves what `target` sends with; an unhealthy binding (bound certificate removed or
/// ineligible) is refused with the reasons, before any connection is made.
pub fn plan(farm: &mut Farm, target: &Target, now: i64) -> Result<SendPlan> {
    let mut effective = effective(farm, target, now)?;
    // What is sent carries the inherited From and Reply-To.
    if effective.settings.from_address.is_none() {
        effective.settings.from_address = effective.inherited_from.clone();
    }
    if effective.settings.reply_to.is_none() {
        effective.settings.reply_to = effective.inherited_reply_to.clone();
    }
    if !effective.problems.is_empty() {
        return Err(Error::Invalid(
            effective
                .problems
                .iter()
                .map(|p| crate::error::Violation {
                    field: Field::Certificate,
                    rule: Rule::CertificateEligible.name(),
                    message: p.clone(),
                })
                .collect(),
        ));
    }
    let source_target = match effective.source {
        Source::Farm => Target::Farm,
        Source::WebApplication => target.clone(),
    };
    let (sealed_password, chain, sealed_key, roots) = farm.read(|tx| {
        let (scope, _) = scope_of(tx, &source_target)?;
        let row = tx.settings(scope)?;
        // The password opens only with the server, port and user it was sealed for:
        // the settings of this same read, which `effective` holds too.
        let sealed_password = row.and_then(|r| r.smtp_password_sealed);
        let mut chain = Vec::new();
        let mut sealed_key = None;
        if let Some(c) = &effective.certificate {
            chain.push(tx.der(c.id)?);
            for i in mailcert_store::issuers(tx, c, false)? {
                chain.push(tx.der(i.id)?);
            }
            sealed_key = tx.sealed_key(c.id)?;
        }
        let mut roots = Vec::new();
        tx.list_each(
            &mailcert_store::CertFilter {
                store: Some(mailcert_store::StoreName::Root),
                ..Default::default()
            },
            now,
            |r| {
                roots.push(r.id);
                Ok(())
            },
        )?;
        let roots = roots
            .into_iter()
            .map(|id| tx.der(id))
            .collect::<mailcert_store::Result<Vec<_>>>()?;
        Ok::<_, Error>((sealed_password, chain, sealed_key, roots))
    })?;
    let password = match sealed_password {
        Some(s) => {
            let bytes = farm
                .master_key()?
                .open(
                    &s,
                    &password_aad(&source_target, &effective.settings),
                    &format!("the SMTP password of {}", source_target.label()),
                )
                .map_err(|e| match e {
                    mailcert_store::Error::Decrypt { .. } => Error::Invalid(vec![Violation {
                        field: Field::Credentials,
                        rule: Rule::PasswordFollowsServer.name(),
                        message: format!(
                            "the stored SMTP password of {} does not belong to {} at {}:{} (it was given for other settings, or by an older mailcert); give the user and password again",
                            source_target.label(),
                            effective.settings.smtp_user.as_deref().unwrap_or("(no user)"),
                            effective.settings.smtp_server,
                            effective.settings.port
                        ),
                    }]),
                    other => other.into(),
                })?;
            Some(Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned()))
        }
        None => None,
    };
    let key = match (&effective.certificate, sealed_key) {
        (Some(c), Some(s)) => Some(mailcert_store::open_private_key(farm, c, &s)?),
        _ => None,
    };
    Ok(SendPlan {
        effective,
        password,
        chain,
        key,
        roots,
    })
}
