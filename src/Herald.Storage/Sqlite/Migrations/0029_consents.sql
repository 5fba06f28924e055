-- Keywords and the consent ledger (issue #16), as in PostgreSQL.
ALTER TABLE tenants ADD COLUMN keywords TEXT;

CREATE TABLE consents (
    id           TEXT    NOT NULL PRIMARY KEY,
    tenant_id    TEXT    NOT NULL,
    customer_id  TEXT,
    channel      INTEGER NOT NULL,
    address      TEXT    NOT NULL,
    type         TEXT,
    action       INTEGER NOT NULL,
    source       INTEGER NOT NULL,
    actor        TEXT    NOT NULL,
    recorded_at  INTEGER NOT NULL,
    message_id   TEXT,
    inbound_ref  TEXT
);
CREATE UNIQUE INDEX ix_consents_inbound ON consents (tenant_id, inbound_ref) WHERE inbound_ref IS NOT NULL;
CREATE INDEX ix_consents_tenant ON consents (tenant_id, id);
CREATE INDEX ix_consents_address ON consents (tenant_id, channel, address, id);
CREATE INDEX ix_consents_customer ON consents (tenant_id, customer_id, id) WHERE customer_id IS NOT NULL;

-- Append-only: no delete, and the only update is erasure's redaction of the address.
CREATE TRIGGER consents_no_delete BEFORE DELETE ON consents
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;
CREATE TRIGGER consents_no_update BEFORE UPDATE ON consents
WHEN NEW.address <> '[erased]' OR NEW.id IS NOT OLD.id OR NEW.tenant_id IS NOT OLD.tenant_id OR NEW.channel IS NOT OLD.channel
  OR NEW.type IS NOT OLD.type OR NEW.action IS NOT OLD.action OR NEW.source IS NOT OLD.source OR NEW.actor IS NOT OLD.actor
  OR NEW.recorded_at IS NOT OLD.recorded_at OR NEW.message_id IS NOT OLD.message_id
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;

-- customer.consent webhook events, as in PostgreSQL (status -2, notification_id the nil uuid).
ALTER TABLE webhook_events ADD COLUMN consent_id TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN consent_id TEXT;

CREATE TRIGGER consents_inserted AFTER INSERT ON consents
FOR EACH ROW WHEN EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.tenant_id = NEW.tenant_id AND e.enabled = 1)
BEGIN
    INSERT INTO webhook_events (tenant_id, notification_id, status, occurred_at, consent_id)
    VALUES (NEW.tenant_id, '00000000-0000-0000-0000-000000000000', -2, NEW.recorded_at, NEW.id);
END;
