//! Changing stored certificates: remove, move between stores, rename. Each is one
//! transaction with its audit line.

use crate::error::Result;
use crate::model::StoreName;
use crate::repo::{CertRecord, Farm};

/// Removes a certificate (and its key).
pub fn remove(farm: &mut Farm, reference: &str, now: i64) -> Result<CertRecord> {
    farm.write(|tx| {
        let c = tx.resolve(reference)?;
        tx.delete(c.id)?;
        tx.audit(
            now,
            "remove",
            &c.facts.describe(),
            &format!("from {}", c.store),
        )?;
        Ok(c)
    })
}

/// Moves a certificate to another store; returns it as it is after the move.
pub fn move_to(farm: &mut Farm, reference: &str, to: StoreName, now: i64) -> Result<CertRecord> {
    farm.write(|tx| {
        let c = tx.resolve(reference)?;
        if c.store != to {
            tx.set_store(c.id, to)?;
            tx.audit(
                now,
                "move",
                &c.facts.describe(),
                &format!("{} -> {to}", c.store),
            )?;
        }
        tx.by_id(c.id)
    })
}

/// Gives a certificate a new friendly name; returns it as it is after.
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
