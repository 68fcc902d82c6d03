"""An MCP tool list is typed `list[Tool]`, but `Tool` only says a call returns an
awaitable: the server still refuses a tool that is no `async def` (tests/test_typing.py
holds the rest of the typing checks; this one needs the mcp extra)."""

from __future__ import annotations

from typing import Any

import pytest

from langgraph_alma.mcp import server


async def _async_tool() -> dict[str, Any]:
    return {}


def _sync_tool() -> Any:  # returns an awaitable, as `Tool` says, but is no `async def`
    return _async_tool()


def test_an_mcp_tool_that_is_no_async_function_is_refused() -> None:
    assert server._tools([_async_tool]) == [_async_tool]
    with pytest.raises(TypeError, match="MCP tools must be async functions"):
        server._tools([_async_tool], [_sync_tool])
