-- AlmaStore's HNSW index built in bulk, once its vectors are numerous enough to need it.
-- pgvector builds an index over rows already written several times faster than it inserts
-- them one by one (`bench/hnsw_insert_bench.py`: 10k 384-d vectors, 3,987 a second against 510),
-- and until a dims has many vectors outside small tenants every search ranks exactly
-- anyway. `alma_store_build_ann(...)` creates the partial HNSW index of one index
-- configuration (`WHERE dims = N AND indexed`, as 0013 describes) when at least `min_rows`
-- of its vectors are marked indexed (0: at once) and returns whether the index exists.
-- `setup()` calls it, and so does a store's indexer (as the application role, which may
-- not create indexes: hence SECURITY DEFINER, and the index is made from checked integers
-- and fixed names only, by `alma_store_ann_ddl`). A plain CREATE INDEX, not CONCURRENTLY
-- (which cannot run in a function): writes to alma_store_vectors wait for the build, reads
-- do not. A store that knows the admin role's URL builds on a connection of that role
-- instead, with the CONCURRENTLY statement `alma_store_ann_ddl` also gives: writes go on.
-- Builders try one advisory lock and leave the build to whoever holds it, so two stores
-- never build the index at once; an invalid index (left by a concurrent build that
-- failed) is dropped and built again.

-- The index of one configuration: its name, and the statements that create it (with
-- CONCURRENTLY when asked) and drop it, made from checked integers and fixed names only.
CREATE OR REPLACE FUNCTION alma_store_ann_ddl(
    p_dims integer, p_vector_type text, p_distance text, p_m integer,
    p_ef_construction integer, p_concurrently boolean
) RETURNS TABLE (index_name text, create_ddl text, drop_ddl text)
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public
AS $$
DECLARE
    max_dims integer := CASE p_vector_type WHEN 'vector' THEN 2000 WHEN 'halfvec' THEN 4000 END;
    ops text := CASE p_distance WHEN 'cosine' THEN 'cosine_ops' WHEN 'l2' THEN 'l2_ops'
                                WHEN 'inner_product' THEN 'ip_ops' END;
    params text := concat_ws(', ', 'm = ' || p_m, 'ef_construction = ' || p_ef_construction);
    how text := CASE WHEN p_concurrently THEN 'CONCURRENTLY ' ELSE '' END;
BEGIN
    IF max_dims IS NULL OR ops IS NULL OR p_dims IS NULL OR p_dims < 1 OR p_dims > max_dims
       OR p_m < 1 OR p_ef_construction < 1 THEN
        RAISE EXCEPTION 'alma_store_build_ann: bad index configuration (dims %, %, %, m %, ef_construction %)',
            p_dims, p_vector_type, p_distance, p_m, p_ef_construction
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    index_name := 'alma_store_vectors_hnsw_' || p_dims;
    IF (p_vector_type, p_distance) <> ('vector', 'cosine') THEN
        index_name := index_name || '_' || p_vector_type || '_' || p_distance;
    END IF;
    create_ddl := format(
        'CREATE INDEX %sIF NOT EXISTS %I ON alma_store_vectors USING hnsw ((%s::%s(%s)) %s_%s)%s'
        ' WHERE dims = %s AND indexed',
        how, index_name, CASE p_vector_type WHEN 'vector' THEN 'embedding' ELSE 'half' END,
        p_vector_type, p_dims, p_vector_type, ops,
        CASE WHEN params <> '' THEN ' WITH (' || params || ')' END, p_dims);
    drop_ddl := format('DROP INDEX %sIF EXISTS %I', how, index_name);
    RETURN NEXT;
END
$$;

-- Whether the named index exists and is valid: NULL (none), false (an invalid leftover of
-- a build that failed, which writes still maintain) or true.
CREATE OR REPLACE FUNCTION alma_store_ann_valid(p_name text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, public
AS $$
    SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(p_name)
$$;

-- Whether enough of a dims' vectors are indexed (past the exact bound) to build its index:
-- at least `p_min_rows` (0: always). Counts every tenant's rows when its caller may (the
-- owner, or the build function below, which runs as the owner).
CREATE OR REPLACE FUNCTION alma_store_ann_needed(p_dims integer, p_min_rows bigint)
RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, public
AS $$
    SELECT coalesce(p_min_rows, 0) <= 0 OR (
        SELECT count(*) FROM (
            SELECT 1 FROM alma_store_vectors
            WHERE dims = p_dims AND indexed LIMIT p_min_rows) AS c) >= p_min_rows
$$;

CREATE OR REPLACE FUNCTION alma_store_build_ann(
    p_dims integer, p_vector_type text, p_distance text, p_m integer,
    p_ef_construction integer, p_min_rows bigint
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
    d record;
BEGIN
    SELECT * INTO d FROM alma_store_ann_ddl(p_dims, p_vector_type, p_distance, p_m,
                                            p_ef_construction, false);
    IF alma_store_ann_valid(d.index_name) THEN
        RETURN true;
    END IF;
    -- Another builder at work (a CREATE INDEX CONCURRENTLY waits for this transaction to
    -- end: waiting for its lock here would deadlock): it builds the index, not this one.
    IF NOT pg_try_advisory_xact_lock(hashtext('alma_store_build_ann')) THEN
        RETURN false;
    END IF;
    IF NOT alma_store_ann_needed(p_dims, p_min_rows) THEN
        RETURN false;
    END IF;
    IF alma_store_ann_valid(d.index_name) IS NOT NULL THEN  -- invalid: a failed build's leftover
        EXECUTE d.drop_ddl;
    END IF;
    EXECUTE d.create_ddl;
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION alma_store_build_ann(integer, text, text, integer, integer, bigint)
    FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alma_app') THEN
        GRANT EXECUTE ON FUNCTION alma_store_build_ann(integer, text, text, integer, integer,
                                                       bigint) TO alma_app;
    END IF;
END
$$;
