//! `mailcert relay`: the local relay for applications.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, Result};
use mailcert_relay::{AuthConfig, RelayConfig, rustls};

use super::Globals;
use crate::args::RelayArgs;
use crate::{context, exit};

/// The STARTTLS configuration from a certificate of the End Entity store.
fn tls_config(g: &Globals, reference: &str) -> Result<Arc<rustls::ServerConfig>> {
    let mut farm = context::open(g)?;
    let id = mailcert_store::server_identity(&mut farm, reference, context::now()?)?;
    for w in &id.warnings {
        errln!("mailcert: WARNING: {w}");
    }
    mailcert_relay::server_config(&id).map_err(anyhow::Error::from)
}

pub(crate) fn run(g: &Globals, args: RelayArgs) -> Result<u8> {
    context::now()?; // a bad MAILCERT_NOW is a usage error now, not later
    let db = context::db_path(g.db.clone())?;
    let key = context::key_path(&db);
    let spool = context::spool_path(g.spool.clone())?;
    let target = super::send::optional_target(&args.target)?;
    // The farm must open (and the web application exist) before anything listens.
    let mut farm = context::open(g)?;
    if let mailcert_binding::Target::WebApp(u) = &target {
        farm.read(|tx| {
            tx.webapp_by_url(u.as_str())?
                .ok_or_else(|| mailcert_binding::Error::NoWebApp { url: u.to_string() })
        })?;
    }
    drop(farm);
    let mut config = RelayConfig::new(spool.clone(), db, key);
    config.listen = args.listen;
    config.target = target;
    config.max_message_size = args.max_message_size;
    config.max_queue_lifetime = args.max_queue_lifetime;
    config.metrics = args.metrics;
    config.connections = usize::from(args.connections);
    config.server = g.server.clone();
    config.upstream_timeout = Duration::from_secs(args.timeout);
    config.clock = context::clock;
    if let (Some(user), Some(file)) = (args.auth_user, args.auth_password_file) {
        config.auth = Some(AuthConfig {
            user,
            password: crate::input::password(&file)?,
        });
    }
    if let Some(reference) = &args.tls_certificate {
        config.tls = Some(tls_config(g, reference)?);
    }
    config.validate().map_err(anyhow::Error::from)?;
    let stopping = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stopping.clone())
            .context("installing the signal handler")?;
    }
    let quiet = g.quiet;
    let target_label = config.target.label();
    mailcert_relay::run(config, stopping, |bound| {
        if !quiet {
            let addrs: Vec<String> = bound.iter().map(ToString::to_string).collect();
            // A closed output is no reason to stop relaying.
            crate::out::stdout(&format!(
                "mailcert relay: listening on {} (delivering through the {} settings; spool {})\n",
                addrs.join(", "),
                if target_label == "farm" {
                    "farm's".to_string()
                } else {
                    target_label.clone()
                },
                spool.display()
            ))
            .ok();
        }
    })
    .map_err(anyhow::Error::from)?;
    Ok(exit::OK)
}
