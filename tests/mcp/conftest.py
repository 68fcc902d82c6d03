"""Fixtures for the MCP server tests: the server runs as a subprocess
(`python -m langgraph_alma.mcp`) on the session's test database, driven by the SDK's own
client over stdio or streamable HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.mcp.servers import command, free_port, server_env, wait_listening


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
        wait_listening(self.process, self.port)

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
