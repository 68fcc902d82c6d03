"""The MCP server: `build_server(runtime)` registers the tools and resources on the SDK's
`MCPServer`; `serve(...)` opens a runtime and runs it over stdio or streamable HTTP."""

from __future__ import annotations

import gc
import importlib
import inspect
import json
import logging
import sys
from collections.abc import Iterable
from typing import Any, Literal

import anyio
from mcp.server.mcpserver import MCPServer

from langgraph_alma.config import get_settings
from langgraph_alma.db.embedded import serving
from langgraph_alma.mcp import tools_admin, tools_memory, tools_work, tools_workflow
from langgraph_alma.mcp._tooling import Tool, add_tools
from langgraph_alma.mcp.domains import list_domains
from langgraph_alma.mcp.http import BearerAuth, bind_address, check_bind, transport_security
from langgraph_alma.mcp.runtime import AlmaRuntime, open_runtime, package_version
from langgraph_alma.mcp.stdio import run_stdio
from langgraph_alma.memory.core import anti_patterns_logged
from langgraph_alma.memory.plan import arun_store_plan

LOGGER = logging.getLogger("langgraph_alma.mcp")
Transport = Literal["stdio", "http"]


def _tools(*lists: Iterable[Tool]) -> list[Tool]:
    """The tools of these lists, in order, each checked to be an `async def` function
    (`Tool` only says a call returns an awaitable; `bind` wraps coroutine functions)."""
    found = [fn for tools in lists for fn in tools]
    if wrong := [fn for fn in found if not inspect.iscoroutinefunction(fn)]:
        raise TypeError(f"MCP tools must be async functions: {wrong}")
    return found


TOOLS = _tools(tools_memory.TOOLS, tools_workflow.TOOLS, tools_work.TOOLS)
"""Every tool function the server registers, in the order `list_tools` shows them."""
INSTRUCTIONS = (
    "ALMA memory for agents: retrieve what is relevant before a task (alma_retrieve), "
    "record how it went after (alma_learn); checkpoints, work items and sessions keep "
    "long work resumable. Read alma://config and alma://domains for the setup."
)


def build_server(runtime: AlmaRuntime, transport: Transport = "stdio") -> MCPServer:
    """The MCP server over `runtime`: every tool and the config and domain resources.

    >>> async with open_runtime(tenant="acme") as runtime:         # doctest: +SKIP
    ...     await build_server(runtime).run_stdio_async()
    """
    server: MCPServer = MCPServer(
        "langgraph-alma",
        version=package_version("langgraph-alma") or "",
        instructions=INSTRUCTIONS,
        log_level="WARNING",
    )
    add_tools(server, runtime, TOOLS)
    if runtime.privileged:  # thread retention across tenants: an operator's tool
        add_tools(server, runtime, tools_admin.TOOLS)

    @server.resource(
        "alma://config",
        name="config",
        description="The effective configuration (secrets and passwords redacted).",
        mime_type="application/json",
    )
    def config() -> str:
        return json.dumps(runtime.config(transport), indent=2)

    @server.resource(
        "alma://domains",
        name="domains",
        description="Domain schemas: the presets and this tenant's custom ones.",
        mime_type="application/json",
    )
    async def domains() -> str:
        plan = list_domains(runtime.project_id)
        return json.dumps(await arun_store_plan(runtime.alma().store, plan), indent=2)

    return server


def _log_to_stderr() -> None:
    """The server's records as one plain line each on stderr (the SDK's own handler
    wraps long lines to the terminal's width)."""
    if not LOGGER.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        LOGGER.addHandler(handler)
        LOGGER.setLevel(logging.INFO)
        LOGGER.propagate = False


LAZY_IMPORTS = ("langchain_core.runnables.config",)
"""Modules that calls would import on first use, with the event loop held (LangChain's
`Embeddings.aembed_query` imports its runnables, some 0.3 s): the server imports them
before it serves."""


def freeze_startup_heap() -> None:
    """Import `LAZY_IMPORTS`, then keep what startup allocated (modules, the runtime, its
    pools) out of every later garbage collection (`gc.freeze`): a full collection walks
    each object the collector tracks, with the event loop held, so over a startup heap of
    some 10^5 objects each one held every client's calls for 50-100 ms. Objects the calls
    allocate are still collected as before."""
    for name in LAZY_IMPORTS:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()


async def serve_async(
    *,
    transport: Transport = "stdio",
    host: str = "127.0.0.1",
    port: int = 8765,
    privileged: bool = False,
    tenant: str | None = None,
    url: str | None = None,
) -> None:
    """Async `serve`."""
    if transport not in ("stdio", "http"):
        raise ValueError(f"transport must be 'stdio' or 'http', got {transport!r}")
    token = get_settings().mcp_token
    if transport == "http":
        check_bind(host, token)  # before anything connects or binds
    # Anti-patterns found while serving are log lines, not warnings: see
    # `anti_patterns_logged`. Tasks the server starts inherit the setting.
    _log_to_stderr()
    with anti_patterns_logged(LOGGER):
        async with open_runtime(tenant=tenant, privileged=privileged, url=url) as runtime:
            server = build_server(runtime, transport)
            if transport == "stdio":
                freeze_startup_heap()
                await run_stdio(server)
                return
            import uvicorn

            app: Any = server.streamable_http_app(
                host=host, transport_security=transport_security(host)
            )
            if token is not None:
                app = BearerAuth(app, token)
            config = uvicorn.Config(app, host=bind_address(host), port=port, log_level="warning")
            freeze_startup_heap()
            await uvicorn.Server(config).serve()


def serve(
    *,
    transport: Transport = "stdio",
    host: str = "127.0.0.1",
    port: int = 8765,
    privileged: bool = False,
    tenant: str | None = None,
    url: str | None = None,
) -> None:
    """Run the MCP server until it is stopped (blocking). Over HTTP, a host that is not
    loopback needs a token (`ALMA_MCP_TOKEN`): without one, `ConfigError` is raised before
    anything is bound. `privileged` serves every tenant (admin role; tools then take a
    `tenant_id`); otherwise the server acts for `tenant` (default `ALMA_TENANT_ID`) only.

    >>> serve(transport="http", port=8765)                  # doctest: +SKIP
    """
    if transport == "http":
        check_bind(host, get_settings().mcp_token)  # fail fast, before the event loop
    # SIGTERM and SIGHUP unwind the server as SIGINT does, and the embedded server (when
    # it is the database) is held until then: a killed `alma mcp` leaves no postgres.
    with serving(url):
        anyio.run(
            lambda: serve_async(
                transport=transport,
                host=host,
                port=port,
                privileged=privileged,
                tenant=tenant,
                url=url,
            )
        )
