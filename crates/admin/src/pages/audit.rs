//! "Audit log": who changed which certificate, setting or binding, newest first.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;

use crate::auth::Admin;
use crate::forms::FormData;
use crate::html::{Nav, date_time, page};
use crate::pages::respond;
use crate::state::{Shared, with_farm};

/// Most lines shown at once.
const MAX_LINES: usize = 1000;
/// The periods offered, in days (0: everything).
const PERIODS: [(u32, &str); 5] = [
    (0, "All"),
    (1, "Last 24 hours"),
    (7, "Last 7 days"),
    (30, "Last 30 days"),
    (90, "Last 90 days"),
];

/// `GET /audit?days=N`.
pub(crate) async fn list(
    State(state): State<Shared>,
    admin: Admin,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let days: u32 = FormData::from_pairs(q)
        .get("days")
        .trim()
        .parse()
        .unwrap_or(0);
    let entries = with_farm(&state, move |farm, now| {
        let since = if days == 0 {
            i64::MIN
        } else {
            now - i64::from(days) * 86_400
        };
        Ok(farm.read(|tx| tx.audit_since(since))?)
    })
    .await;
    respond(entries.map(|entries| {
        let total = entries.len();
        page(
            "Audit log",
            &admin.chrome(Nav::Audit),
            html! {
                p.lead { "Every change to certificates, settings and bindings, newest first. Times are UTC." }
                form.filters method="get" action="/audit" {
                    div.f {
                        label for="days" { "Period" }
                        select #days name="days" {
                            @for (d, label) in PERIODS {
                                option value=(d) selected[d == days] { (label) }
                            }
                        }
                    }
                    div.f { button.secondary type="submit" { "Show" } }
                }
                @if entries.is_empty() {
                    p.empty { "Nothing recorded in this period." }
                } @else {
                    @if total > MAX_LINES {
                        p.help { "Showing the newest " (MAX_LINES) " of " (total) " lines; choose a shorter period." }
                    }
                    div.table-wrap {
                        table.reflow #audit {
                            thead { tr {
                                th scope="col" { "Time" }
                                th scope="col" { "User" }
                                th scope="col" { "Action" }
                                th scope="col" { "Object" }
                                th scope="col" { "Detail" }
                            } }
                            tbody {
                                @for e in entries.iter().take(MAX_LINES) {
                                    tr {
                                        td.num data-label="Time" { (date_time(e.at)) }
                                        td data-label="User" { (e.actor) }
                                        td.nowrap data-label="Action" { (e.action) }
                                        td data-label="Object" { (e.object) }
                                        td data-label="Detail" { (e.detail) }
                                    }
                                }
                            }
                        }
                    }
                }
            },
        )
        .into_response()
    }))
}
