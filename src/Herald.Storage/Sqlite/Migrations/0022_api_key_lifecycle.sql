-- API keys get a lifecycle, as in PostgreSQL: a name, an optional expiry, and an approximate last use (flushed in
-- batches, never a write per request). Keys made before this migration are named after their display prefix.
ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT '';
UPDATE api_keys SET name = 'key ' || prefix;
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
