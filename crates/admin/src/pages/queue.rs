//! "Queue": this server's relay spool, the mail that `mailcert relay` and
//! `mailcert sendmail` accepted and have not delivered yet, with Retry and Delete (with
//! confirmation) per message, "Retry all deferred" and "Delete all failed"; and the
//! warning the Outgoing E-Mail Settings pages show when mail sent with their settings is
//! stuck. The spool is this server's own (never the farm's), so these actions are not in
//! the farm's audit log; each says what it did on the next page.
//!
//! A spool file that does not exist is an empty queue: looking, and the actions, never
//! create one.

use std::collections::HashMap;
use std::path::Path;

use axum::extract::{Path as UrlPath, State};
use axum::response::{IntoResponse, Response};
use mailcert_binding::{Source, Target, WebAppUrl};
use mailcert_relay::{Entry, State as MessageState};
use mailcert_store::Farm;
use maud::{Markup, html};

use crate::auth::Admin;
use crate::forms::AdminForm;
use crate::html::{Nav, csrf_field, date_time, from_now, page, size};
use crate::pages::webapps::settings_href;
use crate::pages::{PageError, flash_redirect, respond};
use crate::session::{Flash, FlashKind};
use crate::state::{Shared, Spooled, open_existing_spool, with_spool};

/// Where the page is.
const QUEUE: &str = "/queue";
/// Most messages listed at once (the oldest).
const MAX_ROWS: usize = 500;
/// Most recipients shown per message.
const MAX_RECIPIENTS: usize = 5;

/// A queue id from a URL: hex digits (the spool's ids are 16), upper-cased.
fn queue_id(raw: &str) -> Result<String, PageError> {
    if (1..=64).contains(&raw.len()) && raw.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_uppercase())
    } else {
        Err(PageError::NotFound(format!("'{raw}' is not a queue id")))
    }
}

/// How many messages are in each state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    queued: usize,
    deferred: usize,
    failed: usize,
}

fn counts(entries: &[Entry]) -> Counts {
    let mut c = Counts::default();
    for e in entries {
        match e.state {
            MessageState::Queued => c.queued += 1,
            MessageState::Deferred => c.deferred += 1,
            MessageState::Failed => c.failed += 1,
        }
    }
    c
}

fn state_badge(s: MessageState) -> Markup {
    let class = match s {
        MessageState::Queued => "badge muted",
        MessageState::Deferred => "badge warn",
        MessageState::Failed => "badge bad",
    };
    html! { span class=(class) { (s.as_str()) } }
}

/// The settings a message is delivered with, linked to their page.
fn sent_with(e: &Entry) -> Markup {
    html! {
        @match &e.webapp {
            None => a href="/settings/farm" { "Farm" },
            Some(u) => a href=(settings_href(u)) { (u) },
        }
    }
}

fn sender(e: &Entry) -> Markup {
    html! {
        @if e.from.is_empty() { span.mono { "<>" } } @else { (e.from) }
        @if e.is_dsn { br; small { "delivery status notification" } }
    }
}

fn recipients(e: &Entry) -> Markup {
    html! {
        @for r in e.recipients.iter().take(MAX_RECIPIENTS) { (r) br; }
        @if e.recipients.len() > MAX_RECIPIENTS {
            small { "and " (e.recipients.len() - MAX_RECIPIENTS) " more" }
        }
    }
}

fn next_attempt(e: &Entry, now: i64) -> Markup {
    html! {
        @if e.state == MessageState::Failed {
            "never (failed)"
        } @else if e.next_attempt <= now {
            "due now"
        } @else {
            (date_time(e.next_attempt)) br; small { (from_now(e.next_attempt, now)) }
        }
    }
}

fn attempts(n: u32) -> String {
    match n {
        0 => "not tried yet".into(),
        1 => "1 attempt".into(),
        n => format!("{n} attempts"),
    }
}

fn row(admin: &Admin, e: &Entry, now: i64) -> Markup {
    html! {
        tr data-id=(e.id) data-state=(e.state.as_str()) {
            td.id data-label="Message" {
                span.qid { (e.id) } br;
                small { "queued " (date_time(e.queued_at)) }
            }
            td data-label="State" { (state_badge(e.state)) br; small.attempts { (attempts(e.attempts)) } }
            td data-label="Settings" { (sent_with(e)) }
            td data-label="From" { (sender(e)) }
            td data-label="Recipients" { (recipients(e)) }
            td.num data-label="Size" { (size(e.size)) }
            td data-label="Next attempt" { (next_attempt(e, now)) }
            td.reply data-label="Last reply" { @match &e.last_reply { Some(r) => (r), None => "—" } }
            td.row-actions data-label="Actions" {
                div.stack {
                    @if e.state != MessageState::Queued {
                        form method="post" action=(format!("{QUEUE}/{}/retry", e.id)) {
                            (csrf_field(&admin.csrf))
                            button.secondary.small.retry type="submit" { "Retry" }
                        }
                    }
                    a.button.secondary.small.delete href=(format!("{QUEUE}/{}/delete", e.id)) { "Delete…" }
                }
            }
        }
    }
}

fn spool_line<T>(spooled: &Spooled<T>) -> Markup {
    html! {
        @match spooled {
            Spooled::NotConfigured => div.flash.info role="status" {
                strong { "No queue is configured for this server." }
                " Start Central Administration with " code { "--spool PATH" } " (or "
                code { "MAILCERT_SPOOL" } ") to see the relay's queue here."
            },
            Spooled::Missing(p) => p.help {
                "Spool: " span.mono { (p.display()) }
                " (not created yet: the relay creates it when it first queues a message)."
            },
            Spooled::Done(p, _) => p.help { "Spool: " span.mono { (p.display()) } },
        }
    }
}

fn list_page(admin: &Admin, spooled: &Spooled<Vec<Entry>>, now: i64) -> Markup {
    let entries: &[Entry] = match spooled {
        Spooled::Done(_, e) => e,
        _ => &[],
    };
    let c = counts(entries);
    page(
        "Queue",
        &admin.chrome(Nav::Queue),
        html! {
            p.lead {
                "Mail that this server's relay (" code { "mailcert relay" } ") and "
                code { "mailcert sendmail" } " accepted and have not delivered yet, oldest first. "
                "A deferred message is tried again with backoff; a failed one was refused for good "
                "(its sender was sent a delivery status notification) and stays until deleted. Times are UTC."
            }
            (spool_line(spooled))
            p #queue-counts {
                span.badge.muted { (c.queued) " queued" } " "
                span.badge.warn { (c.deferred) " deferred" } " "
                span.badge.bad { (c.failed) " failed" }
            }
            @if c.deferred > 0 || c.failed > 0 {
                div.actions #queue-actions {
                    @if c.deferred > 0 {
                        form.inline method="post" action=(format!("{QUEUE}/retry-deferred")) {
                            (csrf_field(&admin.csrf))
                            button.secondary type="submit" { "Retry all deferred" }
                        }
                    }
                    @if c.failed > 0 {
                        a.button.secondary href=(format!("{QUEUE}/delete-failed")) { "Delete all failed…" }
                    }
                }
            }
            @if entries.is_empty() {
                p.empty { "The queue is empty." }
            } @else {
                @if entries.len() > MAX_ROWS {
                    p.help {
                        "Showing the oldest " (MAX_ROWS) " of " (entries.len()) " messages; "
                        code { "mailcert queue list" } " lists them all."
                    }
                }
                div.table-wrap {
                    table.reflow #queue {
                        thead { tr {
                            th scope="col" { "Message" }
                            th scope="col" { "State" }
                            th scope="col" { "Settings" }
                            th scope="col" { "From" }
                            th scope="col" { "Recipients" }
                            th scope="col" { "Size" }
                            th scope="col" { "Next attempt" }
                            th scope="col" { "Last reply" }
                            th scope="col" { span { "Actions" } }
                        } }
                        tbody {
                            @for e in entries.iter().take(MAX_ROWS) { (row(admin, e, now)) }
                        }
                    }
                }
            }
        },
    )
}

/// `GET /queue`: every message, oldest first.
pub(crate) async fn list(State(state): State<Shared>, admin: Admin) -> Response {
    let r = with_spool(&state, |spool, _| spool.list()).await;
    let now = state.now();
    respond(r.map(|s| list_page(&admin, &s, now).into_response()))
}

fn not_there(id: &str) -> Flash {
    Flash::new(
        FlashKind::Info,
        format!(
            "Message {id} is not in the queue (delivered or deleted already); nothing changed."
        ),
        vec![],
    )
}

fn no_queue() -> Flash {
    Flash::new(
        FlashKind::Info,
        "No queue is configured for this server; nothing changed.",
        vec![],
    )
}

/// `POST /queue/{id}/retry`: the message is due now (a failed one is deferred again).
pub(crate) async fn retry(
    State(state): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    form: AdminForm,
) -> Response {
    let id = match queue_id(&raw) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let ids = vec![id.clone()];
    let r = with_spool(&state, move |spool, now| spool.retry(&ids, now)).await;
    let flash = match r {
        Ok(Spooled::Done(_, n)) if n > 0 => Flash::new(
            FlashKind::Ok,
            format!("Message {id} is due now."),
            vec!["The relay delivers it on its next pass (or run `mailcert queue run`).".into()],
        ),
        Ok(Spooled::Done(..) | Spooled::Missing(_)) => not_there(&id),
        Ok(Spooled::NotConfigured) => no_queue(),
        Err(e) => return e.into_response(),
    };
    flash_redirect(&state, &form.admin.id, flash, QUEUE)
}

/// `POST /queue/retry-deferred`: every deferred message is due now.
pub(crate) async fn retry_deferred(State(state): State<Shared>, form: AdminForm) -> Response {
    let r = with_spool(&state, |spool, now| spool.flush(now)).await;
    let flash = match r {
        Ok(Spooled::Done(_, n)) if n > 0 => Flash::new(
            FlashKind::Ok,
            format!("{n} deferred message(s) are due now."),
            vec!["The relay delivers them on its next pass (or run `mailcert queue run`).".into()],
        ),
        Ok(Spooled::Done(..) | Spooled::Missing(_)) => Flash::new(
            FlashKind::Info,
            "No deferred message was waiting for a later attempt; nothing changed.",
            vec![],
        ),
        Ok(Spooled::NotConfigured) => no_queue(),
        Err(e) => return e.into_response(),
    };
    flash_redirect(&state, &form.admin.id, flash, QUEUE)
}

/// `GET /queue/{id}/delete`: the confirmation, naming the message.
pub(crate) async fn confirm_delete(
    State(state): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    admin: Admin,
) -> Response {
    let id = match queue_id(&raw) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let wanted = id.clone();
    let r = with_spool(&state, move |spool, _| {
        Ok(spool.list()?.into_iter().find(|e| e.id == wanted))
    })
    .await;
    let entry = match r {
        Ok(Spooled::Done(_, Some(e))) => e,
        Ok(Spooled::Done(_, None) | Spooled::Missing(_)) => {
            return flash_redirect(&state, &admin.id, not_there(&id), QUEUE);
        }
        Ok(Spooled::NotConfigured) => return flash_redirect(&state, &admin.id, no_queue(), QUEUE),
        Err(e) => return e.into_response(),
    };
    let now = state.now();
    page(
        "Delete queued message",
        &admin.chrome(Nav::Queue),
        html! {
            form.panel method="post" action=(format!("{QUEUE}/{}/delete", entry.id)) {
                (csrf_field(&admin.csrf))
                p {
                    "Delete message " strong.qid { (entry.id) } " from the queue? It will not be "
                    "delivered, and its sender is not told. This cannot be undone."
                }
                dl.facts #message {
                    dt { "State" } dd { (state_badge(entry.state)) }
                    dt { "Settings" } dd { (sent_with(&entry)) }
                    dt { "From" } dd { (sender(&entry)) }
                    dt { "Recipients" } dd { (recipients(&entry)) }
                    dt { "Size" } dd { (size(entry.size)) }
                    dt { "Attempts" } dd { (attempts(entry.attempts)) }
                    dt { "Next attempt" } dd { (next_attempt(&entry, now)) }
                    dt { "Last reply" } dd { (entry.last_reply.as_deref().unwrap_or("—")) }
                    dt { "Queued" } dd { (date_time(entry.queued_at)) }
                }
                div.actions {
                    button.danger type="submit" { "Delete" }
                    a.button.secondary href=(QUEUE) { "Cancel" }
                }
            }
        },
    )
    .into_response()
}

/// `POST /queue/{id}/delete`.
pub(crate) async fn delete(
    State(state): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    form: AdminForm,
) -> Response {
    let id = match queue_id(&raw) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let ids = vec![id.clone()];
    let r = with_spool(&state, move |spool, _| spool.delete(&ids)).await;
    let flash = match r {
        Ok(Spooled::Done(_, n)) if n > 0 => Flash::new(
            FlashKind::Ok,
            format!("Deleted message {id} from the queue; it will not be delivered."),
            vec![],
        ),
        Ok(Spooled::Done(..) | Spooled::Missing(_)) => not_there(&id),
        Ok(Spooled::NotConfigured) => no_queue(),
        Err(e) => return e.into_response(),
    };
    flash_redirect(&state, &form.admin.id, flash, QUEUE)
}

/// `GET /queue/delete-failed`: the confirmation, listing the failed messages.
pub(crate) async fn confirm_delete_failed(State(state): State<Shared>, admin: Admin) -> Response {
    let r = with_spool(&state, |spool, _| {
        Ok(spool
            .list()?
            .into_iter()
            .filter(|e| e.state == MessageState::Failed)
            .collect::<Vec<_>>())
    })
    .await;
    let failed = match r {
        Ok(Spooled::Done(_, f)) if !f.is_empty() => f,
        Ok(Spooled::Done(..) | Spooled::Missing(_)) => {
            let none = Flash::new(
                FlashKind::Info,
                "No message has failed; nothing to delete.",
                vec![],
            );
            return flash_redirect(&state, &admin.id, none, QUEUE);
        }
        Ok(Spooled::NotConfigured) => return flash_redirect(&state, &admin.id, no_queue(), QUEUE),
        Err(e) => return e.into_response(),
    };
    respond(Ok(page(
        "Delete all failed messages",
        &admin.chrome(Nav::Queue),
        html! {
            form.panel method="post" action=(format!("{QUEUE}/delete-failed")) {
                (csrf_field(&admin.csrf))
                p {
                    "Delete these " strong { (failed.len()) } " failed message(s) from the queue? "
                    "Their senders were sent a delivery status notification when they failed. "
                    "This cannot be undone."
                }
                div.table-wrap {
                    table #failed {
                        thead { tr {
                            th scope="col" { "ID" }
                            th scope="col" { "From" }
                            th scope="col" { "Recipients" }
                            th scope="col" { "Last reply" }
                            th scope="col" { "Queued" }
                        } }
                        tbody {
                            @for e in failed.iter().take(MAX_ROWS) {
                                tr data-id=(e.id) {
                                    td.id { span.qid { (e.id) } }
                                    td { (sender(e)) }
                                    td { (recipients(e)) }
                                    td.reply { (e.last_reply.as_deref().unwrap_or("—")) }
                                    td.nowrap { (date_time(e.queued_at)) }
                                }
                            }
                        }
                    }
                }
                @if failed.len() > MAX_ROWS {
                    p.help { "… and " (failed.len() - MAX_ROWS) " more." }
                }
                div.actions {
                    button.danger type="submit" { "Delete all failed" }
                    a.button.secondary href=(QUEUE) { "Cancel" }
                }
            }
        },
    )
    .into_response()))
}

/// `POST /queue/delete-failed`.
pub(crate) async fn delete_failed(State(state): State<Shared>, form: AdminForm) -> Response {
    let r = with_spool(&state, |spool, _| spool.delete_all(true)).await;
    let flash = match r {
        Ok(Spooled::Done(_, n)) if n > 0 => Flash::new(
            FlashKind::Ok,
            format!("Deleted {n} failed message(s) from the queue."),
            vec![],
        ),
        Ok(Spooled::Done(..) | Spooled::Missing(_)) => Flash::new(
            FlashKind::Info,
            "No message has failed; nothing was deleted.",
            vec![],
        ),
        Ok(Spooled::NotConfigured) => no_queue(),
        Err(e) => return e.into_response(),
    };
    flash_redirect(&state, &form.admin.id, flash, QUEUE)
}

/// What this server's queue holds for one settings level: the deferred and failed
/// messages delivered with those settings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct QueueNote {
    /// Deferred messages.
    pub(crate) deferred: usize,
    /// Failed messages.
    pub(crate) failed: usize,
    /// The last reply of the newest of them that has one.
    pub(crate) last_reply: Option<String>,
    /// Why the queue could not be read, if it could not.
    pub(crate) problem: Option<String>,
}

/// Whether a message of the queue is delivered with `target`'s settings: the farm's are
/// those of messages without a web application and of web applications without settings
/// of their own (`uses_farm` answers for those, once per URL).
fn delivered_with(
    target: &Target,
    webapp: Option<&str>,
    uses_farm: &mut impl FnMut(&str) -> bool,
) -> bool {
    match (target, webapp) {
        (Target::Farm, None) => true,
        (Target::Farm, Some(w)) => uses_farm(w),
        (Target::WebApp(u), Some(w)) => WebAppUrl::parse(w).is_ok_and(|w| &w == u),
        (Target::WebApp(_), None) => false,
    }
}

/// The note for `target` from the spool at `spool` (nothing when no spool is configured
/// or its file does not exist; the file is never created).
pub(crate) fn note_for(
    farm: &mut Farm,
    target: &Target,
    spool: Option<&Path>,
    now: i64,
) -> QueueNote {
    let Some(path) = spool else {
        return QueueNote::default();
    };
    let listed = open_existing_spool(path).and_then(|s| match s {
        None => Ok(Vec::new()),
        Some(mut s) => s.list(),
    });
    let entries = match listed {
        Ok(e) => e,
        Err(e) => {
            return QueueNote {
                problem: Some(e.to_string()),
                ..QueueNote::default()
            };
        }
    };
    let mut answers: HashMap<String, bool> = HashMap::new();
    let mut uses_farm = |w: &str| {
        *answers.entry(w.to_string()).or_insert_with(|| {
            WebAppUrl::parse(w)
                .ok()
                .and_then(|u| mailcert_binding::effective(farm, &Target::WebApp(u), now).ok())
                .is_some_and(|e| e.source == Source::Farm)
        })
    };
    let mut note = QueueNote::default();
    let mut newest: Option<&Entry> = None;
    for e in &entries {
        if e.state == MessageState::Queued
            || !delivered_with(target, e.webapp.as_deref(), &mut uses_farm)
        {
            continue;
        }
        match e.state {
            MessageState::Deferred => note.deferred += 1,
            _ => note.failed += 1,
        }
        if e.last_reply.is_some() && newest.is_none_or(|n| e.queued_at >= n.queued_at) {
            newest = Some(e);
        }
    }
    note.last_reply = newest.and_then(|e| e.last_reply.clone());
    note
}

/// The warning on an Outgoing E-Mail Settings page (nothing when nothing is stuck).
pub(crate) fn warning(note: &QueueNote) -> Markup {
    html! {
        @if let Some(p) = &note.problem {
            div.flash.info role="status" #queue-warning {
                strong { "This server's queue could not be read: " } (p)
            }
        } @else if note.deferred + note.failed > 0 {
            div class=(if note.failed > 0 { "flash error" } else { "flash warn" }) role="alert" #queue-warning {
                strong {
                    "Mail sent with these settings is stuck in this server's queue: "
                    (note.deferred) " deferred, " (note.failed) " failed."
                }
                @if let Some(r) = &note.last_reply {
                    p { "Last reply: " span.mono { (r) } }
                }
                p { a href=(QUEUE) { "Open the Queue page" } " to retry or delete them." }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_ids_from_urls() {
        assert_eq!(queue_id("0a1b2c3d4e5f6a7b").unwrap(), "0A1B2C3D4E5F6A7B");
        for bad in ["", "xyz", "../etc", "0a1b 2c", &"a".repeat(65)] {
            assert!(queue_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn messages_belong_to_their_settings() {
        let farm = Target::Farm;
        let app = Target::WebApp(WebAppUrl::parse("https://intranet.test").unwrap());
        let mut falls_back = |w: &str| w == "https://fallback.test";
        assert!(delivered_with(&farm, None, &mut falls_back));
        assert!(delivered_with(
            &farm,
            Some("https://fallback.test"),
            &mut falls_back
        ));
        assert!(!delivered_with(
            &farm,
            Some("https://intranet.test"),
            &mut falls_back
        ));
        assert!(delivered_with(
            &app,
            Some("HTTPS://Intranet.test/"),
            &mut falls_back
        ));
        assert!(!delivered_with(&app, None, &mut falls_back));
        assert!(!delivered_with(
            &app,
            Some("https://fallback.test"),
            &mut falls_back
        ));
    }

    #[test]
    fn the_warning_escapes_the_reply_and_says_nothing_when_all_is_well() {
        assert_eq!(warning(&QueueNote::default()).into_string(), "");
        let s = warning(&QueueNote {
            deferred: 2,
            failed: 0,
            last_reply: Some("451 <script>later</script>".into()),
            problem: None,
        })
        .into_string();
        assert!(s.contains("2 deferred, 0 failed"), "{s}");
        assert!(s.contains("flash warn"), "{s}");
        assert!(s.contains("451 &lt;script&gt;"), "{s}");
        assert!(s.contains(r#"href="/queue""#), "{s}");
        let s = warning(&QueueNote {
            failed: 1,
            ..QueueNote::default()
        })
        .into_string();
        assert!(s.contains("flash error"), "{s}");
    }
}
