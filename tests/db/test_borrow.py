"""`db.borrow` on a pool: what `pool.connection()` does, through `getconn`/`putconn`. A
transaction the block leaves open is committed (a pool of connections without autocommit);
after an error it is rolled back; either way the connection goes back to the pool idle,
and a closed pool is the owner's own error."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma.db.borrow import aborrow, borrow


class Closed(Exception):
    pass


def _count(database, table: str) -> int:
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _table(database, name: str) -> str:
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {name} (n int)")
        conn.execute(f"GRANT ALL ON {name} TO CURRENT_USER, PUBLIC")
    return name


def test_borrow_from_a_pool_commits_or_rolls_back_what_the_block_left_open(database) -> None:
    table = _table(database, "borrow_sync")
    with ConnectionPool(database.url, min_size=1, max_size=1, kwargs={"autocommit": False}) as pool:
        with borrow(pool, Closed, "test") as conn:
            conn.execute(f"INSERT INTO {table} VALUES (1)")
            assert conn.info.transaction_status == TransactionStatus.INTRANS
        assert _count(database, table) == 1  # committed at the end of the block
        with pytest.raises(ZeroDivisionError), borrow(pool, Closed, "test") as conn:
            conn.execute(f"INSERT INTO {table} VALUES (2)")
            raise ZeroDivisionError
        assert _count(database, table) == 1  # rolled back
        with pool.connection() as again:  # the one connection, back idle
            assert again.info.transaction_status == TransactionStatus.IDLE
    with (
        pytest.raises(Closed, match="test's connection pool is closed"),
        borrow(pool, Closed, "test"),
    ):
        pass


async def test_aborrow_from_a_pool_commits_or_rolls_back_what_the_block_left_open(
    database,
) -> None:
    table = _table(database, "borrow_async")
    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=1, kwargs={"autocommit": False}, open=False
    ) as pool:
        async with aborrow(pool, Closed, "test") as conn:
            await conn.execute(f"INSERT INTO {table} VALUES (1)")
        assert _count(database, table) == 1
        with pytest.raises(ZeroDivisionError):
            async with aborrow(pool, Closed, "test") as conn:
                await conn.execute(f"INSERT INTO {table} VALUES (2)")
                raise ZeroDivisionError
        assert _count(database, table) == 1
        async with pool.connection() as again:
            assert again.info.transaction_status == TransactionStatus.IDLE
    with pytest.raises(Closed, match="test's connection pool is closed"):
        async with aborrow(pool, Closed, "test"):
            pass
