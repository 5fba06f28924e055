-- Provider pools: settings may now hold the encrypted envelope of the whole settings JSON (ISecretProtector,
-- context provider:{id}); rows written before keep their plaintext JSON until their next write.
-- The price table: {"currency":"EUR","prices":{"*":0.05,"DE":0.07}}; null = no prices.
ALTER TABLE provider_accounts ADD COLUMN prices TEXT;
-- Deleted accounts stay for the attempts and cost reports that reference them (unix ms).
ALTER TABLE provider_accounts ADD COLUMN deleted_at INTEGER;
-- Isolated by hand (POST /v1/providers/{id}/isolate): every node keeps the account's circuit open until reset.
ALTER TABLE provider_accounts ADD COLUMN isolated INTEGER NOT NULL DEFAULT 0;
