//! mailcert: the command-line front end over the store, binding and sender crates.
//! It parses, calls the libraries, prints, and maps every failure to an exit code in
//! one place (`exit_code`).

#[macro_use]
mod out;
mod args;
mod color;
mod commands;
mod context;
mod input;
mod output;
mod secrets;

use std::process::ExitCode;

/// Exit codes from the interface contract.
pub(crate) mod exit {
    /// Success.
    pub(crate) const OK: u8 = 0;
    /// I/O, database, bad file, wrong password, master key problems.
    pub(crate) const ERROR: u8 = 1;
    /// Usage.
    pub(crate) const USAGE: u8 = 2;
    /// Rejected by a rule.
    pub(crate) const REJECTED: u8 = 3;
    /// Not found.
    pub(crate) const NOT_FOUND: u8 = 4;
}

/// A failure the CLI itself decided on, with its exit code.
#[derive(Debug)]
pub(crate) struct Exit {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// An error with advice for the person, printed after the error it explains.
#[derive(Debug)]
pub(crate) struct Hinted {
    pub(crate) error: anyhow::Error,
    pub(crate) hint: String,
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}\nhint: {}", self.error, self.hint)
    }
}

impl std::error::Error for Hinted {}

/// The contract's classification of a failure: its exit code and, for `--json` error
/// objects, its kind's name. Every library error type is classified here, through the
/// one [`mailcert_store::ErrorKind`] they all report, and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Class {
    pub(crate) code: u8,
    pub(crate) kind: &'static str,
}

impl Class {
    const fn new(code: u8, kind: &'static str) -> Class {
        Class { code, kind }
    }

    /// The class of an exit code chosen by the CLI itself.
    fn of_code(code: u8) -> Class {
        match code {
            exit::OK => Class::new(code, "ok"),
            exit::USAGE => Class::new(code, "usage"),
            exit::REJECTED => Class::new(code, "rejected"),
            exit::NOT_FOUND => Class::new(code, "not-found"),
            commands::send::DELIVERY_FAILED => Class::new(code, "delivery-failed"),
            _ => Class::new(code, "error"),
        }
    }

    fn of_kind(kind: mailcert_store::ErrorKind) -> Class {
        use mailcert_store::ErrorKind;
        match kind {
            ErrorKind::NotFound => Class::of_code(exit::NOT_FOUND),
            ErrorKind::Rejected => Class::of_code(exit::REJECTED),
            ErrorKind::Usage => Class::of_code(exit::USAGE),
            // A fault of mailcert's own: exit 1 like any error, named for a bug report.
            ErrorKind::Internal => Class::new(exit::ERROR, "internal"),
            _ => Class::of_code(exit::ERROR),
        }
    }
}

/// The kind a library error reports, if `cause` is one of theirs.
fn library_kind(cause: &(dyn std::error::Error + 'static)) -> Option<mailcert_store::ErrorKind> {
    if let Some(e) = cause.downcast_ref::<mailcert_store::Error>() {
        return Some(e.kind());
    }
    if let Some(e) = cause.downcast_ref::<mailcert_binding::Error>() {
        return Some(e.kind());
    }
    if let Some(e) = cause.downcast_ref::<mailcert_admin::AdminError>() {
        return Some(e.kind());
    }
    if let Some(e) = cause.downcast_ref::<mailcert_relay::RelayError>() {
        return Some(e.kind());
    }
    None
}

/// Classifies an error chain by its outermost cause that says what it is.
pub(crate) fn classify(err: &anyhow::Error) -> Class {
    for cause in err.chain() {
        if let Some(h) = cause.downcast_ref::<Hinted>() {
            return classify(&h.error);
        }
        if let Some(e) = cause.downcast_ref::<Exit>() {
            return Class::of_code(e.code);
        }
        if let Some(e) = cause.downcast_ref::<mailcert_sender::SendError>() {
            return Class::of_code(match e {
                mailcert_sender::SendError::InvalidOptions { .. } => exit::REJECTED,
                _ => commands::send::DELIVERY_FAILED,
            });
        }
        if let Some(e) = cause.downcast_ref::<mailcert_sender::MessageError>() {
            return Class::of_code(match e {
                mailcert_sender::MessageError::NoRecipients => exit::USAGE,
                mailcert_sender::MessageError::NoSender
                | mailcert_sender::MessageError::BadAddress(_)
                | mailcert_sender::MessageError::Unencodable { .. } => exit::REJECTED,
                _ => exit::ERROR,
            });
        }
        if let Some(kind) = library_kind(cause) {
            return Class::of_kind(kind);
        }
    }
    Class::of_code(exit::ERROR)
}

/// What to type next, for a library error whose message (shown on the web page too)
/// names no command-line option.
pub(crate) fn hint_for(err: &anyhow::Error) -> Option<&'static str> {
    for cause in err.chain() {
        if cause.downcast_ref::<Hinted>().is_some() {
            return None;
        }
        if let Some(e) = cause.downcast_ref::<mailcert_store::Error>() {
            return match e {
                mailcert_store::Error::PasswordRequired { .. } => Some(
                    "give --password-file FILE (- for standard input) or --password-env VAR; on a terminal you are asked",
                ),
                _ => None,
            };
        }
        if let Some(e) = cause.downcast_ref::<mailcert_sender::MessageError>() {
            return match e {
                mailcert_sender::MessageError::NoSender => Some(
                    "set a From address with `mailcert smtp set … --from ADDR`, give -f ADDR, or put a From header in the message",
                ),
                mailcert_sender::MessageError::Unencodable { .. } => {
                    Some("choose the character set with `mailcert smtp set … --charset utf-8`")
                }
                _ => None,
            };
        }
        if let Some(mailcert_relay::RelayError::Rejected { rule, .. }) =
            cause.downcast_ref::<mailcert_relay::RelayError>()
        {
            return match *rule {
                "open-relay" | "auth-needs-tls" => {
                    Some("give --auth-user with --auth-password-file, and --tls-certificate REF")
                }
                _ => None,
            };
        }
        if let Some(e) = cause.downcast_ref::<mailcert_binding::Error>() {
            if matches!(e, mailcert_binding::Error::NoSettings { .. }) {
                return Some("set them with `mailcert smtp set --farm --smtp-server HOST`");
            }
            if matches!(e, mailcert_binding::Error::NoServer { .. }) {
                return Some(
                    "`mailcert server list` shows the servers; a server joins with `mailcert init --join`",
                );
            }
            if e.violations()
                .iter()
                .any(|v| v.rule == "password-follows-server")
            {
                return Some(
                    "give --smtp-user with --smtp-password-file again, or --no-smtp-credentials",
                );
            }
            return None;
        }
    }
    None
}

/// Maps an error chain to the contract's exit code.
pub(crate) fn exit_code(err: &anyhow::Error) -> u8 {
    classify(err).code
}

/// The arguments, with `sendmail` put first when the binary is called as `sendmail`
/// (a symlink in place of /usr/sbin/sendmail).
fn arguments() -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let called_as_sendmail = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .is_some_and(|n| n == "sendmail");
    if called_as_sendmail {
        args.insert(1, "sendmail".into());
    }
    args
}

/// Under `--json`, a failure is also one object on stdout: `{"error", "kind",
/// "exit_code"}` (the message stays on stderr for people).
fn json_error(text: &str, class: Class) {
    let v = serde_json::json!({
        "error": text,
        "kind": class.kind,
        "exit_code": class.code,
    });
    let _ = out::stdout(&format!("{v}\n"));
}

fn main() -> ExitCode {
    let argv = arguments();
    // `--json` as typed, before parsing: a usage error is reported in JSON too.
    let json = argv.iter().skip(1).any(|a| a == "--json");
    let parsed = args::command()
        .try_get_matches_from(&argv)
        .and_then(|m| <args::Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            if json && code != exit::OK {
                let rendered = e.to_string();
                let first = rendered.lines().next().unwrap_or_default();
                json_error(first.trim_start_matches("error: "), Class::of_code(code));
            }
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    color::init(cli.color);
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // An already-reported failure carries an empty message.
            let text = format!("{err:#}");
            let class = classify(&err);
            let code = class.code;
            if !text.is_empty() {
                failln!("{text}");
                if let Some(hint) = hint_for(&err) {
                    errln!("hint: {hint}");
                }
                if json {
                    json_error(&text, class);
                }
            }
            ExitCode::from(code)
        }
    }
}
