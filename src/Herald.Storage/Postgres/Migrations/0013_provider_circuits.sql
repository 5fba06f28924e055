-- What each sending node's circuit breaker says of each provider account (docs/channels/PROVIDERS.md "Health"):
-- replaced by the node every few seconds, read by the provider API on any node.
CREATE TABLE provider_circuits (
    account_id  uuid NOT NULL,
    node        text NOT NULL,
    tenant_id   uuid NOT NULL,
    state       text NOT NULL,
    since       timestamptz NOT NULL,
    seen_at     timestamptz NOT NULL,
    PRIMARY KEY (account_id, node)
);
CREATE INDEX provider_circuits_tenant ON provider_circuits (tenant_id, seen_at);
CREATE INDEX provider_circuits_seen ON provider_circuits (seen_at);
