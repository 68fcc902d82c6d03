"""SQL of AlmaSaver, in one place. Every value is a bound parameter; every statement
names its tenant, and row-level security checks it against `alma.tenant_id`.

The hot statements (get_tuple, list, put, put_writes) are one statement each, one round
trip with no pipeline: they set the tenant themselves in a first CTE, `_tenant`, which
every first read or write of a tenant table depends on through a LATERAL reference, a
correlated subquery or the rows it inserts, so PostgreSQL evaluates it before any
row-level security check (a plain join would not do: the planner may scan the table
first). Were that order ever wrong, the check would see no tenant and match nothing: it
fails closed. Puts and writes of one thread sent together (`_coalesce`) become one
statement too (`merged`: each a data-modifying CTE over one `_tenant`). Other
statements run in a pipeline batch after `set_tenant`.
"""

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from langgraph_alma.db.plan import SET_TENANT


def compact(sql: str) -> str:
    """`sql` without its comments and runs of white space: the hot statements are sent
    (and their text converted by psycopg) on every call, and psycopg caches the
    conversion of statements up to 4 KB only. Their string literals hold neither."""
    bare = re.sub(r"--[^\n]*", "", sql)
    if bare.count("'") % 2 or any(re.search(r"\s", lit) for lit in re.findall("'[^']*'", bare)):
        raise ValueError(f"a literal with -- or white space: do not compact {sql[:60]!r}")
    return re.sub(r"\s+", " ", bare).strip()


# Columns a row does not store twice (storage format of migration 0011; rows stored
# before hold them in full, and read the same). A checkpoint's metadata without the
# `step` (an int) and `source` (a str) its columns of the same name hold: the metadata
# read is the columns' values under the stored keys, which win (`|| c.metadata`).
METADATA = (
    "(jsonb_strip_nulls(jsonb_build_object('step', c.step, 'source', c.source)) || c.metadata)"
)
# A pending write's task path: '' with a node_id stands for a pull task's path,
# '~__pregel_pull, <node_id>' (what `_writes.stored_task_path` leaves out; chr(32): the
# hot statements are compacted, and their literals hold no white space).
# The blob channels of checkpoint row {c} with their versions (`BLOB_VERSION`): from the
# `blob_versions` column (migration 0012: comma-separated, '' for none), or the
# checkpoint's jsonb (rows before it).
BLOB_CHANNELS = (
    "unnest({c}.blob_channels, string_to_array({c}.blob_versions, ',', '')) AS ch(name, version)"
)
BLOB_VERSION = "coalesce(ch.version, {c}.checkpoint -> 'channel_versions' ->> ch.name)"
TASK_PATH = (
    "(CASE WHEN {w}.task_path = '' AND {w}.node_id IS NOT NULL"
    " THEN '~__pregel_pull,' || chr(32) || {w}.node_id ELSE {w}.task_path END)"
)


def _checkpoint_rows(n: str) -> str:
    """A read's rows of its checkpoints (`cps`, ranked by the SQL `n`), their pending
    writes and, for checkpoints older than format 4, their parent's sends ('c', 'w',
    's'): `SELECT` follows them with the blob rows of their chains ('b'), `WARM_SELECT`
    reads none."""
    return (
        """
-- Plain rows of three kinds (psycopg decodes them in C, unlike arrays of records):
-- 'c' a checkpoint (its packed form in `blob`; its scope last, which `get_tuple`
-- remembers for the next put), 'w' one of its pending writes, 'b' a blob row of some
-- chain. JSON comes as text, which `_decode.json_loads` reads several
-- times faster than psycopg's jsonb loader (the standard library's json).
SELECT 'c' AS kind, c.thread_id, c.checkpoint_ns, c.checkpoint_id AS id,
       c.parent_checkpoint_id AS ref, NULL::text AS channel, NULL::text AS type,
       c.packed AS blob, """
        + n
        + """ AS n, NULL::int AS depth, NULL::text AS task_path,
       c.checkpoint::text, c.inline_values::text, """
        + METADATA
        + """::text, c.blob_channels, c.blob_versions, c.project_id, c.agent, c.workflow_id
FROM cps c
UNION ALL
SELECT 'w', w.thread_id, w.checkpoint_ns, w.checkpoint_id, w.task_id, w.channel, w.type,
       w.blob, w.idx, NULL, """
        + TASK_PATH.format(w="w")
        + """, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM cps c, LATERAL (
    SELECT * FROM alma_checkpoint_writes w
    WHERE w.tenant_id = %(tenant)s AND w.thread_id = c.thread_id
      AND w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.checkpoint_id
    OFFSET 0  -- planned on its own: the primary key on all four, even in a generic plan
) AS w
UNION ALL
-- 's': for a checkpoint older than format 4, its parent's pending sends, which readers
-- move into the checkpoint's __pregel_tasks channel (as PostgresSaver does).
SELECT 's', w.thread_id, w.checkpoint_ns, c.checkpoint_id, w.task_id, w.channel, w.type,
       w.blob, w.idx, NULL, """
        + TASK_PATH.format(w="w")
        + """, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM cps c, LATERAL (
    SELECT * FROM alma_checkpoint_writes w
    WHERE w.tenant_id = %(tenant)s AND w.thread_id = c.thread_id
      AND w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.parent_checkpoint_id
      AND w.channel = '__pregel_tasks'
    OFFSET 0
) AS w
WHERE (c.checkpoint ->> 'v')::int < 4 AND c.parent_checkpoint_id IS NOT NULL"""
    )


# Checkpoints matching {where} (newest first, {limit}), their pending writes, and every
# blob row their channels need: for each channel version, the chain of deltas back to a
# whole value, stopping at versions the caller already holds (`known`: a JSON array of
# [thread, namespace, channel, version]; one text binds faster than four text arrays).
# Shared chain rows are sent once however many checkpoints read them.
SELECT = (
    """
WITH RECURSIVE _tenant AS MATERIALIZED (SELECT """
    + SET_TENANT
    + """ AS tenant_id),
cps AS MATERIALIZED (
    SELECT c.*, row_number() OVER (ORDER BY c.checkpoint_id DESC) AS rn
    FROM _tenant, LATERAL (
        SELECT * FROM alma_checkpoints c
        WHERE c.tenant_id = _tenant.tenant_id AND c.tenant_id = %(tenant)s {where}
        ORDER BY c.checkpoint_id DESC {limit}
    ) AS c
),
known AS (
    SELECT k ->> 0 AS thread_id, k ->> 1 AS checkpoint_ns, k ->> 2 AS channel,
           k ->> 3 AS version
    FROM json_array_elements(%(known)s::json) AS k
),
heads AS (
    SELECT DISTINCT cps.thread_id, cps.checkpoint_ns, ch.name AS channel,
           """
    + BLOB_VERSION.format(c="cps")
    + """ AS version
    FROM cps, """
    + BLOB_CHANNELS.format(c="cps")
    + """
),
chain AS (
    -- LATERAL ... LIMIT 1 (the primary key): one index lookup per version, never a scan
    -- of every version of the channel.
    SELECT b.*
    FROM heads, LATERAL (
        SELECT b.thread_id, b.checkpoint_ns, b.channel, b.version, b.type, b.blob,
               b.base_version, b.keep_len, b.depth
        FROM alma_checkpoint_blobs b
        WHERE b.tenant_id = %(tenant)s AND b.thread_id = heads.thread_id
          AND b.checkpoint_ns = heads.checkpoint_ns AND b.channel = heads.channel
          AND b.version = heads.version
        LIMIT 1
    ) AS b
    WHERE NOT EXISTS (SELECT 1 FROM known k WHERE (k.thread_id, k.checkpoint_ns, k.channel,
                      k.version) = (b.thread_id, b.checkpoint_ns, b.channel, b.version))
  UNION
    SELECT b.*
    FROM chain, LATERAL (
        SELECT b.thread_id, b.checkpoint_ns, b.channel, b.version, b.type, b.blob,
               b.base_version, b.keep_len, b.depth
        FROM alma_checkpoint_blobs b
        WHERE b.tenant_id = %(tenant)s AND b.thread_id = chain.thread_id
          AND b.checkpoint_ns = chain.checkpoint_ns AND b.channel = chain.channel
          AND b.version = chain.base_version
        LIMIT 1
    ) AS b
    WHERE NOT EXISTS (SELECT 1 FROM known k WHERE (k.thread_id, k.checkpoint_ns, k.channel,
                      k.version) = (b.thread_id, b.checkpoint_ns, b.channel, b.version))
)
"""
    + _checkpoint_rows("c.rn::int")
    + """
UNION ALL
SELECT 'b', b.thread_id, b.checkpoint_ns, b.version, b.base_version, b.channel, b.type,
       b.blob, b.keep_len, b.depth, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM chain b"""
)
SELECT = compact(SELECT)

# The latest checkpoint matching {where}, its pending writes and sends, as `SELECT`
# gives them, without the blob rows of its channels: `get_tuple` of a saver that holds
# the thread's list versions (`Reads._select`), which then runs `SELECT` only when the
# checkpoint turns out to need a blob row it does not hold (a version another saver
# wrote, a value that is no list). No recursive CTE, no window: half of `SELECT`'s
# server time.
WARM_SELECT = compact(
    """
WITH _tenant AS MATERIALIZED (SELECT """
    + SET_TENANT
    + """ AS tenant_id),
cps AS MATERIALIZED (
    SELECT c.*
    FROM _tenant, LATERAL (
        SELECT * FROM alma_checkpoints c
        WHERE c.tenant_id = _tenant.tenant_id AND c.tenant_id = %(tenant)s {where}
        ORDER BY c.checkpoint_id DESC LIMIT 1
    ) AS c
)
"""
    + _checkpoint_rows("1")
)

# The rows a write statement inserts: from arrays (unnest), or, for the usual single row,
# from scalars (psycopg dumps a one-element array several times slower than a scalar).
_BLOB_COLUMNS = ("channel", "version", "type", "blob", "base", "keep", "depth")
_BLOB_TYPES = ("text", "text", "text", "bytea", "text", "int", "int")
_WRITE_COLUMNS = ("idx", "channel", "type", "blob")
_WRITE_TYPES = ("int", "text", "text", "bytea")


def _rows(prefix: str, columns: tuple[str, ...], types: tuple[str, ...], many: bool) -> str:
    if many:
        arrays = ", ".join(f"%({prefix}{c})s::{t}[]" for c, t in zip(columns, types, strict=True))
        return f"unnest({arrays})"
    values = ", ".join(f"%({prefix}{c})s::{t}" for c, t in zip(columns, types, strict=True))
    return f"(VALUES ({values}))"


# The first CTE of every hot write: the tenant, and this transaction's synchronous_commit.
_WRITE_TENANT = (
    """
WITH _tenant AS MATERIALIZED (
    SELECT """
    + SET_TENANT
    + """ AS tenant_id
    WHERE set_config('synchronous_commit', %(commit)s, true) IS NOT NULL)"""
)


def _put(blob_rows: str | None, lookup: bool) -> str:
    """One statement: the blobs (whole values or deltas; none: no blob CTE at all) and
    the checkpoint row. `lookup`: the parent's scope and `versions_seen` are read from
    its row, and the stored scope returned (for the saver to remember); else the saver,
    which put the parent itself, gives the scope and the nodes (`Writes._put_params`).
    `commit` is this transaction's synchronous_commit (see `Writes.put_waits_for_commit`)."""
    blobs = (
        f""",
blobs AS (
    INSERT INTO alma_checkpoint_blobs
        (tenant_id, thread_id, checkpoint_ns, channel, version, type, blob,
         base_version, keep_len, depth)
    SELECT _tenant.tenant_id, %(thread)s, %(ns)s, u.*
    FROM _tenant, {blob_rows} AS u
    ON CONFLICT DO NOTHING
)"""
        if blob_rows
        else ""
    )
    scope = (
        """coalesce(%(project_id)s, p.project_id, 'default'), coalesce(%(agent)s, p.agent),
       coalesce(%(workflow_id)s, p.workflow_id), %(node_id)s::text,"""
        if lookup
        else "%(project_id)s::text, %(agent)s::text, %(workflow_id)s::text, %(node_id)s::text,"
    )
    parent = (
        """
-- A scope the config does not give is the parent's (a fork made from a config the saver
-- handed out carries no project, agent or workflow).
LEFT JOIN LATERAL (
    SELECT p.project_id, p.agent, p.workflow_id
    FROM alma_checkpoints p
    WHERE p.tenant_id = _tenant.tenant_id AND p.tenant_id = %(tenant)s
      AND p.thread_id = %(thread)s
      AND p.checkpoint_ns = %(ns)s AND p.checkpoint_id = %(parent)s
    -- The primary key's order: the planner looks the row up by the primary key, even
    -- while the table's statistics are those of an empty table.
    ORDER BY p.tenant_id, p.thread_id, p.checkpoint_ns, p.checkpoint_id
    LIMIT 1
) AS p ON true"""
        if lookup
        else ""
    )
    return (
        _WRITE_TENANT
        + blobs
        + """
INSERT INTO alma_checkpoints
    (tenant_id, thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, run_id,
     project_id, agent, workflow_id, node_id, step, source, checkpoint, packed,
     inline_values, blob_channels, blob_versions, metadata)
SELECT _tenant.tenant_id, %(thread)s, %(ns)s, %(id)s, %(parent)s, %(run_id)s,
       """
        + scope
        + """
       %(step)s, %(source)s, %(checkpoint)s::jsonb, %(packed)s::bytea, %(inline)s,
       %(blob_channels)s, %(blob_versions)s::text, %(metadata)s
FROM _tenant"""
        + parent
        + """
ON CONFLICT (tenant_id, thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET
    step = EXCLUDED.step,  -- with the metadata: it holds what the metadata leaves out
    source = EXCLUDED.source,
    checkpoint = EXCLUDED.checkpoint,
    packed = EXCLUDED.packed,
    inline_values = EXCLUDED.inline_values,
    blob_channels = EXCLUDED.blob_channels,
    blob_versions = EXCLUDED.blob_versions,
    metadata = EXCLUDED.metadata"""
        + (
            "\nRETURNING project_id, agent, workflow_id"  # the scope stored (kept on conflict)
            if lookup
            else ""
        )
    )


# PUT[(n, lookup)]: the put of a checkpoint with n blob rows (0, 1, or 2 for "2 or
# more"), reading the parent's row (lookup) or given what the saver remembers of it.
_BLOB_ROWS = (
    None,
    _rows("b_", _BLOB_COLUMNS, _BLOB_TYPES, many=False),
    _rows("b_", _BLOB_COLUMNS, _BLOB_TYPES, many=True),
)
PUT = {
    (n, lookup): compact(_put(rows, lookup))
    for n, rows in enumerate(_BLOB_ROWS)
    for lookup in (False, True)
}


# The versions_seen of a put's parent the saver does not remember (`Writes.put`: the
# nodes that produced the checkpoint are those whose versions_seen changed since): the
# jsonb's, or the packed checkpoint to read it from (migration 0012). No row: the parent
# is not stored (yet).
PARENT_SEEN = compact(
    """
WITH _tenant AS MATERIALIZED (SELECT """
    + SET_TENANT
    + """ AS tenant_id)
SELECT (p.checkpoint -> 'versions_seen')::text, p.packed, p.blob_channels, p.blob_versions
FROM _tenant, LATERAL (
    SELECT * FROM alma_checkpoints p
    WHERE p.tenant_id = _tenant.tenant_id AND p.tenant_id = %(tenant)s
      AND p.thread_id = %(thread)s AND p.checkpoint_ns = %(ns)s
      AND p.checkpoint_id = %(parent)s
    ORDER BY p.tenant_id, p.thread_id, p.checkpoint_ns, p.checkpoint_id
    LIMIT 1
) AS p"""
)

# A transaction that commits synchronously (it takes a transaction id, so it has a commit
# record to flush), flushing every commit before it: after a checkpoint committed
# asynchronously whose run then wrote something that may end it.
FLUSH = "SELECT pg_current_xact_id()"


# A write `u` (of a task's writes) whose index no packed row of its task holds
# (`WRITES_PACKED`, at index 0: its first 4 bytes are its count). One write alone is at
# index 0: the conflict says so.
_FREE_INDEX = """u.idx < 1 OR NOT EXISTS (
    SELECT 1 FROM alma_checkpoint_writes h
    WHERE h.tenant_id = _tenant.tenant_id AND h.tenant_id = %(tenant)s
      AND h.thread_id = %(thread)s
      AND h.checkpoint_ns = %(ns)s AND h.checkpoint_id = %(id)s
      AND h.task_id = %(task_id)s AND h.idx = 0 AND h.type = 'w1:writes'
      AND int4send(u.idx) < substring(h.blob FROM 1 FOR 4))"""


def _writes(many: bool, upsert: bool) -> str:
    """A task's pending writes. `commit` is this transaction's synchronous_commit: 'off'
    for the writes of a LangGraph run whose durability is not "sync" (LangGraph does not
    wait for them either; the run's next checkpoint commits synchronously, which flushes
    them with it), else 'on'."""
    return (
        _WRITE_TENANT
        + f"""
INSERT INTO alma_checkpoint_writes
    (tenant_id, thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, node_id,
     branch_id, idx, channel, type, blob)
SELECT _tenant.tenant_id, %(thread)s, %(ns)s, %(id)s, %(task_id)s, %(task_path)s,
       %(node_id)s, %(branch_id)s, u.*
FROM _tenant, {_rows("", _WRITE_COLUMNS, _WRITE_TYPES, many)} AS u(idx, channel, type, blob)
"""
        + (f"WHERE {_FREE_INDEX}\n" if many and not upsert else "")
        + "ON CONFLICT (tenant_id, thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO "
        + (
            "UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob"
            if upsert
            else "NOTHING"
        )
    )


# WRITES[(many, upsert)]: one row or several; special channels (errors, interrupts...)
# replace what the task wrote before, others are kept as first written.
WRITES = {
    (many, upsert): compact(_writes(many, upsert))
    for many in (False, True)
    for upsert in (False, True)
}

# The regular writes (no special channel, no sends) of one call for a task, two or more:
# one row, of type 'w1:writes' at index 0 (a row holds some 150 bytes of keys and
# columns besides its value, and an index entry as many), its blob the writes packed by
# `_compress.pack_writes` (their count first, as an int4). Only when the task has no
# regular write yet; else the same statement stores them one row each, unpacked by
# `alma_unpack_writes` (migration 0011), only at the indexes none stored holds, as
# PostgresSaver keeps the first write at each index. When a call for the same task
# committed the task's first writes while this statement ran (its snapshot does not
# show them), `alma_writes_raced` raises a serialization failure, and the caller stores
# the writes one row each (`WRITES[(True, False)]`, on a new snapshot). One statement
# that returns nothing, so that `merged` may join it with its superstep's put.
WRITES_PACKED = compact(
    _WRITE_TENANT
    + """,
_prior_writes AS MATERIALIZED (
    SELECT EXISTS (
        SELECT 1 FROM alma_checkpoint_writes h
        WHERE h.tenant_id = _tenant.tenant_id AND h.tenant_id = %(tenant)s
          AND h.thread_id = %(thread)s AND h.checkpoint_ns = %(ns)s
          AND h.checkpoint_id = %(id)s AND h.task_id = %(task_id)s AND h.idx >= 0) AS held
    FROM _tenant
),
_packed_row AS (
    INSERT INTO alma_checkpoint_writes
        (tenant_id, thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, node_id,
         branch_id, idx, channel, type, blob)
    SELECT _tenant.tenant_id, %(thread)s, %(ns)s, %(id)s, %(task_id)s, %(task_path)s,
           %(node_id)s, %(branch_id)s, 0, %(channel)s, 'w1:writes', %(blob)s
    FROM _tenant, _prior_writes
    WHERE NOT _prior_writes.held
    ON CONFLICT (tenant_id, thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
    DO NOTHING
    RETURNING 1
)
INSERT INTO alma_checkpoint_writes
    (tenant_id, thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, node_id,
     branch_id, idx, channel, type, blob)
SELECT _tenant.tenant_id, %(thread)s, %(ns)s, %(id)s, %(task_id)s, %(task_path)s,
       %(node_id)s, %(branch_id)s, u.*
FROM _tenant, _prior_writes, alma_unpack_writes(%(blob)s) AS u(idx, channel, type, blob)
WHERE NOT EXISTS (SELECT 1 FROM _packed_row)  -- a one-time filter: nothing unpacked
  AND CASE
    WHEN EXISTS (SELECT 1 FROM _packed_row) THEN false
    WHEN NOT _prior_writes.held THEN alma_writes_raced()
    ELSE """
    + _FREE_INDEX
    + """
  END
ON CONFLICT (tenant_id, thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO NOTHING"""
)

# Statements `merged` may join: puts that return nothing, and writes.
MERGEABLE = frozenset(
    [q for (_, lookup), q in PUT.items() if not lookup] + [*WRITES.values(), WRITES_PACKED]
)
SHARED_PARAMS = ("tenant", "commit")  # what every statement of one batch gives alike
_PARAM = re.compile(r"%\((\w+)\)s")
_CTE = re.compile(r"[ ,](\w+) AS (?:MATERIALIZED )?\(")  # a CTE a statement defines


def _suffixed(query: str, i: int) -> str:
    """`query` with its parameters but the shared ones renamed `name__i`."""

    def rename(m: re.Match[str]) -> str:
        return m.group(0) if m.group(1) in SHARED_PARAMS else f"%({m.group(1)}__{i})s"

    return _PARAM.sub(rename, query)


@functools.lru_cache(maxsize=256)
def _merged_text(queries: tuple[str, ...]) -> str:
    head = compact(_WRITE_TENANT)
    ctes: list[str] = []
    rest, cut = "", 0
    for i, query in enumerate(queries):
        if not query.startswith(head):
            raise ValueError(f"not a hot write: {query[:60]!r}")
        rest = _suffixed(query[len(head) :], i)
        for cte in _CTE.findall(rest):  # the statement's own CTEs, named apart
            rest = re.sub(rf"\b{cte}\b", f"{cte}{i}", rest)
        cut = rest.rfind(" INSERT INTO ")  # the statement's own (a CTE's is before it)
        ctes.append(rest[:cut])
        if i < len(queries) - 1:
            ctes.append(f", _s{i} AS ({rest[cut + 1 :]})")
    return head + "".join(ctes) + rest[cut:]


def merged(statements: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[str, dict[str, Any]]:
    """One statement (one round trip, one transaction, one command for the server to run)
    doing what each of `statements` does: each a `MERGEABLE` query and its parameters,
    all of one tenant and commit mode (the outbox's batches of one thread). Each becomes
    a data-modifying CTE over the shared `_tenant` one, its parameters renamed
    `name__i`. They run on one snapshot: none may read what another writes (puts of
    different checkpoints and writes of different tasks do not)."""
    params: dict[str, Any] = {k: statements[0][1][k] for k in SHARED_PARAMS}
    for i, (query, values) in enumerate(statements):
        if query not in MERGEABLE or any(values[k] != params[k] for k in SHARED_PARAMS):
            raise ValueError("only hot writes of one tenant and commit mode merge")
        params.update((f"{k}__{i}", v) for k, v in values.items() if k not in SHARED_PARAMS)
    return _merged_text(tuple(q for q, _ in statements)), params


DELETE_THREADS = [
    f"DELETE FROM {table} WHERE tenant_id = %(tenant)s AND thread_id = ANY(%(threads)s)"
    for table in (
        "alma_checkpoint_writes",
        "alma_checkpoints",
        "alma_checkpoint_blobs",
        "alma_workflow_branches",  # the workflow manager's sequence counters of the run
        "alma_threads",  # retention: the thread's last write and TTL
    )
]

# Blobs stay: later checkpoints of the same threads may still use them.
DELETE_FOR_RUNS = """
WITH gone AS (
    DELETE FROM alma_checkpoints
    WHERE tenant_id = %(tenant)s AND run_id = ANY(%(runs)s)
    RETURNING thread_id, checkpoint_ns, checkpoint_id
)
DELETE FROM alma_checkpoint_writes w USING gone
WHERE w.tenant_id = %(tenant)s AND w.thread_id = gone.thread_id
  AND w.checkpoint_ns = gone.checkpoint_ns AND w.checkpoint_id = gone.checkpoint_id"""

COPY_THREAD = [
    """INSERT INTO alma_checkpoint_blobs
         (tenant_id, thread_id, checkpoint_ns, channel, version, type, blob,
          base_version, keep_len, depth)
       SELECT tenant_id, %(target)s, checkpoint_ns, channel, version, type, blob,
              base_version, keep_len, depth
       FROM alma_checkpoint_blobs WHERE tenant_id = %(tenant)s AND thread_id = %(source)s
       ON CONFLICT DO NOTHING""",
    """INSERT INTO alma_checkpoints
         (tenant_id, thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, run_id,
          project_id, agent, workflow_id, node_id, step, source, checkpoint, packed,
          inline_values, blob_channels, blob_versions, metadata, created_at)
       SELECT tenant_id, %(target)s, checkpoint_ns, checkpoint_id, parent_checkpoint_id,
              run_id, project_id, agent, workflow_id, node_id, step, source, checkpoint,
              packed, inline_values, blob_channels, blob_versions, metadata, created_at
       FROM alma_checkpoints WHERE tenant_id = %(tenant)s AND thread_id = %(source)s
       ON CONFLICT DO NOTHING""",
    """INSERT INTO alma_checkpoint_writes
         (tenant_id, thread_id, checkpoint_ns, checkpoint_id, task_id, idx, task_path,
          channel, type, blob, node_id, branch_id)
       SELECT tenant_id, %(target)s, checkpoint_ns, checkpoint_id, task_id, idx, task_path,
              channel, type, blob, node_id, branch_id
       FROM alma_checkpoint_writes WHERE tenant_id = %(tenant)s AND thread_id = %(source)s
       ON CONFLICT DO NOTHING""",
]

PRUNE_SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"

# The parent chain of a thread (per namespace) with the channels each checkpoint
# stores a value for; enough to keep every DeltaChannel's ancestors back to its seed.
PRUNE_CHAIN = """
SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id,
       blob_channels || ARRAY(SELECT e.key FROM jsonb_each(inline_values) AS e
                              WHERE e.value <> 'null'::jsonb) AS stored,
       ARRAY(SELECT jsonb_object_keys(
           coalesce(metadata -> 'counters_since_delta_snapshot', '{}'))) AS delta_channels
FROM alma_checkpoints
WHERE tenant_id = %(tenant)s AND thread_id = %(thread)s
ORDER BY checkpoint_ns, checkpoint_id DESC"""

PRUNE_WRITES = """
DELETE FROM alma_checkpoint_writes
WHERE tenant_id = %(tenant)s AND thread_id = %(thread)s
  AND (checkpoint_ns, checkpoint_id) NOT IN (
      SELECT * FROM unnest(%(kept_ns)s::text[], %(kept_id)s::text[]))"""

PRUNE_CHECKPOINTS = """
DELETE FROM alma_checkpoints
WHERE tenant_id = %(tenant)s AND thread_id = %(thread)s
  AND (checkpoint_ns, checkpoint_id) NOT IN (
      SELECT * FROM unnest(%(kept_ns)s::text[], %(kept_id)s::text[]))"""

# Blobs no kept checkpoint reaches, directly or as the base of a delta it reads.
PRUNE_BLOBS = (
    """
WITH RECURSIVE live AS (
    SELECT c.checkpoint_ns, ch.name AS channel, """
    + BLOB_VERSION.format(c="c")
    + """ AS version
    FROM alma_checkpoints c, """
    + BLOB_CHANNELS.format(c="c")
    + """
    WHERE c.tenant_id = %(tenant)s AND c.thread_id = %(thread)s
  UNION
    SELECT b.checkpoint_ns, b.channel, b.base_version
    FROM live
    JOIN alma_checkpoint_blobs b
      ON b.tenant_id = %(tenant)s AND b.thread_id = %(thread)s
     AND b.checkpoint_ns = live.checkpoint_ns AND b.channel = live.channel
     AND b.version = live.version
    WHERE b.base_version IS NOT NULL
)
DELETE FROM alma_checkpoint_blobs b
WHERE b.tenant_id = %(tenant)s AND b.thread_id = %(thread)s
  AND NOT EXISTS (
      SELECT 1 FROM live
      WHERE live.checkpoint_ns = b.checkpoint_ns AND live.channel = b.channel
        AND live.version = b.version)"""
)

# The parent chain of a checkpoint, walked for DeltaChannel history: from the target's
# parent upward, each ancestor with the channels it stores a value for (an inline JSON
# null is none: the walk goes on past it, as PostgresSaver's does), the requested
# channels still looking for their seed, and its writes to those channels. The walk
# stops once every requested channel has found an ancestor that stores it.
DELTA_WALK = (
    """
WITH RECURSIVE _tenant AS MATERIALIZED (SELECT """
    + SET_TENANT
    + """ AS tenant_id),
target AS (
    SELECT _tenant.tenant_id, c.parent_checkpoint_id
    FROM _tenant, LATERAL (
        SELECT parent_checkpoint_id, checkpoint_id FROM alma_checkpoints c
        WHERE c.tenant_id = _tenant.tenant_id AND c.tenant_id = %(tenant)s
          AND c.thread_id = %(thread)s AND c.checkpoint_ns = %(ns)s
          AND (%(id)s::text IS NULL OR c.checkpoint_id = %(id)s)
        ORDER BY c.checkpoint_id DESC LIMIT 1
    ) AS c
),
walk AS (
    SELECT c.checkpoint_id, c.parent_checkpoint_id,
           c.blob_channels || ARRAY(SELECT e.key FROM jsonb_each(c.inline_values) AS e
                                   WHERE e.value <> 'null'::jsonb) AS stored,
           %(channels)s::text[] AS wanted, 1 AS depth
    FROM target, LATERAL (  -- LATERAL: read only once _tenant has set the tenant
        SELECT * FROM alma_checkpoints c
        WHERE c.tenant_id = target.tenant_id AND c.thread_id = %(thread)s
          AND c.checkpoint_ns = %(ns)s AND c.checkpoint_id = target.parent_checkpoint_id
    ) AS c
  UNION ALL
    SELECT c.checkpoint_id, c.parent_checkpoint_id,
           c.blob_channels || ARRAY(SELECT e.key FROM jsonb_each(c.inline_values) AS e
                                    WHERE e.value <> 'null'::jsonb),
           ARRAY(SELECT unnest(w.wanted) EXCEPT SELECT unnest(w.stored)), w.depth + 1
    FROM walk w, LATERAL (  -- LIMIT 1: a primary key lookup, in any plan
        SELECT * FROM alma_checkpoints c
        WHERE c.tenant_id = %(tenant)s AND c.thread_id = %(thread)s
          AND c.checkpoint_ns = %(ns)s AND c.checkpoint_id = w.parent_checkpoint_id
        LIMIT 1
    ) AS c
    WHERE EXISTS (SELECT unnest(w.wanted) EXCEPT SELECT unnest(w.stored))
)
SELECT w.checkpoint_id, w.stored, w.wanted,
       (SELECT array_agg(ROW(x.task_id, x.channel, x.type, x.blob, """
    + TASK_PATH.format(w="x")
    + """, x.idx))
        FROM alma_checkpoint_writes x
        WHERE x.tenant_id = %(tenant)s AND x.thread_id = %(thread)s
          AND x.checkpoint_ns = %(ns)s AND x.checkpoint_id = w.checkpoint_id
          AND (x.channel = ANY(w.wanted) OR x.type = 'w1:writes')) AS writes
FROM walk w
ORDER BY w.depth"""
)

# The tenant's threads, most recently updated first: how many checkpoints each has, the
# step of its latest root checkpoint, and the latest scope it was run under. Runs after
# `set_tenant` in one batch; `(tenant_id, thread_id, ...)` is the primary key's prefix.
THREADS = """
SELECT c.thread_id, count(*)::int AS checkpoints,
       (array_agg(c.step ORDER BY c.checkpoint_id DESC)
            FILTER (WHERE c.checkpoint_ns = ''))[1] AS last_step,
       max(c.created_at) AS updated_at,
       (array_agg(c.project_id ORDER BY c.checkpoint_id DESC))[1] AS project_id,
       (array_agg(c.agent ORDER BY c.checkpoint_id DESC)
            FILTER (WHERE c.agent IS NOT NULL))[1] AS agent,
       (array_agg(c.workflow_id ORDER BY c.checkpoint_id DESC)
            FILTER (WHERE c.workflow_id IS NOT NULL))[1] AS workflow_id
FROM alma_checkpoints c
WHERE c.tenant_id = %(tenant)s
  AND (%(agent)s::text IS NULL OR c.agent = %(agent)s)
  AND (%(workflow)s::text IS NULL OR c.workflow_id = %(workflow)s)
GROUP BY c.thread_id
ORDER BY max(c.created_at) DESC, c.thread_id
LIMIT %(limit)s"""
