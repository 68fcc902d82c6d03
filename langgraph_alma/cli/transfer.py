"""`alma export [FILE|-]` and `alma import SOURCE [--from jsonl|alma-memory|langgraph-postgres]`:
thin shells over `langgraph_alma.transfer`."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from langgraph_alma.cli.app import app, state
from langgraph_alma.cli.output import progress_bar, say
from langgraph_alma.errors import ConfigError

PROGRESS_HELP = "show a progress bar (default: only when stderr is a terminal)"


class Source(StrEnum):
    """What `alma import` reads."""

    jsonl = "jsonl"
    alma_memory = "alma-memory"
    langgraph_postgres = "langgraph-postgres"


@app.command("export")
def export(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="file to write, or - for stdout")] = "-",
    checkpoints: Annotated[
        bool, typer.Option("--checkpoints/--no-checkpoints", help="also every checkpoint thread")
    ] = True,
    progress: Annotated[
        bool | None, typer.Option("--progress/--no-progress", help=PROGRESS_HELP)
    ] = None,
) -> None:
    """Write the tenant's store items (memories, sessions, ...) and checkpoints as JSON Lines."""
    from langgraph_alma.transfer import export_jsonl

    with state(ctx).alma() as alma, progress_bar("exporting", progress) as bar:
        saver = alma.saver if checkpoints else None
        if file == "-":
            report = export_jsonl(alma.store, saver, sys.stdout, progress=bar)
        else:
            # Written next to the target and renamed: a failed export leaves no half file.
            target = Path(file)
            partial = target.with_name(target.name + ".partial")
            try:
                with partial.open("w", encoding="utf-8") as out:
                    report = export_jsonl(alma.store, saver, out, progress=bar)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            partial.replace(target)
    where = "stdout" if file == "-" else file
    typer.echo(
        f"exported {report.items} items and {report.checkpoints} checkpoints "
        f"({len(report.threads)} threads) of tenant {report.tenant!r} to {where}",
        err=file == "-",  # keep stdout pure JSON Lines
    )


@app.command("import")
def import_(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help="a JSON Lines file (- for stdin); an alma-memory SQLite file or "
            "PostgreSQL URL with --from alma-memory; the PostgreSQL URL of LangGraph's "
            "PostgresSaver/PostgresStore tables with --from langgraph-postgres"
        ),
    ],
    from_: Annotated[Source, typer.Option("--from", help="format of SOURCE")] = Source.jsonl,
    progress: Annotated[
        bool | None, typer.Option("--progress/--no-progress", help=PROGRESS_HELP)
    ] = None,
) -> None:
    """Import data into --tenant (default: the tenant the file was exported from);
    importing the same data twice changes nothing, and a bad line imports nothing."""
    cli = state(ctx)
    if from_ is Source.alma_memory:
        _import_alma_memory(ctx, source, progress)
        return
    if from_ is Source.langgraph_postgres:
        _import_langgraph_postgres(ctx, source, progress)
        return
    from langgraph_alma.transfer import import_jsonl

    data = sys.stdin if source == "-" else source
    with cli.alma() as alma, progress_bar("importing", progress) as bar:
        report = import_jsonl(alma.store, alma.saver, data, tenant=cli.tenant, progress=bar)
    say(
        f"imported {report.items} items and {report.checkpoints} checkpoints "
        f"({len(report.threads)} threads) into tenant {report.tenant!r}"
    )


def _import_alma_memory(ctx: typer.Context, source: str, progress: bool | None) -> None:
    try:
        from langgraph_alma.transfer.alma_memory import import_alma_memory
    except ImportError as exc:  # the module, or what it needs, is not installed
        raise ConfigError(f"importing from alma-memory is not available: {exc}") from exc
    with state(ctx).alma() as alma, progress_bar("importing", progress) as bar:
        report = import_alma_memory(alma, source, progress=bar)
    detail = ", ".join(f"{n} {kind}" for kind, n in report.counts.items() if n)
    say(f"imported {report.total} memories from alma-memory ({detail or 'nothing new'})")
    for table, rows in report.skipped.items():
        say(f"  not imported: {rows} row(s) of {table}: {report.reasons.get(table, '')}")


def _import_langgraph_postgres(ctx: typer.Context, source: str, progress: bool | None) -> None:
    from langgraph_alma.transfer.langgraph_postgres import import_langgraph_postgres

    cli = state(ctx)
    with cli.alma() as alma, progress_bar("importing", progress) as bar:
        report = import_langgraph_postgres(
            alma.store, alma.saver, source, tenant=cli.tenant, progress=bar
        )
    say(
        f"imported {report.checkpoints} checkpoints with {report.writes} pending writes "
        f"({len(report.threads)} threads) and {report.items} items with {report.vectors} "
        f"vectors from {report.source} into tenant {report.tenant!r}"
    )
    for why, n in report.skipped.items():
        say(f"  skipped: {n} {why}")
