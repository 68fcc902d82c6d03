"""What an HNSW index costs a write: pgvector's incremental inserts against its bulk build.

    python bench/hnsw_insert_bench.py                 # 10k vectors, embedded server
    python bench/hnsw_insert_bench.py --items 20000 --variants vector_ef64,halfvec_ef64

Issue 11 asks for twice PostgresStore's insert throughput with an ANN index; HNSW upkeep
is most of an insert (`bench/store_bench.py`). This measures the upkeep alone, on plain
tables (no store): the same 384-d vectors as `store_bench.py` (its corpus and embedder),
inserted 500 a statement into a table with the HNSW index (incremental: each vector
searches the graph), then the index dropped and built again over the same rows (pgvector's
bulk build), and recall@10 of 100 queries at `hnsw.ef_search` 40 against an exact scan.
Variants: `vector`/`halfvec` storage and HNSW `ef_construction` (m 16, pgvector's
default, throughout). For each, also AlmaStore's deferred upkeep (migration 0013): the
same inserts into a table whose HNSW index is partial (`WHERE indexed`, new rows outside
it; `deferred_insert_per_s`), then the indexer's moves of 200 rows a transaction
(`UPDATE ... SET indexed = true`; `drain_per_s`): the work leaves the caller's path, it
is not saved. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import store_bench  # noqa: E402  (the corpus and embedder of the store benchmark)

VARIANTS = {  # name: (column type, operator class, ef_construction)
    "vector_ef64": ("vector", "vector_cosine_ops", 64),
    "vector_ef32": ("vector", "vector_cosine_ops", 32),
    "halfvec_ef64": ("halfvec", "halfvec_cosine_ops", 64),
}


def _literal(vector: list[float]) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in vector) + "]"


def run(conn: psycopg.Connection[Any], items: int, variants: list[str]) -> dict[str, Any]:
    texts = [value["text"] for _, _, value in store_bench.corpus(items)]
    vectors = [_literal(v) for v in store_bench.embed(texts)]
    queries = [
        _literal(v)
        for v in store_bench.embed(
            [
                " ".join(random.Random(i).choices(texts[i * 7 % items].split(), k=3))
                for i in range(100)
            ]
        )
    ]
    out: dict[str, Any] = {"items": items, "dims": store_bench.DIMS}
    exact: list[set[int]] | None = None
    for name in variants:
        typ, ops, ef = VARIANTS[name]
        dims = store_bench.DIMS
        conn.execute("DROP TABLE IF EXISTS hnsw_bench")
        conn.execute(f"CREATE TABLE hnsw_bench (id int PRIMARY KEY, e {typ}({dims}))")
        index = (
            f"CREATE INDEX hnsw_bench_idx ON hnsw_bench USING hnsw (e {ops}) "
            f"WITH (m = 16, ef_construction = {int(ef)})"
        )
        conn.execute(index)
        t0 = time.perf_counter()
        for i in range(0, items, 500):
            conn.execute(
                f"INSERT INTO hnsw_bench SELECT i, v::{typ} "
                "FROM unnest(%s::int[], %s::text[]) AS u(i, v)",
                (list(range(i, min(items, i + 500))), vectors[i : i + 500]),
            )
        incremental = items / (time.perf_counter() - t0)
        conn.execute("DROP INDEX hnsw_bench_idx")
        t0 = time.perf_counter()
        conn.execute(index)
        bulk = items / (time.perf_counter() - t0)
        search = f"SELECT id FROM hnsw_bench ORDER BY e <=> %s::{typ} LIMIT 10"
        if exact is None:
            conn.execute("SET enable_indexscan = off")
            exact = [{r[0] for r in conn.execute(search, (q,))} for q in queries]
            conn.execute("RESET enable_indexscan")
        conn.execute("SET hnsw.ef_search = 40")
        hits = sum(
            len({r[0] for r in conn.execute(search, (q,))} & want)
            for q, want in zip(queries, exact, strict=True)
        )
        out[name] = {
            "incremental_per_s": round(incremental),
            "bulk_build_per_s": round(bulk),
            "recall_at_10": round(hits / (10 * len(queries)), 3),
            **deferred(conn, typ, ops, ef, vectors),
        }
    conn.execute("DROP TABLE IF EXISTS hnsw_bench")
    return out


def deferred(
    conn: psycopg.Connection[Any], typ: str, ops: str, ef: int, vectors: list[str]
) -> dict[str, int]:
    """Inserts outside a partial HNSW index, then moved in 200 rows a transaction."""
    items, dims = len(vectors), store_bench.DIMS
    conn.execute("DROP TABLE IF EXISTS hnsw_bench")
    conn.execute(
        f"CREATE TABLE hnsw_bench (id int PRIMARY KEY, e {typ}({dims}),"
        " indexed boolean NOT NULL DEFAULT false)"
    )
    conn.execute(
        f"CREATE INDEX ON hnsw_bench USING hnsw (e {ops}) WITH (m = 16, ef_construction = "
        f"{int(ef)}) WHERE indexed"
    )
    conn.execute("CREATE INDEX ON hnsw_bench (id) WHERE NOT indexed")
    t0 = time.perf_counter()
    for i in range(0, items, 500):
        conn.execute(
            f"INSERT INTO hnsw_bench SELECT i, v::{typ} "
            "FROM unnest(%s::int[], %s::text[]) AS u(i, v)",
            (list(range(i, min(items, i + 500))), vectors[i : i + 500]),
        )
    inserted = items / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    moved = 1
    while moved:
        cur = conn.execute(
            "WITH pick AS (SELECT id FROM hnsw_bench WHERE NOT indexed LIMIT 200"
            " FOR UPDATE SKIP LOCKED)"
            " UPDATE hnsw_bench b SET indexed = true FROM pick WHERE b.id = pick.id"
        )
        moved = cur.rowcount
    drained = items / (time.perf_counter() - t0)
    return {"deferred_insert_per_s": round(inserted), "drain_per_s": round(drained)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--admin-url", help="superuser URL; default: a temp embedded server")
    args = parser.parse_args()
    server = None
    if args.admin_url:
        url = args.admin_url
    else:
        from langgraph_alma.db.embedded import start_embedded

        server = start_embedded(Path(tempfile.mkdtemp(prefix="alma-hnsw-")) / "pgdata")
        url = server.admin_url
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            print(json.dumps(run(conn, args.items, args.variants.split(","))))
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
