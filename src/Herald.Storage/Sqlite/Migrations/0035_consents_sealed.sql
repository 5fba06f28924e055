-- The consent ledger's addresses at rest (issue #17): see the PostgreSQL migration 0034_consents_sealed.sql.
ALTER TABLE consents ADD COLUMN sealed BLOB;
ALTER TABLE consents ADD COLUMN address_hash BLOB;
CREATE INDEX ix_consents_address_hash ON consents (tenant_id, channel, address_hash, id) WHERE address_hash IS NOT NULL;

-- Still append-only: the facts never change; the address's three columns only as erasure, sealing a plaintext entry or
-- re-sealing under a newer data key do (as in PostgreSQL).
DROP TRIGGER consents_no_update;
CREATE TRIGGER consents_no_update BEFORE UPDATE ON consents
WHEN NEW.id IS NOT OLD.id OR NEW.tenant_id IS NOT OLD.tenant_id OR NEW.customer_id IS NOT OLD.customer_id
  OR NEW.channel IS NOT OLD.channel OR NEW.type IS NOT OLD.type OR NEW.action IS NOT OLD.action OR NEW.source IS NOT OLD.source
  OR NEW.actor IS NOT OLD.actor OR NEW.recorded_at IS NOT OLD.recorded_at OR NEW.message_id IS NOT OLD.message_id
  OR NEW.inbound_ref IS NOT OLD.inbound_ref
  OR NOT ((NEW.address = '[erased]' AND NEW.sealed IS NULL AND NEW.address_hash IS NULL)
          OR (OLD.sealed IS NULL AND OLD.address <> '[erased]' AND NEW.address = ''
              AND NEW.sealed IS NOT NULL AND NEW.address_hash IS NOT NULL)
          OR (OLD.sealed IS NOT NULL AND NEW.address = '' AND NEW.sealed IS NOT NULL AND NEW.address_hash IS OLD.address_hash))
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;
