"""Where a small graph's sync invoke spends its time, one saver at a time (not a ratio).

    python bench/saver_profile.py [alma|postgres|memory] [--invokes 500] [--pool]
    py-spy record --native -r 200 --format raw -o out.raw -- python bench/saver_profile.py alma

Runs `saver_bench.small_graph` on one saver alone (nothing else in the process, so a
profiler sees only its frames) and prints, per invoke: the p50 and mean wall time, this
process's CPU, the main thread's CPU, and where the main thread waits: in `Thread.start`
(LangGraph starts a thread pool per invoke; each start waits until the new thread holds
the GIL), at the end of the run for the executor's puts, and in `get_tuple`; then the CPU
of the saver's own calls on whichever thread made them, and threads started per invoke.
Numbers move with the machine's load: compare savers within one run of this script.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.pregel import _executor
from psycopg_pool import ConnectionPool

sys.path.insert(0, str(Path(__file__).parent))
from saver_bench import THEIRS_KWARGS, Databases, small_graph  # noqa: E402

from langgraph_alma import AlmaSaver  # noqa: E402
from langgraph_alma.db.connect import connection_kwargs  # noqa: E402

SPENT: Counter[str] = Counter()  # seconds (wall, or thread CPU under "cpu ...")
MAIN = threading.main_thread()


def _timed(owner: Any, name: str, key: str, main_only: bool) -> None:
    """Wrap `owner.name` to add its wall time (and its thread's CPU) to SPENT[key]."""
    inner: Callable[..., Any] = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        if main_only and threading.current_thread() is not MAIN:
            return inner(*args, **kwargs)
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return inner(*args, **kwargs)
        finally:
            SPENT[key] += time.perf_counter() - wall
            SPENT[f"cpu {key}"] += time.thread_time() - cpu

    setattr(owner, name, timed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("saver", choices=("alma", "postgres", "memory"), nargs="?", default="alma")
    parser.add_argument("--invokes", type=int, default=500)
    parser.add_argument("--pool", action="store_true", help="a pool of 4, not one connection")
    args = parser.parse_args()
    started = [0]
    start = threading.Thread.start

    def counted_start(self: threading.Thread) -> None:
        started[0] += 1
        start(self)

    threading.Thread.start = counted_start  # type: ignore[method-assign]
    _timed(threading.Thread, "start", "main in Thread.start", main_only=True)
    _timed(_executor.BackgroundExecutor, "__exit__", "main waiting for the puts", True)
    saver_type = {"alma": AlmaSaver, "postgres": PostgresSaver, "memory": InMemorySaver}
    for method in ("get_tuple", "put", "put_writes"):
        _timed(saver_type[args.saver], method, f"saver.{method}", main_only=False)
    dbs = Databases()
    ours_url, theirs_url = dbs.pair("profile")
    url, kwargs = (
        (ours_url, connection_kwargs()) if args.saver == "alma" else (theirs_url, THEIRS_KWARGS)
    )
    conn: Any = (
        ConnectionPool(url, min_size=4, max_size=4, kwargs=kwargs)
        if args.pool
        else psycopg.connect(url, **kwargs)
    )
    try:
        saver = InMemorySaver() if args.saver == "memory" else saver_type[args.saver](conn)
        graph = small_graph().compile(checkpointer=saver)
        n = args.invokes
        walls: list[float] = []
        for i in range(-30, n):  # the first 30: warm-up
            if i == 0:
                SPENT.clear()
                started[0] = 0
                cpu, main_cpu = time.process_time(), time.thread_time()
            begin = time.perf_counter()
            graph.invoke(
                {"n": i, "s": "hello", "items": ["x"]},
                {"configurable": {"thread_id": f"small-{i % 30}"}},
            )
            if i >= 0:
                walls.append(time.perf_counter() - begin)
        cpu, main_cpu = time.process_time() - cpu, time.thread_time() - main_cpu
    finally:
        conn.close()
        dbs.drop_all()

    def ms(seconds: float) -> str:
        return f"{seconds * 1000 / n:.3f}"

    print(
        f"{args.saver} ({'pool' if args.pool else 'one connection'}), ms per invoke: "
        f"wall p50 {statistics.median(walls) * 1000:.3f}, mean {ms(sum(walls))}; "
        f"process CPU {ms(cpu)}, main thread CPU {ms(main_cpu)}; "
        f"threads started {started[0] / n:.2f}"
    )
    for key in sorted(k for k in SPENT if not k.startswith("cpu ")):
        print(f"  {key:<28} wall {ms(SPENT[key])}  (its thread's CPU {ms(SPENT['cpu ' + key])})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
