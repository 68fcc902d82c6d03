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
Prints one JSON object, then a table. AlmaStore runs twice: with its default HNSW
index, and with index `ann: exact` (no vector index; exact ranking of filtered candidates).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
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


def run_one(
    store: BaseStore, items: list, queries: list[str], rng: random.Random, admin_db_url: str
) -> dict:
    t0 = time.perf_counter()
    for i in range(0, len(items), BATCH):
        store.batch([PutOp(ns, key, value) for ns, key, value in items[i : i + BATCH]])
    insert_s = time.perf_counter() - t0
    result: dict[str, Any] = {"insert_items_per_s": round(len(items) / insert_s, 1)}
    with psycopg.connect(admin_db_url, autocommit=True) as conn:
        conn.execute("ANALYZE")  # what autovacuum does soon after a bulk load, for both stores
    users = [f"u{rng.randrange(NAMESPACES)}" for _ in queries]
    cases: dict[str, Callable[[str, str], Any]] = {
        "search_prefix": lambda q, u: store.search(("users", u), query=q, limit=10),
        "search_prefix_filter": lambda q, u: store.search(
            ("users", u), query=q, filter={"kind": "note"}, limit=10
        ),
        "search_no_prefix": lambda q, u: store.search((), query=q, limit=10),
    }
    answers: dict[str, list] = {}
    for name, fn in cases.items():
        for q, u in list(zip(queries, users, strict=True))[:5]:
            fn(q, u)  # warm up
        runs: list[Any] = []
        pairs = zip(queries, users, strict=True)
        result[name + "_ms"] = _ms([_timed(lambda q=q, u=u, f=fn: f(q, u), runs) for q, u in pairs])
        answers[name] = runs
    keys = [items[rng.randrange(len(items))] for _ in range(200)]
    result["get_ms"] = _ms([_timed(lambda k=k: store.get(k[0], k[1]), []) for k in keys])
    result["_answers"] = (users, answers)
    return result


def recall(
    items: list, vectors: np.ndarray, queries: list[str], users: list[str], answers: dict
) -> dict:  # noqa: E501
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
        out[name.replace("search_", "recall@10_")] = round(hits / max(total, 1), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="100k items instead of 10k")
    parser.add_argument("--items", type=int, help="number of items (overrides --full)")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--admin-url", help="superuser URL; default: a temp embedded server")
    parser.add_argument("--app-url", help="URL of the alma_app role (with --admin-url)")
    args = parser.parse_args()
    n = args.items or (100_000 if args.full else 10_000)

    server = None
    if args.admin_url:
        admin_url, app_url = args.admin_url, args.app_url or args.admin_url
    else:
        from langgraph_alma.db.embedded import start_embedded

        server = start_embedded(Path(tempfile.mkdtemp(prefix="alma-bench-")) / "pgdata")
        admin_url, app_url = server.admin_url, server.app_url

    from langgraph.store.postgres import PostgresStore

    items = corpus(n)
    rng = random.Random(11)
    # Three words of a random item: each query has true neighbours.
    queries = [
        " ".join(w + "zz" for w in rng.sample(items[rng.randrange(n)][2]["text"].split(), 3))
        for _ in range(args.queries)
    ]
    index = {"dims": DIMS, "embed": embed, "fields": ["text"]}
    exact_db = _create_db(admin_url, "alma_exact_bench")
    alma_db, lg_db = _create_db(admin_url, "alma_bench"), _create_db(admin_url, "lg_bench")
    report: dict[str, Any] = {"items": n, "namespaces": NAMESPACES, "batch": BATCH, "dims": DIMS}
    try:
        # "alma": the default (HNSW); "alma_exact": index {"ann": "exact"}, no vector index.
        for name, db, ann in [("alma", alma_db, "hnsw"), ("alma_exact", exact_db, "exact")]:
            with psycopg.connect(_with_db(admin_url, db), autocommit=True) as conn:
                migrate(conn)
            with AlmaStore.from_conn_string(
                _with_db(app_url, db), index={**index, "ann": ann}, tenant_id="bench",
                admin_url=_with_db(admin_url, db),
            ) as alma:  # fmt: skip
                alma.setup()
                report[name] = run_one(
                    alma, items, queries, random.Random(3), _with_db(admin_url, db)
                )
        with PostgresStore.from_conn_string(_with_db(admin_url, lg_db), index=index) as lg:
            lg.setup()
            report["postgres_store"] = run_one(
                lg, items, queries, random.Random(3), _with_db(admin_url, lg_db)
            )
    finally:
        for db in (alma_db, exact_db, lg_db):
            _drop_db(admin_url, db)
        if server is not None:
            server.stop()

    vectors = np.array(embed([v["text"] for _, _, v in items]), dtype=np.float32)
    names = ("alma", "alma_exact", "postgres_store")
    for name in names:
        users, answers = report[name].pop("_answers")
        report[name].update(recall(items, vectors, queries, users, answers))
    p = report["postgres_store"]
    report["ratios"] = {
        name: {
            "insert_x": round(report[name]["insert_items_per_s"] / p["insert_items_per_s"], 2),
            "filtered_search_p95_x": round(
                report[name]["search_prefix_filter_ms"]["p95"]
                / p["search_prefix_filter_ms"]["p95"],
                2,
            ),
        }
        for name in ("alma", "alma_exact")
    }
    print(json.dumps(report))
    print(f"\n{'metric':30} {'Alma (hnsw)':>12} {'Alma (exact)':>13} {'PostgresStore':>14}")
    for key in p:
        for sub in ("p50", "p95") if isinstance(p[key], dict) else (None,):
            label = f"{key} {sub}" if sub else key
            cells = [report[n][key][sub] if sub else report[n][key] for n in names]
            print(f"{label:30} {cells[0]:>12} {cells[1]:>13} {cells[2]:>14}")
    print(f"ratios vs PostgresStore: {report['ratios']}")


if __name__ == "__main__":
    main()
