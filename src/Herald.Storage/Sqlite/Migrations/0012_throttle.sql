-- Throttle groups: one row per tenant and group key, and the admitted sends, counted over the sliding window.
-- SQLite has one writer at a time, so an admission (count, then record) cannot interleave with another.
CREATE TABLE throttle_groups (
    tenant_id     TEXT    NOT NULL,
    group_key     TEXT    NOT NULL,
    touched_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, group_key)
);

CREATE TABLE throttle_sends (
    notification_id  TEXT    NOT NULL PRIMARY KEY,
    tenant_id        TEXT    NOT NULL,
    group_key        TEXT    NOT NULL,
    sent_at          INTEGER NOT NULL
);

CREATE INDEX throttle_sends_group ON throttle_sends (tenant_id, group_key, sent_at);
CREATE INDEX throttle_sends_age ON throttle_sends (sent_at);
