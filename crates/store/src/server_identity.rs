//! A certificate of the farm as a TLS *server* identity (the relay's STARTTLS, the web
//! page's HTTPS): the chain to present and the unsealed key, with the checks that keep
//! an unusable certificate out.

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::model::{OID_SERVER_AUTH, StoreName};
use crate::repo::Farm;

/// The chain (leaf first, then the issuers the farm holds) and the PKCS#8 key.
pub struct ServerIdentity {
    /// DER certificates, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// The leaf's private key (PKCS#8 DER), wiped when dropped.
    pub key: Zeroizing<Vec<u8>>,
    /// The certificate, described for messages.
    pub described: String,
    /// Problems that do not stop it from serving but that clients may refuse.
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIdentity")
            .field("described", &self.described)
            .field("chain", &self.chain.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Loads `reference` as a server identity: it must be in the End Entity store, carry its
/// private key and be valid at `now`. An EKU without Server Authentication is a warning.
pub fn server_identity(farm: &mut Farm, reference: &str, now: i64) -> Result<ServerIdentity> {
    let (cert, chain, sealed) = farm.read(|tx| {
        let c = tx.resolve(reference)?;
        let mut ders = vec![tx.der(c.id)?];
        for i in crate::chain::issuers(tx, &c, false)? {
            ders.push(tx.der(i.id)?);
        }
        let sealed = tx.sealed_key(c.id)?;
        Ok::<_, Error>((c, ders, sealed))
    })?;
    let described = cert.facts.describe();
    let refuse = |message: String| Error::Rejected {
        rule: "server-certificate",
        message,
    };
    if cert.store != StoreName::EndEntity {
        return Err(refuse(format!(
            "{described} is in the {} store; use a certificate of the End Entity store",
            cert.store.display_name()
        )));
    }
    let sealed =
        sealed.ok_or_else(|| refuse(format!("the farm holds no private key for {described}")))?;
    if now > cert.facts.not_after || now < cert.facts.not_before {
        return Err(refuse(format!(
            "{described} is not valid now (valid {} to {})",
            crate::rfc3339(cert.facts.not_before),
            crate::rfc3339(cert.facts.not_after)
        )));
    }
    let mut warnings = Vec::new();
    if let Some(eku) = &cert.facts.eku
        && !eku.iter().any(|o| o == OID_SERVER_AUTH)
    {
        warnings.push(format!(
            "the server certificate {described} has no Server Authentication extended key usage; clients that check it will refuse it"
        ));
    }
    let key = crate::export::open_private_key(farm, &cert, &sealed)?;
    Ok(ServerIdentity {
        chain,
        key: key.into_pkcs8(),
        described,
        warnings,
    })
}
