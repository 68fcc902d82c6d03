"""How the MCP tests start a server and reach it over HTTP: the subprocess's command and
environment, a free port, waiting until it listens, and the raw `initialize` request
(for tests that speak HTTP or stdio without the SDK's client)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from typing import Any

STARTUP_SECONDS = 90  # imports and migrations on a loaded two-core machine
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
"""The first request of a session, as a raw JSON-RPC message."""
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
"""What streamable HTTP needs of a raw POST."""


def server_env(database: Any, **extra: str) -> dict[str, str]:
    """The subprocess environment: the test database's URLs, no token unless given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMA_")}
    env.update(
        ALMA_DATABASE_URL=database.url,
        ALMA_ADMIN_DATABASE_URL=database.admin_url,
        ALMA_CONFIG=os.devnull,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "langgraph_alma.mcp", *args]


def wait_listening(
    process: subprocess.Popen[bytes],
    port: int,
    host: str = "127.0.0.1",
    deadline: float | None = None,
) -> None:
    """Return once `host:port` accepts a connection; fail, with the server's stderr, if
    the process exits first, or once `deadline` (monotonic; default: STARTUP_SECONDS from
    now) passes."""
    deadline = time.monotonic() + STARTUP_SECONDS if deadline is None else deadline
    while True:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise AssertionError(f"MCP server exited {process.returncode}: {err}")
        with contextlib.suppress(OSError):
            socket.create_connection((host, port), timeout=1).close()
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"MCP server did not listen on {host}:{port}")
        time.sleep(0.2)
