-- herald: foreign_keys off
-- The store contract: AcceptAsync does not check that the tenant exists (PostgreSQL keeps foreign keys off the
-- ingest path for speed, and the API only ever names existing tenants). So notifications lose their foreign key
-- to tenants, by SQLite's table-rebuild procedure; everything else about the table stays as it was.

CREATE TABLE notifications_rebuilt (
    id                 TEXT    NOT NULL PRIMARY KEY,
    tenant_id          TEXT    NOT NULL,
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

INSERT INTO notifications_rebuilt (id, tenant_id, source_id, type, customer_id, contacts, data, priority, expires_at, external_id,
                                   dedupe_key, route, status, channel, step, retries, awaited_attempt_id, version, created_at, updated_at)
SELECT id, tenant_id, source_id, type, customer_id, contacts, data, priority, expires_at, external_id,
       dedupe_key, route, status, channel, step, retries, awaited_attempt_id, version, created_at, updated_at
FROM notifications;

DROP TABLE notifications;
ALTER TABLE notifications_rebuilt RENAME TO notifications;

CREATE UNIQUE INDEX ux_notifications_dedupe ON notifications (tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
-- Search is always per tenant, newest (highest id) first.
CREATE INDEX ix_notifications_tenant_id ON notifications (tenant_id, id);
