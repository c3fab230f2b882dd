//! Farms of many certificates for benchmarks: a CA, client certificates signed by it,
//! and bulk loading through the library (thousands per transaction), so that the
//! benchmarks measure `mailcert`, not how the farm got filled.

use std::path::Path;

use mailcert_store::{Farm, FarmDb, NewCert, StoreName, cert_facts};

/// A CA that signs the benchmark's certificates, and the key its leaves share.
pub struct BenchCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    leaf_key: rcgen::KeyPair,
}

impl BenchCa {
    /// A new CA (ECDSA P-256) and leaf key.
    pub fn new() -> Result<BenchCa, String> {
        let ca_key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        let mut p =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "bench CA");
        Ok(BenchCa {
            issuer: rcgen::Issuer::new(p, ca_key),
            leaf_key: rcgen::KeyPair::generate().map_err(|e| e.to_string())?,
        })
    }

    /// Client certificate number `i` (`client{i}.bench.test`, clientAuth, valid
    /// 2025–2045), signed with `key`.
    pub fn leaf(&self, key: &rcgen::KeyPair, i: usize) -> Result<rcgen::Certificate, String> {
        let name = format!("client{i}.bench.test");
        let mut p = rcgen::CertificateParams::new(vec![name.clone()]).map_err(|e| e.to_string())?;
        p.distinguished_name.push(rcgen::DnType::CommonName, name);
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        p.not_before = rcgen::date_time_ymd(2025, 1, 1);
        p.not_after = rcgen::date_time_ymd(2045, 1, 1);
        p.serial_number = Some(rcgen::SerialNumber::from(
            (i as u64 + 1).to_be_bytes().to_vec(),
        ));
        p.signed_by(key, &self.issuer).map_err(|e| e.to_string())
    }

    /// Adds certificates `from..to` (with a sealed key each; one in ten in Pending, so
    /// that `--eligible` filters) to the farm, 5,000 per transaction.
    pub fn populate(
        &self,
        db: &FarmDb,
        key_file: &Path,
        from: usize,
        to: usize,
    ) -> Result<(), String> {
        let mut farm = Farm::open(db, key_file).map_err(|e| e.to_string())?;
        let sealed = farm
            .master_key()
            .and_then(|k| k.seal(b"bench key", b"bench"))
            .map_err(|e| e.to_string())?;
        let mut i = from;
        while i < to {
            let end = (i + 5_000).min(to);
            let ders = (i..end)
                .map(|n| self.leaf(&self.leaf_key, n).map(|c| c.der().to_vec()))
                .collect::<Result<Vec<_>, _>>()?;
            farm.write(|tx| {
                for (k, der) in ders.iter().enumerate() {
                    let facts = cert_facts(Path::new("bench"), der)?;
                    let id = tx.insert(&NewCert {
                        facts: &facts,
                        der,
                        store: if (i + k).is_multiple_of(10) {
                            StoreName::Pending
                        } else {
                            StoreName::EndEntity
                        },
                        friendly_name: None,
                        now: 0,
                    })?;
                    tx.set_private_key(id, &sealed, false)?;
                }
                Ok::<_, mailcert_store::Error>(())
            })
            .map_err(|e| e.to_string())?;
            i = end;
        }
        Ok(())
    }
}
