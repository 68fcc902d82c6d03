"""Crash recovery: a graph run in a child process is killed with SIGKILL mid-run, and a
new process resumes the thread. No committed write may be lost or applied twice.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from langgraph_alma import AlmaSaver, Settings
from langgraph_alma.db.connect import connection_kwargs

WORKER = Path(__file__).with_name("crash_worker.py")
LINEAR_NODES = [f"l{i}" for i in range(8)]


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen]]:
    """Starts workers; kills any still running when the test ends, pass or fail."""
    procs: list[subprocess.Popen] = []

    def start(args: list[str], *, block: bool) -> subprocess.Popen:
        env = dict(os.environ)  # carries ALMA_DATABASE_URL of the session's database
        env.pop("ALMA_CRASH_BLOCK", None)
        if block:
            env["ALMA_CRASH_BLOCK"] = "1"
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"worker exited before {what}: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _query(database, sql: str, params: tuple) -> list[tuple]:
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def _runs(workdir: Path) -> collections.Counter:
    lines = (workdir / "runs").read_text().split("\n")
    return collections.Counter(line.split()[0] for line in lines if line)


def _final_tokens(database, tenant: str, thread: str) -> list[str]:
    """The thread's latest state, read by a saver that never saw the thread."""
    with ConnectionPool(database.url, min_size=1, max_size=1, kwargs=connection_kwargs()) as p:
        saver = AlmaSaver(p, settings=Settings(cache_size=0))
        tup = saver.get_tuple({"configurable": {"thread_id": thread, "tenant_id": tenant}})
        assert tup is not None
        assert tup.pending_writes == []  # the run finished: nothing left to apply
        return tup.checkpoint["channel_values"]["tokens"]


def _resume(spawn: Callable[..., subprocess.Popen], args: list[str]) -> list[str]:
    proc = spawn([*args[:-1], "resume"], block=False)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out.strip().split(",")


@pytest.mark.parametrize("durability", ["sync", "async"])
def test_kill_during_parallel_step_then_resume(
    database, tenant, tmp_path, spawn, durability
) -> None:
    thread = f"crash-{uuid.uuid4().hex[:8]}"
    args = ["parallel", thread, tenant, durability, str(tmp_path), "start"]
    proc = spawn(args, block=True)

    # Kill once p3 hangs and the writes of the finished branches p1 and p2 are committed.
    def ready() -> bool:
        if not (tmp_path / "ready").exists():
            return False
        rows = _query(
            database,
            "SELECT DISTINCT w.node_id FROM alma_checkpoint_writes w JOIN alma_checkpoints c "
            "USING (tenant_id, thread_id, checkpoint_ns, checkpoint_id) "
            "WHERE w.tenant_id = %s AND w.thread_id = %s",
            (tenant, thread),
        )
        return {"p1", "p2"} <= {r[0] for r in rows}

    _wait_for(ready, proc, "p3 to block with p1 and p2 saved")
    _kill(proc)
    before = _runs(tmp_path)
    assert before == {"n0": 1, "n1": 1, "p1": 1, "p2": 1, "p3": 1}

    result = _resume(spawn, args)
    expected = ["tok-input", "tok-n0", "tok-n1", "tok-p1", "tok-p2", "tok-p3", "tok-join", "tok-n2"]
    for tokens in (result, _final_tokens(database, tenant, thread)):
        assert sorted(tokens) == sorted(expected)  # every token, each exactly once
        assert tokens[:3] == expected[:3] and tokens[-2:] == expected[-2:]
    # Only the branch that was cut off ran again; the saved writes of p1 and p2 were used.
    assert _runs(tmp_path) == {"n0": 1, "n1": 1, "p1": 1, "p2": 1, "p3": 2, "join": 1, "n2": 1}


def test_kill_after_some_checkpoints_then_resume(database, tenant, tmp_path, spawn) -> None:
    thread = f"crash-{uuid.uuid4().hex[:8]}"
    args = ["linear", thread, tenant, "sync", str(tmp_path), "start"]
    proc = spawn(args, block=True)  # l6 would hang: the kill always comes mid-run

    def some_checkpoints() -> bool:
        rows = _query(
            database,
            "SELECT count(*) FROM alma_checkpoints WHERE tenant_id = %s AND thread_id = %s",
            (tenant, thread),
        )
        return rows[0][0] >= 5

    _wait_for(some_checkpoints, proc, "five checkpoints")
    _kill(proc)
    committed = _final_tokens_partial(database, tenant, thread)
    assert committed[0] == "tok-input" and len(committed) >= 3

    result = _resume(spawn, args)
    expected = ["tok-input"] + [f"tok-{n}" for n in LINEAR_NODES]
    assert result == expected
    assert _final_tokens(database, tenant, thread) == expected
    runs = _runs(tmp_path)
    # Nodes whose step was checkpointed before the kill never ran again.
    for token in committed[1:]:
        assert runs[token.removeprefix("tok-")] == 1
    assert set(runs) == set(LINEAR_NODES) and max(runs.values()) <= 2


def _final_tokens_partial(database, tenant: str, thread: str) -> list[str]:
    with ConnectionPool(database.url, min_size=1, max_size=1, kwargs=connection_kwargs()) as p:
        saver = AlmaSaver(p, settings=Settings(cache_size=0))
        tup = saver.get_tuple({"configurable": {"thread_id": thread, "tenant_id": tenant}})
        assert tup is not None
        return tup.checkpoint["channel_values"]["tokens"]


@pytest.mark.parametrize("durability", ["sync", "async"])
def test_kill_between_supersteps_on_one_connection(
    database, tenant, tmp_path, spawn, durability
) -> None:
    """On one connection a step's writes and the next checkpoint go to PostgreSQL together
    (checkpoint._coalesce). Killed while l6 runs, the thread keeps every step before it:
    with durability "sync" LangGraph started l6 only once l5's checkpoint was saved."""
    thread = f"crash-{uuid.uuid4().hex[:8]}"
    args = ["linear", thread, tenant, durability, str(tmp_path), "start", "conn"]
    proc = spawn(args, block=True)
    _wait_for(lambda: (tmp_path / "ready").exists(), proc, "l6 to block")
    if durability == "async":  # l5's checkpoint is saved in the background: wait for it
        _wait_for(
            lambda: "tok-l5" in _final_tokens_partial(database, tenant, thread),
            proc,
            "l5's checkpoint",
        )
    _kill(proc)
    committed = _final_tokens_partial(database, tenant, thread)
    assert committed == ["tok-input"] + [f"tok-l{i}" for i in range(6)]

    proc = spawn([*args[:5], "resume", "conn"], block=False)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    expected = ["tok-input"] + [f"tok-{n}" for n in LINEAR_NODES]
    assert out.strip().split(",") == expected
    assert _final_tokens(database, tenant, thread) == expected
    runs = _runs(tmp_path)
    assert runs == {**{n: 1 for n in LINEAR_NODES}, "l6": 2}
