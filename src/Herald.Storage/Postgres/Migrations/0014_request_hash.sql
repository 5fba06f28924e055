-- A fingerprint of the request that took a dedupe key (Idempotency-Key or externalId), so a repeat with another body
-- answers 422 instead of the original (issue #13). NULL for rows stored before it: their repeats answer 200 as before.
ALTER TABLE notifications ADD COLUMN request_hash bytea;
