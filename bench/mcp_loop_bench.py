"""The MCP server's event loop under load: the longest stall while 16 sessions make 40
mixed calls each (retrieve, learn, add knowledge, stats, health) over streamable HTTP,
one agent with 10,000 stored outcomes of the strategy it learns.

    python bench/mcp_loop_bench.py [--sessions 16] [--calls 40] [--outcomes 10000] [--debug]

The server runs in a subprocess (`--serve`) with a probe on its loop: a task that sleeps
2 ms and records how late it wakes (a stall of the loop is lateness of every task on it)
and how much CPU the loop's thread used meanwhile (`loop_cpu_in_one_stall_ms`: work on
the loop; the rest of a stall is waiting for a core or for the GIL, on a busy machine).
A probe's lateness also counts queueing: with 16 sessions, several ready callbacks run
before it. What one call holds the loop for is one callback: every callback (a task's
step) longer than 3 ms is timed and named (`slow_steps_by_call`, `slowest_steps`: the
task's coroutines and the loop thread's stack as a watchdog thread sampled it).
With `--debug`, asyncio's debug mode also names every callback slower than 5 ms (its
slow-callback report; debug mode itself slows the loop). Runs on the embedded server (a
database per run) unless ALMA_BENCH_ADMIN_URL is set. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).parent))

from saver_bench import Databases, _with_db  # noqa: E402

PROBE_INTERVAL = 0.002
SLOW_CALLBACK = 0.005
SLOW_STEP = 0.003
HEAVY_AGENT = "heavy"
STRATEGY = "retry with backoff"


# -- the server side ----------------------------------------------------------------


async def _probe(seen: dict[str, Any]) -> None:
    """Count probes; keep (wall time, lateness, loop CPU, process CPU) of those more
    than 1 ms late. Lateness is what every task on the loop waited; loop CPU is how much
    of it the loop's thread spent running (our callbacks), the rest being waits for the
    GIL (the process's other threads: its CPU beyond the loop's) or for a core."""
    loop = asyncio.get_running_loop()
    while True:
        start, cpu, proc = loop.time(), time.thread_time(), time.process_time()
        await asyncio.sleep(PROBE_INTERVAL)
        late = loop.time() - start - PROBE_INTERVAL
        seen["count"] += 1
        if late > 0.001:
            seen["late"].append(
                (time.time(), late, time.thread_time() - cpu, time.process_time() - proc)
            )


class _SlowCallbacks(logging.Handler):
    """asyncio's debug report: 'Executing <handle> took 0.012 seconds'."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.found: list[tuple[float, float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("Executing") and record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            self.found.append((record.created, float(args[-1]), str(args[0])[:200]))


class _GcPauses:
    """Garbage collections over 1 ms, in any thread (a collection holds the GIL, so the
    loop too): (wall time, generation, seconds)."""

    def __init__(self, found: list[tuple[float, int, float]]) -> None:
        self.found, self.started = found, 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        elif (took := time.perf_counter() - self.started) > 0.001:
            self.found.append((time.time(), info["generation"], took))


class _SlowSteps:
    """Times every callback the loop runs (`Handle._run`: a task's step, a timer, an I/O
    wake-up); one longer than `SLOW_STEP` is recorded with where it was: the task's
    coroutine chain at its end (which call) and the loop thread's stack as a watchdog
    thread sampled it every millisecond while the step ran (what it spent the time on).
    Cheap enough to leave on (two clock reads a callback), unlike asyncio's debug mode."""

    def __init__(self) -> None:
        self.found: list[tuple[float, float, float, str, list[tuple[str, int]]]] = []
        self.current: tuple[float, list[str]] | None = None
        self.loop_thread = threading.get_ident()

    def install(self) -> None:
        run, steps = asyncio.events.Handle._run, self

        def timed(handle: asyncio.Handle) -> None:
            samples: list[str] = []
            start, cpu = time.perf_counter(), time.thread_time()
            steps.current = (start, samples)
            try:
                run(handle)
            finally:
                steps.current = None
                took = time.perf_counter() - start
                if took > SLOW_STEP:
                    steps.found.append(
                        (
                            time.time(),
                            took,
                            time.thread_time() - cpu,
                            _step_name(handle),
                            Counter(samples).most_common(3),
                        )
                    )

        asyncio.events.Handle._run = timed  # type: ignore[method-assign]
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(0.001)
            current = self.current
            if current is not None and time.perf_counter() - current[0] > 0.001:
                frame = sys._current_frames().get(self.loop_thread)
                if frame is not None and self.current is current:
                    current[1].append(_where(frame))


_OURS = ("langgraph_alma", "psycopg", "mcp", "pydantic", "langgraph", "starlette", "anyio")


def _where(frame: Any) -> str:
    """The innermost frame and the two innermost of langgraph_alma's, 'file:function'."""
    found = [f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}"]
    while frame is not None and len(found) < 3:
        if "langgraph_alma" in frame.f_code.co_filename:
            here = f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}"
            if here != found[-1]:
                found.append(here)
        frame = frame.f_back
    return " < ".join(found)


def _step_name(handle: asyncio.Handle) -> str:
    """The coroutines a task's step ran, outermost first (our packages' only)."""
    task = getattr(handle._callback, "__self__", None)
    if not isinstance(task, asyncio.Task):
        return getattr(handle._callback, "__qualname__", repr(handle._callback))[:80]
    names, coro = [], task.get_coro()
    while coro is not None and len(names) < 30:
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        if code is None:
            break
        if any(p in code.co_filename for p in _OURS[:2]) or "bench" in code.co_filename:
            names.append(code.co_name)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return " > ".join(names[-6:]) or task.get_name()


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data))


def serve(port: int, report: Path, debug: bool) -> None:
    """Run the MCP server with the probe; write what it saw to `report` every 0.5 s."""
    from langgraph_alma.db.embedded import serving
    from langgraph_alma.mcp.server import serve_async

    async def main() -> None:
        seen: dict[str, Any] = {"count": 0, "late": [], "gc": []}
        slow, steps = _SlowCallbacks(), _SlowSteps()
        steps.install()
        gc.callbacks.append(_GcPauses(seen["gc"]))
        if debug:
            loop = asyncio.get_running_loop()
            loop.set_debug(True)
            loop.slow_callback_duration = SLOW_CALLBACK
            logging.getLogger("asyncio").addHandler(slow)

        async def write() -> None:
            while True:
                await asyncio.sleep(0.5)
                # A copy here (cheap); the JSON and the file in a thread: not a stall of
                # the loop it measures.
                snapshot = {
                    **seen,
                    "late": list(seen["late"]),
                    "gc": list(seen["gc"]),
                    "slow_callbacks": list(slow.found),
                    "slow_steps": list(steps.found),
                    "loop_cpu_s": time.thread_time(),  # this coroutine runs on the loop
                    "process_cpu_s": time.process_time(),
                }
                await asyncio.to_thread(_write_json, report, snapshot)

        tasks = [asyncio.create_task(_probe(seen)), asyncio.create_task(write())]
        try:
            await serve_async(transport="http", port=port, tenant="bench")
        finally:
            for task in tasks:
                task.cancel()

    with serving(None):
        asyncio.run(main())


# -- the client side ----------------------------------------------------------------


def _preload(url: str, outcomes: int) -> None:
    from langgraph.store.base import PutOp

    from langgraph_alma.memory import Outcome
    from langgraph_alma.memory import items as it
    from langgraph_alma.store import AlmaStore

    with AlmaStore.from_conn_string(url, tenant_id="bench") as store:
        ops = []
        for i in range(outcomes):
            m = Outcome(
                task_type="deploys",
                task_description=f"deploy {i}",
                success=i % 3 != 0,
                strategy_used=STRATEGY,
            )
            m.agent, m.tenant_id = HEAVY_AGENT, "bench"
            ops.append(PutOp(it.namespace(m), m.id, it.to_value(m), index=False))
        for start in range(0, len(ops), 2000):
            store.batch(ops[start : start + 2000])


def _call(session: int, i: int) -> tuple[str, dict[str, Any]]:
    agent = HEAVY_AGENT if session % 4 == 0 else f"agent-{session}"
    kind = i % 5
    if kind == 0:
        return "alma_retrieve", {"task": f"deploy the service {i}", "agent": agent}
    if kind == 1:
        return "alma_learn", {
            "agent": agent,
            "task": f"deploy {session}-{i}",
            "outcome": "success" if i % 3 else "failure",
            "strategy_used": STRATEGY,
            "task_type": "deploys",
        }
    if kind == 2:
        return "alma_add_knowledge", {
            "agent": agent,
            "domain": "ops",
            "fact": f"service {session} listens on port {8000 + i}",
        }
    if kind == 3:
        return "alma_stats", {"agent": agent}
    return "alma_health", {}


async def _session(url: str, session: int, calls: int, latencies: dict[str, list[float]]):
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(timeout=httpx2.Timeout(60, read=300))
    async with Client(streamable_http_client(url, http_client=http)) as client:
        for i in range(calls):
            name, arguments = _call(session, i)
            start = time.perf_counter()
            result = await client.call_tool(name, arguments)
            latencies.setdefault(name, []).append((time.perf_counter() - start) * 1000)
            if result.is_error:
                raise RuntimeError(f"{name}: {result.content}")


async def _load(url: str, sessions: int, calls: int) -> dict[str, list[float]]:
    latencies: dict[str, list[float]] = {}
    await asyncio.gather(*(_session(url, s, calls, latencies) for s in range(sessions)))
    return latencies


def _p99(values: list[float]) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[98]
        if len(values) > 1
        else values[0]
    )


def _percentiles(late: list[float], probes: int) -> dict[str, Any]:
    """Percentiles of every probe's lateness; only those over 1 ms were kept, so lower
    ones read "<1"."""
    out: dict[str, Any] = {}
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)):
        rank = min(probes, max(1, round(q * probes))) - (probes - len(late))
        out[name] = round(late[rank - 1] * 1000, 1) if rank >= 1 else "<1"
    return out


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not listen")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--outcomes", type=int, default=10_000)
    parser.add_argument("--debug", action="store_true", help="asyncio's slow-callback report")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.report, args.debug)
        return 0

    import socket

    dbs = Databases()
    report = Path(f"/tmp/alma-loop-{uuid.uuid4().hex[:8]}.json")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        url, _ = dbs.pair("mcploop")
        admin = _with_db(dbs.admin, urlsplit(url).path[1:])
        _preload(url, args.outcomes)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALMA_")}
        env.update(ALMA_DATABASE_URL=url, ALMA_ADMIN_DATABASE_URL=admin, ALMA_CONFIG=os.devnull)
        command = [sys.executable, __file__, "--serve", str(port), "--report", str(report)]
        proc = subprocess.Popen(
            command + (["--debug"] if args.debug else []),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_listening(port, proc)
            time.sleep(1.0)  # the probe's first report
            first = json.loads(report.read_text())
            before = first["count"]
            began = time.time()
            latencies = asyncio.run(
                _load(f"http://127.0.0.1:{port}/mcp", args.sessions, args.calls)
            )
            ended = time.time()
            time.sleep(1.0)  # the probe's last report
            seen = json.loads(report.read_text())
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    finally:
        dbs.drop_all()
        report.unlink(missing_ok=True)
    during = [(lag, cpu) for t, lag, cpu, _ in seen["late"] if began <= t <= ended + 0.1]
    long = [(lag, cpu, proc) for t, lag, cpu, proc in seen["late"] if began <= t <= ended + 0.1]
    long = [s for s in long if s[0] > 0.020]
    late = sorted(lag for lag, _ in during)
    busy = sorted(cpu for _, cpu in during)
    pauses = [(g, d) for t, g, d in seen["gc"] if began <= t <= ended + 0.1]
    slow = sorted(
        ((d, h) for t, d, h in seen["slow_callbacks"] if began <= t <= ended + 0.1), reverse=True
    )
    probes = max(1, seen["count"] - before)
    steps = [
        (d, cpu, name, hot)
        for t, d, cpu, name, hot in seen["slow_steps"]
        if began <= t <= ended + 0.1
    ]
    by_call: dict[str, list[float]] = {}
    for _, cpu, name, _hot in steps:
        by_call.setdefault(name, []).append(cpu)
    out = {
        "command": " ".join(["python", *sys.argv]),
        "sessions": args.sessions,
        "calls_per_session": args.calls,
        "stored_outcomes": args.outcomes,
        "wall_s": round(ended - began, 2),
        # CPU the loop's thread (the server process) used over the load, per second of it:
        # near 1.0, the loop is saturated and every task on it queues.
        "loop_busy": round((seen["loop_cpu_s"] - first["loop_cpu_s"]) / (ended - began), 2),
        "process_cpu_per_s": round(
            (seen["process_cpu_s"] - first["process_cpu_s"]) / (ended - began), 2
        ),
        "loop_stall_ms": {
            "max": round((late[-1] if late else 0.0) * 1000, 1),
            "probes": probes,
            "over_5ms": sum(1 for x in late if x > 0.005),
            "over_20ms": sum(1 for x in late if x > 0.020),
            "over_50ms": sum(1 for x in late if x > 0.050),
        },
        "loop_stall_percentiles_ms": _percentiles(late, probes),
        # Of the stalls over 20 ms: the share the loop's thread ran, and the share the
        # process's other threads ran (holding the GIL); the rest, no core to run on.
        "stalls_over_20ms_spent": {
            "loop_cpu": round(
                sum(c for _, c, _ in long) / max(1e-9, sum(x for x, _, _ in long)), 2
            ),
            "other_threads_cpu": round(
                sum(p - c for _, c, p in long) / max(1e-9, sum(x for x, _, _ in long)), 2
            ),
        },
        "loop_cpu_in_one_stall_ms": {
            "max": round((busy[-1] if busy else 0.0) * 1000, 1),
            "over_5ms": sum(1 for x in busy if x > 0.005),
            "over_20ms": sum(1 for x in busy if x > 0.020),
        },
        "gc_pause_ms": {
            "max": round(max((d for _, d in pauses), default=0.0) * 1000, 1),
            "over_5ms": sum(1 for _, d in pauses if d > 0.005),
            "full_collections": sum(1 for g, _ in pauses if g == 2),
        },
        "loop_steps_over_3ms": {
            "count": len(steps),
            "cpu_over_5ms": sum(1 for _, cpu, _, _ in steps if cpu > 0.005),
            "cpu_over_10ms": sum(1 for _, cpu, _, _ in steps if cpu > 0.010),
            "cpu_over_20ms": sum(1 for _, cpu, _, _ in steps if cpu > 0.020),
            "cpu_max_ms": round(max((cpu for _, cpu, _, _ in steps), default=0.0) * 1000, 1),
        },
        "slow_steps_by_call": [
            {
                "call": name,
                "steps": len(cpus),
                "cpu_max_ms": round(max(cpus) * 1000, 1),
                "cpu_total_ms": round(sum(cpus) * 1000),
            }
            for name, cpus in sorted(by_call.items(), key=lambda kv: -sum(kv[1]))[:12]
        ],
        "slowest_steps": [
            {
                "wall_ms": round(d * 1000, 1),
                "cpu_ms": round(cpu * 1000, 1),
                "call": name,
                "sampled": hot,
            }
            for d, cpu, name, hot in sorted(steps, key=lambda s: -s[1])[:8]
        ],  # fmt: skip
        "slowest_callbacks_ms": [(round(d * 1000, 1), h) for d, h in slow[:5]],
        "call_p50_ms": {k: round(statistics.median(v), 1) for k, v in sorted(latencies.items())},
        "call_p99_ms": {k: round(_p99(v), 1) for k, v in sorted(latencies.items())},
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "run": uuid.uuid4().hex[:8],
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
