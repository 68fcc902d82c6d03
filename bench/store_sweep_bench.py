"""A TTL sweep on one connection: how long a caller waits behind it, AlmaStore vs
LangGraph's AsyncPostgresStore.

    python bench/store_sweep_bench.py                        # embedded server in a temp dir
    python bench/store_sweep_bench.py --expired 20000 --rounds 3

Each store gets its own new database on the same server and one async connection (as
`AsyncPostgresStore(conn)` / `AsyncAlmaStore(conn)` users pass it). Each round puts
`--expired` items with a one-second TTL and one without, waits for them to expire, starts
`sweep_ttl()` and, as soon as the sweep has sent its first statement, a `get` of the
kept item on the same connection: the get's latency is what a caller waits behind the
sweep. PostgresStore sweeps in one
DELETE; AlmaStore in transactions of `ALMA_STORE_SWEEP_CHUNK` items, giving the
connection back between them. The stores take turns round by round. Prints one JSON
object, then a table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time
import uuid
from typing import Any

import psycopg
from _scratch import add_server_args, bench_server
from langgraph.store.base import BaseStore, PutOp
from psycopg.rows import dict_row
from store_bench import _create_db, _drop_db, _with_db

from langgraph_alma import AsyncAlmaStore
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.migrations import migrate

SECOND = 1 / 60  # TTLs are in minutes, as in LangGraph
BATCH = 1000


async def sweep_round(store: BaseStore, expired: int) -> dict[str, float]:
    """One round: the sweep's time, the get's wait behind it, how many items went."""
    ns = ("sweep", uuid.uuid4().hex[:8])
    for i in range(0, expired, BATCH):
        top = min(i + BATCH, expired)
        await store.abatch([PutOp(ns, f"k{j}", {"v": j}, ttl=SECOND) for j in range(i, top)])
    await store.aput(ns, "kept", {"v": 0})
    await asyncio.sleep(1.5)
    t0 = time.perf_counter()
    sweeping = asyncio.create_task(store.sweep_ttl())  # type: ignore[attr-defined]
    await asyncio.sleep(0)  # the sweep holds the connection
    g0 = time.perf_counter()
    kept = await store.aget(ns, "kept")
    waited = time.perf_counter() - g0
    swept = await sweeping
    assert kept is not None
    return {"sweep_s": time.perf_counter() - t0, "get_wait_ms": waited * 1000, "swept": swept}


async def run(alma_url: str, lg_url: str, expired: int, rounds: int) -> dict[str, Any]:
    from langgraph.store.postgres.aio import AsyncPostgresStore

    alma_conn = await psycopg.AsyncConnection.connect(alma_url, **connection_kwargs())
    lg_conn = await psycopg.AsyncConnection.connect(lg_url, autocommit=True, row_factory=dict_row)
    try:
        stores: dict[str, BaseStore] = {
            "alma": AsyncAlmaStore(alma_conn, tenant_id="bench"),
            "postgres_store": AsyncPostgresStore(lg_conn),  # type: ignore[arg-type]
        }
        found: dict[str, list[dict[str, float]]] = {name: [] for name in stores}
        for _ in range(rounds):
            for name, store in stores.items():
                found[name].append(await sweep_round(store, expired))
    finally:
        await alma_conn.close()
        await lg_conn.close()
    return {
        name: {
            "get_wait_ms": [round(r["get_wait_ms"], 1) for r in runs],
            "sweep_s": [round(r["sweep_s"], 3) for r in runs],
            "swept": [int(r["swept"]) for r in runs],
            "get_wait_ms_median": round(statistics.median(r["get_wait_ms"] for r in runs), 1),
            "sweep_s_median": round(statistics.median(r["sweep_s"] for r in runs), 3),
        }
        for name, runs in found.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--expired", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    add_server_args(parser)
    args = parser.parse_args()

    servers = contextlib.ExitStack()  # an embedded server unless --admin-url names one
    admin_url, app_url = servers.enter_context(bench_server(args.admin_url, args.app_url))

    from langgraph.store.postgres import PostgresStore

    alma_db, lg_db = _create_db(admin_url, "alma_sweep"), _create_db(admin_url, "lg_sweep")
    try:
        with psycopg.connect(_with_db(admin_url, alma_db), autocommit=True) as conn:
            migrate(conn)
        lg_url = _with_db(admin_url, lg_db)
        with PostgresStore.from_conn_string(lg_url) as lg:
            lg.setup()
        report = asyncio.run(run(_with_db(app_url, alma_db), lg_url, args.expired, args.rounds))
    finally:
        for db in (alma_db, lg_db):
            _drop_db(admin_url, db)
        servers.close()
    report["expired"] = args.expired
    print(json.dumps(report))
    print(f"\n{args.expired} expired items, medians of {args.rounds} rounds")
    print(f"{'store':16} {'get waited, ms':>15} {'sweep, s':>10}")
    for name in ("alma", "postgres_store"):
        row = report[name]
        print(f"{name:16} {row['get_wait_ms_median']:>15} {row['sweep_s_median']:>10}")


if __name__ == "__main__":
    main()
