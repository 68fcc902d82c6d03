-- AlmaStore search: language-aware full text and half-precision vectors.
--
-- `tsv` was generated with the `simple` configuration (no stemming, no stop words). It
-- becomes a plain column that every write sets with the store's text search
-- configuration (`english` by default, a setting), and existing rows are rebuilt here
-- with `english`, the default. A store configured otherwise indexes each item with its
-- own configuration when the item is next written.
--
-- `half` holds the embeddings of stores whose index says `vector_type: halfvec` (half
-- the storage of `vector`); exactly one of `embedding` and `half` is set.

ALTER TABLE alma_store DROP COLUMN IF EXISTS tsv;
ALTER TABLE alma_store ADD COLUMN tsv tsvector NOT NULL DEFAULT ''::tsvector;
-- The owner rebuilds every tenant's rows: row-level security is forced on the table, so
-- it is lifted for this transaction only (a failure rolls the whole migration back).
ALTER TABLE alma_store NO FORCE ROW LEVEL SECURITY;
UPDATE alma_store SET tsv = to_tsvector('english'::regconfig, search_text)
WHERE search_text <> '';
ALTER TABLE alma_store FORCE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS alma_store_tsv_idx ON alma_store USING gin (tsv);

ALTER TABLE alma_store_vectors ALTER COLUMN embedding DROP NOT NULL;
ALTER TABLE alma_store_vectors ADD COLUMN IF NOT EXISTS half halfvec;
ALTER TABLE alma_store_vectors DROP CONSTRAINT IF EXISTS alma_store_vectors_one_embedding;
ALTER TABLE alma_store_vectors ADD CONSTRAINT alma_store_vectors_one_embedding
    CHECK ((embedding IS NULL) <> (half IS NULL));

-- Full-text matches and document frequencies of the current tenant
-- (`alma_current_tenant()`, never a parameter) under a namespace prefix (NULL: all).
-- Row-level security keeps PostgreSQL from using the GIN index for `@@` (the operator is
-- not leakproof), which makes a tenant-wide query scan every row of the tenant; these
-- functions, owned by the migration role, read with the index and confine themselves to
-- the tenant the transaction acts for, as the policy does. An owner that does not bypass
-- row-level security still gets correct results (the policy applies), only without the
-- index.
CREATE OR REPLACE FUNCTION alma_store_text_matches(
    q tsquery, prefix text, lo text, hi text, lim bigint
)
RETURNS TABLE (ns_path text, key text, tsv tsvector)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
ROWS 100
AS $$
    SELECT s.ns_path, s.key, s.tsv FROM alma_store s
    WHERE s.tenant_id = alma_current_tenant() AND s.tsv @@ q
      AND (prefix IS NULL OR s.ns_path = prefix OR (s.ns_path >= lo AND s.ns_path < hi))
      AND (s.expires_at IS NULL OR s.expires_at > now())
    LIMIT lim
$$;

-- How many live items under the prefix hold each lexeme (BM25's document frequency).
CREATE OR REPLACE FUNCTION alma_store_text_df(lexemes text[], prefix text, lo text, hi text)
RETURNS TABLE (lexeme text, df bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
ROWS 10
AS $$
    SELECT l.lexeme, (
        SELECT count(*) FROM alma_store s
        WHERE s.tenant_id = alma_current_tenant()
          AND s.tsv @@ plainto_tsquery('simple', l.lexeme)
          AND (prefix IS NULL OR s.ns_path = prefix OR (s.ns_path >= lo AND s.ns_path < hi))
          AND (s.expires_at IS NULL OR s.expires_at > now()))
    FROM unnest(lexemes) AS l(lexeme)
$$;

REVOKE ALL ON FUNCTION alma_store_text_matches(tsquery, text, text, text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION alma_store_text_df(text[], text, text, text) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alma_app') THEN
        GRANT EXECUTE ON FUNCTION alma_store_text_matches(tsquery, text, text, text, bigint)
            TO alma_app;
        GRANT EXECUTE ON FUNCTION alma_store_text_df(text[], text, text, text) TO alma_app;
    END IF;
END
$$;
