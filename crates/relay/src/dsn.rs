//! Delivery status notifications (RFC 3464): the message that tells the envelope sender
//! which recipients failed for good, and why, with the original headers attached.

use crate::spool::{Entry, NewMessage};

/// One recipient that failed, with the upstream's words.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// The recipient.
    pub(crate) recipient: String,
    /// The reply (or the reason, e.g. the queue lifetime ran out).
    pub(crate) reply: String,
    /// The RFC 3463 status code, e.g. `5.1.1`.
    pub(crate) status: String,
}

/// The status code of a reply: its enhanced code when it carries one, else 5.0.0 for a
/// 5xx and 4.0.0 otherwise.
pub(crate) fn status_of(reply: &str) -> String {
    let mut words = reply.split_whitespace();
    let code = words.next().unwrap_or("");
    if let Some(enhanced) = words.next().filter(|w| {
        let parts: Vec<&str> = w.split('.').collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    }) {
        return enhanced.to_string();
    }
    if code.starts_with('5') {
        "5.0.0".into()
    } else {
        "4.0.0".into()
    }
}

/// One line, safe inside a header field or a report line.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The header block of a message (up to the first empty line), CRLF.
fn headers_of(data: &[u8]) -> &[u8] {
    let end = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .or_else(|| data.windows(2).position(|w| w == b"\n\n").map(|p| p + 1))
        .unwrap_or(data.len());
    data.get(..end).unwrap_or(data)
}

/// The notification for `failures` of `original`, addressed to its envelope sender; none
/// for a null sender or for a notification itself (no loops).
pub(crate) fn notification(
    original: &Entry,
    data: &[u8],
    failures: &[Failure],
    hostname: &str,
    now: i64,
) -> Option<NewMessage> {
    if original.from.is_empty() || original.is_dsn || failures.is_empty() {
        return None;
    }
    let date = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .ok()
            .and_then(|d| {
                d.format(&time::format_description::well_known::Rfc2822)
                    .ok()
            })
            .unwrap_or_default()
    };
    let boundary = format!("mailcert-dsn-{}-{now}", original.id);
    let mut m = String::new();
    m.push_str(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n\
         To: <{}>\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         Date: {}\r\n\
         Message-ID: <dsn-{}-{now}@{hostname}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\
         \tboundary=\"{boundary}\"\r\n\r\n",
        original.from,
        date(now),
        original.id,
    ));
    m.push_str(&format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         This is the mail system at {hostname} (mailcert relay).\r\n\r\n\
         Your message (queue id {}) could not be delivered to these recipients:\r\n\r\n",
        original.id
    ));
    for f in failures {
        m.push_str(&format!("  <{}>: {}\r\n", f.recipient, one_line(&f.reply)));
    }
    m.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; {hostname}\r\n\
         X-Mailcert-Queue-ID: {}\r\n\
         Arrival-Date: {}\r\n",
        original.id,
        date(original.queued_at)
    ));
    for f in failures {
        m.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {}\r\nDiagnostic-Code: smtp; {}\r\n",
            f.recipient,
            f.status,
            one_line(&f.reply)
        ));
    }
    m.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    ));
    let mut data_out = m.into_bytes();
    data_out.extend_from_slice(headers_of(data));
    data_out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Some(NewMessage {
        webapp: original.webapp.clone(),
        mail_from: String::new(),
        recipients: vec![original.from.clone()],
        data: data_out,
        is_dsn: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::State;

    fn entry(from: &str) -> Entry {
        Entry {
            id: "ABCDEF0123456789".into(),
            state: State::Queued,
            webapp: None,
            from: from.into(),
            recipients: vec!["x@example.org".into()],
            size: 10,
            attempts: 0,
            next_attempt: 0,
            last_reply: None,
            queued_at: 1_700_000_000,
            is_dsn: false,
        }
    }

    #[test]
    fn a_report_names_each_recipient_with_status_and_reply() {
        let f = Failure {
            recipient: "x@example.org".into(),
            reply: "550 5.1.1 <x@example.org>: Recipient address rejected".into(),
            status: status_of("550 5.1.1 <x@example.org>: Recipient address rejected"),
        };
        assert_eq!(f.status, "5.1.1");
        let n = notification(
            &entry("app@example.org"),
            b"Subject: hi\r\nTo: x@example.org\r\n\r\nbody\r\n",
            &[f],
            "relay.test",
            1_700_000_100,
        );
        let n = n.map(|n| {
            (
                n.mail_from,
                n.recipients,
                String::from_utf8_lossy(&n.data).into_owned(),
            )
        });
        let Some((from, to, text)) = n else {
            panic!("no notification")
        };
        assert_eq!(from, "");
        assert_eq!(to, ["app@example.org"]);
        for want in [
            "report-type=delivery-status",
            "Final-Recipient: rfc822; x@example.org",
            "Action: failed",
            "Status: 5.1.1",
            "Diagnostic-Code: smtp; 550 5.1.1",
            "Content-Type: text/rfc822-headers\r\n\r\nSubject: hi\r\nTo: x@example.org\r\n",
        ] {
            assert!(text.contains(want), "{want:?} missing in {text}");
        }
        assert!(!text.contains("body\r\n"), "only the headers go back");
    }

    #[test]
    fn no_report_to_a_null_sender() {
        let f = Failure {
            recipient: "x@example.org".into(),
            reply: "550 no".into(),
            status: status_of("550 no"),
        };
        assert_eq!(f.status, "5.0.0");
        assert!(notification(&entry(""), b"", &[f], "h", 0).is_none());
        assert_eq!(status_of("451 4.3.0 later"), "4.3.0");
    }
}
