"""Fixtures for the MCP server tests: the server runs as a subprocess
(`python -m langgraph_alma.mcp`) on the session's test database, driven by the SDK's own
client over stdio or streamable HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

STARTUP_SECONDS = 90  # imports and migrations on a loaded two-core machine


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


@dataclass
class HttpServer:
    process: subprocess.Popen[bytes]
    port: int
    token: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def client(self, token: str | None = None) -> Client:
        """An SDK client; `token` (default: the server's) goes in the bearer header."""
        token = self.token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else None
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300))
        return Client(streamable_http_client(self.url, http_client=http))

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"MCP server exited {self.process.returncode}: {err}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            time.sleep(0.2)
        raise RuntimeError(f"MCP server did not listen on {self.port}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def start_http(database: Any, tmp_path: Path) -> Iterator[Callable[..., HttpServer]]:
    """Start `python -m langgraph_alma.mcp --http` on a free port; stopped at teardown."""
    started: list[HttpServer] = []

    def start(*args: str, token: str | None = None, **env: str) -> HttpServer:
        port = free_port()
        extra = {"ALMA_MCP_TOKEN": token, **env} if token else env
        process = subprocess.Popen(
            command("--http", "--port", str(port), *args),
            env=server_env(database, **extra),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        server = HttpServer(process, port, token)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def stdio_client(database: Any, tmp_path: Path) -> Callable[..., Client]:
    """An SDK client that starts the server over stdio (the client stops it on exit)."""

    def make(*args: str) -> Client:
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "langgraph_alma.mcp", *args],
            env=server_env(database),
            cwd=tmp_path,
        )
        return Client(params)

    return make


def payload(result: Any) -> dict[str, Any]:
    """A successful tool result's structured content (fails on a tool error)."""
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


def error_text(result: Any) -> str:
    """A failed tool result's message (fails when the call succeeded)."""
    assert result.is_error, result.structured_content
    return " ".join(c.text for c in result.content)
