//! `mailcert queue`: this server's spool, for people and for timers.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Result;
use mailcert_relay::{Entry, ForwardConfig, Spool, Worker};
use mailcert_store::rfc3339;

use super::Globals;
use crate::args::QueueCommand;
use crate::{Exit, context, exit};

fn open(g: &Globals) -> Result<Spool> {
    let path = context::spool_path(g.spool.clone())?;
    Spool::open(&path).map_err(anyhow::Error::from)
}

fn entry_json(e: &Entry) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "state": e.state.as_str(),
        "webapp": e.webapp,
        "from": e.from,
        "recipients": e.recipients,
        "size": e.size,
        "attempts": e.attempts,
        "next_attempt": rfc3339(e.next_attempt),
        "last_reply": e.last_reply,
        "queued_at": rfc3339(e.queued_at),
        "notification": e.is_dsn,
    })
}

/// Runs every due message once through a worker of this process.
fn run_once(g: &Globals) -> Result<u8> {
    let db = context::db_path(g.db.clone())?;
    let key = context::key_path(&db);
    let config = ForwardConfig {
        spool: context::spool_path(g.spool.clone())?,
        farm: (db, key),
        hostname: mailcert_binding::host_name(),
        timeout: Duration::from_secs(60),
        retry: mailcert_relay::Retry::default(),
        max_queue_lifetime: mailcert_relay::DEFAULT_MAX_QUEUE_LIFETIME,
        idle_upstream: Duration::from_secs(5),
        server: g.server.clone(),
        clock: context::clock,
    };
    let metrics = Arc::new(mailcert_relay::Metrics::default());
    let stopping = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        let _ = signal_hook::flag::register(signal, stopping.clone());
    }
    let mut worker = Worker::new(config, "queue-run", metrics).map_err(anyhow::Error::from)?;
    let report = worker.run_once(&stopping).map_err(anyhow::Error::from)?;
    if g.json {
        outln!("{}", serde_json::to_value(report)?);
    } else if !g.quiet {
        outln!(
            "delivered {}, deferred {}, failed {}",
            report.delivered,
            report.deferred,
            report.failed
        );
    }
    Ok(exit::OK)
}

pub(crate) fn run(g: &Globals, cmd: QueueCommand) -> Result<u8> {
    context::now()?;
    match cmd {
        QueueCommand::List => {
            let entries = open(g)?.list().map_err(anyhow::Error::from)?;
            if g.json {
                let v: Vec<serde_json::Value> = entries.iter().map(entry_json).collect();
                outln!("{}", serde_json::Value::Array(v));
                return Ok(exit::OK);
            }
            outln!(
                "{:<16}  {:<8}  {:>8}  {:>3}  {:<20}  {:<28}  RECIPIENTS / LAST REPLY",
                "ID",
                "STATE",
                "SIZE",
                "TRY",
                "QUEUED",
                "FROM"
            );
            for e in &entries {
                outln!(
                    "{:<16}  {:<8}  {:>8}  {:>3}  {:<20}  {:<28}  {}",
                    e.id,
                    e.state.as_str(),
                    e.size,
                    e.attempts,
                    rfc3339(e.queued_at),
                    if e.from.is_empty() { "<>" } else { &e.from },
                    e.recipients.join(", ")
                );
                if let Some(r) = &e.last_reply {
                    outln!("{:>92}{r}", "");
                }
            }
            if entries.is_empty() && !g.quiet {
                outln!("(the queue is empty)");
            }
            Ok(exit::OK)
        }
        QueueCommand::Show { id } => {
            let Some(m) = open(g)?.get(&id).map_err(anyhow::Error::from)? else {
                return Err(Exit {
                    code: exit::NOT_FOUND,
                    message: format!("no queued message has the id {id}"),
                }
                .into());
            };
            let text = String::from_utf8_lossy(&m.data);
            let headers = text
                .split("\r\n\r\n")
                .next()
                .unwrap_or_default()
                .to_string();
            if g.json {
                let mut v = entry_json(&m.entry);
                if let Some(o) = v.as_object_mut() {
                    o.insert("headers".into(), serde_json::Value::String(headers));
                }
                outln!("{v}");
            } else {
                let e = &m.entry;
                outln!("Queue id:      {}", e.id);
                outln!("State:         {}", e.state.as_str());
                outln!("Settings:      {}", e.webapp.as_deref().unwrap_or("farm"));
                outln!("From:          <{}>", e.from);
                outln!("Recipients:    {}", e.recipients.join(", "));
                outln!("Size:          {} bytes", e.size);
                outln!("Queued at:     {}", rfc3339(e.queued_at));
                outln!("Attempts:      {}", e.attempts);
                outln!("Next attempt:  {}", rfc3339(e.next_attempt));
                outln!(
                    "Last reply:    {}",
                    e.last_reply.as_deref().unwrap_or("(none)")
                );
                outln!("\n{}", headers.replace("\r\n", "\n"));
            }
            Ok(exit::OK)
        }
        QueueCommand::Run => run_once(g),
        QueueCommand::Flush => {
            let n = open(g)?
                .flush(context::now()?)
                .map_err(anyhow::Error::from)?;
            if !g.quiet && !g.json {
                outln!("{n} deferred message(s) made due now");
            }
            run_once(g)
        }
        QueueCommand::Delete { ids, failed, all } => {
            let mut spool = open(g)?;
            let n = if all || failed {
                spool
                    .delete_all(failed && !all)
                    .map_err(anyhow::Error::from)?
            } else {
                spool.delete(&ids).map_err(anyhow::Error::from)?
            };
            if g.json {
                outln!("{}", serde_json::json!({"deleted": n}));
            } else if !g.quiet {
                outln!("deleted {n} message(s)");
            }
            if n == 0 && !ids.is_empty() {
                return Err(Exit {
                    code: exit::NOT_FOUND,
                    message: format!("no queued message has the id {}", ids.join(", ")),
                }
                .into());
            }
            Ok(exit::OK)
        }
    }
}
