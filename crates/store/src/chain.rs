//! Building a certificate's chain from the farm's Intermediate and Root stores.

use crate::error::Result;
use crate::repo::{CertRecord, Tx};

/// Longest chain followed; guards against loops in crafted data.
const MAX_DEPTH: usize = 8;

/// The issuers of `leaf`, nearest first, as far as the farm holds them. The root (a
/// self-signed CA) is included only when `include_root` is set.
pub fn issuers(tx: &Tx<'_>, leaf: &CertRecord, include_root: bool) -> Result<Vec<CertRecord>> {
    let mut out: Vec<CertRecord> = Vec::new();
    let mut current = leaf.clone();
    while !current.facts.self_signed && out.len() < MAX_DEPTH {
        let candidates = tx.ca_by_subject(&current.facts.issuer)?;
        let next = candidates
            .into_iter()
            .find(|c| c.id != current.id && c.id != leaf.id && !out.iter().any(|o| o.id == c.id));
        let Some(next) = next else { break };
        if next.facts.self_signed && !include_root {
            break;
        }
        out.push(next.clone());
        current = next;
    }
    Ok(out)
}
