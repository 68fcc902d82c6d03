"""The stdio server as an MCP client starts it with no database configured: on its own
embedded PostgreSQL, with nothing but protocol on stdout, stopped when the client goes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.mcp.conftest import payload


def _postgres_running(data_dir: Path) -> bool:
    ps = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout
    return any("postgres" in line and str(data_dir) in line for line in ps.splitlines())


async def test_stdio_server_on_the_embedded_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMA_")}
    env.update(ALMA_DATA_DIR=str(data_dir), ALMA_CONFIG=os.devnull, PYTHONUNBUFFERED="1")
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "langgraph_alma", "mcp"], env=env, cwd="/"
    )
    async with Client(params) as client:  # a stray line on stdout would break the protocol
        assert len((await client.list_tools()).tools) == 24
        health = payload(await client.call_tool("alma_health", {}))
        assert health["status"] == "ok" and health["migrations"]["current"]
        assert _postgres_running(data_dir)
    assert not _postgres_running(data_dir)  # the last process out stopped it
