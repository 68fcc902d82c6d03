-- AlmaStore's word frequencies in one pass. `alma_store_text_df` (0005, 0007) counted
-- each query word's items with a scan of its own, so a query of k words read the
-- prefix's matching rows k times. It now reads the rows that hold any of the words once
-- (one GIN lookup of the words' OR), and counts each word among them in memory with
-- the same test as before (`tsv @@ plainto_tsquery('simple', word)`): a row matching a
-- word matches the OR, so the counts are the same. Same signature, same results, same
-- two branches gated on `prefix` (0007) for generic plans.
CREATE OR REPLACE FUNCTION alma_store_text_df(lexemes text[], prefix text, lo text, hi text)
RETURNS TABLE (lexeme text, df bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
ROWS 10
AS $$
    WITH words AS MATERIALIZED (
        SELECT l.lexeme, l.ord, plainto_tsquery('simple', l.lexeme) AS q
        FROM unnest(lexemes) WITH ORDINALITY AS l(lexeme, ord)
    ), any_word AS MATERIALIZED (
        SELECT string_agg('(' || w.q::text || ')', ' | ')::tsquery AS q
        FROM words w WHERE numnode(w.q) > 0
    ), hits AS MATERIALIZED (
        (SELECT s.tsv FROM alma_store s, any_word a
         WHERE prefix IS NULL AND s.tenant_id = alma_current_tenant() AND s.tsv @@ a.q
           AND (s.expires_at IS NULL OR s.expires_at > now()))
        UNION ALL
        (SELECT s.tsv FROM alma_store s, any_word a
         WHERE prefix IS NOT NULL AND s.tenant_id = alma_current_tenant() AND s.tsv @@ a.q
           AND (s.ns_path = prefix OR (s.ns_path >= lo AND s.ns_path < hi))
           AND (s.expires_at IS NULL OR s.expires_at > now()))
    )
    SELECT w.lexeme, (SELECT count(*) FROM hits h WHERE h.tsv @@ w.q)
    FROM words w
    ORDER BY w.ord
$$;
