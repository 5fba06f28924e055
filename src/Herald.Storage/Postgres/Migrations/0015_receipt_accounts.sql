-- Issue #13 item 4: a receipt belongs to the provider account that vouched for it (signature, token, bind), and a
-- sender identity (WhatsApp phone number id, Telegram bot, SMS account and sender, SMPP system_id at a host, FCM
-- project) to one account.
--
-- Parked receipts are keyed by (account, provider message id). Rows parked before this migration do not say which
-- account sent them and cannot be attributed safely; they are dropped (a parked receipt is kept for minutes only).
DELETE FROM pending_receipts;
ALTER TABLE pending_receipts ADD COLUMN provider_id uuid NOT NULL;
ALTER TABLE pending_receipts DROP CONSTRAINT pending_receipts_pkey;
ALTER TABLE pending_receipts ADD PRIMARY KEY (provider_id, provider_message_id);

-- Computed by the API from the connector's settings (which are encrypted at rest, so SQL cannot compute it). Unique
-- among live accounts, so two nodes racing to register one identity for two tenants cannot both win. Accounts
-- stored before this migration have none until their next update.
ALTER TABLE provider_accounts ADD COLUMN sender_identity text;
CREATE UNIQUE INDEX provider_accounts_sender_identity ON provider_accounts (sender_identity)
    WHERE sender_identity IS NOT NULL AND deleted_at IS NULL;
