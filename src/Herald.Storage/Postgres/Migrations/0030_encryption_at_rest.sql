-- Encryption at rest (issue #17, docs/SECURITY.md "Encryption at rest"). Each tenant has a look-up key (version 0,
-- the HMAC key of the contact hashes; never rotated) and data keys (1..n; the highest encrypts), stored wrapped by the
-- node key ring (Herald:Secrets:Key). No foreign key: notifications may name a tenant that is not (yet) stored.
CREATE TABLE tenant_keys (
    tenant_id   uuid NOT NULL,
    version     int NOT NULL,
    wrapped     text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

-- sealed: the AES-GCM envelope of the customer's values (contacts and data of a notification; sender and text of a
-- customer message; the document of a customer). When it is set, the plaintext columns hold '{}' (or nothing); rows
-- written before this migration keep sealed NULL and their plaintext until `herald reencrypt` moves them.
-- *_hash: the keyed hash of a contact (ContactHash), the only way rows are found by phone, email or sender.
ALTER TABLE notifications ADD COLUMN sealed bytea, ADD COLUMN phone_hash bytea, ADD COLUMN email_hash bytea;
-- Erasure by phone or email. Partial: rows without the contact (and plaintext rows) stay out of them.
CREATE INDEX notifications_phone_hash ON notifications (phone_hash) WHERE phone_hash IS NOT NULL;
CREATE INDEX notifications_email_hash ON notifications (email_hash) WHERE email_hash IS NOT NULL;
-- The SMS reply correlation ("the latest open question to this number") by the hash; plaintext rows answer through
-- the old index until they are re-encrypted.
CREATE INDEX notifications_open_question_hash ON notifications (tenant_id, phone_hash, reply_until) WHERE actions IS NOT NULL;

ALTER TABLE customer_messages ADD COLUMN sealed bytea, ADD COLUMN sender_hash bytea;
CREATE INDEX customer_messages_sender_hash ON customer_messages (tenant_id, sender_hash, id) WHERE sender_hash IS NOT NULL;

ALTER TABLE customers ADD COLUMN sealed bytea;

-- Where `herald reencrypt` got to, per table: a keyset cursor (the last id done), so a stopped run resumes.
CREATE TABLE reencryption_progress (
    name        text PRIMARY KEY,
    cursor      text NOT NULL,
    updated_at  timestamptz NOT NULL
);
