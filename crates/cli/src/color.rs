//! Colour on a terminal, and never anywhere else: `--color auto|always|never`, with
//! `auto` honouring `NO_COLOR` (<https://no-color.org>), `CLICOLOR_FORCE` and a dumb
//! `TERM`, decided once per stream at start.
//!
//! Colour is only ever added around text that [`crate::out`] has already escaped, so a
//! certificate cannot smuggle its own escape sequences in through it.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

/// When to colour, as `ls` and `rg` take it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set or `TERM` is `dumb`.
    #[default]
    Auto,
    /// Always, even into a pipe.
    Always,
    /// Never.
    Never,
}

/// What a piece of text means; each has one colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// Fine: eligible, healthy.
    Good,
    /// Broken: not eligible, expired, an error.
    Bad,
    /// Needs attention soon.
    Warn,
    /// Worth a look.
    Note,
}

impl Style {
    fn sgr(self) -> &'static str {
        match self {
            Style::Good => "\x1b[32m",
            Style::Bad => "\x1b[1;31m",
            Style::Warn => "\x1b[33m",
            Style::Note => "\x1b[36m",
        }
    }
}

const RESET: &str = "\x1b[0m";

/// Which stream a piece of text goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

static STDOUT: AtomicBool = AtomicBool::new(false);
static STDERR: AtomicBool = AtomicBool::new(false);

/// The environment that `auto` looks at.
#[derive(Debug, Default)]
struct Env {
    no_color: Option<OsString>,
    clicolor_force: Option<OsString>,
    term: Option<OsString>,
}

/// Whether to colour a stream: `NO_COLOR` set to anything but the empty string turns
/// `auto` off; `CLICOLOR_FORCE` (not `0`) turns it on for a pipe; a dumb terminal gets
/// none.
fn decide(choice: ColorChoice, terminal: bool, env: &Env) -> bool {
    let set = |v: &Option<OsString>| v.as_ref().is_some_and(|v| !v.is_empty() && v != "0");
    match choice {
        ColorChoice::Never => false,
        ColorChoice::Always => true,
        ColorChoice::Auto => {
            if env.no_color.as_ref().is_some_and(|v| !v.is_empty()) {
                false
            } else if set(&env.clicolor_force) {
                true
            } else {
                terminal && env.term.as_ref().is_none_or(|t| t != "dumb")
            }
        }
    }
}

/// Decides, once, for both streams.
pub(crate) fn init(choice: ColorChoice) {
    let env = Env {
        no_color: std::env::var_os("NO_COLOR"),
        clicolor_force: std::env::var_os("CLICOLOR_FORCE"),
        term: std::env::var_os("TERM"),
    };
    STDOUT.store(
        decide(choice, std::io::stdout().is_terminal(), &env),
        Ordering::Relaxed,
    );
    STDERR.store(
        decide(choice, std::io::stderr().is_terminal(), &env),
        Ordering::Relaxed,
    );
}

/// `text` (already escaped) in `style` when the stream is coloured, else as it is.
pub(crate) fn paint(stream: Stream, style: Style, text: &str) -> String {
    let on = match stream {
        Stream::Stdout => STDOUT.load(Ordering::Relaxed),
        Stream::Stderr => STDERR.load(Ordering::Relaxed),
    };
    if on && !text.is_empty() {
        format!("{}{text}{RESET}", style.sgr())
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(no_color: Option<&str>, force: Option<&str>, term: Option<&str>) -> Env {
        Env {
            no_color: no_color.map(OsString::from),
            clicolor_force: force.map(OsString::from),
            term: term.map(OsString::from),
        }
    }

    #[test]
    fn auto_follows_the_terminal_and_the_environment() {
        let plain = env(None, None, Some("xterm-256color"));
        assert!(decide(ColorChoice::Auto, true, &plain));
        assert!(!decide(ColorChoice::Auto, false, &plain));
        assert!(!decide(
            ColorChoice::Auto,
            true,
            &env(Some("1"), None, Some("xterm"))
        ));
        // An empty NO_COLOR is as good as unset (no-color.org).
        assert!(decide(
            ColorChoice::Auto,
            true,
            &env(Some(""), None, Some("xterm"))
        ));
        assert!(!decide(
            ColorChoice::Auto,
            true,
            &env(None, None, Some("dumb"))
        ));
        assert!(decide(
            ColorChoice::Auto,
            false,
            &env(None, Some("1"), None)
        ));
        assert!(!decide(
            ColorChoice::Auto,
            false,
            &env(None, Some("0"), None)
        ));
        assert!(!decide(
            ColorChoice::Auto,
            false,
            &env(Some("1"), Some("1"), None)
        ));
    }

    #[test]
    fn always_and_never_are_absolute() {
        let no = env(Some("1"), None, Some("dumb"));
        assert!(decide(ColorChoice::Always, false, &no));
        assert!(!decide(
            ColorChoice::Never,
            true,
            &env(None, Some("1"), None)
        ));
    }
}
