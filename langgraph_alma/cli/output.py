"""What the CLI prints: rich tables on stdout, one-line errors on stderr, progress bars.

Errors are one line (`error: ...`) whatever raised them; a traceback only with `--debug`
or `ALMA_DEBUG=1`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from langgraph_alma.errors import AlmaError

# What a user can cause and fix; anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    AlmaError,
    psycopg.Error,
    OSError,
    json.JSONDecodeError,
    ValueError,
)


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr); wide when not a terminal, so that piped tables
    keep ids whole instead of folding them."""
    stream = sys.stderr if stderr else sys.stdout
    probe = Console(file=stream)
    return Console(file=stream, width=None if probe.is_terminal else 200, highlight=False)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a title line, then one table; `None` cells show as blank. Cells are plain
    text: a memory reading "[style] ..." is not rich markup."""
    out = Table()
    for name in columns:
        out.add_column(name, overflow="fold")
    for row in rows:
        out.add_row(*(Text("" if v is None else str(v)) for v in row))
    shell = console()
    shell.print(Text(title))
    shell.print(out)


def say(text: str) -> None:
    """One line to stdout, printed as is (no markup)."""
    typer.echo(text)


def error_line(exc: BaseException) -> str:
    """`error: <message>` on one line."""
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return (
            "error: the database has no langgraph-alma schema (run `alma migrate up`): "
            + _one_line(exc)
        )
    if isinstance(exc, psycopg.OperationalError):
        return f"error: cannot reach the database: {_one_line(exc)}"
    if isinstance(exc, FileNotFoundError):
        return f"error: no such file: {exc.filename or _one_line(exc)}"
    if isinstance(exc, json.JSONDecodeError):
        return f"error: not valid JSON: {_one_line(exc)}"
    return f"error: {_one_line(exc)}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@contextmanager
def progress_bar(label: str, enabled: bool | None) -> Iterator[Callable[[int, int], None] | None]:
    """A `progress(done, total)` callback drawing a bar on stderr, or None when disabled
    (`enabled=None`: only when stderr is a terminal)."""
    err = console(stderr=True)
    if enabled is None:
        enabled = err.is_terminal
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
