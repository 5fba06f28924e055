-- Encryption at rest (issue #17): see the PostgreSQL migration 0030_encryption_at_rest.sql for the design.
CREATE TABLE tenant_keys (
    tenant_id   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    wrapped     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

ALTER TABLE notifications ADD COLUMN sealed BLOB;
ALTER TABLE notifications ADD COLUMN phone_hash BLOB;
ALTER TABLE notifications ADD COLUMN email_hash BLOB;
CREATE INDEX notifications_phone_hash ON notifications (phone_hash) WHERE phone_hash IS NOT NULL;
CREATE INDEX notifications_email_hash ON notifications (email_hash) WHERE email_hash IS NOT NULL;
CREATE INDEX notifications_open_question_hash ON notifications (tenant_id, phone_hash, reply_until) WHERE actions IS NOT NULL;

ALTER TABLE customer_messages ADD COLUMN sealed BLOB;
ALTER TABLE customer_messages ADD COLUMN sender_hash BLOB;
CREATE INDEX customer_messages_sender_hash ON customer_messages (tenant_id, sender_hash, id) WHERE sender_hash IS NOT NULL;

ALTER TABLE customers ADD COLUMN sealed BLOB;

CREATE TABLE reencryption_progress (
    name        TEXT PRIMARY KEY,
    cursor      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
