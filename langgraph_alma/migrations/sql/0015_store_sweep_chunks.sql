-- The store's TTL sweep in bounded transactions: `alma_store_sweep(max_items)` deletes at
-- most `max_items` expired items (earliest expiry first, through alma_store_expires_idx)
-- and returns how many; AlmaStore calls it until a call deletes fewer, giving its
-- connection back between calls. One unbounded DELETE (0002's `alma_store_sweep()`,
-- kept for older clients) held a store's only connection, and every expired row's lock,
-- for the whole sweep: 20,000 expired items kept a caller waiting 142 ms. Rows another
-- transaction holds (a read refreshing their TTL) are skipped: the next sweep gets them
-- if they are still expired.
CREATE OR REPLACE FUNCTION alma_store_sweep(max_items integer) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    WITH gone AS (
        -- the chunk's rows by their tuple ids (a TID scan): a join on the key would
        -- read the whole table for every chunk
        DELETE FROM alma_store WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM alma_store
             WHERE expires_at IS NOT NULL AND expires_at <= now()
             ORDER BY expires_at
             LIMIT max_items
               FOR UPDATE SKIP LOCKED))
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION alma_store_sweep(integer) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alma_app') THEN
        GRANT EXECUTE ON FUNCTION alma_store_sweep(integer) TO alma_app;
    END IF;
END
$$;
