-- What each sending node's circuit breaker says of each provider account (docs/channels/PROVIDERS.md "Health").
CREATE TABLE provider_circuits (
    account_id  TEXT NOT NULL,
    node        TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    state       TEXT NOT NULL,
    since       INTEGER NOT NULL,
    seen_at     INTEGER NOT NULL,
    PRIMARY KEY (account_id, node)
);
CREATE INDEX provider_circuits_tenant ON provider_circuits (tenant_id, seen_at);
CREATE INDEX provider_circuits_seen ON provider_circuits (seen_at);
