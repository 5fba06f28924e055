-- Digest housekeeping: closed, sent windows are deleted after Herald:Digests:Retention; these indexes let the
-- cleanup find old windows without scanning the tables.
CREATE INDEX digest_members_closes ON digest_members (closes_at);
CREATE INDEX digest_windows_closes ON digest_windows (closes_at);
