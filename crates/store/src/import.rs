//! Importing a parsed bundle into the farm: the leaf to the chosen store, the chain
//! certificates to the Intermediate and Root stores, the key sealed under the master key.
//! One file is one transaction.

use std::path::Path;

use crate::error::Result;
use crate::model::StoreName;
use crate::parse::Bundle;
use crate::repo::{CertRecord, Farm, NewCert};

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The store for the leaf; `None` picks End Entity, or the natural store of a CA
    /// certificate that arrives without a key.
    pub store: Option<StoreName>,
    /// Friendly name for the leaf (else the PKCS#12 alias, if any).
    pub friendly_name: Option<String>,
    /// Whether the private key may be exported later.
    pub exportable: bool,
    /// Treat the leaf as the renewal of a bound certificate with the same subject and
    /// subject alternative names that expires earlier, and move its bindings to it.
    pub replace: bool,
    /// Put self-signed CA certificates that arrive with the leaf in the Pending store
    /// instead of Root, so that they do not become trust anchors for the relays' server
    /// certificates until someone moves them there.
    pub no_chain_trust: bool,
}

/// What happened to one certificate of a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Newly stored.
    Added,
    /// Already in the farm; left as it was.
    AlreadyPresent,
    /// Already in the farm without its key; the key was added.
    KeyAdded,
    /// Already in the farm with its key, imported again with the key and `exportable`:
    /// the key may now be exported.
    ExportableSet,
}

impl Outcome {
    /// What happened, as words that go before the certificate's name ("private key
    /// added to relay-2026"): the CLI and the web page say it the same way.
    pub fn describe(self) -> &'static str {
        match self {
            Outcome::Added => "added",
            Outcome::AlreadyPresent => "already present",
            Outcome::KeyAdded => "private key added to",
            Outcome::ExportableSet => "private key made exportable for",
        }
    }
}

/// One certificate's result.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The stored certificate after the import.
    pub record: CertRecord,
    /// What was done.
    pub outcome: Outcome,
}

/// The result of importing one file.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// The leaf.
    pub leaf: Imported,
    /// The pending request whose key the leaf was paired with (and which was consumed).
    pub request: Option<crate::repo::RequestRecord>,
    /// The certificates that came with it.
    pub chain: Vec<Imported>,
    /// With `replace`: the certificates renewed, and the bindings moved from each.
    pub replaced: Vec<(CertRecord, Vec<String>)>,
}

/// Additional data that binds a sealed private key to its certificate.
pub(crate) fn key_aad(sha1: &str) -> Vec<u8> {
    format!("mailcert:private-key:{sha1}").into_bytes()
}

/// Imports a bundle parsed from `path` at time `now` (Unix seconds).
pub fn import_bundle(
    farm: &mut Farm,
    path: &Path,
    mut bundle: Bundle,
    opts: &ImportOptions,
    now: i64,
) -> Result<ImportReport> {
    let leaf_facts = crate::facts::cert_facts(path, &bundle.leaf)?;
    // A certificate that arrives without a key may be the answer to a pending request:
    // then it gets that request's key, friendly name and exportability.
    // A certificate already stored with its key (say, the one a --same-key renewal
    // renews, imported again) is not an answer to a request.
    let stored_with_key = farm
        .read(|tx| tx.by_sha1(&leaf_facts.thumbprint_sha1))?
        .is_some_and(|c| c.has_private_key);
    let pairing = match &bundle.key {
        None if !stored_with_key => {
            crate::lifecycle::request::pairing_for(farm, path, &bundle.leaf)?
        }
        _ => None,
    };
    let mut opts = opts.clone();
    let request = match pairing {
        Some(p) => {
            bundle.key = Some(p.key);
            opts.exportable |= p.request.exportable;
            if opts.friendly_name.is_none() {
                opts.friendly_name = p.request.friendly_name.clone();
            }
            Some(p.request)
        }
        None => None,
    };
    let opts = &opts;
    let mut chain_facts = Vec::with_capacity(bundle.others.len());
    for der in &bundle.others {
        chain_facts.push((crate::facts::cert_facts(path, der)?, der));
    }
    // Seal before the transaction: it needs the master key, and a missing key should
    // fail before anything is written.
    let sealed = match &bundle.key {
        Some(k) => Some(farm.master_key()?.seal(
            k.dangerously_expose_pkcs8_der(),
            &key_aad(&leaf_facts.thumbprint_sha1),
        )?),
        None => None,
    };
    let leaf_store = opts
        .store
        .unwrap_or(if bundle.key.is_none() && leaf_facts.is_ca {
            leaf_facts.natural_store()
        } else {
            StoreName::EndEntity
        });
    let friendly = opts
        .friendly_name
        .clone()
        .or_else(|| bundle.friendly_name.clone());
    let file = path.display().to_string();
    farm.write(|tx| {
        let leaf = match tx.by_sha1(&leaf_facts.thumbprint_sha1)? {
            Some(existing) => {
                let mut outcome = Outcome::AlreadyPresent;
                if let (false, Some(s)) = (existing.has_private_key, &sealed) {
                    tx.set_private_key(existing.id, s, opts.exportable)?;
                    tx.audit(
                        now,
                        "import",
                        &leaf_facts.describe(),
                        &format!("private key added from {file}"),
                    )?;
                    outcome = Outcome::KeyAdded;
                } else if existing.has_private_key
                    && !existing.exportable
                    && opts.exportable
                    && let Some(s) = &sealed
                {
                    // The same key again (it matched the certificate), now allowed out:
                    // what an operator does after an import without --exportable.
                    tx.set_private_key(existing.id, s, true)?;
                    tx.audit(
                        now,
                        "import",
                        &leaf_facts.describe(),
                        &format!("private key marked exportable (imported again from {file} as exportable)"),
                    )?;
                    outcome = Outcome::ExportableSet;
                }
                if let (None, Some(name)) = (&existing.friendly_name, &friendly) {
                    tx.set_friendly_name(existing.id, Some(name))?;
                }
                Imported {
                    record: tx.by_id(existing.id)?,
                    outcome,
                }
            }
            None => {
                let id = tx.insert(&NewCert {
                    facts: &leaf_facts,
                    der: &bundle.leaf,
                    store: leaf_store,
                    friendly_name: friendly.as_deref(),
                    now,
                })?;
                if let Some(s) = &sealed {
                    tx.set_private_key(id, s, opts.exportable)?;
                }
                let detail = format!(
                    "from {file} into {leaf_store}{}{}",
                    if sealed.is_some() {
                        ", with private key"
                    } else {
                        ""
                    },
                    if sealed.is_some() && opts.exportable {
                        " (exportable)"
                    } else {
                        ""
                    }
                );
                tx.audit(now, "import", &leaf_facts.describe(), &detail)?;
                Imported {
                    record: tx.by_id(id)?,
                    outcome: Outcome::Added,
                }
            }
        };
        let mut chain = Vec::new();
        for (facts, der) in &chain_facts {
            let imported = match tx.by_sha1(&facts.thumbprint_sha1)? {
                Some(existing) => Imported {
                    record: existing,
                    outcome: Outcome::AlreadyPresent,
                },
                None => {
                    let store = match facts.natural_store() {
                        StoreName::Root if opts.no_chain_trust => StoreName::Pending,
                        other => other,
                    };
                    let id = tx.insert(&NewCert {
                        facts,
                        der,
                        store,
                        friendly_name: None,
                        now,
                    })?;
                    tx.audit(
                        now,
                        "import",
                        &facts.describe(),
                        &format!("from {file} into {store} (chain)"),
                    )?;
                    Imported {
                        record: tx.by_id(id)?,
                        outcome: Outcome::Added,
                    }
                }
            };
            chain.push(imported);
        }
        let mut replaced = if opts.replace {
            take_over_bindings(tx, &leaf.record, now)?
        } else {
            Vec::new()
        };
        // Consumed in this transaction. A concurrent import of the same certificate that
        // got there first left it stored with its key: then this one is a no-op.
        let consumed = match &request {
            Some(_) if !matches!(leaf.outcome, Outcome::Added | Outcome::KeyAdded) => None,
            Some(r) if tx.delete_request(&r.key_id)? => Some(r.clone()),
            Some(_) if leaf.outcome == Outcome::AlreadyPresent && leaf.record.has_private_key => {
                None
            }
            Some(r) => {
                return Err(crate::error::Error::Rejected {
                    rule: "certificate-request",
                    message: format!(
                        "the pending request {} was consumed by another import meanwhile",
                        r.key_id
                    ),
                });
            }
            None => None,
        };
        if let Some(r) = &consumed {
            tx.audit(
                now,
                "request-complete",
                &leaf_facts.describe(),
                &format!("paired with pending request {} and its key", r.key_id),
            )?;
            let taken = match &r.renews {
                Some(old) => take_over_renewed(tx, old, &leaf.record, &replaced, now)?,
                None => None,
            };
            replaced.extend(taken);
        }
        Ok(ImportReport {
            leaf,
            request: consumed,
            chain,
            replaced,
        })
    })
}

/// Moves to `new` the bindings of every bound certificate it renews: same subject and
/// subject alternative names, earlier expiry. `new` must be eligible.
fn take_over_bindings(
    tx: &crate::repo::Tx<'_>,
    new: &CertRecord,
    now: i64,
) -> Result<Vec<(CertRecord, Vec<String>)>> {
    let mut bound: Vec<String> = tx
        .bindings(None)?
        .into_iter()
        .map(|b| b.certificate_sha1)
        .filter(|s| *s != new.facts.thumbprint_sha1)
        .collect();
    bound.sort();
    bound.dedup();
    let mut renewed = Vec::new();
    for sha1 in bound {
        let Some(old) = tx.by_sha1(&sha1)? else {
            continue;
        };
        let mut a = old.facts.sans.clone();
        let mut b = new.facts.sans.clone();
        a.sort();
        b.sort();
        if old.facts.subject == new.facts.subject
            && a == b
            && new.facts.not_after > old.facts.not_after
        {
            renewed.push(old);
        }
    }
    if renewed.is_empty() {
        return Err(crate::error::Error::Rejected {
            rule: "replace",
            message: format!(
                "replace: {} renews no bound certificate (none has the same subject and alternative names and expires earlier)",
                new.facts.describe()
            ),
        });
    }
    crate::manage::require_eligible(new, now)?;
    let mut out = Vec::new();
    for old in renewed {
        let moved = crate::manage::switch_in(tx, &old, new, "replace", now)?;
        out.push((old, moved));
    }
    Ok(out)
}

/// A renewal request's certificate arrived: it takes over the bindings of the certificate
/// it renews (when that one is still there and bound, and not already taken over with
/// `--replace`). It must be eligible, or nothing is imported.
fn take_over_renewed(
    tx: &crate::repo::Tx<'_>,
    old_sha1: &str,
    new: &CertRecord,
    replaced: &[(CertRecord, Vec<String>)],
    now: i64,
) -> Result<Option<(CertRecord, Vec<String>)>> {
    if replaced
        .iter()
        .any(|(o, _)| o.facts.thumbprint_sha1 == old_sha1)
    {
        return Ok(None);
    }
    let Some(old) = tx.by_sha1(old_sha1)? else {
        return Ok(None);
    };
    if old.id == new.id || tx.bindings(Some(&old.facts.thumbprint_sha1))?.is_empty() {
        return Ok(None);
    }
    crate::manage::require_eligible(new, now).map_err(|e| match e {
        crate::error::Error::Rejected { message, .. } => crate::error::Error::Rejected {
            rule: "renewal",
            message: format!(
                "{message}; the bindings of {} stay as they are and nothing was imported",
                old.facts.describe()
            ),
        },
        other => other,
    })?;
    let moved = crate::manage::switch_in(tx, &old, new, "renew", now)?;
    Ok(Some((old, moved)))
}
