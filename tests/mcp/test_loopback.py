"""DNS-rebinding protection on every spelling of loopback, and `alma://config` without
any secret of the connection strings."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from langgraph_alma.mcp.http import bind_address, transport_security
from langgraph_alma.mcp.runtime import REDACTED, redact_url
from tests.mcp.servers import (
    INITIALIZE,
    MCP_HEADERS,
    STARTUP_SECONDS,
    command,
    free_port,
    server_env,
    wait_listening,
)

SPELLINGS = ["LOCALHOST", "localhost", "127.0.0.1", "127.0.0.2", "[::1]", "::1"]


def _url_host(host: str) -> str:
    address = bind_address(host).lower()
    return f"[{address}]" if ":" in address else address


@pytest.fixture(scope="module")
def servers(database: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One HTTP server per spelling, no token: {spelling: its /mcp URL}."""
    cwd: Path = tmp_path_factory.mktemp("loopback")
    started: dict[str, tuple[subprocess.Popen[bytes], str, int]] = {}
    for host in SPELLINGS:
        port = free_port()
        process = subprocess.Popen(
            command("--http", "--host", host, "--port", str(port)),
            env=server_env(database),
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        started[host] = (process, bind_address(host).lower(), port)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS  # for them all: they start at once
        for process, address, port in started.values():
            wait_listening(process, port, address, deadline)
        yield {h: f"http://{_url_host(h)}:{port}/mcp" for h, (_, _, port) in started.items()}
    finally:
        for process, _, _ in started.values():
            process.terminate()
            process.wait(timeout=30)


@pytest.mark.parametrize("host", SPELLINGS)
async def test_every_loopback_spelling_refuses_foreign_host_and_origin(
    servers: dict[str, str], host: str
) -> None:
    url = servers[host]
    async with httpx.AsyncClient(timeout=30) as http:
        foreign_host = await http.post(
            url, json=INITIALIZE, headers={**MCP_HEADERS, "Host": "attacker.example"}
        )
        assert foreign_host.status_code == 421
        foreign_origin = await http.post(
            url, json=INITIALIZE, headers={**MCP_HEADERS, "Origin": "http://attacker.example"}
        )
        assert foreign_origin.status_code == 403
        own = await http.post(url, json=INITIALIZE, headers=MCP_HEADERS)
        assert own.status_code == 200, own.text
        same_origin = await http.post(
            url,
            json=INITIALIZE,
            headers={**MCP_HEADERS, "Origin": url.removesuffix("/mcp")},
        )
        assert same_origin.status_code == 200


def test_only_loopback_gets_the_protection() -> None:
    assert transport_security("0.0.0.0") is None
    assert transport_security("192.168.1.10") is None
    settings = transport_security("127.0.0.2")
    assert settings is not None and settings.enable_dns_rebinding_protection
    assert "localhost:*" not in settings.allowed_hosts  # localhost is not 127.0.0.2


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:pw1secret@db/alma?sslpassword=pw2secret&sslmode=require",
        "postgresql://db/alma?password=pw1secret&options=-c%20x%3D1",
        "postgresql://db/alma?access_token=pw1secret&api_key=pw2secret",
        "host=db user=app password=pw1secret sslpassword=pw2secret dbname=alma",
        "https://proxy.example/v1?api-key=pw1secret",
        "https://user:pw1secret@proxy.example/v1#token=pw2secret",
        "postgresql://db/alma?sslpassword=pw1secret&sslpassword=pw2secret",
        "not a url password=pw1secret",
    ],
)
def test_config_redacts_every_secret_parameter(url: str) -> None:
    redacted = redact_url(url) or ""
    assert "secret" not in redacted and REDACTED in redacted
    if "sslmode" in url:
        assert "sslmode=require" in redacted  # what is not secret stays readable
