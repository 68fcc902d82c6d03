"""The embedded server under real processes: many starting and stopping at once (on a new
and on an existing data directory), holders killed with SIGKILL, and a stale postmaster
left behind by a crash. No failure is tolerated and no server is left running."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from langgraph_alma.db import embedded
from langgraph_alma.db.embedded import HOLDERS_FILE, start_embedded
from tests.db import embedded_worker

WORKERS = 8
ROUNDS = 20


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    """The postgres processes serving `data_dir` (the postmaster names it in -D)."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "postgres" in (proc.info["name"] or "") and str(data_dir) in cmdline:
            found.append(proc)
    return found


def holders(data_dir: Path) -> list[object]:
    path = data_dir / HOLDERS_FILE
    return json.loads(path.read_text()) if path.exists() else []


def wait_stopped(data_dir: Path, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while postgres_processes(data_dir):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="alma-lifecycle-"))
    yield path
    for data_dir in path.iterdir():  # a failed test may leave servers: stop them
        for proc in postgres_processes(data_dir):
            proc.kill()
    shutil.rmtree(path, ignore_errors=True)


def _run_rounds(data_dirs: list[Path]) -> tuple[list[str], list[str]]:
    """WORKERS processes go through `data_dirs` in lockstep; after each round the server of
    that round must be stopped with no holder left. Returns (worker failures, leftovers)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS + 1, timeout=120)
    failures = ctx.Queue()
    workers = [
        ctx.Process(
            target=embedded_worker.rounds, args=([str(d) for d in data_dirs], barrier, failures)
        )
        for _ in range(WORKERS)
    ]
    for w in workers:
        w.start()
    leftovers = []
    try:
        for data_dir in data_dirs:
            barrier.wait()  # the round starts
            barrier.wait()  # every worker has started and stopped
            if not wait_stopped(data_dir, timeout=10):
                leftovers.append(f"{data_dir}: postgres still running")
            if holders(data_dir):
                leftovers.append(f"{data_dir}: holders {holders(data_dir)}")
            if len(set(data_dirs)) > 1 and not leftovers:  # spare the disk
                shutil.rmtree(data_dir)
        errors = []  # read before joining: a worker exits once its queue is flushed
        done = 0
        while done < WORKERS:
            message = failures.get(timeout=120)
            if message is None:
                done += 1
            else:
                errors.append(message)
    finally:
        for w in workers:
            w.join(timeout=30)
            if w.is_alive():
                w.kill()
    return errors, leftovers


def test_processes_starting_and_stopping_at_once_on_new_data_dirs(root: Path) -> None:
    errors, leftovers = _run_rounds([root / f"pgdata{i}" for i in range(ROUNDS)])
    assert errors == [] and leftovers == []


def test_processes_starting_and_stopping_at_once_on_an_existing_data_dir(root: Path) -> None:
    data_dir = root / "pgdata"
    start_embedded(data_dir).stop()  # initialised, not running
    errors, leftovers = _run_rounds([data_dir] * ROUNDS)
    assert errors == [] and leftovers == []


def _holder(data_dir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.db.embedded_worker", str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_server_stops_when_the_last_live_holder_goes_after_others_were_killed(
    root: Path,
) -> None:
    data_dir = root / "pgdata"
    procs = [_holder(data_dir) for _ in range(3)]
    assert postgres_processes(data_dir) and len(holders(data_dir)) == 3
    for proc in procs[:2]:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert postgres_processes(data_dir)  # the third still holds it
    last = procs[2]
    assert last.stdin is not None
    last.stdin.close()
    assert last.wait(timeout=60) == 0
    assert wait_stopped(data_dir), "the last live holder left the server running"
    assert holders(data_dir) == []


def test_a_holder_whose_pid_was_reused_does_not_keep_the_server(root: Path) -> None:
    # A holder that died, its pid now taken by an unrelated process: the pid is alive but
    # started at another time, so it holds nothing.
    data_dir = root / "pgdata"
    proc = _holder(data_dir)
    unrelated = subprocess.Popen(["sleep", "60"])
    try:
        entries = holders(data_dir)
        entries.append({"pid": unrelated.pid, "started": 12345})
        (data_dir / HOLDERS_FILE).write_text(json.dumps(entries))
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
        assert wait_stopped(data_dir)
    finally:
        unrelated.kill()
        unrelated.wait()


def test_a_stale_postmaster_pid_is_recovered_from(root: Path) -> None:
    # Everything was killed, and the postmaster's pid now belongs to another process: the
    # pid file says "running", nothing listens. A start recovers instead of failing.
    data_dir = root / "pgdata"
    holder = _holder(data_dir)
    (postmaster,) = postgres_processes(data_dir)  # only it names the directory
    pid_file = data_dir / "postmaster.pid"
    postmaster.kill()
    holder.kill()
    holder.wait()
    assert wait_stopped(data_dir)
    impostor = subprocess.Popen(["sleep", "60"])
    try:
        for lock_file in (pid_file, data_dir / ".s.PGSQL.5432.lock"):  # both name the pid
            lines = lock_file.read_text().splitlines()
            lock_file.write_text("\n".join([str(impostor.pid), *lines[1:]]) + "\n")
        server = start_embedded(data_dir)
        with psycopg.connect(server.app_url, connect_timeout=10) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        server.stop()
        assert wait_stopped(data_dir) and impostor.poll() is None  # the impostor untouched
    finally:
        impostor.kill()
        impostor.wait()


def test_a_server_process_that_does_not_answer_is_a_clear_error(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A live postgres on the data dir that accepts no connection (here: stopped with
    # SIGSTOP) cannot be recovered from automatically; the error says what to do.
    from langgraph_alma.errors import EmbeddedServerError

    data_dir = root / "pgdata"
    holder = _holder(data_dir)
    monkeypatch.setattr(embedded, "CONNECT_TIMEOUT", 2)
    procs = postgres_processes(data_dir)
    for p in procs:
        p.suspend()
    try:
        with pytest.raises(EmbeddedServerError, match="does not accept connections"):
            start_embedded(data_dir)
    finally:
        for p in procs:
            p.resume()
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)
