"""Thread retention (`AlmaSaver(ttl=...)`): how fast a sweep goes, and what it costs the
threads that are live while it runs.

    python bench/retention_bench.py [--threads 100000] [--expired 0.1] [--strategy delete]
                                    [--pace 1.0]

Fills a fresh database on the embedded server (or ALMA_BENCH_ADMIN_URL) with `--threads`
threads of a few checkpoints each, of which the `--expired` share is past its TTL (written
directly in SQL: the sweep is what is measured), then:

- sweeps them all with `sweep_limit` threads per sweep: threads/s;
- runs small-graph invokes on live threads with no sweep, and again while sweepers run:
  p50/p95 latency and the ratio (target: within 1.2x).

Not a test: numbers depend on the machine; the ratio is what we track.
"""

from __future__ import annotations

import argparse
import json
import operator
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Annotated, Any, TypedDict
from urllib.parse import urlsplit, urlunsplit

import psycopg
from langgraph.graph import START, StateGraph
from psycopg_pool import ConnectionPool

from langgraph_alma import AlmaSaver
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.migrations import migrate

FILL = (
    """
INSERT INTO alma_threads (tenant_id, thread_id, last_write_at, ttl_minutes, expires_at)
SELECT %(tenant)s, 'th-' || g, now() - interval '2 hours', 60,
       CASE WHEN g <= %(expired)s THEN now() - interval '1 hour' ELSE now() + interval '1 day' END
FROM generate_series(1, %(n)s) AS g
""",
    """
INSERT INTO alma_checkpoints (tenant_id, thread_id, checkpoint_ns, checkpoint_id,
                              parent_checkpoint_id, checkpoint, inline_values, metadata, step)
SELECT %(tenant)s, 'th-' || g, '', lpad(s::text, 8, '0'),
       CASE WHEN s > 1 THEN lpad((s - 1)::text, 8, '0') END,
       '{"v": 4, "channel_versions": {"n": "1"}, "versions_seen": {}}'::jsonb,
       jsonb_build_object('n', s), '{"source": "loop"}'::jsonb, s
FROM generate_series(1, %(n)s) AS g, generate_series(1, %(per)s) AS s
""",
)


class State(TypedDict):
    log: Annotated[list[int], operator.add]
    n: int


def _graph(saver: AlmaSaver) -> Any:
    builder = StateGraph(State)
    builder.add_node("a", lambda s: {"n": s.get("n", 0) + 1})
    builder.add_node("b", lambda s: {"log": [s["n"]]})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    return builder.compile(checkpointer=saver)


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def _latencies(graph: Any, invokes: int, live: int) -> list[float]:
    out = []
    for i in range(invokes):
        cfg = {"configurable": {"thread_id": f"live-{i % live}"}}
        start = time.perf_counter()
        graph.invoke({"log": []}, cfg)
        out.append((time.perf_counter() - start) * 1000)
    return out


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=100_000)
    parser.add_argument("--expired", type=float, default=0.1)
    parser.add_argument("--per-thread", type=int, default=3, help="checkpoints per thread")
    parser.add_argument("--strategy", choices=["delete", "keep_latest"], default="delete")
    parser.add_argument("--sweep-limit", type=int, default=1000)
    parser.add_argument("--invokes", type=int, default=300)
    parser.add_argument(
        "--pace", type=float, default=4.0, help="sweep_ttl(pace=): rest per unit of work"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import os

    if url := os.environ.get("ALMA_BENCH_ADMIN_URL"):
        admin, app = url, url
    else:
        from langgraph_alma.db.embedded import start_embedded

        server = start_embedded(Path(".alma/bench-pgdata"))
        admin, app = server.admin_url, server.app_url
    name = f"alma_retention_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        admin_db, app_db = _with_db(admin, name), _with_db(app, name)
        with psycopg.connect(admin_db, autocommit=True) as conn:
            migrate(conn)
        tenant = "bench"
        expired = int(args.threads * args.expired)
        t0 = time.perf_counter()
        with psycopg.connect(admin_db, autocommit=True) as conn:
            params = {"tenant": tenant, "n": args.threads, "expired": expired}
            for statement in FILL:
                conn.execute(statement, {**params, "per": args.per_thread})
            conn.execute("ANALYZE")
        fill_s = time.perf_counter() - t0
        ttl = {"strategy": args.strategy, "default_ttl": 60, "sweep_limit": args.sweep_limit}
        with ConnectionPool(app_db, kwargs=connection_kwargs(), min_size=2, max_size=8) as pool:
            saver = AlmaSaver(pool, tenant_id=tenant, ttl=ttl)
            graph = _graph(saver)
            live = 20
            _latencies(graph, live * 2, live)  # warm up: every live thread exists
            quiet = _latencies(graph, args.invokes, live)

            # Sweep the expired threads, timing it, while invokes run on live threads.
            swept = 0
            done = threading.Event()

            def sweeper() -> None:
                nonlocal swept
                while True:
                    batch = saver.sweep_ttl(pace=args.pace)
                    swept += len(batch)
                    if not batch:
                        break
                done.set()

            start = time.perf_counter()
            worker = threading.Thread(target=sweeper)
            worker.start()
            during: list[float] = []
            while not done.is_set():
                during.extend(_latencies(graph, 10, live))
            worker.join()
            sweep_s = time.perf_counter() - start
        result = {
            "threads": args.threads,
            "expired": expired,
            "checkpoints_per_thread": args.per_thread,
            "strategy": args.strategy,
            "sweep_limit": args.sweep_limit,
            "pace": args.pace,
            "fill_s": round(fill_s, 2),
            "swept": swept,
            "sweep_s": round(sweep_s, 2),
            "threads_per_s": round(swept / sweep_s, 1),
            "invoke_p50_quiet_ms": round(statistics.median(quiet), 2),
            "invoke_p95_quiet_ms": round(_pct(quiet, 95), 2),
            "invoke_p50_sweeping_ms": round(statistics.median(during), 2),
            "invoke_p95_sweeping_ms": round(_pct(during, 95), 2),
            "invokes_during_sweep": len(during),
        }
        result["p50_ratio"] = round(
            result["invoke_p50_sweeping_ms"] / result["invoke_p50_quiet_ms"], 2
        )
        print(json.dumps(result, indent=2))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
