//! The Certificates pages' markup: the list, the import form, one certificate's details
//! and its forms. Views only render what the handlers loaded.

use super::*;

/// Days before expiry from which a certificate is flagged as expiring soon.
pub(super) const SOON_DAYS: i64 = 30;

/// One row of the list.
pub(super) struct Row {
    pub(super) cert: CertRecord,
    pub(super) reasons: Vec<String>,
    pub(super) bound_to: Vec<String>,
}

pub(super) fn expiry(c: &CertRecord, now: i64) -> Markup {
    html! { (date(c.facts.not_after)) br; (expiry_badge(c, now)) }
}

/// Days left, expired (marked), or not yet valid.
pub(super) fn expiry_badge(c: &CertRecord, now: i64) -> Markup {
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

pub(super) fn store_options(selected: &str, any_label: &str) -> Markup {
    html! {
        option value="" selected[selected.is_empty()] { (any_label) }
        @for s in StoreName::ALL {
            option value=(s.as_str()) selected[selected == s.as_str()] { (s.display_name()) }
        }
    }
}

/// "Previous" and "Next" with "Showing X–Y of N", above and below the table.
pub(super) fn pager(f: &Filters, p: &Paged<'_>, id: &str) -> Markup {
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

pub(super) fn list_page(admin: &Admin, f: &Filters, rows: &[Row], now: i64) -> Markup {
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

pub(super) fn import_form(csrf: &str) -> Markup {
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

/// Everything the details page shows.
pub(super) struct Details {
    pub(super) cert: CertRecord,
    pub(super) chain: Vec<CertRecord>,
    pub(super) bound_to: Vec<String>,
    /// Eligible End Entity certificates its bindings could move to.
    pub(super) others: Vec<CertRecord>,
    /// The key id of a pending renewal request.
    pub(super) renewal: Option<String>,
    pub(super) now: i64,
}

pub(super) fn details_page(admin: &Admin, d: &Details) -> Markup {
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
pub(super) fn attach_key_form(admin: &Admin, base: &str) -> Markup {
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

pub(super) fn export_form(admin: &Admin, c: &CertRecord, base: &str) -> Markup {
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
