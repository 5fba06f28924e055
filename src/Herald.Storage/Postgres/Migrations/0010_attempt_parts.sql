-- Issue #3: the parts of multi-part SMS attempts, and cost reports by tenant and time.

-- One row per part of a concatenated SMS (SMPP: one submit_sm and one SMSC message id per part). Single-part
-- messages have no rows. No foreign key to attempts: a failover attempt's parts are recorded before the attempt
-- row is written. state is the part's receipt (ReceiptState: 0 sent = no final receipt yet, 1 delivered, 3 failed).
CREATE TABLE attempt_parts (
    attempt_id           uuid NOT NULL,
    part_index           int NOT NULL,
    parts                int NOT NULL,
    provider_id          uuid NOT NULL,
    provider_message_id  text NOT NULL,
    state                smallint NOT NULL,
    error_code           text,
    error                text,
    received_at          timestamptz,
    created_at           timestamptz NOT NULL,
    PRIMARY KEY (attempt_id, part_index)
);
-- Receipt lookup by the part's message id. Not unique: two providers may hand out the same id.
CREATE INDEX attempt_parts_message ON attempt_parts (provider_message_id);

-- GET /v1/reports/costs reads one tenant's attempts in a time window. Both columns never change after the insert,
-- so attempt state updates stay HOT.
-- IF NOT EXISTS: on a large table, an operator may build it first with CREATE INDEX CONCURRENTLY (same name), so
-- that this migration does not block attempt writes while it builds.
CREATE INDEX IF NOT EXISTS attempts_tenant_created ON attempts (tenant_id, created_at);
