-- Herald's initial schema. Enums are stored as smallint (their numeric value); routes and contacts as jsonb.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    source_id   uuid,
    roles       text[] NOT NULL,
    key_hash    bytea NOT NULL UNIQUE,
    prefix      text NOT NULL,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE provider_accounts (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    channel     smallint NOT NULL,
    kind        text NOT NULL,
    name        text NOT NULL,
    settings    jsonb NOT NULL,
    weight      int NOT NULL,
    enabled     boolean NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX provider_accounts_tenant ON provider_accounts (tenant_id);

-- The system of record. No foreign keys on the ingest path: a per-row key check takes a share lock on the
-- tenant row, which turns into multixact churn at tens of thousands of inserts per second.
-- Indexes stay minimal and never cover columns a transition changes (status, step, version, updated_at...),
-- so state updates are HOT; fillfactor leaves room on each page for them.
CREATE TABLE notifications (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL,
    source_id           uuid,
    type                text NOT NULL,
    customer_id         text,
    contacts            jsonb NOT NULL,
    data                jsonb NOT NULL,
    priority            smallint NOT NULL,
    expires_at          timestamptz,
    external_id         text,
    dedupe_key          text,
    route               jsonb NOT NULL,
    status              smallint NOT NULL,
    channel             smallint,
    step                int NOT NULL,
    retries             int NOT NULL,
    awaited_attempt_id  uuid,
    version             int NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
) WITH (fillfactor = 80);
CREATE UNIQUE INDEX notifications_dedupe ON notifications (tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
-- Search and keyset paging: ids are UUIDv7, so id order is creation order.
CREATE INDEX notifications_tenant_id ON notifications (tenant_id, id DESC);

CREATE TABLE attempts (
    id                   uuid PRIMARY KEY,
    notification_id      uuid NOT NULL,
    tenant_id            uuid NOT NULL,
    step                 int NOT NULL,
    channel              smallint NOT NULL,
    provider_id          uuid,
    provider_name        text,
    provider_message_id  text,
    state                smallint NOT NULL,
    failure_kind         text,
    error_code           text,
    error                text,
    cost                 numeric,
    created_at           timestamptz NOT NULL,
    sent_at              timestamptz,
    delivered_at         timestamptz,
    updated_at           timestamptz NOT NULL
) WITH (fillfactor = 85);
CREATE INDEX attempts_notification ON attempts (notification_id);
-- Not unique: two providers may hand out the same message id.
CREATE INDEX attempts_provider_message ON attempts (provider_message_id) WHERE provider_message_id IS NOT NULL;

-- The durable queue: one row per unfinished notification, deleted when it is final. Small and hot, so it is
-- vacuumed after a fixed number of dead rows rather than a fraction of its size, without cost throttling.
CREATE TABLE queue (
    notification_id  uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    lane             smallint NOT NULL,
    due_at           timestamptz NOT NULL,
    enqueued_at      timestamptz NOT NULL
) WITH (
    fillfactor = 70,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 1000,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 5000,
    autovacuum_vacuum_cost_delay = 0
);
CREATE INDEX queue_due ON queue (lane, due_at);
-- Aging scans only the lanes that age.
CREATE INDEX queue_aging ON queue (lane, enqueued_at) WHERE lane >= 2;

CREATE TABLE pending_receipts (
    provider_message_id  text PRIMARY KEY,
    state                smallint NOT NULL,
    error_code           text,
    error                text,
    received_at          timestamptz NOT NULL
);
CREATE INDEX pending_receipts_received ON pending_receipts (received_at);
