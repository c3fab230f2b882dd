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

mod form;
mod view;

use self::form::*;
pub(crate) use self::view::option_text;
use self::view::*;

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
    /// Servers' own settings for this level (made with `smtp set --server`), which this
    /// page does not edit.
    overrides: Vec<mailcert_store::SettingsRow>,
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
    // The page shows and edits what every server uses.
    farm.without_server_settings();
    let url = match target {
        Target::Farm => None,
        Target::WebApp(u) => Some(u.to_string()),
    };
    let overrides = farm
        .read(|tx| tx.server_overrides())?
        .into_iter()
        .filter(|(level, _)| *level == url)
        .map(|(_, row)| row)
        .collect();
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
        overrides,
    })
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
        farm.without_server_settings();
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
        // The settings this page shows: every server's, not this server's own.
        farm.without_server_settings();
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
