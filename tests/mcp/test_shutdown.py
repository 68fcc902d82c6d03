"""`alma mcp` (stdio and HTTP) on the embedded server, stopped by SIGTERM, SIGINT or
SIGHUP: the command unwinds, the last holder leaves, and no `postgres` is left running."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from langgraph_alma.db.embedded import HOLDERS_FILE
from tests.mcp.conftest import STARTUP_SECONDS, free_port

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}


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
    deadline = time.monotonic() + STARTUP_SECONDS
    if http:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
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
