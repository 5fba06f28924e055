-- Herald embedded schema (SQLite). Conventions:
--   ids      TEXT, canonical lowercase GUID ("d" format); for UUIDv7 ids the text order is time order.
--   times    INTEGER, unix milliseconds UTC.
--   enums    INTEGER, the enum's value (values are stable, see Herald.Core).
--   json     TEXT.
--   money    TEXT, invariant decimal, so costs stay exact.

CREATE TABLE tenants (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
    source_id  TEXT,
    roles      TEXT    NOT NULL, -- JSON array of role names
    key_hash   BLOB    NOT NULL UNIQUE,
    prefix     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX ix_api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE provider_accounts (
    id         TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
    channel    INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    settings   TEXT    NOT NULL, -- JSON object
    weight     INTEGER NOT NULL,
    enabled    INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX ix_provider_accounts_tenant ON provider_accounts (tenant_id);

CREATE TABLE notifications (
    id                 TEXT    NOT NULL PRIMARY KEY,
    tenant_id          TEXT    NOT NULL REFERENCES tenants (id),
    source_id          TEXT,
    type               TEXT    NOT NULL,
    customer_id        TEXT,
    contacts           TEXT    NOT NULL, -- JSON
    data               TEXT    NOT NULL, -- JSON
    priority           INTEGER NOT NULL, -- the route's priority
    expires_at         INTEGER,
    external_id        TEXT,
    dedupe_key         TEXT,
    route              TEXT    NOT NULL, -- JSON
    status             INTEGER NOT NULL,
    channel            INTEGER,
    step               INTEGER NOT NULL,
    retries            INTEGER NOT NULL,
    awaited_attempt_id TEXT,
    version            INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE UNIQUE INDEX ux_notifications_dedupe ON notifications (tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
-- Search is always per tenant, newest (highest id) first.
CREATE INDEX ix_notifications_tenant_id ON notifications (tenant_id, id);

CREATE TABLE attempts (
    id                  TEXT    NOT NULL PRIMARY KEY,
    notification_id     TEXT    NOT NULL REFERENCES notifications (id),
    tenant_id           TEXT    NOT NULL,
    step                INTEGER NOT NULL,
    channel             INTEGER NOT NULL,
    provider_id         TEXT,
    provider_name       TEXT,
    provider_message_id TEXT,
    state               INTEGER NOT NULL,
    failure_kind        TEXT,
    error_code          TEXT,
    error               TEXT,
    cost                TEXT,
    created_at          INTEGER NOT NULL,
    sent_at             INTEGER,
    delivered_at        INTEGER,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX ix_attempts_notification ON attempts (notification_id);
CREATE INDEX ix_attempts_provider_message ON attempts (provider_message_id) WHERE provider_message_id IS NOT NULL;

-- The durable priority queue: one entry per unfinished notification. lane = Priority (0 critical .. 3 low).
CREATE TABLE queue (
    notification_id TEXT    NOT NULL PRIMARY KEY REFERENCES notifications (id),
    tenant_id       TEXT    NOT NULL,
    lane            INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    enqueued_at     INTEGER NOT NULL
);
CREATE INDEX ix_queue_lane_due ON queue (lane, due_at);
-- Aging scans the normal and low lanes by enqueue time.
CREATE INDEX ix_queue_lane_enqueued ON queue (lane, enqueued_at);

CREATE TABLE pending_receipts (
    provider_message_id TEXT    NOT NULL PRIMARY KEY,
    state               INTEGER NOT NULL,
    error_code          TEXT,
    error               TEXT,
    received_at         INTEGER NOT NULL
);
CREATE INDEX ix_pending_receipts_received ON pending_receipts (received_at);
