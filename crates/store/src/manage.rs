//! Changing stored certificates: remove, move between stores, rename, and moving the
//! bindings of one certificate to another. Each is one transaction with its audit lines;
//! a bound certificate is not removed or moved out of End Entity without `force`.

use crate::error::{Error, Result};
use crate::model::StoreName;
use crate::repo::{CertRecord, Farm, Tx};

/// A certificate after a change, and the bindings the change cleared.
#[derive(Debug, Clone)]
pub struct Changed {
    /// The certificate (as it was, for a removal).
    pub record: CertRecord,
    /// Bindings cleared by `force` ("farm" or web application URLs).
    pub cleared: Vec<String>,
}

/// Refuses when `c` is bound (unless `force`, which unbinds it); returns what was cleared.
fn release_bindings(
    tx: &Tx<'_>,
    c: &CertRecord,
    force: bool,
    action: &str,
    now: i64,
) -> Result<Vec<String>> {
    let bound: Vec<String> = tx
        .bindings(Some(&c.facts.thumbprint_sha1))?
        .iter()
        .map(|b| b.label())
        .collect();
    if bound.is_empty() {
        return Ok(bound);
    }
    if !force {
        return Err(Error::Rejected {
            rule: "bound",
            message: format!(
                "certificate {} is bound to {}; force the {action} to clear those bindings, or switch them to another certificate first",
                c.facts.describe(),
                bound.join(", ")
            ),
        });
    }
    tx.rebind(&c.facts.thumbprint_sha1, None, now)?;
    for b in &bound {
        tx.audit(
            now,
            "unbind",
            b,
            &format!("{} (forced {action})", c.facts.describe()),
        )?;
    }
    Ok(bound)
}

/// Removes a certificate (and its key).
pub fn remove(farm: &mut Farm, reference: &str, force: bool, now: i64) -> Result<Changed> {
    farm.write(|tx| {
        let c = tx.resolve(reference)?;
        let cleared = release_bindings(tx, &c, force, "remove", now)?;
        tx.delete(c.id)?;
        tx.audit(
            now,
            "remove",
            &c.facts.describe(),
            &format!("from {}", c.store),
        )?;
        Ok(Changed { record: c, cleared })
    })
}

/// Moves a certificate to another store.
pub fn move_to(
    farm: &mut Farm,
    reference: &str,
    to: StoreName,
    force: bool,
    now: i64,
) -> Result<Changed> {
    farm.write(|tx| {
        let c = tx.resolve(reference)?;
        let mut cleared = Vec::new();
        if c.store != to {
            if to != StoreName::EndEntity {
                cleared = release_bindings(tx, &c, force, "move", now)?;
            }
            tx.set_store(c.id, to)?;
            tx.audit(
                now,
                "move",
                &c.facts.describe(),
                &format!("{} -> {to}", c.store),
            )?;
        }
        Ok(Changed {
            record: tx.by_id(c.id)?,
            cleared,
        })
    })
}

/// Gives a certificate a new friendly name.
pub fn rename(farm: &mut Farm, reference: &str, name: &str, now: i64) -> Result<CertRecord> {
    farm.write(|tx| {
        let c = tx.resolve(reference)?;
        let name = name.trim();
        tx.set_friendly_name(c.id, (!name.is_empty()).then_some(name))?;
        tx.audit(
            now,
            "rename",
            &c.facts.describe(),
            &format!("{:?} -> {name:?}", c.friendly_name.as_deref().unwrap_or("")),
        )?;
        tx.by_id(c.id)
    })
}

/// Refuses `c` as a binding target unless every eligibility rule passes now.
pub fn require_eligible(c: &CertRecord, now: i64) -> Result<()> {
    let findings = c.findings(now);
    if findings.is_empty() {
        return Ok(());
    }
    let reasons: Vec<String> = findings.iter().map(|f| f.message()).collect();
    Err(Error::Rejected {
        rule: "eligible",
        message: format!(
            "certificate {} is not eligible for SMTP client authentication: {}",
            c.facts.describe(),
            reasons.join("; ")
        ),
    })
}

/// Moves every binding of `old` to `new` after checking `new` is eligible; returns the
/// bindings moved.
pub fn switch(
    farm: &mut Farm,
    old: &str,
    new: &str,
    now: i64,
) -> Result<(CertRecord, CertRecord, Vec<String>)> {
    farm.write(|tx| {
        let o = tx.resolve(old)?;
        let n = tx.resolve(new)?;
        if o.id == n.id {
            return Err(Error::Rejected {
                rule: "switch",
                message: format!("{} and {} are the same certificate", old, new),
            });
        }
        require_eligible(&n, now)?;
        let moved = switch_in(tx, &o, &n, "switch", now)?;
        Ok((o, n, moved))
    })
}

/// Moves the bindings inside an open transaction, with audit lines.
pub(crate) fn switch_in(
    tx: &Tx<'_>,
    o: &CertRecord,
    n: &CertRecord,
    why: &str,
    now: i64,
) -> Result<Vec<String>> {
    let moved: Vec<String> = tx
        .bindings(Some(&o.facts.thumbprint_sha1))?
        .iter()
        .map(|b| b.label())
        .collect();
    tx.rebind(
        &o.facts.thumbprint_sha1,
        Some(&n.facts.thumbprint_sha1),
        now,
    )?;
    for b in &moved {
        tx.audit(
            now,
            why,
            b,
            &format!("{} -> {}", o.facts.describe(), n.facts.describe()),
        )?;
    }
    Ok(moved)
}
