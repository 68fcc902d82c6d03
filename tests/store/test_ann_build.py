"""The HNSW index built in bulk once enough vectors need it (migration 0016,
`store_ann_build_min`): until then puts pay no HNSW upkeep and searches rank exactly;
`index_backlog()` (or the background indexer, or `setup()`) builds it; puts during a build
wait and lose nothing; two stores never build it twice; the build function, callable by
the application role, takes checked values only.

Each test has a database of its own (the shared one may hold an index of any dims), and
stores use `exact_search_max=5`, so a tenant's vectors past 5 are the index's.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import threading
import time
import uuid

import psycopg
import pytest
from langgraph.store.base import PutOp

from langgraph_alma import AlmaStore, AsyncAlmaStore
from tests.store.conftest import vector_counts as _counts

DIMS = 16
INDEX_NAME = f"alma_store_vectors_hnsw_{DIMS}"
WORDS = [f"w{c}{d}" for c in "abcdefgh" for d in "abcdefgh"]


def _embed(texts: list[str]) -> list[list[float]]:
    out = []
    for text in texts:
        vec = [0.0] * DIMS
        for word in text.split():
            vec[hashlib.blake2b(word.encode(), digest_size=2).digest()[0] % DIMS] += 1.0
        norm = math.sqrt(sum(x * x for x in vec)) or 1.0
        out.append([x / norm for x in vec])
    return out


async def _aembed(texts: list[str]) -> list[list[float]]:
    return _embed(texts)


INDEX = {"dims": DIMS, "embed": _embed, "fields": ["text"]}


@pytest.fixture(autouse=True)
def _settings(monkeypatch) -> None:
    monkeypatch.setenv("ALMA_STORE_ANN_BUILD_MIN", "40")
    monkeypatch.setenv("ALMA_STORE_INDEX_BACKLOG_MAX", "10")  # past 10, puts mark rows at once
    monkeypatch.setenv("ALMA_STORE_INDEX_BACKGROUND", "false")


def _index_def(db) -> str | None:
    with psycopg.connect(db.admin_url) as conn:
        row = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s", (INDEX_NAME,)
        ).fetchone()
    return row[0] if row else None


def _open(db, tenant: str, **kwargs):
    """A store on `db` acting for `tenant`, past whose 5 vectors rows are the index's."""
    return AlmaStore.from_conn_string(
        db.url, index=INDEX, tenant_id=tenant, admin_url=db.admin_url, exact_search_max=5,
        **kwargs,
    )  # fmt: skip


def _texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=5)) for _ in range(n)]


def _best(store: AlmaStore, ns, texts: list[str]) -> list[list[str]]:
    """The three best keys of a vector-only search (a word no item holds added) of some
    items' own texts."""
    return [[i.key for i in store.search(ns, query=t + " zzzz", limit=3)] for t in texts[::7]]


def test_the_index_waits_for_enough_vectors_then_is_built_in_bulk(
    fresh_database, tenant, ns
) -> None:
    db = fresh_database
    with _open(db, tenant) as store:
        store.setup()
        assert _index_def(db) is None  # no vectors yet: nothing to build
        texts = _texts(50, seed=1)
        for i, text in enumerate(texts[:30]):
            store.put(ns, f"k{i}", {"text": text})
        # 10 deferred, then marked at once (backpressure, free without an index)
        assert _counts(db, tenant) == (20, 10)
        assert store.index_backlog() == 10
        assert _counts(db, tenant) == (30, 0) and _index_def(db) is None  # 30 < 40
        for i, text in enumerate(texts[30:], start=30):
            store.put(ns, f"k{i}", {"text": text})
        exact = _best(store, ns, texts)  # no index: every search ranks exactly
        assert all(len(keys) == 3 for keys in exact)
        assert [keys[0] for keys in exact] == [f"k{i}" for i in range(0, 50, 7)]
        assert store.index_backlog() == 10
        definition = _index_def(db)
        assert definition is not None and definition.endswith("WHERE ((dims = 16) AND indexed)")
        assert "vector_cosine_ops" in definition
        assert _best(store, ns, texts) == exact  # through HNSW now, the same answers
        store.put(ns, "late", {"text": texts[3]})  # indexed inline or deferred, as before
        assert {i.key for i in store.search(ns, query=texts[3] + " zzzz", limit=2)} == {
            "k3",
            "late",
        }
        with psycopg.connect(db.admin_url) as conn:
            conn.execute("SET enable_seqscan = off")  # 51 rows: a scan is cheaper
            explain = "\n".join(
                r[0]
                for r in conn.execute(
                    "EXPLAIN SELECT key FROM alma_store_vectors WHERE dims = 16 AND indexed"
                    " ORDER BY embedding::vector(16) <=> %s::vector(16) LIMIT 3",
                    (str(_embed([texts[0]])[0]),),
                )
            )
        assert INDEX_NAME in explain  # an index the planner can walk


def test_below_the_bound_nothing_is_built_and_a_zero_bound_builds_at_setup(
    fresh_database, tenant, ns, monkeypatch
) -> None:
    db = fresh_database
    with _open(db, tenant) as store:
        store.setup()
        store.batch([PutOp(ns, f"k{i}", {"text": t}) for i, t in enumerate(_texts(39, 2))])
        store.index_backlog()
        assert _counts(db, tenant) == (39, 0) and _index_def(db) is None
        store.setup()  # setup() asks too: still one short
        assert _index_def(db) is None
    monkeypatch.setenv("ALMA_STORE_ANN_BUILD_MIN", "0")
    with AlmaStore.from_conn_string(
        db.url, index=INDEX, tenant_id=tenant, admin_url=db.admin_url
    ) as store:
        store.setup()
        assert _index_def(db) is not None


def test_puts_during_a_build_wait_and_lose_nothing(fresh_database, tenant, ns) -> None:
    """Threads put while another builds the index (writes to the vectors wait for the
    build): every put returns, every item is there and searchable, nothing is doubled."""
    db = fresh_database
    with _open(db, tenant, pool_size=6) as store:
        store.setup()
        texts = _texts(3000, seed=3)
        for start in range(0, 3000, 500):
            store.batch([PutOp(ns, f"k{i}", {"text": texts[i]}) for i in range(start, start + 500)])
        errors: list[BaseException] = []
        go = threading.Barrier(5)

        def build() -> None:
            try:
                go.wait()
                store.index_backlog()
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)

        def put(worker: int) -> None:
            try:
                go.wait()
                for j in range(40):
                    store.put(ns, f"p{worker}-{j}", {"text": texts[j]})
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=build)] + [
            threading.Thread(target=put, args=(w,)) for w in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == [] and not any(t.is_alive() for t in threads)
        assert _index_def(db) is not None
        indexed, backlog = _counts(db, tenant)
        assert indexed + backlog == 3160
        with psycopg.connect(db.admin_url) as conn:
            row = conn.execute(
                "SELECT count(DISTINCT (ns_path, key)), count(*) FROM alma_store"
                " WHERE tenant_id = %s",
                (tenant,),
            ).fetchone()
        assert row == (3160, 3160)
        assert store.get(ns, "p3-39").value == {"text": texts[39]}
        hits = store.search(ns, query=texts[5] + " zzzz", limit=10)
        assert {"k5", "p0-5", "p1-5", "p2-5", "p3-5"} <= {i.key for i in hits}


def test_two_stores_building_at_once_build_one_index(fresh_database, tenant, ns) -> None:
    db = fresh_database
    stores = [_open(db, tenant) for _ in range(2)]
    with stores[0] as a, stores[1] as b:
        a.setup()
        a.batch([PutOp(ns, f"k{i}", {"text": t}) for i, t in enumerate(_texts(800, 4))])
        go = threading.Barrier(2)
        errors: list[BaseException] = []

        def build(store: AlmaStore) -> None:
            try:
                go.wait()
                store.index_backlog()
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=build, args=(s,)) for s in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert a._core.ann_built or b._core.ann_built  # the other left it to the first
    with psycopg.connect(db.admin_url) as conn:
        (n,) = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'alma_store_vectors'"
            " AND indexdef LIKE '%USING hnsw%'"
        ).fetchone() or (0,)
    assert n == 1


async def test_the_async_background_indexer_builds_it(
    fresh_database, tenant, ns, monkeypatch
) -> None:
    monkeypatch.setenv("ALMA_STORE_INDEX_BACKGROUND", "true")
    monkeypatch.setenv("ALMA_STORE_INDEX_INTERVAL_SECONDS", "0.05")
    db = fresh_database
    index = {**INDEX, "embed": _aembed}
    async with AsyncAlmaStore.from_conn_string(
        db.url, index=index, tenant_id=tenant, admin_url=db.admin_url, exact_search_max=5
    ) as store:
        await store.setup()
        texts = _texts(45, seed=5)
        await asyncio.gather(*(store.aput(ns, f"k{i}", {"text": t}) for i, t in enumerate(texts)))
        for _ in range(200):
            if _index_def(db) is not None:
                break
            await asyncio.sleep(0.05)
        assert _index_def(db) is not None
        assert (await store.asearch(ns, query=texts[9] + " zzzz", limit=1))[0].key == "k9"


@pytest.mark.parametrize(
    "args",
    [
        (16, "vector)) vector_cosine_ops); DROP TABLE alma_store; --", "cosine", None, None, 0),
        (16, "vector", "cosine_ops", None, None, 0),
        (5000, "vector", "cosine", None, None, 0),
        (16, "vector", "cosine", 0, None, 0),
    ],
)
def test_the_build_function_takes_checked_values_only(fresh_database, args) -> None:
    """The application role may call it: a value that is not a configuration is refused
    (a named SQL error) and nothing is created."""
    with (
        psycopg.connect(fresh_database.url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InvalidParameterValue),
    ):
        conn.execute("SELECT alma_store_build_ann(%s, %s, %s, %s, %s, %s)", args)
    with psycopg.connect(fresh_database.admin_url) as conn:
        assert conn.execute("SELECT to_regclass('alma_store')").fetchone() != (None,)
        (n,) = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '%USING hnsw%'"
        ).fetchone() or (0,)
    assert n == 0


def test_a_role_that_may_not_build_it_keeps_searching_exactly(
    fresh_database, tenant, ns, caplog
) -> None:
    """A role with the tables' privileges but not the build function's: its indexer asks
    once, warns, and searches go on (exactly); `setup()` as the owner builds it."""
    db = fresh_database
    role = f"alma_nobuild_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"'
        )
        conn.execute(f'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO "{role}"')
        conn.execute(
            "REVOKE EXECUTE ON FUNCTION"
            f' alma_store_build_ann(integer, text, text, integer, integer, bigint) FROM "{role}"'
        )
    url = db.url.replace("alma_app", role, 1)
    assert role in url
    try:
        with AlmaStore.from_conn_string(
            url, index=INDEX, tenant_id=tenant, exact_search_max=5
        ) as store:
            store.batch([PutOp(ns, f"k{i}", {"text": t}) for i, t in enumerate(_texts(60, 6))])
            with caplog.at_level("WARNING", logger="langgraph_alma.store._core"):
                assert store.index_backlog() == 0  # 60 rows at once: all past the bound
            assert "may not build the HNSW index" in caplog.text
            assert _index_def(db) is None and store._core.ann_built  # not asked again
            assert store.search(ns, query="zzzz", limit=3)  # exact, as before
        with AlmaStore.from_conn_string(
            db.admin_url, index=INDEX, tenant_id=tenant, exact_search_max=5
        ) as owner:
            owner.setup()
        assert _index_def(db) is not None
    finally:
        with psycopg.connect(db.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def test_on_a_single_connection_setup_builds_it_at_once(fresh_database, tenant, ns) -> None:
    """A store on one connection keeps the index built at `setup()`: a build later would
    hold its only connection (a second or more at the bound), and every caller with it."""
    db = fresh_database
    with psycopg.connect(db.admin_url, autocommit=True) as conn:
        store = AlmaStore(conn, index=INDEX, tenant_id=tenant, exact_search_max=5)
        assert store._core.ann_build_min == 0
        store.setup()
        assert _index_def(db) is not None  # no vectors yet, built all the same
    with psycopg.connect(db.admin_url, autocommit=True) as conn:
        conn.execute(f"DROP INDEX {INDEX_NAME}")
        store = AlmaStore(conn, index=INDEX, tenant_id=tenant, exact_search_max=5)
        store.batch([PutOp(ns, f"k{i}", {"text": t}) for i, t in enumerate(_texts(60, 7))])
        store._core.backlogs.on_deferred = None  # no thread: the rounds are driven here
        store._drain([tenant], background=True)  # the background indexer's round
        store._drain([], background=True)  # and its idle one
        assert _index_def(db) is None  # it never builds on the store's only connection
        store.index_backlog()  # asked: it does
        assert _index_def(db) is not None


def test_building_the_index_resets_the_chunk_sizes(fresh_database, tenant, ns) -> None:
    """Chunks the indexer timed without the index moved flags; the build makes it probe
    again, so its first chunk into the new index is small."""
    db = fresh_database
    with _open(db, tenant) as store:
        sizer = store._core.chunk_sizer
        sizer.note(200, 0.001)  # as learnt while moving flags
        store.batch([PutOp(ns, f"k{i}", {"text": t}) for i, t in enumerate(_texts(60, 8))])
        assert sizer.rows() > sizer.PROBE_ROWS
        store.index_backlog()
        assert _index_def(db) is not None
        assert sizer.rows() == sizer.PROBE_ROWS


def _valid(db) -> bool | None:
    with psycopg.connect(db.admin_url) as conn:
        row = conn.execute("SELECT alma_store_ann_valid(%s)", (INDEX_NAME,)).fetchone()
    return row[0] if row else None


def test_with_the_owners_url_writes_go_on_during_the_build(fresh_database, tenant, ns) -> None:
    """A store that knows the owner's URL builds with CREATE INDEX CONCURRENTLY: a put
    completes while the build waits for another transaction writing to the vectors (a
    plain CREATE INDEX would hold the put behind it until that transaction ends)."""
    db = fresh_database
    with _open(db, tenant) as store, psycopg.connect(db.admin_url) as writer:
        store.batch([PutOp(ns, f"k{i}", {"text": t}) for i, t in enumerate(_texts(60, 9))])
        writer.execute("LOCK TABLE alma_store_vectors IN ROW EXCLUSIVE MODE")  # open
        errors: list[BaseException] = []

        def run(fn) -> threading.Thread:
            def target() -> None:
                try:
                    fn()
                except BaseException as exc:  # noqa: BLE001 - the test reports it
                    errors.append(exc)

            thread = threading.Thread(target=target)
            thread.start()
            return thread

        build = run(store.index_backlog)
        with psycopg.connect(db.admin_url, autocommit=True) as watch:
            for _ in range(200):
                waiting = watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE 'CREATE INDEX CONCURRENTLY%%'"
                ).fetchone()
                if waiting and waiting[0]:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("the build never waited for the open transaction")
        put = run(lambda: store.put(ns, "during", {"text": "written during the build"}))
        put.join(10)
        assert not put.is_alive() and build.is_alive()  # the put went on, the build waits
        writer.rollback()
        build.join(30)
        assert not build.is_alive() and errors == []
        assert _valid(db) is True and store._core.ann_built
        assert store.get(ns, "during") is not None


@pytest.mark.parametrize("owner_url", [True, False], ids=["concurrently", "function"])
def test_an_invalid_leftover_is_dropped_and_built_again(
    fresh_database, tenant, ns, owner_url, monkeypatch
) -> None:
    """A concurrent build that failed leaves an invalid index, which the planner ignores
    and writes still maintain: the next build drops it and builds the index again."""
    db = fresh_database
    monkeypatch.setenv("ALMA_STORE_ANN_BUILD_MIN", "0")
    with AlmaStore.from_conn_string(db.url, index=INDEX, admin_url=db.admin_url) as owner:
        owner.setup()
    with psycopg.connect(db.admin_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass",
            (INDEX_NAME,),
        )
    assert _valid(db) is False
    monkeypatch.setenv("ALMA_STORE_ANN_BUILD_MIN", "40")
    admin = {"admin_url": db.admin_url} if owner_url else {}
    with AlmaStore.from_conn_string(
        db.url, index=INDEX, tenant_id=tenant, exact_search_max=5, **admin
    ) as store:
        store.batch([PutOp(ns, f"k{i}", {"text": t}) for i, t in enumerate(_texts(60, 10))])
        store.index_backlog()
        assert store._core.ann_concurrently is owner_url  # the app role: the function
    assert _valid(db) is True
