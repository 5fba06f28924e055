-- Digest windows: the open window per tenant and digest key, and the notifications that joined each window.
CREATE TABLE digest_windows (
    tenant_id   uuid NOT NULL,
    digest_key  text NOT NULL,
    closes_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, digest_key)
);

CREATE TABLE digest_members (
    notification_id  uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    digest_key       text NOT NULL,
    closes_at        timestamptz NOT NULL,
    joined_at        timestamptz NOT NULL
);

CREATE INDEX digest_members_window ON digest_members (tenant_id, digest_key, closes_at);
