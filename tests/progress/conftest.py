"""Fixtures for progress tracking and sessions: trackers on a real AlmaStore (sync and
async), each test in its own tenant, with a clock the test controls."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.progress import AsyncProgressTracker, ProgressTracker
from langgraph_alma.store import AlmaStore, AsyncAlmaStore
from tests.memory.conftest import Clock


@pytest.fixture(scope="module")
def pool(database) -> Iterator[ConnectionPool]:
    with ConnectionPool(database.url, min_size=1, max_size=4, kwargs=connection_kwargs()) as p:
        yield p


@pytest.fixture(scope="module")
async def apool(database) -> AsyncIterator[AsyncConnectionPool]:
    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=4, kwargs=connection_kwargs(), open=False
    ) as p:
        yield p


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def project() -> str:
    return f"proj.{uuid.uuid4().hex[:8]}"  # a '.' on purpose: labels must escape it


@pytest.fixture
def store(pool, tenant) -> AlmaStore:
    return AlmaStore(pool, tenant_id=tenant)


@pytest.fixture
async def astore(apool, tenant) -> AsyncAlmaStore:
    return AsyncAlmaStore(apool, tenant_id=tenant)  # needs the running loop


@pytest.fixture
def tracker(store, project, clock) -> ProgressTracker:
    return ProgressTracker(store, project_id=project, clock=clock)


@pytest.fixture
def atracker(astore, project, clock) -> AsyncProgressTracker:
    return AsyncProgressTracker(astore, project_id=project, clock=clock)
