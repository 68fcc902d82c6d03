-- AlmaStore: items, their full-text vector, their embeddings, row-level security and a
-- TTL sweep function. Namespaces are stored as their dotted path in C collation, so a
-- namespace prefix is a btree range scan (labels never contain '.', and '/' sorts right
-- after '.'). Embedding dimensions are only known at runtime: the vector column has no
-- fixed dimension, and AlmaStore.setup() adds a partial HNSW expression index per
-- dimension (built from the integer dims only), e.g.
--   ON alma_store_vectors USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE dims = 384

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE IF NOT EXISTS alma_store (
    tenant_id   text NOT NULL CHECK (tenant_id <> ''),
    ns_path     text COLLATE "C" NOT NULL CHECK (ns_path <> ''),
    key         text NOT NULL,
    value       jsonb NOT NULL,
    search_text text NOT NULL DEFAULT '',   -- text of the indexed fields, set on write
    tsv         tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_text)) STORED,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    ttl_minutes double precision CHECK (ttl_minutes IS NULL OR ttl_minutes > 0),
    expires_at  timestamptz,
    PRIMARY KEY (tenant_id, ns_path, key)
);
CREATE INDEX IF NOT EXISTS alma_store_updated_idx ON alma_store (tenant_id, updated_at DESC);
CREATE INDEX IF NOT EXISTS alma_store_expires_idx ON alma_store (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS alma_store_tsv_idx ON alma_store USING gin (tsv);
CREATE INDEX IF NOT EXISTS alma_store_value_idx ON alma_store USING gin (value jsonb_path_ops);

-- One row per embedded field (a list path such as "items[*].text" gives one per element).
CREATE TABLE IF NOT EXISTS alma_store_vectors (
    tenant_id text NOT NULL,
    ns_path   text COLLATE "C" NOT NULL,
    key       text NOT NULL,
    field     text NOT NULL,
    dims      integer NOT NULL CHECK (dims > 0),
    embedding vector NOT NULL,
    PRIMARY KEY (tenant_id, ns_path, key, field),
    FOREIGN KEY (tenant_id, ns_path, key)
        REFERENCES alma_store (tenant_id, ns_path, key) ON DELETE CASCADE
);

SELECT alma_isolate_tenants(t) FROM unnest(ARRAY['alma_store', 'alma_store_vectors']) AS t;

-- The TTL sweeper deletes expired items of every tenant, which the application role may
-- not do by itself; this function may, and does nothing else. Its owner (the migration
-- role) must bypass row-level security (superuser or BYPASSRLS) for it to reach them all.
CREATE OR REPLACE FUNCTION alma_store_sweep() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    WITH gone AS (
        DELETE FROM alma_store WHERE expires_at IS NOT NULL AND expires_at <= now() RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION alma_store_sweep() FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alma_app') THEN
        GRANT EXECUTE ON FUNCTION alma_store_sweep() TO alma_app;
    END IF;
END
$$;
