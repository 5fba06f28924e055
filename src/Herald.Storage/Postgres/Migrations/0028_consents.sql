-- Keywords and the consent ledger (issue #16, docs/TWO-WAY.md "Keywords" and "Consent ledger").

-- A tenant's keywords and answers as a JSON document; null = the built-in defaults.
ALTER TABLE tenants ADD COLUMN keywords jsonb;

-- The consent ledger: append-only evidence of who opted out of (or back into) what, how and when. Routing honours the
-- latest entry per (channel, address, type). Retention never purges it; erasure only replaces the address.
CREATE TABLE consents (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    customer_id  text,
    channel      smallint NOT NULL,
    address      text NOT NULL,
    type         text,
    action       smallint NOT NULL,
    source       smallint NOT NULL,
    actor        text NOT NULL,
    recorded_at  timestamptz NOT NULL,
    message_id   uuid,
    -- The keyword message's account and vendor id: a vendor's retry of a STOP records nothing twice.
    inbound_ref  text
);
CREATE UNIQUE INDEX consents_inbound ON consents (tenant_id, inbound_ref) WHERE inbound_ref IS NOT NULL;
CREATE INDEX consents_tenant ON consents (tenant_id, id);
CREATE INDEX consents_address ON consents (tenant_id, channel, address, id);
CREATE INDEX consents_customer ON consents (tenant_id, customer_id, id) WHERE customer_id IS NOT NULL;

-- Append-only, guarded by the database itself: no delete, and the only update is erasure's redaction of the address.
CREATE FUNCTION herald_consents_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.address = '[erased]'
       AND (NEW.id, NEW.tenant_id, NEW.channel, NEW.type, NEW.action, NEW.source, NEW.actor, NEW.recorded_at, NEW.message_id)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.tenant_id, OLD.channel, OLD.type, OLD.action, OLD.source, OLD.actor, OLD.recorded_at, OLD.message_id) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the consent ledger is append-only' USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER consents_append_only BEFORE UPDATE OR DELETE ON consents
    FOR EACH ROW EXECUTE FUNCTION herald_consents_append_only();

-- customer.consent webhook events travel the status events' outbox, as customer messages do: consent_id names the
-- ledger entry, status is -2 (a consent event: no status, see WebhookEventStatus), notification_id the nil uuid. An
-- endpoint's status filter applies to status events only.
ALTER TABLE webhook_events ADD COLUMN consent_id uuid;
ALTER TABLE webhook_deliveries ADD COLUMN consent_id uuid;

CREATE FUNCTION herald_capture_consent_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.tenant_id = NEW.tenant_id AND e.enabled) THEN
        INSERT INTO webhook_events (tenant_id, notification_id, status, occurred_at, consent_id)
        VALUES (NEW.tenant_id, '00000000-0000-0000-0000-000000000000', -2, NEW.recorded_at, NEW.id);
    END IF;
    RETURN NULL;
END
$$;

-- Fires for rows really inserted: a vendor's retry of a STOP skipped by ON CONFLICT DO NOTHING is not reported twice.
CREATE TRIGGER consents_inserted AFTER INSERT ON consents
    FOR EACH ROW EXECUTE FUNCTION herald_capture_consent_event();
