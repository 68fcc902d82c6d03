"""A graph run in a child process by `test_crash.py`, which kills it with SIGKILL mid-run.

    python crash_worker.py SHAPE THREAD TENANT DURABILITY WORKDIR (start|resume) [conn]

Every node appends one unique token to `tokens` (an `operator.add` channel) and logs
each execution to WORKDIR/runs. With ALMA_CRASH_BLOCK=1 the node `p3` of the parallel
shape (`l6` of the linear one) writes WORKDIR/ready and then hangs until killed. The
database comes from ALMA_DATABASE_URL (set by the test session). With `conn`, the saver
runs on one connection instead of a pool (its writes then queue and go together).
"""

from __future__ import annotations

import contextlib
import operator
import os
import sys
import time
from pathlib import Path
from typing import Annotated, TypedDict

import psycopg
from langgraph.graph import END, START, StateGraph

from langgraph_alma import AlmaSaver
from langgraph_alma.db.connect import connection_kwargs, resolve

LINEAR_NODES = [f"l{i}" for i in range(8)]


class State(TypedDict):
    tokens: Annotated[list[str], operator.add]


def _log(workdir: Path, name: str) -> None:
    with open(workdir / "runs", "a") as f:
        f.write(f"{name} {os.getpid()}\n")
        f.flush()
        os.fsync(f.fileno())


def build(shape: str, workdir: Path) -> StateGraph:
    def node(name: str, delay: float = 0.0):
        def run(state: State) -> dict:
            _log(workdir, name)
            if name in ("p3", "l6") and os.environ.get("ALMA_CRASH_BLOCK") == "1":
                (workdir / "ready").write_text(str(os.getpid()))
                time.sleep(600)
            if delay:
                time.sleep(delay)
            return {"tokens": [f"tok-{name}"]}

        return run

    b = StateGraph(State)
    if shape == "parallel":
        for name in ("n0", "n1", "p1", "p2", "p3", "join", "n2"):
            b.add_node(name, node(name))
        b.add_edge(START, "n0")
        b.add_edge("n0", "n1")
        for p in ("p1", "p2", "p3"):
            b.add_edge("n1", p)
        b.add_edge(["p1", "p2", "p3"], "join")
        b.add_edge("join", "n2")
        b.add_edge("n2", END)
    else:
        prev = START
        for name in LINEAR_NODES:
            b.add_node(name, node(name, delay=0.05))
            b.add_edge(prev, name)
            prev = name
        b.add_edge(prev, END)
    return b


def main(argv: list[str]) -> None:
    shape, thread, tenant, durability, workdir, mode = argv[:6]
    config = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    with contextlib.ExitStack() as stack:
        if argv[6:] == ["conn"]:
            conn = stack.enter_context(psycopg.connect(resolve().url, **connection_kwargs()))
            saver = AlmaSaver(conn)
        else:
            saver = stack.enter_context(AlmaSaver.from_conn_string())
        graph = build(shape, Path(workdir)).compile(checkpointer=saver)
        inputs = {"tokens": ["tok-input"]} if mode == "start" else None
        result = graph.invoke(inputs, config, durability=durability)
    print(",".join(result["tokens"]))


if __name__ == "__main__":
    main(sys.argv[1:])
