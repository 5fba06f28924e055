-- The consent ledger's addresses at rest (issue #17, docs/SECURITY.md "Encryption at rest"): sealed with the tenant's
-- data key (ConsentSeal), column address '' for sealed entries, and looked up by the tenant's keyed hash. Entries from
-- before keep sealed NULL and their plaintext address until `herald reencrypt` seals them.
ALTER TABLE consents ADD COLUMN sealed bytea, ADD COLUMN address_hash bytea;
CREATE INDEX consents_address_hash ON consents (tenant_id, channel, address_hash, id) WHERE address_hash IS NOT NULL;

-- Still append-only: besides the facts (every column but the address's three), an update may only
-- - erase: address '[erased]', no envelope, no hash (nothing left confirms which address it was);
-- - seal a plaintext entry (herald reencrypt): address '', an envelope and a hash;
-- - re-seal under a newer data key (herald reencrypt after a rotation): a new envelope, the same hash.
-- The envelope is authenticated with the tenant's key and bound to the entry's id: a value forged or copied from another
-- row does not open, so the re-encryption's cases cannot put a readable other address into an entry.
CREATE OR REPLACE FUNCTION herald_consents_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.id, NEW.tenant_id, NEW.customer_id, NEW.channel, NEW.type, NEW.action, NEW.source, NEW.actor, NEW.recorded_at,
            NEW.message_id, NEW.inbound_ref)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.tenant_id, OLD.customer_id, OLD.channel, OLD.type, OLD.action, OLD.source, OLD.actor, OLD.recorded_at,
            OLD.message_id, OLD.inbound_ref)
       AND ((NEW.address = '[erased]' AND NEW.sealed IS NULL AND NEW.address_hash IS NULL)
            OR (OLD.sealed IS NULL AND OLD.address <> '[erased]' AND NEW.address = ''
                AND NEW.sealed IS NOT NULL AND NEW.address_hash IS NOT NULL)
            OR (OLD.sealed IS NOT NULL AND NEW.address = '' AND NEW.sealed IS NOT NULL
                AND NEW.address_hash IS NOT DISTINCT FROM OLD.address_hash)) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the consent ledger is append-only' USING ERRCODE = 'integrity_constraint_violation';
END
$$;
