//! `mailcert admin set-password` and `mailcert admin serve`.

use std::sync::Arc;

use anyhow::Result;
use mailcert_admin::{SenderTester, ServeConfig, TlsSource};

use super::Globals;
use crate::args::AdminCommand;
use crate::{Exit, context, exit, out, secrets};

fn read_new_password() -> Result<zeroize::Zeroizing<String>> {
    if secrets::can_prompt() {
        let a = secrets::prompt("New administrator password: ")?;
        let b = secrets::prompt("Repeat it: ")?;
        if *a != *b {
            return Err(Exit {
                code: exit::ERROR,
                message: "the passwords differ; nothing was changed".into(),
            }
            .into());
        }
        return Ok(a);
    }
    let bytes = zeroize::Zeroizing::new(crate::input::stdin(crate::input::Kind::Password)?);
    let s = std::str::from_utf8(&bytes).map_err(|_| Exit {
        code: exit::ERROR,
        message: "standard input: the password is not UTF-8 text".into(),
    })?;
    let trimmed = s.strip_suffix('\n').unwrap_or(s);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    let pw = zeroize::Zeroizing::new(trimmed.to_string());
    Ok(pw)
}

pub(crate) fn run(g: &Globals, cmd: AdminCommand) -> Result<u8> {
    let db = context::db_path(g.db.clone())?;
    let key = context::key_path(&db);
    match cmd {
        AdminCommand::SetPassword => {
            let mut farm = context::open(g)?;
            let pw = read_new_password()?;
            mailcert_admin::set_password(&mut farm, &pw, context::now()?)?;
            if !g.quiet {
                outln!("administrator password set");
            }
            Ok(exit::OK)
        }
        AdminCommand::Serve {
            listen,
            tls_cert,
            tls_key,
            tls_certificate,
        } => {
            // Fail early and clearly when the farm is missing.
            drop(context::open(g)?);
            let mut cfg = ServeConfig::new(db, key);
            cfg.listen = listen;
            cfg.tls = match (tls_cert, tls_key, tls_certificate) {
                (Some(cert), Some(key), _) => Some(TlsSource::Files { cert, key }),
                (_, _, Some(reference)) => Some(TlsSource::Farm { reference }),
                _ => None,
            };
            cfg.tester = Some(Arc::new(SenderTester { timeout_secs: 30 }));
            // The Queue page shows this server's spool; without a place for it (no
            // --spool, MAILCERT_SPOOL or HOME) the page says none is configured.
            cfg.spool = context::spool_path(g.spool.clone()).ok();
            if std::env::var_os("MAILCERT_NOW").is_some() {
                cfg.fixed_now = Some(context::now()?);
            }
            let quiet = g.quiet;
            mailcert_admin::serve_blocking(cfg, |bound| {
                for w in bound.warnings() {
                    errln!("mailcert: WARNING: {w}");
                }
                if !quiet {
                    // A closed output is no reason to stop serving.
                    out::stdout(&format!(
                        "Central Administration: {}  (Ctrl-C stops it)\n",
                        bound.url()
                    ))
                    .ok();
                }
            })?;
            Ok(exit::OK)
        }
    }
}
