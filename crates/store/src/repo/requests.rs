//! Pending certificate requests, certificate settings, notification contacts and the
//! notification state (issue #10): every SQL statement about them.

use super::Tx;
use super::sql::{Dialect, Row, args};
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

fn row_to_request(r: &Row) -> Result<RequestRecord> {
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
        self.execute(
            &format!(
                "INSERT INTO certificate_requests ({COLUMNS}, sealed_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ),
            &args![
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
        self.rows(
            &format!("SELECT {COLUMNS} FROM certificate_requests ORDER BY created_at, id"),
            &[],
            row_to_request,
        )
    }

    /// The pending request with this key id (exact, upper-case hex), if any.
    pub fn request(&self, key_id: &str) -> Result<Option<RequestRecord>> {
        self.optional(
            &format!("SELECT {COLUMNS} FROM certificate_requests WHERE key_id = ?1"),
            &args![key_id.to_ascii_uppercase()],
            row_to_request,
        )
    }

    /// The pending request that renews the certificate with this SHA-1, if any
    /// (indexed on `renews_sha1`).
    pub fn pending_renewal(&self, sha1: &str) -> Result<Option<RequestRecord>> {
        self.optional(
            &format!(
                "SELECT {COLUMNS} FROM certificate_requests WHERE renews_sha1 = ?1 ORDER BY id LIMIT 1"
            ),
            &args![sha1.to_ascii_uppercase()],
            row_to_request,
        )
    }

    /// Every pending renewal: the renewed certificate's SHA-1 and the request's key id.
    pub fn pending_renewals(&self) -> Result<std::collections::HashMap<String, String>> {
        Ok(self
            .rows(
                "SELECT renews_sha1, key_id FROM certificate_requests WHERE renews_sha1 IS NOT NULL",
                &[],
                |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
            )?
            .into_iter()
            .collect())
    }

    /// The sealed key of a pending request.
    pub(crate) fn request_sealed_key(&self, key_id: &str) -> Result<Option<Vec<u8>>> {
        self.optional(
            "SELECT sealed_key FROM certificate_requests WHERE key_id = ?1",
            &args![key_id.to_ascii_uppercase()],
            |r| r.get(0),
        )
    }

    /// Deletes a pending request; whether it existed.
    pub(crate) fn delete_request(&self, key_id: &str) -> Result<bool> {
        Ok(self.execute(
            "DELETE FROM certificate_requests WHERE key_id = ?1",
            &args![key_id.to_ascii_uppercase()],
        )? > 0)
    }

    /// The stored certificate settings text, if ever set.
    pub(crate) fn certificate_settings_text(&self) -> Result<Option<String>> {
        self.optional(
            "SELECT value FROM certificate_settings WHERE id = 1",
            &[],
            |r| r.get(0),
        )
    }

    /// Replaces the certificate settings text.
    pub(crate) fn put_certificate_settings_text(&self, value: &str, now: i64) -> Result<()> {
        self.execute(
            "INSERT INTO certificate_settings (id, value, updated_at) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            &args![value, now],
        )?;
        Ok(())
    }

    /// The notification contacts, in the order they were added.
    pub fn contacts(&self) -> Result<Vec<String>> {
        // SQLite numbers rows itself; the PostgreSQL table has an identity column.
        let sql = match self.dialect()? {
            Dialect::Sqlite => "SELECT address FROM notification_contacts ORDER BY added_at, rowid",
            Dialect::Postgres => "SELECT address FROM notification_contacts ORDER BY added_at, id",
        };
        self.rows(sql, &[], |r| r.get(0))
    }

    /// Adds a contact; false when it was already there (case-insensitively).
    pub(crate) fn add_contact(&self, address: &str, now: i64) -> Result<bool> {
        Ok(self.execute(
            "INSERT INTO notification_contacts (address, added_at) VALUES (?1, ?2)
             ON CONFLICT DO NOTHING",
            &args![address, now],
        )? > 0)
    }

    /// Removes a contact; false when it was not there.
    pub(crate) fn remove_contact(&self, address: &str) -> Result<bool> {
        Ok(self.execute(
            "DELETE FROM notification_contacts WHERE lower(address) = lower(?1)",
            &args![address],
        )? > 0)
    }

    /// Removes every contact; how many there were.
    pub(crate) fn clear_contacts(&self) -> Result<usize> {
        Ok(self.execute("DELETE FROM notification_contacts", &[])? as usize)
    }

    /// When a finding (certificate thumbprint, or "" for none, and rule) was last mailed.
    pub fn last_notified(&self, thumbprint: &str, rule: &str) -> Result<Option<i64>> {
        self.optional(
            "SELECT last_sent FROM notification_state WHERE thumbprint = ?1 AND rule = ?2",
            &args![thumbprint, rule],
            |r| r.get(0),
        )
    }

    /// Records that a finding was mailed at `now`.
    pub fn set_notified(&self, thumbprint: &str, rule: &str, now: i64) -> Result<()> {
        self.execute(
            "INSERT INTO notification_state (thumbprint, rule, last_sent) VALUES (?1, ?2, ?3)
             ON CONFLICT (thumbprint, rule) DO UPDATE SET last_sent = excluded.last_sent",
            &args![thumbprint, rule, now],
        )?;
        Ok(())
    }
}
