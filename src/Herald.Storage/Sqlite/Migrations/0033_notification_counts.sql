-- The console overview's counts (issue #19, docs/CONSOLE.md "Overview"): notifications per 15-minute bucket of their
-- creation (unix ms), by tenant, channel (-1: none yet), status and priority, recounted by a background job.
CREATE TABLE notification_counts (
    bucket INTEGER NOT NULL,
    tenant_id TEXT NOT NULL,
    channel INTEGER NOT NULL,
    status INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    count INTEGER NOT NULL
);
CREATE INDEX notification_counts_tenant_bucket ON notification_counts (tenant_id, bucket);
CREATE INDEX notification_counts_bucket ON notification_counts (bucket);

CREATE TABLE notification_count_buckets (
    bucket INTEGER PRIMARY KEY,
    counted_at INTEGER NOT NULL,
    open INTEGER NOT NULL
);
