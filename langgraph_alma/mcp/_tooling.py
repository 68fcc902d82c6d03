"""How a tool function becomes an MCP tool: bound to the runtime, its `tenant_id`
parameter shown only on a privileged server, and library errors turned into tool errors
whose message reaches the client (the SDK hides the text of any other exception).

A tool is `async def alma_x(runtime: AlmaRuntime, <typed params>, tenant_id: TenantId
= None) -> dict[str, Any]`; its docstring's first paragraph is the tool's description.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field, ValidationError

from langgraph_alma.errors import AlmaError
from langgraph_alma.mcp.runtime import AlmaRuntime

Tool = Callable[..., Awaitable[dict[str, Any]]]

TenantId = Annotated[
    str | None,
    Field(description="Tenant to act for (privileged server only); default: the server's."),
]
Agent = Annotated[str, Field(min_length=1, description="The agent whose memory this is.")]
OptionalAgent = Annotated[
    str | None, Field(min_length=1, description="Limit to this agent; default: all.")
]

# Failures a caller can fix: their message goes back as the tool error. PermissionError
# covers tenant and scope refusals, LookupError unknown ids.
EXPECTED = (AlmaError, ValidationError, ValueError, LookupError, PermissionError)


def description(fn: Callable[..., Any]) -> str:
    return inspect.cleandoc(fn.__doc__ or "").split("\n\n", 1)[0].replace("\n", " ")


def bind(fn: Tool, runtime: AlmaRuntime) -> Tool:
    """`fn` with the runtime bound and, unless privileged, no `tenant_id` parameter."""

    @functools.wraps(fn)
    async def call(**kwargs: Any) -> dict[str, Any]:
        try:
            return await fn(runtime, **kwargs)
        except EXPECTED as exc:
            raise ToolError(str(exc)) from exc

    signature = inspect.signature(fn, eval_str=True)
    params = list(signature.parameters.values())[1:]  # drop `runtime`
    if not runtime.privileged:
        params = [p for p in params if p.name != "tenant_id"]
    # The SDK reads the signature and type hints: give it resolved ones without `runtime`.
    call.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]  # wraps() result: mypy knows no __signature__
    call.__annotations__ = {p.name: p.annotation for p in params}
    call.__annotations__["return"] = signature.return_annotation
    del call.__wrapped__
    return call


def add_tools(server: MCPServer, runtime: AlmaRuntime, tools: Iterable[Tool]) -> None:
    for fn in tools:
        server.add_tool(
            bind(fn, runtime),
            name=fn.__name__,
            description=description(fn),
            structured_output=True,
        )
