-- Digest windows: the open window per tenant and digest key, and the notifications that joined each window.
CREATE TABLE digest_windows (
    tenant_id   TEXT    NOT NULL,
    digest_key  TEXT    NOT NULL,
    closes_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, digest_key)
);

CREATE TABLE digest_members (
    notification_id  TEXT    NOT NULL PRIMARY KEY,
    tenant_id        TEXT    NOT NULL,
    digest_key       TEXT    NOT NULL,
    closes_at        INTEGER NOT NULL,
    joined_at        INTEGER NOT NULL
);

CREATE INDEX digest_members_window ON digest_members (tenant_id, digest_key, closes_at);
