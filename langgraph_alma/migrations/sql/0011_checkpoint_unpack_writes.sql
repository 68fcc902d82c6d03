-- A packed pending-writes blob (`checkpoint/_compress.pack_writes`: the count, then each
-- write's int4 index and its channel, type and blob each behind an int4 length, -1 for
-- NULL, all big-endian) as its writes' rows. The statement that stores a call's writes
-- as one packed row falls back to these when the task has writes already, so the writes
-- are sent once whichever way they are stored.
CREATE OR REPLACE FUNCTION alma_unpack_writes(packed bytea)
RETURNS TABLE (w_idx integer, w_channel text, w_type text, w_blob bytea)
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $$
DECLARE
    n integer := ('x' || encode(substring(packed FROM 1 FOR 4), 'hex'))::bit(32)::integer;
    at integer := 5;
    size integer;
BEGIN
    FOR i IN 1..n LOOP
        w_idx := ('x' || encode(substring(packed FROM at FOR 4), 'hex'))::bit(32)::integer;
        size := ('x' || encode(substring(packed FROM at + 4 FOR 4), 'hex'))::bit(32)::integer;
        w_channel := convert_from(substring(packed FROM at + 8 FOR size), 'UTF8');
        at := at + 8 + size;
        size := ('x' || encode(substring(packed FROM at FOR 4), 'hex'))::bit(32)::integer;
        w_type := convert_from(substring(packed FROM at + 4 FOR size), 'UTF8');
        at := at + 4 + size;
        size := ('x' || encode(substring(packed FROM at FOR 4), 'hex'))::bit(32)::integer;
        at := at + 4;
        IF size < 0 THEN
            w_blob := NULL;
        ELSE
            w_blob := substring(packed FROM at FOR size);
            at := at + size;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

-- Raised by that statement when a call for the same task stored the task's first writes
-- while it ran (its snapshot does not show them): the saver stores the writes again, one
-- row each, on a new snapshot.
CREATE OR REPLACE FUNCTION alma_writes_raced() RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog
AS $$
BEGIN
    RAISE EXCEPTION 'another call stored this task''s first pending writes meanwhile'
        USING ERRCODE = 'serialization_failure';
END
$$;
