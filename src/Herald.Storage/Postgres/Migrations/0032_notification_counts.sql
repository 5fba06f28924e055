-- The console overview's counts at 10,000,000 notifications (issue #19, docs/CONSOLE.md "Overview"): notifications per
-- 15-minute bucket of their creation, by tenant, channel, status and priority, recounted by a background job (recent
-- buckets every round, older ones while they still hold notifications that are not final), so the 24 h and 7 d ranges
-- read at most 672 buckets instead of millions of rows. channel -1: not routed to a channel yet.
CREATE TABLE notification_counts (
    bucket timestamptz NOT NULL,
    tenant_id uuid NOT NULL,
    channel smallint NOT NULL,
    status smallint NOT NULL,
    priority smallint NOT NULL,
    count bigint NOT NULL
);
CREATE INDEX notification_counts_tenant_bucket ON notification_counts (tenant_id, bucket);
CREATE INDEX notification_counts_bucket ON notification_counts (bucket);

-- Which buckets have been counted, when, and how many of their notifications were not final then.
CREATE TABLE notification_count_buckets (
    bucket timestamptz PRIMARY KEY,
    counted_at timestamptz NOT NULL,
    open bigint NOT NULL
);
