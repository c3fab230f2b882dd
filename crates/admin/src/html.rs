//! The page frame (header, navigation, messages), the style sheet, and small rendering
//! helpers. Every page is built with maud, which escapes every interpolated value (text
//! and attributes alike), so user-controlled text cannot become markup.

use maud::{DOCTYPE, Markup, html};

use crate::session::{Flash, FlashKind};

/// The style sheet, served at [`CSS_PATH`].
pub(crate) const CSS: &str = include_str!("admin.css");
/// Where the style sheet is served.
pub(crate) const CSS_PATH: &str = "/static/admin.css";

/// The sections in the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    /// Certificates.
    Certificates,
    /// Web applications.
    WebApps,
    /// The farm's outgoing e-mail settings.
    FarmSettings,
    /// This server's relay queue.
    Queue,
    /// The audit log.
    Audit,
    /// Certificate health.
    Health,
    /// Nothing highlighted (sign-in, errors).
    None,
}

const SECTIONS: [(Nav, &str, &str); 6] = [
    (Nav::Certificates, "/certificates", "Certificates"),
    (Nav::WebApps, "/webapps", "Web applications"),
    (
        Nav::FarmSettings,
        "/settings/farm",
        "Outgoing e-mail (farm)",
    ),
    (Nav::Queue, "/queue", "Queue"),
    (Nav::Health, "/health", "Health"),
    (Nav::Audit, "/audit", "Audit log"),
];

/// What the frame needs from the request: the CSRF token for the sign-out form (None
/// when not signed in) and the messages to show.
pub(crate) struct Chrome<'a> {
    /// The session's CSRF token, when signed in.
    pub(crate) csrf: Option<&'a str>,
    /// One-shot messages.
    pub(crate) flashes: &'a [Flash],
    /// The highlighted section.
    pub(crate) active: Nav,
    /// The certificate health summary shown as a banner on every page (signed in only).
    pub(crate) health: Option<&'a HealthBanner>,
}

/// The certificate health in one line: how many rules fired and the worst severity.
#[derive(Debug, Clone)]
pub(crate) struct HealthBanner {
    /// How many findings.
    pub(crate) count: usize,
    /// The most severe.
    pub(crate) worst: mailcert_binding::Severity,
    /// The first finding's message, for the banner's text.
    pub(crate) first: String,
}

/// The banner on every page while a certificate health rule fires.
fn health_banner(h: &HealthBanner) -> Markup {
    use mailcert_binding::Severity;
    let class = match h.worst {
        Severity::Error => "banner error",
        Severity::Warning => "banner warn",
        Severity::Attention => "banner info",
    };
    html! {
        div class=(class) role="status" #health-banner {
            strong { "Certificate health: " (h.count) " finding(s), the worst " (h.worst.as_str()) ". " }
            (h.first) " "
            a href="/health" { "Review the health rules" }
        }
    }
}

/// A whole page: `title` in the tab and as the heading, `body` below the messages. The
/// first focusable element is the "Skip to main content" link to `<main id="main">`.
pub(crate) fn page(title: &str, chrome: &Chrome<'_>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · mailcert Central Administration" }
                link rel="stylesheet" href=(CSS_PATH);
            }
            body {
                a.skip-link href="#main" { "Skip to main content" }
                header.top {
                    div.brand { "mailcert " span { "Central Administration" } }
                    @if let Some(csrf) = chrome.csrf {
                        nav aria-label="Sections" {
                            ul {
                                @for (nav, href, label) in SECTIONS {
                                    li {
                                        @if nav == chrome.active {
                                            a.active href=(href) aria-current="page" { (label) }
                                        } @else {
                                            a href=(href) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                        form.signout method="post" action="/signout" {
                            (csrf_field(csrf))
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    @if let Some(h) = chrome.health { (health_banner(h)) }
                    @for f in chrome.flashes { (flash(f)) }
                    (body)
                }
                footer { "mailcert · certificates for SMTP relays that demand client authentication" }
            }
        }
    }
}

/// One message box.
pub(crate) fn flash(f: &Flash) -> Markup {
    let (class, role) = match f.kind {
        FlashKind::Ok => ("flash ok", "status"),
        FlashKind::Info => ("flash info", "status"),
        FlashKind::Error => ("flash error", "alert"),
    };
    html! {
        div class=(class) role=(role) {
            strong { (f.title) }
            @if !f.lines.is_empty() {
                ul { @for l in &f.lines { li { (l) } } }
            }
        }
    }
}

/// The hidden CSRF field every form carries.
pub(crate) fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name=(crate::csrf::FIELD) value=(token); }
}

/// Errors shown beside a field (nothing when there are none).
pub(crate) fn field_errors(id: &str, errors: &[String]) -> Markup {
    html! {
        @if !errors.is_empty() {
            ul.field-error id=(format!("{id}-error")) role="alert" {
                @for e in errors { li { (e) } }
            }
        }
    }
}

/// The id of the errors [`field_errors`] shows for `id`, when there are any.
pub(crate) fn error_id(id: &str, errors: &[String]) -> Option<String> {
    (!errors.is_empty()).then(|| format!("{id}-error"))
}

/// The value of an `aria-describedby` naming the ids given (help texts, errors);
/// `None` (no attribute) when there are none.
pub(crate) fn described_by<const N: usize>(ids: [Option<String>; N]) -> Option<String> {
    let ids: Vec<String> = ids.into_iter().flatten().collect();
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// A green "Yes" or red "No" badge.
pub(crate) fn yes_no(yes: bool) -> Markup {
    if yes {
        html! { span.badge.good { "Yes" } }
    } else {
        html! { span.badge.bad { "No" } }
    }
}

/// The date part (YYYY-MM-DD) of a Unix time, UTC.
pub(crate) fn date(secs: i64) -> String {
    mailcert_store::date(secs)
}

/// Date and time of a Unix time, UTC, for people.
pub(crate) fn date_time(secs: i64) -> String {
    mailcert_store::rfc3339(secs).replacen('T', " ", 1)
}

pub(crate) use mailcert_store::days_until;

/// A size in bytes for people: `512 B`, `1.5 KiB`, `2.0 MiB`.
pub(crate) fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    // Tenths, in integers: no float casts.
    let tenths = |unit: u64| {
        let t = bytes.saturating_mul(10) / unit;
        format!("{}.{}", t / 10, t % 10)
    };
    if bytes < KIB {
        format!("{bytes} B")
    } else if bytes < MIB {
        format!("{} KiB", tenths(KIB))
    } else {
        format!("{} MiB", tenths(MIB))
    }
}

/// How far `t` lies after `now`, in words: `in 45 s`, `in 5 min`, `in 3 h`, `in 2 days`.
pub(crate) fn from_now(t: i64, now: i64) -> String {
    let d = t.saturating_sub(now).max(0);
    match d {
        0..60 => format!("in {d} s"),
        60..3_600 => format!("in {} min", d / 60),
        3_600..86_400 => format!("in {} h", d / 3_600),
        _ => format!("in {} days", d / 86_400),
    }
}

/// Percent-encodes a query value.
pub(crate) fn query_value(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_attributes() {
        let hostile = r#"<script>alert("x")</script>&'"#;
        let m = html! { p title=(hostile) { (hostile) } };
        let s = m.into_string();
        assert!(!s.contains("<script>"), "{s}");
        assert!(s.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;"));
        // The attribute cannot be closed early.
        assert_eq!(s.matches('"').count(), 2, "{s}");
    }

    #[test]
    fn flash_and_errors_escape() {
        let f = Flash::new(
            FlashKind::Error,
            "<b>bad</b>",
            vec!["<img src=x onerror=alert(1)>".into()],
        );
        let s = flash(&f).into_string();
        assert!(!s.contains("<b>") && !s.contains("<img"), "{s}");
        let s = field_errors("server", &["\"><svg>".into()]).into_string();
        assert!(!s.contains("<svg>"), "{s}");
    }

    #[test]
    fn page_frame() {
        let flashes = [Flash::new(FlashKind::Ok, "Saved.", vec![])];
        let s = page(
            "Certificates <&>",
            &Chrome {
                csrf: Some("abc123"),
                flashes: &flashes,
                active: Nav::Certificates,
                health: None,
            },
            html! { p { "body" } },
        )
        .into_string();
        assert!(s.contains("Certificates &lt;&amp;&gt;"));
        assert!(s.contains(r#"name="csrf" value="abc123""#));
        assert!(s.contains(r#"aria-current="page""#));
        assert!(s.contains("Saved."));
        let anon = page(
            "Sign in",
            &Chrome {
                csrf: None,
                flashes: &[],
                active: Nav::None,
                health: None,
            },
            html! {},
        )
        .into_string();
        assert!(!anon.contains("Sign out"));
    }

    #[test]
    fn descriptions() {
        assert_eq!(error_id("port", &[]), None);
        assert_eq!(
            error_id("port", &["bad".into()]).as_deref(),
            Some("port-error")
        );
        assert_eq!(
            described_by([Some("a-help".into()), None, Some("a-error".into())]).as_deref(),
            Some("a-help a-error")
        );
        assert_eq!(described_by([None, None]), None);
    }

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date_time(86_400 + 61), "1970-01-02 00:01:01Z");
        assert_eq!(days_until(86_400 * 3, 0), 3);
        assert_eq!(days_until(0, 1), -1);
        assert_eq!(query_value("https://a b/&x"), "https%3A%2F%2Fa+b%2F%26x");
    }

    #[test]
    fn sizes_and_waits() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(10 * 1024 * 1024 + 1), "10.0 MiB");
        assert!(size(u64::MAX).ends_with(" MiB"));
        assert_eq!(from_now(100, 100), "in 0 s");
        assert_eq!(from_now(50, 100), "in 0 s");
        assert_eq!(from_now(100 + 59, 100), "in 59 s");
        assert_eq!(from_now(100 + 300, 100), "in 5 min");
        assert_eq!(from_now(100 + 7_200, 100), "in 2 h");
        assert_eq!(from_now(100 + 3 * 86_400, 100), "in 3 days");
    }
}
