-- Issue #3: the parts of multi-part SMS attempts, and cost reports by tenant and time (see the PostgreSQL twin).
CREATE TABLE attempt_parts (
    attempt_id           TEXT    NOT NULL,
    part_index           INTEGER NOT NULL,
    parts                INTEGER NOT NULL,
    provider_id          TEXT    NOT NULL,
    provider_message_id  TEXT    NOT NULL,
    state                INTEGER NOT NULL,
    error_code           TEXT,
    error                TEXT,
    received_at          INTEGER,
    created_at           INTEGER NOT NULL,
    PRIMARY KEY (attempt_id, part_index)
);
CREATE INDEX ix_attempt_parts_message ON attempt_parts (provider_message_id);

CREATE INDEX IF NOT EXISTS ix_attempts_tenant_created ON attempts (tenant_id, created_at);
