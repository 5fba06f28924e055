-- The audit trail, as in PostgreSQL: one hash chain per tenant plus the system chain (all-zero tenant id); times in
-- unix milliseconds. One writer at a time, so appends of a chain cannot interleave.
CREATE TABLE audit_entries (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    key_id TEXT,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    diff TEXT,
    request_id TEXT,
    client_address TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (tenant_id, seq)
);
CREATE INDEX ix_audit_entries_at ON audit_entries (tenant_id, at);

CREATE TABLE audit_chains (
    tenant_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
