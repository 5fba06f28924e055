-- Issue #13 item 4: a receipt belongs to the provider account that vouched for it (signature, token, bind), and a
-- sender identity (WhatsApp phone number id, Telegram bot, SMS account and sender, SMPP system_id at a host, FCM
-- project) to one account. The twin of PostgreSQL's 0015_receipt_accounts.sql.
--
-- Parked receipts are keyed by (account, provider message id). Rows parked before this migration do not say which
-- account sent them and cannot be attributed safely; they are dropped (a parked receipt is kept for minutes only).
DROP TABLE pending_receipts;
CREATE TABLE pending_receipts (
    provider_id         TEXT    NOT NULL,
    provider_message_id TEXT    NOT NULL,
    state               INTEGER NOT NULL,
    error_code          TEXT,
    error               TEXT,
    received_at         INTEGER NOT NULL,
    PRIMARY KEY (provider_id, provider_message_id)
);
CREATE INDEX ix_pending_receipts_received ON pending_receipts (received_at);

-- Computed by the API from the connector's settings (encrypted at rest). Unique among live accounts.
ALTER TABLE provider_accounts ADD COLUMN sender_identity TEXT;
CREATE UNIQUE INDEX ix_provider_accounts_sender_identity ON provider_accounts (sender_identity)
    WHERE sender_identity IS NOT NULL AND deleted_at IS NULL;
