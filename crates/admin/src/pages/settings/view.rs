//! The settings pages' markup: the form with each broken rule beside its field, the
//! certificate drop-down and search, and the confirmation before falling back to the
//! farm's settings.

use super::*;

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

/// Where the settings page of `target` is.
pub(super) fn page_href(target: &Target) -> String {
    match target {
        Target::Farm => "/settings/farm".into(),
        Target::WebApp(u) => settings_href(u.as_str()),
    }
}

/// Everything one rendering of the page needs.
pub(super) struct View<'a> {
    pub(super) target: &'a Target,
    pub(super) loaded: &'a Loaded,
    pub(super) values: &'a Values,
    pub(super) errors: &'a [(Field, String)],
    pub(super) can_test: bool,
}

impl View<'_> {
    pub(super) fn errs(&self, field: Field) -> Vec<String> {
        self.errors
            .iter()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.clone())
            .collect()
    }
}

/// The fields shown beside a form control.
pub(super) const PLACED: [Field; 10] = [
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
pub(super) fn text_field(
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

pub(super) fn radio(name: &str, value: &str, label: &str, checked: bool) -> Markup {
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
pub(super) fn certificate_search(v: &View<'_>) -> Markup {
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

pub(super) fn settings_page(admin: &Admin, v: &View<'_>) -> Markup {
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
            @if !v.loaded.overrides.is_empty() {
                section.panel #overrides {
                    h2 { "Server overrides" }
                    p.help {
                        "These servers use settings of their own here instead of the ones above (made with "
                        code { "mailcert smtp set --server NAME" }
                        "; removed with "
                        code { "mailcert smtp clear --server NAME" }
                        ")."
                    }
                    table {
                        caption { "Servers with their own settings" }
                        thead { tr { th { "Server" } th { "SMTP server" } th { "Certificate" } th { "Changed" } } }
                        tbody {
                            @for o in &v.loaded.overrides {
                                tr {
                                    td data-label="Server" { (o.server.as_deref().unwrap_or("")) }
                                    td data-label="SMTP server" { (o.smtp_server) ":" (o.port) " (" (o.encryption) ")" }
                                    td data-label="Certificate" {
                                        @match &o.certificate_sha1 {
                                            Some(sha1) => {
                                                @match v.loaded.options.iter().find(|c| &c.facts.thumbprint_sha1 == sha1) {
                                                    Some(c) => { (option_text(c)) }
                                                    None => { (sha1) " (not eligible now)" }
                                                }
                                            }
                                            None => { "(none)" }
                                        }
                                    }
                                    td data-label="Changed" { (mailcert_store::rfc3339(o.updated_at)) }
                                }
                            }
                        }
                    }
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

/// What to do on this page about a broken rule whose message speaks in the CLI's terms.
pub(super) fn web_hint(rule: &str) -> Option<&'static str> {
    match rule {
        "password-follows-server" => Some(
            "On this page: enter the password again, or choose Anonymous to remove the credentials.",
        ),
        _ => None,
    }
}

/// Where the confirmation of "Use the farm's settings" for `url` is.
pub(super) fn clear_href(url: &WebAppUrl) -> String {
    format!(
        "/settings/webapp/clear?url={}",
        crate::html::query_value(url.as_str())
    )
}

/// The confirmation page: what is dropped, and the form that drops it.
pub(super) fn confirm_clear_page(
    admin: &Admin,
    url: &WebAppUrl,
    own: Option<&Effective>,
) -> Markup {
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
