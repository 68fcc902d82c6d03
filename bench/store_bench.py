"""AlmaStore vs LangGraph's PostgresStore on one server: inserts, searches, gets, recall.

    python bench/store_bench.py            # 10k items, embedded server in a temp dir
    python bench/store_bench.py --full     # 100k items
    python bench/store_bench.py --admin-url postgresql://postgres@host/postgres

Each store gets its own new database on the same server. AlmaStore runs as the
application role (row-level security on); PostgresStore runs as the admin role, as its
`setup()` needs. Both use the same deterministic 384-d embedding function. Recall@10
compares the vector ranking with exact cosine search over the same candidates; queries
use words the corpus never contains verbatim (a `zz` suffix the embedder ignores), so
full text finds nothing and AlmaStore's hybrid ranking is the vector ranking.
Prints one JSON object, then a table. AlmaStore runs three times: with its default HNSW
index, with `halfvec` storage (pgvector's defaults m 16, ef_construction 64, as
PostgresStore's), and with index `ann: exact` (no vector index; exact ranking of filtered
candidates). `--variants ... pg_half` adds PostgresStore with `halfvec` storage, so that
`alma_half` is compared like with like (`ratios.alma_half_vs_pg_half`) as well as with
PostgresStore's default. The stores are loaded batch by batch in turn, then every query
runs on every store in turn (the order rotating), so the load of a busy machine falls on
all alike.

AlmaStore's puts leave HNSW upkeep to its indexer (migration 0013, `store/_backlog.py`):
its background indexer is off here (it would run during PostgresStore's batches too), so
`insert_items_per_s` is what callers see, puts writing to the backlog until it holds
`store_index_backlog_max` rows (`--backlog-max`) and indexing inline after that. With
`--background-indexer` it runs, as on a server, and the stores are loaded one after the
other, each AlmaStore then waited for until its backlog is empty. The searches then run
twice: right after the load, with the backlog as a user would see it (`*_backlog_ms`,
`recall@10_*_backlog`), and after `index_backlog()` drained it into the index (the plain
rows). `drain_s` is the time `index_backlog()` took, and `insert_drained_items_per_s` the
items over load and drain together: the work moved off the caller's path is not saved.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
from _scratch import add_server_args, bench_server  # bench/, this script's folder
from langgraph.store.base import BaseStore, PutOp

from langgraph_alma import AlmaStore
from langgraph_alma.migrations import migrate

DIMS = 384
NAMESPACES = 100
BATCH = 500
KINDS = ["note", "fact", "pref", "event"]


def _bucket(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big") % DIMS


def embed(texts: list[str]) -> list[list[float]]:
    """Each word (minus a `zz` suffix) adds to two hashed buckets; unit length."""
    out = np.zeros((len(texts), DIMS), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().split():
            word = word.removesuffix("zz")
            out[i, _bucket(word)] += 1.0
            out[i, _bucket(word + "#")] += 0.5
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
    return out.tolist()


def corpus(n: int, seed: int = 7) -> list[tuple[tuple[str, ...], str, dict[str, Any]]]:
    rng = random.Random(seed)
    vocab = [f"w{i}" + "".join(rng.choices("abcdefghijklmnopqrstuvwxy", k=4)) for i in range(3000)]
    items = []
    for i in range(n):
        text = " ".join(rng.choices(vocab, k=12))
        value = {"text": text, "kind": KINDS[i % len(KINDS)], "n": i % 50}
        items.append((("users", f"u{i % NAMESPACES}"), f"item{i}", value))
    return items


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def _create_db(admin_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop_db(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _ms(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "p50": round(statistics.median(s) * 1000, 2),
        "p95": round(s[min(len(s) - 1, int(len(s) * 0.95))] * 1000, 2),
    }


def _timed(fn: Callable[[], Any], runs: list[Any]) -> float:
    t = time.perf_counter()
    runs.append(fn())
    return time.perf_counter() - t


def load(
    stores: dict[str, BaseStore], items: list, admin_urls: dict[str, str], one_by_one: bool
) -> dict:
    """Every store loaded batch by batch in turn (the order rotating), so machine load
    falls on all alike; each store's throughput is its items over its own batch times.
    `one_by_one` (AlmaStore's background indexer on): each store loaded alone, and an
    AlmaStore then waited for until its indexer has emptied the backlog (`_waited`), so
    the indexer's work is timed as AlmaStore's and never falls in another store's batches."""
    spent = dict.fromkeys(stores, 0.0)
    names = list(stores)
    batches = [
        [PutOp(ns, key, value) for ns, key, value in items[i : i + BATCH]]
        for i in range(0, len(items), BATCH)
    ]
    if one_by_one:
        rounds = [[(name, ops) for ops in batches] for name in names]
    else:
        rounds = [
            [(name, ops) for name in names[n % len(names) :] + names[: n % len(names)]]
            for n, ops in enumerate(batches)
        ]
    out: dict[str, dict[str, Any]] = {name: {} for name in stores}
    for round_ in rounds:
        for name, ops in round_:
            t0 = time.perf_counter()
            stores[name].batch(ops)
            spent[name] += time.perf_counter() - t0
        if one_by_one and name in DEFERRING:
            out[name]["_backlog"] = _backlog(admin_urls[name])
            t0 = time.perf_counter()
            while _backlog(admin_urls[name]):
                time.sleep(0.05)
            out[name]["_waited"] = time.perf_counter() - t0
    for url in admin_urls.values():
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")  # what autovacuum does soon after a bulk load
    for name, s in spent.items():
        out[name]["insert_items_per_s"] = round(len(items) / s, 1)
    return out


DEFERRING = ("alma", "alma_half")  # AlmaStores with an HNSW index: puts defer its upkeep


def _backlog(admin_url: str) -> int:
    """Vectors outside the HNSW index (AlmaStore's backlog)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM alma_store_vectors WHERE NOT indexed").fetchone()
    return int(row[0]) if row else 0


def cases(store: BaseStore) -> dict[str, Callable[[str, str], Any]]:
    return {
        "search_prefix": lambda q, u: store.search(("users", u), query=q, limit=10),
        "search_prefix_filter": lambda q, u: store.search(
            ("users", u), query=q, filter={"kind": "note"}, limit=10
        ),
        "search_no_prefix": lambda q, u: store.search((), query=q, limit=10),
    }


def drain(stores: dict[str, BaseStore], loaded: dict, admin_urls: dict[str, str]) -> dict:
    """Each AlmaStore's backlog after the load (rows outside the HNSW index), the time
    `index_backlog()` takes to move it in (or the load's wait for the background indexer
    to), and the insert throughput counting that time."""
    out: dict[str, dict[str, Any]] = {}
    for name, store in stores.items():
        mine = loaded[name]
        backlog = mine.pop("_backlog", None)
        if backlog is None:
            backlog = _backlog(admin_urls[name]) if name in DEFERRING else 0
        t0 = time.perf_counter()
        if name in DEFERRING:
            store.index_backlog()  # type: ignore[attr-defined]
        spent = time.perf_counter() - t0 + mine.pop("_waited", 0.0)
        with psycopg.connect(admin_urls[name], autocommit=True) as conn:
            conn.execute("ANALYZE")
        caller = mine["insert_items_per_s"]
        items = loaded["_items"]
        out[name] = {
            "backlog_after_load": backlog,
            "drain_s": round(spent, 2),
            "insert_drained_items_per_s": round(items / (items / caller + spent), 1),
        }
    return out


def run_queries(
    stores: dict[str, BaseStore],
    items: list,
    queries: list[str],
    rng: random.Random,
    suffix: str = "",
) -> dict[str, dict[str, Any]]:
    """Every case on every store, interleaved query by query (store order rotating), so a
    busy machine slows each store alike and the ratios stay fair; metric names end with
    `suffix` (`_backlog`: the run before the drain)."""
    users = [f"u{rng.randrange(NAMESPACES)}" for _ in queries]
    out: dict[str, dict[str, Any]] = {name: {} for name in stores}
    names = list(stores)
    for case in ("search_prefix", "search_prefix_filter", "search_no_prefix"):
        fns = {name: cases(store)[case] for name, store in stores.items()}
        for q, u in list(zip(queries, users, strict=True))[:5]:
            for fn in fns.values():
                fn(q, u)  # warm up
        times: dict[str, list[float]] = {name: [] for name in stores}
        runs: dict[str, list[Any]] = {name: [] for name in stores}
        for i, (q, u) in enumerate(zip(queries, users, strict=True)):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                times[name].append(_timed(lambda f=fns[name], q=q, u=u: f(q, u), runs[name]))
        for name in stores:
            out[name][case + suffix + "_ms"] = _ms(times[name])
            out[name].setdefault("_answers" + suffix, (users, {}))[1][case] = runs[name]
    keys = [items[rng.randrange(len(items))] for _ in range(300)]
    gets: dict[str, list[float]] = {name: [] for name in stores}
    for i, k in enumerate(keys):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            gets[name].append(_timed(lambda s=stores[name], k=k: s.get(k[0], k[1]), []))
    for name in stores:
        out[name]["get" + suffix + "_ms"] = _ms(gets[name])
    return out


def recall(
    items: list,
    vectors: np.ndarray,
    queries: list[str],
    users: list[str],
    answers: dict,
    suffix: str = "",
) -> dict:
    """Recall@10 of each case against exact cosine search over the same candidates; a
    result tied (within 1e-5) with the exact 10th best counts as a hit."""
    qv = np.array(embed(queries), dtype=np.float32)
    index = {(ns, key): i for i, (ns, key, _) in enumerate(items)}
    out = {}
    for name, runs in answers.items():
        hits, total = 0, 0
        for qi, (u, found) in enumerate(zip(users, runs, strict=True)):
            mask = np.ones(len(items), dtype=bool)
            if name != "search_no_prefix":
                mask &= np.array([ns[1] == u for ns, _, _ in items])
            if name == "search_prefix_filter":
                mask &= np.array([v["kind"] == "note" for _, _, v in items])
            cand = np.nonzero(mask)[0]
            sims = vectors[cand] @ qv[qi]
            want = min(10, len(cand))
            kth = float(np.sort(sims)[::-1][want - 1]) if want else 0.0
            got = [index[(tuple(i.namespace), i.key)] for i in found[:10]]
            hits += sum(1 for g in got if float(vectors[g] @ qv[qi]) >= kth - 1e-5)
            total += want
        out[name.replace("search_", "recall@10_") + suffix] = round(hits / max(total, 1), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="100k items instead of 10k")
    parser.add_argument("--items", type=int, help="number of items (overrides --full)")
    parser.add_argument("--queries", type=int, default=100)
    add_server_args(parser)
    parser.add_argument(
        "--backlog-max", type=int, help="store_index_backlog_max (default: the setting's)"
    )
    parser.add_argument(
        "--background-indexer", action="store_true",
        help="AlmaStore's background indexer runs during the load (as on a server; it then "
        "shares the machine with PostgresStore's batches too)",
    )  # fmt: skip
    parser.add_argument(
        "--variants", nargs="*", default=["alma", "alma_half", "alma_exact"],
        help="variants to run besides PostgresStore (alma, alma_half, alma_exact, pg_half)",
    )  # fmt: skip
    args = parser.parse_args()
    n = args.items or (100_000 if args.full else 10_000)
    # The indexer runs when the bench says (`drain`), not during the other stores' work,
    # unless asked to.
    os.environ["ALMA_STORE_INDEX_BACKGROUND"] = str(args.background_indexer).lower()
    if args.backlog_max:
        os.environ["ALMA_STORE_INDEX_BACKLOG_MAX"] = str(args.backlog_max)

    servers = contextlib.ExitStack()  # an embedded server unless --admin-url names one
    admin_url, app_url = servers.enter_context(bench_server(args.admin_url, args.app_url))

    from langgraph.store.postgres import PostgresStore

    items = corpus(n)
    rng = random.Random(11)
    # Three words of a random item: each query has true neighbours.
    queries = [
        " ".join(w + "zz" for w in rng.sample(items[rng.randrange(n)][2]["text"].split(), 3))
        for _ in range(args.queries)
    ]
    index = {"dims": DIMS, "embed": embed, "fields": ["text"]}
    # "alma": the default (HNSW on `vector`); "alma_half": HNSW on `halfvec` storage;
    # "alma_exact": no vector index (exact ranking of candidates); "pg_half":
    # PostgresStore on `halfvec` storage.
    half = {"ann_index_config": {"vector_type": "halfvec"}}
    variants = {"alma": {}, "alma_half": half, "alma_exact": {"ann": "exact"}}
    variants = {k: v for k, v in variants.items() if k in args.variants}
    pg_variants = {"postgres_store": {}}
    if "pg_half" in args.variants:
        pg_variants = {"pg_half": half, **pg_variants}
    dbs = {name: _create_db(admin_url, name + "_bench") for name in [*variants, *pg_variants]}
    from langgraph_alma.config import get_settings

    report: dict[str, Any] = {"items": n, "namespaces": NAMESPACES, "batch": BATCH, "dims": DIMS}
    report["backlog_max"] = get_settings().store_index_backlog_max
    report["background_indexer"] = args.background_indexer
    try:
        with contextlib.ExitStack() as stack:
            stores: dict[str, BaseStore] = {}
            for name, extra in variants.items():
                db = dbs[name]
                with psycopg.connect(_with_db(admin_url, db), autocommit=True) as conn:
                    migrate(conn)
                store = stack.enter_context(
                    AlmaStore.from_conn_string(
                        _with_db(app_url, db),
                        index={**index, **extra},
                        tenant_id="bench",
                        admin_url=_with_db(admin_url, db),
                    )  # fmt: skip
                )
                store.setup()
                stores[name] = store
            for name, extra in pg_variants.items():
                lg_url = _with_db(admin_url, dbs[name])
                lg = stack.enter_context(
                    PostgresStore.from_conn_string(lg_url, index={**index, **extra})  # type: ignore[typeddict-item]
                )
                lg.setup()
                stores[name] = lg
            admin_urls = {n: _with_db(admin_url, dbs[n]) for n in stores}
            report.update(load(stores, items, admin_urls, args.background_indexer))
            after_load = run_queries(stores, items, queries, random.Random(3), "_backlog")
            drained = drain(stores, {**report, "_items": n}, admin_urls)
            for name, timings in run_queries(stores, items, queries, random.Random(3)).items():
                report[name].update(drained[name], **after_load[name], **timings)
    finally:
        for db in dbs.values():
            _drop_db(admin_url, db)
        servers.close()

    vectors = np.array(embed([v["text"] for _, _, v in items]), dtype=np.float32)
    names = (*variants, *pg_variants)
    for name in names:
        for suffix in ("_backlog", ""):
            users, answers = report[name].pop("_answers" + suffix)
            report[name].update(recall(items, vectors, queries, users, answers, suffix))
    p = report["postgres_store"]
    report["ratios"] = {name: ratios(report[name], p) for name in names[:-1]}
    if "alma_half" in report and "pg_half" in report:
        report["ratios"]["alma_half_vs_pg_half"] = ratios(report["alma_half"], report["pg_half"])
        del report["ratios"]["pg_half"]
    print(json.dumps(report))
    titles = {"alma": "Alma (hnsw)", "alma_half": "Alma (halfvec)", "alma_exact": "Alma (exact)",
              "pg_half": "PG (halfvec)"}  # fmt: skip
    heads = [titles.get(n, "PostgresStore") for n in names]
    print(f"\n{'metric':30} " + " ".join(f"{h:>14}" for h in heads))
    for key in p:
        for sub in ("p50", "p95") if isinstance(p[key], dict) else (None,):
            label = f"{key} {sub}" if sub else key
            cells = [report[n][key][sub] if sub else report[n][key] for n in names]
            print(f"{label:30} " + " ".join(f"{c:>14}" for c in cells))
    print("ratios vs PostgresStore (x; < 1 is faster for latencies, > 1 for inserts):")
    for name, r in report["ratios"].items():
        print(f"  {name}: {r}")


def ratios(alma: dict[str, Any], pg: dict[str, Any]) -> dict[str, float]:
    """Alma / PostgresStore for each latency (p50, p95) and for insert throughput."""
    out = {"insert_x": round(alma["insert_items_per_s"] / pg["insert_items_per_s"], 2)}
    out["insert_drained_x"] = round(
        alma["insert_drained_items_per_s"] / pg["insert_drained_items_per_s"], 2
    )
    for key, value in pg.items():
        if isinstance(value, dict) and "p50" in value:
            for sub in ("p50", "p95"):
                out[f"{key.removesuffix('_ms')}_{sub}_x"] = round(alma[key][sub] / value[sub], 2)
    return out


if __name__ == "__main__":
    main()
