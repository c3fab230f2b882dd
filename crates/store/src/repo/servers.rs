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
    /// Registers a server (or, when it is known, records that it was seen now).
    pub fn register_server(&self, name: &str, now: i64) -> Result<()> {
        self.execute(
            "INSERT INTO servers (name, first_seen, last_seen) VALUES (?1, ?2, ?2)
             ON CONFLICT (name) DO UPDATE SET last_seen = excluded.last_seen",
            &args![name, now],
        )?;
        Ok(())
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
