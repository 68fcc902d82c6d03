"""`db.plan`'s drivers convert a statement's `%(name)s` placeholders once per statement
text and send it on psycopg's raw cursor: psycopg itself re-converts every statement
longer than 4,096 characters on every execute (the store's search statement is ~6-7k).
The statements must bind and prepare exactly as psycopg's own conversion would."""

from __future__ import annotations

import psycopg
import psycopg._queries as psycopg_queries
import pytest

from langgraph_alma.db import placeholders
from langgraph_alma.db.plan import Sql, arun_plan, run_plan

# Longer than psycopg's conversion cache admits; named, repeated, binary and `%%`.
PADDING = "/* " + "x" * 5000 + " */"
LONG = (
    "SELECT %(a)s::int + %(a)s::int, %(names)b, cardinality(%(names)b::text[]), "
    "'100%%', %(flag)s::bool " + PADDING
)


@pytest.fixture
def conversions(monkeypatch) -> list[int]:
    """Counts psycopg's own uncached placeholder conversions."""
    calls: list[int] = []
    original = psycopg_queries._query2pg_nocache

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(psycopg_queries, "_query2pg_nocache", counted)
    return calls


def _plan(names: list[str]):
    rows = yield [Sql(LONG, {"a": 2, "names": names, "flag": True, "unused": 1}, fetch=True)]
    return rows[0][0]


def _two(names: list[str]):
    rows = yield [
        Sql("SELECT %(n)s::int", {"n": 1}, fetch=True),
        Sql(LONG, {"a": 3, "names": names, "flag": False}, fetch=True),
    ]
    return rows[1][0]


def test_long_statement_converted_once_sync(database, conversions) -> None:
    names = ["a", 'quo"te', "back\\slash", "", "ü"]
    before = placeholders.convert.cache_info()
    with psycopg.connect(database.url, autocommit=True, prepare_threshold=0) as conn:
        for _ in range(5):
            assert run_plan(conn, _plan(names)) == (4, names, 5, "100%", True)
            assert run_plan(conn, _two(names)) == (6, names, 5, "100%", False)
        # Prepared under psycopg's own `$n` text.
        prepared = conn.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["SELECT $1::int + $1::int, $2, cardinality($2::text[]), '100%'%"],
        ).fetchone()
        assert prepared == (1,)
    after = placeholders.convert.cache_info()
    assert conversions == []  # psycopg never re-parsed the long statement
    assert after.misses - before.misses <= 2 and after.hits - before.hits >= 13


async def test_long_statement_converted_once_async(database, conversions) -> None:
    names = ["x"] * 300
    conn = await psycopg.AsyncConnection.connect(database.url, autocommit=True)
    try:
        for _ in range(3):
            assert await arun_plan(conn, _plan(names)) == (4, names, 300, "100%", True)
            assert await arun_plan(conn, _two(names)) == (6, names, 300, "100%", False)
    finally:
        await conn.close()
    assert conversions == []


def test_other_statements_keep_psycopgs_path(database) -> None:
    def plan():
        rows = yield [
            Sql("SELECT %s::int, %s::text", (1, "a"), fetch=True),
            Sql("SELECT %(a)t::text", {"a": "t"}, fetch=True),
            Sql("SELECT 1 WHERE %(x)s::int IS NULL", {}, fetch=True),
        ]
        return rows

    with (
        psycopg.connect(database.url, autocommit=True) as conn,
        pytest.raises(psycopg.ProgrammingError, match="x"),
    ):
        run_plan(conn, plan())

    def fine():
        rows = yield [
            Sql("SELECT %s::int, %s::text", (1, "a"), fetch=True),
            Sql("SELECT %(a)t::text", {"a": "t"}, fetch=True),
        ]
        return [r[0] for r in rows]

    with psycopg.connect(database.url, autocommit=True) as conn:
        assert run_plan(conn, fine()) == [(1, "a"), ("t",)]
