"""The MCP server over stdio, with stdin read by the event loop.

The SDK reads stdin in a worker thread that no cancellation reaches: a server told to
stop (SIGTERM, SIGINT, SIGHUP) would wait for the client's next line before it could
exit and release its database. Here a pipe or socket on stdin is read by the loop
itself, so stopping cancels the read; anything else (a file) falls back to the SDK's.
"""

from __future__ import annotations

import asyncio
import os
import stat
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server

MAX_LINE = 64 * 1024 * 1024
"""Longest JSON-RPC message (one line) read from stdin, in bytes."""


class _Lines:
    """`async for line in lines`: decoded lines from a `StreamReader`, as the SDK wants."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        line = await self.reader.readline()
        if not line:
            raise StopAsyncIteration
        return line.decode("utf-8", errors="replace")


async def _stdin_lines() -> _Lines | None:
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return None
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return None
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE)
    pipe = os.fdopen(os.dup(0), "rb", buffering=0)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    return _Lines(reader)


async def run_stdio(server: MCPServer) -> None:
    """Serve `server` over stdin and stdout until the client closes stdin or the task is
    cancelled.

    >>> await run_stdio(build_server(runtime))          # doctest: +SKIP
    """
    lines = await _stdin_lines()
    # The SDK's own stdio runner builds its stdin itself; its low-level server is the
    # one piece we need to run it on ours.
    lowlevel: Any = getattr(server, "_lowlevel_server", None)
    if lines is None or lowlevel is None:
        await server.run_stdio_async()
        return
    async with stdio_server(stdin=lines) as (read, write):  # type: ignore[arg-type]  # any async line iterator serves as stdin
        await lowlevel.run(read, write, lowlevel.create_initialization_options())
