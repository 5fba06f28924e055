-- Two-way messaging (issue #16), as in PostgreSQL: reply choices (NULL: the notification asks nothing), the time
-- until which a reply is on time, and an index for "the latest open question to this number".
ALTER TABLE notifications ADD COLUMN actions TEXT;
ALTER TABLE notifications ADD COLUMN reply_until INTEGER;
CREATE INDEX ix_notifications_open_questions ON notifications (tenant_id, json_extract(contacts, '$.phone'), reply_until)
    WHERE actions IS NOT NULL;
