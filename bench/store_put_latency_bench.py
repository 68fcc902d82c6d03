"""Single puts on one connection: AlmaStore vs LangGraph's PostgresStore, latency percentiles.

    python bench/store_put_latency_bench.py                  # embedded server in a temp dir
    python bench/store_put_latency_bench.py --preload 4000 --puts 1500

How a user who passes one connection (`PostgresStore(conn)`, `AlmaStore(conn)`) sees
puts: each store gets its own new database on the same server, is loaded with
`--preload` items (the corpus and 384-d embedder of `store_bench.py`; past AlmaStore's
`exact_search_max`, so its vectors need the HNSW index), then `--puts` new items are put
one at a time, the stores taking turns every 50 puts so that both see the same machine
load. PostgresStore inserts each vector into HNSW inline; AlmaStore's puts leave it to its
background indexer (on, as by default), which shares the one connection with them: the
tail (p99, max) is what its chunks make callers wait. Prints one JSON object, then a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from typing import Any

import psycopg
from _scratch import add_server_args, bench_server
from langgraph.store.base import BaseStore, PutOp
from psycopg.rows import dict_row
from store_bench import DIMS, _create_db, _drop_db, _with_db, corpus, embed

from langgraph_alma import AlmaStore
from langgraph_alma.migrations import migrate

TURN = 50  # puts per store before the other's turn


def percentiles(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)

    def at(p: float) -> float:
        return round(s[min(len(s) - 1, int(len(s) * p))] * 1000, 2)

    return {"p50": at(0.5), "p95": at(0.95), "p99": at(0.99), "max": round(s[-1] * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preload", type=int, default=4000)
    parser.add_argument("--puts", type=int, default=1500)
    add_server_args(parser)
    args = parser.parse_args()

    servers = contextlib.ExitStack()  # an embedded server unless --admin-url names one
    admin_url, app_url = servers.enter_context(bench_server(args.admin_url, args.app_url))

    from langgraph.store.postgres import PostgresStore

    items = corpus(args.preload + args.puts)
    index: Any = {"dims": DIMS, "embed": embed, "fields": ["text"]}
    alma_db, lg_db = _create_db(admin_url, "alma_putlat"), _create_db(admin_url, "lg_putlat")
    alma_url, alma_admin = _with_db(app_url, alma_db), _with_db(admin_url, alma_db)
    lg_url = _with_db(admin_url, lg_db)
    report: dict[str, Any] = {"preload": args.preload, "puts": args.puts, "dims": DIMS}
    try:
        with psycopg.connect(alma_admin, autocommit=True) as conn:
            migrate(conn)
        with AlmaStore.from_conn_string(alma_url, index=index, admin_url=alma_admin) as alma:
            alma.setup()
        with PostgresStore.from_conn_string(lg_url, index=index) as lg:
            lg.setup()
        with (
            psycopg.connect(alma_url, autocommit=True) as aconn,
            psycopg.connect(lg_url, autocommit=True, row_factory=dict_row) as lconn,
        ):
            stores: dict[str, BaseStore] = {
                "alma": AlmaStore(aconn, index=index, tenant_id="bench"),
                "postgres_store": PostgresStore(lconn, index=index),
            }
            preload = items[: args.preload]
            for store in stores.values():
                for i in range(0, len(preload), 500):
                    store.batch([PutOp(ns, key, value) for ns, key, value in preload[i : i + 500]])
            alma_store = stores["alma"]
            assert isinstance(alma_store, AlmaStore)
            alma_store.index_backlog()  # the load's backlog: not what this measures
            samples: dict[str, list[float]] = {name: [] for name in stores}
            rest = items[args.preload :]
            for start in range(0, len(rest), TURN):
                for name, store in stores.items():
                    for ns, key, value in rest[start : start + TURN]:
                        t0 = time.perf_counter()
                        store.put(ns, key, value)
                        samples[name].append(time.perf_counter() - t0)
            alma_store.stop_indexer()
        for name, lat in samples.items():
            report[name] = percentiles(lat)
        report["ratio"] = {
            k: round(report["alma"][k] / report["postgres_store"][k], 2)
            for k in ("p50", "p95", "p99", "max")
        }
    finally:
        for db in (alma_db, lg_db):
            _drop_db(admin_url, db)
        servers.close()

    print(json.dumps(report))
    print(f"\n{'put latency, ms':16} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}")
    for name in ("alma", "postgres_store", "ratio"):
        row = report[name]
        print(f"{name:16} " + " ".join(f"{row[k]:>7}" for k in ("p50", "p95", "p99", "max")))


if __name__ == "__main__":
    main()
