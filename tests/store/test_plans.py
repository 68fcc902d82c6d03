"""Query searches run on their prepared generic plans (issue 11, speed).

Planning the search statement's CTEs afresh cost about as much as running them. A batch
with query searches now sets `plan_cache_mode` before them, so the statement is planned
once per connection; the full-text functions the search calls read the tenant or the
prefix's range in branches gated on their arguments, so their generic plans still answer
both (results checked here with and without a prefix).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from langgraph.store.base import GetOp, SearchOp
from psycopg_pool import ConnectionPool

from langgraph_alma import AlmaStore
from langgraph_alma.db.connect import connection_kwargs

from .conftest import DIMS, fake_embed

PLANS = """
SELECT generic_plans, custom_plans FROM pg_prepared_statements
WHERE statement LIKE %s ORDER BY generic_plans + custom_plans DESC LIMIT 1
"""


def test_query_searches_use_generic_plans(database, tenant, ns, indexed_setup) -> None:
    kwargs = {**connection_kwargs(), "prepare_threshold": 0}
    with ConnectionPool(database.url, min_size=1, max_size=1, kwargs=kwargs) as pool:
        index = {"dims": DIMS, "embed": fake_embed, "fields": ["text"]}
        store = AlmaStore(pool, tenant_id=tenant, index=index)
        store.batch([])  # warm the connection
        for i in range(12):
            store.put((*ns, f"u{i % 3}"), f"k{i}", {"text": f"red car number {i}"})
        for i in range(8):
            assert store.get((*ns, f"u{i % 3}"), f"k{i}") is not None
            in_prefix = store.search((*ns, "u1"), query="red car")
            everywhere = store.search(ns, query="red car")
            assert {h.key for h in in_prefix} == {"k1", "k4", "k7", "k10"}
            assert len(everywhere) == 10
            assert all(h.text_score is not None for h in in_prefix + everywhere)
        with pool.connection() as conn:
            search_plans = conn.execute(PLANS, ("%lexq AS MATERIALIZED%",)).fetchone()
    assert search_plans is not None
    assert search_plans[1] == 0 and search_plans[0] >= 8, search_plans


def test_gets_use_generic_plans_and_plain_searches_custom(database, tenant, ns) -> None:
    """A get's lookup was planned afresh on every call (its custom plan estimates one row
    per key, the generic one ten, so PostgreSQL never picked the cached plan): gets now
    run on their prepared generic plan. A plain search in the same batch runs first, as
    PostgreSQL chooses (its best plan depends on the filter's values), and answers stay
    right."""
    kwargs = {**connection_kwargs(), "prepare_threshold": 0}
    with ConnectionPool(database.url, min_size=1, max_size=1, kwargs=kwargs) as pool:
        store = AlmaStore(pool, tenant_id=tenant)
        store.batch([])  # warm the connection
        for i in range(6):
            store.put((*ns, "g"), f"k{i}", {"n": i, "kind": "even" if i % 2 == 0 else "odd"})
        for i in range(8):
            assert store.get((*ns, "g"), f"k{i % 6}").value["n"] == i % 6
            assert store.get((*ns, "g"), "missing") is None
            got, plain = store.batch(
                [GetOp((*ns, "g"), "k1"), SearchOp((*ns, "g"), filter={"kind": "even"})]
            )
            assert got is not None and got.value["n"] == 1
            assert sorted(h.key for h in plain) == ["k0", "k2", "k4"]
        with pool.connection() as conn:
            gets = conn.execute(PLANS, ("%WITH req AS%",)).fetchone()
            plains = conn.execute(PLANS, ("%ORDER BY s.updated_at DESC%",)).fetchone()
    assert gets is not None and plains is not None
    assert gets[1] == 0 and gets[0] >= 24, gets
    # forced generic plans would give it no custom plan at all; PostgreSQL's own choice
    # (`auto`) plans the first five executions afresh
    assert plains[1] >= 5, plains


def test_puts_alone_use_generic_plans(database, tenant, ns, indexed_setup, monkeypatch) -> None:
    """A batch of puts alone ran on PostgreSQL's own choice of plan, which planned the
    upsert (its CTEs clear the old vectors) afresh on every put: 0.2 ms a put, as much as
    running it, in `bench/store_concurrency_bench.py`'s sync run. Writes now run on their
    prepared generic plans, as they did already after a get or a query search."""
    monkeypatch.setenv("ALMA_STORE_INDEX_BACKGROUND", "false")
    kwargs = {**connection_kwargs(), "prepare_threshold": 0}
    with ConnectionPool(database.url, min_size=1, max_size=1, kwargs=kwargs) as pool:
        index = {"dims": DIMS, "embed": fake_embed, "fields": ["text"]}
        store = AlmaStore(pool, tenant_id=tenant, index=index)
        store.batch([])  # warm the connection
        for i in range(10):
            store.put((*ns, "w"), f"k{i % 4}", {"text": f"red car number {i}"})
        assert [store.get((*ns, "w"), f"k{i}").value["text"] for i in range(4)] == [
            f"red car number {i}" for i in (8, 9, 6, 7)
        ]
        with pool.connection() as conn:
            upserts = conn.execute(PLANS, ("%WITH cleared AS%",)).fetchone()
    assert upserts is not None
    assert upserts[1] == 0 and upserts[0] >= 10, upserts


def test_a_put_is_five_statements(database, tenant, ns, indexed_setup, monkeypatch) -> None:
    """A put was seven statements (BEGIN, settings, key-slot locks, upsert, old-vector
    delete, vector insert, COMMIT); the locks are now a column of the opening statement
    and the old vectors are deleted by the upsert. The vectors stay those of the last put."""
    # the HNSW backlog's indexer would prepare its own statements on the pool's connection
    monkeypatch.setenv("ALMA_STORE_INDEX_BACKGROUND", "false")
    kwargs = {**connection_kwargs(), "prepare_threshold": 0}  # every statement prepared
    with ConnectionPool(database.url, min_size=1, max_size=1, kwargs=kwargs) as pool:
        index = {"dims": DIMS, "embed": fake_embed, "fields": ["text", "title"]}
        store = AlmaStore(pool, tenant_id=tenant, index=index)
        store.get(ns, "warm")
        with pool.connection() as conn:
            before = {r[0] for r in conn.execute("SELECT statement FROM pg_prepared_statements")}
        store.put(ns, "k", {"text": "red car", "title": "old title"})
        store.put(ns, "k", {"text": "blue kitten"})  # one field now: the other's vector goes
        with pool.connection() as conn:
            sent = [
                r[0]
                for r in conn.execute("SELECT statement FROM pg_prepared_statements")
                if r[0] not in before
            ]
            conn.execute("SELECT set_config('alma.tenant_id', %s, false)", [tenant])
            fields = conn.execute(
                "SELECT field FROM alma_store_vectors WHERE tenant_id = %s AND key = 'k'",
                [tenant],
            ).fetchall()
        assert store.search(ns, query="feline")[0].key == "k"  # the new vector ("kitten")
    assert len(sent) == 5, sent
    assert fields == [("text",)]


def _most(plan: dict, value: Callable[[dict], int]) -> int:
    """The largest `value` of any node of `plan`."""
    return max([value(plan), *(_most(child, value) for child in plan.get("Plans", []))])


def _buffers(node: dict) -> int:
    """The buffers a node read (it counts its children's; an unreferenced CTE, such as the
    TTL refresh, is a child that its parent does not)."""
    return int(node.get("Shared Hit Blocks", 0)) + int(node.get("Shared Read Blocks", 0))


def _scan_rows(node: dict) -> int:
    """The rows a scan node returned, over all its loops (0 for other nodes)."""
    if node["Node Type"].endswith("Scan") and "Relation Name" in node:
        return int(node.get("Actual Rows", 0) * node.get("Actual Loops", 1))
    return 0


@pytest.mark.parametrize("stats", ["none", "tiny tenant"])
@pytest.mark.parametrize("name", ["GET", "DELETE", "DELETE_VECTORS"])
def test_a_keyed_statement_reads_its_keys_rows_only(fresh_database, tenant, name, stats) -> None:
    """Gets, deletes and the clearing of an item's old vectors (each put of an indexed
    store) find their rows through the primary key, a lookup driven by the requested
    keys; a get's TTL refresh tries the slot lock of the rows it read only, and updates
    them by tuple id. As joins, their generic plans (which a batch with a get or a query
    search runs on) read every row of a tenant estimated small to touch one (5,000 items
    and vectors here): on a new database (no statistics yet), and, for the refresh's
    update, with statistics that call the tenant tiny (4,000 small tenants beside it),
    where it read all 5,000 rows to update one."""
    database = fresh_database
    import psycopg
    from psycopg import sql

    from langgraph_alma.store import _sql

    with psycopg.connect(database.admin_url, autocommit=True) as admin:
        admin.execute(
            "INSERT INTO alma_store (tenant_id, ns_path, key, value, ttl_minutes, expires_at) "
            "SELECT %s, 'plans.big', 'k' || g, '{}', 60, now() + interval '1 hour' "
            "FROM generate_series(1, 5000) g",
            (tenant,),
        )
        admin.execute(
            "INSERT INTO alma_store_vectors (tenant_id, ns_path, key, field, dims, embedding) "
            "SELECT %s, 'plans.big', 'k' || g, 'text', 3, '[1,2,3]' "
            "FROM generate_series(1, 5000) g",
            (tenant,),
        )
        if stats == "tiny tenant":
            small = (f"{tenant}-small-",)
            admin.execute(
                "INSERT INTO alma_store (tenant_id, ns_path, key, value) "
                "SELECT %s || (g %% 4000), 'a.b', 'k' || g, '{}' "
                "FROM generate_series(1, 8000) g",
                small,
            )
            admin.execute(
                "INSERT INTO alma_store_vectors (tenant_id, ns_path, key, field, dims, embedding) "
                "SELECT %s || (g %% 4000), 'a.b', 'k' || g, 'text', 3, '[1,2,3]' "
                "FROM generate_series(1, 8000) g",
                small,
            )
            admin.execute("ANALYZE alma_store, alma_store_vectors")
    statement = (
        getattr(_sql, name)
        .replace("%(ns)b", "$1")
        .replace("%(keys)b", "$2")
        .replace("%(refresh)s", "$4")
        .replace("%(tenant)s", "$3")
    )
    types = "text[], text[], text" + (", bool[]" if name == "GET" else "")
    with (
        psycopg.connect(database.url, **connection_kwargs()) as conn,
        conn.transaction(force_rollback=True),
    ):
        conn.execute(
            "SELECT set_config('alma.tenant_id', %s, true), "
            "set_config('plan_cache_mode', 'force_generic_plan', true)",
            (tenant,),
        )
        # The simple protocol: psycopg would take PREPARE's $n for its own parameters.
        prepared = conn.pgconn.exec_(f"PREPARE keyed({types}) AS {statement}".encode())
        assert prepared.status == psycopg.pq.ExecStatus.COMMAND_OK, prepared.error_message
        for refresh in ("false", "true") if name == "GET" else ("",):
            args = sql.SQL("ARRAY['plans.big'], ARRAY['k7'], {}").format(sql.Literal(tenant))
            if refresh:
                args = sql.SQL("{}, ARRAY[{}]::bool[]").format(args, sql.SQL(refresh))
            explained = conn.execute(
                sql.SQL("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE keyed({})").format(args),
                prepare=False,
            ).fetchone()
            assert explained is not None
            top = explained[0][0]
            assert top["Plan"]["Actual Rows"] == (1 if name == "GET" else 0)
            # No scan returned more than the requested key's row (the refresh's
            # update, planned as a hash join over the tenant, scanned all 5,000)
            assert _most(top["Plan"], _scan_rows) <= 1, (refresh, _most(top["Plan"], _scan_rows))
            if refresh == "true":
                # The refresh tried the slot of the one row it read, and no other.
                slots = conn.execute(
                    "SELECT count(*) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                ).fetchone()
                assert slots == (1,)
            else:
                assert _most(top["Plan"], _buffers) < 40, (refresh, _most(top["Plan"], _buffers))
