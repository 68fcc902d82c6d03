"""Binding and the bearer token: loopback only without a token, 401 for any request
without the right token, and a one-line error (exit 2) for a refused bind."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from langgraph_alma.errors import ConfigError
from langgraph_alma.mcp import serve
from langgraph_alma.mcp.http import check_bind, is_loopback
from tests.mcp.conftest import payload
from tests.mcp.servers import INITIALIZE, MCP_HEADERS, command, free_port, server_env

TOKEN = "s3cret-token-for-tests"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"])
def test_loopback_hosts_need_no_token(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", "10.0.0.1"])
def test_other_hosts_need_a_token(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ConfigError, match="ALMA_MCP_TOKEN"):
        check_bind(host, None)
    check_bind(host, SecretStr(TOKEN))


def test_an_empty_token_is_refused() -> None:
    with pytest.raises(ConfigError, match="empty"):
        check_bind("0.0.0.0", SecretStr(""))


def test_serve_refuses_before_binding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALMA_MCP_TOKEN", raising=False)
    port = free_port()
    with pytest.raises(ConfigError, match="0.0.0.0"):
        serve(transport="http", host="0.0.0.0", port=port)
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # nothing listens


def test_module_exits_with_one_line_error(database: Any, tmp_path: Path) -> None:
    done = subprocess.run(
        command("--http", "--host", "0.0.0.0", "--port", str(free_port())),
        env=server_env(database),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "ALMA_MCP_TOKEN" in lines[0] and "0.0.0.0" in lines[0]


async def test_requests_without_the_token_get_401(start_http: Any) -> None:
    server = start_http(token=TOKEN)
    async with httpx.AsyncClient() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = await http.post(
                server.url, json=INITIALIZE, headers={**MCP_HEADERS, **headers}
            )
            assert response.status_code == 401, headers
            assert response.json()["error"] == "unauthorized"
        other = await http.get(f"http://127.0.0.1:{server.port}/anything")
        assert other.status_code == 401
        good = await http.post(
            server.url,
            json=INITIALIZE,
            headers={**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"},
        )
        assert good.status_code == 200

    async with server.client() as client:  # the SDK client, with the token
        assert payload(await client.call_tool("alma_health", {}))["status"] == "ok"
    with pytest.raises(Exception):  # noqa: B017  # the SDK wraps the 401 in its own error
        async with server.client(token="wrong") as client:
            await client.list_tools()


async def test_a_loopback_server_refuses_other_hosts_and_origins(start_http: Any) -> None:
    """DNS rebinding: a web page whose name resolves to 127.0.0.1 sends its own Host and
    Origin; a loopback server without a token answers only loopback names."""
    server = start_http()
    async with httpx.AsyncClient() as http:
        for headers in ({"Host": "attacker.example"}, {"Origin": "http://attacker.example"}):
            response = await http.post(
                server.url, json=INITIALIZE, headers={**MCP_HEADERS, **headers}
            )
            assert response.status_code in (403, 421), headers
        ok = await http.post(server.url, json=INITIALIZE, headers=MCP_HEADERS)
        assert ok.status_code == 200
