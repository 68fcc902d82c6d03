"""What a query search no longer redoes (issue 11, the search's server cost), and that
the ranking it returns is still BM25 as `_search` defines it:

- the collection size BM25 counts is remembered per (tenant, prefix) for a while;
- the words' frequencies and the lexical candidates come from one pass over the items
  holding any query word when they are few (`max_df`), two passes otherwise;
- the namespace prefix is one index range that still excludes look-alike names.
"""

from __future__ import annotations

import math
import uuid

import pytest
from langgraph.store.base import PutOp, SearchOp

from langgraph_alma import AlmaStore
from langgraph_alma.store import _search, _sql

from .conftest import DIMS, fake_embed

K1, B = _search.BM25_K1, _search.BM25_B


def _rows(pool, store: AlmaStore, op: SearchOp) -> list[tuple]:
    """The search statement's rows as the store would send it now."""
    core = store._core
    tenant = core.tenant()
    vectors = {op.query: fake_embed([op.query])[0]} if core.index and op.query else {}
    sql = core._search(tenant, op, vectors)
    with pool.connection() as conn, conn.transaction():
        conn.execute(_sql.batch_settings(generic=True, hnsw=True), {"tenant": tenant, "ef": "40"})
        return conn.execute(sql.query, sql.params).fetchall()


@pytest.mark.parametrize("indexed", [False, True])
def test_the_collection_size_is_counted_once_then_remembered(
    pool, tenant, indexed_setup, indexed
) -> None:
    index = {"dims": DIMS, "embed": fake_embed, "fields": ["text"]} if indexed else None
    store = AlmaStore(pool, tenant_id=tenant, text_config="simple", index=index)
    ns = ("cost", uuid.uuid4().hex[:8])
    store.batch([PutOp(ns, f"k{i}", {"text": f"alpha w{i}"}) for i in range(7)])
    store.put((*ns, "sub"), "deep", {"text": "alpha"})
    store.put(("cost", uuid.uuid4().hex[:8]), "elsewhere", {"text": "alpha"})
    op = SearchOp(ns, None, 10, 0, "alpha")
    first = _rows(pool, store, op)
    assert first[0][-1] == 8  # `lex_n`: the prefix's items, counted
    found = store.search(ns, query="alpha")
    assert (tenant, ".".join(ns)) in store._core.collection_sizes._seen
    assert store._core.collection_sizes.get((tenant, ".".join(ns))) == 8
    again = _rows(pool, store, op)
    assert again[0][-1] is None  # not counted again
    assert [r[:8] for r in again] == [r[:8] for r in first]  # the same ranking and scores
    assert len(found) == 8
    # a size is forgotten after its time, and then counted again
    store._core.collection_sizes.ttl = 0
    assert _rows(pool, store, op)[0][-1] == 8
    store._core.collection_sizes.ttl = 60
    store.search(ns, query="alpha")
    assert _rows(pool, store, op)[0][-1] is None
    # a word now in more items than the remembered size: the prefix grew, counted again
    store.batch([PutOp(ns, f"new{i}", {"text": "alpha"}) for i in range(5)])
    assert _rows(pool, store, op)[0][-1] == 13
    store.search(ns, query="alpha")
    assert store._core.collection_sizes.get((tenant, ".".join(ns))) == 13


def test_a_remembered_size_is_the_tenants_own(pool) -> None:
    """One store serving two tenants (from the run's config) keeps a size per tenant."""
    from langchain_core.runnables.config import var_child_runnable_config

    store = AlmaStore(pool, text_config="simple")
    one, two = f"one-{uuid.uuid4().hex[:6]}", f"two-{uuid.uuid4().hex[:6]}"
    ns = ("cost", "shared")

    def as_tenant(tenant: str, ops: list) -> list:
        token = var_child_runnable_config.set({"configurable": {"tenant_id": tenant}})
        try:
            return store.batch(ops)
        finally:
            var_child_runnable_config.reset(token)

    as_tenant(one, [PutOp(ns, f"k{i}", {"text": f"alpha w{i}"}) for i in range(5)])
    as_tenant(two, [PutOp(ns, "k0", {"text": "alpha"}), PutOp(ns, "k1", {"text": "beta"})])
    as_tenant(one, [SearchOp(ns, None, 10, 0, "alpha")])
    as_tenant(two, [SearchOp(ns, None, 10, 0, "alpha")])
    sizes = store._core.collection_sizes
    assert sizes.get((one, "cost.shared")) == 5
    assert sizes.get((two, "cost.shared")) == 2


def test_collection_sizes_are_bounded() -> None:
    sizes = _search.CollectionSizes(size=8)
    for i in range(20):
        sizes.note(("t", f"p{i}"), i)
    assert len(sizes._seen) <= 8
    assert sizes.get(("t", "p19")) == 19
    sizes.note(("t", "p19"), None)  # not counted: nothing learnt, nothing lost
    assert sizes.get(("t", "p19")) == 19


CORPUS = {
    "k0": "kafka lag window",
    "k1": "kafka window glass frame",
    "k2": "window glass",
    "k3": "window frame backup",
    "k4": "window",
    "k5": "lag lag lag backup",
    "k6": "glass frame",
}


def _candidates(query: list[str], max_df: int) -> list[str]:
    """The lexical candidates as `_search` picks them: the items holding any query word
    when they all fit in `max_df`; else the items holding a word found in at most
    `max_df` items, or the rarest word (the statement then reads up to `max_df`)."""
    docs = {k: t.split() for k, t in CORPUS.items()}
    df = {w: sum(w in d for d in docs.values()) for w in query}
    hits = [k for k, d in docs.items() if any(w in d for w in query)]
    if len(hits) <= max_df:
        return hits
    present = sorted((df[w], w) for w in query if df[w] > 0)
    picked = [w for w in query if 0 < df[w] <= max_df] or [present[0][1]]
    return [k for k, d in docs.items() if any(w in d for w in picked)]


def _bm25_t(query: list[str], cands: list[str]) -> dict[str, float]:
    """`text_score` of each candidate, from `_search`'s definition: BM25 over all query
    words (tf; dl = distinct words; avgdl over the candidates' matched (item, word)
    pairs; idf over the whole prefix) over the sum of every query word's idf."""
    docs = {k: t.split() for k, t in CORPUS.items()}
    n = len(docs)
    df = {w: sum(w in d for d in docs.values()) for w in query}
    pairs = [(k, w) for k in cands for w in query if w in docs[k]]
    avgdl = sum(len(set(docs[k])) for k, _ in pairs) / len(pairs)
    idf = {w: max(math.log(1 + (max(n, df[w]) - df[w] + 0.5) / (df[w] + 0.5)), 1e-6) for w in query}
    out = {}
    for k in cands:
        dl = len(set(docs[k]))
        bm25 = sum(
            idf[w] * docs[k].count(w) * (K1 + 1)
            / (docs[k].count(w) + K1 * (1 - B + B * dl / max(avgdl, 1)))
            for w in query if w in docs[k]
        )  # fmt: skip
        out[k] = min(1.0, bm25 / sum(idf.values()))
    return out


@pytest.mark.parametrize(
    ("query", "max_df"),
    [
        ("kafka lag", 2000),  # one pass
        ("glass frame", 2000),
        ("window kafka zebra", 2000),  # a word in no item still counts in the idf sum
        ("window kafka", 3),  # two passes: window (6 items) is common, kafka picked
        ("window glass", 2),  # two passes, every word common: the rarest (glass) picked
        ("window glass frame", 3),  # two passes: glass and frame picked
    ],
)
def test_text_scores_are_bm25_on_either_path(pool, tenant, monkeypatch, query, max_df) -> None:
    monkeypatch.setattr(_search, "BM25_MAX_DF", max_df)
    store = AlmaStore(pool, tenant_id=tenant, text_config="simple")
    ns = ("cost", uuid.uuid4().hex[:8])
    store.batch([PutOp(ns, k, {"text": t}) for k, t in CORPUS.items()])
    cands = _candidates(query.split(), max_df)
    found = store.search(ns, query=query, limit=10)
    assert len(found) == len(CORPUS)  # a query never removes items
    got = {i.key: i.text_score for i in found if i.text_score is not None}
    if len(cands) <= max_df or len(cands) == len(got):
        assert got.keys() == set(cands)
    else:  # the rarest word's items, read up to `max_df` of them (bounded work)
        assert len(got) == max_df and got.keys() <= set(cands)
    expected = _bm25_t(query.split(), sorted(got))
    for k, t in got.items():
        assert t == pytest.approx(expected[k], rel=1e-9), k
    ranked = [i.key for i in found if i.text_score is not None]
    assert ranked == sorted(got, key=lambda k: (-expected[k], k))


def test_lexical_hits_outside_the_filter_do_not_take_places(pool, tenant) -> None:
    """The lexical side admits items (filter, liveness) in rank order until its window is
    full: 60 better matches the filter rejects do not push out the admitted ones."""
    store = AlmaStore(pool, tenant_id=tenant, text_config="simple")
    ns = ("cost", uuid.uuid4().hex[:8])
    store.batch(
        [PutOp(ns, f"no{i}", {"text": "kafka kafka", "kind": "b"}) for i in range(60)]
        + [PutOp(ns, f"yes{i}", {"text": f"kafka lag w{i} x{i} y{i}", "kind": "a"})
           for i in range(3)]
        + [PutOp(ns, "other", {"text": "nothing here", "kind": "a"})]
    )  # fmt: skip
    found = store.search(ns, query="kafka", filter={"kind": "a"}, limit=3)
    assert [i.key for i in found] == ["yes0", "yes1", "yes2"]
    assert all(i.text_score is not None for i in found)


def test_the_prefix_range_excludes_look_alike_names(pool, tenant, indexed_setup) -> None:
    """`users.u1` covers `users.u1` and `users.u1.*`, not `users.u1-x` nor `users.u10`
    (which sort inside or next to its range)."""
    index = {"dims": DIMS, "embed": fake_embed, "fields": ["text"]}
    store = AlmaStore(pool, tenant_id=tenant, index=index)
    root = uuid.uuid4().hex[:8]
    for label in ("u1", "u1-x", "u1!", "u10", "u1.z", "u0"):
        store.put((root, *label.split(".")), "k", {"text": "alpha", "kind": "a"})
    store.put((root, "u1", "deep", "er"), "k", {"text": "alpha", "kind": "a"})
    want = {(root, "u1"), (root, "u1", "z"), (root, "u1", "deep", "er")}
    for kwargs in ({}, {"query": "alpha"}, {"query": "alpha", "filter": {"kind": "a"}}):
        found = store.search((root, "u1"), **kwargs)
        assert {tuple(i.namespace) for i in found} == want, kwargs
    assert store.count_items((root, "u1")) == 3


def test_a_generic_plan_reads_the_prefix_as_an_index_range(pool, database, tenant) -> None:
    """Query searches run on generic plans, which see neither the prefix's values nor a
    LIMIT's: the prefix as one range (`_sql.PREFIX`) is an index range there, where the
    former `ns_path = p OR (ns_path >= lo AND ns_path < hi)` under a LIMIT (the exact
    gate's candidates) read the tenant's rows until the LIMIT."""
    import psycopg
    import psycopg.sql

    store = AlmaStore(pool, tenant_id=tenant)
    store.batch(
        [PutOp(("plan", f"u{i % 40}"), f"k{i}", {"n": i}) for i in range(4000)]
    )  # fmt: skip
    with psycopg.connect(database.admin_url, autocommit=True) as admin:
        admin.execute("ANALYZE alma_store")
    old = "(s.ns_path = %(prefix)s OR (s.ns_path >= %(prefix_lo)s AND s.ns_path < %(prefix_hi)s))"
    sql = (
        "SELECT count(*) FROM (SELECT 1 FROM alma_store s"
        " WHERE s.tenant_id = %(tenant)s AND {prefix} LIMIT %(lim)s::bigint + 1) AS c"
    )

    def plan(prefix: str) -> str:
        text = sql.format(prefix=prefix)
        for n, name in enumerate(("tenant", "prefix", "prefix_lo", "prefix_hi", "lim"), 1):
            text = text.replace(f"%({name})s", f"${n}")
        with pool.connection() as conn, conn.transaction():
            conn.execute(_sql.batch_settings(generic=True, hnsw=False), {"tenant": tenant})
            conn.execute(f"PREPARE prefix_plan (text, text, text, text, text) AS {text}")
            args = psycopg.sql.SQL(", ").join(
                map(psycopg.sql.Literal, [tenant, "plan.u7", "plan.u7.", "plan.u7/", "2000"])
            )
            explain = psycopg.sql.SQL("EXPLAIN EXECUTE prefix_plan ({})").format(args)
            rows = conn.execute(explain).fetchall()
            conn.execute("DEALLOCATE prefix_plan")
        return "\n".join(r[0] for r in rows)

    # the OR form read the tenant's rows with the bench's data; its plan depends on the
    # table's statistics (other tests' tenants), so only the new form is checked here
    assert "ns_path >= $2" not in plan(old)
    new = plan(_sql.PREFIX)
    assert "Seq Scan" not in new and "ns_path >= $2" in new, new
    path = ("plan", "u7")
    assert len(store.search(path, limit=1000)) == 100
