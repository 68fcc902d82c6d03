-- AlmaStore search: language-aware full text and half-precision vectors.
--
-- `tsv` was generated with the `simple` configuration (no stemming, no stop words). It
-- becomes a plain column that every write sets with the store's text search
-- configuration (`english` by default, a setting), and existing rows are rebuilt here
-- with `english`, the default. A store configured otherwise rebuilds its rows with
-- `AlmaStore.reindex_text()`.
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
