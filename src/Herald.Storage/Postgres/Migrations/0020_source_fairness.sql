-- Fair within a tenant too (docs/OPERATIONS.md "Tenant weights and quotas"): a tenant's entries of a lane are split
-- into flows, the source they came through or the tenant itself for the plain API, so one source's burst does not
-- hold back the tenant's other sources. The claim visits (lane, tenant, flow) with a loose index scan; queue_fair
-- keeps its name and its place as the one claim index.
ALTER TABLE queue ADD COLUMN flow_id uuid;
UPDATE queue q SET flow_id = coalesce(n.source_id, q.tenant_id) FROM notifications n WHERE n.id = q.notification_id;
UPDATE queue SET flow_id = tenant_id WHERE flow_id IS NULL;
ALTER TABLE queue ALTER COLUMN flow_id SET NOT NULL;
DROP INDEX queue_fair;
CREATE INDEX queue_fair ON queue (lane, tenant_id, flow_id, due_at);
