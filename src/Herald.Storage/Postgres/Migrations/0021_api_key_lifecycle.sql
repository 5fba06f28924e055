-- API keys get a lifecycle (issue #17): a name saying who or what holds the key, an optional expiry, and when it was
-- last used (approximate: each node flushes its in-memory batch about once a minute, never a write per request).
-- Keys made before this migration are named after their display prefix, so listings can still tell them apart.
ALTER TABLE api_keys ADD COLUMN name text;
UPDATE api_keys SET name = 'key ' || prefix;
ALTER TABLE api_keys ALTER COLUMN name SET NOT NULL;
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
