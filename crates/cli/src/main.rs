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

use clap::Parser;

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

/// Maps an error chain to the contract's exit code.
pub(crate) fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(h) = cause.downcast_ref::<Hinted>() {
            return exit_code(&h.error);
        }
        if let Some(e) = cause.downcast_ref::<Exit>() {
            return e.code;
        }
        if let Some(e) = cause.downcast_ref::<mailcert_sender::SendError>() {
            return match e {
                mailcert_sender::SendError::InvalidOptions { .. } => exit::REJECTED,
                _ => commands::send::DELIVERY_FAILED,
            };
        }
        if let Some(e) = cause.downcast_ref::<mailcert_sender::MessageError>() {
            return match e {
                mailcert_sender::MessageError::NoRecipients => exit::USAGE,
                mailcert_sender::MessageError::NoSender
                | mailcert_sender::MessageError::BadAddress(_)
                | mailcert_sender::MessageError::Unencodable { .. } => exit::REJECTED,
                _ => exit::ERROR,
            };
        }
        let kind = if let Some(e) = cause.downcast_ref::<mailcert_binding::Error>() {
            Some(e.kind())
        } else {
            cause
                .downcast_ref::<mailcert_store::Error>()
                .map(mailcert_store::Error::kind)
        };
        if let Some(kind) = kind {
            return match kind {
                mailcert_store::ErrorKind::NotFound => exit::NOT_FOUND,
                mailcert_store::ErrorKind::Rejected => exit::REJECTED,
                mailcert_store::ErrorKind::Usage => exit::USAGE,
                _ => exit::ERROR,
            };
        }
    }
    exit::ERROR
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

/// The name of an exit code's kind in `--json` error objects.
pub(crate) fn kind_name(code: u8) -> &'static str {
    match code {
        exit::OK => "ok",
        exit::USAGE => "usage",
        exit::REJECTED => "rejected",
        exit::NOT_FOUND => "not-found",
        commands::send::DELIVERY_FAILED => "delivery-failed",
        _ => "error",
    }
}

/// Under `--json`, a failure is also one object on stdout: `{"error", "kind",
/// "exit_code"}` (the message stays on stderr for people).
fn json_error(text: &str, code: u8) {
    let v = serde_json::json!({
        "error": text,
        "kind": kind_name(code),
        "exit_code": code,
    });
    let _ = out::stdout(&format!("{v}\n"));
}

fn main() -> ExitCode {
    let argv = arguments();
    // `--json` as typed, before parsing: a usage error is reported in JSON too.
    let json = argv.iter().skip(1).any(|a| a == "--json");
    let cli = match args::Cli::try_parse_from(&argv) {
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
                json_error(first.trim_start_matches("error: "), code);
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
            let code = exit_code(&err);
            if !text.is_empty() {
                failln!("{text}");
                if json {
                    json_error(&text, code);
                }
            }
            ExitCode::from(code)
        }
    }
}
