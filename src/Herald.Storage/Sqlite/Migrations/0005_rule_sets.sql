-- Versioned rule sets: one row per version, appended only; the document is kept as the author wrote it.
CREATE TABLE rule_sets (
    tenant_id         TEXT    NOT NULL REFERENCES tenants (id),
    version           INTEGER NOT NULL,
    document          TEXT    NOT NULL,
    author            TEXT    NOT NULL,
    comment           TEXT,
    rolled_back_from  INTEGER,
    created_at        INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, version)
);
