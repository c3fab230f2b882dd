//! Reading passwords from a file, an environment variable, standard input or a prompt:
//! never from the command line, where other users could see them.

use std::io::IsTerminal;

use anyhow::{Context, Result, bail};
use zeroize::Zeroizing;

use crate::args::PasswordSource;

/// Drops one trailing newline (LF or CRLF), as files written by editors end with one.
fn chomp(mut s: String) -> String {
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    s
}

/// The password from the source given, if any. `None` means none was configured.
pub(crate) fn from_source(src: &PasswordSource) -> Result<Option<Zeroizing<String>>> {
    if let Some(path) = &src.password_file {
        let raw = crate::input::password(path)?;
        return Ok(Some(Zeroizing::new(chomp(raw.to_string()))));
    }
    if let Some(var) = &src.password_env {
        return match std::env::var(var) {
            Ok(v) => Ok(Some(Zeroizing::new(v))),
            Err(_) => bail!("environment variable {var} (from --password-env) is not set"),
        };
    }
    Ok(None)
}

/// Whether an interactive prompt is possible.
pub(crate) fn can_prompt() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks on the terminal without echo.
pub(crate) fn prompt(question: &str) -> Result<Zeroizing<String>> {
    let p =
        rpassword::prompt_password(question).context("reading the password from the terminal")?;
    Ok(Zeroizing::new(p))
}
