//! Pending certificate requests, certificate settings, notification contacts and the
//! notification state (issue #10): every SQL statement about them.

use rusqlite::{OptionalExtension, Row, params};

use super::Tx;
use crate::error::Result;

/// A pending certificate request as stored (its key stays sealed).
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// SHA-1 of the request's SubjectPublicKeyInfo, upper-case hex.
    pub key_id: String,
    /// The subject's common name.
    pub common_name: String,
    /// The whole subject, as text.
    pub subject: String,
    /// DNS names and IP addresses asked for.
    pub alternative_names: Vec<String>,
    /// The key type, e.g. `RSA 2048` or `ECDSA P-256`.
    pub key_type: String,
    /// The signature hash of the CSR.
    pub hash: String,
    /// Friendly name the certificate gets when it arrives.
    pub friendly_name: Option<String>,
    /// Whether the key may be exported once the certificate arrives.
    pub exportable: bool,
    /// SHA-1 thumbprint of the certificate this request renews.
    pub renews: Option<String>,
    /// The public key (SubjectPublicKeyInfo DER) a signed certificate must carry.
    pub spki: Vec<u8>,
    /// The CSR, PEM.
    pub csr_pem: String,
    /// When it was made, Unix seconds.
    pub created: i64,
}

/// A request about to be stored, with its key already sealed.
#[derive(Debug)]
pub(crate) struct NewRequest<'a> {
    pub(crate) record: &'a RequestRecord,
    pub(crate) sealed_key: &'a [u8],
}

const COLUMNS: &str = "key_id, common_name, subject, alternative_names, key_type, hash, \
    friendly_name, exportable, renews_sha1, spki, csr_pem, created_at";

fn row_to_request(r: &Row<'_>) -> rusqlite::Result<RequestRecord> {
    let names: String = r.get(3)?;
    Ok(RequestRecord {
        key_id: r.get(0)?,
        common_name: r.get(1)?,
        subject: r.get(2)?,
        alternative_names: if names.is_empty() {
            Vec::new()
        } else {
            names.split('\n').map(str::to_string).collect()
        },
        key_type: r.get(4)?,
        hash: r.get(5)?,
        friendly_name: r.get(6)?,
        exportable: r.get(7)?,
        renews: r.get(8)?,
        spki: r.get(9)?,
        csr_pem: r.get(10)?,
        created: r.get(11)?,
    })
}

impl Tx<'_> {
    /// Stores a pending request with its sealed key.
    pub(crate) fn insert_request(&self, n: &NewRequest<'_>) -> Result<()> {
        let r = n.record;
        self.sql().execute(
            &format!(
                "INSERT INTO certificate_requests ({COLUMNS}, sealed_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ),
            params![
                r.key_id,
                r.common_name,
                r.subject,
                r.alternative_names.join("\n"),
                r.key_type,
                r.hash,
                r.friendly_name,
                r.exportable,
                r.renews,
                r.spki,
                r.csr_pem,
                r.created,
                n.sealed_key
            ],
        )?;
        Ok(())
    }

    /// Every pending request, oldest first.
    pub fn requests(&self) -> Result<Vec<RequestRecord>> {
        let mut st = self.sql().prepare(&format!(
            "SELECT {COLUMNS} FROM certificate_requests ORDER BY created_at, id"
        ))?;
        let rows = st.query_map([], row_to_request)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The pending request with this key id (exact, upper-case hex), if any.
    pub fn request(&self, key_id: &str) -> Result<Option<RequestRecord>> {
        Ok(self
            .sql()
            .query_row(
                &format!("SELECT {COLUMNS} FROM certificate_requests WHERE key_id = ?1"),
                [key_id.to_ascii_uppercase()],
                row_to_request,
            )
            .optional()?)
    }

    /// The pending request that renews the certificate with this SHA-1, if any
    /// (indexed on `renews_sha1`).
    pub fn pending_renewal(&self, sha1: &str) -> Result<Option<RequestRecord>> {
        Ok(self
            .sql()
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM certificate_requests WHERE renews_sha1 = ?1 ORDER BY id LIMIT 1"
                ),
                [sha1.to_ascii_uppercase()],
                row_to_request,
            )
            .optional()?)
    }

    /// Every pending renewal: the renewed certificate's SHA-1 and the request's key id.
    pub fn pending_renewals(&self) -> Result<std::collections::HashMap<String, String>> {
        let mut st = self.sql().prepare(
            "SELECT renews_sha1, key_id FROM certificate_requests WHERE renews_sha1 IS NOT NULL",
        )?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The sealed key of a pending request.
    pub(crate) fn request_sealed_key(&self, key_id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .sql()
            .query_row(
                "SELECT sealed_key FROM certificate_requests WHERE key_id = ?1",
                [key_id.to_ascii_uppercase()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Deletes a pending request; whether it existed.
    pub(crate) fn delete_request(&self, key_id: &str) -> Result<bool> {
        Ok(self.sql().execute(
            "DELETE FROM certificate_requests WHERE key_id = ?1",
            [key_id.to_ascii_uppercase()],
        )? > 0)
    }

    /// The stored certificate settings text, if ever set.
    pub(crate) fn certificate_settings_text(&self) -> Result<Option<String>> {
        Ok(self
            .sql()
            .query_row(
                "SELECT value FROM certificate_settings WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Replaces the certificate settings text.
    pub(crate) fn put_certificate_settings_text(&self, value: &str, now: i64) -> Result<()> {
        self.sql().execute(
            "INSERT INTO certificate_settings (id, value, updated_at) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            params![value, now],
        )?;
        Ok(())
    }

    /// The notification contacts, in the order they were added.
    pub fn contacts(&self) -> Result<Vec<String>> {
        let mut st = self
            .sql()
            .prepare("SELECT address FROM notification_contacts ORDER BY added_at, rowid")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Adds a contact; false when it was already there (case-insensitively).
    pub(crate) fn add_contact(&self, address: &str, now: i64) -> Result<bool> {
        Ok(self.sql().execute(
            "INSERT INTO notification_contacts (address, added_at) VALUES (?1, ?2)
             ON CONFLICT (address) DO NOTHING",
            params![address, now],
        )? > 0)
    }

    /// Removes a contact; false when it was not there.
    pub(crate) fn remove_contact(&self, address: &str) -> Result<bool> {
        Ok(self.sql().execute(
            "DELETE FROM notification_contacts WHERE address = ?1",
            [address],
        )? > 0)
    }

    /// Removes every contact; how many there were.
    pub(crate) fn clear_contacts(&self) -> Result<usize> {
        Ok(self
            .sql()
            .execute("DELETE FROM notification_contacts", [])?)
    }

    /// When a finding (certificate thumbprint, or "" for none, and rule) was last mailed.
    pub fn last_notified(&self, thumbprint: &str, rule: &str) -> Result<Option<i64>> {
        Ok(self
            .sql()
            .query_row(
                "SELECT last_sent FROM notification_state WHERE thumbprint = ?1 AND rule = ?2",
                params![thumbprint, rule],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Records that a finding was mailed at `now`.
    pub fn set_notified(&self, thumbprint: &str, rule: &str, now: i64) -> Result<()> {
        self.sql().execute(
            "INSERT INTO notification_state (thumbprint, rule, last_sent) VALUES (?1, ?2, ?3)
             ON CONFLICT (thumbprint, rule) DO UPDATE SET last_sent = excluded.last_sent",
            params![thumbprint, rule, now],
        )?;
        Ok(())
    }
}
