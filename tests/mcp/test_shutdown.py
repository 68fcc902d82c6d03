"""`alma mcp` (stdio and HTTP) on the embedded server, stopped by SIGTERM, SIGINT or
SIGHUP: the command unwinds, the last holder leaves, and no `postgres` is left running.
And a running server reports anti-patterns as log lines, not warnings."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from langgraph_alma.db.embedded import HOLDERS_FILE
from tests.mcp.servers import INITIALIZE, free_port, server_env, wait_listening


def postgres_of(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        if "postgres" in (proc.info["name"] or "") and str(data_dir) in (
            proc.info["cmdline"] or []
        ):
            found.append(proc)
    return found


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="alma-mcp-shutdown-"))
    yield root / "pgdata"
    for proc in postgres_of(root / "pgdata"):
        proc.kill()
    shutil.rmtree(root, ignore_errors=True)


def _start(data_dir: Path, http: bool) -> tuple[subprocess.Popen[bytes], int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMA_")}
    env.update(ALMA_DATA_DIR=str(data_dir), ALMA_CONFIG=os.devnull, PYTHONUNBUFFERED="1")
    port = free_port()
    args = ["mcp", *(["--http", "--port", str(port)] if http else [])]
    proc = subprocess.Popen(
        [sys.executable, "-m", "langgraph_alma", *args],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd="/",
    )
    if http:
        wait_listening(proc, port)
    else:  # answered `initialize`: serving
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
        proc.stdin.flush()
        assert b'"id":1' in proc.stdout.readline().replace(b" ", b"")
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    return proc, port


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
@pytest.mark.parametrize("mode", ["stdio", "http"])
def test_a_signal_stops_the_server_and_its_postgres(
    data_dir: Path, mode: str, signum: signal.Signals
) -> None:
    proc, _ = _start(data_dir, http=mode == "http")
    assert postgres_of(data_dir)
    assert [h["pid"] for h in json.loads((data_dir / HOLDERS_FILE).read_text())] == [proc.pid]
    proc.send_signal(signum)
    try:
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 20
    while postgres_of(data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert postgres_of(data_dir) == [], "postgres left running"
    assert json.loads((data_dir / HOLDERS_FILE).read_text()) == []


def test_anti_patterns_are_one_log_line_each_not_warnings(database: Any, tmp_path: Path) -> None:
    # Three failing learns of one strategy: the second and third find an anti-pattern.
    calls = [
        {
            "jsonrpc": "2.0",
            "id": 10 + i,
            "method": "tools/call",
            "params": {
                "name": "alma_learn",
                "arguments": {
                    "agent": "helena",
                    "task": f"form {i}",
                    "outcome": "failure",
                    "strategy_used": "sleep before asserting",
                    "task_type": "forms",
                },
            },
        }
        for i in range(3)
    ]
    tenant = f"ap-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "langgraph_alma.mcp", "--tenant", tenant],
        env=server_env(database),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
    proc.stdin.flush()
    proc.stdout.readline()
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    proc.stdin.write(json.dumps(initialized).encode() + b"\n")
    for call in calls:  # one at a time: the order of the learns matters
        proc.stdin.write(json.dumps(call).encode() + b"\n")
        proc.stdin.flush()
        assert b'"isError":true' not in proc.stdout.readline().replace(b" ", b"")
    _, err = proc.communicate(timeout=60)
    lines = err.decode().splitlines()
    assert not [line for line in lines if "Warning" in line or "warn(" in line], lines
    logged = [line for line in lines if "alma anti-pattern" in line]
    assert len(logged) == 2, lines
    assert json.loads(logged[-1].split("alma anti-pattern ", 1)[1])["failures"] == 3
