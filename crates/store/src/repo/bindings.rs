//! Web applications and outgoing e-mail settings rows: every SQL statement about them.
//! The rules that decide what may be stored live in mailcert-binding; this module only
//! reads and writes.

use super::certs::Tx;
use super::sql::{Row, ToValue, Value, args};

/// The `WHERE` condition selecting a level's rows, with its arguments.
fn level_filter(scope: Scope) -> (&'static str, Vec<Value>) {
    match scope {
        Scope::Farm => ("web_application_id IS NULL", Vec::new()),
        Scope::WebApp(id) => ("web_application_id = ?1", vec![Value::Int(id)]),
    }
}
use crate::error::{Error, Result};

/// A stored web application.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebAppRow {
    /// Row id.
    pub id: i64,
    /// Normalised URL.
    pub url: String,
    /// Display name.
    pub name: Option<String>,
    /// When it was added, Unix seconds.
    pub created_at: i64,
}

/// Which settings a row holds: the farm's, or one web application's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The farm-wide default.
    Farm,
    /// A web application's own settings (by row id).
    WebApp(i64),
}

/// A stored outgoing e-mail settings row. The password stays sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsRow {
    /// Whose settings these are.
    pub scope: Scope,
    /// SMTP server host name or IP literal.
    pub smtp_server: String,
    /// TCP port.
    pub port: u16,
    /// `starttls`, `tls` or `none`.
    pub encryption: crate::Encryption,
    /// From address.
    pub from_address: Option<String>,
    /// Reply-To address.
    pub reply_to: Option<String>,
    /// Character set for bodies the tool builds.
    pub charset: String,
    /// HELO/EHLO name (None: the host's name).
    pub helo: Option<String>,
    /// SMTP user name.
    pub smtp_user: Option<String>,
    /// The SMTP password sealed under the master key.
    pub smtp_password_sealed: Option<Vec<u8>>,
    /// SHA-1 thumbprint of the bound client certificate.
    pub certificate_sha1: Option<String>,
    /// Last change, Unix seconds.
    pub updated_at: i64,
    /// The Exchange Online connector's `TlsSenderCertificateName` the bound certificate
    /// must match, when set.
    pub tls_sender_name: Option<String>,
    /// The one server these settings are for (they override the level's settings
    /// there), or `None` for every server.
    pub server: Option<String>,
}

/// Where a certificate is bound: `None` for the farm, else the web application's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingRef {
    /// The web application, or `None` for the farm-wide settings.
    pub webapp_url: Option<String>,
    /// The bound certificate's SHA-1 thumbprint.
    pub certificate_sha1: String,
    /// The one server whose own settings bind it, or `None` for every server's.
    pub server: Option<String>,
}

impl BindingRef {
    /// `"farm"` or the web application URL, as the contract's `bound_to` shows it.
    pub fn label(&self) -> String {
        let level = self
            .webapp_url
            .clone()
            .unwrap_or_else(|| "farm".to_string());
        match &self.server {
            Some(s) => format!("{level} (server {s})"),
            None => level,
        }
    }
}

const SETTINGS_COLUMNS: &str = "web_application_id, smtp_server, port, encryption, from_address, \
    reply_to, charset, helo, smtp_user, smtp_password, certificate_sha1, updated_at, tls_sender_name, \
    server";

fn row_to_settings(r: &Row) -> Result<SettingsRow> {
    let webapp: Option<i64> = r.get(0)?;
    let port: i64 = r.get(2)?;
    Ok(SettingsRow {
        scope: webapp.map_or(Scope::Farm, Scope::WebApp),
        smtp_server: r.get(1)?,
        port: u16::try_from(port).unwrap_or(0),
        encryption: r.get(3)?,
        from_address: r.get(4)?,
        reply_to: r.get(5)?,
        charset: r.get(6)?,
        helo: r.get(7)?,
        smtp_user: r.get(8)?,
        smtp_password_sealed: r.get(9)?,
        certificate_sha1: r.get(10)?,
        updated_at: r.get(11)?,
        tls_sender_name: r.get(12)?,
        server: r.get(13)?,
    })
}

fn row_to_webapp(r: &Row) -> Result<WebAppRow> {
    Ok(WebAppRow {
        id: r.get(0)?,
        url: r.get(1)?,
        name: r.get(2)?,
        created_at: r.get(3)?,
    })
}

impl Tx<'_> {
    /// Adds a web application; the URL must already be normalised. Refuses a duplicate.
    pub fn insert_webapp(&self, url: &str, name: Option<&str>, now: i64) -> Result<WebAppRow> {
        if self.webapp_by_url(url)?.is_some() {
            return Err(Error::Rejected {
                rule: "unique-url",
                message: format!("a web application {url} already exists"),
            });
        }
        self.execute(
            "INSERT INTO web_applications (url, name, created_at) VALUES (?1, ?2, ?3)",
            &args![url, name, now],
        )?;
        self.webapp_by_url(url)?
            .ok_or_else(|| Error::Internal("inserted web application vanished".into()))
    }

    /// The web application with this normalised URL.
    pub fn webapp_by_url(&self, url: &str) -> Result<Option<WebAppRow>> {
        self.optional(
            "SELECT id, url, name, created_at FROM web_applications WHERE url = ?1",
            &args![url],
            row_to_webapp,
        )
    }

    /// Every web application, by URL.
    pub fn webapps(&self) -> Result<Vec<WebAppRow>> {
        self.rows(
            "SELECT id, url, name, created_at FROM web_applications ORDER BY url",
            &[],
            row_to_webapp,
        )
    }

    /// Deletes a web application; its settings go with it (foreign key cascade).
    pub fn delete_webapp(&self, id: i64) -> Result<()> {
        self.execute("DELETE FROM web_applications WHERE id = ?1", &args![id])?;
        Ok(())
    }

    /// The settings of a level as this server sees them: its own settings for the level
    /// when it has some (see [`Farm::set_server`](crate::Farm::set_server)), else the
    /// level's settings for every server. No fallback from a web application to the farm.
    pub fn settings(&self, scope: Scope) -> Result<Option<SettingsRow>> {
        let (level, mut args) = level_filter(scope);
        args.push(self.this_server().to_value());
        let me = args.len();
        self.optional(
            &format!(
                "SELECT {SETTINGS_COLUMNS} FROM smtp_settings WHERE {level}
                 AND (server IS NULL OR server = ?{me}) ORDER BY server IS NULL LIMIT 1"
            ),
            &args,
            row_to_settings,
        )
    }

    /// The settings stored at exactly this level and server (`None`: for every server).
    pub fn settings_at(&self, scope: Scope, server: Option<&str>) -> Result<Option<SettingsRow>> {
        let (level, mut args) = level_filter(scope);
        let sql = match server {
            Some(name) => {
                args.push(name.to_value());
                format!(
                    "SELECT {SETTINGS_COLUMNS} FROM smtp_settings WHERE {level} AND server = ?{}",
                    args.len()
                )
            }
            None => format!(
                "SELECT {SETTINGS_COLUMNS} FROM smtp_settings WHERE {level} AND server IS NULL"
            ),
        };
        self.optional(&sql, &args, row_to_settings)
    }

    /// Every server's own settings (overrides), farm first, then by web application and
    /// server.
    pub fn server_overrides(&self) -> Result<Vec<(Option<String>, SettingsRow)>> {
        let cols: Vec<String> = SETTINGS_COLUMNS
            .split(',')
            .map(|c| format!("s.{}", c.trim()))
            .collect();
        self.rows(
            &format!(
                "SELECT {}, w.url FROM smtp_settings s
                 LEFT JOIN web_applications w ON w.id = s.web_application_id
                 WHERE s.server IS NOT NULL
                 ORDER BY w.url IS NOT NULL, w.url, s.server",
                cols.join(", ")
            ),
            &[],
            |r| Ok((r.get(14)?, row_to_settings(r)?)),
        )
    }

    /// Stores the settings of a level (for every server, or for `s.server` only),
    /// replacing what was there.
    pub fn put_settings(&self, s: &SettingsRow) -> Result<()> {
        let webapp = match s.scope {
            Scope::Farm => None,
            Scope::WebApp(id) => Some(id),
        };
        self.delete_settings_at(s.scope, s.server.as_deref())?;
        self.execute(
            &format!("INSERT INTO smtp_settings ({SETTINGS_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
            &args![
                webapp,
                s.smtp_server,
                s.port,
                s.encryption,
                s.from_address,
                s.reply_to,
                s.charset,
                s.helo,
                s.smtp_user,
                s.smtp_password_sealed,
                s.certificate_sha1,
                s.updated_at,
                s.tls_sender_name,
                s.server,
            ],
        )?;
        Ok(())
    }

    /// Drops a level's settings for every server; returns whether there were any.
    pub fn delete_settings(&self, scope: Scope) -> Result<bool> {
        self.delete_settings_at(scope, None)
    }

    /// Drops a level's settings for one server (`Some`) or for every server (`None`);
    /// returns whether there were any.
    pub fn delete_settings_at(&self, scope: Scope, server: Option<&str>) -> Result<bool> {
        let (level, mut args) = level_filter(scope);
        let sql = match server {
            Some(name) => {
                args.push(name.to_value());
                format!(
                    "DELETE FROM smtp_settings WHERE {level} AND server = ?{}",
                    args.len()
                )
            }
            None => format!("DELETE FROM smtp_settings WHERE {level} AND server IS NULL"),
        };
        Ok(self.execute(&sql, &args)? > 0)
    }

    /// Every binding of a certificate to settings (farm or web applications), or of all
    /// certificates when `sha1` is `None`.
    pub fn bindings(&self, sha1: Option<&str>) -> Result<Vec<BindingRef>> {
        let select = "SELECT w.url, s.certificate_sha1, s.server FROM smtp_settings s
             LEFT JOIN web_applications w ON w.id = s.web_application_id
             WHERE s.certificate_sha1 IS NOT NULL";
        let order = "ORDER BY w.url IS NOT NULL, w.url, s.server IS NOT NULL, s.server";
        let map = |r: &Row| {
            Ok(BindingRef {
                webapp_url: r.get(0)?,
                certificate_sha1: r.get(1)?,
                server: r.get(2)?,
            })
        };
        match sha1 {
            Some(sha1) => self.rows(
                &format!("{select} AND s.certificate_sha1 = ?1 {order}"),
                &args![sha1.to_ascii_uppercase()],
                map,
            ),
            None => self.rows(&format!("{select} {order}"), &[], map),
        }
    }

    /// Every binding, by certificate SHA-1: the labels ("farm" or web application
    /// URLs) that the contract's `bound_to` lists.
    pub fn bound_by_certificate(&self) -> Result<std::collections::HashMap<String, Vec<String>>> {
        let mut map: std::collections::HashMap<String, Vec<String>> =
            std::collections::HashMap::new();
        for b in self.bindings(None)? {
            map.entry(b.certificate_sha1.clone())
                .or_default()
                .push(b.label());
        }
        Ok(map)
    }

    /// Points every binding of certificate `from` at `to` (None unbinds); returns how many.
    pub(crate) fn rebind(&self, from: &str, to: Option<&str>, now: i64) -> Result<usize> {
        Ok(self.execute(
            "UPDATE smtp_settings SET certificate_sha1 = ?2, updated_at = ?3 WHERE certificate_sha1 = ?1",
            &args![from.to_ascii_uppercase(), to.map(str::to_ascii_uppercase), now],
        )? as usize)
    }
}

impl Tx<'_> {
    /// A farm-wide setting (such as the administrator password hash), if set.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.optional("SELECT value FROM meta WHERE key = ?1", &args![key], |r| {
            r.get(0)
        })
    }

    /// Sets a farm-wide setting. The key `master_key_check` is reserved.
    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        if key == "master_key_check" {
            return Err(Error::Internal(
                "the master key check cannot be overwritten".into(),
            ));
        }
        self.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &args![key, value],
        )?;
        Ok(())
    }
}
