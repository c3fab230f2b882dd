//! The certificate lifecycle on the web page, as SharePoint's Central Administration has
//! it: "Request certificate" (the CSR as a download), the pending requests, "Renew" on a
//! certificate, the certificate management settings (thresholds, defaults, contacts) and
//! the Health page behind the banner every page shows. Every change goes through the
//! store's functions, so the CLI's rules apply unchanged.

use axum::extract::{Path as UrlPath, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use mailcert_binding::HEALTH_RULES;
use mailcert_store::{
    CertificateSettings, ContactChange, Curve, Hash, KeyAlgorithm, RequestRecord, RequestSpec,
};
use maud::{Markup, html};

use crate::auth::Admin;
use crate::forms::{AdminForm, FormData};
use crate::html::{Nav, csrf_field, date, date_time, page};
use crate::pages::{PageError, act, error_flash, flash_redirect, refusal, respond, thumbprint};
use crate::session::{Flash, FlashKind};
use crate::state::{Shared, with_farm};

fn key_algorithm(s: &str) -> Option<KeyAlgorithm> {
    match s {
        "rsa" => Some(KeyAlgorithm::Rsa),
        "ecc" => Some(KeyAlgorithm::Ecc),
        _ => None,
    }
}

fn curve(s: &str) -> Option<Curve> {
    match s {
        "p256" => Some(Curve::P256),
        "p384" => Some(Curve::P384),
        _ => None,
    }
}

fn hash(s: &str) -> Option<Hash> {
    match s {
        "sha256" => Some(Hash::Sha256),
        "sha384" => Some(Hash::Sha384),
        "sha512" => Some(Hash::Sha512),
        _ => None,
    }
}

/// A text field: `None` when left empty.
fn text(d: &FormData, name: &str) -> Option<String> {
    let v = d.get(name).trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// A select with `options` (value, label), `selected` chosen; `help` says whether the
/// field has a help text (`{id}-help`) the select is described by.
fn select(id: &str, options: &[(&str, &str)], selected: &str, help: bool) -> Markup {
    html! {
        select id=(id) name=(id) aria-describedby=[help.then(|| format!("{id}-help"))] {
            @for (v, label) in options {
                option value=(v) selected[*v == selected] { (label) }
            }
        }
    }
}

/// One labelled row of a form.
fn field(id: &str, label: &str, control: Markup, help: Option<&str>) -> Markup {
    let help_id = format!("{id}-help");
    html! {
        div.field {
            label for=(id) { (label) }
            div.control {
                (control)
                @if let Some(h) = help { p.help id=(help_id) { (h) } }
            }
        }
    }
}

/// The subject fields (O, OU, L, ST) filled with the farm's defaults: the request form
/// and the settings page share them.
fn subject_fields(s: &CertificateSettings) -> Markup {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    html! {
        @for (id, label, value) in [
            ("organization", "Organization", o(&s.organization)),
            ("organizational_unit", "Organizational unit", o(&s.organizational_unit)),
            ("locality", "Locality", o(&s.locality)),
            ("state", "State or province", o(&s.state)),
        ] {
            (field(id, label, html! { input id=(id) type="text" name=(id) maxlength="64" value=(value); }, None))
        }
    }
}

/// The key choices (algorithm, RSA size, curve, hash) set to the farm's defaults.
fn key_fields(s: &CertificateSettings, hash_help: Option<&str>) -> Markup {
    html! {
        (field("key_algorithm", "Key algorithm",
            select("key_algorithm", &[("rsa", "RSA"), ("ecc", "ECC (ECDSA)")], s.key_algorithm.as_str(), false), None))
        (field("key_size", "RSA key size",
            select("key_size", &[("2048", "2048 bits"), ("3072", "3072 bits"), ("4096", "4096 bits")], &s.key_size.to_string(), false), None))
        (field("elliptic_curve", "Elliptic curve",
            select("elliptic_curve", &[("p256", "NIST P-256"), ("p384", "NIST P-384")], s.elliptic_curve.as_str(), false), None))
        (field("hash", "Hash",
            select("hash", &[("sha256", "SHA-256"), ("sha384", "SHA-384"), ("sha512", "SHA-512")], s.hash.as_str(), hash_help.is_some()), hash_help))
    }
}

/// The pending requests, with links to each and its CSR.
fn requests_table(requests: &[RequestRecord]) -> Markup {
    html! {
        @if requests.is_empty() {
            p { "No certificate request is pending." }
        } @else {
            div.table-wrap {
                table #pending-requests-table {
                    thead { tr {
                        th { "Common name" } th { "Key" } th { "Created" } th { "Renews" } th { "Key id" } th { "CSR" }
                    } }
                    tbody {
                        @for r in requests {
                            tr {
                                td { a href=(format!("/certificates/requests/{}", r.key_id)) { (r.common_name) } }
                                td { (r.key_type) }
                                td { (date(r.created)) }
                                td {
                                    @match &r.renews {
                                        Some(old) => a href=(format!("/certificates/{old}")) { (old.get(..8).unwrap_or(old)) "…" },
                                        None => "—",
                                    }
                                }
                                td.mono { (r.key_id.get(..16).unwrap_or(&r.key_id)) "…" }
                                td { a href=(format!("/certificates/requests/{}/csr", r.key_id)) download { "Download" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /certificates/request`: the form and the pending requests.
pub(crate) async fn request_form(State(state): State<Shared>, admin: Admin) -> Response {
    let r = with_farm(&state, |farm, _| {
        Ok((
            mailcert_store::certificate_settings(farm)?,
            mailcert_store::requests(farm)?,
        ))
    })
    .await;
    respond(r.map(|(s, requests)| request_page(&admin, &s, &requests).into_response()))
}

fn request_page(admin: &Admin, s: &CertificateSettings, requests: &[RequestRecord]) -> Markup {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    page(
        "Request certificate",
        &admin.chrome(Nav::Certificates),
        html! {
            p { a href="/certificates" { "← All certificates" } }
            p {
                "A new key is made here and sealed in the farm at once; it never leaves it in clear. "
                "Have the request (CSR) signed by your CA, then import the signed certificate on the "
                a href="/certificates" { "Certificates" } " page: it is paired with this key."
            }
            form.panel method="post" action="/certificates/request" {
                h2 { "Subject" }
                (csrf_field(&admin.csrf))
                (field("common_name", "Common name",
                    html! { input #common_name type="text" name="common_name" required maxlength="64" aria-describedby="common_name-help"; },
                    Some("For example relay-client.contoso.com. A fully qualified name is also put first among the alternative names.")))
                (field("alternative_names", "Alternative names",
                    html! { textarea #alternative_names name="alternative_names" rows="3" aria-describedby="alternative_names-help" {} },
                    Some("DNS names or IP addresses, one per line.")))
                (subject_fields(s))
                (field("country", "Country",
                    html! { input #country type="text" name="country" maxlength="2" size="2" value=(o(&s.country)) aria-describedby="country-help"; },
                    Some("Two letters (ISO 3166-1), such as US, DE or NL.")))
                h2 { "Key" }
                (key_fields(s, Some("ECC keys are signed with their curve's hash.")))
                (field("friendly_name", "Friendly name",
                    html! { input #friendly_name type="text" name="friendly_name" maxlength="200"; }, None))
                div.field {
                    span.label { "Export" }
                    div.control { div {
                        input #exportable type="checkbox" name="exportable" value="on";
                        " "
                        label for="exportable" { "Allow the private key to be exported once the certificate arrives" }
                    } }
                }
                div.actions { button type="submit" { "Create the request" } }
            }
            section.panel #pending-requests {
                h2 { "Pending requests" }
                (requests_table(requests))
            }
        },
    )
}

/// `POST /certificates/request`.
pub(crate) async fn request_submit(State(state): State<Shared>, form: AdminForm) -> Response {
    let AdminForm { admin, data } = form;
    let alg = key_algorithm(data.get("key_algorithm"));
    let spec = RequestSpec {
        common_name: data.get("common_name").to_string(),
        alternative_names: data
            .get("alternative_names")
            .split(['\n', ',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        organization: text(&data, "organization"),
        organizational_unit: text(&data, "organizational_unit"),
        locality: text(&data, "locality"),
        state: text(&data, "state"),
        country: text(&data, "country"),
        key_algorithm: alg,
        key_size: match alg {
            Some(KeyAlgorithm::Rsa) => data.get("key_size").parse().ok(),
            _ => None,
        },
        curve: curve(data.get("elliptic_curve")),
        hash: match alg {
            Some(KeyAlgorithm::Ecc) => None,
            _ => hash(data.get("hash")),
        },
        friendly_name: text(&data, "friendly_name"),
        exportable: data.checked("exportable"),
    };
    let r = with_farm(&state, move |farm, now| {
        Ok(mailcert_store::new_request(farm, &spec, now))
    })
    .await;
    match r {
        Ok(Ok(req)) => flash_redirect(
            &state,
            &admin.id,
            Flash::new(
                FlashKind::Ok,
                format!("Request created for {}.", req.subject),
                vec![
                    "Download the request (CSR) below and have it signed; the key stays sealed in the farm.".into(),
                ],
            ),
            &format!("/certificates/requests/{}", req.key_id),
        ),
        Ok(Err(e)) => flash_redirect(
            &state,
            &admin.id,
            error_flash(format!("No request was made: {e}")),
            "/certificates/request",
        ),
        Err(e) => e.into_response(),
    }
}

async fn load_request(state: &Shared, raw: &str) -> Result<RequestRecord, PageError> {
    let key_id = thumbprint(raw)?;
    with_farm(state, move |farm, _| {
        Ok(mailcert_store::request(farm, &key_id)?)
    })
    .await
}

/// `GET /certificates/requests/{key_id}`: one request with its CSR.
pub(crate) async fn request_show(
    State(state): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    admin: Admin,
) -> Response {
    respond(load_request(&state, &raw).await.map(|r| {
        page(
            &format!("Certificate request: {}", r.common_name),
            &admin.chrome(Nav::Certificates),
            html! {
                p { a href="/certificates/request" { "← Request certificate" } }
                section.panel {
                    dl.facts {
                        dt { "Subject" } dd { (r.subject) }
                        dt { "Alternative names" } dd {
                            @if r.alternative_names.is_empty() { "(none)" }
                            @for n in &r.alternative_names { (n) br; }
                        }
                        dt { "Key" } dd { (r.key_type) " (sealed in the farm)" }
                        dt { "Hash" } dd { (r.hash) }
                        dt { "Created" } dd { (date_time(r.created)) }
                        dt { "Friendly name" } dd { (r.friendly_name.as_deref().unwrap_or("(none)")) }
                        dt { "Exportable" } dd { (if r.exportable { "yes" } else { "no" }) }
                        @if let Some(old) = &r.renews {
                            dt { "Renews" } dd { a href=(format!("/certificates/{old}")) { (old) } }
                        }
                        dt { "Key id" } dd.mono { (r.key_id) }
                    }
                    div.actions {
                        a.button href=(format!("/certificates/requests/{}/csr", r.key_id)) download { "Download the request (CSR)" }
                        a.button.secondary href=(format!("/certificates/requests/{}/remove", r.key_id)) { "Remove…" }
                    }
                }
                section.panel {
                    h2 { "The request (PEM)" }
                    pre.csr #csr { (r.csr_pem) }
                    p.help { "When the signed certificate arrives, import it on the Certificates page (PEM, DER or P7B): it is paired with this request's key"
                        @if r.renews.is_some() { " and takes over the bindings of the certificate it renews" } "." }
                }
            },
        )
        .into_response()
    }))
}

/// `GET /certificates/requests/{key_id}/csr`: the CSR as a download.
pub(crate) async fn request_csr(
    State(state): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    _admin: Admin,
) -> Response {
    respond(load_request(&state, &raw).await.map(|r| {
        let file = crate::pages::certificates::safe_file_name(&r.common_name, "csr");
        (
            [
                (header::CONTENT_TYPE, "application/pkcs10".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file}\""),
                ),
            ],
            r.csr_pem,
        )
            .into_response()
    }))
}

/// `GET /certificates/requests/{key_id}/remove`: confirmation.
pub(crate) async fn request_confirm_remove(
    State(state): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    admin: Admin,
) -> Response {
    respond(load_request(&state, &raw).await.map(|r| {
        page(
            "Remove certificate request",
            &admin.chrome(Nav::Certificates),
            html! {
                form.panel method="post" action=(format!("/certificates/requests/{}/remove", r.key_id)) {
                    (csrf_field(&admin.csrf))
                    p { "Remove the request for " strong { (r.subject) } " and delete its private key? A certificate signed for it can then no longer be used." }
                    div.actions {
                        button.danger type="submit" { "Remove the request and its key" }
                        a.button.secondary href=(format!("/certificates/requests/{}", r.key_id)) { "Cancel" }
                    }
                }
            },
        )
        .into_response()
    }))
}

/// `POST /certificates/requests/{key_id}/remove`.
pub(crate) async fn request_remove(
    State(state): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    form: AdminForm,
) -> Response {
    let key_id = match thumbprint(&raw) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    act(
        &state,
        &form.admin.id,
        "/certificates/request",
        move |farm, now| mailcert_store::remove_request(farm, &key_id, now),
        |req| {
            Flash::new(
                FlashKind::Ok,
                format!("The request for {} and its key were removed.", req.subject),
                vec![],
            )
        },
        refusal,
    )
    .await
}

/// `POST /certificates/{sha1}/renew`: a renewal request, then its page.
pub(crate) async fn renew(
    State(state): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    form: AdminForm,
) -> Response {
    let sha1 = match thumbprint(&raw) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let same_key = form.data.checked("same_key");
    let back = format!("/certificates/{sha1}");
    let r = with_farm(&state, move |farm, now| {
        Ok(mailcert_store::renew(farm, &sha1, same_key, now))
    })
    .await;
    match r {
        Ok(Ok((old, req))) => flash_redirect(
            &state,
            &form.admin.id,
            Flash::new(
                FlashKind::Ok,
                format!("Renewal request created for {}.", old.display_name()),
                vec![
                    "Have the request signed; importing the signed certificate moves every binding of the old one to it.".into(),
                ],
            ),
            &format!("/certificates/requests/{}", req.key_id),
        ),
        Ok(Err(e)) => flash_redirect(&state, &form.admin.id, error_flash(e.to_string()), &back),
        Err(e) => e.into_response(),
    }
}

/// The "Renew" panel of a certificate's page (End Entity certificates only).
pub(crate) fn renew_form(
    admin: &Admin,
    c: &mailcert_store::CertRecord,
    pending: Option<&str>,
) -> Markup {
    html! {
        @if c.store == mailcert_store::StoreName::EndEntity {
            form.panel method="post" action=(format!("/certificates/{}/renew", c.facts.thumbprint_sha1)) {
                h2 { "Renew" }
                (csrf_field(&admin.csrf))
                @if let Some(key_id) = pending {
                    p { "A renewal is pending: " a href=(format!("/certificates/requests/{key_id}")) { "its request" } "." }
                } @else {
                    p.help { "A request with this certificate's subject and alternative names. Importing the signed certificate moves every binding to it; this one stays until you remove it." }
                    div.field {
                        span.label { "Key" }
                        div.control { div {
                            input #same_key type="checkbox" name="same_key" value="on" disabled[!c.has_private_key];
                            " "
                            label for="same_key" { "Keep the current key (otherwise a new key of the same kind is made)" }
                        } }
                    }
                    div.actions { button type="submit" { "Renew…" } }
                }
            }
        }
    }
}

/// `GET /health`: the findings of the health rules.
pub(crate) async fn health(State(state): State<Shared>, admin: Admin) -> Response {
    let r = with_farm(&state, |farm, now| {
        Ok((mailcert_binding::health(farm, now)?, now))
    })
    .await;
    respond(r.map(|(report, now)| {
        page(
            "Health",
            &admin.chrome(Nav::Health),
            html! {
                p { "The certificate health rules over the certificates that outgoing mail depends on, at " (date_time(now)) ". "
                    a href="/settings/certificates" { "Certificate management settings" } " hold the thresholds and the notification contacts." }
                @if report.healthy {
                    div.flash.ok role="status" { strong { "Healthy: no rule fired." } }
                } @else {
                    div.table-wrap {
                        table #health-findings {
                            thead { tr { th { "Severity" } th { "Rule" } th { "Certificate" } th { "Days left" } th { "Bound to" } th { "What to do" } } }
                            tbody {
                                @for f in &report.findings {
                                    tr {
                                        td { span class=(format!("badge {}", match f.severity {
                                            mailcert_binding::Severity::Error => "bad",
                                            mailcert_binding::Severity::Warning => "warn",
                                            mailcert_binding::Severity::Attention => "info",
                                        })) { (f.severity.as_str()) } }
                                        td.nowrap { (f.rule) }
                                        td {
                                            @match &f.thumbprint_sha1 {
                                                Some(s) => a href=(format!("/certificates/{s}")) { (s.get(..12).unwrap_or(s)) "…" },
                                                None => "—",
                                            }
                                        }
                                        td { @match f.days_left { Some(d) => (d), None => "—" } }
                                        td { @for b in &f.bound_to { (b) br; } }
                                        td { (f.message) }
                                    }
                                }
                            }
                        }
                    }
                }
                section.panel {
                    h2 { "The rules" }
                    dl.facts {
                        @for (name, severity, doc) in HEALTH_RULES {
                            dt { (name) " (" (severity.as_str()) ")" } dd { (doc) }
                        }
                    }
                    p.help { "mailcert-health.timer runs " code { "mailcert health --notify" } " hourly; each finding is mailed to the contacts at most once a day." }
                }
            },
        )
        .into_response()
    }))
}

/// `GET /settings/certificates`: thresholds, request defaults and contacts.
pub(crate) async fn settings(State(state): State<Shared>, admin: Admin) -> Response {
    let r = with_farm(&state, |farm, _| {
        Ok((
            mailcert_store::certificate_settings(farm)?,
            mailcert_store::contacts(farm)?,
        ))
    })
    .await;
    respond(r.map(|(s, contacts)| settings_page(&admin, &s, &contacts).into_response()))
}

fn settings_page(admin: &Admin, s: &CertificateSettings, contacts: &[String]) -> Markup {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let days = |id: &str, label: &str, v: u32, help: &str| {
        field(
            id,
            label,
            html! { input id=(id) type="number" name=(id) min="0" max="3650" value=(v) aria-describedby=(format!("{id}-help")); },
            Some(help),
        )
    };
    page(
        "Certificate management settings",
        &admin.chrome(Nav::Health),
        html! {
            form.panel method="post" action="/settings/certificates" {
                h2 { "Health rule thresholds" }
                (csrf_field(&admin.csrf))
                (days("attention_days", "Attention (days before expiry)", s.attention_days, "upcoming-expiration; 0 turns it off."))
                (days("warning_days", "Warning (days before expiry)", s.warning_days, "about-to-expire; 0 turns it off. Not above the attention threshold."))
                (days("error_days", "Error (days after expiry)", s.error_days, "How long expired is reported; binding-broken afterwards. 0 turns it off."))
                h2 { "Defaults for new requests" }
                (key_fields(s, None))
                (subject_fields(s))
                (field("country", "Country",
                    html! { input #country type="text" name="country" maxlength="2" value=(o(&s.country)); }, None))
                div.actions { button type="submit" { "Save" } }
            }
            section.panel {
                h2 { "Certificate notification contacts" }
                p.help { "Who " code { "mailcert health --notify" } " mails about the health findings, through the farm's outgoing e-mail settings." }
                @if contacts.is_empty() {
                    p #no-contacts { "No contacts: nobody is told when a bound certificate expires." }
                } @else {
                    ul #contacts {
                        @for c in contacts {
                            li {
                                (c) " "
                                form.inline method="post" action="/settings/certificates/contacts/remove" {
                                    (csrf_field(&admin.csrf))
                                    input type="hidden" name="address" value=(c);
                                    button.link type="submit" aria-label=(format!("Remove {c}")) { "Remove" }
                                }
                            }
                        }
                    }
                }
                form method="post" action="/settings/certificates/contacts/add" {
                    (csrf_field(&admin.csrf))
                    (field("contact", "Add a contact",
                        html! { input #contact type="email" name="address" required placeholder="pki@contoso.com"; }, None))
                    div.actions { button type="submit" { "Add" } }
                }
            }
        },
    )
}

/// `POST /settings/certificates`.
pub(crate) async fn settings_save(State(state): State<Shared>, form: AdminForm) -> Response {
    let AdminForm { admin, data } = form;
    let number = |name: &str| data.get(name).trim().parse::<u32>();
    let (attention, warning, error) = match (
        number("attention_days"),
        number("warning_days"),
        number("error_days"),
    ) {
        (Ok(a), Ok(w), Ok(e)) => (a, w, e),
        _ => {
            return flash_redirect(
                &state,
                &admin.id,
                error_flash(
                    "The thresholds must be whole numbers of days (0 turns a rule off); nothing was saved.",
                ),
                "/settings/certificates",
            );
        }
    };
    let alg = key_algorithm(data.get("key_algorithm"));
    let size = data.get("key_size").parse::<u32>().ok();
    let cv = curve(data.get("elliptic_curve"));
    let h = hash(data.get("hash"));
    let subject = [
        data.get("organization").to_string(),
        data.get("organizational_unit").to_string(),
        data.get("locality").to_string(),
        data.get("state").to_string(),
        data.get("country").to_string(),
    ];
    let r = with_farm(&state, move |farm, now| {
        Ok(mailcert_store::update_certificate_settings(
            farm,
            |s| {
                s.attention_days = attention;
                s.warning_days = warning;
                s.error_days = error;
                if let Some(a) = alg {
                    s.key_algorithm = a;
                }
                if let Some(k) = size {
                    s.key_size = k;
                }
                if let Some(c) = cv {
                    s.elliptic_curve = c;
                }
                if let Some(h) = h {
                    s.hash = h;
                }
                let [o, ou, l, st, c] = subject;
                s.organization = Some(o);
                s.organizational_unit = Some(ou);
                s.locality = Some(l);
                s.state = Some(st);
                s.country = Some(c);
            },
            now,
        ))
    })
    .await;
    let flash = match r {
        Ok(Ok((_, changed))) if changed.is_empty() => {
            Flash::new(FlashKind::Info, "Nothing changed.", vec![])
        }
        Ok(Ok((_, changed))) => Flash::new(FlashKind::Ok, "Certificate settings saved.", changed),
        Ok(Err(e)) => error_flash(format!("Nothing was saved: {e}")),
        Err(e) => return e.into_response(),
    };
    flash_redirect(&state, &admin.id, flash, "/settings/certificates")
}

/// `POST /settings/certificates/contacts/add` and `…/remove`.
async fn change_contacts(state: Shared, form: AdminForm, add: bool) -> Response {
    let address = form.data.get("address").trim().to_string();
    let change = if add {
        match mailcert_binding::parse_mailbox(&address) {
            Ok(m) => ContactChange::Add(vec![m.email.to_string()]),
            Err(e) => {
                return flash_redirect(
                    &state,
                    &form.admin.id,
                    error_flash(format!("'{address}' is not a valid e-mail address: {e}")),
                    "/settings/certificates",
                );
            }
        }
    } else {
        ContactChange::Remove(vec![address])
    };
    let r = with_farm(&state, move |farm, now| {
        Ok(mailcert_store::change_contacts(farm, change, now))
    })
    .await;
    let flash = match r {
        Ok(Ok(done)) if done.is_empty() => {
            Flash::new(FlashKind::Info, "That contact was there already.", vec![])
        }
        Ok(Ok(done)) => Flash::new(
            FlashKind::Ok,
            format!(
                "{} {}.",
                if add { "Added" } else { "Removed" },
                done.join(", ")
            ),
            vec![],
        ),
        Ok(Err(e)) => error_flash(e.to_string()),
        Err(e) => return e.into_response(),
    };
    flash_redirect(&state, &form.admin.id, flash, "/settings/certificates")
}

/// `POST /settings/certificates/contacts/add`.
pub(crate) async fn contact_add(State(state): State<Shared>, form: AdminForm) -> Response {
    change_contacts(state, form, true).await
}

/// `POST /settings/certificates/contacts/remove`.
pub(crate) async fn contact_remove(State(state): State<Shared>, form: AdminForm) -> Response {
    change_contacts(state, form, false).await
}
