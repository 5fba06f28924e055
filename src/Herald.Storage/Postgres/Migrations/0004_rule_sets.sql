-- Versioned rule sets: one row per version, appended only. The document is kept as the author wrote it (text,
-- not jsonb), so GET /v1/rules shows their formatting and key order.
CREATE TABLE rule_sets (
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    version           bigint NOT NULL,
    document          text NOT NULL,
    author            text NOT NULL,
    comment           text,
    rolled_back_from  bigint,
    created_at        timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, version)
);
