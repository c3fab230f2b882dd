//! The farm database's schema, as append-only lists of migrations: one for SQLite (tracked
//! by `user_version`) and one for PostgreSQL (tracked in `mailcert_schema`), with the same
//! numbering, so that version N means the same tables on both. Never edit a migration
//! that has shipped: add the next one to both lists.

/// Each entry moves the schema from version `index` to `index + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: certificates, their sealed private keys, the audit trail, farm metadata.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    CREATE TABLE certificates (
        id                INTEGER PRIMARY KEY,
        thumbprint_sha1   TEXT NOT NULL UNIQUE,
        thumbprint_sha256 TEXT NOT NULL UNIQUE,
        store             TEXT NOT NULL
                          CHECK (store IN ('end-entity', 'intermediate', 'root', 'pending')),
        friendly_name     TEXT,
        subject           TEXT NOT NULL,
        issuer            TEXT NOT NULL,
        subject_cn        TEXT,
        sans              TEXT NOT NULL,
        serial            TEXT NOT NULL,
        not_before        INTEGER NOT NULL,
        not_after         INTEGER NOT NULL,
        key_type          TEXT NOT NULL,
        eku               TEXT,
        key_usage         TEXT,
        is_ca             INTEGER NOT NULL,
        self_signed       INTEGER NOT NULL,
        intrinsic_ok      INTEGER NOT NULL,
        has_private_key   INTEGER NOT NULL DEFAULT 0,
        exportable        INTEGER NOT NULL DEFAULT 0,
        imported_at       INTEGER NOT NULL,
        der               BLOB NOT NULL
    );
    CREATE INDEX certificates_eligible
        ON certificates (store, intrinsic_ok, has_private_key, not_after);
    CREATE INDEX certificates_not_after ON certificates (not_after);
    CREATE INDEX certificates_subject ON certificates (subject);
    CREATE INDEX certificates_friendly_name ON certificates (friendly_name);
    CREATE TABLE private_keys (
        certificate_id INTEGER PRIMARY KEY
                       REFERENCES certificates (id) ON DELETE CASCADE,
        sealed         BLOB NOT NULL
    );
    CREATE TABLE audit_log (
        id     INTEGER PRIMARY KEY,
        at     INTEGER NOT NULL,
        actor  TEXT NOT NULL,
        action TEXT NOT NULL,
        object TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_log_at ON audit_log (at);
    "#,
    // 2: web applications and outgoing e-mail settings (farm-wide and per web
    // application). A binding names its certificate by SHA-1 thumbprint, not by row,
    // so that a binding whose certificate has gone can still be reported.
    r#"
    CREATE TABLE web_applications (
        id         INTEGER PRIMARY KEY,
        url        TEXT NOT NULL UNIQUE,
        name       TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE smtp_settings (
        id                 INTEGER PRIMARY KEY,
        web_application_id INTEGER UNIQUE
                           REFERENCES web_applications (id) ON DELETE CASCADE,
        smtp_server        TEXT NOT NULL,
        port               INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
        encryption         TEXT NOT NULL CHECK (encryption IN ('starttls', 'tls', 'none')),
        from_address       TEXT,
        reply_to           TEXT,
        charset            TEXT NOT NULL,
        helo               TEXT,
        smtp_user          TEXT,
        smtp_password      BLOB,
        certificate_sha1   TEXT,
        updated_at         INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX smtp_settings_one_farm
        ON smtp_settings ((web_application_id IS NULL)) WHERE web_application_id IS NULL;
    CREATE INDEX smtp_settings_certificate ON smtp_settings (certificate_sha1);
    "#,
    // 3: the name an Exchange Online inbound connector expects in the client
    // certificate (TlsSenderCertificateName), stored with the settings and checked by
    // `smtp test`, `health` and the web page.
    r#"
    ALTER TABLE smtp_settings ADD COLUMN tls_sender_name TEXT;
    "#,
    // 4: certificate lifecycle (issue #10): pending requests with their keys sealed under
    // the master key, the farm's certificate settings (thresholds and request defaults),
    // notification contacts, and when each health finding was last mailed.
    r#"
    CREATE TABLE certificate_requests (
        id                INTEGER PRIMARY KEY,
        key_id            TEXT NOT NULL UNIQUE,
        common_name       TEXT NOT NULL,
        subject           TEXT NOT NULL,
        alternative_names TEXT NOT NULL,
        key_type          TEXT NOT NULL,
        hash              TEXT NOT NULL,
        friendly_name     TEXT,
        exportable        INTEGER NOT NULL,
        renews_sha1       TEXT,
        spki              BLOB NOT NULL,
        csr_pem           TEXT NOT NULL,
        sealed_key        BLOB NOT NULL,
        created_at        INTEGER NOT NULL
    );
    CREATE INDEX certificate_requests_renews ON certificate_requests (renews_sha1);
    CREATE TABLE certificate_settings (
        id            INTEGER PRIMARY KEY CHECK (id = 1),
        value         TEXT NOT NULL,
        updated_at    INTEGER NOT NULL
    );
    CREATE TABLE notification_contacts (
        address    TEXT PRIMARY KEY COLLATE NOCASE,
        added_at   INTEGER NOT NULL
    );
    CREATE TABLE notification_state (
        thumbprint TEXT NOT NULL,
        rule       TEXT NOT NULL,
        last_sent  INTEGER NOT NULL,
        PRIMARY KEY (thumbprint, rule)
    );
    "#,
    // 5: the servers of the farm (issue #11): each one that joined, and when it was
    // first and last seen.
    r#"
    CREATE TABLE servers (
        name       TEXT PRIMARY KEY,
        first_seen INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL
    );
    "#,
    // 6: settings for one server only (issue #11, SharePoint's -NotProvisionGlobally): a
    // row with a server name overrides the row without one, on that server. The UNIQUE on
    // web_application_id becomes one row per (level, server), so the table is rebuilt.
    r#"
    CREATE TABLE smtp_settings_v6 (
        id                 INTEGER PRIMARY KEY,
        web_application_id INTEGER
                           REFERENCES web_applications (id) ON DELETE CASCADE,
        smtp_server        TEXT NOT NULL,
        port               INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
        encryption         TEXT NOT NULL CHECK (encryption IN ('starttls', 'tls', 'none')),
        from_address       TEXT,
        reply_to           TEXT,
        charset            TEXT NOT NULL,
        helo               TEXT,
        smtp_user          TEXT,
        smtp_password      BLOB,
        certificate_sha1   TEXT,
        updated_at         INTEGER NOT NULL,
        tls_sender_name    TEXT,
        server             TEXT
    );
    INSERT INTO smtp_settings_v6 (id, web_application_id, smtp_server, port, encryption,
        from_address, reply_to, charset, helo, smtp_user, smtp_password, certificate_sha1,
        updated_at, tls_sender_name)
    SELECT id, web_application_id, smtp_server, port, encryption, from_address, reply_to,
        charset, helo, smtp_user, smtp_password, certificate_sha1, updated_at, tls_sender_name
    FROM smtp_settings;
    DROP TABLE smtp_settings;
    ALTER TABLE smtp_settings_v6 RENAME TO smtp_settings;
    CREATE UNIQUE INDEX smtp_settings_scope
        ON smtp_settings (COALESCE(web_application_id, 0), COALESCE(server, ''));
    CREATE INDEX smtp_settings_certificate ON smtp_settings (certificate_sha1);
    CREATE INDEX smtp_settings_webapp ON smtp_settings (web_application_id);
    "#,
];

/// PostgreSQL's migrations, entry for entry the same schema as [`MIGRATIONS`]. Integers
/// and flags are BIGINT (0/1), as SQLite keeps them, and the text columns listings sort
/// by are `COLLATE "C"` (byte order, as SQLite's BINARY), so that every statement of the
/// repository reads, and sorts, the same on both whatever the database's locale.
pub(crate) const PG_MIGRATIONS: &[&str] = &[
    // 1
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value BYTEA NOT NULL
    );
    CREATE TABLE certificates (
        id                BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        thumbprint_sha1   TEXT NOT NULL UNIQUE,
        thumbprint_sha256 TEXT NOT NULL UNIQUE,
        store             TEXT COLLATE "C" NOT NULL
                          CHECK (store IN ('end-entity', 'intermediate', 'root', 'pending')),
        friendly_name     TEXT,
        subject           TEXT NOT NULL,
        issuer            TEXT NOT NULL,
        subject_cn        TEXT,
        sans              TEXT NOT NULL,
        serial            TEXT NOT NULL,
        not_before        BIGINT NOT NULL,
        not_after         BIGINT NOT NULL,
        key_type          TEXT NOT NULL,
        eku               TEXT,
        key_usage         TEXT,
        is_ca             BIGINT NOT NULL,
        self_signed       BIGINT NOT NULL,
        intrinsic_ok      BIGINT NOT NULL,
        has_private_key   BIGINT NOT NULL DEFAULT 0,
        exportable        BIGINT NOT NULL DEFAULT 0,
        imported_at       BIGINT NOT NULL,
        der               BYTEA NOT NULL
    );
    CREATE INDEX certificates_eligible
        ON certificates (store, intrinsic_ok, has_private_key, not_after);
    CREATE INDEX certificates_not_after ON certificates (not_after);
    CREATE INDEX certificates_subject ON certificates (subject);
    CREATE INDEX certificates_friendly_name ON certificates (friendly_name);
    CREATE TABLE private_keys (
        certificate_id BIGINT PRIMARY KEY
                       REFERENCES certificates (id) ON DELETE CASCADE,
        sealed         BYTEA NOT NULL
    );
    CREATE TABLE audit_log (
        id     BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at     BIGINT NOT NULL,
        actor  TEXT NOT NULL,
        action TEXT NOT NULL,
        object TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_log_at ON audit_log (at);
    "#,
    // 2
    r#"
    CREATE TABLE web_applications (
        id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        url        TEXT COLLATE "C" NOT NULL UNIQUE,
        name       TEXT,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE smtp_settings (
        id                 BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        web_application_id BIGINT UNIQUE
                           REFERENCES web_applications (id) ON DELETE CASCADE,
        smtp_server        TEXT NOT NULL,
        port               BIGINT NOT NULL CHECK (port BETWEEN 1 AND 65535),
        encryption         TEXT NOT NULL CHECK (encryption IN ('starttls', 'tls', 'none')),
        from_address       TEXT,
        reply_to           TEXT,
        charset            TEXT NOT NULL,
        helo               TEXT,
        smtp_user          TEXT,
        smtp_password      BYTEA,
        certificate_sha1   TEXT,
        updated_at         BIGINT NOT NULL
    );
    CREATE UNIQUE INDEX smtp_settings_one_farm
        ON smtp_settings ((web_application_id IS NULL)) WHERE web_application_id IS NULL;
    CREATE INDEX smtp_settings_certificate ON smtp_settings (certificate_sha1);
    "#,
    // 3
    r#"
    ALTER TABLE smtp_settings ADD COLUMN tls_sender_name TEXT;
    "#,
    // 4: contacts are unique case-insensitively (SQLite's COLLATE NOCASE) and keep the
    // order they were added in (SQLite's rowid) by an identity column.
    r#"
    CREATE TABLE certificate_requests (
        id                BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        key_id            TEXT NOT NULL UNIQUE,
        common_name       TEXT NOT NULL,
        subject           TEXT NOT NULL,
        alternative_names TEXT NOT NULL,
        key_type          TEXT NOT NULL,
        hash              TEXT NOT NULL,
        friendly_name     TEXT,
        exportable        BIGINT NOT NULL,
        renews_sha1       TEXT,
        spki              BYTEA NOT NULL,
        csr_pem           TEXT NOT NULL,
        sealed_key        BYTEA NOT NULL,
        created_at        BIGINT NOT NULL
    );
    CREATE INDEX certificate_requests_renews ON certificate_requests (renews_sha1);
    CREATE TABLE certificate_settings (
        id            BIGINT PRIMARY KEY CHECK (id = 1),
        value         TEXT NOT NULL,
        updated_at    BIGINT NOT NULL
    );
    CREATE TABLE notification_contacts (
        id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        address    TEXT NOT NULL,
        added_at   BIGINT NOT NULL
    );
    CREATE UNIQUE INDEX notification_contacts_address
        ON notification_contacts (lower(address));
    CREATE TABLE notification_state (
        thumbprint TEXT NOT NULL,
        rule       TEXT NOT NULL,
        last_sent  BIGINT NOT NULL,
        PRIMARY KEY (thumbprint, rule)
    );
    "#,
    // 5
    r#"
    CREATE TABLE servers (
        name       TEXT COLLATE "C" PRIMARY KEY,
        first_seen BIGINT NOT NULL,
        last_seen  BIGINT NOT NULL
    );
    "#,
    // 6
    r#"
    ALTER TABLE smtp_settings DROP CONSTRAINT smtp_settings_web_application_id_key;
    DROP INDEX smtp_settings_one_farm;
    ALTER TABLE smtp_settings ADD COLUMN server TEXT COLLATE "C";
    CREATE UNIQUE INDEX smtp_settings_scope
        ON smtp_settings (COALESCE(web_application_id, 0), COALESCE(server, ''));
    CREATE INDEX smtp_settings_webapp ON smtp_settings (web_application_id);
    "#,
];

#[cfg(test)]
mod tests {
    #[test]
    fn both_backends_have_every_migration() {
        assert_eq!(super::MIGRATIONS.len(), super::PG_MIGRATIONS.len());
    }
}
