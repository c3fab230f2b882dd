//! The routes, the body limit and the security headers every response carries.

use axum::Router;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::forms::MAX_BODY;
use crate::html::{CSS, CSS_PATH};
use crate::pages::{PageError, audit, certificates, lifecycle, queue, settings, signin, webapps};
use crate::state::{Shared, with_client};

/// Every page and form of Central Administration.
pub(crate) fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/certificates") }))
        .route("/signin", get(signin::show).post(signin::submit))
        .route("/signout", post(signin::signout))
        .route(CSS_PATH, get(css))
        .route("/certificates", get(certificates::list))
        .route("/certificates/import", post(certificates::import))
        .route(
            "/certificates/request",
            get(lifecycle::request_form).post(lifecycle::request_submit),
        )
        .route(
            "/certificates/requests/{key_id}",
            get(lifecycle::request_show),
        )
        .route(
            "/certificates/requests/{key_id}/csr",
            get(lifecycle::request_csr),
        )
        .route(
            "/certificates/requests/{key_id}/remove",
            get(lifecycle::request_confirm_remove).post(lifecycle::request_remove),
        )
        .route("/certificates/{sha1}/renew", post(lifecycle::renew))
        .route("/health", get(lifecycle::health))
        .route(
            "/settings/certificates",
            get(lifecycle::settings).post(lifecycle::settings_save),
        )
        .route(
            "/settings/certificates/contacts/add",
            post(lifecycle::contact_add),
        )
        .route(
            "/settings/certificates/contacts/remove",
            post(lifecycle::contact_remove),
        )
        .route("/certificates/{sha1}", get(certificates::show))
        .route("/certificates/{sha1}/rename", post(certificates::rename))
        .route("/certificates/{sha1}/move", post(certificates::move_to))
        .route("/certificates/{sha1}/switch", post(certificates::switch))
        .route(
            "/certificates/{sha1}/remove",
            get(certificates::confirm_remove).post(certificates::remove),
        )
        .route("/certificates/{sha1}/export", post(certificates::export))
        .route("/certificates/{sha1}/key", post(certificates::attach_key))
        .route("/webapps", get(webapps::list))
        .route("/webapps/add", post(webapps::add))
        .route(
            "/webapps/remove",
            get(webapps::confirm_remove).post(webapps::remove),
        )
        .route(
            "/settings/farm",
            get(settings::farm).post(settings::save_farm),
        )
        .route(
            "/settings/webapp",
            get(settings::webapp).post(settings::save_webapp),
        )
        .route(
            "/settings/webapp/clear",
            get(settings::confirm_clear).post(settings::clear),
        )
        .route("/settings/test", post(settings::test_connection))
        .route("/settings/send-test", post(settings::send_test))
        .route("/queue", get(queue::list))
        .route("/queue/retry-deferred", post(queue::retry_deferred))
        .route(
            "/queue/delete-failed",
            get(queue::confirm_delete_failed).post(queue::delete_failed),
        )
        .route("/queue/{id}/retry", post(queue::retry))
        .route(
            "/queue/{id}/delete",
            get(queue::confirm_delete).post(queue::delete),
        )
        .route("/audit", get(audit::list))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            check_host,
        ))
        .layer(axum::middleware::from_fn(client_scope))
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            security_headers,
        ))
        .with_state(state)
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

async fn not_found() -> Response {
    PageError::NotFound("There is no such page.".into()).into_response()
}

/// On loopback, only requests addressed to a loopback name and our port are served: a
/// web page elsewhere that points its own host name at 127.0.0.1 (DNS rebinding) gets
/// nothing.
async fn check_host(State(state): State<Shared>, req: Request, next: Next) -> Response {
    if state.loopback {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !loopback_host(host, state.port, state.https) {
            return PageError::BadRequest(
                "This server answers only to its loopback address (127.0.0.1, [::1] or localhost)."
                    .into(),
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Serves the request with the connection's peer address known to
/// [`crate::state::with_farm`], which records it in the audit trail.
async fn client_scope(req: Request, next: Next) -> Response {
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_canonical());
    with_client(client, next.run(req)).await
}

/// Whether a Host header names this loopback server.
pub(crate) fn loopback_host(host: &str, port: u16, https: bool) -> bool {
    let (name, given_port) = match host.rsplit_once(':') {
        Some((n, p)) if !n.ends_with(':') && p.chars().all(|c| c.is_ascii_digit()) => {
            (n, p.parse::<u16>().ok())
        }
        _ => (host, Some(if https { 443 } else { 80 })),
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    let loopback_name = name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback_name && given_port == Some(port)
}

/// Pages load nothing from elsewhere, run no script, cannot be framed, send no referrer
/// and are not cached (they show farm data); under HTTPS browsers are told to stay on it.
async fn security_headers(State(state): State<Shared>, mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::loopback_host;

    #[test]
    fn host_header_must_name_this_loopback_server() {
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "[::1]:8080",
            "127.0.0.2:8080",
        ] {
            assert!(loopback_host(ok, 8080, false), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "127.0.0.1:8081",
            "127.0.0.1",
            "",
            "[::1]",
            "localhost.evil.example:8080",
        ] {
            assert!(!loopback_host(bad, 8080, false), "{bad}");
        }
        assert!(loopback_host("localhost", 80, false));
        assert!(loopback_host("localhost", 443, true));
    }
}
