-- Fair dispatch within a lane: each tenant's entries of a lane are one range of (lane, tenant_id, due_at), which a
-- claim visits tenant by tenant. It replaces ix_queue_lane_due (same number of indexes to maintain).
CREATE INDEX ix_queue_fair ON queue (lane, tenant_id, due_at);
DROP INDEX ix_queue_lane_due;
-- Aging is fair too: per tenant, its oldest aged entries.
CREATE INDEX ix_queue_aging ON queue (lane, tenant_id, enqueued_at);
DROP INDEX ix_queue_lane_enqueued;

-- The operator's per-tenant settings: weight in its lanes and ingest quotas (NULL: the configured default).
ALTER TABLE tenants ADD COLUMN weight INTEGER NOT NULL DEFAULT 100 CHECK (weight BETWEEN 1 AND 10000);
ALTER TABLE tenants ADD COLUMN requests_per_second REAL CHECK (requests_per_second > 0);
ALTER TABLE tenants ADD COLUMN notifications_per_second REAL CHECK (notifications_per_second > 0);
ALTER TABLE tenants ADD COLUMN backlog_limit INTEGER CHECK (backlog_limit > 0);
