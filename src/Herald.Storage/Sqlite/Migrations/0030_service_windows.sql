-- WhatsApp's customer-service window (issue #16), as in PostgreSQL: when each customer last wrote to each sender;
-- address is the tenant's keyed hash of the customer's number (hex), never the number.
CREATE TABLE service_windows (
    account_id      TEXT    NOT NULL,
    address         TEXT    NOT NULL,
    tenant_id       TEXT    NOT NULL,
    last_inbound_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, address)
);
CREATE INDEX ix_service_windows_tenant ON service_windows (tenant_id);
