-- Fair dispatch within a lane (docs/OPERATIONS.md "Tenant weights and quotas"): each tenant's entries of a lane are
-- one range of (lane, tenant_id, due_at), so a claim visits the tenants present in a lane with a loose index scan
-- (one probe per tenant) and takes a weighted share of the batch from each range. It replaces queue_due, so a
-- lease or an insert still maintains the same number of queue indexes.
CREATE INDEX queue_fair ON queue (lane, tenant_id, due_at);
DROP INDEX queue_due;
-- Aging is fair too (IDeliveryStore.PromoteAgedAsync): per tenant, its oldest aged entries.
CREATE INDEX queue_aging_tenant ON queue (lane, tenant_id, enqueued_at) WHERE lane >= 2;
DROP INDEX queue_aging;

-- The operator's per-tenant settings: the tenant's weight in its lanes, and its ingest quotas (NULL: the configured
-- default, Herald:Quotas).
ALTER TABLE tenants
    ADD COLUMN weight                    integer NOT NULL DEFAULT 100 CHECK (weight BETWEEN 1 AND 10000),
    ADD COLUMN requests_per_second       double precision CHECK (requests_per_second > 0),
    ADD COLUMN notifications_per_second  double precision CHECK (notifications_per_second > 0),
    ADD COLUMN backlog_limit             bigint CHECK (backlog_limit > 0);
