-- AlmaStore search on generic plans. The search statement runs on its prepared generic
-- plan (planning its CTEs afresh cost more than running them: `_sql.SEARCH_SETTINGS`),
-- and so do the statements of the full-text functions it calls. A generic plan cannot
-- use the namespace range of `prefix IS NULL OR (ns_path ...)`, so each function now
-- reads in one of two branches gated on its arguments alone (a one-time filter: only
-- the branch that applies runs): the whole tenant when `prefix` is NULL, else the
-- prefix's key range. Same signatures, same results as in 0005.
CREATE OR REPLACE FUNCTION alma_store_text_matches(
    q tsquery, prefix text, lo text, hi text, lim bigint
)
RETURNS TABLE (ns_path text, key text, tsv tsvector)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
ROWS 100
AS $$
    (SELECT s.ns_path, s.key, s.tsv FROM alma_store s
     WHERE prefix IS NULL AND s.tenant_id = alma_current_tenant() AND s.tsv @@ q
       AND (s.expires_at IS NULL OR s.expires_at > now())
     LIMIT lim)
    UNION ALL
    (SELECT s.ns_path, s.key, s.tsv FROM alma_store s
     WHERE prefix IS NOT NULL AND s.tenant_id = alma_current_tenant() AND s.tsv @@ q
       AND (s.ns_path = prefix OR (s.ns_path >= lo AND s.ns_path < hi))
       AND (s.expires_at IS NULL OR s.expires_at > now())
     LIMIT lim)
$$;

CREATE OR REPLACE FUNCTION alma_store_text_df(lexemes text[], prefix text, lo text, hi text)
RETURNS TABLE (lexeme text, df bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
ROWS 10
AS $$
    SELECT l.lexeme, CASE WHEN prefix IS NULL THEN (
        SELECT count(*) FROM alma_store s
        WHERE s.tenant_id = alma_current_tenant()
          AND s.tsv @@ plainto_tsquery('simple', l.lexeme)
          AND (s.expires_at IS NULL OR s.expires_at > now()))
    ELSE (
        SELECT count(*) FROM alma_store s
        WHERE s.tenant_id = alma_current_tenant()
          AND s.tsv @@ plainto_tsquery('simple', l.lexeme)
          AND (s.ns_path = prefix OR (s.ns_path >= lo AND s.ns_path < hi))
          AND (s.expires_at IS NULL OR s.expires_at > now()))
    END
    FROM unnest(lexemes) AS l(lexeme)
$$;
