"""Schema migrations: ordered, versioned SQL files in `sql/` (`NNNN_name.sql`).

Applied in one transaction under a transaction-level advisory lock, so processes that
start at once are safe and a failed migration leaves nothing behind; each applied version
is recorded in `alma_migrations`. Works whether or not the caller's connection is already
in a transaction (psycopg then uses a savepoint). No `CREATE INDEX CONCURRENTLY`: new tables
are empty, and a concurrent build cannot run inside a transaction.

    python -m langgraph_alma.migrations status [--url URL]
    python -m langgraph_alma.migrations up [--url URL]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import psycopg

from langgraph_alma.db.plan import Plan, Sql, arun_plan, run_plan
from langgraph_alma.errors import MigrationError

LOCK_KEY = 0x414C4D41  # "ALMA"

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS alma_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""
LOCK = "SELECT pg_advisory_xact_lock(%s)"
APPLIED = "SELECT version FROM alma_migrations ORDER BY version"
RECORD = "INSERT INTO alma_migrations (version, name) VALUES (%s, %s)"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True)
class Status:
    applied: list[int]
    pending: list[Migration]


@cache
def migrations() -> tuple[Migration, ...]:
    """Every migration shipped with the package, in version order."""
    found = []
    for entry in resources.files(__package__).joinpath("sql").iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration versions must be 1..N without gaps, found {versions}")
    return tuple(found)


def _status_plan(lock: bool) -> Plan[Status]:
    batch = [Sql(CREATE_TABLE), Sql(APPLIED, fetch=True)]
    if lock:
        batch.insert(0, Sql(LOCK, (LOCK_KEY,)))
    results = yield batch
    applied = [row[0] for row in results[-1] or []]
    return Status(applied, [m for m in migrations() if m.version not in applied])


def _up_plan() -> Plan[list[int]]:
    status = yield from _status_plan(lock=True)
    for m in status.pending:
        try:
            yield [Sql(m.sql, script=True), Sql(RECORD, (m.version, m.name))]
        except psycopg.Error as exc:
            raise MigrationError(f"migration {m.version:04d}_{m.name} failed: {exc}") from exc
    return [m.version for m in status.pending]


def migrate(conn: psycopg.Connection[Any]) -> list[int]:
    """Apply pending migrations; return the versions applied (idempotent)."""
    return run_plan(conn, _up_plan(), transaction=True)


async def amigrate(conn: psycopg.AsyncConnection[Any]) -> list[int]:
    """Async `migrate`."""
    return await arun_plan(conn, _up_plan(), transaction=True)


def status(conn: psycopg.Connection[Any]) -> Status:
    """Applied and pending migrations."""
    return run_plan(conn, _status_plan(lock=False), transaction=True)


def migrate_url(url: str | None = None) -> list[int]:
    """Apply migrations on `url` (or the configured/embedded database, as its admin role)."""
    from langgraph_alma.db import connect

    with connect(url, admin=True) as conn:
        return migrate(conn)
