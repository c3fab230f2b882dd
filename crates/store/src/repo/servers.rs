//! The servers of a farm (issue #11): each server that joined, with when it was first
//! and last seen, so that `server list` shows who shares the farm.

use super::Tx;
use super::sql::{Row, args};
use crate::error::Result;

/// A server of the farm.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServerRow {
    /// Its name (`--server`, `$MAILCERT_SERVER`, else the host name).
    pub name: String,
    /// When it joined (or made) the farm, Unix seconds.
    pub first_seen: i64,
    /// When it last used the farm, Unix seconds (kept to the minute).
    pub last_seen: i64,
}

fn row_to_server(r: &Row) -> Result<ServerRow> {
    Ok(ServerRow {
        name: r.get(0)?,
        first_seen: r.get(1)?,
        last_seen: r.get(2)?,
    })
}

impl Tx<'_> {
    /// Founds the farm: stores its master key check and registers the server that made
    /// it, with the `init` audit line, all in the caller's one transaction. False, with
    /// nothing written, when another process founded it first.
    pub(super) fn found_farm(
        &self,
        key_check: Vec<u8>,
        server: &str,
        now: i64,
        location: &str,
    ) -> Result<bool> {
        let n = self.execute(
            "INSERT INTO meta (key, value) VALUES ('master_key_check', ?1)
             ON CONFLICT (key) DO NOTHING",
            &args![key_check],
        )?;
        if n == 0 {
            return Ok(false);
        }
        self.register_server(server, now)?;
        self.audit(now, "init", server, location)?;
        Ok(true)
    }

    /// Registers a server (or, when it is known, records that it was seen now).
    pub fn register_server(&self, name: &str, now: i64) -> Result<()> {
        self.execute(
            "INSERT INTO servers (name, first_seen, last_seen) VALUES (?1, ?2, ?2)
             ON CONFLICT (name) DO UPDATE SET last_seen = excluded.last_seen",
            &args![name, now],
        )?;
        Ok(())
    }

    /// Whether any server joined the farm (none did in a farm made before servers were
    /// recorded).
    pub fn has_servers(&self) -> Result<bool> {
        Ok(self
            .optional("SELECT 1 FROM servers LIMIT 1", &[], |r| r.get::<i64>(0))?
            .is_some())
    }

    /// Every server of the farm, by name.
    pub fn servers(&self) -> Result<Vec<ServerRow>> {
        self.rows(
            "SELECT name, first_seen, last_seen FROM servers ORDER BY name",
            &[],
            row_to_server,
        )
    }

    /// The server with this name, if it joined.
    pub fn server(&self, name: &str) -> Result<Option<ServerRow>> {
        self.optional(
            "SELECT name, first_seen, last_seen FROM servers WHERE name = ?1",
            &args![name],
            row_to_server,
        )
    }
}
