//! The farm as a whole: `init --join` and `server list` (the servers that share it),
//! and `farm copy` (the farm into another database).

use anyhow::Result;
use mailcert_store::Farm;

use super::Globals;
use crate::args::{FarmCommand, ServerCommand};
use crate::{context, exit};

/// `mailcert init --join`: this server's master key must open the farm's key check;
/// then the server is registered (a wrong key writes nothing).
pub(crate) fn join(g: &Globals) -> Result<u8> {
    let db = context::db_path(g.db.clone())?;
    let key = context::key_path(&db);
    let name = context::server_name(g.server.as_deref());
    Farm::join(&db, &key, &name, context::now()?)?;
    if g.json {
        outln!(
            "{}",
            serde_json::json!({
                "joined": true,
                "db": db.to_string(),
                "server": name,
                "master_key_file": key.display().to_string(),
            })
        );
    } else if !g.quiet {
        outln!(
            "server {name} joined farm {db} (master key {})",
            key.display()
        );
    }
    Ok(exit::OK)
}

/// `mailcert farm ...`.
pub(crate) fn run(g: &Globals, cmd: FarmCommand) -> Result<u8> {
    match cmd {
        FarmCommand::Copy { to } => copy(g, to),
    }
}

fn copy(g: &Globals, to: std::path::PathBuf) -> Result<u8> {
    let mut source = context::open(g)?;
    // The destination is named on the command line: the same password rule as --db.
    let dest_db = context::db_path(Some(to)).map_err(|e| match e.downcast::<crate::Exit>() {
        Ok(mut refused) => {
            refused.message = refused.message.replacen("--db", "--to", 1);
            anyhow::Error::from(refused)
        }
        Err(other) => other,
    })?;
    let key = context::key_path(source.location());
    let report = source.copy_into(dest_db.clone(), &key)?;
    if g.json {
        outln!(
            "{}",
            serde_json::json!({
                "from": source.location().to_string(),
                "to": dest_db.to_string(),
                "tables": report.tables,
                "certificates_verified": report.certificates_verified,
                "master_key_file": key.display().to_string(),
            })
        );
    } else if !g.quiet {
        let rows: u64 = report.tables.values().sum();
        outln!(
            "copied farm {} to {dest_db}: {rows} rows in {} tables; verified {} certificates (thumbprints and sealed keys)",
            source.location(),
            report.tables.len(),
            report.certificates_verified
        );
        outln!(
            "the copy opens with the same master key: {} (give each server of the new farm a copy, mode 0600)",
            key.display()
        );
    }
    Ok(exit::OK)
}

/// `mailcert server ...`.
pub(crate) fn servers(g: &Globals, cmd: ServerCommand) -> Result<u8> {
    match cmd {
        ServerCommand::List => list(g),
    }
}

fn list(g: &Globals) -> Result<u8> {
    let mut farm = context::open(g)?;
    let servers = farm.read(|tx| tx.servers())?;
    let me = context::server_name(g.server.as_deref());
    if g.json {
        let items: Vec<serde_json::Value> = servers
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name,
                    "first_seen": mailcert_store::rfc3339(s.first_seen),
                    "last_seen": mailcert_store::rfc3339(s.last_seen),
                    "this_server": s.name == me,
                })
            })
            .collect();
        outln!("{}", serde_json::Value::Array(items));
        return Ok(exit::OK);
    }
    let width = servers
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    let mut text = format!(
        "{:<width$}  {:<20}  {:<20}\n",
        "SERVER", "FIRST SEEN", "LAST SEEN"
    );
    for s in &servers {
        let mark = if s.name == me { "  (this server)" } else { "" };
        text.push_str(&format!(
            "{:<width$}  {:<20}  {:<20}{mark}\n",
            s.name,
            mailcert_store::rfc3339(s.first_seen),
            mailcert_store::rfc3339(s.last_seen),
        ));
    }
    if servers.is_empty() && !g.quiet {
        text.push_str("(no server has joined this farm)\n");
    }
    crate::out::stdout_escaped(&text)?;
    Ok(exit::OK)
}
