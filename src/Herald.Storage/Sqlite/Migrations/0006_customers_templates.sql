-- Stored customers (issue #4): one JSON document per customer; ids compare in byte order (BINARY) for keyset paging.
CREATE TABLE customers (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
    id         TEXT    NOT NULL,
    document   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;

-- Message templates: unique per tenant, name, channel and language ('' = the tenant's default wording).
CREATE TABLE templates (
    id         TEXT    PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
    name       TEXT    NOT NULL,
    channel    INTEGER NOT NULL,
    language   TEXT    NOT NULL,
    document   TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, name, channel, language)
);
