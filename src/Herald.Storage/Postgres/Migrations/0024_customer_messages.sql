-- Two-way messaging (issue #16): what customers send in. A reply names the notification it answers; an unlinked
-- message has none and belongs to the tenant of the provider account it came through. A vendor's retry of the same
-- inbound message is recognised by (account, provider message id).
CREATE TABLE customer_messages (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL,
    account_id          uuid NOT NULL,
    channel             smallint NOT NULL,
    sender              text NOT NULL,
    provider_message_id text NOT NULL,
    notification_id     uuid,
    action_id           text,
    text                text,
    late                boolean NOT NULL,
    customer_id         text,
    received_at         timestamptz NOT NULL
);
CREATE UNIQUE INDEX customer_messages_provider ON customer_messages (account_id, provider_message_id);
CREATE INDEX customer_messages_notification ON customer_messages (notification_id) WHERE notification_id IS NOT NULL;
CREATE INDEX customer_messages_customer ON customer_messages (tenant_id, customer_id, id) WHERE customer_id IS NOT NULL;
CREATE INDEX customer_messages_sender ON customer_messages (tenant_id, sender, id);

-- Inbound events travel the status events' outbox: message_id names the stored message, status is -1 (no status),
-- notification_id the notification answered or the nil uuid for an unlinked message. An endpoint's status filter
-- applies to status events only.
ALTER TABLE webhook_events ADD COLUMN message_id uuid;
ALTER TABLE webhook_deliveries ADD COLUMN message_id uuid;

CREATE FUNCTION herald_capture_message_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.tenant_id = NEW.tenant_id AND e.enabled) THEN
        INSERT INTO webhook_events (tenant_id, notification_id, status, occurred_at, message_id)
        VALUES (NEW.tenant_id, coalesce(NEW.notification_id, '00000000-0000-0000-0000-000000000000'), -1, NEW.received_at, NEW.id);
    END IF;
    RETURN NULL;
END
$$;

-- Fires for rows really inserted: a vendor's retry skipped by ON CONFLICT DO NOTHING is not reported twice.
CREATE TRIGGER customer_messages_inserted AFTER INSERT ON customer_messages
    FOR EACH ROW EXECUTE FUNCTION herald_capture_message_event();
