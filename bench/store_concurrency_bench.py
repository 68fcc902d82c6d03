"""Concurrent load on one shared store: AlmaStore vs LangGraph's PostgresStore, side by side.

    python bench/store_concurrency_bench.py                 # embedded server in a temp dir
    python bench/store_concurrency_bench.py --seconds 10 --tasks 1,8,64
    python bench/store_concurrency_bench.py --admin-url postgresql://postgres@host/postgres

Async: N tasks (N = 1, 8, 64 by default) share one `AsyncAlmaStore` / `AsyncPostgresStore`
and each loops over a mix of operations for a fixed time: 50% `aget`, 25% `aput`, 15%
`asearch` with a filter, 10% `asearch` with a query (same deterministic embedder on both).
Sync: 8 threads share one `AlmaStore` / `PostgresStore` on a pool, same mix. Reports
operations per second and errors (any exception) for each, and the CPU time an operation
cost (this process, and the server's backends of the store's database when the server
runs on this machine): on a busy machine ops/s swing with the load, CPU per op much less.
First, a burst: 300 concurrent `aput`s then 300 concurrent query `asearch`es, timed
(issue 11 measured 37.9 s vs 1.5 s for such a test before AsyncAlmaStore gathered its
calls). Each store gets its own new database on the same server, loaded with the same
items first; the stores alternate in short slices (`--slices` per run), so both see the
same machine load. AlmaStore runs as the application role (row-level security on),
PostgresStore as the admin role (its `setup()` needs it). Prints one JSON object, then a
table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import random
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg
from _scratch import add_server_args, bench_server  # bench/, this script's folder
from langgraph.store.base import BaseStore, PutOp

from langgraph_alma import AlmaStore, AsyncAlmaStore
from langgraph_alma.migrations import migrate

DIMS = 64
NAMESPACES = 20
PRELOAD = 2000
WORDS = [f"w{i}" for i in range(400)]
POOL = 8
BURST = 300  # concurrent calls of each kind in the burst run


def backend_cpu(database: str) -> float | None:
    """CPU seconds used so far by this machine's PostgreSQL backends of `database`
    (None: none seen, e.g. a remote server)."""
    total, seen = 0.0, False
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or ())
        if cmd.startswith("postgres: ") and f" {database} " in cmd:
            try:
                t = proc.cpu_times()
            except psutil.Error:
                continue
            total, seen = total + t.user + t.system, True
    return total if seen else None


class Tally:
    """Operations, errors, wall time and CPU of one store over several slices."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.ops = 0
        self.errors: list[str] = []
        self.elapsed = self.client = self.server = 0.0
        self.server_seen = True

    def start(self) -> None:
        self._t, self._c, self._s = (
            time.perf_counter(),
            time.process_time(),
            backend_cpu(self.database),
        )

    def stop(self, ops: int, errors: list[str]) -> None:
        self.elapsed += time.perf_counter() - self._t
        self.client += time.process_time() - self._c
        server = backend_cpu(self.database)
        if server is None or self._s is None:
            self.server_seen = False
        else:
            self.server += server - self._s
        self.ops += ops
        self.errors += errors

    def report(self) -> dict[str, Any]:
        per_op = 1e6 / max(self.ops, 1)
        return {
            "ops_per_s": round(self.ops / self.elapsed, 1),
            "errors": len(self.errors),
            "client_cpu_us_per_op": round(self.client * per_op),
            "server_cpu_us_per_op": round(self.server * per_op) if self.server_seen else None,
            "sample": self.errors[:3],
        }


def embed(texts: list[str]) -> list[list[float]]:
    """Words hashed into DIMS buckets; unit length (deterministic, cheap)."""
    out = []
    for text in texts:
        vec = [0.0] * DIMS
        for word in text.split():
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
            vec[h % DIMS] += 1.0
        norm = sum(x * x for x in vec) ** 0.5 or 1.0
        out.append([x / norm for x in vec])
    return out


INDEX = {"dims": DIMS, "embed": embed, "fields": ["text"]}


def value(rng: random.Random, i: int) -> dict[str, Any]:
    return {"text": " ".join(rng.choices(WORDS, k=8)), "n": i % 10, "kind": rng.choice("abc")}


class Mix:
    """The operation mix, the same for every store: returns (kind, call) pairs."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.written = 0

    def next(self) -> tuple[str, tuple[str, ...], Any]:
        rng = self.rng
        ns = ("users", f"u{rng.randrange(NAMESPACES)}")
        roll = rng.random()
        if roll < 0.5:
            return "get", ns, f"item{rng.randrange(PRELOAD)}"
        if roll < 0.75:
            self.written += 1
            return "put", ns, (f"item{rng.randrange(PRELOAD)}", value(rng, self.written))
        if roll < 0.9:
            return "search_filter", ns, {"n": rng.randrange(10)}
        return "search_query", ns, " ".join(rng.choices(WORDS, k=3))


async def acall(store: BaseStore, op: tuple[str, tuple[str, ...], Any]) -> None:
    kind, ns, arg = op
    if kind == "get":
        await store.aget(ns, arg)
    elif kind == "put":
        await store.aput(ns, arg[0], arg[1])
    elif kind == "search_filter":
        await store.asearch(ns, filter=arg, limit=10)
    else:
        await store.asearch(ns, query=arg, limit=10)


def call(store: BaseStore, op: tuple[str, tuple[str, ...], Any]) -> None:
    kind, ns, arg = op
    if kind == "get":
        store.get(ns, arg)
    elif kind == "put":
        store.put(ns, arg[0], arg[1])
    elif kind == "search_filter":
        store.search(ns, filter=arg, limit=10)
    else:
        store.search(ns, query=arg, limit=10)


async def async_round(store: BaseStore, tasks: int, seconds: float) -> tuple[int, list[str]]:
    done = [0]
    errors: list[str] = []
    stop = time.perf_counter() + seconds

    async def worker(seed: int) -> None:
        mix = Mix(seed)
        while time.perf_counter() < stop:
            try:
                await acall(store, mix.next())
                done[0] += 1
            except Exception as exc:  # every error is a finding
                errors.append(f"{type(exc).__name__}: {exc}"[:200])

    await asyncio.gather(*(worker(s) for s in range(tasks)))
    return done[0], errors


async def burst(store: BaseStore, calls: int) -> dict[str, Any]:
    """`calls` concurrent `aput`s, then `calls` concurrent query `asearch`es (issue 11's
    finding: hundreds of calls launched at once)."""
    rng = random.Random(9)
    errors: list[BaseException] = []
    times = []
    for wave in (
        [store.aput(("burst",), f"b{i}", value(rng, i)) for i in range(calls)],
        [store.asearch(("burst",), query=" ".join(rng.choices(WORDS, k=3))) for _ in range(calls)],
    ):
        t0 = time.perf_counter()
        out = await asyncio.gather(*wave, return_exceptions=True)
        times.append(time.perf_counter() - t0)
        errors += [r for r in out if isinstance(r, BaseException)]
    return {
        "seconds": round(sum(times), 2),
        "puts_s": round(times[0], 2),
        "searches_s": round(times[1], 2),
        "errors": len(errors),
    }


def sync_round(store: BaseStore, threads: int, seconds: float) -> tuple[int, list[str]]:
    done = [0]
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker(seed: int) -> None:
        mix = Mix(seed)
        n = 0
        while time.perf_counter() < stop:
            try:
                call(store, mix.next())
                n += 1
            except Exception as exc:  # every error is a finding
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
        with lock:
            done[0] += n

    pool = [threading.Thread(target=worker, args=(s,)) for s in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return done[0], errors


def preload(store: BaseStore) -> None:
    rng = random.Random(1)
    items = [
        PutOp(("users", f"u{i % NAMESPACES}"), f"item{i}", value(rng, i)) for i in range(PRELOAD)
    ]
    for i in range(0, len(items), 500):
        store.batch(items[i : i + 500])


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


def _row(tallies: dict[str, Tally]) -> dict[str, Any]:
    row: dict[str, Any] = {name: t.report() for name, t in tallies.items()}
    row["ratio"] = round(row["alma"]["ops_per_s"] / row["postgres_store"]["ops_per_s"], 2)
    return row


async def run_async(
    alma_url: str, alma_admin: str, lg_url: str, dbs: dict[str, str], tasks: list[int],
    seconds: float, slices: int,
) -> dict[str, Any]:  # fmt: skip
    from langgraph.store.postgres import AsyncPostgresStore

    out: dict[str, Any] = {}
    async with (
        AsyncAlmaStore.from_conn_string(
            alma_url, index=INDEX, tenant_id="bench", pool_size=POOL, admin_url=alma_admin
        ) as alma,
        AsyncPostgresStore.from_conn_string(
            lg_url, index=INDEX, pool_config={"max_size": POOL}
        ) as lg,
    ):
        stores: list[tuple[str, Any]] = [("alma", alma), ("postgres_store", lg)]
        row: dict[str, Any] = {name: await burst(store, BURST) for name, store in stores}
        row["ratio"] = round(row["postgres_store"]["seconds"] / row["alma"]["seconds"], 2)
        out[f"burst_{BURST}"] = row
        for n in tasks:
            tallies = {name: Tally(dbs[name]) for name, _ in stores}
            for _, store in stores:
                await async_round(store, n, min(1.0, seconds))  # warm up
            for _ in range(slices):  # alternate, so that both see the same load
                for name, store in stores:
                    tallies[name].start()
                    tallies[name].stop(*await async_round(store, n, seconds / slices))
            out[f"async_{n}"] = _row(tallies)
    return out


def run_sync(
    alma_url: str, alma_admin: str, lg_url: str, dbs: dict[str, str], threads: int,
    seconds: float, slices: int,
) -> dict[str, Any]:  # fmt: skip
    from langgraph.store.postgres import PostgresStore

    with (
        AlmaStore.from_conn_string(
            alma_url, index=INDEX, tenant_id="bench", pool_size=POOL, admin_url=alma_admin
        ) as alma,
        PostgresStore.from_conn_string(lg_url, index=INDEX, pool_config={"max_size": POOL}) as lg,
    ):
        stores: list[tuple[str, Any]] = [("alma", alma), ("postgres_store", lg)]
        tallies = {name: Tally(dbs[name]) for name, _ in stores}
        for _, store in stores:
            sync_round(store, threads, min(1.0, seconds))  # warm up
        for _ in range(slices):
            for name, store in stores:
                tallies[name].start()
                tallies[name].stop(*sync_round(store, threads, seconds / slices))
        return {f"sync_{threads}_threads": _row(tallies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default="1,8,64", help="async task counts, comma-separated")
    parser.add_argument("--threads", type=int, default=8, help="threads of the sync run")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each run")
    parser.add_argument("--slices", type=int, default=5, help="alternations of the stores per run")
    add_server_args(parser)
    args = parser.parse_args()
    tasks = [int(t) for t in args.tasks.split(",")]

    servers = contextlib.ExitStack()  # an embedded server unless --admin-url names one
    admin_url, app_url = servers.enter_context(bench_server(args.admin_url, args.app_url))

    from langgraph.store.postgres import PostgresStore

    alma_db, lg_db = _create_db(admin_url, "alma_conc"), _create_db(admin_url, "lg_conc")
    alma_url, alma_admin = _with_db(app_url, alma_db), _with_db(admin_url, alma_db)
    lg_url = _with_db(admin_url, lg_db)
    report: dict[str, Any] = {
        "preload": PRELOAD,
        "namespaces": NAMESPACES,
        "dims": DIMS,
        "pool": POOL,
        "seconds": args.seconds,
        "slices": args.slices,
    }
    dbs = {"alma": alma_db, "postgres_store": lg_db}
    try:
        with psycopg.connect(alma_admin, autocommit=True) as conn:
            migrate(conn)
        with AlmaStore.from_conn_string(
            alma_url, index=INDEX, tenant_id="bench", admin_url=alma_admin
        ) as alma:
            alma.setup()
            preload(alma)
        with PostgresStore.from_conn_string(lg_url, index=INDEX) as lg:
            lg.setup()
            preload(lg)
        for url in (alma_admin, lg_url):
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("ANALYZE")
        timing = (args.seconds, args.slices)
        report.update(asyncio.run(run_async(alma_url, alma_admin, lg_url, dbs, tasks, *timing)))
        report.update(run_sync(alma_url, alma_admin, lg_url, dbs, args.threads, *timing))
    finally:
        for db in (alma_db, lg_db):
            _drop_db(admin_url, db)
        servers.close()

    print(json.dumps(report))
    print(f"\n{'run':16} {'AlmaStore ops/s':>15} {'err':>4} {'cpu us/op':>11} "
          f"{'PostgresStore ops/s':>19} {'err':>4} {'cpu us/op':>11} {'ratio':>6}")  # fmt: skip
    for key, row in report.items():
        if not isinstance(row, dict):
            continue
        a, p = row["alma"], row["postgres_store"]
        if "seconds" in a:
            print(
                f"{key:16} {a['seconds']:>15} {a['errors']:>4} {'':>11} {p['seconds']:>19} "
                f"{p['errors']:>4} {'':>11} {row['ratio']:>6}  (seconds; ratio: how much faster)"
            )
            continue
        print(
            f"{key:16} {a['ops_per_s']:>15} {a['errors']:>4} {_cpu(a):>11} {p['ops_per_s']:>19} "
            f"{p['errors']:>4} {_cpu(p):>11} {row['ratio']:>6}"
        )
    print("(cpu us/op: this process + the server's backends of the store's database)")


def _cpu(side: dict[str, Any]) -> str:
    client, server = side["client_cpu_us_per_op"], side["server_cpu_us_per_op"]
    return f"{client}+{server}" if server is not None else f"{client}+?"


if __name__ == "__main__":
    main()
