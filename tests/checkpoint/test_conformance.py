"""The official langgraph-checkpoint-conformance suite, every capability, sync and async.

`AsyncAlmaSaver` runs it directly; `AlmaSaver` runs it through its async methods, which
run the sync methods in a worker thread.
"""

from __future__ import annotations

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma import AlmaSaver, AsyncAlmaSaver
from langgraph_alma.db.connect import connection_kwargs


def _report(report) -> None:
    counts = {
        cap: (res.tests_passed, res.tests_failed, res.tests_skipped)
        for cap, res in report.results.items()
    }
    print(f"\n{report.checkpointer_name}: (passed, failed, skipped) per capability: {counts}")
    for cap, res in report.results.items():
        for failure in res.failures or []:
            print(f"FAILED {cap}: {failure}")


async def test_async_saver_passes_conformance(database) -> None:
    @checkpointer_test(name="AsyncAlmaSaver")
    async def factory():
        async with AsyncConnectionPool(
            database.url, min_size=1, max_size=4, kwargs=connection_kwargs(), open=False
        ) as pool:
            yield AsyncAlmaSaver(pool)

    report = await validate(factory)
    _report(report)
    assert {cap for cap, r in report.results.items() if r.detected} == {
        c.value for c in ALL_CAPABILITIES
    }
    assert report.passed_all(), "conformance failures (see output)"


@pytest.mark.parametrize("single_connection", [False, True], ids=["pool", "connection"])
async def test_sync_saver_passes_conformance(database, single_connection: bool) -> None:
    import psycopg

    @checkpointer_test(name=f"AlmaSaver[{'connection' if single_connection else 'pool'}]")
    async def factory():
        if single_connection:
            with psycopg.connect(database.url, **connection_kwargs()) as conn:
                yield AlmaSaver(conn)
        else:
            with ConnectionPool(
                database.url, min_size=1, max_size=4, kwargs=connection_kwargs()
            ) as pool:
                yield AlmaSaver(pool)

    report = await validate(factory)
    _report(report)
    assert len([r for r in report.results.values() if r.detected]) == len(ALL_CAPABILITIES)
    assert report.passed_all(), "conformance failures (see output)"
