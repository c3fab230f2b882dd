//! `mailcert webapp add|list|remove`.

use anyhow::Result;
use mailcert_binding::WebAppUrl;

use super::Globals;
use super::smtp::{effective_json, status_line};
use crate::args::WebappCommand;
use crate::{context, exit};

pub(crate) fn run(g: &Globals, cmd: WebappCommand) -> Result<u8> {
    let mut farm = context::open(g)?;
    let now = context::now()?;
    match cmd {
        WebappCommand::Add { url, name } => {
            let url = WebAppUrl::parse(&url)?;
            let w = mailcert_binding::add_webapp(&mut farm, &url, name.as_deref(), now)?;
            if g.json {
                outln!("{}", serde_json::to_value(&w)?);
            } else if !g.quiet {
                outln!("added web application {}", w.url);
            }
            Ok(exit::OK)
        }
        WebappCommand::Remove { url, force } => {
            let url = WebAppUrl::parse(&url)?;
            let w = mailcert_binding::remove_webapp(&mut farm, &url, force, now).map_err(|e| {
                if e.violations().iter().any(|v| v.rule == "bound") {
                    anyhow::Error::from(crate::Hinted {
                        error: e.into(),
                        hint: "--force removes it with its settings and binding".into(),
                    })
                } else {
                    e.into()
                }
            })?;
            if g.json {
                outln!("{}", serde_json::json!({"removed": w.url}));
            } else if !g.quiet {
                outln!("removed web application {} with its settings", w.url);
            }
            Ok(exit::OK)
        }
        WebappCommand::List => {
            let apps = mailcert_binding::list_webapps(&mut farm, now)?;
            let unhealthy = apps
                .iter()
                .any(|(_, e)| e.as_ref().is_some_and(|e| !e.problems.is_empty()));
            if g.json {
                let v: Vec<serde_json::Value> = apps
                    .iter()
                    .map(|(w, e)| {
                        serde_json::json!({
                            "url": w.url,
                            "name": w.name,
                            "settings": e.as_ref().map(|e| effective_json(e, now)),
                        })
                    })
                    .collect();
                outln!("{}", serde_json::Value::Array(v));
            } else {
                outln!(
                    "{:<40}  {:<20}  {:<30}  {:<24}  STATUS",
                    "URL",
                    "NAME",
                    "SMTP SERVER (FROM)",
                    "CERTIFICATE"
                );
                for (w, e) in &apps {
                    let (server, cert, status) = match e {
                        None => (
                            "(none: set the farm's)".to_string(),
                            String::new(),
                            "no settings".to_string(),
                        ),
                        Some(e) => (
                            format!(
                                "{}:{} ({})",
                                e.settings.smtp_server,
                                e.settings.port,
                                match e.source {
                                    mailcert_binding::Source::Farm => "farm",
                                    mailcert_binding::Source::WebApplication => "own",
                                }
                            ),
                            e.certificate
                                .as_ref()
                                .map(|c| c.display_name().to_string())
                                .or_else(|| e.settings.certificate.clone())
                                .unwrap_or_else(|| "-".into()),
                            status_line(e),
                        ),
                    };
                    outln!(
                        "{:<40}  {:<20}  {:<30}  {:<24}  {}",
                        w.url,
                        w.name.as_deref().unwrap_or("-"),
                        server,
                        cert,
                        status
                    );
                }
                if apps.is_empty() && !g.quiet {
                    outln!("(no web applications; add one with `mailcert webapp add URL`)");
                }
            }
            Ok(if unhealthy { exit::REJECTED } else { exit::OK })
        }
    }
}
