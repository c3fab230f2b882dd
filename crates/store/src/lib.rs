//! mailcert-store: certificates for SMTP client authentication.
//!
//! Parses PFX/PKCS#12, PEM, DER and PKCS#7 files into certificate bundles, decides
//! whether a certificate is eligible for TLS client authentication, keeps private keys
//! encrypted under the farm's master key, and stores everything in the farm database.

mod chain;
mod connector;
mod eligibility;
mod encryption;
mod error;
mod export;
mod facts;
mod import;
mod key;
mod lifecycle;
mod manage;
mod model;
mod parse;
mod repo;
mod secret;
mod server_identity;

pub use chain::issuers;
pub use connector::{check_tls_sender_name, dns_names, name_matches};
pub use eligibility::{
    Finding, RULES, Rule, RuleId, Subject, check, date, days_until, evaluate, intrinsic_ok, rfc3339,
};
pub use encryption::Encryption;
pub use error::{Error, ErrorKind, Result};
pub use export::{ExportFormat, ExportRequest, Exported, PfxEncryption, export, open_private_key};
pub use facts::{cert_facts, thumbprints};
pub use import::{ImportOptions, ImportReport, Imported, Outcome, import_bundle};
pub use key::PrivateKey;
pub use lifecycle::request::{RequestSpec, new_request, remove_request, renew, request, requests};
pub use lifecycle::settings::{
    CertificateSettings, ContactChange, Curve, Hash, KeyAlgorithm, RSA_KEY_SIZES,
    certificate_settings, change_contacts, contacts, update_certificate_settings,
};
pub use manage::{Changed, move_to, remove, rename, require_eligible, switch};
pub use model::{CertFacts, KeyType, StoreName, UnknownStore, eku_name};
pub use model::{OID_ANY_EKU, OID_CLIENT_AUTH, OID_SERVER_AUTH};
pub use parse::{Bundle, Input, MAX_INPUT_BYTES, parse_bundle};
pub use repo::Tx;
pub use repo::{
    AuditEntry, BindingRef, CertFilter, CertRecord, CopyReport, Farm, FarmDb, InitOutcome, NewCert,
    PgHost, PgTarget, RequestRecord, Scope, ServerRow, SettingsRow, SslMode, WebAppRow,
};
pub use repo::{default_server_name, os_user};
pub use secret::{MASTER_KEY_LEN, MasterKey, SealedKey};
pub use server_identity::{ServerIdentity, server_identity};
