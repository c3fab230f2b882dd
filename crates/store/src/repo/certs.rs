//! Certificate rows, sealed keys and the audit trail: every SQL statement about them.

use std::cell::RefCell;

use super::sql::{Dialect, Exec, Row, Value, args};
use crate::eligibility::{self, Finding, Subject};
use crate::error::{Error, Result};
use crate::model::{CertFacts, KeyType, StoreName};

/// Operations inside one database transaction.
pub struct Tx<'a> {
    db: RefCell<&'a mut (dyn Exec + 'a)>,
    actor: Option<&'a str>,
    server: Option<&'a str>,
}

/// A stored certificate, without its DER or key.
#[derive(Debug, Clone)]
pub struct CertRecord {
    /// Row id.
    pub id: i64,
    /// What the certificate says.
    pub facts: CertFacts,
    /// Where it is stored.
    pub store: StoreName,
    /// The name people gave it.
    pub friendly_name: Option<String>,
    /// Whether its private key is held (it matched at import).
    pub has_private_key: bool,
    /// Whether the key may ever leave the farm.
    pub exportable: bool,
    /// When it was imported, Unix seconds.
    pub imported_at: i64,
}

impl CertRecord {
    /// Every failed eligibility rule at time `now`.
    pub fn findings(&self, now: i64) -> Vec<Finding> {
        eligibility::evaluate(
            &Subject {
                facts: &self.facts,
                store: self.store,
                has_private_key: self.has_private_key,
            },
            now,
        )
    }

    /// The name shown for the certificate: its friendly name, else its subject CN.
    pub fn display_name(&self) -> &str {
        self.friendly_name
            .as_deref()
            .or(self.facts.subject_cn.as_deref())
            .unwrap_or(&self.facts.subject)
    }
}

/// A certificate about to be stored.
#[derive(Debug)]
pub struct NewCert<'a> {
    /// Its facts.
    pub facts: &'a CertFacts,
    /// Its DER.
    pub der: &'a [u8],
    /// The store to put it in.
    pub store: StoreName,
    /// Its friendly name.
    pub friendly_name: Option<&'a str>,
    /// Import time, Unix seconds.
    pub now: i64,
}

/// Which certificates a listing shows. Fields combine with AND.
#[derive(Debug, Clone, Default)]
pub struct CertFilter {
    /// Only this store.
    pub store: Option<StoreName>,
    /// Only certificates eligible for client authentication at `now`.
    pub eligible: bool,
    /// Only certificates that expire within this many seconds after `now` (and have not yet).
    pub expiring_within: Option<i64>,
    /// Only expired certificates.
    pub expired: bool,
    /// Only certificates bound to outgoing e-mail settings.
    pub in_use: bool,
}

/// One line of the audit trail.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEntry {
    /// When, Unix seconds.
    pub at: i64,
    /// The operating-system user.
    pub actor: String,
    /// What was done (import, remove, move, rename, ...).
    pub action: String,
    /// What it was done to.
    pub object: String,
    /// Details; never a secret.
    pub detail: String,
}

const COLUMNS: &str = "id, thumbprint_sha1, thumbprint_sha256, store, friendly_name, subject, \
    issuer, subject_cn, sans, serial, not_before, not_after, key_type, eku, key_usage, is_ca, \
    self_signed, has_private_key, exportable, imported_at";

fn split_list(s: Option<String>) -> Option<Vec<String>> {
    s.map(|v| {
        if v.is_empty() {
            Vec::new()
        } else {
            v.split('\n').map(str::to_string).collect()
        }
    })
}

fn row_to_record(r: &Row) -> Result<CertRecord> {
    let store: String = r.get(3)?;
    let store = store.parse::<StoreName>().map_err(|_| Error::BadValue {
        column: 3,
        expected: "a store name",
        found: "other text",
    })?;
    let key_type: String = r.get(12)?;
    Ok(CertRecord {
        id: r.get(0)?,
        facts: CertFacts {
            thumbprint_sha1: r.get(1)?,
            thumbprint_sha256: r.get(2)?,
            subject: r.get(5)?,
            issuer: r.get(6)?,
            subject_cn: r.get(7)?,
            sans: split_list(r.get(8)?).unwrap_or_default(),
            serial: r.get(9)?,
            not_before: r.get(10)?,
            not_after: r.get(11)?,
            key_type: KeyType::from_label(&key_type),
            eku: split_list(r.get(13)?),
            key_usage: split_list(r.get(14)?),
            is_ca: r.get(15)?,
            self_signed: r.get(16)?,
        },
        store,
        friendly_name: r.get(4)?,
        has_private_key: r.get(17)?,
        exportable: r.get(18)?,
        imported_at: r.get(19)?,
    })
}

/// The operating-system user, for the audit trail.
pub fn os_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(u) = std::env::var(var)
            && !u.is_empty()
        {
            return u;
        }
    }
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "unknown".into();
    };
    // The account name from the password database, else the number.
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                let id = f.nth(1)?;
                (id.parse::<u32>().ok()? == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| format!("uid:{uid}"))
}

impl<'a> Tx<'a> {
    pub(crate) fn new(
        db: &'a mut (dyn Exec + 'a),
        actor: Option<&'a str>,
        server: Option<&'a str>,
    ) -> Self {
        Tx {
            db: RefCell::new(db),
            actor,
            server,
        }
    }

    /// The server this transaction runs on, whose own settings apply (see
    /// [`Farm::set_server`](crate::Farm::set_server)).
    pub fn this_server(&self) -> Option<&str> {
        self.server
    }

    fn db(&self) -> Result<std::cell::RefMut<'_, &'a mut (dyn Exec + 'a)>> {
        self.db.try_borrow_mut().map_err(|_| {
            Error::Internal("a farm statement ran inside another statement's row loop".into())
        })
    }

    /// The dialect this transaction speaks, for the few statements that differ.
    pub(super) fn dialect(&self) -> Result<Dialect> {
        Ok(self.db()?.dialect())
    }

    /// Runs a statement; how many rows it changed.
    pub(super) fn execute(&self, sql: &str, args: &[Value]) -> Result<u64> {
        self.db()?.execute(sql, args)
    }

    /// Runs a query, handing each row to `each` as it arrives.
    pub(super) fn each(
        &self,
        sql: &str,
        args: &[Value],
        mut each: impl FnMut(Row) -> Result<()>,
    ) -> Result<()> {
        self.db()?.query(sql, args, &mut each)
    }

    /// Every row of a query, converted by `map`.
    pub(super) fn rows<T>(
        &self,
        sql: &str,
        args: &[Value],
        map: impl Fn(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.each(sql, args, |r| {
            out.push(map(&r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row of a query, converted by `map`, if there is one.
    pub(super) fn optional<T>(
        &self,
        sql: &str,
        args: &[Value],
        map: impl Fn(&Row) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut out = None;
        self.each(sql, args, |r| {
            if out.is_none() {
                out = Some(map(&r)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row of a query, which must be there ([`Error::RecordGone`] if not).
    pub(super) fn one<T>(
        &self,
        sql: &str,
        args: &[Value],
        map: impl Fn(&Row) -> Result<T>,
    ) -> Result<T> {
        self.optional(sql, args, map)?.ok_or(Error::RecordGone)
    }

    /// The certificate with this SHA-1 thumbprint, if stored.
    pub fn by_sha1(&self, sha1: &str) -> Result<Option<CertRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM certificates WHERE thumbprint_sha1 = ?1");
        self.optional(&sql, &args![sha1.to_ascii_uppercase()], row_to_record)
    }

    /// The certificate with this row id.
    pub(crate) fn by_id(&self, id: i64) -> Result<CertRecord> {
        let sql = format!("SELECT {COLUMNS} FROM certificates WHERE id = ?1");
        self.optional(&sql, &args![id], row_to_record)?
            .ok_or_else(|| Error::NotFound {
                reference: format!("#{id}"),
            })
    }

    /// Resolves a reference: SHA-1 thumbprint, unique hex prefix (8+ digits), SHA-256
    /// thumbprint, `name:FRIENDLY-NAME`, or `cn:COMMON-NAME` (the subject's CN, any case).
    pub fn resolve(&self, reference: &str) -> Result<CertRecord> {
        let r = reference.trim();
        let rows: Vec<CertRecord> = if let Some(name) = r.strip_prefix("name:") {
            let sql = format!("SELECT {COLUMNS} FROM certificates WHERE friendly_name = ?1");
            self.rows(&sql, &args![name], row_to_record)?
        } else if let Some(cn) = r.strip_prefix("cn:") {
            // Case-insensitive on both backends (SQLite's lower() folds ASCII letters only,
            // PostgreSQL's every letter its locale knows).
            let sql = format!(
                "SELECT {COLUMNS} FROM certificates WHERE lower(subject_cn) = lower(?1) LIMIT 20"
            );
            self.rows(&sql, &args![cn], row_to_record)?
        } else {
            let hex: String = r.chars().filter(|c| *c != ':' && *c != ' ').collect();
            if hex.len() < 8 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(Error::BadReference {
                    reference: reference.to_string(),
                });
            }
            let hex = hex.to_ascii_uppercase();
            let sql = format!(
                "SELECT {COLUMNS} FROM certificates
                 WHERE substr(thumbprint_sha1, 1, ?2) = ?1 OR substr(thumbprint_sha256, 1, ?2) = ?1
                 LIMIT 20"
            );
            self.rows(&sql, &args![hex, hex.len() as i64], row_to_record)?
        };
        match rows.len() {
            0 => Err(Error::NotFound {
                reference: reference.to_string(),
            }),
            1 => rows.into_iter().next().ok_or_else(|| Error::NotFound {
                reference: reference.to_string(),
            }),
            _ => Err(Error::Ambiguous {
                reference: reference.to_string(),
                candidates: rows
                    .iter()
                    .map(|c| format!("{} [{}]", c.facts.describe(), c.store))
                    .collect(),
            }),
        }
    }

    /// Stores a new certificate and returns its row id.
    pub fn insert(&self, c: &NewCert<'_>) -> Result<i64> {
        let f = c.facts;
        let join = |v: &Option<Vec<String>>| v.as_ref().map(|l| l.join("\n"));
        self.one(
            "INSERT INTO certificates (thumbprint_sha1, thumbprint_sha256, store, friendly_name,
                subject, issuer, subject_cn, sans, serial, not_before, not_after, key_type, eku,
                key_usage, is_ca, self_signed, intrinsic_ok, imported_at, der)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
             RETURNING id",
            &args![
                f.thumbprint_sha1,
                f.thumbprint_sha256,
                c.store.as_str(),
                c.friendly_name,
                f.subject,
                f.issuer,
                f.subject_cn,
                f.sans.join("\n"),
                f.serial,
                f.not_before,
                f.not_after,
                f.key_type.label(),
                join(&f.eku),
                join(&f.key_usage),
                f.is_ca,
                f.self_signed,
                eligibility::intrinsic_ok(f),
                c.now,
                c.der,
            ],
            |r| r.get(0),
        )
    }

    /// Stores the sealed private key of a certificate.
    pub fn set_private_key(&self, id: i64, sealed: &[u8], exportable: bool) -> Result<()> {
        self.execute(
            "INSERT INTO private_keys (certificate_id, sealed) VALUES (?1, ?2)
             ON CONFLICT (certificate_id) DO UPDATE SET sealed = excluded.sealed",
            &args![id, sealed],
        )?;
        self.execute(
            "UPDATE certificates SET has_private_key = 1, exportable = ?2 WHERE id = ?1",
            &args![id, exportable],
        )?;
        Ok(())
    }

    /// The sealed private key, if held.
    pub fn sealed_key(&self, id: i64) -> Result<Option<crate::SealedKey>> {
        Ok(self
            .optional(
                "SELECT sealed FROM private_keys WHERE certificate_id = ?1",
                &args![id],
                |r| r.get(0),
            )?
            .map(crate::SealedKey))
    }

    /// The DER of a certificate.
    pub fn der(&self, id: i64) -> Result<Vec<u8>> {
        self.one(
            "SELECT der FROM certificates WHERE id = ?1",
            &args![id],
            |r| r.get(0),
        )
    }

    /// Sets a certificate's friendly name (None clears it).
    pub(crate) fn set_friendly_name(&self, id: i64, name: Option<&str>) -> Result<()> {
        self.execute(
            "UPDATE certificates SET friendly_name = ?2 WHERE id = ?1",
            &args![id, name],
        )?;
        Ok(())
    }

    /// Moves a certificate to another store.
    pub(crate) fn set_store(&self, id: i64, store: StoreName) -> Result<()> {
        self.execute(
            "UPDATE certificates SET store = ?2 WHERE id = ?1",
            &args![id, store.as_str()],
        )?;
        Ok(())
    }

    /// Deletes a certificate and its key.
    pub fn delete(&self, id: i64) -> Result<()> {
        self.execute("DELETE FROM certificates WHERE id = ?1", &args![id])?;
        Ok(())
    }

    /// Certificates whose subject is `subject` and that are CAs: candidate issuers.
    pub(crate) fn ca_by_subject(&self, subject: &str) -> Result<Vec<CertRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM certificates WHERE subject = ?1 AND is_ca = 1 ORDER BY not_after DESC"
        );
        self.rows(&sql, &args![subject], row_to_record)
    }

    /// The certificates a binding may use now: End Entity, eligible for SMTP client
    /// authentication (what the web page's drop-down offers and `cert list --eligible`
    /// shows).
    pub fn eligible_end_entity(&self, now: i64) -> Result<Vec<CertRecord>> {
        let mut out = Vec::new();
        self.list_each(
            &CertFilter {
                store: Some(crate::StoreName::EndEntity),
                eligible: true,
                ..CertFilter::default()
            },
            now,
            |c| {
                out.push(c);
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Lists certificates matching the filter at time `now`, calling `each` per row so
    /// that large farms stream instead of building a vector.
    pub fn list_each(
        &self,
        filter: &CertFilter,
        now: i64,
        mut each: impl FnMut(CertRecord) -> Result<()>,
    ) -> Result<()> {
        let mut sql = format!("SELECT {COLUMNS} FROM certificates WHERE 1 = 1");
        let mut args: Vec<Value> = Vec::new();
        let mut arg = |v: Value| {
            args.push(v);
            format!("?{}", args.len())
        };
        if let Some(s) = filter.store {
            let p = arg(Value::Text(s.as_str().to_string()));
            sql.push_str(&format!(" AND store = {p}"));
        }
        if filter.eligible {
            let p = arg(Value::Int(now));
            sql.push_str(&format!(
                " AND store = 'end-entity' AND intrinsic_ok = 1 AND has_private_key = 1 \
                 AND not_before <= {p} AND not_after >= {p}"
            ));
        }
        if let Some(within) = filter.expiring_within {
            let p = arg(Value::Int(now));
            let q = arg(Value::Int(now.saturating_add(within)));
            sql.push_str(&format!(" AND not_after >= {p} AND not_after <= {q}"));
        }
        if filter.expired {
            let p = arg(Value::Int(now));
            sql.push_str(&format!(" AND not_after < {p}"));
        }
        if filter.in_use {
            sql.push_str(
                " AND thumbprint_sha1 IN (SELECT certificate_sha1 FROM smtp_settings WHERE certificate_sha1 IS NOT NULL)",
            );
        }
        sql.push_str(" ORDER BY store, not_after, id");
        self.each(&sql, &args, |row| each(row_to_record(&row)?))
    }

    /// Appends to the audit trail as the farm's actor (see [`Farm::set_actor`](crate::Farm::set_actor)),
    /// by default the operating-system user.
    pub fn audit(&self, now: i64, action: &str, object: &str, detail: &str) -> Result<()> {
        self.execute(
            "INSERT INTO audit_log (at, actor, action, object, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            &args![
                now,
                self.actor.map_or_else(os_user, str::to_string),
                action,
                object,
                detail
            ],
        )?;
        Ok(())
    }

    /// The audit trail since `since` (Unix seconds), newest first.
    pub fn audit_since(&self, since: i64) -> Result<Vec<AuditEntry>> {
        self.rows(
            "SELECT at, actor, action, object, detail FROM audit_log WHERE at >= ?1 ORDER BY at DESC, id DESC",
            &args![since],
            |r| {
                Ok(AuditEntry {
                    at: r.get(0)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    object: r.get(3)?,
                    detail: r.get(4)?,
                })
            },
        )
    }
}
