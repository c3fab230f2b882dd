//! Messages to send: built from a subject and body with the settings' From, Reply-To and
//! character set, or taken whole (RFC 5322) from a file or standard input, the way
//! /usr/sbin/sendmail takes them.

use lettre::message::header::ContentType;
use lettre::message::{Body, Mailbox};
use ring::rand::{SecureRandom, SystemRandom};

use crate::envelope::Envelope;
use mailcert_binding::SmtpSettings;

/// Why a message could not be made ready to send.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// No sender: neither the settings' From address nor the message (or -f) gives one.
    #[error(
        "no sender address: the settings have no From address and the message has no From header"
    )]
    NoSender,
    /// No recipient was given or found.
    #[error("no recipients (none given, and none found in To, Cc or Bcc where those are read)")]
    NoRecipients,
    /// An address does not parse.
    #[error(
        "'{0}' is not an e-mail address: give one such as ops@contoso.com or \"Ops <ops@contoso.com>\""
    )]
    BadAddress(String),
    /// The input is not an RFC 5322 message.
    #[error("not an RFC 5322 message: {0}")]
    NotAMessage(String),
    /// The body cannot be written in the configured character set.
    #[error(
        "the body contains characters that {charset} cannot encode; choose another character set (e.g. utf-8) in the outgoing e-mail settings"
    )]
    Unencodable {
        /// The character set.
        charset: String,
    },
    /// lettre refused to build the message.
    #[error("cannot build the message: {0}")]
    Build(String),
}

/// A message ready for [`Session::send`](crate::Session::send).
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// MAIL FROM and RCPT TO.
    pub envelope: Envelope,
    /// The message as sent.
    pub data: Vec<u8>,
}

fn mailbox(s: &str) -> Result<Mailbox, MessageError> {
    s.trim()
        .parse::<Mailbox>()
        .map_err(|_| MessageError::BadAddress(s.to_string()))
}

/// Encodes `text` in `charset` (an IANA name from the settings).
fn encode_body(text: &str, charset: &str) -> Result<Vec<u8>, MessageError> {
    // Line breaks travel as CRLF: a lone LF would be encoded as =0A rather than a line.
    let crlf = crlf_lines(text.as_bytes());
    // Only ASCII CR and LF were inserted, so the text is still UTF-8.
    let text = std::str::from_utf8(&crlf).map_err(|e| MessageError::Build(e.to_string()))?;
    let fail = || MessageError::Unencodable {
        charset: charset.to_string(),
    };
    if charset.eq_ignore_ascii_case("utf-8") {
        return Ok(text.as_bytes().to_vec());
    }
    if charset.eq_ignore_ascii_case("us-ascii") {
        return if text.is_ascii() {
            Ok(text.as_bytes().to_vec())
        } else {
            Err(fail())
        };
    }
    let enc = encoding_rs::Encoding::for_label(charset.as_bytes()).ok_or_else(fail)?;
    let (bytes, _, had_errors) = enc.encode(text);
    if had_errors {
        return Err(fail());
    }
    Ok(bytes.into_owned())
}

/// A fresh Message-ID under `domain`.
pub fn message_id(domain: &str) -> String {
    let mut r = [0u8; 16];
    // A failing system RNG leaves zeros; the time part still keeps ids apart.
    let _ = SystemRandom::new().fill(&mut r);
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    format!("<{t:x}.{hex}@{domain}>")
}

/// Builds a plain-text message from the settings (From, Reply-To, character set).
pub fn compose(
    settings: &SmtpSettings,
    helo: &str,
    to: &[String],
    subject: &str,
    body: &str,
) -> Result<Outgoing, MessageError> {
    let from = mailbox(
        settings
            .from_address
            .as_deref()
            .ok_or(MessageError::NoSender)?,
    )?;
    if to.is_empty() {
        return Err(MessageError::NoRecipients);
    }
    let mut b = lettre::Message::builder()
        .from(from.clone())
        .subject(subject)
        .date_now()
        .message_id(Some(message_id(helo)))
        .user_agent(format!("mailcert/{}", env!("CARGO_PKG_VERSION")));
    let mut rcpts = Vec::new();
    for t in to {
        let m = mailbox(t)?;
        rcpts.push(m.email.to_string());
        b = b.to(m);
    }
    if let Some(r) = &settings.reply_to {
        b = b.reply_to(mailbox(r)?);
    }
    let ct = ContentType::parse(&format!("text/plain; charset={}", settings.charset))
        .map_err(|e| MessageError::Build(e.to_string()))?;
    let msg = b
        .header(ct)
        .body(Body::new(encode_body(body, &settings.charset)?))
        .map_err(|e| MessageError::Build(e.to_string()))?;
    Ok(Outgoing {
        envelope: Envelope::new(from.email.to_string(), rcpts),
        data: msg.formatted(),
    })
}

/// How to take a whole message (sendmail semantics).
#[derive(Debug, Clone, Default)]
pub struct RawOptions {
    /// Recipients given on the command line.
    pub recipients: Vec<String>,
    /// Also read recipients from To, Cc and Bcc (sendmail -t); Bcc is removed.
    pub recipients_from_headers: bool,
    /// Envelope sender override (sendmail -f).
    pub envelope_from: Option<String>,
}

/// One logical header line of the raw message, with its bytes (continuations kept).
struct RawHeader<'a> {
    name: String,
    bytes: &'a [u8],
}

/// Splits the header block into logical headers, keeping each one's exact bytes.
fn split_headers(block: &[u8]) -> Vec<RawHeader<'_>> {
    let mut out: Vec<RawHeader<'_>> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < block.len() {
        let end = block[i..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(block.len(), |p| i + p + 1);
        let line = &block[i..end];
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if !continuation && i > start {
            let bytes = &block[start..i];
            let name = header_name(bytes);
            out.push(RawHeader { name, bytes });
            start = i;
        }
        i = end;
    }
    if start < block.len() {
        let bytes = &block[start..];
        out.push(RawHeader {
            name: header_name(bytes),
            bytes,
        });
    }
    out.retain(|h| !h.name.is_empty());
    out
}

/// The message with every line ending as CRLF: a lone CR or a lone LF becomes CRLF.
///
/// Done before any parsing, so that the lines read here are the lines the relay and the
/// recipient see after DATA's normalisation; otherwise `Subject: x\rBcc: y` would be one
/// header here and two there (a header smuggled past the Bcc rule).
fn crlf_lines(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let clean = raw.iter().enumerate().all(|(i, b)| match b {
        b'\r' => raw.get(i + 1) == Some(&b'\n'),
        b'\n' => i > 0 && raw.get(i - 1) == Some(&b'\r'),
        _ => true,
    });
    if clean {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32 + 2);
    let mut bytes = raw.iter().peekable();
    while let Some(&b) = bytes.next() {
        match b {
            b'\r' => {
                bytes.next_if_eq(&&b'\n');
                out.extend_from_slice(b"\r\n");
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            other => out.push(other),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn header_name(bytes: &[u8]) -> String {
    let colon = bytes.iter().position(|b| *b == b':').unwrap_or(0);
    String::from_utf8_lossy(&bytes[..colon])
        .trim()
        .to_ascii_lowercase()
}

/// Takes a whole RFC 5322 message: the envelope sender is `-f`, else the settings'
/// From, else the message's From; recipients are the arguments plus, with `-t`, To/Cc/Bcc.
/// A missing From, Reply-To, Date or Message-ID is added; Bcc never leaves.
pub fn from_raw(
    settings: &SmtpSettings,
    helo: &str,
    raw: &[u8],
    opts: &RawOptions,
) -> Result<Outgoing, MessageError> {
    let raw = crlf_lines(raw);
    let raw = raw.as_ref();
    let (headers, body_start) =
        mailparse::parse_headers(raw).map_err(|e| MessageError::NotAMessage(e.to_string()))?;
    if headers.is_empty() {
        return Err(MessageError::NotAMessage("it has no header lines".into()));
    }
    let addresses = |name: &str| -> Result<Vec<String>, MessageError> {
        let mut v = Vec::new();
        for h in headers
            .iter()
            // `Bcc : x` is a Bcc header too (RFC 5322's obsolete syntax allows the space).
            .filter(|h| h.get_key_ref().trim().eq_ignore_ascii_case(name))
        {
            let list = mailparse::addrparse_header(h)
                .map_err(|_| MessageError::BadAddress(h.get_value()))?;
            for a in list.iter() {
                match a {
                    mailparse::MailAddr::Single(s) => v.push(s.addr.clone()),
                    mailparse::MailAddr::Group(g) => {
                        v.extend(g.addrs.iter().map(|s| s.addr.clone()))
                    }
                }
            }
        }
        Ok(v)
    };
    let header_from = addresses("from")?;
    let settings_from = match &settings.from_address {
        Some(f) => Some(mailbox(f)?.email.to_string()),
        None => None,
    };
    let envelope_from = opts
        .envelope_from
        .clone()
        .or(settings_from)
        .or_else(|| header_from.first().cloned())
        .ok_or(MessageError::NoSender)?;
    let mut rcpts: Vec<String> = opts.recipients.clone();
    if opts.recipients_from_headers {
        for n in ["to", "cc", "bcc"] {
            rcpts.extend(addresses(n)?);
        }
    }
    let mut seen = std::collections::HashSet::new();
    rcpts.retain(|r| seen.insert(r.to_ascii_lowercase()));
    if rcpts.is_empty() {
        return Err(MessageError::NoRecipients);
    }
    for r in &rcpts {
        mailbox(r)?;
    }
    let split = split_headers(&raw[..body_start.min(raw.len())]);
    let has = |n: &str| split.iter().any(|h| h.name == n);
    let mut data = Vec::with_capacity(raw.len() + 256);
    if !has("from") {
        let from = settings
            .from_address
            .clone()
            .unwrap_or_else(|| envelope_from.clone());
        data.extend_from_slice(format!("From: {from}\r\n").as_bytes());
    }
    if !has("reply-to")
        && let Some(r) = &settings.reply_to
    {
        data.extend_from_slice(format!("Reply-To: {r}\r\n").as_bytes());
    }
    if !has("date") {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default();
        data.extend_from_slice(format!("Date: {now}\r\n").as_bytes());
    }
    if !has("message-id") {
        data.extend_from_slice(format!("Message-ID: {}\r\n", message_id(helo)).as_bytes());
    }
    for h in &split {
        if h.name != "bcc" {
            data.extend_from_slice(h.bytes);
        }
    }
    let body = &raw[body_start.min(raw.len())..];
    if !data.ends_with(b"\n") {
        data.extend_from_slice(b"\r\n");
    }
    // The blank line that ends the header block (parse_headers counts it as headers).
    data.extend_from_slice(b"\r\n");
    data.extend_from_slice(body);
    Ok(Outgoing {
        envelope: Envelope::new(envelope_from, rcpts),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailcert_binding::Encryption;

    fn settings() -> SmtpSettings {
        SmtpSettings {
            smtp_server: "relay".into(),
            port: 25,
            encryption: Encryption::StartTls,
            from_address: Some("SharePoint <sp@contoso.com>".into()),
            reply_to: Some("help@contoso.com".into()),
            charset: "utf-8".into(),
            helo: None,
            smtp_user: None,
            has_password: false,
            certificate: None,
            tls_sender_name: None,
        }
    }

    #[test]
    fn body_lines_travel_as_lines_not_encoded_line_feeds() {
        let long = "x".repeat(50);
        let body = format!("first {long} line\nsecond {long} line\r\nthird\rfourth\n");
        let m = compose(&settings(), "h", &["a@example.org".into()], "s", &body).unwrap();
        let text = String::from_utf8_lossy(&m.data);
        assert!(!text.contains("=0A") && !text.contains("=0D"), "{text}");
        let (_, body_part) = text.split_once("\r\n\r\n").unwrap();
        let unfolded = body_part.replace("=\r\n", "");
        assert_eq!(
            unfolded,
            format!("first {long} line\r\nsecond {long} line\r\nthird\r\nfourth\r\n")
        );
    }

    #[test]
    fn compose_uses_from_reply_to_and_charset() {
        let mut s = settings();
        s.charset = "iso-8859-1".into();
        let m = compose(
            &s,
            "sp01",
            &["a@example.org".into()],
            "Grüße",
            "Grüße aus Köln\n",
        )
        .unwrap();
        let text = String::from_utf8_lossy(&m.data);
        assert!(text.contains("From: SharePoint <sp@contoso.com>"), "{text}");
        assert!(text.contains("Reply-To: help@contoso.com"), "{text}");
        assert!(text.contains("charset=iso-8859-1"), "{text}");
        assert!(text.contains("@sp01>"), "{text}");
        assert_eq!(m.envelope.from, "sp@contoso.com");
        assert_eq!(m.envelope.to, vec!["a@example.org".to_string()]);
        s.charset = "us-ascii".into();
        assert!(matches!(
            compose(&s, "h", &["a@example.org".into()], "x", "Grüße"),
            Err(MessageError::Unencodable { .. })
        ));
        s.from_address = None;
        assert!(matches!(
            compose(&s, "h", &["a@example.org".into()], "x", "y"),
            Err(MessageError::NoSender)
        ));
    }

    #[test]
    fn raw_messages_sendmail_style() {
        let raw = b"From: App <app@example.org>\nTo: a@example.org, B <b@example.org>\nCc: c@example.org\nBcc: secret@example.org\nSubject: folded\n  subject line\n\nbody line\n";
        let m = from_raw(
            &settings(),
            "h",
            raw,
            &RawOptions {
                recipients_from_headers: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(m.envelope.from, "sp@contoso.com");
        assert_eq!(
            m.envelope.to,
            [
                "a@example.org",
                "b@example.org",
                "c@example.org",
                "secret@example.org"
            ]
        );
        let text = String::from_utf8_lossy(&m.data);
        assert!(!text.contains("secret@"), "Bcc must not leave: {text}");
        assert!(
            text.contains("From: App <app@example.org>"),
            "own From kept: {text}"
        );
        assert!(
            text.contains("Subject: folded\r\n  subject line\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Message-ID: <") && text.contains("Date: "),
            "{text}"
        );
        assert!(text.contains("Reply-To: help@contoso.com"), "{text}");
        assert!(
            text.ends_with("subject line\r\n\r\nbody line\r\n"),
            "{text:?}"
        );
        // Without -t only the arguments count; -f overrides the sender.
        let m = from_raw(
            &settings(),
            "h",
            raw,
            &RawOptions {
                recipients: vec!["z@example.org".into()],
                envelope_from: Some("bounce@example.org".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(m.envelope.to, ["z@example.org"]);
        assert_eq!(m.envelope.from, "bounce@example.org");
        assert!(matches!(
            from_raw(&settings(), "h", raw, &RawOptions::default()),
            Err(MessageError::NoRecipients)
        ));
        // A message without From gets the settings' From.
        let m = from_raw(
            &settings(),
            "h",
            b"Subject: x\r\n\r\nhi\r\n",
            &RawOptions {
                recipients: vec!["a@example.org".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            String::from_utf8_lossy(&m.data).starts_with("From: SharePoint <sp@contoso.com>\r\n")
        );
    }

    fn minus_t(raw: &[u8]) -> Outgoing {
        from_raw(
            &settings(),
            "h",
            raw,
            &RawOptions {
                recipients_from_headers: true,
                ..Default::default()
            },
        )
        .unwrap()
    }

    /// Regression (issue 8): a lone CR in a header line used to hide a Bcc inside the
    /// Subject here, while DATA's normalisation made it a header line of its own there.
    #[test]
    fn a_lone_cr_cannot_smuggle_a_header() {
        let m =
            minus_t(b"To: a@example.org\r\nSubject: hi\rBcc: hidden@example.org\r\n\r\nbody\r\n");
        let text = String::from_utf8_lossy(&m.data);
        assert!(!text.contains("hidden@"), "Bcc must not leave: {text:?}");
        assert!(!text.contains("Bcc"), "{text:?}");
        assert!(text.contains("Subject: hi\r\n"), "{text:?}");
        assert_eq!(m.envelope.to, ["a@example.org", "hidden@example.org"]);
        // No lone CR or LF is left anywhere in what is sent.
        let d = &m.data;
        for (i, b) in d.iter().enumerate() {
            if *b == b'\r' {
                assert_eq!(d.get(i + 1), Some(&b'\n'), "lone CR at {i}: {text:?}");
            }
            if *b == b'\n' {
                assert!(i > 0 && d[i - 1] == b'\r', "lone LF at {i}: {text:?}");
            }
        }
    }

    /// Regression (issue 8): `bcc : x` was stripped but its address was not a recipient.
    #[test]
    fn a_bcc_with_a_space_before_the_colon_is_a_recipient() {
        let m = minus_t(b"To: a@example.org\nbcc : blind@example.org\nSubject: x\n\nbody\n");
        assert_eq!(m.envelope.to, ["a@example.org", "blind@example.org"]);
        assert!(!String::from_utf8_lossy(&m.data).contains("blind@"));
    }

    #[test]
    fn line_endings_become_crlf() {
        assert_eq!(crlf_lines(b"a\r\nb").as_ref(), b"a\r\nb");
        assert!(matches!(
            crlf_lines(b"a\r\nb"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            crlf_lines(b"a\nb\rc\r\n\r").as_ref(),
            b"a\r\nb\r\nc\r\n\r\n"
        );
        assert_eq!(crlf_lines(b"\n\n").as_ref(), b"\r\n\r\n");
    }
}
