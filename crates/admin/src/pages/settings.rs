//! "Outgoing E-Mail Settings" for the farm and for each web application, with SharePoint's
//! fields, the client certificate drop-down (eligible End Entity certificates only), and
//! the test buttons; above [`SEARCH_ABOVE`] certificates a search box with suggestions
//! picks one. "Use the farm's settings" asks for confirmation first. Saving calls
//! `mailcert_binding::set`, so the rules of `mailcert smtp set` apply; a broken rule is
//! shown beside its field with the user's input kept, and nothing changes. When this
//! server's queue holds deferred or failed mail sent with the settings shown, a warning
//! with the last reply links to the Queue.

use std::path::Path;
use std::str::FromStr;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mailcert_binding::{
    CHARSETS, Credentials, Effective, Encryption, Field, SettingsChange, SmtpSettings, Source,
    Target, WebAppUrl,
};
use mailcert_store::{CertRecord, Farm};
use maud::{Markup, html};
use zeroize::Zeroizing;

use crate::auth::Admin;
use crate::forms::{AdminForm, FormData};
use crate::html::{Nav, csrf_field, date, described_by, error_id, field_errors, page};
use crate::pages::queue::{QueueNote, note_for, warning as queue_warning};
use crate::pages::webapps::settings_href;
use crate::pages::{PageError, error_flash, flash_redirect};
use crate::session::{Flash, FlashKind};
use crate::state::{Shared, with_farm};

/// The text of a certificate in the drop-down:
/// `<subject CN> (<friendly name>) [Expiration: <YYYY-MM-DD>]`.
pub(crate) fn option_text(c: &CertRecord) -> String {
    format!(
        "{} ({}) [Expiration: {}]",
        c.facts.subject_cn.as_deref().unwrap_or(&c.facts.subject),
        c.friendly_name.as_deref().unwrap_or("no friendly name"),
        date(c.facts.not_after)
    )
}

/// The form's values as shown (from the stored settings or from what was typed). Never
/// holds the password.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Values {
    smtp_server: String,
    port: String,
    from_address: String,
    reply_to: String,
    charset: String,
    helo: String,
    authenticated: bool,
    smtp_user: String,
    encryption: String,
    use_certificate: bool,
    certificate: String,
    /// What was typed into the certificate search box (offered with more than
    /// [`SEARCH_ABOVE`] certificates); when filled it decides over the drop-down.
    certificate_find: String,
    tls_sender_name: String,
}

impl Values {
    fn blank() -> Values {
        Values {
            smtp_server: String::new(),
            port: String::new(),
            from_address: String::new(),
            reply_to: String::new(),
            charset: "utf-8".into(),
            helo: String::new(),
            authenticated: false,
            smtp_user: String::new(),
            encryption: Encryption::StartTls.as_str().into(),
            use_certificate: false,
            certificate: String::new(),
            certificate_find: String::new(),
            tls_sender_name: String::new(),
        }
    }

    fn from_settings(s: &SmtpSettings) -> Values {
        Values {
            smtp_server: s.smtp_server.clone(),
            port: s.port.to_string(),
            from_address: s.from_address.clone().unwrap_or_default(),
            reply_to: s.reply_to.clone().unwrap_or_default(),
            charset: s.charset.clone(),
            helo: s.helo.clone().unwrap_or_default(),
            authenticated: s.smtp_user.is_some(),
            smtp_user: s.smtp_user.clone().unwrap_or_default(),
            encryption: s.encryption.as_str().into(),
            use_certificate: s.certificate.is_some(),
            certificate: s.certificate.clone().unwrap_or_default(),
            certificate_find: String::new(),
            tls_sender_name: s.tls_sender_name.clone().unwrap_or_default(),
        }
    }

    fn from_form(d: &FormData) -> Values {
        Values {
            smtp_server: d.get("smtp_server").to_string(),
            port: d.get("port").to_string(),
            from_address: d.get("from_address").to_string(),
            reply_to: d.get("reply_to").to_string(),
            charset: d.get("charset").to_string(),
            helo: d.get("helo").to_string(),
            authenticated: d.get("auth") == "authenticated",
            smtp_user: d.get("smtp_user").to_string(),
            encryption: d.get("encryption").to_string(),
            use_certificate: d.get("use_certificate") == "yes",
            certificate: d.get("certificate").trim().to_string(),
            certificate_find: d.get("certificate_find").trim().to_string(),
            tls_sender_name: d.get("tls_sender_name").trim().to_string(),
        }
    }
}

/// With more certificates than this in the drop-down, a search box with suggestions
/// (a `<datalist>`, no script) is offered above it.
const SEARCH_ABOVE: usize = 10;

/// The thumbprint of the one certificate among `options` that `typed` names: its
/// drop-down text or thumbprint exactly, else the only one whose text or thumbprint
/// contains it (any case). Why none is chosen otherwise.
fn find_certificate(options: &[CertRecord], typed: &str) -> Result<String, String> {
    let needle = typed.trim().to_lowercase();
    let hex: String = needle
        .chars()
        .filter(|c| !matches!(c, ':' | ' '))
        .collect::<String>()
        .to_ascii_uppercase();
    let sha1 = |c: &CertRecord| c.facts.thumbprint_sha1.clone();
    if let Some(c) = options
        .iter()
        .find(|c| option_text(c).to_lowercase() == needle || c.facts.thumbprint_sha1 == hex)
    {
        return Ok(sha1(c));
    }
    let hits: Vec<&CertRecord> = options
        .iter()
        .filter(|c| {
            option_text(c).to_lowercase().contains(&needle)
                || (!hex.is_empty() && c.facts.thumbprint_sha1.contains(&hex))
        })
        .collect();
    match hits.as_slice() {
        [one] => Ok(sha1(one)),
        [] => Err(format!(
            "no eligible certificate matches “{}”: choose one from the list",
            typed.trim()
        )),
        many => Err(format!(
            "“{}” matches {} certificates: type more of its name, or empty the search box and choose from the list",
            typed.trim(),
            many.len()
        )),
    }
}

/// What is stored at exactly the page's level (not inherited from the farm).
#[derive(Debug, Default)]
struct Stored {
    smtp_user: Option<String>,
    has_password: bool,
    certificate: Option<String>,
}

/// Turns the form into the change `mailcert_binding::set` applies. Problems that are
/// about the form itself (a port that is not a number, no certificate chosen, a user
/// without a password) are reported here; every settings rule is the binding crate's.
fn build_change(
    v: &Values,
    password: Zeroizing<String>,
    stored: &Stored,
) -> (SettingsChange, Vec<(Field, String)>) {
    let mut errors = Vec::new();
    let port = match v.port.trim() {
        "" => None,
        // The binding crate's port rule, as the CLI applies it.
        p => match mailcert_binding::parse_port(p) {
            Ok(n) => Some(n),
            Err(e) => {
                for v in e.violations() {
                    errors.push((Field::Port, v.message.clone()));
                }
                None
            }
        },
    };
    let encryption = match Encryption::from_str(&v.encryption) {
        Ok(e) => Some(e),
        Err(_) => {
            errors.push((
                Field::Encryption,
                "choose whether to use TLS connection encryption".into(),
            ));
            None
        }
    };
    let certificate = if !v.use_certificate {
        Some(None)
    } else if !v.certificate.is_empty() {
        Some(Some(v.certificate.clone()))
    } else if stored.certificate.is_some() {
        // Keep the bound one; the binding rules re-check it.
        None
    } else {
        errors.push((
            Field::Certificate,
            "choose a client certificate, or answer No to “Use client certificate authentication”"
                .into(),
        ));
        None
    };
    let user = v.smtp_user.trim().to_string();
    let credentials = if !v.authenticated {
        Some(None)
    } else if !password.is_empty() {
        Some(Some(Credentials { user, password }))
    } else if stored.has_password && stored.smtp_user.as_deref() == Some(user.as_str()) {
        // Empty password field: keep the stored one.
        None
    } else if stored.has_password {
        errors.push((
            Field::Credentials,
            "enter the password again to change the user name".into(),
        ));
        None
    } else {
        errors.push((
            Field::Credentials,
            "enter the SMTP password for this user".into(),
        ));
        None
    };
    let change = SettingsChange {
        smtp_server: Some(v.smtp_server.clone()),
        port,
        encryption,
        certificate,
        from_address: Some(v.from_address.clone()),
        reply_to: Some(v.reply_to.clone()),
        charset: Some(v.charset.clone()),
        helo: Some(v.helo.clone()),
        credentials,
        tls_sender_name: Some(v.tls_sender_name.clone()),
    };
    (change, errors)
}

/// What the page needs from the farm.
struct Loaded {
    /// The effective settings (`None`: neither this level nor the farm has any).
    effective: Option<Effective>,
    /// Whether this level has settings of its own.
    own: bool,
    /// The certificates the drop-down offers.
    options: Vec<CertRecord>,
    /// What this server's queue holds for these settings.
    queue: QueueNote,
}

impl Loaded {
    fn stored(&self) -> Stored {
        match (&self.effective, self.own) {
            (Some(e), true) => Stored {
                smtp_user: e.settings.smtp_user.clone(),
                has_password: e.settings.has_password,
                certificate: e.settings.certificate.clone(),
            },
            _ => Stored::default(),
        }
    }
}

/// Eligible certificates of the End Entity store, as the store's filter finds them.
fn eligible(farm: &mut Farm, now: i64) -> mailcert_store::Result<Vec<CertRecord>> {
    farm.read(|tx| tx.eligible_end_entity(now))
}

fn load(
    farm: &mut Farm,
    target: &Target,
    spool: Option<&Path>,
    now: i64,
) -> Result<Loaded, PageError> {
    let effective = match mailcert_binding::effective(farm, target, now) {
        Ok(e) => Some(e),
        Err(mailcert_binding::Error::NoSettings { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let own = match (target, &effective) {
        (_, None) => false,
        (Target::Farm, Some(_)) => true,
        (Target::WebApp(_), Some(e)) => e.source == Source::WebApplication,
    };
    Ok(Loaded {
        effective,
        own,
        options: eligible(farm, now)?,
        queue: note_for(farm, target, spool, now),
    })
}

/// Where the settings page of `target` is.
fn page_href(target: &Target) -> String {
    match target {
        Target::Farm => "/settings/farm".into(),
        Target::WebApp(u) => settings_href(u.as_str()),
    }
}

fn target_value(target: &Target) -> String {
    match target {
        Target::Farm => "farm".into(),
        Target::WebApp(u) => u.to_string(),
    }
}

fn parse_target(s: &str) -> Result<Target, PageError> {
    if s == "farm" {
        Ok(Target::Farm)
    } else {
        WebAppUrl::parse(s)
            .map(Target::WebApp)
            .map_err(|e| PageError::NotFound(e.to_string()))
    }
}

/// Everything one rendering of the page needs.
struct View<'a> {
    target: &'a Target,
    loaded: &'a Loaded,
    values: &'a Values,
    errors: &'a [(Field, String)],
    can_test: bool,
}

impl View<'_> {
    fn errs(&self, field: Field) -> Vec<String> {
        self.errors
            .iter()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.clone())
            .collect()
    }
}

/// The fields shown beside a form control.
const PLACED: [Field; 10] = [
    Field::Server,
    Field::Port,
    Field::Encryption,
    Field::From,
    Field::ReplyTo,
    Field::Charset,
    Field::Helo,
    Field::Credentials,
    Field::Certificate,
    Field::TlsSenderName,
];

/// A labelled text input with its errors.
fn text_field(
    v: &View<'_>,
    id: &str,
    label: &str,
    value: &str,
    field: Field,
    help: Option<&str>,
) -> Markup {
    let errors = v.errs(field);
    let help_id = format!("{id}-help");
    let describedby = described_by([help.map(|_| help_id.clone()), error_id(id, &errors)]);
    html! {
        div.field.invalid[!errors.is_empty()] {
            label for=(id) { (label) }
            div.control {
                input id=(id) type="text" name=(id) value=(value)
                    aria-invalid=[(!errors.is_empty()).then_some("true")]
                    aria-describedby=[describedby];
                @if let Some(h) = help { p.help id=(help_id) { (h) } }
                (field_errors(id, &errors))
            }
        }
    }
}

fn radio(name: &str, value: &str, label: &str, checked: bool) -> Markup {
    let id = format!("{name}-{value}");
    html! {
        span {
            input id=(id) type="radio" name=(name) value=(value) checked[checked];
            " "
            label for=(id) { (label) }
        }
    }
}

/// The search box over a long certificate drop-down: suggestions from a `<datalist>`
/// as the browser filters them while typing; the server resolves what was typed.
fn certificate_search(v: &View<'_>) -> Markup {
    html! {
        div.find {
            label for="certificate_find" { "Find a certificate" }
            input #certificate_find type="text" name="certificate_find" list="certificate-choices"
                value=(v.values.certificate_find) autocomplete="off"
                aria-describedby="certificate_find-help";
            datalist #certificate-choices {
                @for c in &v.loaded.options { option value=(option_text(c)) {} }
            }
            p.help #certificate_find-help {
                "Type part of its name, subject or thumbprint and pick a suggestion. When filled, this decides over the list below."
            }
        }
    }
}

fn settings_page(admin: &Admin, v: &View<'_>) -> Markup {
    let values = v.values;
    let (title, active) = match v.target {
        Target::Farm => ("Outgoing E-Mail Settings".to_string(), Nav::FarmSettings),
        Target::WebApp(u) => (format!("Outgoing E-Mail Settings: {u}"), Nav::WebApps),
    };
    let stored = v.loaded.stored();
    let effective = v.loaded.effective.as_ref();
    let unplaced: Vec<&String> = v
        .errors
        .iter()
        .filter(|(f, _)| !PLACED.contains(f))
        .map(|(_, m)| m)
        .collect();
    let cert_errors = v.errs(Field::Certificate);
    let cred_errors = v.errs(Field::Credentials);
    let enc_errors = v.errs(Field::Encryption);
    let port_errors = v.errs(Field::Port);
    let charset_errors = v.errs(Field::Charset);
    let bound_missing = effective.filter(|e| {
        e.settings.certificate.as_ref().is_some_and(|sha1| {
            !v.loaded
                .options
                .iter()
                .any(|c| &c.facts.thumbprint_sha1 == sha1)
        })
    });
    page(
        &title,
        &admin.chrome(active),
        html! {
            @match v.target {
                Target::Farm => p.lead {
                    "The farm's default: every web application without settings of its own sends with these."
                },
                Target::WebApp(u) => {
                    p { a href="/webapps" { "← Web applications" } }
                    @if v.loaded.own {
                        div.flash.info role="status" {
                            strong { "This web application has its own outgoing e-mail settings." }
                            " "
                            a.button.secondary #use-farm href=(clear_href(u)) { "Use the farm's settings…" }
                        }
                    } @else if effective.is_some() {
                        div.flash.info role="status" {
                            strong { "This web application uses the farm's settings, shown below." }
                            " Saving this form gives it settings of its own."
                        }
                    } @else {
                        div.flash.info role="status" {
                            strong { "Neither this web application nor the farm has outgoing e-mail settings yet." }
                        }
                    }
                }
            }
            (queue_warning(&v.loaded.queue))
            @if let Some(e) = effective.filter(|e| !e.problems.is_empty()) {
                div.flash.error role="alert" {
                    strong { "The certificate binding has a problem:" }
                    ul { @for p in &e.problems { li { (p) } } }
                }
            }
            @if !v.errors.is_empty() {
                div.flash.error role="alert" #summary {
                    strong { "Nothing was saved: " (v.errors.len()) " problem(s), shown beside the fields." }
                    @if !unplaced.is_empty() { ul { @for m in &unplaced { li { (m) } } } }
                }
            }
            form.panel #settings method="post" action=(match v.target { Target::Farm => "/settings/farm", Target::WebApp(_) => "/settings/webapp" }) {
                (csrf_field(&admin.csrf))
                @if let Target::WebApp(u) = v.target { input type="hidden" name="url" value=(u.as_str()); }
                fieldset {
                    legend { "Mail server" }
                    (text_field(v, "smtp_server", "Outbound SMTP server", &values.smtp_server, Field::Server, Some("Host name or IP address of the relay.")))
                    div.field.invalid[!port_errors.is_empty()] {
                        label for="port" { "Port" }
                        div.control {
                            input #port type="number" name="port" min="1" max="65535" value=(values.port)
                                aria-invalid=[(!port_errors.is_empty()).then_some("true")]
                                aria-describedby=[described_by([Some("port-help".into()), error_id("port", &port_errors)])];
                            p.help #port-help { "Empty: 25, or 465 with implicit TLS (kept as it is once saved)." }
                            (field_errors("port", &port_errors))
                        }
                    }
                    (text_field(v, "from_address", "From address", &values.from_address, Field::From, None))
                    (text_field(v, "reply_to", "Reply-to address", &values.reply_to, Field::ReplyTo, None))
                    div.field.invalid[!charset_errors.is_empty()] {
                        label for="charset" { "Character set" }
                        div.control {
                            select #charset name="charset"
                                aria-invalid=[(!charset_errors.is_empty()).then_some("true")]
                                aria-describedby=[error_id("charset", &charset_errors)] {
                                @for cs in CHARSETS {
                                    option value=(cs) selected[values.charset.eq_ignore_ascii_case(cs)] { (cs) }
                                }
                            }
                            (field_errors("charset", &charset_errors))
                        }
                    }
                    (text_field(v, "helo", "HELO name (optional)", &values.helo, Field::Helo, Some("Empty: this server's host name.")))
                }
                fieldset {
                    legend { "SMTP server authentication" }
                    div.field.invalid[!cred_errors.is_empty()] {
                        span.label #auth-label { "Authentication" }
                        div.control {
                            div.choices role="radiogroup" aria-labelledby="auth-label"
                                aria-describedby=[error_id("credentials", &cred_errors)] {
                                (radio("auth", "anonymous", "Anonymous", !values.authenticated))
                                (radio("auth", "authenticated", "Authenticated", values.authenticated))
                            }
                            (field_errors("credentials", &cred_errors))
                        }
                    }
                    div.field {
                        label for="smtp_user" { "User name" }
                        div.control { input #smtp_user type="text" name="smtp_user" value=(values.smtp_user) autocomplete="off"; }
                    }
                    div.field {
                        label for="smtp_password" { "Password" }
                        div.control {
                            input #smtp_password type="password" name="smtp_password" autocomplete="new-password"
                                aria-describedby="password-state";
                            p.help #password-state {
                                @if stored.has_password {
                                    "A password is set. Leave this empty to keep it."
                                } @else {
                                    "No password is set."
                                }
                            }
                        }
                    }
                }
                fieldset {
                    legend { "Connection security" }
                    div.field.invalid[!enc_errors.is_empty()] {
                        span.label #enc-label { "Use TLS connection encryption" }
                        div.control {
                            div.choices role="radiogroup" aria-labelledby="enc-label"
                                aria-describedby=[described_by([Some("encryption-help".into()), error_id("encryption", &enc_errors)])] {
                                (radio("encryption", "starttls", "Yes", values.encryption == "starttls"))
                                (radio("encryption", "tls", "Implicit TLS", values.encryption == "tls"))
                                (radio("encryption", "none", "No", values.encryption == "none"))
                            }
                            p.help #encryption-help { "Yes: STARTTLS on the SMTP port, never falling back to plain text. Implicit TLS: TLS from the first byte (usually port 465)." }
                            (field_errors("encryption", &enc_errors))
                        }
                    }
                    div.field {
                        span.label #usecert-label { "Use client certificate authentication" }
                        div.control {
                            div.choices role="radiogroup" aria-labelledby="usecert-label"
                                aria-describedby="use_certificate-help" {
                                (radio("use_certificate", "yes", "Yes", values.use_certificate))
                                (radio("use_certificate", "no", "No", !values.use_certificate))
                            }
                            p.help #use_certificate-help { "Only with TLS connection encryption: the certificate is presented in the TLS handshake." }
                        }
                    }
                    div.field.wide.invalid[!cert_errors.is_empty()] {
                        label for="certificate" { "Client certificate" }
                        div.control {
                            @if v.loaded.options.len() > SEARCH_ABOVE {
                                (certificate_search(v))
                            }
                            select #certificate name="certificate"
                                aria-invalid=[(!cert_errors.is_empty()).then_some("true")]
                                aria-describedby=[described_by([
                                    Some("certificate-help".into()),
                                    bound_missing.map(|_| "certificate-missing".to_string()),
                                    error_id("certificate", &cert_errors),
                                ])] {
                                option value="" selected[values.certificate.is_empty()] { "— choose a certificate —" }
                                @for c in &v.loaded.options {
                                    option value=(c.facts.thumbprint_sha1)
                                        selected[values.certificate.eq_ignore_ascii_case(&c.facts.thumbprint_sha1)] {
                                        (option_text(c))
                                    }
                                }
                            }
                            p.help #certificate-help {
                                "Only certificates of the End Entity store that are eligible for client authentication are listed ("
                                (v.loaded.options.len()) "). "
                                a href="/certificates?store=end-entity" { "Manage certificates" }
                            }
                            @if let Some(e) = bound_missing {
                                p.help #certificate-missing {
                                    "The bound certificate "
                                    @match &e.certificate { Some(c) => (c.facts.describe()), None => (e.settings.certificate.as_deref().unwrap_or("")) }
                                    " is not eligible now, so it is not listed; choose another."
                                }
                            }
                            (field_errors("certificate", &cert_errors))
                        }
                    }
                    (text_field(v, "tls_sender_name", "Connector certificate name (optional)", &values.tls_sender_name, Field::TlsSenderName, Some("Exchange Online: the inbound connector's TlsSenderCertificateName. The certificate must carry it as a DNS name (SAN, or CN without one); checked here, by Test connection and by the health rules.")))
                }
                div.actions {
                    button type="submit" { "Save" }
                    a.button.secondary href=(page_href(v.target)) { "Cancel" }
                }
            }
            @if effective.is_some() {
                section.panel #tests {
                    h2 { "Test" }
                    p.help {
                        "Uses the saved settings"
                        @if !v.loaded.own { " (the farm's)" }
                        ": connects, secures the connection with TLS, presents the client certificate, says EHLO and authenticates."
                        @if !v.can_test { " Not available: no mail sender is plugged into this server." }
                    }
                    div.actions {
                        form.inline method="post" action="/settings/test" {
                            (csrf_field(&admin.csrf))
                            input type="hidden" name="target" value=(target_value(v.target));
                            button.secondary type="submit" { "Test connection" }
                        }
                    }
                    form method="post" action="/settings/send-test" {
                        (csrf_field(&admin.csrf))
                        input type="hidden" name="target" value=(target_value(v.target));
                        div.field {
                            label for="to" { "Send a test e-mail to" }
                            div.control { input #to type="email" name="to" required placeholder="someone@example.org"; }
                        }
                        div.actions { button.secondary type="submit" { "Send a test e-mail" } }
                    }
                }
            }
        },
    )
}

async fn show(state: Shared, admin: Admin, target: Target) -> Response {
    let t = target.clone();
    let spool = state.spool_path.clone();
    let loaded = with_farm(&state, move |farm, now| {
        load(farm, &t, spool.as_deref(), now)
    })
    .await;
    match loaded {
        Ok(l) => {
            let values = l
                .effective
                .as_ref()
                .map(|e| Values::from_settings(&e.settings))
                .unwrap_or_else(Values::blank);
            settings_page(
                &admin,
                &View {
                    target: &target,
                    loaded: &l,
                    values: &values,
                    errors: &[],
                    can_test: state.tester.is_some(),
                },
            )
            .into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /settings/farm`.
pub(crate) async fn farm(State(state): State<Shared>, admin: Admin) -> Response {
    show(state, admin, Target::Farm).await
}

/// `GET /settings/webapp?url=`.
pub(crate) async fn webapp(
    State(state): State<Shared>,
    admin: Admin,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    match WebAppUrl::parse(FormData::from_pairs(q).get("url")) {
        Ok(u) => show(state, admin, Target::WebApp(u)).await,
        Err(e) => PageError::NotFound(e.to_string()).into_response(),
    }
}

/// What to do on this page about a broken rule whose message speaks in the CLI's terms.
fn web_hint(rule: &str) -> Option<&'static str> {
    match rule {
        "password-follows-server" => Some(
            "On this page: enter the password again, or choose Anonymous to remove the credentials.",
        ),
        _ => None,
    }
}

enum Saved {
    Yes(Vec<String>),
    No(Box<Loaded>, Vec<(Field, String)>),
}

async fn save(state: Shared, target: Target, form: AdminForm) -> Response {
    let AdminForm { admin, data } = form;
    let values = Values::from_form(&data);
    let password = Zeroizing::new(data.get("smtp_password").to_string());
    drop(data);
    let t = target.clone();
    let v = values.clone();
    let spool = state.spool_path.clone();
    let r = with_farm(&state, move |farm, now| {
        let loaded = load(farm, &t, spool.as_deref(), now)?;
        let mut v = v;
        let mut found = Vec::new();
        if v.use_certificate && !v.certificate_find.is_empty() {
            match find_certificate(&loaded.options, &v.certificate_find) {
                Ok(sha1) => v.certificate = sha1,
                Err(m) => found.push((Field::Certificate, m)),
            }
        }
        let (change, mut errors) = build_change(&v, password, &loaded.stored());
        errors.extend(found);
        if errors.is_empty() {
            match mailcert_binding::set(farm, &t, change, now) {
                Ok(saved) => return Ok(Saved::Yes(saved.changes)),
                Err(e) if !e.violations().is_empty() => {
                    for viol in e.violations() {
                        errors.push((
                            viol.field,
                            match web_hint(viol.rule) {
                                Some(hint) => format!("{}. {hint}", viol.message),
                                None => viol.message.clone(),
                            },
                        ));
                    }
                }
                // The only reference `set` resolves is the certificate's.
                Err(mailcert_binding::Error::Store(e))
                    if matches!(
                        e.kind(),
                        mailcert_store::ErrorKind::NotFound | mailcert_store::ErrorKind::Usage
                    ) =>
                {
                    errors.push((Field::Certificate, e.to_string()))
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Saved::No(Box::new(loaded), errors))
    })
    .await;
    match r {
        Ok(Saved::Yes(changes)) => flash_redirect(
            &state,
            &admin.id,
            Flash::new(
                FlashKind::Ok,
                format!(
                    "{} the outgoing e-mail settings of {}.",
                    if changes.is_empty() {
                        "Nothing changed in"
                    } else {
                        "Saved"
                    },
                    match &target {
                        Target::Farm => "the farm".to_string(),
                        Target::WebApp(u) => u.to_string(),
                    }
                ),
                changes,
            ),
            &page_href(&target),
        ),
        Ok(Saved::No(loaded, errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            settings_page(
                &admin,
                &View {
                    target: &target,
                    loaded: &loaded,
                    values: &values,
                    errors: &errors,
                    can_test: state.tester.is_some(),
                },
            ),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /settings/farm`.
pub(crate) async fn save_farm(State(state): State<Shared>, form: AdminForm) -> Response {
    save(state, Target::Farm, form).await
}

/// `POST /settings/webapp` (the URL in a hidden field).
pub(crate) async fn save_webapp(State(state): State<Shared>, form: AdminForm) -> Response {
    match WebAppUrl::parse(form.data.get("url")) {
        Ok(u) => save(state, Target::WebApp(u), form).await,
        Err(e) => PageError::NotFound(e.to_string()).into_response(),
    }
}

/// Where the confirmation of "Use the farm's settings" for `url` is.
fn clear_href(url: &WebAppUrl) -> String {
    format!(
        "/settings/webapp/clear?url={}",
        crate::html::query_value(url.as_str())
    )
}

/// The value of the hidden field that confirms "Use the farm's settings".
const CLEAR_CONFIRMED: &str = "yes";

/// `GET /settings/webapp/clear?url=`: the confirmation, naming what the web application
/// loses (its settings, its credentials, its certificate binding).
pub(crate) async fn confirm_clear(
    State(state): State<Shared>,
    admin: Admin,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let url = match WebAppUrl::parse(FormData::from_pairs(q).get("url")) {
        Ok(u) => u,
        Err(e) => return PageError::NotFound(e.to_string()).into_response(),
    };
    let target = Target::WebApp(url.clone());
    let eff = with_farm(&state, move |farm, now| {
        match mailcert_binding::effective(farm, &target, now) {
            Ok(e) => Ok(Some(e)),
            Err(mailcert_binding::Error::NoSettings { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    })
    .await;
    match eff {
        Ok(eff) => {
            let own = eff.filter(|e| e.source == Source::WebApplication);
            confirm_clear_page(&admin, &url, own.as_ref()).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The confirmation page: what is dropped, and the form that drops it.
fn confirm_clear_page(admin: &Admin, url: &WebAppUrl, own: Option<&Effective>) -> Markup {
    page(
        "Use the farm's settings",
        &admin.chrome(Nav::WebApps),
        html! {
            @match own {
                None => p { (url.as_str()) " has no settings of its own: it already uses the farm's." },
                Some(e) => form.panel #confirm-clear method="post" action="/settings/webapp/clear" {
                    (csrf_field(&admin.csrf))
                    input type="hidden" name="url" value=(url.as_str());
                    input type="hidden" name="confirm" value=(CLEAR_CONFIRMED);
                    p { "Drop the outgoing e-mail settings of " strong { (url.as_str()) } " and use the farm's? This removes, in one step:" }
                    ul #dropped {
                        li { "its settings: " (e.settings.smtp_server) ":" (e.settings.port) }
                        @if let Some(user) = &e.settings.smtp_user {
                            li { "its SMTP credentials (user " (user) (if e.settings.has_password { ", with the stored password" } else { "" }) ")" }
                        }
                        @if let Some(sha1) = &e.settings.certificate {
                            li {
                                "its client certificate binding: "
                                @match &e.certificate { Some(c) => (c.facts.describe()), None => (sha1) }
                            }
                        }
                    }
                    p { "They cannot be restored except by entering them again." }
                    div.actions {
                        button.danger type="submit" { "Use the farm's settings" }
                        a.button.secondary href=(settings_href(url.as_str())) { "Cancel" }
                    }
                }
            }
        },
    )
}

/// `POST /settings/webapp/clear`: the web application falls back to the farm's settings,
/// only with the confirmation page's `confirm` field; without it nothing changes.
pub(crate) async fn clear(State(state): State<Shared>, form: AdminForm) -> Response {
    let url = match WebAppUrl::parse(form.data.get("url")) {
        Ok(u) => u,
        Err(e) => return PageError::NotFound(e.to_string()).into_response(),
    };
    if form.data.get("confirm") != CLEAR_CONFIRMED {
        return flash_redirect(
            &state,
            &form.admin.id,
            error_flash(
                "Nothing changed: confirm that the web application's own settings are to be dropped.",
            ),
            &clear_href(&url),
        );
    }
    let back = settings_href(url.as_str());
    let u = url.clone();
    let r = with_farm(&state, move |farm, now| {
        Ok(mailcert_binding::clear(farm, &u, now)?)
    })
    .await;
    let flash = match r {
        Ok(true) => Flash::new(
            FlashKind::Ok,
            format!("{url} now uses the farm's outgoing e-mail settings."),
            vec![],
        ),
        Ok(false) => Flash::new(
            FlashKind::Info,
            format!("{url} had no settings of its own; nothing changed."),
            vec![],
        ),
        Err(e) => return e.into_response(),
    };
    flash_redirect(&state, &form.admin.id, flash, &back)
}

/// `POST /settings/test`: "Test connection".
pub(crate) async fn test_connection(State(state): State<Shared>, form: AdminForm) -> Response {
    run_test(state, form, false).await
}

/// `POST /settings/send-test`: "Send a test e-mail".
pub(crate) async fn send_test(State(state): State<Shared>, form: AdminForm) -> Response {
    run_test(state, form, true).await
}

async fn run_test(state: Shared, form: AdminForm, send: bool) -> Response {
    let target = match parse_target(form.data.get("target")) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let back = page_href(&target);
    let id = form.admin.id.clone();
    let Some(tester) = state.tester.clone() else {
        return flash_redirect(
            &state,
            &id,
            Flash::new(
                FlashKind::Info,
                "Testing is not available: no mail sender is plugged into this server.",
                vec![],
            ),
            &back,
        );
    };
    let to = form.data.get("to").trim().to_string();
    if send && let Err(e) = mailcert_binding::parse_mailbox(&to) {
        return flash_redirect(&state, &id, error_flash(e), &back);
    }
    let t = target.clone();
    let rcpt = to.clone();
    let r = with_farm(&state, move |farm, now| {
        Ok(if send {
            tester.send_test(farm, &t, &rcpt, now)
        } else {
            tester.test_connection(farm, &t, now)
        })
    })
    .await;
    let flash = match r {
        Ok(Ok(lines)) => Flash::new(
            FlashKind::Ok,
            if send {
                format!("Test e-mail to {to} accepted by the relay.")
            } else {
                "Connection test passed.".to_string()
            },
            lines,
        ),
        Ok(Err(f)) => Flash::new(
            FlashKind::Error,
            if send {
                format!("The test e-mail to {to} failed: {}", f.error)
            } else {
                format!("Connection test failed: {}", f.error)
            },
            f.steps,
        ),
        Err(e) => return e.into_response(),
    };
    flash_redirect(&state, &id, flash, &back)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailcert_store::{CertFacts, KeyType};

    fn cert(cn: Option<&str>, friendly: Option<&str>, not_after: i64) -> CertRecord {
        CertRecord {
            id: 1,
            facts: CertFacts {
                thumbprint_sha1: "AB".repeat(20),
                thumbprint_sha256: "CD".repeat(32),
                subject: "O=mailcert tests, CN=relay.test".into(),
                issuer: "CN=ca".into(),
                subject_cn: cn.map(str::to_string),
                sans: vec![],
                serial: "01".into(),
                not_before: 0,
                not_after,
                key_type: KeyType::EcP256,
                eku: None,
                key_usage: None,
                is_ca: false,
                self_signed: false,
            },
            store: mailcert_store::StoreName::EndEntity,
            friendly_name: friendly.map(str::to_string),
            has_private_key: true,
            exportable: false,
            imported_at: 0,
        }
    }

    #[test]
    fn option_text_format() {
        // 2045-01-01T00:00:00Z
        let t = 2_366_841_600;
        assert_eq!(
            option_text(&cert(Some("client-rsa.test"), Some("Client RSA"), t)),
            "client-rsa.test (Client RSA) [Expiration: 2045-01-01]"
        );
        assert_eq!(
            option_text(&cert(None, None, t)),
            "O=mailcert tests, CN=relay.test (no friendly name) [Expiration: 2045-01-01]"
        );
    }

    fn values() -> Values {
        Values {
            smtp_server: "relay.test".into(),
            port: "25".into(),
            from_address: "a@b.test".into(),
            reply_to: String::new(),
            charset: "utf-8".into(),
            helo: String::new(),
            authenticated: false,
            smtp_user: String::new(),
            encryption: "starttls".into(),
            use_certificate: true,
            certificate: "AB".repeat(20),
            certificate_find: String::new(),
            tls_sender_name: String::new(),
        }
    }

    fn pw(s: &str) -> Zeroizing<String> {
        Zeroizing::new(s.to_string())
    }

    #[test]
    fn form_to_change() {
        let (c, e) = build_change(&values(), pw(""), &Stored::default());
        assert!(e.is_empty());
        assert_eq!(c.port, Some(25));
        assert_eq!(c.encryption, Some(Encryption::StartTls));
        assert_eq!(c.certificate, Some(Some("AB".repeat(20))));
        assert!(matches!(c.credentials, Some(None)));

        let mut v = values();
        v.port = "seventy".into();
        v.use_certificate = false;
        let (c, e) = build_change(&v, pw(""), &Stored::default());
        assert_eq!(e[0].0, Field::Port);
        assert_eq!(c.certificate, Some(None));

        let mut v = values();
        v.port = String::new();
        v.certificate = String::new();
        let (c, e) = build_change(&v, pw(""), &Stored::default());
        assert_eq!(c.port, None);
        assert_eq!(e[0].0, Field::Certificate);
        // A bound certificate is kept when the placeholder is chosen.
        let stored = Stored {
            certificate: Some("EF".repeat(20)),
            ..Stored::default()
        };
        let (c, e) = build_change(&v, pw(""), &stored);
        assert!(e.is_empty());
        assert_eq!(c.certificate, None);
    }

    #[test]
    fn credentials_from_the_form() {
        let mut v = values();
        v.authenticated = true;
        v.smtp_user = " svc ".into();
        let (c, e) = build_change(&v, pw("s3cret"), &Stored::default());
        assert!(e.is_empty());
        match c.credentials {
            Some(Some(cr)) => {
                assert_eq!(cr.user, "svc");
                assert_eq!(cr.password.as_str(), "s3cret");
            }
            other => panic!("{other:?}"),
        }
        // No password typed and none stored.
        let (_, e) = build_change(&v, pw(""), &Stored::default());
        assert_eq!(e[0].0, Field::Credentials);
        // No password typed, one stored for the same user: keep it.
        let stored = Stored {
            smtp_user: Some("svc".into()),
            has_password: true,
            certificate: None,
        };
        let (c, e) = build_change(&v, pw(""), &stored);
        assert!(e.is_empty());
        assert!(c.credentials.is_none());
        // Another user needs the password again.
        v.smtp_user = "other".into();
        let (_, e) = build_change(&v, pw(""), &stored);
        assert_eq!(e[0].0, Field::Credentials);
    }

    #[test]
    fn typed_certificates_are_found() {
        let mut a = cert(Some("alpha.test"), Some("Alpha"), 2_366_841_600);
        a.facts.thumbprint_sha1 = "AA".repeat(20);
        let mut b = cert(Some("alpha-two.test"), Some("Beta"), 2_366_841_600);
        b.facts.thumbprint_sha1 = "BB".repeat(20);
        let opts = [a, b];
        assert_eq!(find_certificate(&opts, "beta"), Ok("BB".repeat(20)));
        assert_eq!(
            find_certificate(&opts, "alpha.test (Alpha) [Expiration: 2045-01-01]"),
            Ok("AA".repeat(20))
        );
        assert_eq!(find_certificate(&opts, "aa:aa"), Ok("AA".repeat(20)));
        assert!(find_certificate(&opts, "alpha").is_err_and(|e| e.contains("matches 2")));
        assert!(find_certificate(&opts, "gamma").is_err_and(|e| e.contains("no eligible")));
    }

    #[test]
    fn values_round_trip_through_the_form() {
        let v = values();
        let d = FormData::from_pairs(vec![
            ("smtp_server".into(), v.smtp_server.clone()),
            ("port".into(), v.port.clone()),
            ("from_address".into(), v.from_address.clone()),
            ("reply_to".into(), String::new()),
            ("charset".into(), "utf-8".into()),
            ("helo".into(), String::new()),
            ("auth".into(), "anonymous".into()),
            ("smtp_user".into(), String::new()),
            ("encryption".into(), "starttls".into()),
            ("use_certificate".into(), "yes".into()),
            ("certificate".into(), v.certificate.clone()),
            ("tls_sender_name".into(), String::new()),
        ]);
        assert_eq!(Values::from_form(&d), v);
    }
}
