//! The one way the CLI writes to the terminal: every line goes through here, so that
//! control characters from certificates, file names and SMTP replies are shown escaped
//! instead of acting on the terminal, and a closed output pipe (`| head`) ends the command
//! quietly instead of panicking.
//!
//! Use the macros: `outln!`/`out!` for standard output (they return early with a quiet
//! stop when the reader has gone), `errln!` for standard error (a write failure there is
//! ignored: there is nobody left to tell).

use std::io::Write;

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
    let mut lock = std::io::stdout().lock();
    let result = lock
        .write_all(sanitize(text).as_bytes())
        .and_then(|()| lock.flush());
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(quiet_stop()),
        Err(e) => Err(anyhow::anyhow!("cannot write to standard output: {e}")),
    }
}

/// Writes `text` to standard error, escaped; failures are ignored.
pub(crate) fn stderr(text: &str) {
    let mut lock = std::io::stderr().lock();
    let _ = lock.write_all(sanitize(text).as_bytes());
    let _ = lock.flush();
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
