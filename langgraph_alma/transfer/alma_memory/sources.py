"""Reading an alma-memory database, read-only: its SQLite file or its PostgreSQL schema.
Table and column names are constants of `tables`, never input; values are bound."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from langgraph_alma.errors import AlmaMemorySourceError
from langgraph_alma.transfer.alma_memory.mapping import SourceData
from langgraph_alma.transfer.alma_memory.tables import (
    ARTIFACT_LINKS,
    CORE_TABLES,
    MEMORY_STRENGTH,
    MEMORY_TABLES,
    NOT_IMPORTED,
    SUPPORTED_VERSIONS,
    SourceTable,
)

if TYPE_CHECKING:
    pass


class Source(Protocol):
    """A read-only view of an alma-memory database; table and column names passed in
    are constants of this module, never user input."""

    def columns(self) -> dict[str, set[str]]: ...
    def version(self) -> str | None: ...
    def select(self, table: str, columns: list[str]) -> list[dict[str, Any]]: ...
    def count(self, table: str) -> int: ...


def read(source: Source, label: str) -> SourceData:
    """Check that `source` is an alma-memory database of a known schema version, then
    read every table the import maps."""
    present = source.columns()
    names = {t.name: next((n for n in t.names() if n in present), None) for t in CORE_TABLES}
    missing = [name for name, found in names.items() if found is None]
    if missing:
        raise AlmaMemorySourceError(
            label,
            "not an alma-memory database (no "
            + ", ".join(missing)
            + " table; for PostgreSQL, point search_path at its schema)",
        )
    version = source.version() if "_schema_versions" in present else None
    if version is not None and version not in SUPPORTED_VERSIONS:
        raise AlmaMemorySourceError(
            label,
            f"schema version {version!r} is not one this importer knows "
            f"({', '.join(SUPPORTED_VERSIONS)}: alma-memory 0.6 to 0.11)",
        )
    rows: dict[str, list[dict[str, Any]]] = {}
    for table in (*MEMORY_TABLES, ARTIFACT_LINKS, MEMORY_STRENGTH):
        name = next((n for n in table.names() if n in present), None)
        if name is not None:
            wanted = [c for c in table.columns if c in present[name]]
            rows[table.name] = source.select(name, wanted)
    not_imported: dict[str, int] = {}
    for kept in NOT_IMPORTED:
        for name in SourceTable(kept).names():
            if name in present and (n := source.count(name)):
                not_imported[kept] = not_imported.get(kept, 0) + n
    return SourceData(label, version, rows, not_imported)


class SqliteSource:
    """alma-memory's SQLite file, opened read-only."""

    def __init__(self, path: Path, label: str) -> None:
        self.label = label
        uri = f"{path.resolve().as_uri()}?mode=ro"
        self.conn = sqlite3.connect(uri, uri=True)
        self.conn.row_factory = sqlite3.Row

    def columns(self) -> dict[str, set[str]]:
        try:
            tables = [r[0] for r in self.conn.execute(_SQLITE_TABLES)]
        except sqlite3.DatabaseError as exc:
            raise AlmaMemorySourceError(self.label, f"not a SQLite database ({exc})") from exc
        return {
            t: {r[1] for r in self.conn.execute("SELECT * FROM pragma_table_info(?)", (t,))}
            for t in tables
        }

    def version(self) -> str | None:
        row = self.conn.execute(_LATEST_VERSION).fetchone()
        return row[0] if row else None

    def select(self, table: str, columns: list[str]) -> list[dict[str, Any]]:
        cols = ", ".join(f'"{c}"' for c in columns)
        return [dict(r) for r in self.conn.execute(f'SELECT {cols} FROM "{table}"')]

    def count(self, table: str) -> int:
        return self.conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]

    def close(self) -> None:
        self.conn.close()


_SQLITE_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table'"
_LATEST_VERSION = "SELECT version FROM _schema_versions ORDER BY id DESC LIMIT 1"


class PostgresSource:
    """alma-memory's PostgreSQL tables in the connection's current schema, read in one
    read-only transaction (a consistent snapshot)."""

    def __init__(self, url: str, label: str) -> None:
        self.label = label
        self.conn = psycopg.connect(url, row_factory=dict_row, connect_timeout=10)
        self.conn.read_only = True
        self.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ

    def columns(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for r in self.conn.execute(_PG_COLUMNS):
            found.setdefault(r["table_name"], set()).add(r["column_name"])
        return found

    def version(self) -> str | None:
        row = self.conn.execute(_LATEST_VERSION).fetchone()
        return row["version"] if row else None

    def select(self, table: str, columns: list[str]) -> list[dict[str, Any]]:
        query = sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table)
        )
        return list(self.conn.execute(query))

    def count(self, table: str) -> int:
        row = self.conn.execute(
            sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(table))
        ).fetchone()
        return int(row["n"]) if row else 0

    def close(self) -> None:
        self.conn.close()


_PG_COLUMNS = (
    "SELECT table_name, column_name FROM information_schema.columns "
    "WHERE table_schema = current_schema()"
)


def redact(source: str) -> str:
    """`source` fit for messages: a URL's password replaced by ***."""
    parts = urlsplit(source)
    if parts.password:
        user = f"{parts.username}:***@" if parts.username else ":***@"
        return parts._replace(netloc=user + parts.netloc.rpartition("@")[2]).geturl()
    return source


def load(source: str) -> SourceData:
    """Read an alma-memory database: a `postgresql://` URL, a SQLite file, or a directory
    holding `alma.db` (alma-memory's default name); `AlmaMemorySourceError` otherwise."""
    label = redact(source)
    opened: SqliteSource | PostgresSource
    if source.startswith(("postgresql://", "postgres://")):
        try:
            opened = PostgresSource(source, label)
        except psycopg.Error as exc:
            raise AlmaMemorySourceError(label, f"cannot connect ({exc})") from exc
    else:
        path = Path(source).expanduser()
        if path.is_dir():
            path = path / "alma.db"
        if not path.is_file():
            raise AlmaMemorySourceError(label, f"no such file: {path}")
        try:
            opened = SqliteSource(path, label)
        except sqlite3.Error as exc:
            raise AlmaMemorySourceError(label, f"cannot open ({exc})") from exc
    try:
        return read(opened, label)
    except (sqlite3.Error, psycopg.Error) as exc:
        raise AlmaMemorySourceError(label, f"cannot read ({exc})") from exc
    finally:
        opened.close()
