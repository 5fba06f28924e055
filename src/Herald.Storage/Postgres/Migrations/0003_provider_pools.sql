-- Provider pools: settings hold the encrypted envelope of the whole settings JSON (ISecretProtector, context
-- provider:{id}), so the column becomes text; rows written before keep their plaintext JSON until their next write.
ALTER TABLE provider_accounts ALTER COLUMN settings TYPE text USING settings::text;
-- The price table: {"currency":"EUR","prices":{"*":0.05,"DE":0.07}}; null = no prices.
ALTER TABLE provider_accounts ADD COLUMN prices jsonb;
-- Deleted accounts stay for the attempts and cost reports that reference them.
ALTER TABLE provider_accounts ADD COLUMN deleted_at timestamptz;
-- Isolated by hand (POST /v1/providers/{id}/isolate): every node keeps the account's circuit open until reset.
ALTER TABLE provider_accounts ADD COLUMN isolated boolean NOT NULL DEFAULT false;
