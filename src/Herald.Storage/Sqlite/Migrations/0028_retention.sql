-- Per-tenant retention of delivery records (issue #17, docs/OPERATIONS.md "Retention"): null = the default, 90 days.
ALTER TABLE tenants ADD COLUMN retention_days INTEGER CHECK (retention_days BETWEEN 1 AND 3650);
