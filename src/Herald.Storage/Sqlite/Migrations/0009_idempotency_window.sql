-- Idempotency keys hold for a window (SPEC §2: 7 days); this index finds the keys that have aged out.
CREATE INDEX ix_notifications_dedupe_age ON notifications (created_at) WHERE dedupe_key IS NOT NULL;
