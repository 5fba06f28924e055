-- Two-way messaging (issue #16), as in PostgreSQL: what customers send in, and its webhook event in the same outbox
-- as status events (status -1, notification_id the nil uuid for an unlinked message).
CREATE TABLE customer_messages (
    id                  TEXT    NOT NULL PRIMARY KEY,
    tenant_id           TEXT    NOT NULL,
    account_id          TEXT    NOT NULL,
    channel             INTEGER NOT NULL,
    sender              TEXT    NOT NULL,
    provider_message_id TEXT    NOT NULL,
    notification_id     TEXT,
    action_id           TEXT,
    text                TEXT,
    late                INTEGER NOT NULL,
    customer_id         TEXT,
    received_at         INTEGER NOT NULL
);
CREATE UNIQUE INDEX ix_customer_messages_provider ON customer_messages (account_id, provider_message_id);
CREATE INDEX ix_customer_messages_notification ON customer_messages (notification_id) WHERE notification_id IS NOT NULL;
CREATE INDEX ix_customer_messages_customer ON customer_messages (tenant_id, customer_id, id) WHERE customer_id IS NOT NULL;
CREATE INDEX ix_customer_messages_sender ON customer_messages (tenant_id, sender, id);

ALTER TABLE webhook_events ADD COLUMN message_id TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN message_id TEXT;

CREATE TRIGGER customer_messages_inserted AFTER INSERT ON customer_messages
FOR EACH ROW WHEN EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.tenant_id = NEW.tenant_id AND e.enabled = 1)
BEGIN
    INSERT INTO webhook_events (tenant_id, notification_id, status, occurred_at, message_id)
    VALUES (NEW.tenant_id, coalesce(NEW.notification_id, '00000000-0000-0000-0000-000000000000'), -1, NEW.received_at, NEW.id);
END;
