//! Copying a whole farm from one database to another (either backend, either way):
//! every table row for row with its ids, the sealed keys and passwords as they are (the
//! destination uses the same master key), verified before it commits.

use std::collections::BTreeMap;
use std::path::Path;

use super::sql::{Dialect, Value};
use super::{Farm, FarmDb, Tx};
use crate::error::{Error, Result};

/// The copied tables in dependency order, with the columns both schemas have: every
/// table of the farm (a test holds this list to the schema).
pub(super) const TABLES: &[(&str, &[&str])] = &[
    ("meta", &["key", "value"]),
    (
        "certificates",
        &[
            "id",
            "thumbprint_sha1",
            "thumbprint_sha256",
            "store",
            "friendly_name",
            "subject",
            "issuer",
            "subject_cn",
            "sans",
            "serial",
            "not_before",
            "not_after",
            "key_type",
            "eku",
            "key_usage",
            "is_ca",
            "self_signed",
            "intrinsic_ok",
            "has_private_key",
            "exportable",
            "imported_at",
            "der",
        ],
    ),
    ("private_keys", &["certificate_id", "sealed"]),
    (
        "audit_log",
        &["id", "at", "actor", "action", "object", "detail"],
    ),
    ("web_applications", &["id", "url", "name", "created_at"]),
    (
        "smtp_settings",
        &[
            "id",
            "web_application_id",
            "smtp_server",
            "port",
            "encryption",
            "from_address",
            "reply_to",
            "charset",
            "helo",
            "smtp_user",
            "smtp_password",
            "certificate_sha1",
            "updated_at",
            "tls_sender_name",
            "server",
        ],
    ),
    (
        "certificate_requests",
        &[
            "id",
            "key_id",
            "common_name",
            "subject",
            "alternative_names",
            "key_type",
            "hash",
            "friendly_name",
            "exportable",
            "renews_sha1",
            "spki",
            "csr_pem",
            "sealed_key",
            "created_at",
        ],
    ),
    ("certificate_settings", &["id", "value", "updated_at"]),
    ("notification_contacts", &["address", "added_at"]),
    ("notification_state", &["thumbprint", "rule", "last_sent"]),
    ("servers", &["name", "first_seen", "last_seen"]),
];

/// Tables whose `id` PostgreSQL numbers itself: after a copy with explicit ids, the
/// numbering must continue after the largest one.
const IDENTITY_TABLES: &[&str] = &[
    "certificates",
    "audit_log",
    "web_applications",
    "smtp_settings",
    "certificate_requests",
];

/// What [`Farm::copy_to`] copied: rows per table, each verified on the destination.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CopyReport {
    /// Rows copied per table.
    pub tables: BTreeMap<String, u64>,
    /// How many certificates (with their thumbprints and sealed keys) compared equal.
    pub certificates_verified: u64,
}

fn order_by(table: &str, dialect: Dialect) -> &'static str {
    match (table, dialect) {
        ("notification_contacts", Dialect::Sqlite) => "added_at, rowid",
        ("notification_contacts", Dialect::Postgres) => "added_at, id",
        ("meta", _) => "key",
        ("private_keys", _) => "certificate_id",
        ("notification_state", _) => "thumbprint, rule",
        ("servers", _) => "name",
        _ => "id",
    }
}

/// A digest of a table's rows, independent of row order and of the backend: each row's
/// values encoded with their kind and length, the encodings sorted, then hashed.
fn table_digest(tx: &Tx<'_>, table: &str, columns: &[&str]) -> Result<Vec<u8>> {
    let mut rows: Vec<Vec<u8>> = Vec::new();
    tx.each(
        &format!("SELECT {} FROM {table}", columns.join(", ")),
        &[],
        |row| {
            let mut enc = Vec::new();
            for v in &row.0 {
                match v {
                    Value::Null => enc.push(b'n'),
                    Value::Int(i) => {
                        enc.push(b'i');
                        enc.extend_from_slice(&i.to_be_bytes());
                    }
                    Value::Text(t) => {
                        enc.push(b't');
                        enc.extend_from_slice(&(t.len() as u64).to_be_bytes());
                        enc.extend_from_slice(t.as_bytes());
                    }
                    Value::Blob(b) => {
                        enc.push(b'b');
                        enc.extend_from_slice(&(b.len() as u64).to_be_bytes());
                        enc.extend_from_slice(b);
                    }
                }
            }
            rows.push(enc);
            Ok(())
        },
    )?;
    rows.sort();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for r in &rows {
        ctx.update(&(r.len() as u64).to_be_bytes());
        ctx.update(r);
    }
    Ok(ctx.finish().as_ref().to_vec())
}

fn count(tx: &Tx<'_>, table: &str) -> Result<u64> {
    let n: i64 = tx.one(&format!("SELECT count(*) FROM {table}"), &[], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

impl Farm {
    /// Copies this whole farm into a new SQLite file or an empty PostgreSQL database
    /// (`key_path` is the master key file the copy will be opened with; the sealed
    /// secrets are copied as they are). A copy that fails leaves no new file behind; in
    /// PostgreSQL it leaves at most mailcert's empty schema, which a second attempt takes.
    pub fn copy_into(&mut self, dest: impl Into<FarmDb>, key_path: &Path) -> Result<CopyReport> {
        let dest = dest.into();
        let mut farm = Farm::create_empty(dest.clone(), key_path)?;
        let copied = self.copy_to(&mut farm);
        if copied.is_err() {
            drop(farm);
            if let FarmDb::File(path) = &dest {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
        }
        copied
    }

    /// Copies this whole farm into `dest`, which must be empty (made by
    /// [`Farm::create_empty`], never by `init`): one read snapshot here, one transaction
    /// there, which commits only when a digest of every table's rows compares equal.
    fn copy_to(&mut self, dest: &mut Farm) -> Result<CopyReport> {
        self.master_key()?;
        self.read(|src| {
            dest.write(|dst| {
                for (table, _) in TABLES {
                    if count(dst, table)? != 0 {
                        return Err(Error::Rejected {
                            rule: "empty-destination",
                            message: format!(
                                "the destination is not empty (its {table} table has rows); farm copy writes only into a new, empty database"
                            ),
                        });
                    }
                }
                let src_dialect = src.dialect()?;
                let mut tables = BTreeMap::new();
                for (table, columns) in TABLES {
                    let cols = columns.join(", ");
                    let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
                    let insert = format!(
                        "INSERT INTO {table} ({cols}) VALUES ({})",
                        marks.join(", ")
                    );
                    let mut copied = 0u64;
                    src.each(
                        &format!(
                            "SELECT {cols} FROM {table} ORDER BY {}",
                            order_by(table, src_dialect)
                        ),
                        &[],
                        |row| {
                            dst.execute(&insert, &row.0)?;
                            copied += 1;
                            Ok(())
                        },
                    )?;
                    tables.insert(table.to_string(), copied);
                }
                if dst.dialect()? == Dialect::Postgres {
                    for table in IDENTITY_TABLES {
                        dst.rows(
                            &format!(
                                "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                        (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                            ),
                            &[],
                            |_| Ok(()),
                        )?;
                    }
                }
                // Verify before committing: every value of every table, sealed keys and
                // passwords included, compares equal (so do the row counts, and each
                // certificate's thumbprints with its key).
                for (table, columns) in TABLES {
                    if table_digest(src, table, columns)? != table_digest(dst, table, columns)? {
                        return Err(Error::CopyMismatch {
                            what: format!("the {table} table's rows differ"),
                        });
                    }
                }
                let certificates_verified = tables.get("certificates").copied().unwrap_or(0);
                Ok(CopyReport {
                    tables,
                    certificates_verified,
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table of a new farm is copied, and the copy names no table the farm lacks:
    /// a migration that adds a table must add it here, or `farm copy` would drop it.
    #[test]
    fn every_table_of_the_farm_is_copied() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = dir.path().join("farm.db");
        let key = Farm::default_key_path(&db);
        Farm::init(&db, &key, "web1", 1).unwrap_or_else(|e| panic!("{e}"));
        let conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
        let mut in_farm: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .unwrap_or_else(|e| panic!("{e}"));
        in_farm.sort();
        let mut copied: Vec<String> = TABLES.iter().map(|(t, _)| t.to_string()).collect();
        copied.sort();
        assert_eq!(copied, in_farm);
    }
}
