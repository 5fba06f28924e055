-- WhatsApp's customer-service window (issue #16): when each customer last wrote to each sender (provider account).
-- One row per (account, address), upserted by the inbound path; read by primary key when a WhatsApp message is sent.
-- address is the tenant's keyed hash of the customer's number (hex, src/Herald.Server/Replies/ServiceWindows.cs), never the number.
CREATE TABLE service_windows (
    account_id      uuid NOT NULL,
    address         text NOT NULL,
    tenant_id       uuid NOT NULL,
    last_inbound_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, address)
);
CREATE INDEX service_windows_tenant ON service_windows (tenant_id);
