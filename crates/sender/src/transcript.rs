//! The SMTP dialogue as the client saw it, for `-v` output (as `swaks` and `msmtp -d`
//! show it): what was sent, what came back, and what TLS settled on.
//!
//! The library never prints: the caller hands in a [`Transcript`] that receives each
//! line and decides where it goes. Credentials never reach it.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::reply::Reply;
use crate::report::HandshakeReport;

/// One line of the dialogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TranscriptLine {
    /// The TCP connection is open, to this address.
    Connected(String),
    /// A command the client sent, with any credential replaced by `<hidden>`.
    Sent(String),
    /// A reply line from the server, with its code and separator (`250-PIPELINING`).
    Received(String),
    /// What the TLS handshake settled on, or what the client presented.
    Tls(String),
}

impl fmt::Display for TranscriptLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TranscriptLine::Connected(peer) => write!(f, "=== connected to {peer}"),
            TranscriptLine::Sent(line) => write!(f, "--> {line}"),
            TranscriptLine::Received(line) => write!(f, "<-- {line}"),
            TranscriptLine::Tls(line) => write!(f, "=== TLS {line}"),
        }
    }
}

/// A line and the connection it belongs to: pooled sends run several at once, and
/// their lines interleave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptEvent {
    /// Which connection of this process (1, 2, …).
    pub connection: u64,
    /// The line.
    pub line: TranscriptLine,
}

type Sink = dyn Fn(&TranscriptEvent) + Send + Sync;

/// Where transcript lines go; cloned into every session of a pooled send.
#[derive(Clone)]
pub struct Transcript(Arc<Sink>);

impl Transcript {
    /// A transcript that hands every line to `sink`.
    pub fn new(sink: impl Fn(&TranscriptEvent) + Send + Sync + 'static) -> Self {
        Transcript(Arc::new(sink))
    }
}

impl fmt::Debug for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Transcript(..)")
    }
}

/// Numbers the connections of this process for [`TranscriptEvent::connection`].
static CONNECTIONS: AtomicU64 = AtomicU64::new(1);

/// A session's handle on the transcript: its connection number and the sink.
#[derive(Debug, Clone)]
pub(crate) struct Tracer {
    transcript: Option<Transcript>,
    connection: u64,
}

impl Tracer {
    /// A tracer for a new connection; does nothing without a transcript.
    pub(crate) fn new(transcript: Option<Transcript>) -> Self {
        let connection = match transcript {
            Some(_) => CONNECTIONS.fetch_add(1, Ordering::Relaxed),
            None => 0,
        };
        Tracer {
            transcript,
            connection,
        }
    }

    fn emit(&self, line: impl FnOnce() -> TranscriptLine) {
        if let Some(Transcript(sink)) = &self.transcript {
            sink(&TranscriptEvent {
                connection: self.connection,
                line: line(),
            });
        }
    }

    pub(crate) fn connected(&self, peer: impl fmt::Display) {
        self.emit(|| TranscriptLine::Connected(peer.to_string()));
    }

    /// A command line; `step` "auth" hides whatever follows the mechanism name.
    pub(crate) fn sent(&self, step: &str, line: &str) {
        self.emit(|| TranscriptLine::Sent(redact(step, line)));
    }

    /// Several pipelined command lines written at once.
    pub(crate) fn sent_batch(&self, batch: &str) {
        for line in batch.split("\r\n").filter(|l| !l.is_empty()) {
            self.emit(|| TranscriptLine::Sent(line.to_owned()));
        }
    }

    /// The message itself is summarised, not shown.
    pub(crate) fn sent_message(&self, bytes: usize) {
        self.emit(|| {
            TranscriptLine::Sent(format!(
                "<message, {bytes} bytes, ending with the lone dot>"
            ))
        });
    }

    pub(crate) fn received(&self, reply: &Reply) {
        if self.transcript.is_none() {
            return;
        }
        let last = reply.lines.len().saturating_sub(1);
        if reply.lines.is_empty() {
            self.emit(|| TranscriptLine::Received(reply.code.to_string()));
        }
        for (i, text) in reply.lines.iter().enumerate() {
            let separator = if i == last { ' ' } else { '-' };
            self.emit(|| TranscriptLine::Received(format!("{}{separator}{text}", reply.code)));
        }
    }

    /// The TLS facts of a completed handshake.
    pub(crate) fn tls(&self, report: &HandshakeReport) {
        if self.transcript.is_none() {
            return;
        }
        self.emit(|| {
            TranscriptLine::Tls(format!(
                "{} {}",
                report.tls_version.as_deref().unwrap_or("(version unknown)"),
                report.cipher_suite.as_deref().unwrap_or("(cipher unknown)")
            ))
        });
        if let Some(server) = &report.server_certificate {
            self.emit(|| {
                TranscriptLine::Tls(format!(
                    "server certificate verified: {} (issuer {}; expires {}; SHA-1 {})",
                    server.subject, server.issuer, server.not_after, server.sha1
                ))
            });
        }
        self.emit(|| {
            TranscriptLine::Tls(
                match (report.client_cert_requested, &report.client_cert_sent) {
                    (false, _) => "the server did not ask for a client certificate".to_owned(),
                    (true, Some(sha1)) => format!("client certificate sent: SHA-1 {sha1}"),
                    (true, None) => {
                        "the server asked for a client certificate; none was sent".to_owned()
                    }
                },
            )
        });
    }
}

/// The line as it may be shown: an AUTH command or response keeps only what names
/// the mechanism.
fn redact(step: &str, line: &str) -> String {
    if step != "auth" {
        return line.to_owned();
    }
    let mut words = line.split(' ');
    match (words.next(), words.next(), words.next()) {
        (Some(auth), Some(mechanism), None) if auth.eq_ignore_ascii_case("AUTH") => {
            format!("AUTH {mechanism}")
        }
        (Some(auth), Some(mechanism), Some(_)) if auth.eq_ignore_ascii_case("AUTH") => {
            format!("AUTH {mechanism} <hidden>")
        }
        _ => "<hidden>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn credentials_are_hidden() {
        assert_eq!(
            redact("auth", "AUTH PLAIN AHN2YwBzZWNyZXQ="),
            "AUTH PLAIN <hidden>"
        );
        assert_eq!(redact("auth", "AUTH LOGIN"), "AUTH LOGIN");
        assert_eq!(redact("auth", "c2VjcmV0"), "<hidden>");
        assert_eq!(redact("mail", "MAIL FROM:<a@b>"), "MAIL FROM:<a@b>");
    }

    #[test]
    fn replies_keep_their_separators() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let tracer = Tracer::new(Some(Transcript::new(move |e| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.line.to_string());
            }
        })));
        tracer.received(&Reply {
            code: 250,
            lines: vec!["mx.example.org".into(), "PIPELINING".into()],
        });
        tracer.sent_batch("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
        let seen = seen.lock().map(|v| v.clone()).unwrap_or_default();
        assert_eq!(
            seen,
            [
                "<-- 250-mx.example.org",
                "<-- 250 PIPELINING",
                "--> MAIL FROM:<a@b>",
                "--> RCPT TO:<c@d>",
                "--> DATA"
            ]
        );
    }
}
