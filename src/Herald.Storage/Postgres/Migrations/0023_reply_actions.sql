-- Two-way messaging (issue #16): a notification may ask the customer a question. Its reply choices are kept with it
-- (NULL: it asks nothing) and the time until which a reply counts as on time. The partial index serves the SMS
-- correlation "the latest open question to this number": only notifications that ask something are in it.
ALTER TABLE notifications ADD COLUMN actions jsonb;
ALTER TABLE notifications ADD COLUMN reply_until timestamptz;
CREATE INDEX notifications_open_questions ON notifications (tenant_id, (contacts ->> 'phone'), reply_until)
    WHERE actions IS NOT NULL;
