-- AlmaStore's full-text index without a pending list. With GIN's default `fastupdate`,
-- new rows' words wait in the index's pending list (up to `gin_pending_list_limit`, 4 MB)
-- until a vacuum merges them, and every lookup of the index reads the whole list: after
-- a bulk load of 10k items (no vacuum yet) a one-word lookup read 419 buffers (1.5 ms)
-- for no match, so the planner scanned the tenant's rows instead (765 buffers, ~3 ms of
-- a ~5 ms search with no namespace prefix, `EXPLAIN (ANALYZE, BUFFERS)`). Without the
-- list a lookup reads a few pages (7 buffers). An item's words then go straight into the
-- index on insert, a small cost next to its HNSW insert (94% of a put's time). The
-- current list is merged now.
ALTER INDEX alma_store_tsv_idx SET (fastupdate = off);
SELECT gin_clean_pending_list('alma_store_tsv_idx'::regclass);
