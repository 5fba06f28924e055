-- Sources (SPEC §1): a tenant's banking systems with their adapter, settings (JSON) and credentials.
CREATE TABLE sources (
    id                  TEXT    NOT NULL PRIMARY KEY,
    tenant_id           TEXT    NOT NULL REFERENCES tenants (id),
    name                TEXT    NOT NULL,
    adapter             TEXT    NOT NULL,
    settings            TEXT    NOT NULL,
    signing_secret      TEXT,
    client_certificate  TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX ix_sources_tenant ON sources (tenant_id, created_at);

-- Signatures seen within the replay window; expired rows are dropped as new ones arrive.
CREATE TABLE source_signatures (
    source_id   TEXT    NOT NULL,
    signature   BLOB    NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (source_id, signature)
);
CREATE INDEX ix_source_signatures_expiry ON source_signatures (expires_at);
