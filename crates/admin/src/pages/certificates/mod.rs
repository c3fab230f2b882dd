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

mod form;
mod view;

use self::form::*;
use self::view::*;

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
