//! `mailcert doctor`: the checks an operator runs when something is off, each finding
//! with what to do about it. Exit 3 when any check fails.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use mailcert_binding::Target;
use serde::Serialize;

use super::Globals;
use crate::{context, exit};

/// One check's outcome.
#[derive(Debug, Serialize)]
struct Finding {
    check: &'static str,
    ok: bool,
    detail: String,
    fix: Option<String>,
}

fn ok(check: &'static str, detail: impl Into<String>) -> Finding {
    Finding {
        check,
        ok: true,
        detail: detail.into(),
        fix: None,
    }
}

fn fail(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding {
        check,
        ok: false,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

/// A secret file must be the owner's alone (0600, or stricter).
fn mode_check(check: &'static str, path: &Path, what: &str) -> Finding {
    match std::fs::metadata(path) {
        Err(e) => fail(
            check,
            format!("{}: {e}", path.display()),
            format!("create it with `mailcert init`, or point to the right {what}"),
        ),
        Ok(m) => {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 == 0 {
                ok(check, format!("{} is mode {mode:04o}", path.display()))
            } else {
                fail(
                    check,
                    format!(
                        "{} is mode {mode:04o}: other users can read the {what}",
                        path.display()
                    ),
                    format!("chmod 600 {}", path.display()),
                )
            }
        }
    }
}

/// Whether `addr` is free, or taken by a mailcert relay (its greeting says so).
fn relay_port(addr: SocketAddr) -> Finding {
    const CHECK: &str = "relay-port";
    match TcpListener::bind(addr) {
        Ok(_) => ok(CHECK, format!("{addr} is free for `mailcert relay`")),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let greeting = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
                .ok()
                .and_then(|s| {
                    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
                    let mut line = String::new();
                    BufReader::new(s).read_line(&mut line).ok()?;
                    Some(line.trim().to_string())
                })
                .unwrap_or_default();
            if greeting.contains("mailcert relay") {
                ok(
                    CHECK,
                    format!("{addr} is served by mailcert relay: {greeting}"),
                )
            } else {
                fail(
                    CHECK,
                    format!(
                        "{addr} is in use by another program{}",
                        if greeting.is_empty() {
                            String::new()
                        } else {
                            format!(" (it greets: {greeting})")
                        }
                    ),
                    "stop that program (often the system's own MTA), or give the relay another --listen address and point applications there",
                )
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => ok(
            CHECK,
            format!(
                "{addr} needs privileges to bind here ({e}); the systemd unit grants CAP_NET_BIND_SERVICE"
            ),
        ),
        Err(e) => fail(
            CHECK,
            format!("{addr} cannot be bound: {e}"),
            "check the address belongs to this host",
        ),
    }
}

/// The spool's file is writable, or its folder can hold a new one.
fn spool(path: &Path) -> Finding {
    const CHECK: &str = "spool";
    if path.exists() {
        return match std::fs::OpenOptions::new().append(true).open(path) {
            Ok(_) => {
                let m = mode_check(CHECK, path, "spool");
                if m.ok {
                    ok(
                        CHECK,
                        format!("{} is writable ({})", path.display(), m.detail),
                    )
                } else {
                    m
                }
            }
            Err(e) => fail(
                CHECK,
                format!("{} is not writable: {e}", path.display()),
                format!(
                    "run the relay as the spool's owner, or chown it: chown mailcert: {}",
                    path.display()
                ),
            ),
        };
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut probe = dir;
    while !probe.exists() {
        match probe.parent() {
            Some(p) if !p.as_os_str().is_empty() => probe = p,
            _ => break,
        }
    }
    let writable = tempfile::tempfile_in(probe).is_ok();
    if writable {
        ok(
            CHECK,
            format!(
                "{} does not exist yet; it will be created (mode 0600) in {}",
                path.display(),
                dir.display()
            ),
        )
    } else {
        fail(
            CHECK,
            format!(
                "{} cannot be created: {} is not writable",
                path.display(),
                probe.display()
            ),
            format!(
                "mkdir -p {d} && chmod 700 {d}, owned by the user the relay runs as",
                d = dir.display()
            ),
        )
    }
}

/// The platform's trust store, which the sender adds to the farm's Root store.
fn trust_store() -> Finding {
    const CHECK: &str = "trust-store";
    // SSL_CERT_FILE, when set, is the one place the platform's roots are read from.
    let candidates: Vec<std::path::PathBuf> =
        match std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
            Some(f) => vec![f.into()],
            None => vec![
                "/etc/ssl/certs/ca-certificates.crt".into(),
                "/etc/pki/tls/certs/ca-bundle.crt".into(),
                "/etc/ssl/cert.pem".into(),
            ],
        };
    for c in candidates {
        if let Ok(text) = std::fs::read_to_string(&c) {
            let n = text.matches("BEGIN CERTIFICATE").count();
            if n > 0 {
                return ok(CHECK, format!("{} holds {n} CA certificates", c.display()));
            }
        }
    }
    fail(
        CHECK,
        "no system trust store found: only the farm's Root store can verify relays",
        "apt-get install ca-certificates (or import your relay's root CA: mailcert cert import root.pem --store root)",
    )
}

/// `mailcert doctor`.
pub(crate) fn run(g: &Globals, relay_listen: SocketAddr) -> Result<u8> {
    let mut findings = Vec::new();
    let db = context::db_path(g.db.clone())?;
    let key = context::key_path(&db);
    match &db {
        mailcert_store::FarmDb::File(path) => {
            findings.push(mode_check("farm-mode", path, "farm database"))
        }
        // A PostgreSQL farm's files are the server's business; its key file is ours.
        mailcert_store::FarmDb::Postgres(_) => {
            findings.push(ok("farm-mode", format!("the farm is in PostgreSQL ({db})")))
        }
    }
    findings.push(mode_check("key-mode", &key, "master key"));
    let now = context::now()?;
    match mailcert_store::Farm::open(&db, &key) {
        Err(e) => findings.push(fail(
            "master-key",
            format!("the farm does not open: {e}"),
            "run `mailcert init`, or point --db / MAILCERT_DB at the farm",
        )),
        Ok(mut farm) => {
            match farm.master_key() {
                Ok(_) => findings.push(ok(
                    "master-key",
                    format!("{} opens this farm's secrets", key.display()),
                )),
                Err(e) => findings.push(fail(
                    "master-key",
                    e.to_string(),
                    "restore this farm's key file from backup, or set MAILCERT_MASTER_KEY_FILE to it",
                )),
            }
            let mut targets = vec![Target::Farm];
            for (w, _) in mailcert_binding::list_webapps(&mut farm, now)? {
                targets.push(Target::WebApp(mailcert_binding::WebAppUrl::parse(&w.url)?));
            }
            let mut checked = 0;
            for t in targets {
                let e = match mailcert_binding::effective(&mut farm, &t, now) {
                    Ok(e) => e,
                    Err(mailcert_binding::Error::NoSettings { .. }) => continue,
                    Err(e) => return Err(e.into()),
                };
                checked += 1;
                if e.problems.is_empty() {
                    continue;
                }
                let flag = match &t {
                    Target::Farm => "--farm".to_string(),
                    Target::WebApp(u) => format!("--webapp {u}"),
                };
                findings.push(fail(
                    "binding",
                    format!("{}: {}", t.label(), e.problems.join("; ")),
                    format!(
                        "bind an eligible certificate: mailcert smtp set {flag} --certificate REF (mailcert cert list --eligible), or renew: mailcert cert renew"
                    ),
                ));
            }
            if !findings.iter().any(|f| f.check == "binding") {
                findings.push(ok(
                    "binding",
                    format!("{checked} outgoing e-mail setting(s), every binding healthy"),
                ));
            }
        }
    }
    findings.push(spool(&context::spool_path(g.spool.clone())?));
    findings.push(relay_port(relay_listen));
    findings.push(trust_store());
    let failed = findings.iter().filter(|f| !f.ok).count();
    if g.json {
        outln!(
            "{}",
            serde_json::json!({ "healthy": failed == 0, "checks": findings })
        );
    } else {
        for f in &findings {
            outln!(
                "{:<4}  {:<12}  {}",
                if f.ok { "ok" } else { "FAIL" },
                f.check,
                f.detail
            );
            if let Some(fix) = &f.fix {
                outln!("      {:<12}  fix: {fix}", "");
            }
        }
        if failed > 0 {
            outln!("{failed} check(s) failed");
        }
    }
    Ok(if failed == 0 {
        exit::OK
    } else {
        exit::REJECTED
    })
}
