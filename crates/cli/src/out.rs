//! The one way the CLI writes to the terminal: every line goes through here, so that
//! control characters from certificates, file names and SMTP replies are shown escaped
//! instead of acting on the terminal, and a closed output pipe (`| head`) ends the command
//! quietly instead of panicking.
//!
//! Use the macros: `outln!`/`out!` for standard output (they return early with a quiet
//! stop when the reader has gone), `errln!` for standard error (a write failure there is
//! ignored: there is nobody left to tell).

use std::io::Write;

use crate::color::{Stream, Style};
use crate::{Exit, exit};

/// Whether a character would act on a terminal (or reorder what it shows) rather than
/// print: C0 controls other than tab and newline, DEL, C1 controls, and the Unicode
/// bidirectional overrides and isolates that can make text read differently.
fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every unsafe character written as `\uXXXX`. The same form is a valid
/// escape inside a JSON string, so JSON output stays valid JSON with the same meaning.
pub(crate) fn sanitize(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut s = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) {
            s.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            s.push(c);
        }
    }
    std::borrow::Cow::Owned(s)
}

/// The error that stops a command whose reader has gone: exit 0, nothing printed.
fn quiet_stop() -> anyhow::Error {
    Exit {
        code: exit::OK,
        message: String::new(),
    }
    .into()
}

/// Writes `text` to standard output, escaped. A closed pipe becomes a quiet stop; any
/// other failure is an error.
pub(crate) fn stdout(text: &str) -> anyhow::Result<()> {
    stdout_escaped(&sanitize(text))
}

/// Writes text that [`render`] (or [`sanitize`]) has already escaped.
pub(crate) fn stdout_escaped(text: &str) -> anyhow::Result<()> {
    let mut lock = std::io::stdout().lock();
    let result = lock.write_all(text.as_bytes()).and_then(|()| lock.flush());
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(quiet_stop()),
        Err(e) => Err(anyhow::anyhow!("cannot write to standard output: {e}")),
    }
}

/// Writes `text` to standard error, escaped; failures are ignored.
pub(crate) fn stderr(text: &str) {
    stderr_escaped(&sanitize(text));
}

/// Writes already escaped text to standard error; failures are ignored.
pub(crate) fn stderr_escaped(text: &str) {
    let mut lock = std::io::stderr().lock();
    let _ = lock.write_all(text.as_bytes());
    let _ = lock.flush();
}

/// A piece of a line, and how it is coloured on a coloured stream (`None`: never).
pub(crate) type Part<'a> = (Option<Style>, &'a str);

/// The parts joined, each escaped first and the styled ones then coloured where
/// `stream` is coloured: colour never wraps text that was not escaped.
pub(crate) fn render(stream: Stream, parts: &[Part<'_>]) -> String {
    let mut line = String::new();
    for (style, text) in parts {
        let escaped = sanitize(text);
        match style {
            Some(style) => line.push_str(&crate::color::paint(stream, *style, &escaped)),
            None => line.push_str(&escaped),
        }
    }
    line
}

/// Prints a line on standard output through [`stdout`]; returns early from the calling
/// function (which must return `anyhow::Result`) when the pipe is closed.
macro_rules! outln {
    () => {
        $crate::out::stdout("\n")?
    };
    ($($arg:tt)*) => {{
        let mut line = format!($($arg)*);
        line.push('\n');
        $crate::out::stdout(&line)?
    }};
}

/// Like `outln!` without the newline.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::stdout(&format!($($arg)*))?
    };
}

/// Prints a line on standard error through [`stderr`].
macro_rules! errln {
    ($($arg:tt)*) => {{
        let mut line = format!($($arg)*);
        line.push('\n');
        $crate::out::stderr(&line)
    }};
}

/// Prints `mailcert: TEXT` on standard error, the prefix red on a coloured terminal:
/// the line that says a command (or one of its items) failed.
macro_rules! failln {
    ($($arg:tt)*) => {
        $crate::out::prefixed($crate::color::Style::Bad, "mailcert:", &format!($($arg)*))
    };
}

/// Prints `warning: TEXT` on standard error, the prefix yellow on a coloured terminal.
macro_rules! warnln {
    ($($arg:tt)*) => {
        $crate::out::prefixed($crate::color::Style::Warn, "warning:", &format!($($arg)*))
    };
}

/// `PREFIX TEXT` and a newline on standard error, the prefix in `style` where stderr is
/// coloured; everything escaped.
pub(crate) fn prefixed(style: Style, prefix: &str, text: &str) {
    stderr_escaped(&render(
        Stream::Stderr,
        &[(Some(style), prefix), (None, &format!(" {text}\n"))],
    ));
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn controls_are_escaped_and_text_is_kept() {
        assert_eq!(
            sanitize("plain, tab\tand\nnewline"),
            "plain, tab\tand\nnewline"
        );
        assert_eq!(sanitize("a\u{1b}]0;x\u{7}b"), "a\\u001b]0;x\\u0007b");
        assert_eq!(sanitize("ok\rFAKE"), "ok\\u000dFAKE");
        assert_eq!(sanitize("\u{9b}2J"), "\\u009b2J");
        assert_eq!(sanitize("abc\u{202e}fed"), "abc\\u202efed");
        assert_eq!(sanitize("Zürich ✓"), "Zürich ✓");
    }

    #[test]
    fn escaped_json_stays_json() {
        let v = serde_json::json!({"s": "x\u{9b}y\u{202e}z"});
        let text = sanitize(&v.to_string()).into_owned();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, v);
    }
}
