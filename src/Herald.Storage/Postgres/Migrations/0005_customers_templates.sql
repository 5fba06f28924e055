-- Stored customers (issue #4): one JSON document per customer; ids compare in byte order for keyset paging.
CREATE TABLE customers (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id),
    id          text        COLLATE "C" NOT NULL,
    document    jsonb       NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Message templates: unique per tenant, name, channel and language ('' = the tenant's default wording).
CREATE TABLE templates (
    id          uuid        PRIMARY KEY,
    tenant_id   uuid        NOT NULL REFERENCES tenants (id),
    name        text        COLLATE "C" NOT NULL,
    channel     smallint    NOT NULL,
    language    text        COLLATE "C" NOT NULL,
    document    jsonb       NOT NULL,
    version     integer     NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    UNIQUE (tenant_id, name, channel, language)
);
