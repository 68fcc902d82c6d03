"""The `alma` typer app: global options (`--url`, `--tenant`, `--project`, `--config`,
`--debug`), the connection every command shares, and errors as one line.

Commands live in one small module per group (`memories`, `threads`, `transfer`,
`admin`) and stay thin: they call the `Alma` facade, the saver, the store, the
migrations and `langgraph_alma.transfer`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from langgraph_alma.cli.output import USER_ERRORS, error_line

CONNECT_TIMEOUT = 10  # seconds


@dataclass
class CliState:
    """The global options, as every command sees them (`ctx.obj`)."""

    url: str | None = None
    tenant: str | None = None
    project: str | None = None
    config: Path | None = None
    debug: bool = False

    @contextmanager
    def alma(self) -> Iterator[Any]:
        """An `Alma` on the chosen database and tenant (no migrations: `alma migrate up`)."""
        from langgraph_alma.alma import Alma, AlmaConfig
        from langgraph_alma.config import get_settings

        if self.config is not None:
            reachable(AlmaConfig.load(self.config).database_url)
            alma = Alma.from_config(self.config, setup=False)
        else:
            reachable(self.url)
            settings = get_settings()
            alma = Alma.connect(
                self.url,
                self.tenant or settings.tenant_id,
                self.project or settings.project_id,
                embeddings=settings.embeddings,
                embedding_dims=settings.embedding_dims,
                setup=False,
            )
        with alma:
            yield alma


def reachable(url: str | None) -> None:
    """Connect once, directly: a bad URL or a server that is down fails here at once, in
    one line, instead of in a pool that retries for 30 seconds."""
    import psycopg

    from langgraph_alma.db.connect import resolve

    target = resolve(url)
    psycopg.connect(target.url, connect_timeout=CONNECT_TIMEOUT).close()


def _debug_wanted(ctx: typer.Context) -> bool:
    state = ctx.obj if isinstance(ctx.obj, CliState) else None
    if state and state.debug:
        return True
    from langgraph_alma.config import get_settings

    try:
        return get_settings().debug  # ALMA_DEBUG
    except Exception:  # settings that do not load are the error being reported
        return False


class AlmaGroup(TyperGroup):
    """Runs a command and turns a user-caused error into `error: ...` and exit code 1."""

    def invoke(
        self,
        ctx: typer.Context,  # type: ignore[override]  # typer's Context subclasses click's
    ) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            if _debug_wanted(ctx):
                raise
            typer.echo(error_line(exc), err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    name="alma",
    cls=AlmaGroup,
    help="langgraph-alma: durable, learning memory for LangGraph agents on PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _options(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url", help="PostgreSQL URL (default: ALMA_DATABASE_URL, else the embedded server)"
        ),
    ] = None,
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", help="tenant to act for (default: ALMA_TENANT_ID or 'default')"),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option("--project", help="project of the memories (default: ALMA_PROJECT_ID)"),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="an .alma/config.yaml (database, embeddings, agents, domain)"
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="show tracebacks (also ALMA_DEBUG=1)")
    ] = False,
) -> None:
    ctx.obj = CliState(url=url, tenant=tenant, project=project, config=config, debug=debug)
    # The pools' own retry warnings would bury the one-line error the CLI prints.
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)


def state(ctx: typer.Context) -> CliState:
    """The global options of this invocation."""
    return ctx.find_root().obj if isinstance(ctx.find_root().obj, CliState) else CliState()


def _register() -> None:
    # Imported here: each module adds its commands to `app` (and needs `app` to exist).
    from langgraph_alma.cli import admin, memories, threads, transfer  # noqa: F401


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return its exit code (`alma` and `python -m langgraph_alma`)."""
    try:
        app(args=argv, prog_name="alma", standalone_mode=True)
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
