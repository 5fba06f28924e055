-- The audit trail's own retention (issue #17, docs/OPERATIONS.md "Audit trail"): entries older than
-- Herald:Retention:AuditDays are deleted from the start of each chain. The chain keeps its anchor, the sequence number
-- and hash of the last deleted entry, so verification starts there and a deletion beyond it is still found.
ALTER TABLE audit_chains ADD COLUMN purged_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_chains ADD COLUMN purged_hash TEXT;
