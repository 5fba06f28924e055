-- Outbound status webhooks: endpoints, a transactional outbox of final-state events filled by triggers, and
-- deliveries (one per event and endpoint) with their retry state. Times are unix milliseconds, ids text.

CREATE TABLE webhook_endpoints (
    id          TEXT    NOT NULL PRIMARY KEY,
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id),
    url         TEXT    NOT NULL,
    secret      TEXT    NOT NULL, -- encrypted by the application
    statuses    TEXT    NOT NULL, -- JSON array of final statuses to report; [] = all
    enabled     INTEGER NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX ix_webhook_endpoints_tenant ON webhook_endpoints (tenant_id);

CREATE TABLE webhook_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT    NOT NULL,
    notification_id TEXT    NOT NULL,
    status          INTEGER NOT NULL,
    occurred_at     INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               TEXT    NOT NULL PRIMARY KEY,
    tenant_id        TEXT    NOT NULL,
    endpoint_id      TEXT    NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         TEXT    NOT NULL,
    notification_id  TEXT    NOT NULL,
    status           INTEGER NOT NULL,
    occurred_at      INTEGER NOT NULL,
    state            INTEGER NOT NULL, -- 0 pending, 1 succeeded, 2 dead
    attempts         INTEGER NOT NULL,
    next_attempt_at  INTEGER,
    last_status_code INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX ix_webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 0;
CREATE INDEX ix_webhook_deliveries_tenant ON webhook_deliveries (tenant_id, id);
CREATE INDEX ix_webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id);

-- Statuses 3 and above are final (delivered, failed, expired, suppressed, cancelled).
CREATE TRIGGER notifications_final_inserted AFTER INSERT ON notifications
FOR EACH ROW WHEN NEW.status >= 3 AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.tenant_id = NEW.tenant_id AND e.enabled = 1)
BEGIN
    INSERT INTO webhook_events (tenant_id, notification_id, status, occurred_at) VALUES (NEW.tenant_id, NEW.id, NEW.status, NEW.updated_at);
END;

CREATE TRIGGER notifications_final_updated AFTER UPDATE OF status ON notifications
FOR EACH ROW WHEN NEW.status >= 3 AND OLD.status < 3 AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.tenant_id = NEW.tenant_id AND e.enabled = 1)
BEGIN
    INSERT INTO webhook_events (tenant_id, notification_id, status, occurred_at) VALUES (NEW.tenant_id, NEW.id, NEW.status, NEW.updated_at);
END;
