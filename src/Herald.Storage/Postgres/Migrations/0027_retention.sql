-- Per-tenant retention of delivery records (issue #17, docs/OPERATIONS.md "Retention"): null = the default, 90 days.
-- The purge deletes by id range (ids are UUIDv7) on indexes that already exist: no new index on the hot tables.
ALTER TABLE tenants ADD COLUMN retention_days int CHECK (retention_days BETWEEN 1 AND 3650);
