"""Distributing the schema by `tenant_id` on Citus: an optional step after the migrations.

Every table of ours that has a `tenant_id` becomes a distributed table on that column, all
in one colocation group (so joins and foreign keys between them stay on one node), parents
before the tables whose foreign keys point at them; `alma_migrations` becomes a reference
table. Where the `citus` extension is not available, nothing is done and
`CitusUnavailable` says so.

    python -m langgraph_alma.migrations distribute [--dry-run] [--url ADMIN_URL]

What Citus also needs for row-level security (the tenant setting reaching the workers)
is in docs/scaling.md.
"""

from __future__ import annotations

from graphlib import TopologicalSorter
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from langgraph_alma.errors import MigrationError

TENANT_TABLES = """
SELECT c.relname FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname LIKE 'alma%%'
ORDER BY c.relname
"""
FOREIGN_KEYS = """
SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint
WHERE contype = 'f' AND connamespace = current_schema()::regnamespace
"""
AVAILABLE = "SELECT 1 FROM pg_available_extensions WHERE name = 'citus'"
DISTRIBUTED = "SELECT logicalrelid::text FROM pg_dist_partition"


class CitusUnavailable(MigrationError):
    """The server has no `citus` extension: the schema stays on one node."""


def distribution_plan(conn: psycopg.Connection[Any]) -> list[tuple[str, tuple[str, ...]]]:
    """The statements that distribute the schema, in order (each with its parameters)."""
    with conn.cursor(row_factory=tuple_row) as cur:
        tables = [r[0] for r in cur.execute(TENANT_TABLES).fetchall()]
        edges = cur.execute(FOREIGN_KEYS).fetchall()
    order = TopologicalSorter({t: set() for t in tables})
    for child, parent in edges:
        if child in tables and parent in tables and child != parent:
            order.add(child, parent)
    ordered = list(order.static_order())
    first = ordered[0] if ordered else None
    steps: list[tuple[str, tuple[str, ...]]] = [
        ("SELECT create_reference_table(%s)", ("alma_migrations",))
    ]
    for table in ordered:
        if table == first:
            steps.append(("SELECT create_distributed_table(%s, 'tenant_id')", (table,)))
        else:
            steps.append(
                (
                    "SELECT create_distributed_table(%s, 'tenant_id', colocate_with => %s)",
                    (table, first or table),
                )
            )
    return steps


def distribute(conn: psycopg.Connection[Any], *, dry_run: bool = False) -> list[str]:
    """Distribute every tenant table by `tenant_id` (idempotent: tables already distributed
    are left as they are); returns what was (or, with `dry_run`, would be) done.

    >>> with psycopg.connect(admin_url, autocommit=True) as conn:   # doctest: +SKIP
    ...     distribute(conn)
    """
    steps = distribution_plan(conn)
    done = [f"{sql % tuple(repr(p) for p in params)}" for sql, params in steps]
    if dry_run:
        return done
    with conn.cursor(row_factory=tuple_row) as cur:
        if cur.execute(AVAILABLE).fetchone() is None:
            raise CitusUnavailable(
                "the citus extension is not available on this server: the schema stays "
                "on one node (nothing was changed)"
            )
        with conn.transaction():
            cur.execute("CREATE EXTENSION IF NOT EXISTS citus")
            already = {r[0] for r in cur.execute(DISTRIBUTED).fetchall()}
            for sql, params in steps:
                if params[0] not in already:
                    cur.execute(sql, params)
    return done


__all__ = ["CitusUnavailable", "distribute", "distribution_plan"]
