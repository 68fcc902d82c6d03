"""The official langgraph-checkpoint-conformance suite on connections opened the way
LangGraph's documentation opens them for PostgresSaver (`autocommit=True,
prepare_threshold=0, row_factory=dict_row`): a sync pool, a sync connection and an
async connection."""

from __future__ import annotations

import psycopg
import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from langgraph_alma import AlmaSaver, AsyncAlmaSaver

LANGGRAPH_RECIPE = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}


def _check(report) -> None:
    failures = [f"{cap}: {f}" for cap, r in report.results.items() for f in r.failures or []]
    assert len([r for r in report.results.values() if r.detected]) == len(ALL_CAPABILITIES)
    assert report.passed_all(), "conformance failures:\n" + "\n".join(failures)


@pytest.mark.parametrize("single_connection", [False, True], ids=["pool", "connection"])
async def test_sync_saver_on_langgraph_recipe_connections(database, single_connection) -> None:
    @checkpointer_test(name="AlmaSaver[dict_row]")
    async def factory():
        if single_connection:
            with psycopg.connect(database.url, **LANGGRAPH_RECIPE) as conn:
                yield AlmaSaver(conn)
        else:
            with ConnectionPool(database.url, max_size=4, kwargs=LANGGRAPH_RECIPE) as pool:
                yield AlmaSaver(pool)

    _check(await validate(factory))


async def test_async_saver_on_a_langgraph_recipe_connection(database) -> None:
    @checkpointer_test(name="AsyncAlmaSaver[dict_row]")
    async def factory():
        async with await psycopg.AsyncConnection.connect(database.url, **LANGGRAPH_RECIPE) as conn:
            yield AsyncAlmaSaver(conn)

    _check(await validate(factory))
