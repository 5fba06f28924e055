-- The overview's fallback rate and accept→delivered percentiles (issue #19, docs/CONSOLE.md "The overview's query"):
-- when a notification became delivered (unix ms, Herald's clock, set once by the delivery store), fallbacks per count
-- group (route moved past its first step), and a log-scale latency histogram per bucket and tenant (LatencyBins).
ALTER TABLE notifications ADD COLUMN delivered_at INTEGER;

ALTER TABLE notification_counts ADD COLUMN fallbacks INTEGER NOT NULL DEFAULT 0;

CREATE TABLE notification_latency_counts (
    bucket INTEGER NOT NULL,
    tenant_id TEXT NOT NULL,
    bin INTEGER NOT NULL,
    count INTEGER NOT NULL
);
CREATE INDEX notification_latency_counts_tenant_bucket ON notification_latency_counts (tenant_id, bucket);
CREATE INDEX notification_latency_counts_bucket ON notification_latency_counts (bucket);

-- Buckets counted before this migration have neither: counting them again fills both.
DELETE FROM notification_count_buckets;
