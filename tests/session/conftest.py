"""Fixtures for sessions: the progress fixtures (`sessions`, `asessions` and the trackers
on one InMemoryStore per test; `pg_*` on a real AlmaStore) plus an Alma (sync and async)
on an indexed AlmaStore of the test's tenant and project."""

from __future__ import annotations

import pytest

from langgraph_alma.alma import Alma, AsyncAlma
from langgraph_alma.memory import MemoryScope
from langgraph_alma.session import AsyncSessionManager, SessionManager
from langgraph_alma.store import AlmaStore, AsyncAlmaStore
from tests.memory.conftest import INDEX
from tests.progress.conftest import (
    apg_store,
    apool,
    astore,
    clock,
    pg_store,
    pg_tracker,
    pool,
    project,
    store,
    tracker,
)

__all__ = [
    "apg_store",
    "apool",
    "astore",
    "clock",
    "pg_store",
    "pg_tracker",
    "pool",
    "project",
    "store",
    "tracker",
]

SCOPES = {"helena": MemoryScope(agent_name="helena", can_learn=["testing", "forms"])}


@pytest.fixture(scope="module")
def _indexed(pool, database) -> None:
    AlmaStore(pool, index=INDEX, admin_url=database.admin_url).setup()  # vector index


@pytest.fixture
def alma(pool, tenant, project, clock, _indexed) -> Alma:
    store = AlmaStore(pool, index=INDEX, tenant_id=tenant)
    return Alma(store, project_id=project, scopes=SCOPES, clock=clock)


@pytest.fixture
async def aalma(apool, tenant, project, clock, _indexed) -> AsyncAlma:
    store = AsyncAlmaStore(apool, index=INDEX, tenant_id=tenant)
    return AsyncAlma(store, project_id=project, scopes=SCOPES, clock=clock)


@pytest.fixture
def sessions(store, project, clock) -> SessionManager:
    return SessionManager(store, project_id=project, clock=clock)


@pytest.fixture
def asessions(astore, project, clock) -> AsyncSessionManager:
    return AsyncSessionManager(astore, project_id=project, clock=clock)


@pytest.fixture
def pg_sessions(pg_store, project, clock) -> SessionManager:
    return SessionManager(pg_store, project_id=project, clock=clock)
