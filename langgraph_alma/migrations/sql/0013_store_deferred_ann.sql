-- AlmaStore's HNSW upkeep off the caller's path. An HNSW insert was ~88% of a put's time
-- (`bench/hnsw_insert_bench.py`); a put now writes its vectors with `indexed = false`,
-- outside the partial HNSW index (`setup()` creates it `WHERE dims = N AND indexed`),
-- and a background indexer moves them in, a chunk per transaction (`UPDATE ... SET
-- indexed = true`). Searches rank the indexed vectors through HNSW and the backlog
-- (`NOT indexed`) exactly, through the small partial btree below, so an item is
-- searchable as soon as its put returns, with the exact side's perfect recall.
--
-- Rows written before this migration are in the current HNSW indexes: they are marked
-- indexed (the column's value for existing rows, without a table rewrite), and new rows
-- default to the backlog. The HNSW indexes built without the `indexed` predicate would
-- keep taking every new row, so they are dropped; `setup()` builds each again with the
-- predicate (a bulk build, several times faster per vector than incremental inserts).
ALTER TABLE alma_store_vectors ADD COLUMN IF NOT EXISTS indexed boolean NOT NULL DEFAULT true;
ALTER TABLE alma_store_vectors ALTER COLUMN indexed SET DEFAULT false;

CREATE INDEX IF NOT EXISTS alma_store_vectors_backlog_idx
    ON alma_store_vectors (tenant_id, dims, ns_path) WHERE NOT indexed;

DO $$
DECLARE
    idx regclass;
BEGIN
    FOR idx IN
        SELECT i.indexrelid::regclass FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_am a ON a.oid = c.relam
        WHERE i.indrelid = 'alma_store_vectors'::regclass AND a.amname = 'hnsw'
          AND coalesce(pg_get_expr(i.indpred, i.indrelid), '') NOT LIKE '%indexed%'
    LOOP
        EXECUTE format('DROP INDEX %s', idx);
    END LOOP;
END
$$;
