//! `mailcert cert ...`: import, list, show, check, export, remove, move, rename.

use crate::color::{Stream, Style};
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use mailcert_store::{
    CertFilter, CertRecord, ExportRequest, Farm, ImportOptions, ImportReport, Input, Outcome,
    PfxEncryption,
};
use zeroize::Zeroizing;

use super::Globals;
use crate::args::{CertCommand, PasswordSource, PfxEnc};
use crate::{Exit, context, exit, output, secrets};

pub(crate) fn run(g: &Globals, cmd: CertCommand) -> Result<u8> {
    let mut farm = context::open(g)?;
    let now = context::now()?;
    match cmd {
        CertCommand::Import {
            files,
            store,
            password,
            key,
            friendly_name,
            exportable,
            replace,
            no_chain_trust,
        } => {
            if key.is_some() && files.len() > 1 {
                return Err(Exit {
                    code: exit::USAGE,
                    message: "--key belongs to one certificate file; import the others separately"
                        .into(),
                }
                .into());
            }
            if friendly_name.is_some() && files.len() > 1 {
                return Err(Exit {
                    code: exit::USAGE,
                    message: "--friendly-name names one certificate; import the others separately"
                        .into(),
                }
                .into());
            }
            let opts = ImportOptions {
                store,
                friendly_name,
                exportable,
                replace,
                no_chain_trust,
            };
            import(g, &mut farm, &files, key.as_deref(), &password, &opts, now)
        }
        CertCommand::List {
            store,
            eligible,
            expiring_within,
            expired,
            in_use,
            wide,
        } => {
            let filter = CertFilter {
                store,
                eligible,
                expiring_within: expiring_within.map(|d| i64::from(d) * 86_400),
                expired,
                in_use,
            };
            list(g, &mut farm, &filter, now, wide)
        }
        CertCommand::Show { reference } => show(g, &mut farm, &reference, now),
        CertCommand::Check {
            reference,
            tls_sender_name,
        } => check(g, &mut farm, &reference, tls_sender_name.as_deref(), now),
        CertCommand::Export {
            reference,
            format,
            out,
            include_chain,
            password,
            pfx_encryption,
            no_key,
            force,
        } => {
            if g.json && out == Path::new("-") {
                return Err(Exit {
                    code: exit::USAGE,
                    message: "--json and --out - both want standard output; give --out FILE".into(),
                }
                .into());
            }
            let cert = farm.read(|tx| tx.resolve(&reference))?;
            let pw = if format == mailcert_store::ExportFormat::Pfx {
                match secrets::from_source(&password)? {
                    Some(p) => Some(p),
                    None if secrets::can_prompt() => {
                        let a = secrets::prompt("Password for the PFX file: ")?;
                        let b = secrets::prompt("Repeat the password: ")?;
                        if *a != *b {
                            return Err(Exit {
                                code: exit::ERROR,
                                message: "the passwords differ; nothing was written".into(),
                            }
                            .into());
                        }
                        Some(a)
                    }
                    None => None,
                }
            } else {
                None
            };
            if format == mailcert_store::ExportFormat::Pfx && pw.is_none() {
                return Err(Exit {
                    code: exit::USAGE,
                    message: "a PFX export needs a password to protect the private key: give --password-file FILE (- for standard input) or --password-env VAR".into(),
                }
                .into());
            }
            let req = ExportRequest {
                format,
                include_chain,
                password: pw.as_deref().map(|s| s.as_str()),
                pfx_encryption: match pfx_encryption {
                    PfxEnc::Aes256 => PfxEncryption::Aes256,
                    PfxEnc::TripleDes => PfxEncryption::TripleDes,
                },
                include_key: !no_key,
            };
            let exported = mailcert_store::export(&mut farm, &cert, &req)?;
            let dest = Destination { path: &out, force };
            write_out(&dest, &exported.bytes, exported.carries_key)?;
            if dest.is_stdout() {
                // The data is the output; the note goes to stderr.
                if !g.quiet {
                    errln!(
                        "wrote {} to standard output{}",
                        cert.display_name(),
                        if exported.carries_key {
                            ", with its private key"
                        } else {
                            ""
                        }
                    );
                }
            } else if g.json {
                outln!(
                    "{}",
                    serde_json::json!({
                        "thumbprint_sha1": cert.facts.thumbprint_sha1,
                        "out": out.display().to_string(),
                        "carries_private_key": exported.carries_key,
                        "bytes": exported.bytes.len(),
                    })
                );
            } else if !g.quiet {
                outln!(
                    "wrote {} ({}{})",
                    out.display(),
                    cert.display_name(),
                    if exported.carries_key {
                        ", with its private key; file mode 0600"
                    } else {
                        ", certificate only"
                    }
                );
                if !exported.carries_key
                    && !no_key
                    && cert.has_private_key
                    && !cert.exportable
                    && matches!(format, mailcert_store::ExportFormat::Pem)
                {
                    errln!(
                        "note: the private key was not imported --exportable, so it was left out"
                    );
                }
            }
            Ok(exit::OK)
        }
        CertCommand::Remove { reference, force } => {
            let c =
                mailcert_store::remove(&mut farm, &reference, force, now).map_err(force_hint)?;
            report_change(g, &c.record, "removed", &c.cleared)?;
            Ok(exit::OK)
        }
        CertCommand::Move {
            reference,
            to,
            force,
        } => {
            let c = mailcert_store::move_to(&mut farm, &reference, to, force, now)
                .map_err(force_hint)?;
            report_change(g, &c.record, &format!("moved to {to}"), &c.cleared)?;
            Ok(exit::OK)
        }
        CertCommand::Switch { old_ref, new_ref } => {
            let (old, new, moved) = mailcert_store::switch(&mut farm, &old_ref, &new_ref, now)?;
            if g.json {
                outln!(
                    "{}",
                    serde_json::json!({
                        "from": old.facts.thumbprint_sha1,
                        "to": new.facts.thumbprint_sha1,
                        "moved": moved,
                    })
                );
            } else if !g.quiet {
                if moved.is_empty() {
                    outln!(
                        "{} was bound to nothing; nothing moved",
                        old.facts.describe()
                    );
                } else {
                    outln!(
                        "moved {} binding(s) from {} to {}: {}",
                        moved.len(),
                        old.facts.describe(),
                        new.facts.describe(),
                        moved.join(", ")
                    );
                }
            }
            Ok(exit::OK)
        }
        CertCommand::Request(c) => super::lifecycle::request(g, &mut farm, c, now),
        CertCommand::Renew {
            reference,
            out,
            force,
            same_key,
        } => super::lifecycle::renew(
            g,
            &mut farm,
            &reference,
            out.as_deref(),
            force,
            same_key,
            now,
        ),
        CertCommand::Rename {
            reference,
            new_friendly_name,
        } => {
            let before = farm.read(|tx| tx.resolve(&reference))?;
            let c = mailcert_store::rename(
                &mut farm,
                &before.facts.thumbprint_sha1,
                &new_friendly_name,
                now,
            )?;
            if g.json {
                report_change(g, &c, "renamed", &[])?;
            } else if !g.quiet {
                outln!(
                    "{} renamed: '{}' -> '{}'",
                    c.facts.thumbprint_sha1,
                    before.friendly_name.as_deref().unwrap_or(""),
                    c.friendly_name.as_deref().unwrap_or("")
                );
            }
            warn_duplicate_name(&mut farm, c.friendly_name.as_deref())?;
            Ok(exit::OK)
        }
    }
}

/// Says so when more than one certificate now has this friendly name (`name:` would be
/// ambiguous).
fn warn_duplicate_name(farm: &mut Farm, name: Option<&str>) -> Result<()> {
    let Some(name) = name else { return Ok(()) };
    if let Err(mailcert_store::Error::Ambiguous { candidates, .. }) =
        farm.read(|tx| tx.resolve(&format!("name:{name}")))
    {
        warnln!(
            "{} certificates are named '{name}', so name:{name} is ambiguous; refer to them by thumbprint or rename one: {}",
            candidates.len(),
            candidates.join(", ")
        );
    }
    Ok(())
}

/// Points at --force, after the error, when a bound certificate blocked the change.
fn force_hint(e: mailcert_store::Error) -> anyhow::Error {
    if let mailcert_store::Error::Rejected { rule: "bound", .. } = e {
        crate::Hinted {
            error: e.into(),
            hint: "--force clears the bindings in the same transaction".into(),
        }
        .into()
    } else {
        e.into()
    }
}

fn report_change(g: &Globals, c: &CertRecord, what: &str, cleared: &[String]) -> Result<()> {
    if g.json {
        outln!(
            "{}",
            serde_json::json!({
                "thumbprint_sha1": c.facts.thumbprint_sha1,
                "store": c.store.as_str(),
                "friendly_name": c.friendly_name,
                "done": what,
                "cleared_bindings": cleared,
            })
        );
    } else if !g.quiet {
        outln!("{} {}: {what}", c.facts.thumbprint_sha1, c.display_name());
        if !cleared.is_empty() {
            outln!("  bindings cleared: {}", cleared.join(", "));
        }
    }
    Ok(())
}

/// Every binding, by certificate SHA-1: the contract's `bound_to`.
pub(crate) fn bound_map(farm: &mut Farm) -> Result<HashMap<String, Vec<String>>> {
    Ok(farm.read(|tx| tx.bound_by_certificate())?)
}

fn bound_of(map: &HashMap<String, Vec<String>>, c: &CertRecord) -> Vec<String> {
    map.get(&c.facts.thumbprint_sha1)
        .cloned()
        .unwrap_or_default()
}

/// Where an export or request goes, and whether an existing file may be replaced.
pub(crate) struct Destination<'a> {
    /// The file, or `-` for standard output.
    pub(crate) path: &'a Path,
    /// Replace an existing file.
    pub(crate) force: bool,
}

impl Destination<'_> {
    /// Whether this is standard output (`-`).
    pub(crate) fn is_stdout(&self) -> bool {
        self.path == Path::new("-")
    }
}

/// Writes an export: to standard output for `-` (binary formats not to a terminal), else
/// to the file, 0600 when it carries a key, via a temporary file moved into place so
/// that a failure leaves no half-written file. An existing file is replaced only with
/// `force` (the move is then a rename; without it a link that fails if the name exists,
/// so that nothing is overwritten even in a race).
pub(crate) fn write_out(dest: &Destination<'_>, bytes: &[u8], secret: bool) -> Result<()> {
    let path = dest.path;
    if dest.is_stdout() {
        use std::io::IsTerminal;
        let text = std::str::from_utf8(bytes).is_ok();
        if !text && std::io::stdout().is_terminal() {
            return Err(Exit {
                code: exit::USAGE,
                message: "refusing to write a binary file to the terminal: redirect standard output, or give --out FILE".into(),
            }
            .into());
        }
        let mut out = std::io::stdout().lock();
        return match out.write_all(bytes).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other.context("writing to standard output"),
        };
    }
    if !dest.force && std::fs::symlink_metadata(path).is_ok() {
        return Err(Exit {
            code: exit::ERROR,
            message: format!(
                "{}: the file exists; nothing was written (--force replaces it)",
                path.display()
            ),
        }
        .into());
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.mailcert-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if secret { 0o600 } else { 0o644 })
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        if dest.force {
            std::fs::rename(&tmp, path)
        } else {
            std::fs::hard_link(&tmp, path)?;
            std::fs::remove_file(&tmp)
        }
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Exit {
                code: exit::ERROR,
                message: format!(
                    "{}: the file exists; nothing was written (--force replaces it)",
                    path.display()
                ),
            }
            .into()
        } else {
            anyhow::anyhow!("{}: cannot write: {e}", path.display())
        }
    })
}

fn read_input(path: &Path) -> Result<Vec<u8>> {
    crate::input::file(path, crate::input::Kind::Certificate)
}

/// The key file beside a certificate file: the same name with `.key` (`x.pem` ->
/// `x.key`), when it is a regular file and not the file itself. It is used only when it
/// is imported in the same command, for a certificate that is not a CA and arrives
/// without a key of its own.
fn sibling_key(file: &Path) -> Option<std::path::PathBuf> {
    if file.extension().is_some_and(|e| e == "key") {
        return None;
    }
    let k = file.with_extension("key");
    std::fs::metadata(&k)
        .is_ok_and(|m| m.is_file())
        .then_some(k)
}

fn import_one(
    farm: &mut Farm,
    file: &Path,
    key: Option<&Path>,
    listed: &[std::path::PathBuf],
    password: &mut Option<Zeroizing<String>>,
    opts: &ImportOptions,
    now: i64,
) -> Result<(ImportReport, Option<std::path::PathBuf>)> {
    // A certificate without a key of its own takes the key file beside it when that
    // file is imported in the same command (`cert import certs/*`).
    let sibling = key
        .is_none()
        .then(|| sibling_key(file))
        .flatten()
        .filter(|k| listed.contains(k));
    if let Some(sibling) = sibling {
        let alone = parse_file(file, None, password)?;
        // A CA certificate's key stays out of the farm (it signs certificates, it does
        // not authenticate mail), and with it the CA stays in Intermediate/Root.
        let is_ca = mailcert_store::cert_facts(file, &alone.leaf)?.is_ca;
        if alone.key.is_none() && !is_ca {
            match parse_file(file, Some(&sibling), password) {
                Ok(bundle) => {
                    let report = mailcert_store::import_bundle(farm, file, bundle, opts, now)?;
                    return Ok((report, Some(sibling)));
                }
                Err(e) => warnln!(
                    "{}: the key file beside it was not used: {e:#}",
                    file.display()
                ),
            }
        }
        let report = mailcert_store::import_bundle(farm, file, alone, opts, now)?;
        return Ok((report, None));
    }
    let bundle = parse_file(file, key, password)?;
    Ok((
        mailcert_store::import_bundle(farm, file, bundle, opts, now)?,
        None,
    ))
}

/// Reads and parses a certificate file (and key file), asking for a password on a
/// terminal when the file needs one and none was given.
fn parse_file(
    file: &Path,
    key: Option<&Path>,
    password: &mut Option<Zeroizing<String>>,
) -> Result<mailcert_store::Bundle> {
    let bytes = read_input(file)?;
    let key_bytes = match key {
        Some(k) => Some(read_input(k)?),
        None => None,
    };
    let parse = |pw: Option<&str>| {
        mailcert_store::parse_bundle(
            Input {
                path: file,
                bytes: &bytes,
            },
            match (key, &key_bytes) {
                (Some(path), Some(b)) => Some(Input { path, bytes: b }),
                _ => None,
            },
            pw,
        )
    };
    let bundle = match parse(password.as_deref().map(|s| s.as_str())) {
        Err(mailcert_store::Error::PasswordRequired { .. }) if secrets::can_prompt() => {
            let p = secrets::prompt(&format!("Password for {}: ", file.display()))?;
            let b = parse(Some(&p))?;
            *password = Some(p);
            b
        }
        other => other?,
    };
    Ok(bundle)
}

fn import(
    g: &Globals,
    farm: &mut Farm,
    files: &[std::path::PathBuf],
    key: Option<&Path>,
    password: &PasswordSource,
    opts: &ImportOptions,
    now: i64,
) -> Result<u8> {
    let mut pw = secrets::from_source(password)?;
    let mut bound = bound_map(farm)?;
    let mut failed = 0usize;
    let mut worst: Option<u8> = None;
    let mut json_items = Vec::new();
    // Key files whose certificate is imported in this same command are paired with it,
    // not imported on their own.
    let paired_keys: Vec<std::path::PathBuf> = if key.is_none() {
        files
            .iter()
            .filter_map(|f| sibling_key(f))
            .filter(|k| files.contains(k))
            .collect()
    } else {
        Vec::new()
    };
    for file in files {
        if paired_keys.iter().any(|k| k == file) {
            if !g.quiet && !g.json {
                outln!(
                    "{}: a key file beside a certificate file of this import; not imported on its own",
                    file.display()
                );
            }
            continue;
        }
        match import_one(farm, file, key, files, &mut pw, opts, now) {
            Ok((report, sibling)) => {
                if report.leaf.outcome == Outcome::Added {
                    warn_duplicate_name(farm, report.leaf.record.friendly_name.as_deref())?;
                }
                for (old, moved) in &report.replaced {
                    bound.remove(&old.facts.thumbprint_sha1);
                    bound.insert(
                        report.leaf.record.facts.thumbprint_sha1.clone(),
                        moved.clone(),
                    );
                }
                if g.json {
                    let chain: Vec<_> = report
                        .chain
                        .iter()
                        .map(|c| {
                            serde_json::json!({
                                "outcome": c.outcome,
                                "certificate": output::cert_json(&c.record, now, vec![]),
                            })
                        })
                        .collect();
                    let replaced: Vec<_> = report
                        .replaced
                        .iter()
                        .map(|(old, moved)| {
                            serde_json::json!({
                                "thumbprint_sha1": old.facts.thumbprint_sha1,
                                "bindings_moved": moved,
                            })
                        })
                        .collect();
                    json_items.push(serde_json::json!({
                        "file": file.display().to_string(),
                        "key_file": sibling.as_ref().map(|k| k.display().to_string()),
                        "ok": true,
                        "outcome": report.leaf.outcome,
                        "certificate": output::cert_json(&report.leaf.record, now, bound_of(&bound, &report.leaf.record)),
                        "chain": chain,
                        "replaced": replaced,
                        "request": report.request.as_ref().map(|r| r.key_id.clone()),
                    }));
                } else if !g.quiet {
                    let r = &report.leaf.record;
                    let findings = r.findings(now);
                    let verdict = if findings.is_empty() {
                        "eligible for client authentication".to_string()
                    } else {
                        let reasons: Vec<String> = findings.iter().map(|f| f.message()).collect();
                        format!("NOT eligible: {}", reasons.join("; "))
                    };
                    outln!(
                        "{}: {} {} [{}] {} ({verdict})",
                        file.display(),
                        report.leaf.outcome.describe(),
                        r.display_name(),
                        r.store,
                        r.facts.thumbprint_sha1,
                    );
                    if let Some(k) = &sibling {
                        outln!(
                            "  private key from {} (the key file beside it)",
                            k.display()
                        );
                    }
                    if let Some(req) = &report.request {
                        outln!(
                            "  paired with pending request {} (its sealed key){}",
                            req.key_id,
                            if req.exportable { ", exportable" } else { "" }
                        );
                    }
                    for (old, moved) in &report.replaced {
                        outln!(
                            "  renews {}: took over its bindings: {}",
                            old.facts.describe(),
                            moved.join(", ")
                        );
                    }
                    for c in &report.chain {
                        outln!(
                            "  chain: {} {} [{}] {}",
                            c.outcome.describe(),
                            c.record.display_name(),
                            c.record.store,
                            c.record.facts.thumbprint_sha1
                        );
                        if c.outcome == Outcome::Added
                            && c.record.store == mailcert_store::StoreName::Root
                        {
                            outln!(
                                "  note: {} is now a trust anchor: relays whose server certificate chains to it are trusted (--no-chain-trust keeps such a CA in Pending)",
                                c.record.display_name()
                            );
                        }
                    }
                }
            }
            Err(e) => {
                failed += 1;
                let code = crate::exit_code(&e);
                worst = match worst {
                    None => Some(code),
                    Some(w) if w == code => Some(w),
                    Some(_) => Some(exit::ERROR),
                };
                failln!("{e:#}");
                if let Some(hint) = crate::hint_for(&e) {
                    errln!("hint: {hint}");
                }
                if g.json {
                    json_items.push(serde_json::json!({
                        "file": file.display().to_string(),
                        "ok": false,
                        "error": format!("{e:#}"),
                    }));
                }
            }
        }
    }
    if g.json {
        outln!("{}", serde_json::Value::Array(json_items));
    }
    if failed > 0 {
        if !g.quiet && files.len() > 1 {
            errln!(
                "mailcert: {failed} of {} files failed; the others were imported",
                files.len()
            );
        }
        return Ok(worst.unwrap_or(exit::ERROR));
    }
    Ok(exit::OK)
}

/// Pending renewal requests by the SHA-1 of the certificate they renew.
fn renewals(farm: &mut Farm) -> Result<HashMap<String, String>> {
    Ok(farm.read(|tx| tx.pending_renewals())?)
}

fn list(g: &Globals, farm: &mut Farm, filter: &CertFilter, now: i64, wide: bool) -> Result<u8> {
    let bound = bound_map(farm)?;
    let renewals = renewals(farm)?;
    let flags = |c: &mailcert_store::CertRecord| output::RowFlags {
        bound: !bound_of(&bound, c).is_empty(),
        renewal_pending: renewals.contains_key(&c.facts.thumbprint_sha1),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    if wide && !g.json {
        // The NAME column as wide as the longest name: every row is read first.
        let mut rows = Vec::new();
        farm.read(|tx| {
            tx.list_each(filter, now, |c| {
                rows.push(c);
                Ok(())
            })
        })?;
        let width = rows
            .iter()
            .map(|c| output::shown_name(c).chars().count())
            .max()
            .unwrap_or(0)
            .max(output::NAME_WIDTH);
        let mut text = format!("{}\n", output::table_header(width));
        for c in &rows {
            text.push_str(&output::table_row(c, now, flags(c), width, true));
            text.push('\n');
        }
        if rows.is_empty() && !g.quiet {
            text.push_str("(no certificates match)\n");
        }
        crate::out::stdout_escaped(&text)?;
        return Ok(exit::OK);
    }
    let mut first = true;
    let mut count = 0usize;
    if g.json {
        out.write_all(b"[")?;
    } else {
        writeln!(out, "{}", output::table_header(output::NAME_WIDTH))?;
    }
    let result = farm.read(|tx| {
        tx.list_each(filter, now, |c| {
            count += 1;
            let written = if g.json {
                let sep: &[u8] = if first { b"\n" } else { b",\n" };
                let renewal = renewals.get(&c.facts.thumbprint_sha1).cloned();
                serde_json::to_string(
                    &output::cert_json(&c, now, bound_of(&bound, &c)).with_renewal(renewal),
                )
                .map_err(std::io::Error::other)
                .and_then(|item| {
                    out.write_all(sep)?;
                    out.write_all(crate::out::sanitize(&item).as_bytes())
                })
            } else {
                // table_row escapes what it shows.
                let row = output::table_row(&c, now, flags(&c), output::NAME_WIDTH, false);
                writeln!(out, "{row}")
            };
            first = false;
            written.map_err(|e| mailcert_store::Error::Io {
                path: "<stdout>".into(),
                source: e,
            })
        })
    });
    match result {
        Err(mailcert_store::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            return Ok(exit::OK);
        }
        other => other?,
    }
    if g.json {
        out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
    } else if count == 0 && !g.quiet {
        writeln!(out, "(no certificates match)")?;
    }
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(exit::OK),
        other => other
            .map(|_| exit::OK)
            .context("writing to standard output"),
    }
}

fn show(g: &Globals, farm: &mut Farm, reference: &str, now: i64) -> Result<u8> {
    let (c, chain) = farm.read(|tx| {
        let c = tx.resolve(reference)?;
        let chain = mailcert_store::issuers(tx, &c, true)?;
        Ok::<_, mailcert_store::Error>((c, chain))
    })?;
    let bound = bound_of(&bound_map(farm)?, &c);
    let renewal = renewals(farm)?.remove(&c.facts.thumbprint_sha1);
    if g.json {
        let mut v = serde_json::to_value(
            output::cert_json(&c, now, bound.clone()).with_renewal(renewal.clone()),
        )?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert(
                "chain".into(),
                chain
                    .iter()
                    .map(|x| serde_json::json!({"thumbprint_sha1": x.facts.thumbprint_sha1, "subject": x.facts.subject, "store": x.store.as_str()}))
                    .collect(),
            );
        }
        outln!("{v}");
    } else {
        out!("{}", output::details(&c, now, &chain, &bound));
        if let Some(key_id) = renewal {
            outln!(
                "{:<20} pending (request {key_id}: mailcert cert request show {key_id})",
                "Renewal:"
            );
        }
    }
    Ok(exit::OK)
}

fn check(
    g: &Globals,
    farm: &mut Farm,
    reference: &str,
    tls_sender_name: Option<&str>,
    now: i64,
) -> Result<u8> {
    let c = farm.read(|tx| tx.resolve(reference))?;
    let findings = c.findings(now);
    let connector =
        tls_sender_name.and_then(|n| mailcert_store::check_tls_sender_name(&c.facts, n));
    let bound = bound_of(&bound_map(farm)?, &c);
    if g.json {
        let mut v = serde_json::to_value(output::cert_json(&c, now, bound))?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("findings".into(), serde_json::to_value(&findings)?);
            if let Some(n) = tls_sender_name {
                obj.insert(
                    "tls_sender_name".into(),
                    serde_json::json!({
                        "name": n,
                        "dns_names": mailcert_store::dns_names(&c.facts),
                        "matches": connector.is_none(),
                    }),
                );
                if let (Some(why), Some(reasons)) = (
                    &connector,
                    obj.get_mut("reasons").and_then(|r| r.as_array_mut()),
                ) {
                    reasons.push(why.clone().into());
                }
                if connector.is_some() {
                    obj.insert("eligible".into(), false.into());
                }
            }
        }
        outln!("{v}");
    } else {
        let ok = findings.is_empty() && connector.is_none();
        let head = format!("{} ({}): ", c.display_name(), c.facts.thumbprint_sha1);
        let verdict = if ok {
            (Some(Style::Good), "eligible")
        } else {
            (Some(Style::Bad), "NOT eligible")
        };
        crate::out::stdout_escaped(&crate::out::render(
            Stream::Stdout,
            &[
                (None, &head),
                verdict,
                (None, " for SMTP client authentication\n"),
            ],
        ))?;
        for f in &findings {
            outln!("  - {}", f.message());
        }
        if let Some(why) = &connector {
            outln!("  - {why}");
        }
    }
    if let (Some(n), None, false) = (tls_sender_name, &connector, g.json) {
        outln!("  connector name '{n}' matches (tls-sender-name)");
    }
    Ok(if findings.is_empty() && connector.is_none() {
        exit::OK
    } else {
        exit::REJECTED
    })
}
