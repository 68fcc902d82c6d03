"""AlmaSaver vs LangGraph's PostgresSaver, side by side in one run on one server.

    python bench/saver_bench.py [--turns 200] [--only chat] [--out bench/results/saver.json]

Uses the embedded server (a data directory under .alma/bench-pgdata) unless
ALMA_BENCH_ADMIN_URL names a server whose superuser can create databases. Each section
runs each saver in a database of its own, so table sizes are the section's alone. Prints
one JSON object and a table of ratios (AlmaSaver / PostgresSaver; lower is better except
throughput). Not a test: numbers depend on the machine; ratios are what we track.

Sections: small (a 3-node graph of small channels; with one connection, CPU per invoke
too: this process's and the server process's, for a ratio less moved by load), putget
(direct put/get_tuple, and get_tuple of a 1000-message thread from a new process: the
cold get), chat (a 2-node chat for --turns turns, twice: prose-like and incompressible
text; invoke p50 of the last 20 turns, storage per relation, list of 100 checkpoints),
conc (8 conversations at once on one async saver and pool: turns/s, this process's
CPU per turn, which bounds them, and the pool's server processes' CPU per turn).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict
from urllib.parse import urlsplit, urlunsplit

import psycopg
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma import AlmaSaver, AsyncAlmaSaver
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.migrations import migrate

WORDS = (
    "agent plan tool call result error retry memory state graph node edge branch checkpoint "
    "thread user answer question search file test deploy review"
).split()


def text(seed: int, words: int = 40) -> str:
    """Deterministic message text of 23 words and numbers (the put/get and concurrency
    sections' corpus, unchanged so that their figures compare with earlier runs)."""
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(rng.randint(0, 999)) for _ in range(words))


# The chat section's two corpora, messages of about 350 characters as `text` makes:
# prose-like text (common English words, Zipf-weighted, in sentences: zlib takes a
# conversation to about 0.4 of its size) and noise (random base64 words: about 0.75).
PROSE_WORDS = (
    "the of and to a in is it you that he was for on are with as I his they be at one have "
    "this from or had by not word but what some we can out other were all there when up use "
    "your how said an each she which do their time if will way about many then them write "
    "would like so these her long make thing see him two has look more day could go come "
    "did number sound no most people my over know water than call first who may down side "
    "been now find any new work part take get place made live where after back little only "
    "round man year came show every good me give our under name very through just form "
    "sentence great think say help low line differ turn cause much mean before move right "
    "boy old too same tell does set three want air well also play small end put home read "
    "hand port large spell add even land here must big high such follow act why ask men "
    "change went light kind off need house picture try us again animal point mother world "
    "near build self earth father head stand own page should country found answer school"
).split()
_ZIPF = [1 / (rank + 1) for rank in range(len(PROSE_WORDS))]


def prose(seed: int, words: int = 80) -> str:
    """Deterministic prose-like message text (compressible, as conversation is)."""
    rng = random.Random(seed)
    out, sentence = [], 0
    for word in rng.choices(PROSE_WORDS, weights=_ZIPF, k=words):
        out.append(word.capitalize() if sentence == 0 else word)
        sentence += 1
        if sentence > 6 and rng.random() < 0.15:
            out[-1] += rng.choice(".?!")
            sentence = 0
    return " ".join(out) + "."


def noise(seed: int, words: int = 50) -> str:
    """Deterministic incompressible message text: random base64 words of 3-9 characters."""
    rng = random.Random(seed)
    raw = base64.b64encode(rng.randbytes(words * 5)).decode()
    out, at = [], 0
    while len(out) < words:
        size = rng.randint(3, 9)
        out.append(raw[at : at + size])
        at += size
    return " ".join(out)


CORPORA: dict[str, Callable[[int], str]] = {"prose": prose, "noise": noise}

OURS_TABLES = ("alma_checkpoints", "alma_checkpoint_blobs", "alma_checkpoint_writes")
THEIRS_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")


# -- servers and databases ---------------------------------------------------------
def _admin_url() -> tuple[str, str]:
    """(admin_url, app_url) of the server to use."""
    if url := os.environ.get("ALMA_BENCH_ADMIN_URL"):
        return url, url
    from langgraph_alma.db.embedded import start_embedded

    server = start_embedded(Path(".alma/bench-pgdata"))
    return server.admin_url, server.app_url


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


class Databases:
    """Creates a fresh database pair per section; drops them at the end."""

    def __init__(self) -> None:
        self.admin, self.app = _admin_url()
        self.created: list[str] = []

    def pair(self, section: str) -> tuple[str, str]:
        """(url for AlmaSaver as the app role, url for PostgresSaver)."""
        ours, theirs = (f"bench_{section}_{kind}_{uuid.uuid4().hex[:6]}" for kind in "ot")
        with psycopg.connect(self.admin, autocommit=True) as conn:
            for name in (ours, theirs):
                conn.execute(f'CREATE DATABASE "{name}"')
                self.created.append(name)
        with psycopg.connect(_with_db(self.admin, ours), autocommit=True) as conn:
            migrate(conn)
        with PostgresSaver.from_conn_string(_with_db(self.admin, theirs)) as saver:
            saver.setup()
        return _with_db(self.app, ours), _with_db(self.admin, theirs)

    def drop_all(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def ours_saver(url: str, **kwargs: Any) -> Iterator[AlmaSaver]:
    with ConnectionPool(url, min_size=1, max_size=4, kwargs=connection_kwargs()) as pool:
        yield AlmaSaver(pool, **kwargs)


@contextmanager
def theirs_saver(url: str) -> Iterator[PostgresSaver]:
    with PostgresSaver.from_conn_string(url) as saver:
        yield saver


def _relation_bytes(url: str, tables: tuple[str, ...]) -> dict[str, int]:
    """Size of each table's heap, TOAST (with the free space and visibility maps) and
    indexes (after `_table_bytes`' VACUUM)."""
    with psycopg.connect(url, autocommit=True) as conn:
        out: dict[str, int] = {}
        for t in tables:
            heap, toast, indexes = conn.execute(
                "SELECT pg_relation_size(%s), pg_total_relation_size(%s) - pg_relation_size(%s)"
                " - pg_indexes_size(%s), pg_indexes_size(%s)",
                (t, t, t, t, t),
            ).fetchone()
            out.update({t: heap, f"{t} (toast, maps)": toast, f"{t} (indexes)": indexes})
        return out


def _table_bytes(url: str, tables: tuple[str, ...]) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM")  # counts what is stored, not dead tuples awaiting cleanup
        return sum(
            conn.execute("SELECT pg_total_relation_size(%s)", (t,)).fetchone()[0] for t in tables
        )


# -- measurements ------------------------------------------------------------------
def _timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _p50(xs: list[float]) -> float:
    return statistics.median(xs)


def _message(i: int) -> AnyMessage:
    cls = HumanMessage if i % 2 == 0 else AIMessage
    return cls(content=text(i), id=f"m{i}")


def bench_put_get(dbs: Databases, sizes: list[int], repeat: int) -> dict[str, Any]:
    """put + put_writes of one step that appends a message to a thread of N messages, and
    get_tuple of that thread's latest checkpoint (warm: the saver that wrote it; cold:
    `bench_cold_get`, for the largest N)."""
    ours_url, theirs_url = dbs.pair("putget")
    result: dict[str, Any] = {}
    with ours_saver(ours_url) as ours, theirs_saver(theirs_url) as theirs:
        for n in sizes:
            row: dict[str, Any] = {}
            for name, saver in (("alma", ours), ("postgres", theirs)):
                thread = f"{name}-{n}"
                msgs = [_message(i) for i in range(n)]
                state = {"cfg": {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}}
                version: Any = None

                def step(msgs=msgs, state=state, saver=saver, thread=thread) -> None:
                    nonlocal version
                    msgs.append(_message(len(msgs)))
                    version = saver.get_next_version(version, None)
                    cp = empty_checkpoint()
                    cp["channel_values"] = {"messages": list(msgs), "turn": len(msgs)}
                    cp["channel_versions"] = {"messages": version, "turn": version}
                    cfg = saver.put(
                        state["cfg"],
                        cp,
                        {"source": "loop", "step": len(msgs)},
                        {"messages": version, "turn": version},
                    )
                    saver.put_writes(cfg, [("messages", [msgs[-1]])], str(uuid.uuid4()))
                    state["cfg"] = cfg

                step()  # the first step stores the thread whole
                row[f"{name}_put_ms"] = _p50(_timed(step, repeat))
                cfg = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
                row[f"{name}_get_ms"] = _p50(_timed(lambda s=saver, c=cfg: s.get_tuple(c), repeat))
            result[str(n)] = row
    result["cold"] = bench_cold_get(ours_url, theirs_url, sizes[-1], repeat)
    return result


def bench_cold_get(ours_url: str, theirs_url: str, n: int, repeat: int) -> dict[str, Any]:
    """`get_tuple` of the `n`-message threads `bench_put_get` wrote, from a new process:
    each round opens a new connection and a new saver (nothing remembered) for each
    saver in turn, and times its first `get_tuple`, and that plus opening the saver."""
    child = [sys.executable, __file__, "--cold-child", ours_url, theirs_url, str(n), str(repeat)]
    done = subprocess.run(child, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"the cold-get process failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cold_child(ours_url: str, theirs_url: str, n: int, repeat: int) -> None:
    opened: dict[str, list[float]] = {"alma": [], "postgres": []}
    got: dict[str, list[float]] = {"alma": [], "postgres": []}
    for i in range(repeat):
        for name in ("alma", "postgres") if i % 2 else ("postgres", "alma"):
            cfg = {"configurable": {"thread_id": f"{name}-{n}", "checkpoint_ns": ""}}
            start = time.perf_counter()
            if name == "alma":
                conn = psycopg.connect(ours_url, **connection_kwargs())
                saver: Any = AlmaSaver(conn)
            else:
                conn = psycopg.connect(theirs_url, **THEIRS_KWARGS)
                saver = PostgresSaver(conn)
            ready = time.perf_counter()
            found = saver.get_tuple(cfg)
            end = time.perf_counter()
            conn.close()
            assert found is not None and len(found.checkpoint["channel_values"]["messages"]) > n
            opened[name].append((end - start) * 1000)
            got[name].append((end - ready) * 1000)
    out = {f"{name}_cold_get_ms": _p50(got[name]) for name in got}
    out.update({f"{name}_cold_open_get_ms": _p50(opened[name]) for name in opened})
    out["first_round"] = {name: got[name][0] for name in got}
    print(json.dumps(out))


class ChatState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    turns: int


def chat_graph() -> StateGraph:
    def listen(state: ChatState) -> dict[str, Any]:
        return {"turns": state.get("turns", 0) + 1}

    def respond(state: ChatState) -> dict[str, Any]:
        last = state["messages"][-1].content
        return {"messages": [AIMessage(content=f"echo {len(state['messages'])}: {last}")]}

    builder = StateGraph(ChatState)
    builder.add_node("listen", listen)
    builder.add_node("respond", respond)
    builder.add_edge(START, "listen")
    builder.add_edge("listen", "respond")
    builder.add_edge("respond", END)
    return builder


def bench_chat(
    dbs: Databases, turns: int, corpus: str = "prose", history: bool = True
) -> dict[str, Any]:
    """A 2-node chat graph for `turns` turns of `corpus` text: invoke latency, storage,
    and (with `history`) list(). The two savers' turns are interleaved (alternating who
    goes first), so both see the same machine load."""
    say = CORPORA[corpus]
    ours_url, theirs_url = dbs.pair(f"chat_{corpus}")
    result: dict[str, Any] = {"corpus": corpus}
    with ours_saver(ours_url) as ours, theirs_saver(theirs_url) as theirs:
        sides = {
            "alma": (ours, ours_url, OURS_TABLES),
            "postgres": (theirs, theirs_url, THEIRS_TABLES),
        }
        graphs = {name: chat_graph().compile(checkpointer=side[0]) for name, side in sides.items()}
        times: dict[str, list[float]] = {name: [] for name in sides}
        for i in range(turns):
            for name in ("alma", "postgres") if i % 2 else ("postgres", "alma"):
                cfg = {"configurable": {"thread_id": f"chat-{name}"}}
                start = time.perf_counter()
                graphs[name].invoke({"messages": [HumanMessage(content=say(i))]}, cfg)
                times[name].append((time.perf_counter() - start) * 1000)
        for name, (saver, url, tables) in sides.items():
            cfg = {"configurable": {"thread_id": f"chat-{name}"}}
            final = graphs[name].get_state(cfg).values
            state_bytes = sum(len(saver.serde.dumps_typed(v)[1]) for v in final.values())
            result[f"{name}_invoke_p50_ms"] = _p50(times[name])
            result[f"{name}_invoke_last20_p50_ms"] = _p50(times[name][-20:])
            admin_url = url if name == "postgres" else _with_db(dbs.admin, urlsplit(url).path[1:])
            result[f"{name}_table_bytes"] = _table_bytes(admin_url, tables)
            result[f"{name}_relations"] = _relation_bytes(admin_url, tables)
            result[f"{name}_bytes_per_state_byte"] = result[f"{name}_table_bytes"] / state_bytes
            result["final_state_bytes"] = state_bytes
            if history:  # list() of a 100-checkpoint thread: the first 100 of a chat.
                hist_cfg = {"configurable": {"thread_id": f"hist-{name}"}}
                while len(list(saver.list(hist_cfg))) < 100:
                    graphs[name].invoke({"messages": [HumanMessage(content=say(-1))]}, hist_cfg)
        if history:
            lists: dict[str, list[float]] = {name: [] for name in sides}
            for i in range(10):
                for name in ("alma", "postgres") if i % 2 else ("postgres", "alma"):
                    saver = sides[name][0]
                    hist_cfg = {"configurable": {"thread_id": f"hist-{name}"}}
                    lists[name] += _timed(lambda s=saver, c=hist_cfg: list(s.list(c, limit=100)), 1)
            for name in sides:
                result[f"{name}_list100_ms"] = _p50(lists[name])
    return result


async def bench_concurrency(dbs: Databases, threads: int, turns: int) -> dict[str, Any]:
    """`threads` conversations at once through one shared async saver on one pool."""
    ours_url, theirs_url = dbs.pair("conc")
    result: dict[str, Any] = {}
    for name, url in (("alma", ours_url), ("postgres", theirs_url)):
        kwargs = (
            connection_kwargs()
            if name == "alma"
            else {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
        )
        async with AsyncConnectionPool(
            url, min_size=threads, max_size=threads, kwargs=kwargs, open=False
        ) as pool:
            saver = AsyncAlmaSaver(pool) if name == "alma" else AsyncPostgresSaver(pool)
            graph = chat_graph().compile(checkpointer=saver)

            async def converse(i: int, graph=graph, name=name) -> None:
                cfg = {"configurable": {"thread_id": f"{name}-conc-{i}"}}
                for t in range(turns):
                    await graph.ainvoke({"messages": [HumanMessage(content=text(t))]}, cfg)

            await pool.wait()
            backends = await asyncio.to_thread(_database_backends, url)
            server = _backends_cpu(backends)
            start, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(converse(i) for i in range(threads)))
            result[f"{name}_turns_per_s"] = threads * turns / (time.perf_counter() - start)
            result[f"{name}_client_cpu_ms_per_turn"] = _per_turn(cpu, threads * turns)
            if server is not None and (now := _backends_cpu(backends)) is not None:
                # The pool's server processes (on this machine): the client waits for them.
                result[f"{name}_server_cpu_ms_per_turn"] = (now - server) * 1000 / (threads * turns)
    # The ceiling: the same conversations on LangGraph's in-memory saver (no database).
    from langgraph.checkpoint.memory import InMemorySaver

    graph = chat_graph().compile(checkpointer=InMemorySaver())

    async def converse_in_memory(i: int) -> None:
        cfg = {"configurable": {"thread_id": f"mem-conc-{i}"}}
        for t in range(turns):
            await graph.ainvoke({"messages": [HumanMessage(content=text(t))]}, cfg)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(converse_in_memory(i) for i in range(threads)))
    result["in_memory_turns_per_s"] = threads * turns / (time.perf_counter() - start)
    result["in_memory_client_cpu_ms_per_turn"] = _per_turn(cpu, threads * turns)
    return result


def _per_turn(cpu_start: float, turns: int) -> float:
    """This process's CPU per turn since `cpu_start` (ms): the conversations are bound by
    the client's CPU (one core, the GIL), so this ratio moves less with load than turns/s."""
    return (time.process_time() - cpu_start) * 1000 / turns


class SmallState(TypedDict):
    n: int
    s: str
    items: list[str]


def small_graph() -> StateGraph:
    """Three nodes, three small channels: an int, a short string, a one-item list."""
    builder = StateGraph(SmallState)
    builder.add_node("a", lambda st: {"n": st["n"] + 1})
    builder.add_node("b", lambda st: {"s": st["s"][:10] + "b"})
    builder.add_node("c", lambda st: {"items": [f"i{st['n']}"]})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    builder.add_edge("c", END)
    return builder


THEIRS_KWARGS = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}


@contextmanager
def _sync_pair(ours_url: str, theirs_url: str, pooled: bool) -> Iterator[tuple[Any, Any]]:
    if pooled:
        with (
            ConnectionPool(ours_url, min_size=4, max_size=4, kwargs=connection_kwargs()) as op,
            ConnectionPool(theirs_url, min_size=4, max_size=4, kwargs=THEIRS_KWARGS) as tp,
        ):
            yield AlmaSaver(op), PostgresSaver(tp)
    else:
        with (
            psycopg.connect(ours_url, **connection_kwargs()) as oc,
            psycopg.connect(theirs_url, **THEIRS_KWARGS) as tc,
        ):
            yield AlmaSaver(oc), PostgresSaver(tc)


def _pid_cpu(pid: int) -> float | None:
    """CPU seconds process `pid` has used (None: not on this machine)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backend_cpu(conn: Any) -> float | None:
    """CPU seconds the server process of `conn` has used (None: not on this machine)."""
    return _pid_cpu(conn.info.backend_pid)


def _database_backends(url: str) -> list[int]:
    """The server processes connected to `url`'s database (but the one asking)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [r[0] for r in rows]


def _backends_cpu(pids: list[int]) -> float | None:
    """CPU seconds `pids` have used (None: none on this machine)."""
    spent = [c for c in map(_pid_cpu, pids) if c is not None]
    return sum(spent) if spent else None


class _Cpu:
    """CPU per invoke of each saver, this process's and its connection's server process
    (one connection only): less moved by the machine's load than latency."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {"alma": 0.0, "postgres": 0.0}
        self.count: dict[str, int] = {"alma": 0, "postgres": 0}

    def start(self, conn: Any) -> tuple[float, float | None]:
        return time.process_time(), _backend_cpu(conn) if conn is not None else None

    def stop(self, name: str, conn: Any, started: tuple[float, float | None]) -> None:
        client, server = started
        spent = time.process_time() - client
        if server is not None and (now := _backend_cpu(conn)) is not None:
            spent += now - server
        self.ms[name] += spent * 1000
        self.count[name] += 1

    def report(self, mode: str, result: dict[str, Any]) -> None:
        for name, total in self.ms.items():
            result[f"{mode}_{name}_cpu_ms"] = total / max(self.count[name], 1)


def bench_small(
    dbs: Databases, invokes: int, threads: int, durability: str = "async"
) -> dict[str, Any]:
    """The small graph, `invokes` invokes over `threads` threads per saver, the two savers'
    turns interleaved (alternating who goes first), sync and async, one connection and
    a pool of 4: p50 latency of each; with one connection, CPU per invoke too (this
    process's and the server process's, `_Cpu`). `durability`: the runs' (LangGraph's
    default is "async")."""
    ours_url, theirs_url = dbs.pair("small")
    result: dict[str, Any] = {}

    def inputs(i: int) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"n": i, "s": "hello", "items": ["x"]}, {
            "configurable": {"thread_id": f"small-{i % threads}"}
        }

    for pooled in (False, True):
        mode = f"sync_{'pool' if pooled else 'conn'}"
        with _sync_pair(ours_url, theirs_url, pooled) as (ours, theirs):
            graphs = {"alma": small_graph().compile(checkpointer=ours)}
            graphs["postgres"] = small_graph().compile(checkpointer=theirs)
            conns = {"alma": ours.conn, "postgres": theirs.conn} if not pooled else {}
            times: dict[str, list[float]] = {"alma": [], "postgres": []}
            cpu = _Cpu()
            for i in range(-20, invokes):  # the first 20: warm-up
                order = ("alma", "postgres") if i % 2 else ("postgres", "alma")
                for name in order:
                    inp, cfg = inputs(i)
                    cfg["configurable"]["thread_id"] += f"-{mode}"
                    started = cpu.start(conns.get(name))
                    start = time.perf_counter()
                    graphs[name].invoke(inp, cfg, durability=durability)
                    if i >= 0:
                        times[name].append((time.perf_counter() - start) * 1000)
                        if conns:
                            cpu.stop(name, conns[name], started)
            for name in times:
                result[f"{mode}_{name}_p50_ms"] = _p50(times[name])
            if conns:
                cpu.report(mode, result)

    async def run_async(pooled: bool) -> None:
        mode = f"async_{'pool' if pooled else 'conn'}"
        if pooled:
            op = AsyncConnectionPool(
                ours_url, min_size=4, max_size=4, kwargs=connection_kwargs(), open=False
            )
            tp = AsyncConnectionPool(
                theirs_url, min_size=4, max_size=4, kwargs=THEIRS_KWARGS, open=False
            )
            await op.open()
            await tp.open()
            ours, theirs, closers = AsyncAlmaSaver(op), AsyncPostgresSaver(tp), [op, tp]
        else:
            oc = await psycopg.AsyncConnection.connect(ours_url, **connection_kwargs())
            tc = await psycopg.AsyncConnection.connect(theirs_url, **THEIRS_KWARGS)
            ours, theirs, closers = AsyncAlmaSaver(oc), AsyncPostgresSaver(tc), [oc, tc]
        try:
            graphs = {"alma": small_graph().compile(checkpointer=ours)}
            graphs["postgres"] = small_graph().compile(checkpointer=theirs)
            conns = {"alma": ours.conn, "postgres": theirs.conn} if not pooled else {}
            times: dict[str, list[float]] = {"alma": [], "postgres": []}
            cpu = _Cpu()
            for i in range(-20, invokes):
                order = ("alma", "postgres") if i % 2 else ("postgres", "alma")
                for name in order:
                    inp, cfg = inputs(i)
                    cfg["configurable"]["thread_id"] += f"-{mode}"
                    started = cpu.start(conns.get(name))
                    start = time.perf_counter()
                    await graphs[name].ainvoke(inp, cfg, durability=durability)
                    if i >= 0:
                        times[name].append((time.perf_counter() - start) * 1000)
                        if conns:
                            cpu.stop(name, conns[name], started)
            for name in times:
                result[f"{mode}_{name}_p50_ms"] = _p50(times[name])
            if conns:
                cpu.report(mode, result)
        finally:
            for closer in closers:
                await closer.close()

    asyncio.run(run_async(False))
    asyncio.run(run_async(True))
    return result


SECTIONS = ("small", "putget", "chat", "conc")


def _ratios(r: dict[str, Any]) -> dict[str, float]:
    """AlmaSaver / PostgresSaver for each metric whose section ran."""
    out: dict[str, float] = {}
    if small := r.get("small_graph"):
        for mode in ("sync_conn", "sync_pool", "async_conn", "async_pool"):
            out[f"small_graph_{mode}"] = (
                small[f"{mode}_alma_p50_ms"] / small[f"{mode}_postgres_p50_ms"]
            )
        for mode in ("sync_conn", "async_conn"):
            if f"{mode}_alma_cpu_ms" in small:
                out[f"small_graph_{mode}_cpu"] = (
                    small[f"{mode}_alma_cpu_ms"] / small[f"{mode}_postgres_cpu_ms"]
                )
    out.update(_saver_ratios(r))
    return out


def _saver_ratios(r: dict[str, Any]) -> dict[str, float]:
    """The put/get, chat (both corpora) and concurrency sections' ratios."""
    out: dict[str, float] = {}
    if putget := r.get("put_get"):
        out["put_put_writes_10"] = putget["10"]["alma_put_ms"] / putget["10"]["postgres_put_ms"]
        out["get_tuple_1000_warm"] = (
            putget["1000"]["alma_get_ms"] / putget["1000"]["postgres_get_ms"]
        )
        cold = putget["cold"]
        out["get_tuple_1000_cold"] = cold["alma_cold_get_ms"] / cold["postgres_cold_get_ms"]
    for corpus in CORPORA:
        if chat := r.get(f"chat_{corpus}"):
            out[f"invoke_turn200_{corpus}"] = (
                chat["alma_invoke_last20_p50_ms"] / chat["postgres_invoke_last20_p50_ms"]
            )
            out[f"storage_{corpus}"] = (
                chat["alma_bytes_per_state_byte"] / chat["postgres_bytes_per_state_byte"]
            )
            if "alma_list100_ms" in chat:
                out["list_100"] = chat["alma_list100_ms"] / chat["postgres_list100_ms"]
    if conc := r.get("concurrency"):
        out["throughput_8_threads"] = conc["alma_turns_per_s"] / conc["postgres_turns_per_s"]
    return out


def _print_saver_tables(report: dict[str, Any]) -> None:
    """The put/get, cold get and storage tables, in ms and bytes."""
    if putget := report.get("put_get"):
        print(
            f"\n{'N msgs':<8}{'alma put':>10}{'pg put':>10}{'alma get':>10}{'pg get':>10}"
            "  (ms, p50)"
        )
        for n, row in putget.items():
            if n != "cold":
                print(
                    f"{n:<8}{row['alma_put_ms']:>10.2f}{row['postgres_put_ms']:>10.2f}"
                    f"{row['alma_get_ms']:>10.2f}{row['postgres_get_ms']:>10.2f}"
                )
        cold = putget["cold"]
        print(
            "cold get_tuple, 1000 messages, new process (ms, p50): "
            f"alma {cold['alma_cold_get_ms']:.2f}, postgres {cold['postgres_cold_get_ms']:.2f}; "
            f"with opening the saver: alma {cold['alma_cold_open_get_ms']:.2f}, "
            f"postgres {cold['postgres_cold_open_get_ms']:.2f}"
        )
    for corpus in CORPORA:
        if chat := report.get(f"chat_{corpus}"):
            print(
                f"\nstorage after the chat, {corpus} corpus "
                f"(state {chat['final_state_bytes']} bytes):"
            )
            for name in ("alma", "postgres"):
                parts = ", ".join(
                    f"{k} {v / 1024:.0f}K" for k, v in chat[f"{name}_relations"].items()
                )
                print(f"  {name}: {chat[f'{name}_table_bytes'] / 1024:.0f}K = {parts}")


TARGETS = {
    **{
        f"small_graph_{m}": ("<=", 0.8)
        for m in ("sync_conn", "sync_pool", "async_conn", "async_pool")
    },
    **{f"small_graph_{m}_cpu": ("<=", 0.8) for m in ("sync_conn", "async_conn")},
    "put_put_writes_10": ("<=", 1.0),
    "invoke_turn200_prose": ("<=", 0.5),
    "invoke_turn200_noise": ("<=", 0.5),
    "storage_prose": ("<=", 0.1),
    "storage_noise": ("<=", 0.1),
    "get_tuple_1000_warm": ("<=", 0.3),
    "get_tuple_1000_cold": ("<=", 0.7),
    "list_100": ("<=", 0.3),
    "throughput_8_threads": (">=", 2.0),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--conc-turns", type=int, default=25)
    parser.add_argument("--small-invokes", type=int, default=300)
    parser.add_argument(
        "--durability",
        choices=("async", "sync", "exit"),
        default="async",
        help="durability of the small graph's runs (LangGraph's default: async)",
    )
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sections = set(args.only or SECTIONS)
    dbs = Databases()
    report: dict[str, Any] = {"command": " ".join(["python", *sys.argv])}
    try:
        if "small" in sections:
            report["small_graph"] = bench_small(dbs, args.small_invokes, 30, args.durability)
        if "putget" in sections:
            report["put_get"] = bench_put_get(dbs, [10, 100, 1000], args.repeat)
        if "chat" in sections:
            report["chat_prose"] = bench_chat(dbs, args.turns, "prose")
            report["chat_noise"] = bench_chat(dbs, args.turns, "noise", history=False)
        if "conc" in sections:
            report["concurrency"] = asyncio.run(bench_concurrency(dbs, 8, args.conc_turns))
    finally:
        dbs.drop_all()
    report["ratios"] = ratios = _ratios(report)
    print(json.dumps(report, indent=2))
    print(f"\n{'metric':<26}{'ratio':>8}  target   met")
    for key, value in ratios.items():
        op, goal = TARGETS[key]
        met = value <= goal if op == "<=" else value >= goal
        print(f"{key:<26}{value:>8.3f}  {op} {goal:<5} {'yes' if met else 'NO'}")
    _print_saver_tables(report)
    if conc := report.get("concurrency"):
        print(
            "\n8 conversations, client CPU per turn (ms): "
            + ", ".join(
                f"{name} {conc[f'{name}_client_cpu_ms_per_turn']:.2f}"
                for name in ("alma", "postgres", "in_memory")
            )
        )
        if "alma_server_cpu_ms_per_turn" in conc:
            print(
                "8 conversations, server CPU per turn (ms): "
                f"alma {conc['alma_server_cpu_ms_per_turn']:.2f}, "
                f"postgres {conc.get('postgres_server_cpu_ms_per_turn', float('nan')):.2f}; "
                "turns/s: "
                f"alma {conc['alma_turns_per_s']:.0f}, postgres {conc['postgres_turns_per_s']:.0f}"
            )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--cold-child"]:  # bench_cold_get's new process
        _cold_child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        sys.exit(0)
    sys.exit(main())
