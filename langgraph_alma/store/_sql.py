"""The SQL of AlmaStore. Values are always bound parameters; the only text spliced into
statements is SQL built here or by `_filters`, and integers (embedding dims).

Text arrays (`%(ns)b` and the like) are bound in binary: psycopg's text format quotes each
element with a regular expression, ~10 µs an element, which made a batch of thousands of
keys (a `forget`, a gathered round of puts) spend 100 ms of CPU on the event loop.

Every statement names `tenant_id` explicitly (it is the leading index column) on top of
the row-level security policy, so a privileged connection stays scoped too.
"""

from __future__ import annotations

from langgraph_alma.db.plan import SET_TENANT

LIVE = "(s.expires_at IS NULL OR s.expires_at > now())"

# Namespace prefix as one btree range on the C-collated dotted path: [prefix, prefix + "/")
# holds the prefix, its children (prefix + "."), and names that merely extend its last
# label with a character sorting before "/" (such as "-"), which the last test excludes.
# One range, not `= prefix OR (>= lo AND < hi)`: a generic plan (query searches run on
# them, `batch_settings`) reads an OR as a scan of the tenant's rows, a range as an index
# range.
PREFIX = (
    "(s.ns_path >= %(prefix)s AND s.ns_path < %(prefix_hi)s"
    " AND (s.ns_path = %(prefix)s OR s.ns_path >= %(prefix_lo)s))"
)
VECTOR_PREFIX = PREFIX.replace("s.ns_path", "v.ns_path")

# Every batch opens with one settings statement: the tenant row-level security acts for
# and, for gets and query searches, `plan_cache_mode`; for query searches also pgvector's
# iterative scan (filtered HNSW searches keep filling their LIMIT) and ef_search (follows
# the search window). Gets, query searches and writes run on prepared generic plans:
# planning a get afresh cost several times its execution (the lookup's custom plan
# estimates one row per key, its generic one ten, so PostgreSQL never chose the cached
# plan by itself), and planning the search statement's or the upsert's CTEs cost about as
# much as running them (0.2 ms a put, when a batch of puts alone left the choice to
# PostgreSQL). The full-text functions the search calls read either the tenant or the
# prefix's key range, in branches gated on their arguments (migration 0007), so their
# generic plans keep the range. Plain (no query) searches and namespace listings run
# first, on PostgreSQL's own choice of plan (`auto`): their best plan depends on the
# values bound (a filter's selectivity), and forcing generic plans on every statement of
# every batch made the memory layer's retrieve and learn 2-3x slower in
# `bench/memory_bench.py`. Without prepared statements (`prepare_threshold=None`) the
# setting changes nothing.
_GENERIC = "set_config('plan_cache_mode', 'force_generic_plan', true)"
_HNSW = (
    "set_config('hnsw.iterative_scan', 'relaxed_order', true), "
    "set_config('hnsw.ef_search', %(ef)s, true)"
)
GENERIC_PLANS = f"SELECT {_GENERIC}"
"""Generic plans from here to the end of the batch's transaction."""


# Reads carry their TTL refresh (an UPDATE) only when asked to, so that reads without it
# run in read-only transactions, on a hot standby for one. Each key is looked up through
# the primary key (LATERAL: a lookup per requested key): as a join, the generic plan gets
# run on could estimate the tenant small and read all of its rows to hash-join a few keys
# (2,000 rows per get on a store not yet analyzed).
_GET = f"""
WITH req AS (
    SELECT * FROM unnest(%(ns)b::text[], %(keys)b::text[], %(refresh)s::bool[])
        AS r(ns, key, refresh)
), found AS (
    SELECT s.ns_path, s.key, s.value, s.created_at, s.updated_at, s.ttl_minutes, r.refresh
    FROM req r CROSS JOIN LATERAL (
        SELECT s.ns_path, s.key, s.value, s.created_at, s.updated_at, s.ttl_minutes
        FROM alma_store s
        WHERE s.tenant_id = %(tenant)s AND s.ns_path = r.ns AND s.key = r.key AND {LIVE}
        LIMIT 1  -- (the key is unique) keeps the subquery from being flattened into a join
    ) s
){{refresh}}
SELECT DISTINCT ns_path, key, value, created_at, updated_at FROM found
"""

# Writers and TTL refreshes agree on "key slots": 256 advisory locks per tenant, a key's
# slot being a hash of its namespace path and key (`KEY_SLOT`). A batch that writes takes
# the slots of its keys first, in slot order, before it touches any row (`_LOCK_SLOTS`);
# a refresh, which is best-effort, only tries the slot of each row it refreshes and skips
# the row if the slot (or the row) is busy. So whoever holds a row lock holds its slot:
# rows are never waited for, slots are waited for in one order, and no cycle can form.
KEY_SLOT = "(hashtextextended({ns} || chr(31) || {key}, 0) & 255)::int4"
TENANT_SLOTS = "hashtext(%(tenant)s)"

# The key slots of a batch's writes (`%(ns)b`, `%(keys)b`), taken in slot order before any
# row: a column of the batch's opening statement (one statement less per write batch).
_LOCK_SLOTS = f"""(SELECT count(*) FROM (
    SELECT pg_advisory_xact_lock({TENANT_SLOTS}, slot) FROM (
        SELECT DISTINCT {KEY_SLOT.format(ns="u.ns", key="u.key")} AS slot
        FROM unnest(%(ns)b::text[], %(keys)b::text[]) AS u(ns, key)
    ) AS slots
    ORDER BY slot
) AS locked)"""


def batch_settings(*, generic: bool, hnsw: bool, lock: bool = False) -> str:
    """The statement that opens a batch: its tenant (`%(tenant)s`), generic plans when
    `generic`, the HNSW scan settings (`%(ef)s`: ef_search) when `hnsw`, the key slots of
    its writes (`%(ns)b`, `%(keys)b`) when `lock`."""
    return "SELECT " + ", ".join(
        [
            SET_TENANT,
            *([_GENERIC] if generic else []),
            *([_HNSW] if hnsw else []),
            *([_LOCK_SLOTS] if lock else []),
        ]
    )


# On the row's own columns: tried only for rows that pass `t.ttl_minutes IS NOT NULL`.
_ROW_SLOT = KEY_SLOT.format(ns="t.ns_path", key="t.key")


def _refresh(rows: str, asked: str) -> str:
    """The TTL refresh of `rows` (a CTE of (ns_path, key) the statement read) where
    `asked`: each row locked through the primary key (LATERAL, at most one row per key:
    a join could read every row of the tenant, and try their slots) and updated by tuple
    id, in one update whose join is that lookup. (With the locked rows in a CTE of their
    own, statistics that call the tenant tiny, many small tenants beside it, got the
    update planned as a hash join over every row of the tenant.) Best-effort: a row whose
    slot or row lock another transaction holds is skipped, so a refresh never waits,
    whatever order it meets rows in."""
    return f""", touched AS (
    UPDATE alma_store s SET expires_at = now() + s.ttl_minutes * interval '1 minute'
    FROM {rows} f CROSS JOIN LATERAL (
        SELECT t.ctid FROM alma_store t
        WHERE t.tenant_id = %(tenant)s AND t.ns_path = f.ns_path AND t.key = f.key
          AND t.ttl_minutes IS NOT NULL
          AND pg_try_advisory_xact_lock({TENANT_SLOTS}, {_ROW_SLOT})
        LIMIT 1
        FOR UPDATE OF t SKIP LOCKED
    ) l
    WHERE {asked} AND s.tenant_id = %(tenant)s AND s.ctid = l.ctid
)"""


_REFRESH_GOT = _refresh("found", "f.refresh")

GET = _GET.format(refresh=_REFRESH_GOT)
"""Gets by (namespace, key), refreshing the TTL of those asked to."""
GET_READ_ONLY = _GET.format(refresh="")
"""Gets by (namespace, key), no TTL refresh: runs in a read-only transaction."""

REFRESH_FOUND = _refresh("page", "%(refresh)s")
"""The TTL refresh of a search's page (best-effort: skips rows whose slot is busy)."""

SEARCH_PLAIN = """
WITH page AS (
    SELECT s.ns_path, s.key, s.value, s.created_at, s.updated_at, NULL::float8 AS score
    FROM alma_store s
    WHERE s.tenant_id = %(tenant)s AND {where}
    ORDER BY s.updated_at DESC, s.ns_path, s.key
    LIMIT %(limit)s OFFSET %(offset)s
){refresh}
SELECT ns_path, key, value, created_at, updated_at, score FROM page
ORDER BY updated_at DESC, ns_path, key
"""


def search_plain(where: str, refresh: bool) -> str:
    """A search without a query: newest first."""
    return SEARCH_PLAIN.format(where=where, refresh=REFRESH_FOUND if refresh else "")


LIST_NAMESPACES = f"""
SELECT ns FROM (
    SELECT DISTINCT (string_to_array(s.ns_path, '.'))[1:%(depth)s] AS ns
    FROM alma_store s
    WHERE s.tenant_id = %(tenant)s AND {LIVE} AND {{where}}
) AS t
ORDER BY ns COLLATE "C"
LIMIT %(limit)s OFFSET %(offset)s
"""

# A batch's writes run between BEGIN and COMMIT sent in the same pipeline as the rest:
# one round trip, and a failure anywhere leaves nothing written.
BEGIN = "BEGIN"
COMMIT = "COMMIT"
ROLLBACK = "ROLLBACK"


# Deletes find their rows as gets do, through the primary key per requested key
# (LATERAL), then delete them by tuple id: as a join, a generic plan (which a batch with
# gets or query searches runs on) could read every row of the tenant. The batch holds
# the key slots of what it deletes (`_LOCK_SLOTS`), so no other writer moves a row
# between its lookup and its deletion.
DELETE = """
DELETE FROM alma_store s
USING unnest(%(ns)b::text[], %(keys)b::text[]) AS d(ns, key)
CROSS JOIN LATERAL (
    SELECT t.ctid FROM alma_store t
    WHERE t.tenant_id = %(tenant)s AND t.ns_path = d.ns AND t.key = d.key
    LIMIT 1
) t
WHERE s.tenant_id = %(tenant)s AND s.ctid = t.ctid
"""

UPSERT = """
INSERT INTO alma_store AS s (tenant_id, ns_path, key, value, search_text, tsv, ttl_minutes,
                              expires_at)
SELECT %(tenant)s, u.ns, u.key, u.value, u.text, to_tsvector(%(tscfg)s::regconfig, u.text), u.ttl,
       now() + u.ttl * interval '1 minute'
FROM unnest(%(ns)b::text[], %(keys)b::text[], %(values)b::text[]::jsonb[], %(texts)b::text[],
            %(ttls)s::float8[]) AS u(ns, key, value, text, ttl)
ON CONFLICT (tenant_id, ns_path, key) DO UPDATE SET
    value = excluded.value,
    search_text = excluded.search_text,
    tsv = excluded.tsv,
    ttl_minutes = excluded.ttl_minutes,
    expires_at = excluded.expires_at,
    updated_at = now(),
    -- an expired item that was not swept yet is a new item
    created_at = CASE WHEN s.expires_at IS NOT NULL AND s.expires_at <= now()
                      THEN now() ELSE s.created_at END
"""

DELETE_VECTORS = """
DELETE FROM alma_store_vectors v
USING unnest(%(ns)b::text[], %(keys)b::text[]) AS d(ns, key)
CROSS JOIN LATERAL (
    SELECT w.ctid FROM alma_store_vectors w
    WHERE w.tenant_id = %(tenant)s AND w.ns_path = d.ns AND w.key = d.key
    OFFSET 0  -- (a key has a row per field) keeps the lookup from being flattened
) w
WHERE v.tenant_id = %(tenant)s AND v.ctid = w.ctid
"""

# The upsert that also deletes the items' old vectors (the store has an index), in one
# statement: the new ones are inserted by the next (`INSERT_VECTORS`).
UPSERT_CLEARING_VECTORS = f"WITH cleared AS ({DELETE_VECTORS}){UPSERT}"

# `indexed`: the rows go into the HNSW index now (its predicate, migration 0013), else
# they wait for the indexer in the backlog (`_backlog`).
_INSERT_VECTORS = """
INSERT INTO alma_store_vectors (tenant_id, ns_path, key, field, dims, embedding, half, indexed)
SELECT %(tenant)s, u.ns, u.key, u.field, %(dims)s,
       CASE WHEN NOT %(half)s THEN u.vec::vector END, CASE WHEN %(half)s THEN u.vec::halfvec END,
       {indexed}
FROM unnest(%(ns)b::text[], %(keys)b::text[], %(fields)b::text[], %(vecs)b::text[])
     AS u(ns, key, field, vec)
ON CONFLICT (tenant_id, ns_path, key, field) DO UPDATE SET
    dims = excluded.dims, embedding = excluded.embedding, half = excluded.half,
    indexed = excluded.indexed
"""
INSERT_VECTORS = _INSERT_VECTORS.format(indexed="%(indexed)s")
"""The batch's vectors, into the index (`%(indexed)s`) or not."""

# Deferred: the rows join the backlog unless it holds `%(backlog_max)s` rows with them
# (backpressure: they are indexed now). The backlog is the store's estimate
# (`%(backlog)s`) when it has one, else (-1: one value type, one prepared statement)
# counted up to the bound (an InitPlan, run only when coalesce needs it; a range of the
# backlog's partial btree). Returns the backlog seen and whether the rows were indexed.
INSERT_VECTORS_DEFERRED = (
    """
WITH backlog AS MATERIALIZED (
    SELECT coalesce(nullif(%(backlog)s::bigint, -1), (SELECT count(*) FROM (
        SELECT 1 FROM alma_store_vectors b
        WHERE b.tenant_id = %(tenant)s AND b.dims = %(dims)s AND NOT b.indexed
        LIMIT %(backlog_max)s) AS c)) AS n
), written AS ("""
    + _INSERT_VECTORS.format(
        indexed="(SELECT n FROM backlog) + %(rows)s::bigint > %(backlog_max)s::bigint"
    )
    + """    RETURNING indexed
)
SELECT (SELECT n FROM backlog), coalesce(bool_or(indexed), FALSE) FROM written
"""
)

# The indexer's step: up to `%(chunk)s` backlog rows of the tenant's `%(dims)s` vectors
# into the index, in one transaction. Rows a put holds are skipped (`SKIP LOCKED`: the
# indexer never waits, so it cannot deadlock); a row a concurrent step moved fails the
# re-check of `NOT v.indexed` and is skipped too, so no row is moved twice. A tenant
# with at most `%(keep)s` vectors of these dims is searched exactly (every candidate set
# is under the exact bound): its rows stay out. Returns (rows moved, whether the tenant's
# vectors are more than `keep`).
INDEX_CHUNK = """
WITH total AS MATERIALIZED (
    -- counted unless the drain's last chunk found the tenant large (`%(large)s`): the
    -- count is an InitPlan, run only when the CASE needs it
    SELECT CASE WHEN %(large)s THEN %(keep)s::bigint + 1
                ELSE (SELECT count(*) FROM (
                    SELECT 1 FROM alma_store_vectors v
                    WHERE v.tenant_id = %(tenant)s AND v.dims = %(dims)s
                    LIMIT %(keep)s::bigint + 1) AS c) END AS n
), pick AS (
    SELECT v.ns_path, v.key, v.field FROM alma_store_vectors v
    WHERE v.tenant_id = %(tenant)s AND v.dims = %(dims)s AND NOT v.indexed
      AND (SELECT n FROM total) > %(keep)s::bigint
    LIMIT %(chunk)s
    FOR UPDATE OF v SKIP LOCKED
), moved AS (
    UPDATE alma_store_vectors v SET indexed = TRUE
    FROM pick
    WHERE v.tenant_id = %(tenant)s AND v.ns_path = pick.ns_path AND v.key = pick.key
      AND v.field = pick.field
    RETURNING 1
)
SELECT (SELECT count(*) FROM moved), (SELECT n FROM total) > %(keep)s::bigint
"""

# The partial HNSW index of the store's index configuration, built in bulk once at least
# `%(min_rows)s` vectors of its dims are past the exact bound (0: at once); true when the
# index exists (migration 0016: the index is made there, as its owner).
BUILD_ANN = """SELECT alma_store_build_ann(%(dims)s, %(vector_type)s, %(distance_type)s, %(m)s,
                             %(ef_construction)s, %(min_rows)s)"""

# The same on a connection of the admin role, with CREATE INDEX CONCURRENTLY (writes go on
# during the build): the function's advisory lock, tried (for the session, given back at
# the end, or by the connection's close if the build fails; a builder waiting for it
# would be waited for by the concurrent build: a deadlock); then whether the role owns
# the table (only an owner may build, and only it counts every tenant's rows), the
# index's state, whether enough vectors need it, and the statements that drop (an
# invalid leftover) and create it.
BUILD_ANN_LOCK = "SELECT pg_try_advisory_lock(hashtext('alma_store_build_ann'))"
BUILD_ANN_UNLOCK = "SELECT pg_advisory_unlock(hashtext('alma_store_build_ann'))"
BUILD_ANN_STATE = """
SELECT pg_has_role((SELECT c.relowner FROM pg_class c
                    WHERE c.oid = 'alma_store_vectors'::regclass), 'USAGE'),
       alma_store_ann_valid(d.index_name),
       alma_store_ann_needed(%(dims)s, %(min_rows)s),
       d.drop_ddl, d.create_ddl
FROM alma_store_ann_ddl(%(dims)s, %(vector_type)s, %(distance_type)s, %(m)s,
                        %(ef_construction)s, true) AS d
"""

# Tenants with backlog rows of `%(dims)s` (a privileged store's `index_backlog()`).
BACKLOG_TENANTS = """
SELECT DISTINCT tenant_id FROM alma_store_vectors
WHERE dims = %(dims)s AND NOT indexed
ORDER BY tenant_id
"""

# At most %(limit)s expired items of every tenant, in one short transaction (0015).
SWEEP = "SELECT alma_store_sweep(%(limit)s)"

LIST_TENANTS = "SELECT DISTINCT tenant_id FROM alma_store ORDER BY tenant_id"


def count_items(where: str) -> str:
    """How many of the tenant's items meet `where` (a prefix range, a filter, `LIVE`):
    one count, no row sent back (`AsyncAlmaStore.acount_items`)."""
    return f"SELECT count(*) FROM alma_store s WHERE s.tenant_id = %(tenant)s AND {where}"
