-- The overview's fallback rate and accept→delivered percentiles at 10,000,000 notifications (issue #19,
-- docs/CONSOLE.md "The overview's query").
-- When a notification became delivered, on Herald's clock (the delivery update's time, as the
-- herald.delivery.accept_to_delivered metric): set once by the delivery store, never moved by a later receipt. Null for
-- notifications delivered before this migration and for every other status. Nullable, no default: no table rewrite.
ALTER TABLE notifications ADD COLUMN delivered_at timestamptz;

-- Of a count group's notifications, those whose route moved past its first step (the first channel failed, timed out,
-- or was skipped): the fallbacks.
ALTER TABLE notification_counts ADD COLUMN fallbacks bigint NOT NULL DEFAULT 0;

-- Accept→delivered per 15-minute bucket of creation and tenant, as a fixed log-scale histogram (LatencyBins: bin i
-- holds latencies under 2^(i/3) ms and not under bin i-1's bound; the last bin everything from 2^22 ms on). Recounted
-- with the bucket's counts.
CREATE TABLE notification_latency_counts (
    bucket timestamptz NOT NULL,
    tenant_id uuid NOT NULL,
    bin smallint NOT NULL,
    count bigint NOT NULL
);
CREATE INDEX notification_latency_counts_tenant_bucket ON notification_latency_counts (tenant_id, bucket);
CREATE INDEX notification_latency_counts_bucket ON notification_latency_counts (bucket);

-- Buckets counted before this migration have neither: counting them again (the next rounds backfill a week) fills both.
DELETE FROM notification_count_buckets;
