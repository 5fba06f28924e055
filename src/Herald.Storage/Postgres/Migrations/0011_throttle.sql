-- Throttle groups: one row per tenant and group key, locked while a send is admitted so that admissions of one group
-- are serialised across nodes; and the admitted sends, counted over the sliding window.
CREATE TABLE throttle_groups (
    tenant_id     uuid NOT NULL,
    group_key     text NOT NULL,
    touched_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, group_key)
);

CREATE TABLE throttle_sends (
    notification_id  uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    group_key        text NOT NULL,
    sent_at          timestamptz NOT NULL
);

CREATE INDEX throttle_sends_group ON throttle_sends (tenant_id, group_key, sent_at);
CREATE INDEX throttle_sends_age ON throttle_sends (sent_at);
