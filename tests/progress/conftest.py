"""Fixtures for progress tracking and sessions, with a clock the test controls.

The trackers' logic is store plans over any LangGraph `BaseStore`: `store`, `astore`,
`tracker` and `atracker` run on one LangGraph `InMemoryStore` per test (no SQL, no
server). What needs PostgreSQL (persistence across pools and processes, tenants, the
`atomic` lock, TTLs) takes the `pg_*` fixtures: a real AlmaStore in the test's tenant."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from langgraph.store.memory import InMemoryStore
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
def store() -> InMemoryStore:
    """LangGraph's in-memory store: the one `store` and `astore` of a test."""
    return InMemoryStore()


@pytest.fixture
def astore(store) -> InMemoryStore:
    return store  # InMemoryStore has `batch` and `abatch`: the sync and async face at once


@pytest.fixture
def tracker(store, project, clock) -> ProgressTracker:
    return ProgressTracker(store, project_id=project, clock=clock)


@pytest.fixture
def atracker(astore, project, clock) -> AsyncProgressTracker:
    return AsyncProgressTracker(astore, project_id=project, clock=clock)


@pytest.fixture
def pg_store(pool, tenant) -> AlmaStore:
    return AlmaStore(pool, tenant_id=tenant)


@pytest.fixture
async def apg_store(apool, tenant) -> AsyncAlmaStore:
    return AsyncAlmaStore(apool, tenant_id=tenant)  # needs the running loop


@pytest.fixture
def pg_tracker(pg_store, project, clock) -> ProgressTracker:
    return ProgressTracker(pg_store, project_id=project, clock=clock)
