-- Outbound status webhooks: endpoints, a transactional outbox of final-state events filled by a trigger, and
-- deliveries (one per event and endpoint) with their retry state.

-- A time-ordered (version 7) UUID, so deliveries created in SQL page by id like everything else.
CREATE FUNCTION herald_uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
        placing substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
        52, 1), 53, 1), 'hex')::uuid
$$;

CREATE TABLE webhook_endpoints (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    url         text NOT NULL,
    secret      text NOT NULL,      -- encrypted by the application
    statuses    smallint[] NOT NULL, -- final statuses to report; empty = all
    enabled     boolean NOT NULL,
    description text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id);

-- The outbox. Rows live for a moment: the dispatcher fans them out into deliveries and deletes them.
CREATE TABLE webhook_events (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              uuid NOT NULL DEFAULT herald_uuid_v7(),
    tenant_id       uuid NOT NULL,
    notification_id uuid NOT NULL,
    status          smallint NOT NULL,
    occurred_at     timestamptz NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0.01);

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL,
    notification_id  uuid NOT NULL,
    status           smallint NOT NULL,
    occurred_at      timestamptz NOT NULL,
    state            smallint NOT NULL, -- 0 pending, 1 succeeded, 2 dead
    attempts         int NOT NULL,
    next_attempt_at  timestamptz,
    last_status_code int,
    last_error       text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 0;
CREATE INDEX webhook_deliveries_tenant ON webhook_deliveries (tenant_id, id);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id);

-- Statuses 3 and above are final (delivered, failed, expired, suppressed, cancelled). The WHEN clauses keep the
-- ingest and delivery hot paths free of any function call unless a notification becomes final.
CREATE FUNCTION herald_capture_webhook_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.tenant_id = NEW.tenant_id AND e.enabled) THEN
        INSERT INTO webhook_events (tenant_id, notification_id, status, occurred_at)
        VALUES (NEW.tenant_id, NEW.id, NEW.status, NEW.updated_at);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER notifications_final_inserted AFTER INSERT ON notifications
    FOR EACH ROW WHEN (NEW.status >= 3) EXECUTE FUNCTION herald_capture_webhook_event();
CREATE TRIGGER notifications_final_updated AFTER UPDATE OF status ON notifications
    FOR EACH ROW WHEN (NEW.status >= 3 AND OLD.status < 3) EXECUTE FUNCTION herald_capture_webhook_event();
