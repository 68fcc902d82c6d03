"""`alma migrate status|up`, `alma mcp` and `alma demo`: running things, not reading them."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from langgraph_alma.cli.app import app, state
from langgraph_alma.cli.output import say
from langgraph_alma.errors import ConfigError

MCP_MISSING = 'alma mcp needs the mcp extra: pip install "langgraph-alma[mcp]"'

# `alma migrate up --url URL` as well as `alma --url URL migrate up`, as before typer.
UrlOption = Annotated[
    str | None, typer.Option("--url", help="PostgreSQL URL (overrides the global --url)")
]


class MigrateAction(StrEnum):
    status = "status"
    up = "up"


@app.command("migrate")
def migrate(
    ctx: typer.Context,
    action: Annotated[
        MigrateAction, typer.Argument(help="status: list migrations; up: apply them")
    ],
    url: UrlOption = None,
) -> None:
    """Show or apply the schema migrations (as the admin role: ALMA_ADMIN_DATABASE_URL)."""
    from langgraph_alma.migrations.__main__ import main as migrations_main

    url = url or state(ctx).url
    code = migrations_main([action.value, *(["--url", url] if url else [])])
    if code:
        raise typer.Exit(code)


@app.command("mcp")
def mcp(
    ctx: typer.Context,
    http: Annotated[
        bool, typer.Option("--http", help="serve streamable HTTP instead of stdio")
    ] = False,
    host: Annotated[str, typer.Option("--host", help="address to bind with --http")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="port with --http")] = 8765,
    privileged: Annotated[
        bool, typer.Option("--privileged", help="allow tools that span tenants (admin role)")
    ] = False,
) -> None:
    """Serve the memory as MCP tools (stdio by default; HTTP beyond loopback needs
    ALMA_MCP_TOKEN)."""
    try:
        from langgraph_alma.mcp import serve
    except ImportError as exc:
        if getattr(exc, "name", "") and not str(exc.name).startswith("mcp"):
            raise ConfigError(f"alma mcp is not available: {exc}") from exc
        raise ConfigError(MCP_MISSING) from exc
    cli = state(ctx)
    serve(
        transport="http" if http else "stdio",
        host=host,
        port=port,
        privileged=privileged,
        tenant=cli.tenant,
        url=cli.url,
    )


@app.command("demo")
def demo(
    ctx: typer.Context,
    runs: Annotated[
        int, typer.Option("--runs", min=7, help="graph runs (the agent explores 6)")
    ] = 9,
    url: UrlOption = None,
) -> None:
    """A graph that learns across runs, on the embedded database, narrated."""
    from langgraph_alma.demo import run

    run(url or state(ctx).url, out=say, runs=runs)
