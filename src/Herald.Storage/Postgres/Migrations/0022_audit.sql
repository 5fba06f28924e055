-- The audit trail (issue #17, docs/OPERATIONS.md "Audit trail"): one hash chain per tenant, and the system chain under
-- the all-zero tenant id (the system key's acts on tenants, refused keys). No foreign key to tenants: the trail
-- outlives what it describes. The diff is text, not jsonb, so it is kept byte for byte as the hash covers it.
CREATE TABLE audit_entries (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    seq bigint NOT NULL,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    key_id uuid,
    action text NOT NULL,
    resource_type text NOT NULL,
    resource_id text NOT NULL,
    diff text,
    request_id text,
    client_address text,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    UNIQUE (tenant_id, seq)
);
CREATE INDEX audit_entries_at ON audit_entries (tenant_id, at);

-- Each chain's head: the row an append locks (FOR UPDATE), which serialises the appends of one chain across nodes,
-- and the end verify compares with, so a removed last entry is found too.
CREATE TABLE audit_chains (
    tenant_id uuid PRIMARY KEY,
    seq bigint NOT NULL,
    hash text NOT NULL
);
