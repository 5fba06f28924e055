-- Sources (SPEC §1): a tenant's banking systems with their adapter, settings and credentials.
CREATE TABLE sources (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    name                text NOT NULL,
    adapter             text NOT NULL,
    settings            jsonb NOT NULL,
    signing_secret      text,
    client_certificate  text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX sources_tenant ON sources (tenant_id, created_at);

-- Signatures seen within the replay window, shared by every node; expired rows are dropped as new ones arrive.
CREATE TABLE source_signatures (
    source_id   uuid NOT NULL,
    signature   bytea NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (source_id, signature)
);
CREATE INDEX source_signatures_expiry ON source_signatures (expires_at);
