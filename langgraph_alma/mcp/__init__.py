"""The MCP server: ALMA's memory, workflow, progress, session and confidence services as
Model Context Protocol tools (official `mcp` SDK, `MCPServer`), over stdio or streamable
HTTP, for one tenant (or, privileged, any).

Holds `server.py` (building and running the server), `runtime.py` (the services a server
acts on, health, redacted config), `tools_memory.py`, `tools_workflow.py` and
`tools_work.py` (the 24 tools: thin, typed, each calling one service), `_tooling.py` (how a
function becomes a tool), `shape.py` (results as JSON), `domains.py` (custom domain
schemas in the store) and `http.py` (bind check and bearer token). An interface layer:
may import everything below it.

    python -m langgraph_alma.mcp                     # stdio
    python -m langgraph_alma.mcp --http --port 8765  # streamable HTTP on 127.0.0.1

>>> from langgraph_alma.mcp import serve
>>> serve(transport="http", host="127.0.0.1", port=8765)     # doctest: +SKIP
"""

from langgraph_alma.errors import MissingExtra

# The SDK and the HTTP stack come with the `mcp` extra: without it, say so by name.
EXTRA_MODULES = ("mcp", "anyio", "starlette", "uvicorn")
try:
    from langgraph_alma.mcp.runtime import AlmaRuntime, open_runtime
    from langgraph_alma.mcp.server import TOOLS, build_server, serve, serve_async
except ModuleNotFoundError as exc:
    if not (exc.name or "").startswith(EXTRA_MODULES) or isinstance(exc, MissingExtra):
        raise
    raise MissingExtra("the MCP server (alma mcp)", "mcp", exc.name) from exc

__all__ = ["TOOLS", "AlmaRuntime", "build_server", "open_runtime", "serve", "serve_async"]
