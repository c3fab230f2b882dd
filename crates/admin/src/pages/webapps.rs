//! "Web applications": each with its effective SMTP server, bound certificate and any
//! binding problem; add and remove (with confirmation).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use mailcert_binding::{Effective, Source, WebAppUrl};
use mailcert_store::WebAppRow;
use maud::html;

use crate::auth::Admin;
use crate::forms::{AdminForm, FormData};
use crate::html::{Nav, csrf_field, page, query_value};
use crate::pages::{PageError, act, error_flash, flash_redirect, refusal, respond};
use crate::session::{Flash, FlashKind};
use crate::state::{Shared, with_farm};

/// The settings page of a web application.
pub(crate) fn settings_href(url: &str) -> String {
    format!("/settings/webapp?url={}", query_value(url))
}

/// `GET /webapps`.
pub(crate) async fn list(State(state): State<Shared>, admin: Admin) -> Response {
    let apps = with_farm(&state, |farm, now| {
        Ok(mailcert_binding::list_webapps(farm, now)?)
    })
    .await;
    respond(apps.map(|apps| list_page(&admin, &apps).into_response()))
}

fn list_page(admin: &Admin, apps: &[(WebAppRow, Option<Effective>)]) -> maud::Markup {
    page(
        "Web applications",
        &admin.chrome(Nav::WebApps),
        html! {
            p.lead {
                "Each web application sends mail with its own outgoing e-mail settings, or with the "
                a href="/settings/farm" { "farm's" } " when it has none."
            }
            @if apps.is_empty() {
                p.empty { "No web applications yet. Add one below." }
            } @else {
                div.table-wrap {
                    table.reflow #webapps {
                        thead { tr {
                            th scope="col" { "URL" }
                            th scope="col" { "Name" }
                            th scope="col" { "SMTP server" }
                            th scope="col" { "Client certificate" }
                            th scope="col" { "Status" }
                            th scope="col" { span { "Actions" } }
                        } }
                        tbody {
                            @for (w, e) in apps {
                                tr {
                                    td data-label="URL" { a href=(settings_href(&w.url)) { (w.url) } }
                                    td data-label="Name" { (w.name.as_deref().unwrap_or("—")) }
                                    @match e {
                                        None => {
                                            td data-label="SMTP server" { em { "none: " } a href="/settings/farm" { "set the farm's settings" } }
                                            td data-label="Client certificate" { "—" }
                                            td data-label="Status" { span.badge.warn { "no settings" } }
                                        }
                                        Some(e) => {
                                            td data-label="SMTP server" {
                                                (e.settings.smtp_server) ":" (e.settings.port) br;
                                                small { (match e.source { Source::Farm => "the farm's settings", Source::WebApplication => "its own settings" }) }
                                            }
                                            td data-label="Client certificate" {
                                                @match (&e.settings.certificate, &e.certificate) {
                                                    (None, _) => "—",
                                                    (Some(_), Some(c)) => a href=(format!("/certificates/{}", c.facts.thumbprint_sha1)) { (c.display_name()) },
                                                    (Some(sha1), None) => span.mono { (sha1) },
                                                }
                                            }
                                            td data-label="Status" {
                                                @if e.problems.is_empty() {
                                                    span.badge.good { "OK" }
                                                } @else {
                                                    span.badge.bad { "Problem" }
                                                    ul.reasons { @for p in &e.problems { li { (p) } } }
                                                }
                                            }
                                        }
                                    }
                                    td data-label="Actions" {
                                        a href=(settings_href(&w.url)) { "Outgoing e-mail settings" }
                                        " · "
                                        a href=(format!("/webapps/remove?url={}", query_value(&w.url))) { "Remove…" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Add a web application" }
            form.panel method="post" action="/webapps/add" {
                (csrf_field(&admin.csrf))
                div.field {
                    label for="url" { "URL" }
                    div.control {
                        input #url type="text" name="url" required placeholder="https://intranet.contoso.com"
                            aria-describedby="url-help";
                        p.help #url-help { "http or https; it is normalised (lower-case host, default port and trailing slash dropped)." }
                    }
                }
                div.field {
                    label for="name" { "Display name (optional)" }
                    div.control { input #name type="text" name="name" maxlength="200"; }
                }
                div.actions { button type="submit" { "Add" } }
            }
        },
    )
}

/// `POST /webapps/add`.
pub(crate) async fn add(State(state): State<Shared>, form: AdminForm) -> Response {
    let url = match WebAppUrl::parse(form.data.get("url")) {
        Ok(u) => u,
        Err(e) => {
            return flash_redirect(
                &state,
                &form.admin.id,
                error_flash(e.to_string()),
                "/webapps",
            );
        }
    };
    let name = form.data.get("name").to_string();
    act(
        &state,
        &form.admin.id,
        "/webapps",
        move |farm, now| mailcert_binding::add_webapp(farm, &url, Some(&name), now),
        |w| {
            Flash::new(
                FlashKind::Ok,
                format!("Added web application {}.", w.url),
                vec![
                    "It uses the farm's outgoing e-mail settings until it is given its own.".into(),
                ],
            )
        },
        refusal,
    )
    .await
}

/// `GET /webapps/remove?url=`: the confirmation.
pub(crate) async fn confirm_remove(
    State(state): State<Shared>,
    admin: Admin,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let q = FormData::from_pairs(q);
    let url = match WebAppUrl::parse(q.get("url")) {
        Ok(u) => u,
        Err(e) => return PageError::NotFound(e.to_string()).into_response(),
    };
    let target = mailcert_binding::Target::WebApp(url.clone());
    let eff = with_farm(&state, move |farm, now| {
        match mailcert_binding::effective(farm, &target, now) {
            Ok(e) => Ok(Some(e)),
            Err(mailcert_binding::Error::NoSettings { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    })
    .await;
    respond(eff.map(|eff| {
        let own = eff
            .as_ref()
            .is_some_and(|e| e.source == Source::WebApplication);
        page(
            "Remove web application",
            &admin.chrome(Nav::WebApps),
            html! {
                form.panel method="post" action="/webapps/remove" {
                    (csrf_field(&admin.csrf))
                    input type="hidden" name="url" value=(url.as_str());
                    p { "Remove the web application " strong { (url.as_str()) } "?" }
                    @if own {
                        p { "Its own outgoing e-mail settings, and the certificate binding in them, are removed with it." }
                    } @else {
                        p { "It has no settings of its own." }
                    }
                    div.actions {
                        button.danger type="submit" { "Remove" }
                        a.button.secondary href="/webapps" { "Cancel" }
                    }
                }
            },
        )
        .into_response()
    }))
}

/// `POST /webapps/remove`.
pub(crate) async fn remove(State(state): State<Shared>, form: AdminForm) -> Response {
    let url = match WebAppUrl::parse(form.data.get("url")) {
        Ok(u) => u,
        Err(e) => {
            return flash_redirect(
                &state,
                &form.admin.id,
                error_flash(e.to_string()),
                "/webapps",
            );
        }
    };
    act(
        &state,
        &form.admin.id,
        "/webapps",
        move |farm, now| mailcert_binding::remove_webapp(farm, &url, true, now),
        |w| {
            Flash::new(
                FlashKind::Ok,
                format!("Removed web application {} with its settings.", w.url),
                vec![],
            )
        },
        refusal,
    )
    .await
}
