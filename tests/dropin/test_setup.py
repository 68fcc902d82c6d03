"""`setup()` and the migration runner on the caller's connection or pool, whatever its
row factory and prepare threshold: the first setup creates the tables, the next one (a
new connection, as in the next process) reads the applied versions and does nothing."""

from __future__ import annotations

import psycopg

from langgraph_alma import AlmaSaver, AlmaStore, AsyncAlmaSaver, AsyncAlmaStore
from langgraph_alma.migrations import amigrate, migrate, migrations, status
from tests.dropin.conftest import INDEX, aone_connection, one_connection, open_async, open_sync

HNSW = {**INDEX, "ann": "hnsw"}  # its setup() also creates the vector index


def _applied(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM alma_migrations ORDER BY 1")]


def test_setup_twice_then_migrations_status_and_up(empty_database, kind, caller_kwargs) -> None:
    every = [m.version for m in migrations()]
    with open_sync(empty_database, kind, caller_kwargs) as source:
        AlmaSaver(source).setup()
    assert _applied(empty_database) == every
    with open_sync(empty_database, kind, caller_kwargs) as source:  # "the next process"
        AlmaSaver(source).setup()
        AlmaStore(source, index=HNSW).setup()
        with one_connection(source) as conn:
            st = status(conn)
            assert st.applied == every and st.pending == []
            assert migrate(conn) == []
    assert _applied(empty_database) == every


async def test_async_setup_twice_then_migrations_up(empty_database, kind, caller_kwargs) -> None:
    every = [m.version for m in migrations()]
    async with open_async(empty_database, kind, caller_kwargs) as source:
        await AsyncAlmaSaver(source).setup()
    assert _applied(empty_database) == every
    async with open_async(empty_database, kind, caller_kwargs) as source:
        await AsyncAlmaSaver(source).setup()
        await AsyncAlmaStore(source, index=HNSW).setup()
        async with aone_connection(source) as conn:
            assert await amigrate(conn) == []
    assert _applied(empty_database) == every
