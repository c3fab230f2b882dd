//! One module per command group; `run` dispatches.

mod admin;
mod audit;
mod cert;
mod demo;
mod docs;
mod doctor;
mod farm;
mod lifecycle;
mod queue;
mod relay;
pub(crate) mod send;
mod smtp;
mod webapp;

use anyhow::Result;
use mailcert_store::{Farm, FarmDb, InitOutcome};

use crate::args::{Cli, Command};
use crate::context;
use crate::exit;

/// Global options every command sees.
pub(crate) struct Globals {
    pub(crate) db: Option<std::path::PathBuf>,
    pub(crate) server: Option<String>,
    pub(crate) spool: Option<std::path::PathBuf>,
    pub(crate) verbose: u8,
    pub(crate) json: bool,
    pub(crate) quiet: bool,
}

/// Runs the parsed command and returns its exit code.
pub(crate) fn run(cli: Cli) -> Result<u8> {
    let g = Globals {
        db: cli.db,
        server: cli.server,
        spool: cli.spool,
        verbose: cli.verbose,
        json: cli.json,
        quiet: cli.quiet,
    };
    match cli.command {
        Command::Init { join: false } => init(&g),
        Command::Init { join: true } => farm::join(&g),
        Command::Server(c) => farm::servers(&g, c),
        Command::Farm(c) => farm::run(&g, c),
        Command::Cert(c) => cert::run(&g, c),
        Command::Webapp(c) => webapp::run(&g, c),
        Command::Smtp(c) => smtp::run(&g, c),
        Command::Admin(c) => admin::run(&g, c),
        Command::Settings(c) => lifecycle::settings(&g, c),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man => docs::man(),
        Command::Doctor { relay_listen } => doctor::run(&g, relay_listen),
        Command::Health { notify, timeout } => lifecycle::health(&g, notify, timeout),
        Command::Audit { since } => audit::run(&g, since.as_deref()),
        Command::Relay(args) => relay::run(&g, args),
        Command::Queue(c) => queue::run(&g, c),
        Command::Send {
            target,
            to,
            subject,
            body_file,
            message,
            timeout,
            connections,
        } => send::send(
            &g,
            &target,
            send::SendArgs {
                to: &to,
                subject: &subject,
                body_file: body_file.as_ref(),
                message: &message,
                timeout,
                connections: usize::from(connections),
            },
        ),
        Command::Sendmail {
            read_recipients,
            from,
            full_name,
            webapp,
            timeout,
            no_queue,
            recipients,
            ..
        } => send::sendmail(
            &g,
            send::SendmailArgs {
                read_recipients,
                from,
                full_name,
                webapp,
                recipients,
                timeout,
                no_queue,
            },
        ),
        Command::Demo => demo::run(&g),
    }
}

fn init(g: &Globals) -> Result<u8> {
    let db = context::db_path(g.db.clone())?;
    let key = context::key_path(&db);
    let name = context::server_name(g.server.as_deref());
    let outcome = Farm::init(&db, &key, &name, context::now()?)?;
    if outcome == InitOutcome::Created {
        match &db {
            FarmDb::File(path) => context::hand_to_service_user(&[path, &key])?,
            FarmDb::Postgres(_) => context::hand_to_service_user(&[&key])?,
        }
    }
    if g.json {
        outln!(
            "{}",
            serde_json::json!({
                "created": outcome == InitOutcome::Created,
                "db": db.to_string(),
                "master_key_file": key.display().to_string(),
            })
        );
    } else if !g.quiet {
        match outcome {
            InitOutcome::Created => outln!(
                "created farm {} with master key {} (keep a backup of the key: without it the farm's private keys cannot be used)",
                db,
                key.display()
            ),
            InitOutcome::AlreadyExists => {
                outln!("farm {} already exists; nothing changed", db)
            }
        }
    }
    Ok(exit::OK)
}
