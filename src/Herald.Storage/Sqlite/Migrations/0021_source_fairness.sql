-- Fair within a tenant too, as in PostgreSQL: a tenant's entries of a lane are split into flows, the source they
-- came through or the tenant itself for the plain API, and a claim visits (lane, tenant, flow).
ALTER TABLE queue ADD COLUMN flow_id TEXT NOT NULL DEFAULT '';
UPDATE queue SET flow_id = coalesce((SELECT n.source_id FROM notifications n WHERE n.id = queue.notification_id), tenant_id);
DROP INDEX ix_queue_fair;
CREATE INDEX ix_queue_fair ON queue (lane, tenant_id, flow_id, due_at);
