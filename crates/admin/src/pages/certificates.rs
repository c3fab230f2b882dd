//! "Manage certificates": the list with filters, a search (name, subject, thumbprint)
//! and pages of [`PAGE_SIZE`], import by upload, and for one certificate its details,
//! rename, move, remove (with confirmation), export, and for a keyless one the upload
//! of its private key. Every change goes through the store's functions, so the CLI's
//! rules apply unchanged.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use mailcert_store::{
    CertFilter, CertRecord, ExportFormat, ExportRequest, ImportOptions, ImportReport, Input,
    Outcome, PfxEncryption, StoreName, eku_name,
};
use maud::{Markup, html};
use zeroize::Zeroizing;

use crate::auth::Admin;
use crate::forms::{AdminForm, AdminUpload, FormData};
use crate::html::{Nav, csrf_field, date, date_time, days_until, page, yes_no};
use crate::pages::{PageError, act, error_flash, flash_redirect, refusal, respond, thumbprint};
use crate::session::{Flash, FlashKind};
use crate::state::{Shared, with_farm};

/// Days before expiry from which a certificate is flagged as expiring soon.
const SOON_DAYS: i64 = 30;

/// One row of the list.
struct Row {
    cert: CertRecord,
    reasons: Vec<String>,
    bound_to: Vec<String>,
}

/// The filters as typed, and the store filter they make.
struct Filters {
    store: String,
    eligible: bool,
    in_use: bool,
    expiring: String,
    expired: bool,
    /// The search text (friendly name, subject or thumbprint), trimmed.
    q: String,
    /// The page asked for, from 1.
    page: usize,
    problems: Vec<String>,
    filter: CertFilter,
}

impl Filters {
    fn parse(q: &FormData) -> Filters {
        let mut problems = Vec::new();
        let store_text = q.get("store").trim().to_string();
        let store = if store_text.is_empty() {
            None
        } else {
            match StoreName::from_str(&store_text) {
                Ok(s) => Some(s),
                Err(e) => {
                    problems.push(e.to_string());
                    None
                }
            }
        };
        let expiring_text = q.get("expiring").trim().to_string();
        let expiring_within = if expiring_text.is_empty() {
            None
        } else {
            match expiring_text.parse::<u32>() {
                Ok(d) => Some(i64::from(d) * 86_400),
                Err(_) => {
                    problems.push(format!(
                        "'{expiring_text}' is not a number of days; the expiry filter was ignored"
                    ));
                    None
                }
            }
        };
        let filter = CertFilter {
            store,
            eligible: q.checked("eligible"),
            expiring_within,
            expired: q.checked("expired"),
            in_use: q.checked("in_use"),
        };
        Filters {
            store: store.map(|s| s.as_str().to_string()).unwrap_or_default(),
            eligible: filter.eligible,
            in_use: filter.in_use,
            expiring: expiring_text,
            expired: filter.expired,
            q: q.get("q").trim().chars().take(200).collect(),
            page: q.get("page").trim().parse().unwrap_or(1).max(1),
            problems,
            filter,
        }
    }

    /// Whether `c` matches the search text: a case-insensitive part of its friendly
    /// name or subject, or of its SHA-1 or SHA-256 thumbprint (colons and spaces ignored).
    fn matches(&self, c: &CertRecord) -> bool {
        if self.q.is_empty() {
            return true;
        }
        let needle = self.q.to_lowercase();
        let in_text = |t: &str| t.to_lowercase().contains(&needle);
        let hex: String = self
            .q
            .chars()
            .filter(|ch| !matches!(ch, ':' | ' '))
            .collect::<String>()
            .to_ascii_uppercase();
        c.friendly_name.as_deref().is_some_and(in_text)
            || in_text(&c.facts.subject)
            || (!hex.is_empty()
                && (c.facts.thumbprint_sha1.contains(&hex)
                    || c.facts.thumbprint_sha256.contains(&hex)))
    }

    /// The list's query string for page `page`, keeping the filters and the search.
    fn query(&self, page: usize) -> String {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            pairs.append_pair("q", &self.q);
        }
        if !self.store.is_empty() {
            pairs.append_pair("store", &self.store);
        }
        for (name, on) in [
            ("eligible", self.eligible),
            ("in_use", self.in_use),
            ("expired", self.expired),
        ] {
            if on {
                pairs.append_pair(name, "on");
            }
        }
        if !self.expiring.is_empty() {
            pairs.append_pair("expiring", &self.expiring);
        }
        pairs.append_pair("page", &page.to_string());
        pairs.finish()
    }
}

/// Certificates listed per page.
const PAGE_SIZE: usize = 25;

/// One page of the list: its rows, and where it lies in the whole.
struct Paged<'a> {
    rows: &'a [Row],
    /// The page shown, from 1 (the last one when a later page was asked for).
    page: usize,
    /// How many pages.
    pages: usize,
    /// How many certificates match in all.
    total: usize,
}

impl<'a> Paged<'a> {
    fn of(rows: &'a [Row], asked: usize) -> Paged<'a> {
        let total = rows.len();
        let pages = total.div_ceil(PAGE_SIZE).max(1);
        let page = asked.clamp(1, pages);
        let start = (page - 1) * PAGE_SIZE;
        let end = (start + PAGE_SIZE).min(total);
        Paged {
            rows: rows.get(start..end).unwrap_or_default(),
            page,
            pages,
            total,
        }
    }

    /// "Showing X–Y of N".
    fn showing(&self) -> String {
        let first = (self.page - 1) * PAGE_SIZE + 1;
        format!(
            "Showing {}–{} of {}",
            first.min(self.total),
            first + self.rows.len() - 1,
            self.total
        )
    }
}

/// `GET /certificates`: the list, filtered by the query, with the import form.
pub(crate) async fn list(
    State(state): State<Shared>,
    admin: Admin,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let filters = Arc::new(Filters::parse(&FormData::from_pairs(q)));
    let filter = filters.filter.clone();
    let search = filters.clone();
    let rows = with_farm(&state, move |farm, now| {
        Ok(farm.read(|tx| {
            let bound = tx.bound_by_certificate()?;
            let mut rows = Vec::new();
            tx.list_each(&filter, now, |c| {
                if !search.matches(&c) {
                    return Ok(());
                }
                rows.push(Row {
                    reasons: c.findings(now).iter().map(|f| f.message()).collect(),
                    bound_to: bound
                        .get(&c.facts.thumbprint_sha1)
                        .cloned()
                        .unwrap_or_default(),
                    cert: c,
                });
                Ok(())
            })?;
            Ok::<_, mailcert_store::Error>((rows, now))
        })?)
    })
    .await;
    respond(rows.map(|(rows, now)| list_page(&admin, &filters, &rows, now).into_response()))
}

fn expiry(c: &CertRecord, now: i64) -> Markup {
    html! { (date(c.facts.not_after)) br; (expiry_badge(c, now)) }
}

/// Days left, expired (marked), or not yet valid.
fn expiry_badge(c: &CertRecord, now: i64) -> Markup {
    let days = days_until(c.facts.not_after, now);
    html! {
        @if c.facts.not_after < now {
            span.badge.bad { "expired " (-days) " days ago" }
        } @else if c.facts.not_before > now {
            span.badge.warn { "not valid until " (date(c.facts.not_before)) }
        } @else if days <= SOON_DAYS {
            span.badge.warn { (days) " days left" }
        } @else {
            span.badge.muted { (days) " days left" }
        }
    }
}

fn store_options(selected: &str, any_label: &str) -> Markup {
    html! {
        option value="" selected[selected.is_empty()] { (any_label) }
        @for s in StoreName::ALL {
            option value=(s.as_str()) selected[selected == s.as_str()] { (s.display_name()) }
        }
    }
}

/// "Previous" and "Next" with "Showing X–Y of N", above and below the table.
fn pager(f: &Filters, p: &Paged<'_>, id: &str) -> Markup {
    html! {
        nav.pager id=(id) aria-label="Pages" {
            span.showing { (p.showing()) }
            @if p.pages > 1 {
                " (page " (p.page) " of " (p.pages) ") "
            }
            @if p.page > 1 {
                a rel="prev" href=(format!("/certificates?{}", f.query(p.page - 1))) { "← Previous" }
            }
            @if p.page < p.pages {
                a rel="next" href=(format!("/certificates?{}", f.query(p.page + 1))) { "Next →" }
            }
        }
    }
}

fn list_page(admin: &Admin, f: &Filters, rows: &[Row], now: i64) -> Markup {
    let paged = Paged::of(rows, f.page);
    page(
        "Certificates",
        &admin.chrome(Nav::Certificates),
        html! {
            p.lead {
                "The farm's certificate stores. Only certificates in the End Entity store that pass every "
                "eligibility rule can be chosen as the client certificate for outgoing e-mail."
            }
            p.actions {
                a.button #import-link href="#import" { "Import…" }
                a.button href="/certificates/request" { "Request certificate…" }
                a href="/certificates/request#pending-requests" { "Pending requests" }
                a href="/settings/certificates" { "Certificate management settings" }
            }
            form.filters #search method="get" action="/certificates" aria-label="Filters" {
                div.f {
                    label for="f-q" { "Search" }
                    input #f-q type="search" name="q" value=(f.q) maxlength="200"
                        placeholder="Name, subject or thumbprint";
                }
                div.f {
                    label for="f-store" { "Store" }
                    select #f-store name="store" { (store_options(&f.store, "All stores")) }
                }
                div.f.check {
                    input #f-eligible type="checkbox" name="eligible" value="on" checked[f.eligible];
                    label for="f-eligible" { "Eligible only" }
                }
                div.f.check {
                    input #f-in-use type="checkbox" name="in_use" value="on" checked[f.in_use];
                    label for="f-in-use" { "In use (bound)" }
                }
                div.f {
                    label for="f-expiring" { "Expiring within (days)" }
                    input #f-expiring type="number" min="0" name="expiring" value=(f.expiring);
                }
                div.f.check {
                    input #f-expired type="checkbox" name="expired" value="on" checked[f.expired];
                    label for="f-expired" { "Expired" }
                }
                div.f { button.secondary type="submit" { "Filter" } }
                div.f { a href="/certificates" { "Clear filters" } }
            }
            @for p in &f.problems {
                div.flash.error role="alert" { (p) }
            }
            @if rows.is_empty() {
                p.empty { "No certificates match." }
            } @else {
                (pager(f, &paged, "pager-top"))
                div.table-wrap {
                    table.reflow #certificates {
                        thead { tr {
                            th scope="col" { "Friendly name" }
                            th scope="col" { "Subject" }
                            th scope="col" { "Issuer" }
                            th scope="col" { "Store" }
                            th scope="col" { "Expires" }
                            th scope="col" { "Private key" }
                            th scope="col" { "Eligible" }
                            th scope="col" { "Bound to" }
                        } }
                        tbody {
                            @for r in paged.rows {
                                tr data-thumbprint=(r.cert.facts.thumbprint_sha1) {
                                    td data-label="Friendly name" {
                                        a href=(format!("/certificates/{}", r.cert.facts.thumbprint_sha1)) {
                                            @match &r.cert.friendly_name {
                                                Some(n) => (n),
                                                None => em { "(none)" },
                                            }
                                        }
                                        br;
                                        span.mono title="SHA-1 thumbprint" { (r.cert.facts.thumbprint_sha1.get(..8).unwrap_or(&r.cert.facts.thumbprint_sha1)) "…" }
                                    }
                                    td data-label="Subject" { (r.cert.facts.subject) }
                                    td.low data-label="Issuer" { (r.cert.facts.issuer) }
                                    td data-label="Store" { (r.cert.store.display_name()) }
                                    td data-label="Expires" { (expiry(&r.cert, now)) }
                                    td data-label="Private key" {
                                        (yes_no(r.cert.has_private_key))
                                        @if r.cert.has_private_key && r.cert.exportable { br; small { "exportable" } }
                                    }
                                    td.eligibility data-label="Eligible" {
                                        @if r.cert.store != StoreName::EndEntity {
                                            span title="Only End Entity certificates can authenticate mail" { "—" }
                                        } @else {
                                            (yes_no(r.reasons.is_empty()))
                                            @if !r.reasons.is_empty() {
                                                ul.reasons { @for reason in &r.reasons { li { (reason) } } }
                                            }
                                        }
                                    }
                                    td data-label="Bound to" {
                                        @if r.bound_to.is_empty() { "—" }
                                        @for b in &r.bound_to { (b) br; }
                                    }
                                }
                            }
                        }
                    }
                }
                (pager(f, &paged, "pager-bottom"))
            }
            (import_form(&admin.csrf))
        },
    )
}

fn import_form(csrf: &str) -> Markup {
    html! {
        h2 #import { "Import a certificate" }
        form.panel method="post" action="/certificates/import" enctype="multipart/form-data" {
            (csrf_field(csrf))
            p.help {
                "PFX/PKCS#12 (.pfx, .p12), PEM, DER (.cer, .der) or PKCS#7 (.p7b). Certificates that "
                "come with it (its chain) go to the Intermediate and Root stores. Files of up to 1 MiB."
            }
            div.field {
                label for="file" { "Certificate file" }
                div.control { input #file type="file" name="file" required; }
            }
            div.field {
                label for="password" { "Password" }
                div.control {
                    input #password type="password" name="password" autocomplete="off" aria-describedby="password-help";
                    p.help #password-help { "For a PFX file or an encrypted key; leave empty when there is none." }
                }
            }
            div.field {
                label for="key_file" { "Private key file (optional)" }
                div.control {
                    input #key_file type="file" name="key_file" aria-describedby="key_file-help";
                    p.help #key_file-help { "When the key is in a file of its own (PKCS#8, PKCS#1 or SEC1 PEM)." }
                }
            }
            div.field {
                label for="friendly_name" { "Friendly name (optional)" }
                div.control { input #friendly_name type="text" name="friendly_name" maxlength="200"; }
            }
            div.field {
                label for="store" { "Store" }
                div.control {
                    select #store name="store" {
                        (store_options("", "Automatic (End Entity; a CA certificate without key goes to Intermediate or Root)"))
                    }
                }
            }
            div.field {
                span.label { "Options" }
                div.control {
                    div {
                        input #exportable type="checkbox" name="exportable" value="on";
                        " "
                        label for="exportable" { "Exportable: the private key may be exported later" }
                    }
                    div {
                        input #replace type="checkbox" name="replace" value="on";
                        " "
                        label for="replace" { "Renewal: take over the bindings of the bound certificate it renews" }
                    }
                    div {
                        input #no_chain_trust type="checkbox" name="no_chain_trust" value="on";
                        " "
                        label for="no_chain_trust" { "Keep a root CA that comes with the file in Pending, not as a trust anchor" }
                    }
                }
            }
            div.actions { button.import type="submit" { "Import" } }
        }
    }
}

fn import_flash(file: &str, report: &ImportReport, now: i64) -> Flash {
    let leaf = &report.leaf.record;
    let reasons: Vec<String> = leaf.findings(now).iter().map(|f| f.message()).collect();
    let mut lines = vec![format!("SHA-1 thumbprint {}", leaf.facts.thumbprint_sha1)];
    if reasons.is_empty() {
        lines.push("Eligible for SMTP client authentication.".into());
    } else {
        lines.push("NOT eligible for SMTP client authentication:".into());
        lines.extend(reasons.iter().cloned());
    }
    if let Some(r) = &report.request {
        lines.push(format!(
            "Paired with the pending request {} and its sealed private key.",
            r.key_id
        ));
    }
    for (old, moved) in &report.replaced {
        lines.push(format!(
            "Renews {}: took over its bindings: {}",
            old.facts.describe(),
            moved.join(", ")
        ));
    }
    for c in &report.chain {
        lines.push(format!(
            "Chain: {} {} ({})",
            c.outcome.describe(),
            c.record.display_name(),
            c.record.store.display_name()
        ));
        if c.outcome == Outcome::Added && c.record.store == StoreName::Root {
            lines.push(format!(
                "{} is now a trust anchor: relays whose server certificate chains to it are trusted.",
                c.record.display_name()
            ));
        }
    }
    Flash::new(
        if reasons.is_empty() {
            FlashKind::Ok
        } else {
            FlashKind::Info
        },
        format!(
            "{file}: {} {} in {}",
            report.leaf.outcome.describe(),
            leaf.display_name(),
            leaf.store.display_name()
        ),
        lines,
    )
}

/// `POST /certificates/import`: one uploaded file (and optional key file) imported in
/// one transaction; the result or the error (naming the file) is shown on the list.
pub(crate) async fn import(State(state): State<Shared>, upload: AdminUpload) -> Response {
    let AdminUpload {
        admin,
        data,
        mut files,
    } = upload;
    let back = "/certificates";
    let Some(cert_at) = files.iter().position(|f| f.field == "file") else {
        return flash_redirect(
            &state,
            &admin.id,
            error_flash("Choose a certificate file to import."),
            back,
        );
    };
    let cert = files.swap_remove(cert_at);
    let key = files
        .iter()
        .position(|f| f.field == "key_file")
        .map(|i| files.swap_remove(i));
    let store = match data.get("store").trim() {
        "" => None,
        s => match StoreName::from_str(s) {
            Ok(s) => Some(s),
            Err(e) => return flash_redirect(&state, &admin.id, error_flash(e.to_string()), back),
        },
    };
    let opts = ImportOptions {
        store,
        friendly_name: Some(data.get("friendly_name").trim().to_string()).filter(|n| !n.is_empty()),
        exportable: data.checked("exportable"),
        replace: data.checked("replace"),
        no_chain_trust: data.checked("no_chain_trust"),
    };
    let password: Option<Zeroizing<String>> =
        Some(Zeroizing::new(data.get("password").to_string())).filter(|p| !p.is_empty());
    drop(data);
    let file_name = if cert.file_name.is_empty() {
        "upload".to_string()
    } else {
        cert.file_name.clone()
    };
    let name = file_name.clone();
    let result = with_farm(&state, move |farm, now| {
        let key_name = key.as_ref().map(|k| {
            if k.file_name.is_empty() {
                "key upload".to_string()
            } else {
                k.file_name.clone()
            }
        });
        let bundle = mailcert_store::parse_bundle(
            Input {
                path: Path::new(&name),
                bytes: &cert.bytes,
            },
            match (&key, &key_name) {
                (Some(k), Some(n)) => Some(Input {
                    path: Path::new(n),
                    bytes: &k.bytes,
                }),
                _ => None,
            },
            password.as_deref().map(String::as_str),
        );
        let bundle = match bundle {
            Ok(b) => b,
            Err(mailcert_store::Error::PasswordRequired { path }) => {
                return Ok(Err(format!(
                    "{}: the file is password-protected; enter its password and import it again",
                    path.display()
                )));
            }
            Err(e) => return Ok(Err(e.to_string())),
        };
        match mailcert_store::import_bundle(farm, Path::new(&name), bundle, &opts, now) {
            Ok(report) => Ok(Ok(import_flash(&name, &report, now))),
            Err(e) => Ok(Err(e.to_string())),
        }
    })
    .await;
    let flash = match result {
        Ok(Ok(f)) => f,
        Ok(Err(message)) => Flash::new(
            FlashKind::Error,
            format!("{file_name} was not imported"),
            vec![message],
        ),
        Err(e) => return e.into_response(),
    };
    flash_redirect(&state, &admin.id, flash, back)
}

/// Everything the details page shows.
struct Details {
    cert: CertRecord,
    chain: Vec<CertRecord>,
    bound_to: Vec<String>,
    /// Eligible End Entity certificates its bindings could move to.
    others: Vec<CertRecord>,
    /// The key id of a pending renewal request.
    renewal: Option<String>,
    now: i64,
}

async fn load_details(state: &Shared, sha1: String) -> Result<Details, PageError> {
    with_farm(state, move |farm, now| {
        Ok(farm.read(|tx| {
            let cert = tx.resolve(&sha1)?;
            let chain = mailcert_store::issuers(tx, &cert, true)?;
            let bound_to = tx
                .bindings(Some(&cert.facts.thumbprint_sha1))?
                .iter()
                .map(|b| b.label())
                .collect();
            let mut others = Vec::new();
            tx.list_each(
                &CertFilter {
                    store: Some(StoreName::EndEntity),
                    eligible: true,
                    ..CertFilter::default()
                },
                now,
                |c| {
                    if c.id != cert.id {
                        others.push(c);
                    }
                    Ok(())
                },
            )?;
            let renewal = tx
                .pending_renewal(&cert.facts.thumbprint_sha1)?
                .map(|r| r.key_id);
            Ok::<_, mailcert_store::Error>(Details {
                cert,
                chain,
                bound_to,
                others,
                renewal,
                now,
            })
        })?)
    })
    .await
}

/// `GET /certificates/{sha1}`: details, with rename, move, export and remove.
pub(crate) async fn show(
    State(state): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    admin: Admin,
) -> Response {
    let d = match thumbprint(&raw) {
        Ok(sha1) => load_details(&state, sha1).await,
        Err(e) => Err(e),
    };
    respond(d.map(|d| details_page(&admin, &d).into_response()))
}

fn details_page(admin: &Admin, d: &Details) -> Markup {
    let c = &d.cert;
    let f = &c.facts;
    let findings = c.findings(d.now);
    let base = format!("/certificates/{}", f.thumbprint_sha1);
    page(
        c.display_name(),
        &admin.chrome(Nav::Certificates),
        html! {
            p { a href="/certificates" { "← All certificates" } }
            div.grid2 {
                section.panel {
                    h2 { "Certificate" }
                    dl.facts {
                        dt { "Friendly name" } dd { (c.friendly_name.as_deref().unwrap_or("(none)")) }
                        dt { "Subject" } dd { (f.subject) }
                        dt { "Issuer" } dd { (f.issuer) }
                        dt { "Alternative names" } dd {
                            @if f.sans.is_empty() { "(none)" }
                            @for s in &f.sans { (s) br; }
                        }
                        dt { "Serial number" } dd.mono { (f.serial) }
                        dt { "Valid from" } dd { (date_time(f.not_before)) }
                        dt { "Valid until" } dd { (date_time(f.not_after)) " " (expiry_badge(c, d.now)) }
                        dt { "Key" } dd { (f.key_type) }
                        dt { "Extended key usage" } dd {
                            @match &f.eku {
                                None => "(no extension: any use)",
                                Some(oids) => @for o in oids { (eku_name(o)) br; },
                            }
                        }
                        dt { "Key usage" } dd {
                            @match &f.key_usage {
                                None => "(no extension: any use)",
                                Some(bits) => (bits.join(", ")),
                            }
                        }
                        dt { "CA" } dd { (if f.is_ca { "yes" } else { "no" }) (if f.self_signed { " (self-signed)" } else { "" }) }
                        dt { "SHA-1 thumbprint" } dd.mono { (f.thumbprint_sha1) }
                        dt { "SHA-256 thumbprint" } dd.mono { (f.thumbprint_sha256) }
                        dt { "Imported" } dd { (date_time(c.imported_at)) }
                    }
                }
                section.panel {
                    h2 { "Use" }
                    dl.facts {
                        dt { "Store" } dd { (c.store.display_name()) }
                        dt { "Private key" } dd {
                            (yes_no(c.has_private_key))
                            @if c.has_private_key { " " (if c.exportable { "exportable" } else { "not exportable" }) }
                        }
                        dt { "Eligible" } dd.eligibility {
                            (yes_no(findings.is_empty()))
                            @if !findings.is_empty() {
                                ul.reasons { @for r in &findings { li { (r.message()) } } }
                            }
                        }
                        dt { "Bound to" } dd {
                            @if d.bound_to.is_empty() { "nothing" }
                            @for b in &d.bound_to { (b) br; }
                        }
                        dt { "Chain" } dd {
                            @if d.chain.is_empty() { "(no issuer in the farm)" }
                            @for i in &d.chain {
                                a href=(format!("/certificates/{}", i.facts.thumbprint_sha1)) { (i.display_name()) }
                                " (" (i.store.display_name()) ")" br;
                            }
                        }
                    }
                }
            }
            div.grid2 {
                form.panel method="post" action=(format!("{base}/rename")) {
                    h2 { "Rename" }
                    (csrf_field(&admin.csrf))
                    div.field {
                        label for="new_name" { "Friendly name" }
                        div.control {
                            input #new_name type="text" name="name" maxlength="200"
                                value=(c.friendly_name.as_deref().unwrap_or(""))
                                aria-describedby="new_name-help";
                            p.help #new_name-help { "Empty removes the friendly name." }
                        }
                    }
                    div.actions { button type="submit" { "Rename" } }
                }
                form.panel method="post" action=(format!("{base}/move")) {
                    h2 { "Move to another store" }
                    (csrf_field(&admin.csrf))
                    div.field {
                        label for="to" { "Store" }
                        div.control {
                            select #to name="to" {
                                @for s in StoreName::ALL {
                                    option value=(s.as_str()) selected[s == c.store] { (s.display_name()) }
                                }
                            }
                        }
                    }
                    div.field {
                        span.label { "Bindings" }
                        div.control { div {
                            input #move_force type="checkbox" name="force" value="on";
                            " "
                            label for="move_force" { "Clear its bindings if it is bound (force)" }
                        } }
                    }
                    div.actions { button type="submit" { "Move" } }
                }
            }
            @if !d.bound_to.is_empty() {
                form.panel method="post" action=(format!("{base}/switch")) {
                    h2 { "Move its bindings to another certificate" }
                    (csrf_field(&admin.csrf))
                    p.help { "As " code { "mailcert cert switch" } " does: every setting bound to this certificate is bound to the one chosen, which must be eligible." }
                    @if d.others.is_empty() {
                        p { "No other eligible certificate is in the End Entity store." }
                    } @else {
                        div.field {
                            label for="switch_to" { "New certificate" }
                            div.control {
                                select #switch_to name="to" {
                                    @for o in &d.others {
                                        option value=(o.facts.thumbprint_sha1) { (crate::pages::settings::option_text(o)) }
                                    }
                                }
                            }
                        }
                        div.actions { button type="submit" { "Move the bindings" } }
                    }
                }
            }
            @if !c.has_private_key { (attach_key_form(admin, &base)) }
            (crate::pages::lifecycle::renew_form(admin, c, d.renewal.as_deref()))
            (export_form(admin, c, &base))
            section.panel {
                h2 { "Remove" }
                p { "Removes the certificate and its private key from the farm." }
                a.button.secondary href=(format!("{base}/remove")) { "Remove…" }
            }
        },
    )
}

/// The form that pairs a keyless certificate with its private key from a file.
fn attach_key_form(admin: &Admin, base: &str) -> Markup {
    html! {
        form.panel #attach-key method="post" action=(format!("{base}/key")) enctype="multipart/form-data" {
            h2 { "Add the private key" }
            (csrf_field(&admin.csrf))
            p.help { "The farm holds no private key for this certificate. Upload the key file that belongs to it: the key must match the certificate's public key." }
            div.field {
                label for="attach_key_file" { "Private key file" }
                div.control {
                    input #attach_key_file type="file" name="key_file" required aria-describedby="attach_key_file-help";
                    p.help #attach_key_file-help { "PKCS#8, PKCS#1 or SEC1, PEM or DER, or a PFX holding it." }
                }
            }
            div.field {
                label for="attach_key_password" { "Password" }
                div.control {
                    input #attach_key_password type="password" name="password" autocomplete="off" aria-describedby="attach_key_password-help";
                    p.help #attach_key_password-help { "For an encrypted key; leave empty when there is none." }
                }
            }
            div.field {
                span.label { "Options" }
                div.control { div {
                    input #attach_exportable type="checkbox" name="exportable" value="on";
                    " "
                    label for="attach_exportable" { "Exportable: the private key may be exported later" }
                } }
            }
            div.actions { button type="submit" { "Add the private key" } }
        }
    }
}

/// `POST /certificates/{sha1}/key`: pairs a keyless certificate with an uploaded private
/// key, as importing the certificate again with `--key` does.
pub(crate) async fn attach_key(
    State(state): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    upload: AdminUpload,
) -> Response {
    let sha1 = match thumbprint(&raw) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let back = format!("/certificates/{sha1}");
    let AdminUpload { admin, data, files } = upload;
    let Some(key) = files.into_iter().find(|f| f.field == "key_file") else {
        return flash_redirect(
            &state,
            &admin.id,
            error_flash("Choose the private key file."),
            &back,
        );
    };
    let password: Option<Zeroizing<String>> =
        Some(Zeroizing::new(data.get("password").to_string())).filter(|p| !p.is_empty());
    let exportable = data.checked("exportable");
    drop(data);
    let key_name = if key.file_name.is_empty() {
        "key upload".to_string()
    } else {
        key.file_name.clone()
    };
    let name = key_name.clone();
    let r = with_farm(&state, move |farm, now| {
        Ok(pair_key(
            farm,
            &sha1,
            &name,
            &key.bytes,
            password.as_deref().map(String::as_str),
            exportable,
            now,
        ))
    })
    .await;
    let flash = match r {
        Ok(Ok(f)) => f,
        Ok(Err(message)) => Flash::new(
            FlashKind::Error,
            format!("{key_name}: the private key was not added"),
            vec![message],
        ),
        Err(e) => return e.into_response(),
    };
    flash_redirect(&state, &admin.id, flash, &back)
}

/// Imports the stored certificate `sha1` again with the key file's bytes: the store adds
/// the key to the keyless certificate (and checks that it matches). The message for the
/// next page, or why nothing was added.
fn pair_key(
    farm: &mut mailcert_store::Farm,
    sha1: &str,
    key_name: &str,
    key: &[u8],
    password: Option<&str>,
    exportable: bool,
    now: i64,
) -> Result<Flash, String> {
    let text = |e: mailcert_store::Error| match e {
        mailcert_store::Error::PasswordRequired { path } => format!(
            "{}: the key is password-protected; enter its password and try again",
            path.display()
        ),
        e => e.to_string(),
    };
    let (cert, der) = farm
        .read(|tx| {
            let c = tx.resolve(sha1)?;
            let der = tx.der(c.id)?;
            Ok::<_, mailcert_store::Error>((c, der))
        })
        .map_err(text)?;
    if cert.has_private_key {
        return Err(format!(
            "{} already has its private key.",
            cert.display_name()
        ));
    }
    let cert_name = format!("{sha1}.cer");
    let bundle = mailcert_store::parse_bundle(
        Input {
            path: Path::new(&cert_name),
            bytes: &der,
        },
        Some(Input {
            path: Path::new(key_name),
            bytes: key,
        }),
        password,
    )
    .map_err(text)?;
    let opts = ImportOptions {
        store: Some(cert.store),
        exportable,
        ..ImportOptions::default()
    };
    let report = mailcert_store::import_bundle(farm, Path::new(key_name), bundle, &opts, now)
        .map_err(text)?;
    if report.leaf.outcome != Outcome::KeyAdded {
        return Err(format!(
            "the key file did not add a key to {} ({}).",
            cert.display_name(),
            report.leaf.outcome.describe()
        ));
    }
    Ok(Flash::new(
        FlashKind::Ok,
        format!(
            "Private key added to {}.",
            report.leaf.record.display_name()
        ),
        vec![if report.leaf.record.exportable {
            "It is exportable.".to_string()
        } else {
            "It is not exportable: it never leaves the farm.".to_string()
        }],
    ))
}

fn export_form(admin: &Admin, c: &CertRecord, base: &str) -> Markup {
    let key_out = c.has_private_key && c.exportable;
    html! {
        form.panel method="post" action=(format!("{base}/export")) {
            h2 { "Export" }
            (csrf_field(&admin.csrf))
            p.help {
                @if key_out {
                    "This certificate was imported as exportable: PFX and PEM carry its private key."
                } @else if c.has_private_key {
                    "The private key was not imported as exportable, so it never leaves the farm; exports carry certificates only."
                } @else {
                    "The farm holds no private key for this certificate; exports carry certificates only."
                }
            }
            div.field {
                label for="format" { "Format" }
                div.control {
                    select #format name="format" {
                        option value="pem" {
                            @if key_out { "PEM (.pem): certificate and private key" } @else { "PEM (.pem): certificate" }
                        }
                        @if key_out { option value="pem-cert" { "PEM (.pem): certificate only" } }
                        option value="der" { "DER (.cer): the certificate alone" }
                        option value="p7b" { "PKCS#7 (.p7b): certificates" }
                        @if key_out { option value="pfx" { "PFX / PKCS#12 (.pfx): certificate and private key" } }
                    }
                }
            }
            div.field {
                span.label { "Chain" }
                div.control { div {
                    input #include_chain type="checkbox" name="include_chain" value="on" checked;
                    " "
                    label for="include_chain" { "Include the issuing certificates held in the farm (not for DER)" }
                } }
            }
            @if key_out {
                div.field {
                    label for="pfx_password" { "PFX password" }
                    div.control {
                        input #pfx_password type="password" name="pfx_password" autocomplete="new-password"
                            aria-describedby="pfx_password-help";
                        p.help #pfx_password-help { "Needed for PFX; protects the exported private key." }
                    }
                }
                div.field {
                    label for="pfx_password2" { "Repeat the PFX password" }
                    div.control { input #pfx_password2 type="password" name="pfx_password2" autocomplete="new-password"; }
                }
                div.field {
                    label for="pfx_encryption" { "PFX encryption" }
                    div.control {
                        select #pfx_encryption name="pfx_encryption" {
                            option value="aes256" { "AES-256 (OpenSSL 3, Windows 10 and later)" }
                            option value="3des" { "3DES (Windows Server 2016 and before, Java 8)" }
                        }
                    }
                }
            }
            div.actions { button type="submit" { "Download" } }
        }
    }
}

/// `POST /certificates/{sha1}/rename`.
pub(crate) async fn rename(
    State(state): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    form: AdminForm,
) -> Response {
    let sha1 = match thumbprint(&raw) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let back = format!("/certificates/{sha1}");
    let name = form.data.get("name").to_string();
    act(
        &state,
        &form.admin.id,
        &back,
        move |farm, now| mailcert_store::rename(farm, &sha1, &name, now),
        |c| {
            Flash::new(
                FlashKind::Ok,
                match &c.friendly_name {
                    Some(n) => format!("Renamed to “{n}”."),
                    None => "The friendly name was removed.".into(),
                },
                vec![],
            )
        },
        refusal,
    )
    .await
}

/// `POST /certificates/{sha1}/move`.
pub(crate) async fn move_to(
    State(state): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    form: AdminForm,
) -> Response {
    let sha1 = match thumbprint(&raw) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let back = format!("/certificates/{sha1}");
    let to = match StoreName::from_str(form.data.get("to")) {
        Ok(s) => s,
        Err(e) => return flash_redirect(&state, &form.admin.id, error_flash(e.to_string()), &back),
    };
    let force = form.data.checked("force");
    act(
        &state,
        &form.admin.id,
        &back,
        move |farm, now| mailcert_store::move_to(farm, &sha1, to, force, now),
        |c| {
            Flash::new(
                FlashKind::Ok,
                format!(
                    "{} is in the {} store.",
                    c.record.display_name(),
                    to.display_name()
                ),
                cleared_lines(&c.cleared),
            )
        },
        |e| {
            Flash::new(
                FlashKind::Error,
                e.to_string(),
                if matches!(e, mailcert_store::Error::Rejected { rule: "bound", .. }) {
                    vec![
                        "To move it anyway, tick “Clear its bindings if it is bound (force)”."
                            .into(),
                    ]
                } else {
                    vec![]
                },
            )
        },
    )
    .await
}

fn cleared_lines(cleared: &[String]) -> Vec<String> {
    if cleared.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "Bindings cleared (these now send without a client certificate): {}",
            cleared.join(", ")
        )]
    }
}

/// `POST /certificates/{sha1}/switch`: every binding of this certificate moves to
/// another (eligible) one.
pub(crate) async fn switch(
    State(state): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    form: AdminForm,
) -> Response {
    let sha1 = match thumbprint(&raw) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let back = format!("/certificates/{sha1}");
    let to = form.data.get("to").trim().to_string();
    act(
        &state,
        &form.admin.id,
        &back,
        move |farm, now| mailcert_store::switch(farm, &sha1, &to, now),
        |(old, new, moved)| {
            Flash::new(
                FlashKind::Ok,
                format!(
                    "Moved {} binding(s) from {} to {}.",
                    moved.len(),
                    old.display_name(),
                    new.display_name()
                ),
                moved,
            )
        },
        refusal,
    )
    .await
}

/// `GET /certificates/{sha1}/remove`: the confirmation, naming the bindings a removal
/// would clear.
pub(crate) async fn confirm_remove(
    State(state): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    admin: Admin,
) -> Response {
    let d = match thumbprint(&raw) {
        Ok(sha1) => load_details(&state, sha1).await,
        Err(e) => Err(e),
    };
    respond(d.map(|d| {
        let c = &d.cert;
        page(
            "Remove certificate",
            &admin.chrome(Nav::Certificates),
            html! {
                form.panel method="post" action=(format!("/certificates/{}/remove", c.facts.thumbprint_sha1)) {
                    (csrf_field(&admin.csrf))
                    p {
                        "Remove " strong { (c.display_name()) } " (" span.mono { (c.facts.thumbprint_sha1) } ") from the "
                        (c.store.display_name()) " store"
                        @if c.has_private_key { ", with its private key" }
                        "? This cannot be undone."
                    }
                    @if d.bound_to.is_empty() {
                        p { "It is not bound to any outgoing e-mail settings." }
                    } @else {
                        div.flash.error role="alert" {
                            strong { "It is bound to the outgoing e-mail settings of:" }
                            ul #bindings { @for b in &d.bound_to { li { (b) } } }
                            p { "Removing it clears these bindings (as --force does): they will send without a client certificate until another is chosen." }
                        }
                        input type="hidden" name="force" value="on";
                    }
                    div.actions {
                        button.danger type="submit" { "Remove" }
                        a.button.secondary href=(format!("/certificates/{}", c.facts.thumbprint_sha1)) { "Cancel" }
                    }
                }
            },
        )
        .into_response()
    }))
}

/// `POST /certificates/{sha1}/remove`.
pub(crate) async fn remove(
    State(state): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    form: AdminForm,
) -> Response {
    let sha1 = match thumbprint(&raw) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let force = form.data.checked("force");
    let back = format!("/certificates/{sha1}");
    let r = with_farm(&state, move |farm, now| {
        Ok(mailcert_store::remove(farm, &sha1, force, now))
    })
    .await;
    match r {
        Ok(Ok(c)) => flash_redirect(
            &state,
            &form.admin.id,
            Flash::new(
                FlashKind::Ok,
                format!(
                    "Removed {} ({}).",
                    c.record.display_name(),
                    c.record.facts.thumbprint_sha1
                ),
                cleared_lines(&c.cleared),
            ),
            "/certificates",
        ),
        Ok(Err(e)) => flash_redirect(&state, &form.admin.id, error_flash(e.to_string()), &back),
        Err(e) => e.into_response(),
    }
}

/// A file name made of the certificate's name: letters, digits, `.`, `-`, `_` only.
pub(crate) fn download_name(c: &CertRecord, ext: &str) -> String {
    safe_file_name(c.display_name(), ext)
}

/// A download's file name from a name people gave: letters, digits, `.`, `-` and `_`
/// kept, anything else `_`, at most 60 characters, "certificate" when nothing is left.
pub(crate) fn safe_file_name(name: &str, ext: &str) -> String {
    let stem: String = name
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || matches!(ch, '.' | '-' | '_') {
                ch
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    let stem = stem.trim_matches(['.', '_']);
    format!(
        "{}.{ext}",
        if stem.is_empty() { "certificate" } else { stem }
    )
}

/// `POST /certificates/{sha1}/export`: the file as a download. The PFX password comes in
/// the POST body only, never in a URL.
pub(crate) async fn export(
    State(state): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    form: AdminForm,
) -> Response {
    let sha1 = match thumbprint(&raw) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let back = format!("/certificates/{sha1}");
    let AdminForm { admin, data } = form;
    let include_key = data.get("format") != "pem-cert";
    let format = match ExportFormat::from_str(data.get("format").trim_end_matches("-cert")) {
        Ok(f) => f,
        Err(e) => return flash_redirect(&state, &admin.id, error_flash(e), &back),
    };
    let password = if format == ExportFormat::Pfx {
        let (a, b) = (data.get("pfx_password"), data.get("pfx_password2"));
        if a.is_empty() {
            return flash_redirect(
                &state,
                &admin.id,
                error_flash("A PFX export needs a password; nothing was exported."),
                &back,
            );
        }
        if a != b {
            return flash_redirect(
                &state,
                &admin.id,
                error_flash("The two PFX passwords differ; nothing was exported."),
                &back,
            );
        }
        Some(Zeroizing::new(a.to_string()))
    } else {
        None
    };
    let include_chain = data.checked("include_chain");
    let pfx_encryption = if data.get("pfx_encryption") == "3des" {
        PfxEncryption::TripleDes
    } else {
        PfxEncryption::Aes256
    };
    drop(data);
    let r = with_farm(&state, move |farm, _| {
        let cert = farm.read(|tx| tx.resolve(&sha1))?;
        let req = ExportRequest {
            format,
            include_chain: include_chain && format != ExportFormat::Der,
            password: password.as_deref().map(String::as_str),
            pfx_encryption,
            include_key,
        };
        Ok(mailcert_store::export(farm, &cert, &req).map(|e| (cert, e)))
    })
    .await;
    match r {
        Ok(Ok((cert, exported))) => {
            let (ext, mime) = match format {
                ExportFormat::Pem => ("pem", "application/x-pem-file"),
                ExportFormat::Der => ("cer", "application/pkix-cert"),
                ExportFormat::P7b => ("p7b", "application/x-pkcs7-certificates"),
                ExportFormat::Pfx => ("pfx", "application/x-pkcs12"),
            };
            let disposition = format!("attachment; filename=\"{}\"", download_name(&cert, ext));
            (
                [
                    (header::CONTENT_TYPE, mime.to_string()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                // The buffer (a key, in a PFX or PEM export) is wiped when the response
                // is done with it, not copied out of its Zeroizing first.
                axum::body::Body::from(axum::body::Bytes::from_owner(exported.bytes)),
            )
                .into_response()
        }
        Ok(Err(e)) => flash_redirect(&state, &admin.id, error_flash(e.to_string()), &back),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_from_the_query() {
        let f = Filters::parse(&FormData::from_pairs(vec![
            ("store".into(), "end-entity".into()),
            ("eligible".into(), "on".into()),
            ("expiring".into(), "30".into()),
        ]));
        assert_eq!(f.filter.store, Some(StoreName::EndEntity));
        assert!(f.filter.eligible && !f.filter.in_use && !f.filter.expired);
        assert_eq!(f.filter.expiring_within, Some(30 * 86_400));
        assert!(f.problems.is_empty());
        let f = Filters::parse(&FormData::from_pairs(vec![
            ("store".into(), "attic".into()),
            ("expiring".into(), "soon".into()),
        ]));
        assert_eq!(f.filter.store, None);
        assert_eq!(f.filter.expiring_within, None);
        assert_eq!(f.problems.len(), 2);
    }
}
