//! mailcert: the command-line front end over the store, binding and sender crates.
//! It parses, calls the libraries, prints, and maps every failure to an exit code in
//! one place (`exit_code`).

#[macro_use]
mod out;
mod args;
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

/// Maps an error chain to the contract's exit code.
pub(crate) fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
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

fn main() -> ExitCode {
    let cli = args::Cli::parse_from(arguments());
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // An already-reported failure carries an empty message.
            let text = format!("{err:#}");
            if !text.is_empty() {
                errln!("mailcert: {text}");
            }
            ExitCode::from(exit_code(&err))
        }
    }
}
